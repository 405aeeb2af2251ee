/* The QEMU hypervisor driver; the design is in hypervisor/hypervisor_qemu.h.
 *
 * Ownership: struct qemu_driver owns its configuration and the accelerator
 * decision (guarded by driver->lock, taken only while probing).  Each struct
 * qemu_vm owns its QMP connection and, when this process started QEMU, the
 * child to reap.  Calls on one VM are serialised by its QMP connection's
 * lock; hypervisor_vm_destroy() must not race other calls on that VM. */
#include "hypervisor/hypervisor_qemu.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "base/cleanup.h"
#include "base/clock.h"
#include "hypervisor/imagedir.h"
#include "base/log.h"
#include "hypervisor/qmp.h"

extern char **environ;

#define UNLIMITED_BANDWIDTH (1ULL << 40) /* bytes/s: QEMU's way to say no cap */
#define MAX_ARGS 128

struct qemu_driver {
    struct hypervisor base;
    struct hypervisor_qemu_config config;
    pthread_mutex_t lock;
    bool decided;
    enum hypervisor_accel accel; /* KVM or TCG once decided */
    struct vm_scope *scope;
};

struct qemu_vm {
    struct hypervisor_vm base;
    struct qemu_driver *driver;
    struct qmp *qmp;
    pid_t pid;
    bool child; /* started by this process: ours to reap */
    bool reaped;
    char qmp_path[108];
    char pid_path[160];
};

static const struct hypervisor_ops qemu_ops;

void hypervisor_qemu_config_defaults(struct hypervisor_qemu_config *config)
{
    memset(config, 0, sizeof(*config));
    snprintf(config->binary, sizeof(config->binary), "qemu-system-x86_64");
    snprintf(config->run_dir, sizeof(config->run_dir), "/run/lmnet/qemu");
    snprintf(config->machine, sizeof(config->machine), "q35");
    config->accel = HYPERVISOR_ACCEL_AUTO;
    config->probe_timeout_ms = 20000;
    config->start_timeout_ms = 10000;
    config->qmp_timeout_ms = 10000;
    config->quit_timeout_ms = 3000;
    config->cgroup = VM_SCOPE_AUTO;
    snprintf(config->slice, sizeof(config->slice), "lmnet.slice");
}

/* mkdir -p with MODE for the last component. */
static int make_dir(const char *path, mode_t mode)
{
    char buf[sizeof(((struct hypervisor_qemu_config *)0)->run_dir)];
    snprintf(buf, sizeof(buf), "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/')
            continue;
        *p = '\0';
        if (mkdir(buf, 0755) < 0 && errno != EEXIST)
            return -errno;
        *p = '/';
    }
    if (mkdir(buf, mode) < 0 && errno != EEXIST)
        return -errno;
    return 0;
}

/* With a QEMU user: checks it exists and hands the migration directory to
 * its group (03770: the group may add entries, only an entry's owner may
 * remove it). */
static int user_dirs(const struct hypervisor_qemu_config *config)
{
    errno = 0;
    struct passwd *pw = getpwnam(config->user);
    if (!pw)
        return log_errno(LOG_LEVEL_ERROR, errno ? errno : ENOENT,
                         "qemu driver: qemu_user=%s does not exist; create it (useradd --system "
                         "--no-create-home --shell /usr/sbin/nologin %s) or set qemu_user = none",
                         config->user, config->user);
    const char *dir = config->migration_dir;
    if (!dir[0])
        return 0;
    int r = make_dir(dir, 0750);
    struct stat st;
    if (r == 0 && stat(dir, &st) < 0)
        r = -errno;
    /* Only what differs is changed: under systemd's RestrictSUIDSGID=yes
     * (lmnetd.service) setting the setgid bit is refused with EPERM, so the
     * unit creates the directory 3770 itself (RuntimeDirectoryMode=) and
     * the agent only gives it the group, which keeps the bit. */
    if (r == 0 && st.st_gid != pw->pw_gid && chown(dir, (uid_t)-1, pw->pw_gid) < 0)
        r = -errno;
    if (r == 0 && (st.st_mode & 07777) != 03770 && chmod(dir, 03770) < 0) {
        r = -errno;
        if (r == -EPERM)
            return log_errno(LOG_LEVEL_ERROR, EPERM,
                             "qemu driver: cannot make migration_dir=%s mode 3770 (setgid is "
                             "refused here, e.g. by systemd's RestrictSUIDSGID=yes): create it "
                             "3770 beforehand (RuntimeDirectoryMode=3770 in the unit)",
                             dir);
    }
    if (r < 0)
        return log_errno(LOG_LEVEL_ERROR, r,
                         "qemu driver: cannot give migration_dir=%s to qemu_user=%s's group", dir,
                         config->user);
    return 0;
}

int hypervisor_qemu_create(const struct hypervisor_qemu_config *config, struct hypervisor **out)
{
    if (!config->run_dir[0] || strchr(config->run_dir, ',') || !config->binary[0] ||
        !config->machine[0] || strchr(config->machine, ',') ||
        (unsigned)config->accel >= HYPERVISOR_ACCEL_COUNT)
        return log_errno(LOG_LEVEL_ERROR, EINVAL,
                         "qemu driver: bad configuration (run_dir and machine may not contain ',')");
    int r = make_dir(config->run_dir, 0700);
    if (r < 0)
        return log_errno(LOG_LEVEL_ERROR, r, "qemu driver: cannot create run_dir=%s",
                         config->run_dir);
    if (config->user[0]) {
        r = user_dirs(config);
        if (r < 0)
            return r;
    }
    struct qemu_driver *d = calloc(1, sizeof(*d));
    if (!d)
        return -ENOMEM;
    d->base.ops = &qemu_ops;
    d->config = *config;
    if (d->config.probe_timeout_ms <= 0)
        d->config.probe_timeout_ms = 20000;
    if (d->config.start_timeout_ms <= 0)
        d->config.start_timeout_ms = 10000;
    if (d->config.qmp_timeout_ms <= 0)
        d->config.qmp_timeout_ms = 10000;
    if (d->config.quit_timeout_ms <= 0)
        d->config.quit_timeout_ms = 3000;
    r = vm_scope_create(config->cgroup, config->slice[0] ? config->slice : "lmnet.slice",
                        &d->scope);
    if (r < 0) {
        free(d);
        return r;
    }
    pthread_mutex_init(&d->lock, NULL);
    if (config->accel != HYPERVISOR_ACCEL_AUTO) {
        d->decided = true;
        d->accel = config->accel;
    }
    *out = &d->base;
    return 0;
}

static void driver_destroy(struct hypervisor *hv)
{
    struct qemu_driver *d = (struct qemu_driver *)hv;
    pthread_mutex_destroy(&d->lock);
    vm_scope_destroy(d->scope);
    free(d);
}

/* ---- the command line ---- */

struct args {
    char *v[MAX_ARGS + 1];
    int n;
    bool failed;
};

static void add(struct args *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(struct args *a, const char *fmt, ...)
{
    if (a->n >= MAX_ARGS) {
        a->failed = true;
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    if (vasprintf(&a->v[a->n], fmt, ap) < 0) {
        a->v[a->n] = NULL;
        a->failed = true;
    } else {
        a->n++;
    }
    va_end(ap);
}

/* PATH with each ',' doubled, as QEMU's key=value option syntax wants. */
static char *escape_commas(const char *path)
{
    size_t n = strlen(path), commas = 0;
    for (size_t i = 0; i < n; i++)
        commas += path[i] == ',';
    char *out = malloc(n + commas + 1), *p = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < n; i++) {
        *p++ = path[i];
        if (path[i] == ',')
            *p++ = ',';
    }
    *p = '\0';
    return out;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

void hypervisor_qemu_argv_free(char **argv)
{
    if (!argv)
        return;
    for (char **p = argv; *p; p++)
        free(*p);
    free(argv);
}

int hypervisor_qemu_argv(const struct hypervisor_qemu_config *qemu,
                         const struct hypervisor_vm_config *config, enum hypervisor_accel accel,
                         bool incoming, char ***argv)
{
    if (accel != HYPERVISOR_ACCEL_KVM && accel != HYPERVISOR_ACCEL_TCG)
        return -EINVAL;
    int r = hypervisor_vm_config_check(config);
    if (r < 0)
        return r;
    const char *dir = qemu->run_dir, *name = config->name;
    struct args a = { .n = 0 };
    add(&a, "%s", qemu->binary);
    add(&a, "-name");
    add(&a, "guest=%s,debug-threads=on", name);
    add(&a, "-no-user-config");
    add(&a, "-nodefaults");
    add(&a, "-display");
    add(&a, "none");
    add(&a, "-msg");
    add(&a, "timestamp=on");
    add(&a, "-machine");
    add(&a, "%s", qemu->machine);
    add(&a, "-accel");
    add(&a, "%s", hypervisor_accel_to_string(accel));
    add(&a, "-m");
    add(&a, "%u", config->memory_mib);
    add(&a, "-smp");
    add(&a, "%u", config->vcpus);
    add(&a, "-qmp");
    add(&a, "unix:%s/%s.qmp,server=on,wait=off", dir, name);
    add(&a, "-pidfile");
    add(&a, "%s/%s.pid", dir, name);
    add(&a, "-chardev");
    add(&a, "file,id=console0,path=%s/%s.console,append=on", dir, name);
    add(&a, "-serial");
    add(&a, "chardev:console0");
    if (config->kernel[0]) {
        add(&a, "-kernel");
        add(&a, "%s", config->kernel);
        if (config->initrd[0]) {
            add(&a, "-initrd");
            add(&a, "%s", config->initrd);
        }
        if (config->append[0]) {
            add(&a, "-append");
            add(&a, "%s", config->append);
        }
    } else {
        /* cache=none: the image is on shared storage and both hosts must
         * see the same bytes at switchover, not a page cache's. */
        _cleanup_free_ char *disk = escape_commas(config->disk);
        if (!disk)
            a.failed = true;
        else {
            add(&a, "-drive");
            add(&a, "file=%s,format=%s,if=virtio,cache=none", disk,
                ends_with(config->disk, ".qcow2") ? "qcow2" : "raw");
        }
    }
    for (size_t i = 0; i < config->n_adapters; i++) {
        const struct hypervisor_adapter *ad = &config->adapters[i];
        add(&a, "-netdev");
        add(&a, "tap,id=net%zu,ifname=%s,script=no,downscript=no", i, ad->tap);
        add(&a, "-device");
        add(&a, "%s,netdev=net%zu,mac=%s,id=nic%zu", ad->model, i, ad->mac, i);
    }
    /* Seccomp: no obsolete or privileged system calls, no exec, no
     * scheduler or resource changes.  With a user QEMU must itself call
     * setuid() after the filter is in (-runas), so set*uid stay allowed;
     * from then on it holds no capability, nothing to elevate to, and
     * spawn=deny rules out set-user-ID programs. */
    if (qemu->user[0]) {
        add(&a, "-runas");
        add(&a, "%s", qemu->user);
    }
    add(&a, "-sandbox");
    add(&a, "on,obsolete=deny,elevateprivileges=%s,spawn=deny,resourcecontrol=deny",
        qemu->user[0] ? "allow" : "deny");
    if (incoming) {
        add(&a, "-incoming");
        add(&a, "defer");
    }
    if (a.failed) {
        for (int i = 0; i < a.n; i++)
            free(a.v[i]);
        return -ENOMEM;
    }
    char **v = calloc((size_t)a.n + 1, sizeof(*v));
    if (!v) {
        for (int i = 0; i < a.n; i++)
            free(a.v[i]);
        return -ENOMEM;
    }
    memcpy(v, a.v, (size_t)a.n * sizeof(*v));
    *argv = v;
    return 0;
}

/* ---- processes ---- */

/* Starts ARGV in a session of its own, stdin from /dev/null, stdout and
 * stderr appended to LOG, no descriptor of ours inherited, default signal
 * dispositions.  Returns 0 and *pid, or a negative errno. */
static int spawn(char **argv, const char *log, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int r = posix_spawn_file_actions_init(&fa);
    if (r)
        return -r;
    r = posix_spawnattr_init(&attr);
    if (r) {
        posix_spawn_file_actions_destroy(&fa);
        return -r;
    }
    sigset_t all, none;
    sigfillset(&all);
    sigemptyset(&none);
    if (!r)
        r = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    if (!r)
        r = posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (!r)
        r = posix_spawn_file_actions_adddup2(&fa, 1, 2);
    if (!r)
        r = posix_spawn_file_actions_addclosefrom_np(&fa, 3);
    if (!r)
        r = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK |
                                                POSIX_SPAWN_SETSIGDEF);
    if (!r)
        r = posix_spawnattr_setsigmask(&attr, &none);
    if (!r)
        r = posix_spawnattr_setsigdefault(&attr, &all);
    if (!r)
        r = posix_spawnp(pid, argv[0], &fa, &attr, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    return -r;
}

/* True when PID exists and is not a zombie. */
static bool process_alive(pid_t pid)
{
    if (kill(pid, 0) < 0 && errno == ESRCH)
        return false;
    char path[64], state = '?';
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_fclose_ FILE *f = fopen(path, "r");
    if (!f)
        return false;
    /* "PID (COMM) STATE ...": COMM may hold spaces and parentheses, so the
     * state is the first field after the last ')'. */
    char line[512];
    if (!fgets(line, sizeof(line), f))
        return false;
    const char *close = strrchr(line, ')');
    if (close && close[1] == ' ')
        state = close[2];
    return state != 'Z' && state != 'X';
}

/* True once PID is gone (reaped when CHILD, its exit status in *STATUS). */
static bool process_gone(pid_t pid, bool child, int *status)
{
    if (child) {
        pid_t w;
        do
            w = waitpid(pid, status, WNOHANG);
        while (w < 0 && errno == EINTR);
        return w == pid || (w < 0 && errno == ECHILD);
    }
    /* Not ours to reap: a zombie counts as gone (its parent, or an init
     * that does not reap, keeps it). */
    return !process_alive(pid);
}

/* Waits up to TIMEOUT_MS for PID to end; SIGKILLs it after that.  Returns
 * true when it ended by itself. */
static bool process_end(pid_t pid, bool child, int timeout_ms, int *status)
{
    int64_t deadline = clock_mono_ms() + timeout_ms;
    while (clock_mono_ms() < deadline) {
        if (process_gone(pid, child, status))
            return true;
        clock_sleep_ms(10);
    }
    kill(pid, SIGKILL);
    for (int i = 0; i < 500 && !process_gone(pid, child, status); i++)
        clock_sleep_ms(10);
    return false;
}

/* The last non-empty line of PATH (QEMU's last words), in BUF. */
static void last_line(const char *path, char *buf, size_t size)
{
    buf[0] = '\0';
    _cleanup_fclose_ FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof(line), f)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0]) {
            size_t n = strnlen(line, size - 1);
            memcpy(buf, line, n);
            buf[n] = '\0';
        }
    }
}

/* ---- the accelerator ---- */

static bool file_contains(const char *path, const char *needle)
{
    _cleanup_fclose_ FILE *f = fopen(path, "r");
    if (!f)
        return false;
    char line[1024];
    while (fgets(line, sizeof(line), f))
        if (strstr(line, needle))
            return true;
    return false;
}

/* Boots KERNEL under KVM with no root file system: a kernel that gets
 * through early boot panics ("VFS: Unable to mount root fs"), reboots at
 * once (panic=-1) and QEMU exits (-no-reboot).  True when that happened
 * within the probe timeout. */
static bool kvm_boots_linux(const struct hypervisor_qemu_config *c, const char *kernel)
{
    int fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        log_info("qemu accelerator probe: /dev/kvm unusable, using tcg");
        return false;
    }
    close(fd);
    char console[160], log[160];
    snprintf(console, sizeof(console), "%s/kvm-probe.console", c->run_dir);
    snprintf(log, sizeof(log), "%s/kvm-probe.log", c->run_dir);
    unlink(console);
    char chardev[256];
    snprintf(chardev, sizeof(chardev), "file,id=console0,path=%s", console);
    /* Dropped and sandboxed like a VM's QEMU (see hypervisor_qemu_argv()). */
    char sandbox[96];
    snprintf(sandbox, sizeof(sandbox),
             "on,obsolete=deny,elevateprivileges=%s,spawn=deny,resourcecontrol=deny",
             c->user[0] ? "allow" : "deny");
    char *argv[] = { (char *)c->binary, "-no-user-config", "-nodefaults", "-display", "none",
                     "-machine", (char *)c->machine, "-accel", "kvm", "-m", "128",
                     "-kernel", (char *)kernel, "-append", "console=ttyS0 panic=-1",
                     "-no-reboot", "-chardev", chardev, "-serial", "chardev:console0",
                     "-sandbox", sandbox, c->user[0] ? "-runas" : NULL, (char *)c->user, NULL };
    pid_t pid;
    int r = spawn(argv, log, &pid);
    if (r < 0) {
        log_errno(LOG_LEVEL_WARNING, r, "qemu accelerator probe: cannot start %s", c->binary);
        return false;
    }
    int64_t start = clock_mono_ms();
    int status = 0;
    bool exited = process_end(pid, true, c->probe_timeout_ms, &status);
    bool ok = exited && WIFEXITED(status) && WEXITSTATUS(status) == 0 &&
              file_contains(console, "Kernel panic");
    log_info("qemu accelerator probe: %s kernel=%s elapsed_ms=%lld", ok ? "Linux boots under kvm"
             : "Linux does not boot under kvm (nested virtualization?), using tcg",
             kernel, (long long)(clock_mono_ms() - start));
    unlink(console);
    unlink(log);
    return ok;
}

enum hypervisor_accel hypervisor_qemu_accel(struct hypervisor *hv, const char *kernel)
{
    struct qemu_driver *d = (struct qemu_driver *)hv;
    pthread_mutex_lock(&d->lock);
    if (!d->decided) {
        const char *k = d->config.probe_kernel[0] ? d->config.probe_kernel : kernel;
        if (k && k[0]) {
            d->accel = kvm_boots_linux(&d->config, k) ? HYPERVISOR_ACCEL_KVM
                                                      : HYPERVISOR_ACCEL_TCG;
            d->decided = true;
        } else {
            /* Nothing to boot-test with: firmware alone proves nothing. */
            log_info("qemu accelerator: no kernel to test kvm with, using tcg for now");
            pthread_mutex_unlock(&d->lock);
            return HYPERVISOR_ACCEL_TCG;
        }
    }
    enum hypervisor_accel accel = d->accel;
    pthread_mutex_unlock(&d->lock);
    return accel;
}

/* ---- VMs ---- */

static int vm_paths(struct qemu_vm *vm, const char *dir, const char *name)
{
    int n = snprintf(vm->qmp_path, sizeof(vm->qmp_path), "%s/%s.qmp", dir, name);
    if (n < 0 || (size_t)n >= sizeof(vm->qmp_path))
        return -ENAMETOOLONG;
    snprintf(vm->pid_path, sizeof(vm->pid_path), "%s/%s.pid", dir, name);
    return 0;
}

/* True when a QEMU already answers on PATH. */
static bool socket_live(const char *path)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    return fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
}

static void vm_free(struct qemu_vm *vm)
{
    qmp_close(vm->qmp);
    free(vm);
}

/* Copies CONFIG into OUT with its kernel, initrd and disk resolved, each
 * checked against the image directories: whoever asks for a VM (the API,
 * a migration's source) must not make QEMU open any host file.  Returns 0
 * or -EPERM / the errno of resolving (logged). */
static int resolve_images(const struct qemu_driver *d, const struct hypervisor_vm_config *config,
                          struct hypervisor_vm_config *out)
{
    *out = *config;
    if (!d->config.image_dirs[0])
        return 0;
    struct {
        char *path;
        size_t size;
        const char *what;
    } files[] = {
        { out->kernel, sizeof(out->kernel), "kernel" },
        { out->initrd, sizeof(out->initrd), "initrd" },
        { out->disk, sizeof(out->disk), "disk" },
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        if (!files[i].path[0])
            continue;
        char real[PATH_MAX];
        int r = imagedir_check(d->config.image_dirs, files[i].path, real);
        if (r == -EPERM)
            return log_errno(LOG_LEVEL_ERROR, r,
                             "qemu: %s=%s (%s) refused: not inside image_dirs=%s vm=%s",
                             files[i].what, files[i].path, real, d->config.image_dirs,
                             config->name);
        if (r < 0)
            return log_errno(LOG_LEVEL_ERROR, r, "qemu: cannot resolve %s=%s vm=%s",
                             files[i].what, files[i].path, config->name);
        if (strlen(real) >= files[i].size)
            return log_errno(LOG_LEVEL_ERROR, ENAMETOOLONG, "qemu: %s=%s resolves too long vm=%s",
                             files[i].what, files[i].path, config->name);
        snprintf(files[i].path, files[i].size, "%s", real);
    }
    return 0;
}

/* Starts QEMU for CONFIG and connects to it.  Returns 0 and *out, or a
 * negative errno (logged). */
static int vm_spawn(struct qemu_driver *d, const struct hypervisor_vm_config *config,
                    bool incoming, struct qemu_vm **out)
{
    const char *name = config->name;
    int r = hypervisor_vm_config_check(config);
    if (r < 0)
        return r;
    struct qemu_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return -ENOMEM;
    vm->base.hypervisor = &d->base;
    snprintf(vm->base.name, sizeof(vm->base.name), "%s", name);
    vm->driver = d;
    r = vm_paths(vm, d->config.run_dir, name);
    if (r < 0) {
        free(vm);
        return log_errno(LOG_LEVEL_ERROR, r, "qemu: run_dir too long for vm=%s", name);
    }
    if (socket_live(vm->qmp_path)) {
        free(vm);
        return log_errno(LOG_LEVEL_ERROR, EEXIST, "qemu: a vm of that name runs vm=%s", name);
    }
    unlink(vm->qmp_path);
    unlink(vm->pid_path);

    struct hypervisor_vm_config resolved;
    r = resolve_images(d, config, &resolved);
    if (r < 0) {
        free(vm);
        return r;
    }
    config = &resolved;
    /* The guest's console, made private before QEMU opens it (QEMU would
     * make it with the agent's umask). */
    char console[160];
    snprintf(console, sizeof(console), "%s/%s.console", d->config.run_dir, name);
    int cfd = open(console, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (cfd >= 0)
        close(cfd);

    enum hypervisor_accel accel = hypervisor_qemu_accel(&d->base, config->kernel);
    char **argv = NULL;
    r = hypervisor_qemu_argv(&d->config, config, accel, incoming, &argv);
    if (r < 0) {
        free(vm);
        return r;
    }
    char log[160];
    snprintf(log, sizeof(log), "%s/%s.log", d->config.run_dir, name);
    r = spawn(argv, log, &vm->pid);
    hypervisor_qemu_argv_free(argv);
    if (r < 0) {
        free(vm);
        return log_errno(LOG_LEVEL_ERROR, r, "qemu: cannot start %s vm=%s", d->config.binary,
                         name);
    }
    vm->child = true;
    /* Its own cgroup before it has a second thread; a QEMU that cannot be
     * put there is not kept (it would die with the agent's unit). */
    r = vm_scope_add(d->scope, name, vm->pid);
    if (r < 0) {
        int status;
        kill(vm->pid, SIGKILL);
        process_end(vm->pid, true, 1000, &status);
        vm_scope_remove(d->scope, name);
        free(vm);
        return r;
    }

    int64_t deadline = clock_mono_ms() + d->config.start_timeout_ms;
    for (;;) {
        int status = 0;
        if (process_gone(vm->pid, true, &status)) {
            vm->reaped = true;
            char why[256];
            last_line(log, why, sizeof(why));
            log_error("qemu exited while starting vm=%s status=%d log=%s reason=\"%s\"", name,
                      WIFEXITED(status) ? WEXITSTATUS(status) : -1, log, why);
            vm_scope_remove(d->scope, name);
            free(vm);
            return -ECHILD;
        }
        r = qmp_connect(vm->qmp_path, 200, &vm->qmp);
        if (r == 0)
            break;
        if (r == -ECONNRESET && clock_mono_ms() < deadline)
            continue; /* QEMU closed during the greeting: did it exit? */
        if (r != -ETIMEDOUT || clock_mono_ms() >= deadline) {
            log_errno(LOG_LEVEL_ERROR, r, "qemu: no QMP answer vm=%s socket=%s", name,
                      vm->qmp_path);
            kill(vm->pid, SIGKILL);
            process_end(vm->pid, true, 1000, &status);
            vm_scope_remove(d->scope, name);
            free(vm);
            return r;
        }
    }
    qmp_set_timeout(vm->qmp, d->config.qmp_timeout_ms);
    log_info("qemu started vm=%s pid=%d accel=%s incoming=%s", name, (int)vm->pid,
             hypervisor_accel_to_string(accel), incoming ? "yes" : "no");
    *out = vm;
    return 0;
}

/* Logs QEMU's reason for refusing WHAT and returns R. */
static int qmp_failed(struct qemu_vm *vm, int r, const char *what)
{
    char why[256] = "";
    if (r == -EREMOTEIO || r == -EOPNOTSUPP)
        qmp_last_error(vm->qmp, why, sizeof(why));
    return log_errno(LOG_LEVEL_ERROR, r, "qemu: %s failed vm=%s%s%s%s", what, vm->base.name,
                     why[0] ? " reason=\"" : "", why, why[0] ? "\"" : "");
}

/* Sets the capabilities and parameters of OPTIONS; SOURCE adds what only
 * the sending side uses. */
static int apply_options(struct qemu_vm *vm, const struct hypervisor_migration_options *options,
                         bool source)
{
    static const struct hypervisor_migration_options defaults = {.downtime_limit_ms = -1,
                                                                 .channels = 1};
    const struct hypervisor_migration_options *o = options ? options : &defaults;
    if (o->channels > 255)
        return log_errno(LOG_LEVEL_ERROR, EINVAL, "qemu: at most 255 channels vm=%s",
                         vm->base.name);
    bool multifd = o->channels > 1;
    if (multifd && o->postcopy)
        return log_errno(LOG_LEVEL_ERROR, EINVAL,
                         "qemu: post-copy needs one channel (QEMU 7.2 cannot with multifd) vm=%s",
                         vm->base.name);
    struct qmp_capability_setting caps[5] = {
        {QMP_CAPABILITY_EVENTS, true},
        {QMP_CAPABILITY_MULTIFD, multifd},
        {QMP_CAPABILITY_POSTCOPY_RAM, o->postcopy},
    };
    size_t n_caps = 3;
    if (source) {
        caps[n_caps++] = (struct qmp_capability_setting){QMP_CAPABILITY_PAUSE_BEFORE_SWITCHOVER,
                                                         o->pause_before_switchover};
        caps[n_caps++] =
            (struct qmp_capability_setting){QMP_CAPABILITY_AUTO_CONVERGE, o->auto_converge};
    }
    int r = qmp_migrate_set_capabilities(vm->qmp, caps, n_caps);
    if (r < 0 && o->postcopy && !source)
        log_warning("qemu: post-copy needs userfaultfd on the destination: QEMU 7.2 running as "
                    "qemu_user cannot open it while vm.unprivileged_userfaultfd = 0 (set it to 1, "
                    "or qemu_user = none) vm=%s",
                    vm->base.name);
    if (r < 0)
        return qmp_failed(vm, r, "migrate-set-capabilities");
    struct qmp_migration_parameters params = {
        .downtime_limit_ms = source ? o->downtime_limit_ms : -1,
        .max_bandwidth = -1,
        .multifd_channels = multifd ? (int)o->channels : 0,
        /* The switches learn the VM's new port from its first announcement:
         * QEMU waits 50 ms by default, all of it blackout. */
        .announce_initial_ms = source ? 0 : 1,
    };
    if (source)
        params.max_bandwidth = (int64_t)(o->max_bandwidth && o->max_bandwidth < UNLIMITED_BANDWIDTH
                                             ? o->max_bandwidth
                                             : UNLIMITED_BANDWIDTH);
    r = qmp_migrate_set_parameters(vm->qmp, &params);
    if (r < 0)
        return qmp_failed(vm, r, "migrate-set-parameters");
    return 0;
}

static int vm_start(struct hypervisor *hv, const struct hypervisor_vm_config *config,
                    struct hypervisor_vm **out)
{
    struct qemu_vm *vm;
    int r = vm_spawn((struct qemu_driver *)hv, config, false, &vm);
    if (r < 0)
        return r;
    *out = &vm->base;
    return 0;
}

static int vm_migrate_incoming(struct hypervisor_vm *base, const char *uri,
                               const struct hypervisor_migration_options *options)
{
    struct qemu_vm *vm = (struct qemu_vm *)base;
    int r = apply_options(vm, options, false);
    if (r < 0)
        return r;
    r = qmp_migrate_incoming(vm->qmp, uri);
    if (r < 0)
        return qmp_failed(vm, r, "migrate-incoming");
    log_info("qemu waits for incoming state vm=%s uri=%s", vm->base.name, uri);
    return 0;
}

static int vm_start_incoming(struct hypervisor *hv, const struct hypervisor_vm_config *config,
                             const char *uri, const struct hypervisor_migration_options *options,
                             struct hypervisor_vm **out)
{
    struct qemu_vm *vm;
    int r = vm_spawn((struct qemu_driver *)hv, config, true, &vm);
    if (r < 0)
        return r;
    if (uri && strcmp(uri, "defer") != 0)
        r = vm_migrate_incoming(&vm->base, uri, options);
    else
        r = apply_options(vm, options, false);
    if (r < 0) {
        hypervisor_vm_destroy(&vm->base);
        return r;
    }
    *out = &vm->base;
    return 0;
}

static int vm_attach(struct hypervisor *hv, const char *name, struct hypervisor_vm **out)
{
    struct qemu_driver *d = (struct qemu_driver *)hv;
    struct qemu_vm *vm = calloc(1, sizeof(*vm));
    if (!vm)
        return -ENOMEM;
    vm->base.hypervisor = hv;
    snprintf(vm->base.name, sizeof(vm->base.name), "%s", name);
    vm->driver = d;
    int r = vm_paths(vm, d->config.run_dir, name);
    if (r == 0 && access(vm->qmp_path, F_OK) < 0)
        r = -ENOENT;
    _cleanup_fclose_ FILE *f = r == 0 ? fopen(vm->pid_path, "r") : NULL;
    int pid = 0;
    if (r == 0 && (!f || fscanf(f, "%d", &pid) != 1 || pid <= 0))
        r = -ENOENT;
    /* One look, no retries: qmp_connect() waits for a QEMU that is still
     * starting, but a QEMU that is gone (or a zombie nobody reaped) would
     * only make the agent's start wait for the whole timeout. */
    if (r == 0 && (!process_alive(pid) || !socket_live(vm->qmp_path))) {
        unlink(vm->qmp_path);
        unlink(vm->pid_path);
        r = -ENOENT;
    }
    if (r == 0)
        r = qmp_connect(vm->qmp_path, d->config.qmp_timeout_ms, &vm->qmp);
    if (r == -ECONNREFUSED || r == -ETIMEDOUT || r == -ECONNRESET) {
        /* A QEMU dying as we looked: gone all the same; its files too. */
        unlink(vm->qmp_path);
        unlink(vm->pid_path);
        r = -ENOENT;
    }
    if (r == -ENOENT)
        vm_scope_remove(d->scope, name); /* its QEMU is gone: so is its cgroup */
    if (r < 0) {
        vm_free(vm);
        return r;
    }
    qmp_set_timeout(vm->qmp, d->config.qmp_timeout_ms);
    vm->pid = (pid_t)pid;
    /* A QEMU outside its scope (started by an agent before scopes, or
     * under another vm_cgroup) is put there now; failing that it runs on
     * as it is: a running VM is not ended for it. */
    r = vm_scope_contains(d->scope, name, vm->pid);
    if (r == 0) {
        log_info("qemu: vm=%s pid=%d was not in its own cgroup, moving it", name, pid);
        r = vm_scope_add(d->scope, name, vm->pid);
    }
    if (r < 0)
        log_errno(LOG_LEVEL_WARNING, r, "qemu: vm=%s pid=%d stays outside its own cgroup", name,
                  pid);
    log_info("qemu attached vm=%s pid=%d", name, pid);
    *out = &vm->base;
    return 0;
}

static enum hypervisor_vm_state state_of(enum qmp_run_state s)
{
    switch (s) {
    case QMP_RUN_STATE_RUNNING: return HYPERVISOR_VM_RUNNING;
    case QMP_RUN_STATE_INMIGRATE: return HYPERVISOR_VM_INCOMING;
    case QMP_RUN_STATE_POSTMIGRATE: return HYPERVISOR_VM_MIGRATED;
    case QMP_RUN_STATE_SHUTDOWN: return HYPERVISOR_VM_SHUTDOWN;
    case QMP_RUN_STATE_INTERNAL_ERROR:
    case QMP_RUN_STATE_IO_ERROR:
    case QMP_RUN_STATE_GUEST_PANICKED:
    case QMP_RUN_STATE_WATCHDOG: return HYPERVISOR_VM_FAILED;
    default: return HYPERVISOR_VM_PAUSED;
    }
}

static int vm_query(struct hypervisor_vm *base, struct hypervisor_vm_status *out)
{
    struct qemu_vm *vm = (struct qemu_vm *)base;
    out->pid = vm->pid;
    struct qmp_status st;
    int r = qmp_query_status(vm->qmp, &st);
    if (r == -ECONNRESET) {
        out->state = HYPERVISOR_VM_EXITED;
        return 0;
    }
    if (r < 0)
        return qmp_failed(vm, r, "query-status");
    out->state = state_of(st.state);
    return 0;
}

static int vm_stop(struct hypervisor_vm *base)
{
    struct qemu_vm *vm = (struct qemu_vm *)base;
    int r = qmp_stop(vm->qmp);
    return r < 0 ? qmp_failed(vm, r, "stop") : 0;
}

static int vm_resume(struct hypervisor_vm *base)
{
    struct qemu_vm *vm = (struct qemu_vm *)base;
    int r = qmp_cont(vm->qmp);
    return r < 0 ? qmp_failed(vm, r, "cont") : 0;
}

static void vm_destroy(struct hypervisor_vm *base)
{
    struct qemu_vm *vm = (struct qemu_vm *)base;
    int grace = vm->driver->config.quit_timeout_ms;
    if (!vm->reaped && vm->pid > 0) {
        qmp_set_timeout(vm->qmp, grace);
        int r = qmp_quit(vm->qmp);
        if (r < 0)
            log_errno(LOG_LEVEL_WARNING, r, "qemu: quit not answered, killing vm=%s pid=%d",
                      vm->base.name, (int)vm->pid);
        int status;
        if (!process_end(vm->pid, vm->child, r < 0 ? 0 : grace, &status)) {
            log_warning("qemu killed vm=%s pid=%d", vm->base.name, (int)vm->pid);
            /* Whatever else is left in its cgroup goes too. */
            vm_scope_kill(vm->driver->scope, vm->base.name);
        }
    }
    vm_scope_remove(vm->driver->scope, vm->base.name);
    unlink(vm->qmp_path);
    unlink(vm->pid_path);
    log_info("qemu ended vm=%s", vm->base.name);
    vm_free(vm);
}

static void vm_detach(struct hypervisor_vm *base)
{
    struct qemu_vm *vm = (struct qemu_vm *)base;
    log_info("qemu left running vm=%s pid=%d", vm->base.name, (int)vm->pid);
    vm_free(vm);
}

/* QEMU before 9.0 can lose a TCG guest's memory writes made during a live
 * migration: its dirty bitmap sync clears dirty bits without making TCG
 * track the next writes to those pages (fixed upstream by "physmem: Fix
 * migration dirty bitmap coherency with TCG memory access").  Seen here as
 * a guest whose virtio ring arrived inconsistent after a move made while it
 * wrote memory at full speed.  The agent cannot mend that; it says so. */
static void warn_if_tcg_live(struct qemu_vm *vm)
{
    int major, minor, micro;
    qmp_version(vm->qmp, &major, &minor, &micro);
    if (major >= 9)
        return;
    bool kvm = true;
    struct qmp_status st;
    if (qmp_query_kvm(vm->qmp, &kvm) < 0 || kvm || qmp_query_status(vm->qmp, &st) < 0 ||
        !st.running)
        return;
    log_warning("qemu: live migration under tcg with QEMU %d.%d may lose memory the guest "
                "writes during it (fixed in QEMU 9.0; kvm and quick moves are not affected) vm=%s",
                major, minor, vm->base.name);
}

static int vm_migrate(struct hypervisor_vm *base, const char *uri,
                      const struct hypervisor_migration_options *options)
{
    struct qemu_vm *vm = (struct qemu_vm *)base;
    int r = apply_options(vm, options, true);
    if (r < 0)
        return r;
    warn_if_tcg_live(vm);
    r = qmp_migrate(vm->qmp, uri);
    if (r < 0)
        return qmp_failed(vm, r, "migrate");
    log_info("qemu migration started vm=%s uri=%s channels=%u", vm->base.name, uri,
             options && options->channels > 1 ? options->channels : 1);
    return 0;
}

static int vm_pass_fd(struct hypervisor_vm *base, const char *name, int fd)
{
    struct qemu_vm *vm = (struct qemu_vm *)base;
    int r = qmp_getfd(vm->qmp, name, fd);
    if (r < 0)
        return qmp_failed(vm, r, "getfd");
    return 0;
}

static enum hypervisor_migration_status status_of(enum qmp_migration_status s)
{
    switch (s) {
    case QMP_MIGRATION_NONE: return HYPERVISOR_MIGRATION_NONE;
    case QMP_MIGRATION_SETUP: return HYPERVISOR_MIGRATION_SETUP;
    case QMP_MIGRATION_PRE_SWITCHOVER: return HYPERVISOR_MIGRATION_PRE_SWITCHOVER;
    case QMP_MIGRATION_DEVICE: return HYPERVISOR_MIGRATION_DEVICE;
    case QMP_MIGRATION_COMPLETED: return HYPERVISOR_MIGRATION_COMPLETED;
    case QMP_MIGRATION_FAILED: return HYPERVISOR_MIGRATION_FAILED;
    case QMP_MIGRATION_CANCELLING: return HYPERVISOR_MIGRATION_CANCELLING;
    case QMP_MIGRATION_CANCELLED: return HYPERVISOR_MIGRATION_CANCELLED;
    case QMP_MIGRATION_POSTCOPY_ACTIVE: return HYPERVISOR_MIGRATION_POSTCOPY_ACTIVE;
    /* Post-copy lost its stream; lmnet does not recover it (QEMU's
     * migrate-recover): the move has failed. */
    case QMP_MIGRATION_POSTCOPY_PAUSED: return HYPERVISOR_MIGRATION_FAILED;
    default: return HYPERVISOR_MIGRATION_ACTIVE; /* active, postcopy, wait-unplug, ... */
    }
}

static int vm_migration_progress(struct hypervisor_vm *base,
                                 struct hypervisor_migration_progress *out)
{
    struct qemu_vm *vm = (struct qemu_vm *)base;
    struct qmp_migration_info info;
    int r = qmp_query_migrate(vm->qmp, &info);
    if (r < 0)
        return qmp_failed(vm, r, "query-migrate");
    memset(out, 0, sizeof(*out));
    out->status = status_of(info.status);
    out->bytes_transferred = info.ram_transferred;
    out->bytes_remaining = info.ram_remaining;
    out->bytes_total = info.ram_total;
    out->pages_transferred = info.ram_normal;
    out->dirty_pages_rate = info.dirty_pages_rate;
    out->page_size = info.page_size;
    out->rounds = info.dirty_sync_count;
    out->mbps = info.mbps;
    out->total_time_ms = info.total_time_ms;
    out->setup_time_ms = info.setup_time_ms;
    out->expected_downtime_ms = info.expected_downtime_ms;
    out->downtime_ms = info.downtime_ms;
    out->cpu_throttle_percent = info.cpu_throttle_percentage;
    snprintf(out->error, sizeof(out->error), "%s", info.error_desc);
    return 0;
}

static int vm_migration_wait(struct hypervisor_vm *base, int timeout_ms,
                             enum hypervisor_migration_status *status)
{
    struct qemu_vm *vm = (struct qemu_vm *)base;
    int64_t deadline = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    for (;;) {
        /* Events only wake us early; query-migrate is the truth (an event
         * may be stale, or lost if the queue overflowed). */
        struct qmp_event ev;
        int left = (int)(deadline - clock_mono_ms());
        int r = qmp_next_event(vm->qmp, left > 0 ? left : 0, &ev);
        if (r < 0 && r != -ETIMEDOUT)
            return r == -ECONNRESET ? r : qmp_failed(vm, r, "waiting for events");
        if (r == 0 && (ev.type != QMP_EVENT_MIGRATION ||
                       !hypervisor_migration_status_waits(status_of(ev.migration_status))))
            continue;
        struct qmp_migration_info info;
        r = qmp_query_migrate(vm->qmp, &info);
        if (r < 0)
            return r == -ECONNRESET ? r : qmp_failed(vm, r, "query-migrate");
        *status = status_of(info.status);
        if (hypervisor_migration_status_waits(*status) || clock_mono_ms() >= deadline)
            return 0;
    }
}

static int vm_migration_continue(struct hypervisor_vm *base)
{
    struct qemu_vm *vm = (struct qemu_vm *)base;
    int r = qmp_migrate_continue(vm->qmp, QMP_MIGRATION_PRE_SWITCHOVER);
    return r < 0 ? qmp_failed(vm, r, "migrate-continue") : 0;
}

static int vm_migration_set_downtime(struct hypervisor_vm *base, int64_t downtime_ms)
{
    struct qemu_vm *vm = (struct qemu_vm *)base;
    struct qmp_migration_parameters params = {
        .downtime_limit_ms = downtime_ms,
        .max_bandwidth = -1,
    };
    int r = qmp_migrate_set_parameters(vm->qmp, &params);
    return r < 0 ? qmp_failed(vm, r, "migrate-set-parameters downtime-limit") : 0;
}

static int vm_migration_start_postcopy(struct hypervisor_vm *base)
{
    struct qemu_vm *vm = (struct qemu_vm *)base;
    int r = qmp_migrate_start_postcopy(vm->qmp);
    if (r < 0)
        return qmp_failed(vm, r, "migrate-start-postcopy");
    log_info("qemu migration switches to post-copy at switchover vm=%s", vm->base.name);
    return 0;
}

static int vm_migration_cancel(struct hypervisor_vm *base)
{
    struct qemu_vm *vm = (struct qemu_vm *)base;
    int r = qmp_migrate_cancel(vm->qmp);
    if (r < 0)
        return qmp_failed(vm, r, "migrate_cancel");
    log_info("qemu migration cancelled vm=%s", vm->base.name);
    return 0;
}

static int vm_announce(struct hypervisor_vm *base)
{
    struct qemu_vm *vm = (struct qemu_vm *)base;
    int r = qmp_announce_self(vm->qmp, NULL);
    return r < 0 ? qmp_failed(vm, r, "announce-self") : 0;
}

static const struct hypervisor_ops qemu_ops = {
    .name = "qemu",
    .destroy = driver_destroy,
    .vm_start = vm_start,
    .vm_start_incoming = vm_start_incoming,
    .vm_attach = vm_attach,
    .vm_migrate_incoming = vm_migrate_incoming,
    .vm_query = vm_query,
    .vm_stop = vm_stop,
    .vm_resume = vm_resume,
    .vm_destroy = vm_destroy,
    .vm_detach = vm_detach,
    .vm_migrate = vm_migrate,
    .vm_pass_fd = vm_pass_fd,
    .vm_migration_progress = vm_migration_progress,
    .vm_migration_wait = vm_migration_wait,
    .vm_migration_continue = vm_migration_continue,
    .vm_migration_cancel = vm_migration_cancel,
    .vm_announce = vm_announce,
    .vm_migration_set_downtime = vm_migration_set_downtime,
    .vm_migration_start_postcopy = vm_migration_start_postcopy,
};
