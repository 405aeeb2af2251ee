/* VM scopes; the design is in hypervisor/vm_scope.h.
 *
 * The systemd way opens a bus connection per call (VMs start and end
 * rarely; an sd_bus is not to be shared between threads): systemd's private
 * socket first when root, as systemctl does (no D-Bus daemon needed), else
 * the system bus.  Every call has a timeout. */
#include "hypervisor/vm_scope.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>
#include "base/cleanup.h"
#include "base/clock.h"
#include "base/log.h"

#define BUS_TIMEOUT_USEC (10ULL * 1000 * 1000)
#define MOVE_WAIT_MS 5000 /* systemd moves the pid when the scope's job runs */
#define RMDIR_WAIT_MS 1000

struct vm_scope {
    enum vm_scope_kind kind;
    char slice[64];
    char root[256];   /* cgroupfs: the hierarchy's mount point */
    char prefix[256]; /* cgroupfs: what /proc/PID/cgroup shows for root */
};

static const char *const kind_names[VM_SCOPE_KIND_COUNT] = {
    [VM_SCOPE_AUTO] = "auto",
    [VM_SCOPE_SYSTEMD] = "systemd",
    [VM_SCOPE_CGROUPFS] = "cgroupfs",
    [VM_SCOPE_NONE] = "none",
};

const char *vm_scope_kind_to_string(enum vm_scope_kind kind)
{
    return (unsigned)kind < VM_SCOPE_KIND_COUNT ? kind_names[kind] : "unknown";
}

int vm_scope_kind_from_string(const char *name, enum vm_scope_kind *kind)
{
    for (int i = 0; i < VM_SCOPE_KIND_COUNT; i++)
        if (name && strcmp(name, kind_names[i]) == 0) {
            *kind = (enum vm_scope_kind)i;
            return 0;
        }
    return -EINVAL;
}

bool vm_scope_slice_valid(const char *slice)
{
    size_t n = slice ? strlen(slice) : 0;
    if (n < 7 || n > 63 || strcmp(slice + n - 6, ".slice") != 0)
        return false;
    size_t stem = n - 6;
    if (strspn(slice, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != stem)
        return false;
    /* systemd's slice names: no leading, trailing or doubled '-' ("-.slice"
     * is the root slice). */
    return slice[0] != '-' && slice[stem - 1] != '-' && !strstr(slice, "--");
}

/* ---- systemd ---- */

static int bus_open(sd_bus **out)
{
    sd_bus *bus = NULL;
    int r = -ENOENT;
    if (geteuid() == 0 && access("/run/systemd/private", F_OK) == 0) {
        r = sd_bus_new(&bus);
        if (r >= 0)
            r = sd_bus_set_address(bus, "unix:path=/run/systemd/private");
        if (r >= 0)
            r = sd_bus_start(bus);
        if (r < 0)
            bus = sd_bus_unref(bus);
    }
    if (r < 0)
        r = sd_bus_open_system(&bus);
    if (r < 0)
        return r;
    sd_bus_set_method_call_timeout(bus, BUS_TIMEOUT_USEC);
    *out = bus;
    return 0;
}

static void bus_unrefp(sd_bus **bus) { sd_bus_flush_close_unref(*bus); }
static void message_unrefp(sd_bus_message **m) { sd_bus_message_unref(*m); }
#define _cleanup_bus_ _cleanup_(bus_unrefp)
#define _cleanup_message_ _cleanup_(message_unrefp)

/* "lmnet.slice" + "web1" -> "lmnet-vm-web1.scope". */
static int unit_name(const struct vm_scope *s, const char *name, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%.*s-vm-%s.scope", (int)(strlen(s->slice) - 6), s->slice, name);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* NAME's unit name in UNIT, and a bus to systemd in *bus. */
static int unit_bus(const struct vm_scope *s, const char *name, char *unit, size_t size,
                    sd_bus **bus)
{
    int r = unit_name(s, name, unit, size);
    if (r < 0)
        return log_errno(LOG_LEVEL_ERROR, r, "vm scope: name too long vm=%s", name);
    r = bus_open(bus);
    if (r < 0)
        return log_errno(LOG_LEVEL_ERROR, r, "vm scope: cannot reach systemd on its bus vm=%s",
                         name);
    return 0;
}

static int manager_call(sd_bus *bus, sd_bus_error *error, sd_bus_message **reply,
                        const char *method, const char *types, ...)
{
    _cleanup_message_ sd_bus_message *m = NULL;
    int r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1",
                                           "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager", method);
    if (r < 0)
        return r;
    va_list ap;
    va_start(ap, types);
    r = sd_bus_message_appendv(m, types, ap);
    va_end(ap);
    if (r < 0)
        return r;
    return sd_bus_call(bus, m, BUS_TIMEOUT_USEC, error, reply);
}

static int systemd_start_scope(const struct vm_scope *s, sd_bus *bus, const char *unit,
                               const char *name, pid_t pid, sd_bus_error *error)
{
    _cleanup_message_ sd_bus_message *m = NULL, *reply = NULL;
    int r = sd_bus_message_new_method_call(bus, &m, "org.freedesktop.systemd1",
                                           "/org/freedesktop/systemd1",
                                           "org.freedesktop.systemd1.Manager",
                                           "StartTransientUnit");
    char description[128];
    snprintf(description, sizeof(description), "lmnet VM %s", name);
    if (r >= 0)
        r = sd_bus_message_append(m, "ss", unit, "fail");
    if (r >= 0)
        r = sd_bus_message_open_container(m, 'a', "(sv)");
    /* Delegate=no: QEMU makes no cgroups (-sandbox resourcecontrol=deny).
     * KillMode=control-group: stopping the scope ends QEMU and anything it
     * left; nothing ties the scope to lmnetd.service, so restarting the
     * agent does not.  CollectMode: a scope that failed does not linger. */
    if (r >= 0)
        r = sd_bus_message_append(m, "(sv)(sv)(sv)(sv)(sv)(sv)", "Description", "s", description,
                                  "Slice", "s", s->slice, "PIDs", "au", 1, (uint32_t)pid,
                                  "Delegate", "b", 0, "KillMode", "s", "control-group",
                                  "CollectMode", "s", "inactive-or-failed");
    if (r >= 0)
        r = sd_bus_message_close_container(m);
    if (r >= 0)
        r = sd_bus_message_append(m, "a(sa(sv))", 0);
    if (r >= 0)
        r = sd_bus_call(bus, m, BUS_TIMEOUT_USEC, error, &reply);
    return r;
}

static int systemd_add(const struct vm_scope *s, const char *name, pid_t pid)
{
    char unit[128];
    _cleanup_bus_ sd_bus *bus = NULL;
    int r = unit_bus(s, name, unit, sizeof(unit), &bus);
    if (r < 0)
        return r;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    r = systemd_start_scope(s, bus, unit, name, pid, &error);
    if (r < 0 && sd_bus_error_has_name(&error, "org.freedesktop.systemd1.UnitExists")) {
        /* The scope is there (its QEMU left running by an agent that
         * adopts it now): join it. */
        sd_bus_error_free(&error);
        _cleanup_message_ sd_bus_message *reply = NULL;
        r = manager_call(bus, &error, &reply, "AttachProcessesToUnit", "ssau", unit, "", 1,
                         (uint32_t)pid);
    }
    if (r < 0) {
        log_errno(LOG_LEVEL_ERROR, r, "vm scope: systemd refused %s for vm=%s pid=%d: %s", unit,
                  name, (int)pid, error.message ? error.message : "no reason given");
        sd_bus_error_free(&error);
        return r;
    }
    sd_bus_error_free(&error);
    return 0;
}

static int systemd_call_unit(const struct vm_scope *s, const char *name, const char *method,
                             bool kill_it)
{
    char unit[128];
    _cleanup_bus_ sd_bus *bus = NULL;
    int r = unit_bus(s, name, unit, sizeof(unit), &bus);
    if (r < 0)
        return r;
    sd_bus_error error = SD_BUS_ERROR_NULL;
    _cleanup_message_ sd_bus_message *reply = NULL;
    if (kill_it)
        r = manager_call(bus, &error, &reply, method, "ssi", unit, "all", SIGKILL);
    else
        r = manager_call(bus, &error, &reply, method, "s", unit);
    if (r < 0 && (sd_bus_error_has_name(&error, "org.freedesktop.systemd1.NoSuchUnit") ||
                  sd_bus_error_has_name(&error, "org.freedesktop.systemd1.LoadFailed")))
        r = -ENOENT;
    sd_bus_error_free(&error);
    return r;
}

/* ---- cgroupfs ---- */

/* The first cgroup2 mount in /proc/self/mountinfo: its mount point in
 * ROOT and the path inside the hierarchy it shows in PREFIX ("" for the
 * hierarchy's root). */
static int find_cgroup2(char *root, size_t root_size, char *prefix, size_t prefix_size)
{
    _cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
    if (!f)
        return -errno;
    char line[4096];
    while (fgets(line, sizeof(line), f)) {
        /* ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE ... */
        const char *dash = strstr(line, " - ");
        if (!dash || strncmp(dash + 3, "cgroup2 ", 8) != 0)
            continue;
        char mroot[256], mpoint[256];
        if (sscanf(line, "%*s %*s %*s %255s %255s", mroot, mpoint) != 2)
            continue;
        snprintf(root, root_size, "%s", mpoint);
        snprintf(prefix, prefix_size, "%s", strcmp(mroot, "/") == 0 ? "" : mroot);
        return 0;
    }
    return -ENOENT;
}

static int cgroup_dir(const struct vm_scope *s, const char *name, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s/%s/vm-%s", s->root, s->slice, name);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

static int write_file(const char *path, const char *text)
{
    _cleanup_close_ int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t n = strlen(text);
    ssize_t w = write(fd, text, n);
    if (w < 0)
        return -errno;
    return (size_t)w == n ? 0 : -EIO;
}

static int cgroupfs_add(const struct vm_scope *s, const char *name, pid_t pid)
{
    char dir[512], procs[540], pidtext[24];
    int r = cgroup_dir(s, name, dir, sizeof(dir));
    if (r < 0)
        return log_errno(LOG_LEVEL_ERROR, r, "vm scope: name too long vm=%s", name);
    char slice_dir[400];
    snprintf(slice_dir, sizeof(slice_dir), "%s/%s", s->root, s->slice);
    if (mkdir(slice_dir, 0755) < 0 && errno != EEXIST)
        return log_errno(LOG_LEVEL_ERROR, errno, "vm scope: cannot create cgroup %s", slice_dir);
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return log_errno(LOG_LEVEL_ERROR, errno, "vm scope: cannot create cgroup %s", dir);
    snprintf(procs, sizeof(procs), "%s/cgroup.procs", dir);
    snprintf(pidtext, sizeof(pidtext), "%d\n", (int)pid);
    r = write_file(procs, pidtext);
    if (r < 0)
        return log_errno(LOG_LEVEL_ERROR, r, "vm scope: cannot move pid=%d into cgroup %s",
                         (int)pid, dir);
    return 0;
}

static int cgroupfs_kill(const struct vm_scope *s, const char *name)
{
    char dir[512], path[540];
    int r = cgroup_dir(s, name, dir, sizeof(dir));
    if (r < 0)
        return r;
    snprintf(path, sizeof(path), "%s/cgroup.kill", dir);
    r = write_file(path, "1");
    if (r != -ENOENT || access(dir, F_OK) < 0)
        return r;
    /* A kernel before 5.14 has no cgroup.kill: each process by itself. */
    snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    int pid;
    while (fscanf(f, "%d", &pid) == 1)
        kill(pid, SIGKILL);
    return 0;
}

static int cgroupfs_remove(const struct vm_scope *s, const char *name)
{
    char dir[512];
    int r = cgroup_dir(s, name, dir, sizeof(dir));
    if (r < 0)
        return r;
    /* A process just killed leaves its cgroup a moment after. */
    int64_t deadline = clock_mono_ms() + RMDIR_WAIT_MS;
    for (;;) {
        if (rmdir(dir) == 0 || errno == ENOENT)
            return 0;
        if (errno != EBUSY || clock_mono_ms() >= deadline)
            return log_errno(LOG_LEVEL_WARNING, errno, "vm scope: cannot remove cgroup %s", dir);
        clock_sleep_ms(10);
    }
}

/* ---- the interface ---- */

int vm_scope_create_cgroupfs(const char *root, const char *slice, struct vm_scope **out)
{
    if (!vm_scope_slice_valid(slice))
        return log_errno(LOG_LEVEL_ERROR, EINVAL,
                         "vm scope: vm_slice must look like NAME.slice ([A-Za-z0-9_-]), not '%s'",
                         slice ? slice : "");
    struct vm_scope *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->kind = VM_SCOPE_CGROUPFS;
    snprintf(s->slice, sizeof(s->slice), "%s", slice);
    snprintf(s->root, sizeof(s->root), "%s", root);
    *out = s;
    return 0;
}

int vm_scope_create(enum vm_scope_kind kind, const char *slice, struct vm_scope **out)
{
    if ((unsigned)kind >= VM_SCOPE_KIND_COUNT)
        return -EINVAL;
    if (!vm_scope_slice_valid(slice))
        return log_errno(LOG_LEVEL_ERROR, EINVAL,
                         "vm scope: vm_slice must look like NAME.slice ([A-Za-z0-9_-]), not '%s'",
                         slice ? slice : "");
    bool systemd = sd_booted() > 0, automatic = kind == VM_SCOPE_AUTO;
    if (kind == VM_SCOPE_SYSTEMD && !systemd)
        return log_errno(LOG_LEVEL_ERROR, ENOTSUP,
                         "vm scope: vm_cgroup = systemd, but systemd does not run this host "
                         "(set vm_cgroup = auto or cgroupfs)");
    if (automatic)
        kind = systemd ? VM_SCOPE_SYSTEMD : VM_SCOPE_CGROUPFS;
    if (kind == VM_SCOPE_SYSTEMD) {
        _cleanup_bus_ sd_bus *bus = NULL;
        int r = bus_open(&bus);
        if (r < 0)
            return log_errno(LOG_LEVEL_ERROR, r,
                             "vm scope: systemd runs this host but its bus does not answer");
        struct vm_scope *s = calloc(1, sizeof(*s));
        if (!s)
            return -ENOMEM;
        s->kind = kind;
        snprintf(s->slice, sizeof(s->slice), "%s", slice);
        log_info("vm scope: each VM in a systemd scope slice=%s", slice);
        *out = s;
        return 0;
    }
    if (kind == VM_SCOPE_CGROUPFS) {
        char root[256], prefix[256];
        int r = find_cgroup2(root, sizeof(root), prefix, sizeof(prefix));
        if (r == 0 && access(root, W_OK) < 0)
            r = -errno;
        if (r < 0 && !automatic)
            return log_errno(LOG_LEVEL_ERROR, r,
                             "vm scope: vm_cgroup = cgroupfs, but no writable cgroup v2 "
                             "hierarchy is mounted (mount -t cgroup2 none /sys/fs/cgroup)");
        if (r == 0) {
            r = vm_scope_create_cgroupfs(root, slice, out);
            if (r == 0) {
                snprintf((*out)->prefix, sizeof((*out)->prefix), "%s", prefix);
                log_info("vm scope: each VM in a cgroup of its own under %s/%s", root, slice);
            }
            return r;
        }
        log_errno(LOG_LEVEL_WARNING, r,
                  "vm scope: no writable cgroup v2 hierarchy; VMs stay in the agent's cgroup "
                  "(mount -t cgroup2 none /sys/fs/cgroup)");
    }
    struct vm_scope *s = calloc(1, sizeof(*s));
    if (!s)
        return -ENOMEM;
    s->kind = VM_SCOPE_NONE;
    snprintf(s->slice, sizeof(s->slice), "%s", slice);
    if (!automatic)
        log_info("vm scope: vm_cgroup = none, VMs stay in the agent's cgroup");
    *out = s;
    return 0;
}

void vm_scope_destroy(struct vm_scope *scope)
{
    free(scope);
}

enum vm_scope_kind vm_scope_get_kind(const struct vm_scope *scope)
{
    return scope->kind;
}

int vm_scope_name(const struct vm_scope *s, const char *name, char *buf, size_t size)
{
    if (size)
        buf[0] = '\0';
    if (s->kind == VM_SCOPE_SYSTEMD)
        return unit_name(s, name, buf, size);
    if (s->kind != VM_SCOPE_CGROUPFS)
        return 0;
    int n = snprintf(buf, size, "%s/%s/vm-%s", s->prefix, s->slice, name);
    return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

/* PID's cgroup v2 path from /proc/PID/cgroup, in BUF. */
static int pid_cgroup(pid_t pid, char *buf, size_t size)
{
    char path[64];
    snprintf(path, sizeof(path), "/proc/%d/cgroup", (int)pid);
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    char line[4096];
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, "0::", 3) == 0) {
            line[strcspn(line, "\n")] = '\0';
            snprintf(buf, size, "%s", line + 3);
            return 0;
        }
    return -ENOENT;
}

int vm_scope_contains(const struct vm_scope *s, const char *name, pid_t pid)
{
    if (s->kind == VM_SCOPE_NONE)
        return 1;
    char want[512], have[4096];
    int r = vm_scope_name(s, name, want, sizeof(want));
    if (r < 0)
        return r;
    r = pid_cgroup(pid, have, sizeof(have));
    if (r == -ENOENT)
        return 0;
    if (r < 0)
        return r;
    if (s->kind == VM_SCOPE_CGROUPFS)
        return strcmp(have, want) == 0;
    const char *last = strrchr(have, '/');
    return last && strcmp(last + 1, want) == 0;
}

int vm_scope_add(struct vm_scope *s, const char *name, pid_t pid)
{
    if (s->kind == VM_SCOPE_NONE)
        return 0;
    if (s->kind == VM_SCOPE_CGROUPFS)
        return cgroupfs_add(s, name, pid);
    int r = systemd_add(s, name, pid);
    if (r < 0)
        return r;
    int64_t deadline = clock_mono_ms() + MOVE_WAIT_MS;
    while ((r = vm_scope_contains(s, name, pid)) == 0 && clock_mono_ms() < deadline)
        clock_sleep_ms(10);
    if (r == 1)
        return 0;
    char unit[128];
    unit_name(s, name, unit, sizeof(unit));
    return log_errno(LOG_LEVEL_ERROR, r < 0 ? r : ETIMEDOUT,
                     "vm scope: systemd did not move pid=%d into %s", (int)pid, unit);
}

int vm_scope_kill(struct vm_scope *s, const char *name)
{
    if (s->kind == VM_SCOPE_NONE)
        return -ENOENT;
    if (s->kind == VM_SCOPE_CGROUPFS)
        return cgroupfs_kill(s, name);
    return systemd_call_unit(s, name, "KillUnit", true);
}

int vm_scope_remove(struct vm_scope *s, const char *name)
{
    if (s->kind == VM_SCOPE_NONE)
        return 0;
    if (s->kind == VM_SCOPE_CGROUPFS)
        return cgroupfs_remove(s, name);
    /* An empty scope ends by itself; one that failed is cleared. */
    int r = systemd_call_unit(s, name, "ResetFailedUnit", false);
    return r == -ENOENT ? 0 : r;
}
