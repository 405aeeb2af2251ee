/* QMP over a unix socket; the design is in hypervisor/qmp.h.
 *
 * The socket is non-blocking and every wait is a poll() bounded by the
 * call's deadline.  Received bytes accumulate in one buffer; each complete
 * line is one JSON message.  A message is an event (queued), a reply with
 * our id (returned to the call) or anything else (a stale reply: dropped).
 *
 * Ownership: struct qmp owns the socket, the receive buffer and the event
 * queue, all guarded by qmp->lock. */
#include "hypervisor/qmp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <json-c/json.h>
#include "base/cleanup.h"
#include "base/clock.h"
#include "base/log.h"

#define QMP_EVENT_QUEUE 128
#define QMP_MAX_MESSAGE (4 << 20) /* the longest line we accept from QEMU */
#define QMP_CONNECT_RETRY_MS 20
#define QMP_TOTALS_WAIT_MS 1000 /* how long a completed migration's totals may lag */
#define QMP_TOTALS_RETRY_MS 2

struct qmp {
    pthread_mutex_t lock;
    int fd;
    int timeout_ms;
    int dead; /* 0, or the negative errno every call now fails with */
    uint64_t next_id;
    char *buf;
    size_t len, cap;
    struct qmp_event events[QMP_EVENT_QUEUE];
    size_t event_head, event_count;
    uint64_t events_dropped;
    int version[3];
    char error[512];
};

static const char *const run_state_names[QMP_RUN_STATE_COUNT] = {
    [QMP_RUN_STATE_UNKNOWN] = "unknown",
    [QMP_RUN_STATE_DEBUG] = "debug",
    [QMP_RUN_STATE_INMIGRATE] = "inmigrate",
    [QMP_RUN_STATE_INTERNAL_ERROR] = "internal-error",
    [QMP_RUN_STATE_IO_ERROR] = "io-error",
    [QMP_RUN_STATE_PAUSED] = "paused",
    [QMP_RUN_STATE_POSTMIGRATE] = "postmigrate",
    [QMP_RUN_STATE_PRELAUNCH] = "prelaunch",
    [QMP_RUN_STATE_FINISH_MIGRATE] = "finish-migrate",
    [QMP_RUN_STATE_RESTORE_VM] = "restore-vm",
    [QMP_RUN_STATE_RUNNING] = "running",
    [QMP_RUN_STATE_SAVE_VM] = "save-vm",
    [QMP_RUN_STATE_SHUTDOWN] = "shutdown",
    [QMP_RUN_STATE_SUSPENDED] = "suspended",
    [QMP_RUN_STATE_WATCHDOG] = "watchdog",
    [QMP_RUN_STATE_GUEST_PANICKED] = "guest-panicked",
    [QMP_RUN_STATE_COLO] = "colo",
};

static const char *const migration_status_names[QMP_MIGRATION_STATUS_COUNT] = {
    [QMP_MIGRATION_UNKNOWN] = "unknown",
    [QMP_MIGRATION_NONE] = "none",
    [QMP_MIGRATION_SETUP] = "setup",
    [QMP_MIGRATION_CANCELLING] = "cancelling",
    [QMP_MIGRATION_CANCELLED] = "cancelled",
    [QMP_MIGRATION_ACTIVE] = "active",
    [QMP_MIGRATION_POSTCOPY_ACTIVE] = "postcopy-active",
    [QMP_MIGRATION_POSTCOPY_PAUSED] = "postcopy-paused",
    [QMP_MIGRATION_POSTCOPY_RECOVER] = "postcopy-recover",
    [QMP_MIGRATION_COMPLETED] = "completed",
    [QMP_MIGRATION_FAILED] = "failed",
    [QMP_MIGRATION_COLO] = "colo",
    [QMP_MIGRATION_PRE_SWITCHOVER] = "pre-switchover",
    [QMP_MIGRATION_DEVICE] = "device",
    [QMP_MIGRATION_WAIT_UNPLUG] = "wait-unplug",
};

static const char *const capability_names[QMP_CAPABILITY_COUNT] = {
    [QMP_CAPABILITY_XBZRLE] = "xbzrle",
    [QMP_CAPABILITY_AUTO_CONVERGE] = "auto-converge",
    [QMP_CAPABILITY_EVENTS] = "events",
    [QMP_CAPABILITY_POSTCOPY_RAM] = "postcopy-ram",
    [QMP_CAPABILITY_RETURN_PATH] = "return-path",
    [QMP_CAPABILITY_PAUSE_BEFORE_SWITCHOVER] = "pause-before-switchover",
    [QMP_CAPABILITY_MULTIFD] = "multifd",
    [QMP_CAPABILITY_VALIDATE_UUID] = "validate-uuid",
    [QMP_CAPABILITY_ZERO_COPY_SEND] = "zero-copy-send",
};

const char *qmp_run_state_to_string(enum qmp_run_state state)
{
    if ((unsigned)state >= QMP_RUN_STATE_COUNT)
        return "unknown";
    return run_state_names[state];
}

enum qmp_run_state qmp_run_state_from_string(const char *name)
{
    for (int i = 1; name && i < QMP_RUN_STATE_COUNT; i++)
        if (strcmp(name, run_state_names[i]) == 0)
            return (enum qmp_run_state)i;
    return QMP_RUN_STATE_UNKNOWN;
}

const char *qmp_migration_status_to_string(enum qmp_migration_status status)
{
    if ((unsigned)status >= QMP_MIGRATION_STATUS_COUNT)
        return "unknown";
    return migration_status_names[status];
}

enum qmp_migration_status qmp_migration_status_from_string(const char *name)
{
    for (int i = 1; name && i < QMP_MIGRATION_STATUS_COUNT; i++)
        if (strcmp(name, migration_status_names[i]) == 0)
            return (enum qmp_migration_status)i;
    return QMP_MIGRATION_UNKNOWN;
}

const char *qmp_migration_capability_to_string(enum qmp_migration_capability capability)
{
    if ((unsigned)capability >= QMP_CAPABILITY_COUNT)
        return "unknown";
    return capability_names[capability];
}

/* Milliseconds left before DEADLINE, never negative. */
static int remaining_ms(int64_t deadline)
{
    int64_t left = deadline - clock_mono_ms();
    if (left < 0)
        return 0;
    return left > INT32_MAX ? INT32_MAX : (int)left;
}

/* Marks the connection broken: every later call returns ERR. */
static int fail(struct qmp *qmp, int err)
{
    if (!qmp->dead)
        qmp->dead = err;
    return err;
}

/* Waits for EVENTS on the socket until DEADLINE.  Returns 0, -ETIMEDOUT or a
 * negative errno. */
static int wait_fd(struct qmp *qmp, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = { .fd = qmp->fd, .events = events };
        int r = poll(&pfd, 1, remaining_ms(deadline));
        if (r > 0)
            return 0;
        if (r == 0)
            return -ETIMEDOUT;
        if (errno != EINTR)
            return -errno;
    }
}

static int send_all(struct qmp *qmp, const char *data, size_t len, int64_t deadline)
{
    while (len > 0) {
        ssize_t n = send(qmp->fd, data, len, MSG_NOSIGNAL);
        if (n >= 0) {
            data += n;
            len -= (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EPIPE || errno == ECONNRESET)
            return fail(qmp, -ECONNRESET);
        if (errno != EAGAIN)
            return fail(qmp, -errno);
        int r = wait_fd(qmp, POLLOUT, deadline);
        if (r < 0)
            return r == -ETIMEDOUT ? r : fail(qmp, r);
    }
    return 0;
}

/* Sends the start of DATA (LEN bytes) with FD attached (SCM_RIGHTS): QEMU
 * keeps a descriptor that arrives with a command's bytes for that command.
 * Returns how many bytes went (at least one), or a negative errno. */
static int send_with_fd(struct qmp *qmp, const char *data, size_t len, int fd, int64_t deadline)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct iovec iov = { .iov_base = (void *)data, .iov_len = len };
    struct msghdr msg = {
        .msg_iov = &iov,
        .msg_iovlen = 1,
        .msg_control = control.buf,
        .msg_controllen = sizeof(control.buf),
    };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    for (;;) {
        ssize_t n = sendmsg(qmp->fd, &msg, MSG_NOSIGNAL);
        if (n > 0)
            return (int)n;
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EPIPE || errno == ECONNRESET))
            return fail(qmp, -ECONNRESET);
        if (n < 0 && errno != EAGAIN)
            return fail(qmp, -errno);
        int r = wait_fd(qmp, POLLOUT, deadline);
        if (r < 0)
            return r == -ETIMEDOUT ? r : fail(qmp, r);
    }
}

/* Reads more bytes into the buffer, waiting until DEADLINE.  Returns 0,
 * -ETIMEDOUT, -ECONNRESET at end of stream, or a negative errno. */
static int fill(struct qmp *qmp, int64_t deadline)
{
    if (qmp->cap - qmp->len < 4096) {
        if (qmp->cap >= QMP_MAX_MESSAGE)
            return fail(qmp, -EPROTO);
        size_t cap = qmp->cap ? qmp->cap * 2 : 16384;
        char *buf = realloc(qmp->buf, cap);
        if (!buf)
            return -ENOMEM;
        qmp->buf = buf;
        qmp->cap = cap;
    }
    for (;;) {
        ssize_t n = recv(qmp->fd, qmp->buf + qmp->len, qmp->cap - qmp->len - 1, 0);
        if (n > 0) {
            qmp->len += (size_t)n;
            return 0;
        }
        if (n == 0)
            return fail(qmp, -ECONNRESET);
        if (errno == EINTR)
            continue;
        if (errno == ECONNRESET)
            return fail(qmp, -ECONNRESET);
        if (errno != EAGAIN)
            return fail(qmp, -errno);
        int r = wait_fd(qmp, POLLIN, deadline);
        if (r < 0)
            return r == -ETIMEDOUT ? r : fail(qmp, r);
    }
}

/* Reads the next message (a JSON object on one line).  Returns 0 and *out
 * (the caller's), -ETIMEDOUT, or a negative errno. */
static int read_message(struct qmp *qmp, int64_t deadline, struct json_object **out)
{
    for (;;) {
        char *nl = qmp->buf ? memchr(qmp->buf, '\n', qmp->len) : NULL;
        if (!nl) {
            int r = fill(qmp, deadline);
            if (r < 0)
                return r;
            continue;
        }
        size_t line = (size_t)(nl - qmp->buf);
        *nl = '\0';
        const char *text = qmp->buf;
        while (*text == ' ' || *text == '\t' || *text == '\r')
            text++;
        /* Decided before the memmove, which moves the next line under TEXT;
         * a NUL inside the line makes it no JSON text, not a shorter one. */
        bool empty = text == nl;
        struct json_object *obj = NULL;
        if (!empty && !memchr(text, '\0', (size_t)(nl - text)))
            obj = json_tokener_parse(text);
        memmove(qmp->buf, qmp->buf + line + 1, qmp->len - line - 1);
        qmp->len -= line + 1;
        if (empty)
            continue;
        if (!obj || !json_object_is_type(obj, json_type_object)) {
            json_object_put(obj);
            return fail(qmp, -EPROTO);
        }
        *out = obj;
        return 0;
    }
}

/* QEMU's SECONDS and MICROSECONDS as microseconds, or 0 (unknown) when they
 * are negative, out of range or do not fit in an int64. */
static int64_t timestamp_us(int64_t seconds, int64_t microseconds)
{
    if (seconds < 0 || seconds > (INT64_MAX - 999999) / 1000000 || microseconds < 0 ||
        microseconds > 999999)
        return 0;
    return seconds * 1000000 + microseconds;
}

static void queue_event(struct qmp *qmp, struct json_object *message)
{
    struct qmp_event ev = { .type = QMP_EVENT_OTHER, .pass = -1 };
    struct json_object *name, *data, *ts, *field;
    if (json_object_object_get_ex(message, "event", &name))
        snprintf(ev.name, sizeof(ev.name), "%s", json_object_get_string(name));
    if (json_object_object_get_ex(message, "timestamp", &ts)) {
        struct json_object *sec, *usec;
        if (json_object_object_get_ex(ts, "seconds", &sec) &&
            json_object_object_get_ex(ts, "microseconds", &usec))
            ev.timestamp_us = timestamp_us(json_object_get_int64(sec), json_object_get_int64(usec));
    }
    bool has_data = json_object_object_get_ex(message, "data", &data);
    if (strcmp(ev.name, "MIGRATION") == 0) {
        ev.type = QMP_EVENT_MIGRATION;
        ev.migration_status = QMP_MIGRATION_UNKNOWN;
        if (has_data && json_object_object_get_ex(data, "status", &field))
            ev.migration_status = qmp_migration_status_from_string(json_object_get_string(field));
    } else if (strcmp(ev.name, "MIGRATION_PASS") == 0) {
        ev.type = QMP_EVENT_MIGRATION_PASS;
        if (has_data && json_object_object_get_ex(data, "pass", &field))
            ev.pass = json_object_get_int64(field);
    } else if (strcmp(ev.name, "STOP") == 0) {
        ev.type = QMP_EVENT_STOP;
    } else if (strcmp(ev.name, "RESUME") == 0) {
        ev.type = QMP_EVENT_RESUME;
    } else if (strcmp(ev.name, "SHUTDOWN") == 0) {
        ev.type = QMP_EVENT_SHUTDOWN;
    }
    if (qmp->event_count == QMP_EVENT_QUEUE) {
        qmp->event_head = (qmp->event_head + 1) % QMP_EVENT_QUEUE;
        qmp->event_count--;
        if (qmp->events_dropped++ == 0)
            log_warning("qmp event queue full, dropping the oldest events queue=%d",
                        QMP_EVENT_QUEUE);
    }
    qmp->events[(qmp->event_head + qmp->event_count) % QMP_EVENT_QUEUE] = ev;
    qmp->event_count++;
}

/* Handles one message that is not the reply being waited for.  Returns 1
 * when it is the reply with ID (left in *message), else 0 (consumed). */
static int route_message(struct qmp *qmp, struct json_object **message, uint64_t id)
{
    struct json_object *field;
    if (json_object_object_get_ex(*message, "event", &field)) {
        queue_event(qmp, *message);
    } else if (json_object_object_get_ex(*message, "id", &field) &&
               json_object_is_type(field, json_type_int) &&
               (uint64_t)json_object_get_int64(field) == id && id != 0) {
        return 1;
    } else {
        log_debug("qmp dropped a stale message id_wanted=%llu", (unsigned long long)id);
    }
    json_object_put(*message);
    *message = NULL;
    return 0;
}

static void set_error(struct qmp *qmp, struct json_object *error)
{
    struct json_object *cls = NULL, *desc = NULL;
    json_object_object_get_ex(error, "class", &cls);
    json_object_object_get_ex(error, "desc", &desc);
    snprintf(qmp->error, sizeof(qmp->error), "%s: %s",
             cls ? json_object_get_string(cls) : "Error",
             desc ? json_object_get_string(desc) : "(no description)");
}

/* Sends COMMAND with ARGUMENTS (consumed; may be NULL), and the file
 * descriptor PASS_FD along with it when it is not -1, and waits for its
 * reply.  Returns 0 and, when RET is not NULL, the "return" value in *ret
 * (the caller's); or a negative errno.  Called with the lock held. */
static int execute_locked(struct qmp *qmp, const char *command, struct json_object *arguments,
                          int pass_fd, struct json_object **ret)
{
    _cleanup_json_ struct json_object *args = arguments;
    if (qmp->dead)
        return qmp->dead;
    int64_t deadline = clock_mono_ms() + qmp->timeout_ms;
    uint64_t id = ++qmp->next_id;

    _cleanup_json_ struct json_object *request = json_object_new_object();
    if (!request)
        return -ENOMEM;
    json_object_object_add(request, "execute", json_object_new_string(command));
    if (args)
        json_object_object_add(request, "arguments", json_object_get(args));
    json_object_object_add(request, "id", json_object_new_int64((int64_t)id));
    size_t len;
    const char *text = json_object_to_json_string_length(request, JSON_C_TO_STRING_PLAIN, &len);
    _cleanup_free_ char *line = malloc(len + 2);
    if (!line)
        return -ENOMEM;
    memcpy(line, text, len);
    line[len] = '\n';
    size_t sent = 0;
    if (pass_fd >= 0) {
        int r = send_with_fd(qmp, line, len + 1, pass_fd, deadline);
        if (r < 0)
            return r;
        sent = (size_t)r;
    }
    int r = send_all(qmp, line + sent, len + 1 - sent, deadline);
    if (r < 0)
        return r;

    _cleanup_json_ struct json_object *reply = NULL;
    for (;;) {
        r = read_message(qmp, deadline, &reply);
        if (r < 0)
            return r;
        if (route_message(qmp, &reply, id))
            break;
    }
    struct json_object *field;
    if (json_object_object_get_ex(reply, "error", &field)) {
        set_error(qmp, field);
        struct json_object *cls;
        if (json_object_object_get_ex(field, "class", &cls) &&
            strcmp(json_object_get_string(cls), "CommandNotFound") == 0)
            return -EOPNOTSUPP;
        return -EREMOTEIO;
    }
    if (!json_object_object_get_ex(reply, "return", &field))
        return fail(qmp, -EPROTO);
    if (ret)
        *ret = json_object_get(field);
    return 0;
}

static int execute(struct qmp *qmp, const char *command, struct json_object *arguments,
                   struct json_object **ret)
{
    pthread_mutex_lock(&qmp->lock);
    int r = execute_locked(qmp, command, arguments, -1, ret);
    pthread_mutex_unlock(&qmp->lock);
    return r;
}

/* Reads the greeting and negotiates capabilities. */
static int handshake(struct qmp *qmp)
{
    int64_t deadline = clock_mono_ms() + qmp->timeout_ms;
    _cleanup_json_ struct json_object *greeting = NULL;
    struct json_object *qmp_obj, *version, *qemu, *field;
    int r = read_message(qmp, deadline, &greeting);
    if (r < 0)
        return r;
    if (!json_object_object_get_ex(greeting, "QMP", &qmp_obj) ||
        !json_object_is_type(qmp_obj, json_type_object))
        return fail(qmp, -EPROTO);
    if (json_object_object_get_ex(qmp_obj, "version", &version) &&
        json_object_object_get_ex(version, "qemu", &qemu)) {
        static const char *const parts[3] = { "major", "minor", "micro" };
        for (int i = 0; i < 3; i++)
            if (json_object_object_get_ex(qemu, parts[i], &field))
                qmp->version[i] = json_object_get_int(field);
    }
    return execute_locked(qmp, "qmp_capabilities", NULL, -1, NULL);
}

int qmp_open(int fd, int timeout_ms, struct qmp **out)
{
    _cleanup_close_ int owned = fd;
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    struct qmp *qmp = calloc(1, sizeof(*qmp));
    if (!qmp)
        return -ENOMEM;
    pthread_mutex_init(&qmp->lock, NULL);
    qmp->fd = steal_fd(&owned);
    qmp->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    int r = handshake(qmp);
    if (r < 0) {
        qmp_close(qmp);
        return r;
    }
    *out = qmp;
    return 0;
}

int qmp_connect(const char *path, int timeout_ms, struct qmp **out)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int64_t deadline = clock_mono_ms() + timeout_ms;
    for (;;) {
        _cleanup_close_ int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0)
            return -errno;
        if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
            return qmp_open(steal_fd(&fd), remaining_ms(deadline), out);
        int err = errno;
        if (err != ENOENT && err != ECONNREFUSED && err != EINTR)
            return -err;
        if (clock_mono_ms() >= deadline)
            return -ETIMEDOUT;
        clock_sleep_ms(QMP_CONNECT_RETRY_MS);
    }
}

void qmp_close(struct qmp *qmp)
{
    if (!qmp)
        return;
    if (qmp->fd >= 0)
        close(qmp->fd);
    pthread_mutex_destroy(&qmp->lock);
    free(qmp->buf);
    free(qmp);
}

void qmp_set_timeout(struct qmp *qmp, int timeout_ms)
{
    pthread_mutex_lock(&qmp->lock);
    qmp->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    pthread_mutex_unlock(&qmp->lock);
}

void qmp_version(const struct qmp *qmp, int *major, int *minor, int *micro)
{
    *major = qmp->version[0];
    *minor = qmp->version[1];
    *micro = qmp->version[2];
}

void qmp_last_error(struct qmp *qmp, char *buf, size_t size)
{
    pthread_mutex_lock(&qmp->lock);
    snprintf(buf, size, "%s", qmp->error);
    pthread_mutex_unlock(&qmp->lock);
}

int qmp_query_status(struct qmp *qmp, struct qmp_status *out)
{
    _cleanup_json_ struct json_object *ret = NULL;
    int r = execute(qmp, "query-status", NULL, &ret);
    if (r < 0)
        return r;
    struct json_object *running, *status;
    if (!json_object_object_get_ex(ret, "running", &running) ||
        !json_object_object_get_ex(ret, "status", &status))
        return -EPROTO;
    out->running = json_object_get_boolean(running);
    out->state = qmp_run_state_from_string(json_object_get_string(status));
    return 0;
}

int qmp_query_kvm(struct qmp *qmp, bool *enabled)
{
    _cleanup_json_ struct json_object *ret = NULL;
    int r = execute(qmp, "query-kvm", NULL, &ret);
    if (r < 0)
        return r;
    struct json_object *field;
    if (!json_object_object_get_ex(ret, "enabled", &field) ||
        !json_object_is_type(field, json_type_boolean))
        return -EPROTO;
    *enabled = json_object_get_boolean(field);
    return 0;
}

int qmp_stop(struct qmp *qmp)
{
    return execute(qmp, "stop", NULL, NULL);
}

int qmp_cont(struct qmp *qmp)
{
    return execute(qmp, "cont", NULL, NULL);
}

int qmp_quit(struct qmp *qmp)
{
    pthread_mutex_lock(&qmp->lock);
    int r = execute_locked(qmp, "quit", NULL, -1, NULL);
    if (r == 0 || r == -ECONNRESET) {
        fail(qmp, -ECONNRESET);
        r = 0;
    }
    pthread_mutex_unlock(&qmp->lock);
    return r;
}

int qmp_migrate_set_capabilities(struct qmp *qmp, const struct qmp_capability_setting *settings,
                                 size_t n)
{
    struct json_object *args = json_object_new_object();
    struct json_object *list = json_object_new_array();
    if (!args || !list) {
        json_object_put(args);
        json_object_put(list);
        return -ENOMEM;
    }
    json_object_object_add(args, "capabilities", list);
    for (size_t i = 0; i < n; i++) {
        if ((unsigned)settings[i].capability >= QMP_CAPABILITY_COUNT) {
            json_object_put(args);
            return -EINVAL;
        }
        struct json_object *item = json_object_new_object();
        json_object_object_add(item, "capability",
                               json_object_new_string(capability_names[settings[i].capability]));
        json_object_object_add(item, "state", json_object_new_boolean(settings[i].state));
        json_object_array_add(list, item);
    }
    return execute(qmp, "migrate-set-capabilities", args, NULL);
}

int qmp_migrate_set_parameters(struct qmp *qmp, const struct qmp_migration_parameters *parameters)
{
    if (parameters->multifd_channels < 0 || parameters->multifd_channels > 255)
        return -EINVAL;
    struct json_object *args = json_object_new_object();
    if (!args)
        return -ENOMEM;
    if (parameters->downtime_limit_ms >= 0)
        json_object_object_add(args, "downtime-limit",
                               json_object_new_int64(parameters->downtime_limit_ms));
    if (parameters->max_bandwidth >= 0)
        json_object_object_add(args, "max-bandwidth",
                               json_object_new_int64(parameters->max_bandwidth));
    if (parameters->multifd_channels > 0)
        json_object_object_add(args, "multifd-channels",
                               json_object_new_int(parameters->multifd_channels));
    if (parameters->announce_initial_ms > 0)
        json_object_object_add(args, "announce-initial",
                               json_object_new_int64(parameters->announce_initial_ms));
    if (json_object_object_length(args) == 0) {
        json_object_put(args);
        return 0;
    }
    return execute(qmp, "migrate-set-parameters", args, NULL);
}

/* A command whose only argument is the string "uri". */
static int execute_uri(struct qmp *qmp, const char *command, const char *uri)
{
    struct json_object *args = json_object_new_object();
    if (!args)
        return -ENOMEM;
    json_object_object_add(args, "uri", json_object_new_string(uri));
    return execute(qmp, command, args, NULL);
}

int qmp_getfd(struct qmp *qmp, const char *name, int fd)
{
    if (!name || !name[0] || fd < 0)
        return -EINVAL;
    struct json_object *args = json_object_new_object();
    if (!args)
        return -ENOMEM;
    json_object_object_add(args, "fdname", json_object_new_string(name));
    pthread_mutex_lock(&qmp->lock);
    int r = execute_locked(qmp, "getfd", args, fd, NULL);
    pthread_mutex_unlock(&qmp->lock);
    return r;
}

int qmp_migrate(struct qmp *qmp, const char *uri)
{
    return execute_uri(qmp, "migrate", uri);
}

int qmp_migrate_incoming(struct qmp *qmp, const char *uri)
{
    return execute_uri(qmp, "migrate-incoming", uri);
}

static uint64_t get_u64(struct json_object *obj, const char *key)
{
    struct json_object *field;
    if (!json_object_object_get_ex(obj, key, &field))
        return 0;
    int64_t v = json_object_get_int64(field);
    return v < 0 ? 0 : (uint64_t)v;
}

static int64_t get_i64_or(struct json_object *obj, const char *key, int64_t absent)
{
    struct json_object *field;
    if (!json_object_object_get_ex(obj, key, &field))
        return absent;
    return json_object_get_int64(field);
}

static int query_migrate_once(struct qmp *qmp, struct qmp_migration_info *out)
{
    _cleanup_json_ struct json_object *ret = NULL;
    int r = execute(qmp, "query-migrate", NULL, &ret);
    if (r < 0)
        return r;
    if (!json_object_is_type(ret, json_type_object))
        return -EPROTO;
    memset(out, 0, sizeof(*out));
    struct json_object *field, *ram;
    out->status = QMP_MIGRATION_NONE;
    if (json_object_object_get_ex(ret, "status", &field))
        out->status = qmp_migration_status_from_string(json_object_get_string(field));
    if (json_object_object_get_ex(ret, "ram", &ram)) {
        out->has_ram = true;
        out->ram_transferred = get_u64(ram, "transferred");
        out->ram_remaining = get_u64(ram, "remaining");
        out->ram_total = get_u64(ram, "total");
        out->ram_duplicate = get_u64(ram, "duplicate");
        out->ram_normal = get_u64(ram, "normal");
        out->ram_normal_bytes = get_u64(ram, "normal-bytes");
        out->dirty_pages_rate = get_u64(ram, "dirty-pages-rate");
        out->dirty_sync_count = get_u64(ram, "dirty-sync-count");
        out->page_size = get_u64(ram, "page-size");
        out->multifd_bytes = get_u64(ram, "multifd-bytes");
        out->pages_per_second = get_u64(ram, "pages-per-second");
        out->precopy_bytes = get_u64(ram, "precopy-bytes");
        out->downtime_bytes = get_u64(ram, "downtime-bytes");
        if (json_object_object_get_ex(ram, "mbps", &field))
            out->mbps = json_object_get_double(field);
    }
    out->total_time_ms = get_i64_or(ret, "total-time", -1);
    out->setup_time_ms = get_i64_or(ret, "setup-time", -1);
    out->expected_downtime_ms = get_i64_or(ret, "expected-downtime", -1);
    out->downtime_ms = get_i64_or(ret, "downtime", -1);
    out->cpu_throttle_percentage = get_i64_or(ret, "cpu-throttle-percentage", 0);
    if (json_object_object_get_ex(ret, "error-desc", &field))
        snprintf(out->error_desc, sizeof(out->error_desc), "%s", json_object_get_string(field));
    return 0;
}

int qmp_query_migrate(struct qmp *qmp, struct qmp_migration_info *out)
{
    /* QEMU sets "completed" (and sends its MIGRATION event) before its
     * migration thread, once it has the big lock, fills in total-time and
     * downtime; asked in between, it reports both as 0.  A migration takes
     * at least a millisecond, so a completed one with total-time 0 is asked
     * again. */
    int64_t deadline = clock_mono_ms() + QMP_TOTALS_WAIT_MS;
    for (;;) {
        int r = query_migrate_once(qmp, out);
        if (r < 0 || out->status != QMP_MIGRATION_COMPLETED || out->total_time_ms != 0 ||
            clock_mono_ms() >= deadline)
            return r;
        clock_sleep_ms(QMP_TOTALS_RETRY_MS);
    }
}

int qmp_migrate_continue(struct qmp *qmp, enum qmp_migration_status state)
{
    if (state <= QMP_MIGRATION_UNKNOWN || state >= QMP_MIGRATION_STATUS_COUNT)
        return -EINVAL;
    struct json_object *args = json_object_new_object();
    if (!args)
        return -ENOMEM;
    json_object_object_add(args, "state", json_object_new_string(migration_status_names[state]));
    return execute(qmp, "migrate-continue", args, NULL);
}

int qmp_migrate_start_postcopy(struct qmp *qmp)
{
    return execute(qmp, "migrate-start-postcopy", NULL, NULL);
}

int qmp_migrate_cancel(struct qmp *qmp)
{
    return execute(qmp, "migrate_cancel", NULL, NULL);
}

int qmp_announce_self(struct qmp *qmp, const struct qmp_announce *parameters)
{
    static const struct qmp_announce defaults = { 50, 550, 5, 100 };
    const struct qmp_announce *p = parameters ? parameters : &defaults;
    if (p->initial_ms < 0 || p->max_ms < 0 || p->rounds < 0 || p->step_ms < 0)
        return -EINVAL;
    struct json_object *args = json_object_new_object();
    if (!args)
        return -ENOMEM;
    json_object_object_add(args, "initial", json_object_new_int64(p->initial_ms));
    json_object_object_add(args, "max", json_object_new_int64(p->max_ms));
    json_object_object_add(args, "rounds", json_object_new_int64(p->rounds));
    json_object_object_add(args, "step", json_object_new_int64(p->step_ms));
    return execute(qmp, "announce-self", args, NULL);
}

int qmp_next_event(struct qmp *qmp, int timeout_ms, struct qmp_event *out)
{
    pthread_mutex_lock(&qmp->lock);
    int64_t deadline = clock_mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    int r = 0;
    while (qmp->event_count == 0) {
        if (qmp->dead) {
            r = qmp->dead;
            break;
        }
        struct json_object *message = NULL;
        r = read_message(qmp, deadline, &message);
        if (r < 0)
            break;
        route_message(qmp, &message, 0);
    }
    if (qmp->event_count > 0) {
        *out = qmp->events[qmp->event_head];
        qmp->event_head = (qmp->event_head + 1) % QMP_EVENT_QUEUE;
        qmp->event_count--;
        r = 0;
    }
    pthread_mutex_unlock(&qmp->lock);
    return r;
}

uint64_t qmp_events_dropped(struct qmp *qmp)
{
    pthread_mutex_lock(&qmp->lock);
    uint64_t n = qmp->events_dropped;
    pthread_mutex_unlock(&qmp->lock);
    return n;
}
