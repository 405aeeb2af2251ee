/* libFuzzer target: the JSON bodies of API requests, through the typed
 * readers the handlers use: a MAC pool (POST /v1/mac-pools), a port (POST
 * and PATCH /v1/ports, MAC required or not) and a VLAN assignment (the
 * "vlan" of a port or an adapter).  The first byte picks the reader; the
 * rest is the body.  A refusal must name a field (a JSON pointer) and say
 * why; an acceptance must hold what the reader promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>
#include "base/mac.h"
#include "model/vlan.h"
#include "db/macpool.h"
#include "db/port.h"

static void refused(const char *pointer, const char *detail)
{
    if (pointer[0] && pointer[0] != '/')
        abort();
    if (!detail[0])
        abort();
}

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
    char pointer[128] = "", detail[512] = "";
    switch (data[0] % 4) {
    case 0: {
        struct macpool pool;
        if (macpool_from_json(body, &pool, pointer, sizeof(pointer), detail, sizeof(detail)) == 0) {
            if (!macpool_name_valid(pool.name) || pool.n_ranges > MACPOOL_MAX_RANGES)
                abort();
            for (size_t i = 0; i < pool.n_ranges; i++)
                if (pool.ranges[i].start > pool.ranges[i].end || pool.ranges[i].end > MAC_MAX)
                    abort();
        } else {
            refused(pointer, detail);
        }
        break;
    }
    case 1:
    case 2: {
        struct port_record *p = calloc(1, sizeof(*p));
        if (!p)
            break;
        if (port_from_json(body, data[0] % 4 == 2, p, pointer, sizeof(pointer), detail,
                           sizeof(detail)) == 0)
            json_object_put(port_to_json(p));
        else
            refused(pointer, detail);
        free(p);
        break;
    }
    case 3: {
        struct vlan_assignment *a = calloc(1, sizeof(*a));
        if (!a)
            break;
        if (vlan_assignment_from_json(body, "/vlan", a, pointer, sizeof(pointer), detail,
                                      sizeof(detail)) == 0) {
            for (size_t i = 0; i < a->n_allowed; i++)
                if (!vlan_id_valid(a->allowed[i]) || (i && a->allowed[i] <= a->allowed[i - 1]))
                    abort();
            json_object_put(vlan_assignment_to_json(a));
        } else {
            refused(pointer, detail);
        }
        free(a);
        break;
    }
    }
    json_object_put(body);
    return 0;
}
