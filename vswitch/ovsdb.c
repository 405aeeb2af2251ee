/* OVSDB JSON-RPC: see vswitch/ovsdb.h.
 *
 * Messages have no delimiter, so bytes go through one json_tokener that
 * says where each object ends; what follows it stays in the buffer for the
 * next.  Every wait is a poll() bounded by the call's deadline. */
#include "vswitch/ovsdb.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "base/cleanup.h"
#include "base/clock.h"
#include "base/log.h"

#define OVSDB_UPDATE_QUEUE 256
#define OVSDB_MAX_MESSAGE (64 << 20)

struct ovsdb {
    int fd;
    int timeout_ms;
    int dead;
    int64_t next_id;
    char *buf;
    size_t len, cap;
    struct json_object *updates[OVSDB_UPDATE_QUEUE];
    size_t update_head, update_count;
};

static int fail(struct ovsdb *o, int err)
{
    if (err != -ETIMEDOUT)
        o->dead = err;
    return err;
}

static int send_message(struct ovsdb *o, struct json_object *msg, int64_t deadline)
{
    const char *text = json_object_to_json_string_ext(msg, JSON_C_TO_STRING_PLAIN);
    size_t len = strlen(text), sent = 0;
    while (sent < len) {
        ssize_t n = send(o->fd, text + sent, len - sent, MSG_NOSIGNAL);
        if (n > 0) {
            sent += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && errno != EAGAIN)
            return fail(o, -errno);
        struct pollfd p = { .fd = o->fd, .events = POLLOUT };
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0)
            return fail(o, -ETIMEDOUT);
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR)
            return fail(o, -errno);
    }
    return 0;
}

/* Takes one complete JSON value off the front of the buffer, if there is
 * one: 1 and *out, 0 (need more bytes), or -EPROTO. */
static int take_message(struct ovsdb *o, struct json_object **out)
{
    size_t skip = 0;
    while (skip < o->len && strchr(" \t\r\n", o->buf[skip]))
        skip++;
    if (skip == o->len) {
        o->len = 0;
        return 0;
    }
    struct json_tokener *tok = json_tokener_new();
    if (!tok)
        return -ENOMEM;
    struct json_object *obj =
        json_tokener_parse_ex(tok, o->buf + skip, (int)(o->len - skip));
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t used = skip + json_tokener_get_parse_end(tok);
    json_tokener_free(tok);
    if (!obj) {
        if (jerr == json_tokener_continue)
            return 0;
        return -EPROTO;
    }
    memmove(o->buf, o->buf + used, o->len - used);
    o->len -= used;
    *out = obj;
    return 1;
}

static int fill(struct ovsdb *o, int64_t deadline)
{
    if (o->cap - o->len < 65536) {
        size_t cap = o->cap ? o->cap * 2 : 131072;
        if (cap > OVSDB_MAX_MESSAGE)
            return fail(o, -EMSGSIZE);
        char *grown = realloc(o->buf, cap);
        if (!grown)
            return -ENOMEM;
        o->buf = grown;
        o->cap = cap;
    }
    for (;;) {
        ssize_t n = recv(o->fd, o->buf + o->len, o->cap - o->len, 0);
        if (n > 0) {
            o->len += (size_t)n;
            return 0;
        }
        if (n == 0)
            return fail(o, -ECONNRESET);
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN)
            return fail(o, -errno);
        struct pollfd p = { .fd = o->fd, .events = POLLIN };
        int64_t left = deadline - clock_mono_ms();
        if (left <= 0)
            return -ETIMEDOUT;
        int r = poll(&p, 1, (int)left);
        if (r < 0 && errno != EINTR)
            return fail(o, -errno);
    }
}

static void queue_update(struct ovsdb *o, struct json_object *params)
{
    /* params: [monitor-id, table-updates] */
    struct json_object *updates = json_object_array_get_idx(params, 1);
    if (!updates)
        return;
    if (o->update_count == OVSDB_UPDATE_QUEUE) {
        json_object_put(o->updates[o->update_head]);
        o->update_head = (o->update_head + 1) % OVSDB_UPDATE_QUEUE;
        o->update_count--;
        log_warning("ovsdb: update queue full, oldest dropped");
    }
    o->updates[(o->update_head + o->update_count) % OVSDB_UPDATE_QUEUE] = json_object_get(updates);
    o->update_count++;
}

/* Handles a message that is not the reply we wait for: answers "echo",
 * queues "update", drops anything else. */
static int handle_other(struct ovsdb *o, struct json_object *msg, int64_t deadline)
{
    struct json_object *method = NULL, *params = NULL, *id = NULL;
    json_object_object_get_ex(msg, "method", &method);
    json_object_object_get_ex(msg, "params", &params);
    json_object_object_get_ex(msg, "id", &id);
    const char *m = method ? json_object_get_string(method) : "";
    if (strcmp(m, "echo") == 0) {
        _cleanup_json_ struct json_object *reply = json_object_new_object();
        json_object_object_add(reply, "id", json_object_get(id));
        json_object_object_add(reply, "result", json_object_get(params));
        json_object_object_add(reply, "error", NULL);
        return send_message(o, reply, deadline);
    }
    if (strcmp(m, "update") == 0 && json_object_is_type(params, json_type_array))
        queue_update(o, params);
    return 0;
}

/* Reads messages until the reply with ID; *reply (caller owns). */
static int wait_reply(struct ovsdb *o, int64_t id, int64_t deadline, struct json_object **reply)
{
    for (;;) {
        struct json_object *msg = NULL;
        int r = take_message(o, &msg);
        if (r < 0)
            return fail(o, r);
        if (r == 0) {
            r = fill(o, deadline);
            if (r < 0)
                return r;
            continue;
        }
        struct json_object *mid = NULL, *method = NULL;
        json_object_object_get_ex(msg, "id", &mid);
        json_object_object_get_ex(msg, "method", &method);
        if (!method && mid && json_object_is_type(mid, json_type_int) &&
            json_object_get_int64(mid) == id) {
            *reply = msg;
            return 0;
        }
        r = handle_other(o, msg, deadline);
        json_object_put(msg);
        if (r < 0)
            return r;
    }
}

static int call(struct ovsdb *o, const char *method, struct json_object *params,
                struct json_object **result, char *err, size_t err_size)
{
    if (o->dead) {
        json_object_put(params); /* consumed whatever happens */
        return o->dead;
    }
    int64_t deadline = clock_mono_ms() + o->timeout_ms;
    int64_t id = ++o->next_id;
    _cleanup_json_ struct json_object *msg = json_object_new_object();
    json_object_object_add(msg, "method", json_object_new_string(method));
    json_object_object_add(msg, "params", params);
    json_object_object_add(msg, "id", json_object_new_int64(id));
    int r = send_message(o, msg, deadline);
    if (r < 0)
        return r;
    _cleanup_json_ struct json_object *reply = NULL;
    r = wait_reply(o, id, deadline, &reply);
    if (r < 0)
        return r;
    struct json_object *error = NULL, *res = NULL;
    json_object_object_get_ex(reply, "error", &error);
    if (error && !json_object_is_type(error, json_type_null)) {
        if (err)
            snprintf(err, err_size, "%s", json_object_to_json_string_ext(error, JSON_C_TO_STRING_PLAIN));
        return -EPROTO;
    }
    json_object_object_get_ex(reply, "result", &res);
    *result = json_object_get(res);
    return 0;
}

int ovsdb_open(int fd, int timeout_ms, struct ovsdb **out)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
        return -errno;
    struct ovsdb *o = calloc(1, sizeof(*o));
    if (!o)
        return -ENOMEM;
    o->fd = fd;
    o->timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
    *out = o;
    return 0;
}

int ovsdb_connect(const char *address, int timeout_ms, struct ovsdb **out)
{
    const char *path = strncmp(address, "unix:", 5) == 0 ? address + 5 : address;
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sun.sun_path))
        return -ENAMETOOLONG;
    memcpy(sun.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int r = -errno;
        close(fd);
        return r;
    }
    int r = ovsdb_open(fd, timeout_ms, out);
    if (r < 0)
        close(fd);
    return r;
}

void ovsdb_close(struct ovsdb *o)
{
    if (!o)
        return;
    close(o->fd);
    while (o->update_count) {
        json_object_put(o->updates[o->update_head]);
        o->update_head = (o->update_head + 1) % OVSDB_UPDATE_QUEUE;
        o->update_count--;
    }
    free(o->buf);
    free(o);
}

int ovsdb_fd(const struct ovsdb *o)
{
    return o->fd;
}

int ovsdb_transact(struct ovsdb *o, const char *db, struct json_object *ops,
                   struct json_object **results, char *err, size_t err_size)
{
    if (err && err_size)
        err[0] = '\0';
    struct json_object *params = json_object_new_array();
    json_object_array_add(params, json_object_new_string(db));
    for (size_t i = 0; i < json_object_array_length(ops); i++)
        json_object_array_add(params, json_object_get(json_object_array_get_idx(ops, i)));
    struct json_object *result = NULL;
    int r = call(o, "transact", params, &result, err, err_size);
    if (r < 0)
        return r;
    /* Each operation's result may carry an error; the first decides. */
    for (size_t i = 0; json_object_is_type(result, json_type_array) &&
                       i < json_object_array_length(result);
         i++) {
        struct json_object *op = json_object_array_get_idx(result, i), *e = NULL;
        if (!op || !json_object_object_get_ex(op, "error", &e) || !e)
            continue;
        const char *what = json_object_get_string(e);
        struct json_object *details = NULL;
        json_object_object_get_ex(op, "details", &details);
        if (err)
            snprintf(err, err_size, "%s%s%s", what, details ? ": " : "",
                     details ? json_object_get_string(details) : "");
        int r2 = -EPROTO;
        if (strcmp(what, "constraint violation") == 0 ||
            strcmp(what, "referential integrity violation") == 0)
            r2 = -EEXIST;
        else if (strcmp(what, "timed out") == 0 || strcmp(what, "aborted") == 0)
            r2 = -ESTALE;
        json_object_put(result); /* WHAT points into it */
        return r2;
    }
    *results = result;
    return 0;
}

int ovsdb_monitor(struct ovsdb *o, const char *db, const char *monitor_id,
                  struct json_object *requests, struct json_object **initial)
{
    struct json_object *params = json_object_new_array();
    json_object_array_add(params, json_object_new_string(db));
    json_object_array_add(params, json_object_new_string(monitor_id));
    json_object_array_add(params, json_object_get(requests));
    return call(o, "monitor", params, initial, NULL, 0);
}

int ovsdb_next_update(struct ovsdb *o, int timeout_ms, struct json_object **update)
{
    int64_t deadline = clock_mono_ms() + timeout_ms;
    for (;;) {
        if (o->update_count) {
            *update = o->updates[o->update_head];
            o->update_head = (o->update_head + 1) % OVSDB_UPDATE_QUEUE;
            o->update_count--;
            return 0;
        }
        if (o->dead)
            return o->dead;
        struct json_object *msg = NULL;
        int r = take_message(o, &msg);
        if (r < 0)
            return fail(o, r);
        if (r == 1) {
            r = handle_other(o, msg, deadline);
            json_object_put(msg);
            if (r < 0)
                return r;
            continue;
        }
        r = fill(o, deadline);
        if (r < 0)
            return r;
    }
}

/* ---- values ---- */

static struct json_object *pair(const char *tag, struct json_object *value)
{
    struct json_object *a = json_object_new_array();
    json_object_array_add(a, json_object_new_string(tag));
    json_object_array_add(a, value);
    return a;
}

struct json_object *ovsdb_uuid(const char *uuid)
{
    return pair("uuid", json_object_new_string(uuid));
}

struct json_object *ovsdb_named_uuid(const char *name)
{
    return pair("named-uuid", json_object_new_string(name));
}

struct json_object *ovsdb_set(struct json_object *items)
{
    return pair("set", items);
}

struct json_object *ovsdb_empty_set(void)
{
    return pair("set", json_object_new_array());
}

struct json_object *ovsdb_map(struct json_object *pairs)
{
    struct json_object *list = json_object_new_array();
    json_object_object_foreach(pairs, key, val) {
        struct json_object *kv = json_object_new_array();
        json_object_array_add(kv, json_object_new_string(key));
        json_object_array_add(kv, json_object_get(val));
        json_object_array_add(list, kv);
    }
    json_object_put(pairs);
    return pair("map", list);
}

struct json_object *ovsdb_condition(const char *column, struct json_object *value)
{
    struct json_object *c = json_object_new_array();
    json_object_array_add(c, json_object_new_string(column));
    json_object_array_add(c, json_object_new_string("=="));
    json_object_array_add(c, value);
    return c;
}

/* True when V is [TAG, X].  Values come from the server: anything that is
 * not quite that shape (a null tag, a set or map whose contents are no
 * array) is not that value, and json-c asserts on array calls on
 * non-arrays, so every shape is checked before it is read. */
static bool tagged(struct json_object *v, const char *tag)
{
    if (!json_object_is_type(v, json_type_array) || json_object_array_length(v) != 2)
        return false;
    struct json_object *t = json_object_array_get_idx(v, 0);
    return json_object_is_type(t, json_type_string) && strcmp(json_object_get_string(t), tag) == 0;
}

/* The array X of a [TAG, X] value, or NULL. */
static struct json_object *tagged_array(struct json_object *v, const char *tag)
{
    if (!tagged(v, tag))
        return NULL;
    struct json_object *a = json_object_array_get_idx(v, 1);
    return json_object_is_type(a, json_type_array) ? a : NULL;
}

size_t ovsdb_set_size(struct json_object *value)
{
    if (!value)
        return 0;
    if (tagged(value, "set")) {
        struct json_object *items = tagged_array(value, "set");
        return items ? json_object_array_length(items) : 0;
    }
    return 1;
}

struct json_object *ovsdb_set_at(struct json_object *value, size_t i)
{
    if (tagged(value, "set")) {
        struct json_object *items = tagged_array(value, "set");
        return items && i < json_object_array_length(items) ? json_object_array_get_idx(items, i)
                                                            : NULL;
    }
    return i == 0 ? value : NULL;
}

const char *ovsdb_map_get(struct json_object *map, const char *key)
{
    struct json_object *list = tagged_array(map, "map");
    for (size_t i = 0; list && i < json_object_array_length(list); i++) {
        struct json_object *kv = json_object_array_get_idx(list, i);
        if (!json_object_is_type(kv, json_type_array) || json_object_array_length(kv) != 2)
            continue;
        struct json_object *k = json_object_array_get_idx(kv, 0);
        if (json_object_is_type(k, json_type_string) && strcmp(json_object_get_string(k), key) == 0)
            return json_object_get_string(json_object_array_get_idx(kv, 1));
    }
    return NULL;
}

const char *ovsdb_uuid_of(struct json_object *value)
{
    if (!tagged(value, "uuid"))
        return NULL;
    struct json_object *u = json_object_array_get_idx(value, 1);
    return json_object_is_type(u, json_type_string) ? json_object_get_string(u) : NULL;
}
