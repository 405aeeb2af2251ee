/* /v1/vms: the VMs of this host.
 *
 * A VM is stored (db/vm.h), then started and stopped through the lifecycle
 * table (migrate/lifecycle.h).  Its adapters plug into switch ports that
 * exist already (POST /v1/ports): each adapter names its port, and the
 * port's adapter type decides what QEMU emulates: virtio-net-pci for a
 * synthetic port, an e1000 (which can PXE-boot) for a legacy one.
 *
 * On a host without a virtual switch no port exists, so only VMs without
 * adapters run there.
 *
 * A VM that is migrating refuses start, stop and delete (409): the
 * migration owns it until it ends. */
#include "api/vm.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <uuid/uuid.h>
#include "agent/agent.h"
#include "base/cleanup.h"
#include "hypervisor/imagedir.h"
#include "base/log.h"
#include "agent/peer.h"
#include "db/db.h"
#include "db/event.h"
#include "db/port.h"
#include "db/member.h"
#include "db/vm.h"
#include "migrate/lifecycle.h"
#include "migrate/plan/ports.h"

#define LEGACY_MODEL "e1000"
#define SYNTHETIC_MODEL "virtio-net-pci"

static int no_hypervisor(struct response *resp)
{
    return response_problem(resp, 503, "no-hypervisor", NULL,
                            "this agent cannot run VMs: QEMU could not be set up (see the "
                            "agent's log at start)");
}

static struct json_object *vm_view(struct agent *agent, const struct vm *vm)
{
    struct json_object *o = vm_to_json(vm);
    struct member host;
    struct db *db = db_pool_get(agent->db);
    json_object_object_add(o, "host_name",
                           db && member_get(db, vm->host, &host) == 0 ? json_object_new_string(host.name)
                           : strcmp(vm->host, agent->node_id) == 0 ? json_object_new_string(agent->hostname)
                                                                   : NULL);
    struct hypervisor_vm_status status;
    if (agent->lifecycle && strcmp(vm->host, agent->node_id) == 0 &&
        lifecycle_query(agent->lifecycle, vm->uuid, &status) == 0) {
        struct json_object *hv = json_object_new_object();
        json_object_object_add(hv, "state", json_object_new_string(
                                                hypervisor_vm_state_to_string(status.state)));
        json_object_object_add(hv, "pid", json_object_new_int((int)status.pid));
        json_object_object_add(o, "hypervisor", hv);
    }
    return o;
}

static int string_field(struct request *req, struct response *resp, struct json_object *obj,
                        const char *key, const char *pointer, bool required, char *out,
                        size_t size)
{
    (void)req;
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
        out[0] = '\0';
        if (required)
            return response_problem(resp, 422, "invalid", pointer, "'%s' is required", key);
        return 0;
    }
    if (!json_object_is_type(v, json_type_string))
        return response_problem(resp, 422, "invalid", pointer, "'%s' must be a string", key);
    if ((size_t)json_object_get_string_len(v) >= size)
        return response_problem(resp, 422, "invalid", pointer, "'%s' is longer than %zu bytes",
                                key, size - 1);
    memcpy(out, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
    return 0;
}

static int unsigned_field(struct response *resp, struct json_object *obj, const char *key,
                          const char *pointer, unsigned min, unsigned max, unsigned fallback,
                          unsigned *out)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v)) {
        *out = fallback;
        return 0;
    }
    int64_t x = json_object_get_int64(v);
    if (!json_object_is_type(v, json_type_int) || x < min || x > max)
        return response_problem(resp, 422, "invalid", pointer, "'%s' must be an integer %u to %u",
                                key, min, max);
    *out = (unsigned)x;
    return 0;
}

/* A file the VM boots must exist on this host (shared storage is mounted at
 * the same path on every host) and lie in one of the image directories:
 * QEMU opens it with the agent's privileges. */
static int check_file(struct request *req, struct response *resp, const char *path,
                      const char *pointer)
{
    if (!path[0])
        return 0;
    if (access(path, R_OK) != 0)
        return response_problem(resp, 422, "invalid", pointer, "cannot read '%s' on this host: %s",
                                path, strerror(errno));
    /* access() passes a directory (an image directory itself lies "in"
     * image_dirs): QEMU would only fail on it when the VM starts. */
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return response_problem(resp, 422, "invalid", pointer,
                                "'%s' is a directory; name the image file in it", path);
    char resolved[PATH_MAX];
    const char *dirs = req->agent->config.image_dirs;
    int r = imagedir_check(dirs, path, resolved);
    if (r == -EPERM)
        return response_problem(resp, 422, "image-outside-image-dirs", pointer,
                                "'%s' (%s) is outside the directories VM images may come from "
                                "(image_dirs = %s): move it there or add its directory to "
                                "image_dirs in lmnetd.conf",
                                path, resolved, dirs);
    if (r < 0)
        return response_problem(resp, 422, "invalid", pointer, "cannot resolve '%s': %s", path,
                                strerror(-r));
    return 0;
}

int vm_request_parse(struct request *req, struct response *resp, struct vm *vm)
{
    struct json_object *body = req->json;
    if (!body || !json_object_is_type(body, json_type_object))
        return response_problem(resp, 422, "invalid", "",
                                "body must be a JSON object: {\"name\", \"memory_mib\", "
                                "\"vcpus\", \"kernel\"|\"disk\", \"adapters\": [{\"port\"}]}");
    memset(vm, 0, sizeof(*vm));
    int r;
    if ((r = string_field(req, resp, body, "name", "/name", true, vm->name, sizeof(vm->name))) < 0)
        return r;
    if (!vm_name_valid(vm->name))
        return response_problem(resp, 422, "invalid", "/name",
                                "'%s' is not a VM name: 1-63 of letters, digits, '.', '_', '-'",
                                vm->name);
    if ((r = unsigned_field(resp, body, "memory_mib", "/memory_mib", 16, 1024 * 1024, 512,
                            &vm->memory_mib)) < 0 ||
        (r = unsigned_field(resp, body, "vcpus", "/vcpus", 1, 255, 1, &vm->vcpus)) < 0)
        return r;
    if ((r = string_field(req, resp, body, "kernel", "/kernel", false, vm->kernel,
                          sizeof(vm->kernel))) < 0 ||
        (r = string_field(req, resp, body, "initrd", "/initrd", false, vm->initrd,
                          sizeof(vm->initrd))) < 0 ||
        (r = string_field(req, resp, body, "append", "/append", false, vm->append,
                          sizeof(vm->append))) < 0 ||
        (r = string_field(req, resp, body, "disk", "/disk", false, vm->disk, sizeof(vm->disk))) < 0)
        return r;
    if (!vm->kernel[0] == !vm->disk[0])
        return response_problem(resp, 422, "invalid", "/kernel",
                                "give either 'kernel' (with 'initrd' and 'append') or 'disk', "
                                "not both or neither");
    if ((r = check_file(req, resp, vm->kernel, "/kernel")) < 0 ||
        (r = check_file(req, resp, vm->initrd, "/initrd")) < 0 ||
        (r = check_file(req, resp, vm->disk, "/disk")) < 0)
        return r;
    struct json_object *adapters = NULL;
    if (json_object_object_get_ex(body, "adapters", &adapters)) {
        if (!json_object_is_type(adapters, json_type_array))
            return response_problem(resp, 422, "invalid", "/adapters",
                                    "'adapters' must be a list of {\"port\": NAME}");
        if (json_object_array_length(adapters) > VM_MAX_ADAPTERS)
            return response_problem(resp, 422, "invalid", "/adapters",
                                    "a VM has at most %d adapters", VM_MAX_ADAPTERS);
        for (size_t i = 0; i < json_object_array_length(adapters); i++) {
            struct json_object *a = json_object_array_get_idx(adapters, i);
            char pointer[40];
            snprintf(pointer, sizeof(pointer), "/adapters/%zu/port", i);
            struct vm_adapter *ad = &vm->adapters[i];
            if (!json_object_is_type(a, json_type_object))
                return response_problem(resp, 422, "invalid", pointer,
                                        "each adapter is {\"port\": NAME}");
            if ((r = string_field(req, resp, a, "port", pointer, true, ad->port, 16)) < 0)
                return r;
            for (size_t k = 0; k < i; k++)
                if (strcmp(vm->adapters[k].port, ad->port) == 0)
                    return response_problem(resp, 422, "invalid", pointer,
                                            "port '%s' is given twice", ad->port);
            _cleanup_free_ struct port_record *settings = malloc(sizeof(*settings));
            if (!settings)
                return -ENOMEM;
            const struct ports *ports = req->agent->ports;
            r = ports->ops->describe(ports->ctx, ad->port, settings);
            if (r == -ENOENT)
                return response_problem(resp, 422, "port-not-found", pointer,
                                        "no port '%s' on this host; create it with POST "
                                        "/v1/ports first",
                                        ad->port);
            if (r < 0)
                return r;
            snprintf(ad->model, sizeof(ad->model), "%s",
                     settings->legacy ? LEGACY_MODEL : SYNTHETIC_MODEL);
        }
        vm->n_adapters = json_object_array_length(adapters);
    }
    return 0;
}

static bool wants_start(struct request *req)
{
    struct json_object *v = NULL;
    return !json_object_object_get_ex(req->json, "start", &v) || json_object_get_boolean(v);
}

static int start_problem(struct response *resp, const struct vm *vm, int r)
{
    if (r == -EEXIST)
        return response_problem(resp, 409, "vm-running", NULL, "VM '%s' is already running",
                                vm->name);
    return response_problem(resp, 500, "vm-start-failed", NULL,
                            "VM '%s' did not start: %s (QEMU's own message is in the agent's "
                            "log and in its run directory)",
                            vm->name, strerror(-r));
}

/* A VM of NAME that this agent knows to live on another member: that
 * member is asked.  Returns 0 when the copy here is stale (forgotten now),
 * or sets a 409 problem. */
static int forget_stale_namesake(struct request *req, struct response *resp, const char *name)
{
    struct db *db = db_pool_get(req->agent->db);
    struct vm other;
    struct member host;
    if (vm_get(db, name, &other) < 0 || strcmp(other.host, req->agent->node_id) == 0)
        return 0; /* none, or ours: vm_insert answers */
    if (member_get(db, other.host, &host) < 0)
        return vm_delete(db, other.uuid); /* its host left the cluster */
    struct client *client = NULL;
    struct client_reply reply = { 0 };
    char path[128];
    snprintf(path, sizeof(path), "/v1/vms/%s", other.uuid);
    int r = peer_client_create(req->agent, host.url, 3000, &client);
    if (r == 0)
        r = client_call(client, "GET", path, NULL, NULL, &reply);
    client_destroy(client);
    long status = r == 0 ? reply.status : 0;
    struct json_object *where = NULL;
    bool there = status == 200 && json_object_object_get_ex(reply.body, "host", &where) &&
                 json_object_is_type(where, json_type_string) &&
                 strcmp(json_object_get_string(where), host.uuid) == 0;
    client_reply_release(&reply);
    if (there)
        return response_problem(resp, 409, "conflict", "/name", "a VM named '%s' runs on %s", name,
                                host.name);
    if (status != 200 && status != 404)
        return response_problem(resp, 409, "conflict", "/name",
                                "a VM named '%s' was last seen on %s, which does not answer; "
                                "retry when it does",
                                name, host.name);
    log_info("forgot a stale copy of a VM vm=%s id=%s host=%s", other.name, other.uuid, host.name);
    return vm_delete(db, other.uuid);
}

static int create_vm(struct request *req, struct response *resp)
{
    struct agent *agent = req->agent;
    if (!agent->lifecycle)
        return no_hypervisor(resp);
    struct vm vm;
    int r = vm_request_parse(req, resp, &vm);
    if (r < 0)
        return r;
    struct json_object *start = NULL;
    if (json_object_object_get_ex(req->json, "start", &start) &&
        !json_object_is_type(start, json_type_boolean))
        return response_problem(resp, 422, "invalid", "/start", "'start' is true or false");
    uuid_t id;
    uuid_generate_random(id);
    uuid_unparse_lower(id, vm.uuid);
    snprintf(vm.host, sizeof(vm.host), "%s", agent->node_id);
    vm.state = VM_STOPPED;
    struct db *db = db_pool_get(agent->db);
    r = forget_stale_namesake(req, resp, vm.name);
    if (r < 0)
        return r;
    r = vm_insert(db, &vm);
    if (r == -EEXIST)
        return response_problem(resp, 409, "conflict", "/name",
                                "a VM named '%s' exists, or one of its ports serves another VM",
                                vm.name);
    if (r < 0)
        return r;
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "id", json_object_new_string(vm.uuid));
    event_record(db, agent->node_id, req->token_name, "vm.create", vm.name, detail);
    if (wants_start(req)) {
        r = lifecycle_start(agent->lifecycle, &vm);
        if (r < 0) {
            vm_delete(db, vm.uuid);
            return start_problem(resp, &vm, r);
        }
    }
    r = vm_get(db, vm.uuid, &vm);
    if (r < 0)
        return r;
    char location[80];
    snprintf(location, sizeof(location), "/v1/vms/%s", vm.uuid);
    response_header(resp, "Location", location);
    return response_json(resp, 201, vm_view(agent, &vm));
}

static int list_vms(struct request *req, struct response *resp)
{
    struct vm *vms = NULL;
    size_t n = 0;
    int r = vm_list(db_pool_get(req->agent->db), &vms, &n);
    if (r < 0)
        return r;
    struct json_object *items = json_object_new_array();
    for (size_t i = 0; i < n; i++)
        json_object_array_add(items, vm_view(req->agent, &vms[i]));
    free(vms);
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "items", items);
    json_object_object_add(body, "next", NULL);
    return response_json(resp, 200, body);
}

static int load(struct request *req, struct response *resp, struct vm *vm)
{
    const char *id = request_param(req, "id");
    int r = vm_get(db_pool_get(req->agent->db), id, vm);
    if (r == -ENOENT)
        return response_problem(resp, 404, "not-found", NULL, "no VM '%s' on this host", id);
    return r;
}

/* Answers VM's view with the tag GET answers: it covers the stored VM, not
 * the hypervisor's live view, so that If-Match on DELETE compares like with
 * like. */
static int answer_vm(struct request *req, struct response *resp, const struct vm *vm)
{
    _cleanup_json_ struct json_object *stored = vm_to_json(vm);
    etag_of_json(stored, resp->etag, sizeof(resp->etag));
    return response_json(resp, 200, vm_view(req->agent, vm));
}

static int get_vm(struct request *req, struct response *resp)
{
    struct vm vm;
    int r = load(req, resp, &vm);
    if (r < 0)
        return r;
    return answer_vm(req, resp, &vm);
}

static int check_owned(struct request *req, struct response *resp, const struct vm *vm,
                       const char *what)
{
    if (!req->agent->lifecycle)
        return no_hypervisor(resp);
    if (strcmp(vm->host, req->agent->node_id) != 0)
        return response_problem(resp, 409, "vm-not-here", NULL,
                                "VM '%s' runs on host %s now; %s it there", vm->name, vm->host,
                                what);
    if (vm->state == VM_MIGRATING || vm->state == VM_INCOMING)
        return response_problem(resp, 409, "vm-migrating", NULL,
                                "VM '%s' is migrating; cancel the migration or wait for it to "
                                "end before you %s it",
                                vm->name, what);
    return 0;
}

static int start_vm(struct request *req, struct response *resp)
{
    struct vm vm;
    int r = load(req, resp, &vm);
    if (r < 0 || (r = check_owned(req, resp, &vm, "start")) < 0)
        return r;
    r = lifecycle_start(req->agent->lifecycle, &vm);
    if (r < 0)
        return start_problem(resp, &vm, r);
    event_record(db_pool_get(req->agent->db), req->agent->node_id, req->token_name, "vm.start",
                 vm.name, NULL);
    vm_get(db_pool_get(req->agent->db), vm.uuid, &vm);
    return answer_vm(req, resp, &vm);
}

static int stop_vm(struct request *req, struct response *resp)
{
    struct vm vm;
    int r = load(req, resp, &vm);
    if (r < 0 || (r = check_owned(req, resp, &vm, "stop")) < 0)
        return r;
    r = lifecycle_stop(req->agent->lifecycle, &vm);
    if (r < 0)
        return r;
    event_record(db_pool_get(req->agent->db), req->agent->node_id, req->token_name, "vm.stop",
                 vm.name, NULL);
    vm_get(db_pool_get(req->agent->db), vm.uuid, &vm);
    return answer_vm(req, resp, &vm);
}

static int delete_vm(struct request *req, struct response *resp)
{
    struct vm vm;
    int r = load(req, resp, &vm);
    if (r < 0)
        return r;
    bool here = strcmp(vm.host, req->agent->node_id) == 0;
    if (here && (r = check_owned(req, resp, &vm, "delete")) < 0)
        return r;
    if (here && vm.state != VM_STOPPED && vm.state != VM_FAILED)
        return response_problem(resp, 409, "vm-running", NULL,
                                "VM '%s' is %s; stop it first (lmnetctl vm stop %s)", vm.name,
                                vm_state_to_string(vm.state), vm.name);
    char etag[40];
    _cleanup_json_ struct json_object *view = vm_to_json(&vm);
    etag_of_json(view, etag, sizeof(etag));
    if ((r = request_check_if_match(req, resp, etag)) < 0)
        return r;
    r = vm_delete(db_pool_get(req->agent->db), vm.uuid);
    if (r < 0)
        return r;
    event_record(db_pool_get(req->agent->db), req->agent->node_id, req->token_name, "vm.delete",
                 vm.name, NULL);
    resp->status = 204;
    return 0;
}

const struct route vm_routes[] = {
    { HTTP_GET, "/v1/vms", SCOPE_READ, list_vms },
    { HTTP_POST, "/v1/vms", SCOPE_ADMIN, create_vm },
    { HTTP_GET, "/v1/vms/{id}", SCOPE_READ, get_vm },
    { HTTP_DELETE, "/v1/vms/{id}", SCOPE_ADMIN, delete_vm },
    { HTTP_POST, "/v1/vms/{id}/start", SCOPE_ADMIN, start_vm },
    { HTTP_POST, "/v1/vms/{id}/stop", SCOPE_ADMIN, stop_vm },
    { 0, NULL, 0, NULL },
};
