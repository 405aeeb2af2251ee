/* libFuzzer target: what another agent answers, through the readers that
 * take it: the registry's network view (GET /v1/cluster/networks, cached by
 * every member), a member (GET /v1/cluster/members), a VM as its host sends
 * it, a NIC's link facts, and the one-line message made of any reply.  The
 * first byte picks the reader; the rest is the JSON body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "model/network.h"
#include "client/client.h"
#include "db/member.h"
#include "db/vm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct json_tokener *tok = json_tokener_new();
    struct json_object *body = json_tokener_parse_ex(tok, (const char *)data + 1, (int)(size - 1));
    json_tokener_free(tok);
    if (!body)
        return 0;
    switch (data[0] % 5) {
    case 0: {
        struct network_view view = {0};
        if (network_view_from_json(body, &view) == 0) {
            json_object_put(network_view_to_json(&view));
            network_view_release(&view);
        }
        break;
    }
    case 1: {
        struct member m;
        if (member_from_json(body, &m) == 0)
            json_object_put(member_to_json(&m));
        break;
    }
    case 2: {
        struct vm *vm = calloc(1, sizeof(*vm));
        if (vm && vm_from_json(body, vm) == 0)
            json_object_put(vm_to_json(vm));
        free(vm);
        break;
    }
    case 3: {
        struct network_endpoint e;
        memset(&e, 0, sizeof(e));
        network_endpoint_link_from_json(body, &e);
        break;
    }
    case 4: {
        struct client_reply reply = {.status = 409, .body = body};
        char line[512];
        client_reply_message(&reply, line, sizeof(line));
        break;
    }
    }
    json_object_put(body);
    return 0;
}
