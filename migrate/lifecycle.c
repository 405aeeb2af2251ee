/* The VMs this host runs: see migrate/lifecycle.h.
 *
 * The table is a short singly linked list (a host runs tens of VMs, not
 * thousands), guarded by one mutex; handles are looked up by VM uuid. */
#include "migrate/lifecycle.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/agent.h"
#include "base/cleanup.h"
#include "base/mac.h"
#include "base/log.h"
#include "db/event.h"
#include "db/port.h"

struct entry {
    struct entry *next;
    char uuid[37];
    struct hypervisor_vm *handle;
};

struct lifecycle {
    struct agent *agent;
    struct hypervisor *hv;
    struct ports ports;
    pthread_mutex_t lock; /* guards entries */
    struct entry *entries;
};

int lifecycle_create(struct agent *agent, struct hypervisor *hv, const struct ports *ports,
                     struct lifecycle **out)
{
    struct lifecycle *lc = calloc(1, sizeof(*lc));
    if (!lc)
        return -ENOMEM;
    lc->agent = agent;
    lc->hv = hv;
    lc->ports = *ports;
    pthread_mutex_init(&lc->lock, NULL);
    *out = lc;
    return 0;
}

void lifecycle_destroy(struct lifecycle *lc)
{
    if (!lc)
        return;
    /* Let go of the handles without ending the VMs: QEMU outlives us and
     * the next agent re-attaches. */
    struct entry *e = lc->entries;
    while (e) {
        struct entry *next = e->next;
        hypervisor_vm_detach(e->handle);
        free(e);
        e = next;
    }
    pthread_mutex_destroy(&lc->lock);
    free(lc);
}

static struct entry **find(struct lifecycle *lc, const char *uuid)
{
    struct entry **p = &lc->entries;
    while (*p && strcmp((*p)->uuid, uuid) != 0)
        p = &(*p)->next;
    return p;
}

int lifecycle_adopt(struct lifecycle *lc, const char *uuid, struct hypervisor_vm *handle)
{
    pthread_mutex_lock(&lc->lock);
    int r = 0;
    if (*find(lc, uuid)) {
        r = -EEXIST;
    } else {
        struct entry *e = calloc(1, sizeof(*e));
        if (!e) {
            r = -ENOMEM;
        } else {
            snprintf(e->uuid, sizeof(e->uuid), "%s", uuid);
            e->handle = handle;
            e->next = lc->entries;
            lc->entries = e;
        }
    }
    pthread_mutex_unlock(&lc->lock);
    return r;
}

struct hypervisor_vm *lifecycle_handle(struct lifecycle *lc, const char *uuid)
{
    pthread_mutex_lock(&lc->lock);
    struct entry *e = *find(lc, uuid);
    struct hypervisor_vm *h = e ? e->handle : NULL;
    pthread_mutex_unlock(&lc->lock);
    return h;
}

struct hypervisor_vm *lifecycle_release(struct lifecycle *lc, const char *uuid)
{
    pthread_mutex_lock(&lc->lock);
    struct entry **p = find(lc, uuid);
    struct hypervisor_vm *h = NULL;
    if (*p) {
        struct entry *e = *p;
        *p = e->next;
        h = e->handle;
        free(e);
    }
    pthread_mutex_unlock(&lc->lock);
    return h;
}

int lifecycle_vm_config(struct lifecycle *lc, const struct vm *vm,
                        struct hypervisor_vm_config *config)
{
    memset(config, 0, sizeof(*config));
    snprintf(config->name, sizeof(config->name), "%s", vm->name);
    config->memory_mib = vm->memory_mib;
    config->vcpus = vm->vcpus;
    snprintf(config->kernel, sizeof(config->kernel), "%s", vm->kernel);
    snprintf(config->initrd, sizeof(config->initrd), "%s", vm->initrd);
    snprintf(config->append, sizeof(config->append), "%s", vm->append);
    snprintf(config->disk, sizeof(config->disk), "%s", vm->disk);
    if (vm->n_adapters > HYPERVISOR_MAX_ADAPTERS)
        return -E2BIG;
    for (size_t i = 0; i < vm->n_adapters; i++) {
        struct hypervisor_adapter *a = &config->adapters[i];
        size_t len = strlen(vm->adapters[i].port);
        if (len >= sizeof(a->tap))
            return -ENAMETOOLONG;
        memcpy(a->tap, vm->adapters[i].port, len + 1);
        snprintf(a->model, sizeof(a->model), "%s", vm->adapters[i].model);
        _cleanup_free_ struct port_record *settings = malloc(sizeof(*settings));
        if (!settings)
            return -ENOMEM;
        int r = lc->ports.ops->describe(lc->ports.ctx, vm->adapters[i].port, settings);
        if (r < 0)
            return r;
        char mac[MAC_STRING_SIZE];
        snprintf(a->mac, sizeof(a->mac), "%s", mac_format(settings->mac, mac));
    }
    config->n_adapters = vm->n_adapters;
    return 0;
}

static void record(struct lifecycle *lc, const char *kind, const struct vm *vm, const char *why)
{
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "vm", json_object_new_string(vm->uuid));
    if (why)
        json_object_object_add(detail, "reason", json_object_new_string(why));
    event_record(db_pool_get(lc->agent->db), lc->agent->node_id, "agent", kind, vm->name, detail);
}

int lifecycle_start(struct lifecycle *lc, const struct vm *vm)
{
    if (lifecycle_handle(lc, vm->uuid))
        return -EEXIST;
    struct hypervisor_vm_config config;
    int r = lifecycle_vm_config(lc, vm, &config);
    if (r < 0)
        return log_errno(LOG_LEVEL_WARNING, r, "cannot build the configuration of vm=%s", vm->name);
    struct hypervisor_vm *handle = NULL;
    r = hypervisor_vm_start(lc->hv, &config, &handle);
    if (r < 0)
        return r; /* the driver logged QEMU's reason */
    r = lifecycle_adopt(lc, vm->uuid, handle);
    if (r < 0) {
        hypervisor_vm_destroy(handle);
        return r;
    }
    r = vm_set_state(db_pool_get(lc->agent->db), vm->uuid, VM_RUNNING);
    if (r < 0) {
        hypervisor_vm_destroy(lifecycle_release(lc, vm->uuid));
        return r;
    }
    log_info("vm started vm=%s", vm->name);
    return 0;
}

int lifecycle_stop(struct lifecycle *lc, const struct vm *vm)
{
    struct hypervisor_vm *handle = lifecycle_release(lc, vm->uuid);
    if (!handle) {
        /* Maybe a QEMU left from before a restart that attach missed. */
        if (hypervisor_vm_attach(lc->hv, vm->name, &handle) < 0)
            handle = NULL;
    }
    hypervisor_vm_destroy(handle);
    int r = vm_set_state(db_pool_get(lc->agent->db), vm->uuid, VM_STOPPED);
    if (r < 0)
        return r;
    log_info("vm stopped vm=%s", vm->name);
    return 0;
}

int lifecycle_query(struct lifecycle *lc, const char *uuid, struct hypervisor_vm_status *status)
{
    struct hypervisor_vm *h = lifecycle_handle(lc, uuid);
    if (!h)
        return -ENOENT;
    return hypervisor_vm_query(h, status);
}

int lifecycle_attach_all(struct lifecycle *lc)
{
    struct db *db = db_pool_get(lc->agent->db);
    struct vm *vms = NULL;
    size_t n = 0;
    int r = vm_list(db, &vms, &n);
    if (r < 0)
        return r;
    int attached = 0;
    for (size_t i = 0; i < n; i++) {
        const struct vm *vm = &vms[i];
        if (strcmp(vm->host, lc->agent->node_id) != 0)
            continue;
        if (vm->state != VM_RUNNING && vm->state != VM_PAUSED && vm->state != VM_MIGRATING &&
            vm->state != VM_INCOMING)
            continue;
        struct hypervisor_vm *handle = NULL;
        r = hypervisor_vm_attach(lc->hv, vm->name, &handle);
        if (r < 0) {
            log_warning("vm's hypervisor is gone, marking it failed vm=%s state=%s", vm->name,
                        vm_state_to_string(vm->state));
            vm_set_state(db, vm->uuid, VM_FAILED);
            record(lc, "vm.lost", vm, "its hypervisor process ended while the agent was down");
            continue;
        }
        if (lifecycle_adopt(lc, vm->uuid, handle) < 0) {
            hypervisor_vm_destroy(handle);
            continue;
        }
        attached++;
    }
    free(vms);
    if (attached)
        log_info("re-attached vms count=%d", attached);
    return attached;
}
