/* libFuzzer target: the JSON bodies of API requests, read by the parsing
 * code of the resource's own handler (not only by the schema check of
 * api/body_schema.c, which every POST passes first): a switch (POST
 * /v1/switches), a port PATCH, a VM (POST /v1/vms; its files must lie in
 * image_dirs, its ports exist), a migration (POST /v1/migrations with
 * options and options.convergence), a cluster network PATCH, a member's
 * join (POST /v1/cluster/members), a VLAN (POST and PATCH /v1/vlans), a
 * MAC pool PATCH, an allocation (POST /v1/mac-pools/{name}/allocations), a
 * NIC PATCH (offloads) and a member's block claim (POST .../blocks).
 * The first byte picks the reader; the rest is the body.
 *
 * A refusal must be a 422 problem+json with a type, a detail and a JSON
 * pointer ("" or starting with '/'); an acceptance must hold what the
 * handler goes on to rely on. */
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <json-c/json.h>
#include <json-c/json_pointer.h>
#include "agent/agent.h"
#include "agent/allocator.h"
#include "agent/config.h"
#include "base/mac.h"
#include "model/network.h"
#include "model/nic.h"
#include "model/vlan.h"
#include "db/switch.h"
#include "api/macpool.h"
#include "api/member.h"
#include "api/migration.h"
#include "api/nic.h"
#include "api/network.h"
#include "api/port.h"
#include "api/switch.h"
#include "api/vlan.h"
#include "api/vm.h"
#include "db/macpool.h"
#include "db/member.h"
#include "db/port.h"
#include "db/vlan.h"
#include "db/vm.h"
#include "migrate/migrator.h"
#include "migrate/plan/ports.h"

static struct agent agent;

/* A port and a static pool as their GETs show them: what a PATCH starts
 * from. */
static const char port_json[] =
    "{\"name\": \"vm1-eth0\", \"switch\": \"sw0\", \"mac\": \"02:00:00:00:00:01\", "
    "\"mac_source\": \"static\", \"vlan\": {\"mode\": \"access\", \"id\": 100}}";
static const char pool_json[] =
    "{\"name\": \"fleet\", \"ranges\": [{\"start\": \"02:00:00:00:00:00\", "
    "\"end\": \"02:00:00:00:ff:ff\"}], \"description\": \"test\"}";

/* The image directory VM bodies may name files in (the seeds do), with a
 * kernel in it, so a VM's parse goes on past its files to its adapters. */
#define IMAGE_DIR "/tmp/lmnet-fuzz-images"

static void setup(void)
{
    if (agent.config.registry)
        return;
    mkdir(IMAGE_DIR, 0700);
    int fd = open(IMAGE_DIR "/vmlinuz", O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0)
        close(fd);
    if (config_init(&agent.config) < 0 ||
        config_set(&agent.config, "image_dirs", IMAGE_DIR, NULL, 0) < 0)
        abort();
    snprintf(agent.node_id, sizeof(agent.node_id), "00000000-0000-4000-8000-000000000001");
    snprintf(agent.hostname, sizeof(agent.hostname), "fuzz");
    agent.ports = &ports_none;
}

/* The body a refusal's pointer refers to (RFC 6901), when it is the
 * request body as sent; NULL while a reader works on a merged copy. */
static struct json_object *refused_body;

/* A refusal is a 422 problem that says where and why: its pointer names a
 * member of the body, or one missing from an object that is there. */
static void check_refusal(struct response *resp)
{
    if (resp->status != 422 || !resp->body)
        abort();
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(resp->body, "type", &v) || !json_object_get_string(v)[0])
        abort();
    if (!json_object_object_get_ex(resp->body, "detail", &v) || !json_object_get_string(v)[0])
        abort();
    if (!json_object_object_get_ex(resp->body, "pointer", &v))
        abort();
    const char *pointer = json_object_get_string(v);
    if (pointer[0] && pointer[0] != '/')
        abort();
    if (!refused_body || !pointer[0])
        return;
    struct json_object *at = NULL;
    if (json_pointer_get(refused_body, pointer, &at) == 0)
        return;
    char parent[512];
    snprintf(parent, sizeof(parent), "%s", pointer);
    *strrchr(parent, '/') = '\0';
    if (parent[0] && (json_pointer_get(refused_body, parent, &at) != 0 ||
                      !json_object_is_type(at, json_type_object)))
        abort();
}

static void parse_switch(struct json_object *body, struct response *resp)
{
    struct vswitch_record *s = calloc(1, sizeof(*s));
    if (!s)
        return;
    if (switch_request_parse(body, s, resp) == 0) {
        if (s->n_uplink_vlans > SWITCH_MAX_VLANS || !memchr(s->name, '\0', sizeof(s->name)) ||
            !memchr(s->uplink, '\0', sizeof(s->uplink)))
            abort();
        for (size_t i = 0; i < s->n_uplink_vlans; i++)
            if (!vlan_id_valid(s->uplink_vlans[i]))
                abort();
        if (s->management_vlan && (s->type != SWITCH_INTERNAL || !vlan_id_valid(s->management_vlan)))
            abort();
        json_object_put(switch_to_json(s));
    } else {
        check_refusal(resp);
    }
    free(s);
}

static void parse_port_patch(struct json_object *body, struct response *resp)
{
    struct json_object *current = json_tokener_parse(port_json);
    struct port_record *p = calloc(1, sizeof(*p));
    if (!current || !p)
        abort();
    if (port_patch_parse(current, body, p, resp) == 0) {
        if (strcmp(p->name, "vm1-eth0") != 0 || strcmp(p->switch_name, "sw0") != 0)
            abort(); /* read-only fields stay */
        json_object_put(port_to_json(p));
    } else {
        check_refusal(resp);
    }
    free(p);
    json_object_put(current);
}

static void parse_vm(struct json_object *body, struct response *resp)
{
    struct request req = {.agent = &agent, .method = HTTP_POST, .path = "/v1/vms", .json = body};
    struct vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return;
    int r = vm_request_parse(&req, resp, vm);
    if (r == 0) {
        /* Only IMAGE_DIR's files pass, and no port exists (ports_none). */
        const char *file = vm->kernel[0] ? vm->kernel : vm->disk;
        if (!file[0] || vm->n_adapters || !vm_name_valid(vm->name))
            abort();
        /* What QEMU would open lies in image_dirs, however it is spelt. */
        char resolved[PATH_MAX];
        if (!realpath(file, resolved) || strncmp(resolved, IMAGE_DIR "/", strlen(IMAGE_DIR) + 1) != 0)
            abort();
    } else if (resp->status) {
        check_refusal(resp);
    }
    free(vm);
}

static void parse_migration(struct json_object *body, struct response *resp)
{
    struct request req = {.agent = &agent, .method = HTTP_POST, .path = "/v1/migrations",
                          .json = body};
    struct migration_request *rq = calloc(1, sizeof(*rq));
    if (!rq)
        return;
    if (migration_request_parse(&req, resp, rq) == 0) {
        if (!rq->vm[0] || !rq->destination[0] || rq->channels < 1 || rq->channels > 16 ||
            (rq->downtime_limit_ms != -1 && (rq->downtime_limit_ms < 1 ||
                                             rq->downtime_limit_ms > 60000)))
            abort();
        if (rq->has_convergence)
            json_object_put(convergence_policy_to_json(&rq->convergence));
    } else {
        check_refusal(resp);
    }
    free(rq);
}

static void parse_network_patch(struct json_object *body, struct response *resp)
{
    struct network_settings s;
    memset(&s, 0, sizeof(s));
    snprintf(s.name, sizeof(s.name), "Cluster Network 1");
    s.number = 1;
    s.auto_metric = true;
    if (network_patch_parse(resp, body, &s) == 0) {
        if (!s.name[0] || s.metric < 0 || s.metric > 999999)
            abort();
        network_role_to_string(s.role);
    } else {
        check_refusal(resp);
    }
}

static void parse_join(struct json_object *body, struct response *resp)
{
    struct request req = {.agent = &agent, .method = HTTP_POST, .path = "/v1/cluster/members",
                          .json = body};
    char token[128];
    struct member m;
    if (member_join_parse(&req, resp, token, sizeof(token), &m) == 0) {
        if (!token[0] || !m.name[0] || strlen(m.uuid) != 36 ||
            (strncmp(m.url, "http://", 7) != 0 && strncmp(m.url, "https://", 8) != 0))
            abort();
        json_object_put(member_to_json(&m));
    } else {
        check_refusal(resp);
    }
}

static void parse_vlan(struct json_object *body, struct response *resp, bool patch)
{
    struct vlan vlan;
    memset(&vlan, 0, sizeof(vlan));
    vlan.id = 100;
    snprintf(vlan.name, sizeof(vlan.name), "storage");
    int r = patch ? vlan_patch_parse(body, &vlan, resp) : vlan_request_parse(body, &vlan, resp);
    if (r == 0) {
        if (!vlan_id_valid(vlan.id) || !vlan.name[0] || (patch && vlan.id != 100))
            abort();
        json_object_put(vlan_to_json(&vlan));
    } else {
        check_refusal(resp);
    }
}

static void parse_pool_patch(struct json_object *body, struct response *resp)
{
    struct json_object *o = json_tokener_parse(pool_json);
    struct macpool pool, changed;
    char pointer[64], detail[256];
    if (!o || macpool_from_json(o, &pool, pointer, sizeof(pointer), detail, sizeof(detail)) < 0)
        abort();
    json_object_put(o);
    if (macpool_patch_parse(&pool, body, &changed, resp) == 0) {
        if (strcmp(changed.name, pool.name) != 0 || changed.n_ranges > MACPOOL_MAX_RANGES)
            abort();
        for (size_t i = 0; i < changed.n_ranges; i++)
            if (changed.ranges[i].start > changed.ranges[i].end || changed.ranges[i].end > MAC_MAX)
                abort();
    } else {
        check_refusal(resp);
    }
}

static void parse_allocation(struct json_object *body, struct response *resp)
{
    struct allocation_request rq;
    if (allocation_request_parse(body, &rq, resp) == 0) {
        if ((rq.has_mac && rq.mac > MAC_MAX) || !memchr(rq.vm, '\0', sizeof(rq.vm)) ||
            !memchr(rq.adapter, '\0', sizeof(rq.adapter)))
            abort();
    } else {
        check_refusal(resp);
    }
}

static void parse_nic_patch(struct json_object *body, struct response *resp)
{
    struct json_object *offloads = NULL;
    if (nic_patch_parse(body, &offloads, resp) == 0) {
        json_object_object_foreach(offloads, key, val) {
            enum nic_offload o;
            if (nic_offload_from_string(key, &o) < 0 || !json_object_is_type(val, json_type_boolean))
                abort();
        }
    } else {
        check_refusal(resp);
    }
}

static void parse_claim(struct json_object *body, struct response *resp)
{
    char node[64];
    bool has_mac;
    uint64_t mac;
    if (claim_request_parse(body, node, &has_mac, &mac, resp) == 0) {
        if (strlen(node) != 36 || (has_mac && mac > MAC_MAX))
            abort();
    } else {
        check_refusal(resp);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    setup();
    struct json_tokener *tok = json_tokener_new();
    struct json_object *body = json_tokener_parse_ex(tok, (const char *)data + 1, (int)(size - 1));
    json_tokener_free(tok);
    if (!body)
        return 0;
    struct response resp;
    memset(&resp, 0, sizeof(resp));
    /* The PATCHes of ports and pools check a merged copy; the rest the body. */
    refused_body = data[0] % 12 == 1 || data[0] % 12 == 8 ? NULL : body;
    switch (data[0] % 12) {
    case 0: parse_switch(body, &resp); break;
    case 1: parse_port_patch(body, &resp); break;
    case 2: parse_vm(body, &resp); break;
    case 3: parse_migration(body, &resp); break;
    case 4: parse_network_patch(body, &resp); break;
    case 5: parse_join(body, &resp); break;
    case 6: parse_vlan(body, &resp, false); break;
    case 7: parse_vlan(body, &resp, true); break;
    case 8: parse_pool_patch(body, &resp); break;
    case 9: parse_allocation(body, &resp); break;
    case 10: parse_nic_patch(body, &resp); break;
    case 11: parse_claim(body, &resp); break;
    }
    json_object_put(resp.body);
    free(resp.text);
    for (size_t i = 0; i < resp.n_headers; i++) {
        free(resp.headers[i][0]);
        free(resp.headers[i][1]);
    }
    json_object_put(body);
    return 0;
}
