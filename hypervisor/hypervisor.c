/* The hypervisor driver interface; the design is in hypervisor/hypervisor.h.
 * This file holds what every driver shares: the names of the enums, the
 * check of a VM's configuration, and the calls that dispatch to the
 * driver's table. */
#include "hypervisor/hypervisor.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>
#include "base/log.h"

static const char *const accel_names[HYPERVISOR_ACCEL_COUNT] = {
    [HYPERVISOR_ACCEL_AUTO] = "auto",
    [HYPERVISOR_ACCEL_KVM] = "kvm",
    [HYPERVISOR_ACCEL_TCG] = "tcg",
};

static const char *const vm_state_names[HYPERVISOR_VM_STATE_COUNT] = {
    [HYPERVISOR_VM_RUNNING] = "running",
    [HYPERVISOR_VM_PAUSED] = "paused",
    [HYPERVISOR_VM_INCOMING] = "incoming",
    [HYPERVISOR_VM_MIGRATED] = "migrated",
    [HYPERVISOR_VM_SHUTDOWN] = "shutdown",
    [HYPERVISOR_VM_FAILED] = "failed",
    [HYPERVISOR_VM_EXITED] = "exited",
};

static const char *const migration_status_names[HYPERVISOR_MIGRATION_STATUS_COUNT] = {
    [HYPERVISOR_MIGRATION_NONE] = "none",
    [HYPERVISOR_MIGRATION_SETUP] = "setup",
    [HYPERVISOR_MIGRATION_ACTIVE] = "active",
    [HYPERVISOR_MIGRATION_PRE_SWITCHOVER] = "pre-switchover",
    [HYPERVISOR_MIGRATION_DEVICE] = "device",
    [HYPERVISOR_MIGRATION_POSTCOPY_ACTIVE] = "postcopy-active",
    [HYPERVISOR_MIGRATION_COMPLETED] = "completed",
    [HYPERVISOR_MIGRATION_FAILED] = "failed",
    [HYPERVISOR_MIGRATION_CANCELLING] = "cancelling",
    [HYPERVISOR_MIGRATION_CANCELLED] = "cancelled",
};

const char *hypervisor_accel_to_string(enum hypervisor_accel accel)
{
    return (unsigned)accel < HYPERVISOR_ACCEL_COUNT ? accel_names[accel] : "unknown";
}

int hypervisor_accel_from_string(const char *name, enum hypervisor_accel *accel)
{
    for (int i = 0; name && i < HYPERVISOR_ACCEL_COUNT; i++)
        if (strcmp(name, accel_names[i]) == 0) {
            *accel = (enum hypervisor_accel)i;
            return 0;
        }
    return -EINVAL;
}

const char *hypervisor_vm_state_to_string(enum hypervisor_vm_state state)
{
    return (unsigned)state < HYPERVISOR_VM_STATE_COUNT ? vm_state_names[state] : "unknown";
}

const char *hypervisor_migration_status_to_string(enum hypervisor_migration_status status)
{
    return (unsigned)status < HYPERVISOR_MIGRATION_STATUS_COUNT ? migration_status_names[status]
                                                                 : "unknown";
}

bool hypervisor_migration_status_waits(enum hypervisor_migration_status status)
{
    return status == HYPERVISOR_MIGRATION_PRE_SWITCHOVER ||
           status == HYPERVISOR_MIGRATION_COMPLETED || status == HYPERVISOR_MIGRATION_FAILED ||
           status == HYPERVISOR_MIGRATION_CANCELLED;
}

static bool name_valid(const char *name)
{
    size_t len = strnlen(name, 64);
    if (len == 0 || len > 63 || name[0] == '-' || name[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
            return false;
    return true;
}

/* A network device name the kernel accepts and that cannot smuggle options
 * into QEMU's comma-separated -netdev argument. */
static bool tap_valid(const char *tap)
{
    size_t len = strnlen(tap, 16);
    if (len == 0 || len > 15 || strcmp(tap, ".") == 0 || strcmp(tap, "..") == 0)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isgraph((unsigned char)tap[i]) || strchr("/,:=", tap[i]))
            return false;
    return true;
}

/* "aa:bb:cc:dd:ee:ff", lower case, unicast. */
static bool mac_valid(const char *mac)
{
    if (strnlen(mac, 18) != 17)
        return false;
    for (int i = 0; i < 17; i++) {
        if (i % 3 == 2) {
            if (mac[i] != ':')
                return false;
        } else if (!isxdigit((unsigned char)mac[i]) || isupper((unsigned char)mac[i])) {
            return false;
        }
    }
    int first = (isdigit((unsigned char)mac[1]) ? mac[1] - '0' : mac[1] - 'a' + 10);
    return (first & 1) == 0;
}

static bool model_valid(const char *model)
{
    size_t len = strnlen(model, 32);
    if (len == 0 || len > 31)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!islower((unsigned char)model[i]) && !isdigit((unsigned char)model[i]) &&
            model[i] != '-' && model[i] != '_')
            return false;
    return true;
}

static int invalid(const char *name, const char *field, const char *why)
{
    log_warning("vm config refused vm=%s field=%s reason=\"%s\"", name, field, why);
    return -EINVAL;
}

int hypervisor_vm_config_check(const struct hypervisor_vm_config *config)
{
    const char *name = config->name;
    if (!name_valid(name))
        return invalid("?", "name", "1-63 of [A-Za-z0-9._-], not starting with - or .");
    if (config->memory_mib < 16 || config->memory_mib > 1024 * 1024)
        return invalid(name, "memory_mib", "must be 16 MiB to 1 TiB");
    if (config->vcpus < 1 || config->vcpus > 255)
        return invalid(name, "vcpus", "must be 1 to 255");
    bool kernel = config->kernel[0] != '\0', disk = config->disk[0] != '\0';
    if (kernel == disk)
        return invalid(name, "kernel", "set either a kernel or a disk");
    if (!kernel && (config->initrd[0] || config->append[0]))
        return invalid(name, "initrd", "an initrd or a command line needs a kernel");
    if (config->n_adapters > HYPERVISOR_MAX_ADAPTERS)
        return invalid(name, "adapters", "too many adapters");
    for (size_t i = 0; i < config->n_adapters; i++) {
        const struct hypervisor_adapter *a = &config->adapters[i];
        if (!tap_valid(a->tap))
            return invalid(name, "adapters/tap", "a device name of 1-15 characters");
        if (!mac_valid(a->mac))
            return invalid(name, "adapters/mac", "a unicast aa:bb:cc:dd:ee:ff in lower case");
        if (!model_valid(a->model))
            return invalid(name, "adapters/model", "a device model such as virtio-net-pci");
        for (size_t j = 0; j < i; j++)
            if (strcmp(config->adapters[j].tap, a->tap) == 0)
                return invalid(name, "adapters/tap", "two adapters on one tap");
    }
    return 0;
}

void hypervisor_destroy(struct hypervisor *hv)
{
    if (hv)
        hv->ops->destroy(hv);
}

int hypervisor_vm_start(struct hypervisor *hv, const struct hypervisor_vm_config *config,
                        struct hypervisor_vm **out)
{
    return hv->ops->vm_start(hv, config, out);
}

int hypervisor_vm_start_incoming(struct hypervisor *hv, const struct hypervisor_vm_config *config,
                                 const char *uri,
                                 const struct hypervisor_migration_options *options,
                                 struct hypervisor_vm **out)
{
    return hv->ops->vm_start_incoming(hv, config, uri, options, out);
}

int hypervisor_vm_attach(struct hypervisor *hv, const char *name, struct hypervisor_vm **out)
{
    return hv->ops->vm_attach(hv, name, out);
}

int hypervisor_vm_migrate_incoming(struct hypervisor_vm *vm, const char *uri,
                                   const struct hypervisor_migration_options *options)
{
    return vm->hypervisor->ops->vm_migrate_incoming(vm, uri, options);
}

int hypervisor_vm_pass_fd(struct hypervisor_vm *vm, const char *name, int fd)
{
    if (!vm->hypervisor->ops->vm_pass_fd)
        return -EOPNOTSUPP;
    return vm->hypervisor->ops->vm_pass_fd(vm, name, fd);
}

int hypervisor_vm_migration_set_downtime(struct hypervisor_vm *vm, int64_t downtime_ms)
{
    if (!vm->hypervisor->ops->vm_migration_set_downtime)
        return -EOPNOTSUPP;
    return vm->hypervisor->ops->vm_migration_set_downtime(vm, downtime_ms);
}

int hypervisor_vm_migration_start_postcopy(struct hypervisor_vm *vm)
{
    if (!vm->hypervisor->ops->vm_migration_start_postcopy)
        return -EOPNOTSUPP;
    return vm->hypervisor->ops->vm_migration_start_postcopy(vm);
}

int hypervisor_vm_query(struct hypervisor_vm *vm, struct hypervisor_vm_status *out)
{
    return vm->hypervisor->ops->vm_query(vm, out);
}

int hypervisor_vm_stop(struct hypervisor_vm *vm)
{
    return vm->hypervisor->ops->vm_stop(vm);
}

int hypervisor_vm_resume(struct hypervisor_vm *vm)
{
    return vm->hypervisor->ops->vm_resume(vm);
}

void hypervisor_vm_destroy(struct hypervisor_vm *vm)
{
    if (vm)
        vm->hypervisor->ops->vm_destroy(vm);
}

void hypervisor_vm_detach(struct hypervisor_vm *vm)
{
    if (vm)
        vm->hypervisor->ops->vm_detach(vm);
}

int hypervisor_vm_migrate(struct hypervisor_vm *vm, const char *uri,
                          const struct hypervisor_migration_options *options)
{
    return vm->hypervisor->ops->vm_migrate(vm, uri, options);
}

int hypervisor_vm_migration_progress(struct hypervisor_vm *vm,
                                     struct hypervisor_migration_progress *out)
{
    return vm->hypervisor->ops->vm_migration_progress(vm, out);
}

int hypervisor_vm_migration_wait(struct hypervisor_vm *vm, int timeout_ms,
                                 enum hypervisor_migration_status *status)
{
    return vm->hypervisor->ops->vm_migration_wait(vm, timeout_ms, status);
}

int hypervisor_vm_migration_continue(struct hypervisor_vm *vm)
{
    return vm->hypervisor->ops->vm_migration_continue(vm);
}

int hypervisor_vm_migration_cancel(struct hypervisor_vm *vm)
{
    return vm->hypervisor->ops->vm_migration_cancel(vm);
}

int hypervisor_vm_announce(struct hypervisor_vm *vm)
{
    return vm->hypervisor->ops->vm_announce(vm);
}
