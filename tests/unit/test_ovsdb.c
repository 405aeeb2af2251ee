/* vswitch/ovsdb.c against a scripted peer on a socketpair: replies matched by
 * id, the server's echo answered, updates queued while a call waits,
 * messages split across reads or glued together, per-operation errors,
 * a peer that hangs up, and the value helpers. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <cmocka.h>
#include "vswitch/ovsdb.h"

struct peer {
    int fd;
    const char *script; /* what to send after reading one request */
    char got[4096];     /* the request it read */
    bool split;         /* send in two pieces */
};

static void *peer_main(void *arg)
{
    struct peer *p = arg;
    ssize_t n = read(p->fd, p->got, sizeof(p->got) - 1);
    if (n > 0)
        p->got[n] = '\0';
    size_t len = strlen(p->script);
    if (p->split) {
        size_t half = len / 2;
        if (write(p->fd, p->script, half) < 0)
            return NULL;
        usleep(20000);
        if (write(p->fd, p->script + half, len - half) < 0)
            return NULL;
    } else if (write(p->fd, p->script, len) < 0) {
        return NULL;
    }
    return NULL;
}

struct fixture {
    struct ovsdb *ovsdb;
    struct peer peer;
    pthread_t thread;
};

static struct fixture *start(const char *script, bool split)
{
    struct fixture *f = calloc(1, sizeof(*f));
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    f->peer.fd = fds[1];
    f->peer.script = script;
    f->peer.split = split;
    assert_int_equal(ovsdb_open(fds[0], 1000, &f->ovsdb), 0);
    pthread_create(&f->thread, NULL, peer_main, &f->peer);
    return f;
}

static void stop(struct fixture *f)
{
    pthread_join(f->thread, NULL);
    ovsdb_close(f->ovsdb);
    close(f->peer.fd);
    free(f);
}

static struct json_object *one_op(void)
{
    struct json_object *ops = json_object_new_array();
    struct json_object *op = json_object_new_object();
    json_object_object_add(op, "op", json_object_new_string("select"));
    json_object_object_add(op, "table", json_object_new_string("Bridge"));
    json_object_object_add(op, "where", json_object_new_array());
    json_object_array_add(ops, op);
    return ops;
}

static void test_transact_with_echo_and_update_first(void **state)
{
    (void)state;
    /* The server interleaves an echo and a monitor update before the reply,
     * all in one write, the reply itself split over two. */
    struct fixture *f = start(
        "{\"id\":\"echo\",\"method\":\"echo\",\"params\":[]}"
        "{\"id\":null,\"method\":\"update\",\"params\":[\"m\",{\"Bridge\":{}}]}\n"
        "{\"id\":1,\"result\":[{\"rows\":[{\"name\":\"br0\"}]}],\"error\":null}",
        true);
    struct json_object *ops = one_op(), *results = NULL;
    char err[256];
    assert_int_equal(ovsdb_transact(f->ovsdb, "Open_vSwitch", ops, &results, err, sizeof(err)), 0);
    json_object_put(ops);
    assert_non_null(strstr(f->peer.got, "\"method\":\"transact\""));
    assert_non_null(strstr(f->peer.got, "\"Open_vSwitch\""));
    struct json_object *rows = NULL;
    assert_true(json_object_object_get_ex(json_object_array_get_idx(results, 0), "rows", &rows));
    assert_int_equal(json_object_array_length(rows), 1);
    json_object_put(results);
    /* The update waits in the queue. */
    struct json_object *update = NULL;
    assert_int_equal(ovsdb_next_update(f->ovsdb, 100, &update), 0);
    assert_true(json_object_object_get_ex(update, "Bridge", NULL));
    json_object_put(update);
    assert_int_equal(ovsdb_next_update(f->ovsdb, 50, &update), -ETIMEDOUT);
    stop(f);
}

static void test_echo_is_answered(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    struct ovsdb *o = NULL;
    assert_int_equal(ovsdb_open(fds[0], 1000, &o), 0);
    const char *echo = "{\"id\":\"e7\",\"method\":\"echo\",\"params\":[\"x\"]}";
    assert_int_equal(write(fds[1], echo, strlen(echo)), (ssize_t)strlen(echo));
    struct json_object *update = NULL;
    assert_int_equal(ovsdb_next_update(o, 100, &update), -ETIMEDOUT);
    char buf[256] = "";
    assert_true(read(fds[1], buf, sizeof(buf) - 1) > 0);
    assert_non_null(strstr(buf, "\"id\":\"e7\""));
    assert_non_null(strstr(buf, "\"result\":[\"x\"]"));
    ovsdb_close(o);
    close(fds[1]);
}

static void test_operation_errors(void **state)
{
    (void)state;
    struct {
        const char *script;
        int r;
        const char *words;
    } cases[] = {
        { "{\"id\":1,\"result\":[{},{\"error\":\"constraint violation\",\"details\":\"dup name\"}],\"error\":null}",
          -EEXIST, "dup name" },
        { "{\"id\":1,\"result\":[{\"error\":\"timed out\"}],\"error\":null}", -ESTALE, "timed out" },
        { "{\"id\":1,\"result\":[{\"error\":\"syntax error\"}],\"error\":null}", -EPROTO, "syntax" },
        { "{\"id\":1,\"result\":null,\"error\":\"unknown database\"}", -EPROTO, "unknown database" },
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct fixture *f = start(cases[i].script, false);
        struct json_object *ops = one_op(), *results = NULL;
        char err[256] = "";
        assert_int_equal(ovsdb_transact(f->ovsdb, "Open_vSwitch", ops, &results, err, sizeof(err)),
                         cases[i].r);
        assert_null(results);
        assert_non_null(strstr(err, cases[i].words));
        json_object_put(ops);
        stop(f);
    }
}

static void test_peer_gone_and_garbage(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    struct ovsdb *o = NULL;
    assert_int_equal(ovsdb_open(fds[0], 1000, &o), 0);
    close(fds[1]); /* the server is gone */
    struct json_object *ops = one_op(), *results = NULL;
    int r = ovsdb_transact(o, "Open_vSwitch", ops, &results, NULL, 0);
    assert_true(r == -ECONNRESET || r == -EPIPE);
    /* Once dead, every call fails at once. */
    assert_int_equal(ovsdb_transact(o, "Open_vSwitch", ops, &results, NULL, 0), r);
    json_object_put(ops);
    ovsdb_close(o);

    struct fixture *f;
    f = start("{\"id\":1,\"result\": nonsense}", false);
    ops = one_op();
    assert_int_equal(ovsdb_transact(f->ovsdb, "Open_vSwitch", ops, &results, NULL, 0), -EPROTO);
    json_object_put(ops);
    stop(f);
}

static void test_timeout(void **state)
{
    (void)state;
    struct fixture *f = start("{\"id\":99,\"result\":[],\"error\":null}", false); /* not our id */
    struct json_object *ops = one_op(), *results = NULL;
    assert_int_equal(ovsdb_transact(f->ovsdb, "Open_vSwitch", ops, &results, NULL, 0), -ETIMEDOUT);
    json_object_put(ops);
    stop(f);
}

static void test_values(void **state)
{
    (void)state;
    struct json_object *u = ovsdb_uuid("5f0c");
    assert_string_equal(json_object_to_json_string_ext(u, JSON_C_TO_STRING_PLAIN), "[\"uuid\",\"5f0c\"]");
    assert_string_equal(ovsdb_uuid_of(u), "5f0c");
    assert_int_equal(ovsdb_set_size(u), 1); /* a bare atom is a one-element set */
    assert_ptr_equal(ovsdb_set_at(u, 0), u);
    struct json_object *items = json_object_new_array();
    json_object_array_add(items, json_object_new_int(10));
    json_object_array_add(items, json_object_new_int(20));
    struct json_object *set = ovsdb_set(items);
    assert_int_equal(ovsdb_set_size(set), 2);
    assert_int_equal(json_object_get_int(ovsdb_set_at(set, 1)), 20);
    struct json_object *pairs = json_object_new_object();
    json_object_object_add(pairs, "lmnet-owner", json_object_new_string("node-1"));
    struct json_object *map = ovsdb_map(pairs);
    assert_string_equal(json_object_to_json_string_ext(map, JSON_C_TO_STRING_PLAIN),
                        "[\"map\",[[\"lmnet-owner\",\"node-1\"]]]");
    assert_string_equal(ovsdb_map_get(map, "lmnet-owner"), "node-1");
    assert_null(ovsdb_map_get(map, "other"));
    struct json_object *c = ovsdb_condition("name", json_object_new_string("br0"));
    assert_string_equal(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PLAIN),
                        "[\"name\",\"==\",\"br0\"]");
    json_object_put(u);
    json_object_put(set);
    json_object_put(map);
    json_object_put(c);
}

/* Values of the wrong shape from the server read as nothing, never as a
 * crash: json-c asserts on array calls on non-arrays, and a null tag or key
 * was passed to strcmp() (found by tests/fuzz/fuzz_ovsdb). */
static void test_malformed_values(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "[\"set\", 5]",          "[null, 1]",
        "[\"map\", 5]",          "[\"map\", [5, [null, \"x\"], [\"k\"]]]",
        "[\"uuid\", null]",      "[\"uuid\", 7]",
        "[\"set\", {\"a\": 1}]", "[[\"set\"], 1]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        struct json_object *v = json_tokener_parse(bad[i]);
        assert_non_null(v);
        size_t n = ovsdb_set_size(v);
        assert_true(n <= 1);
        for (size_t k = 0; k < 3; k++)
            if (k >= n)
                assert_true(ovsdb_set_at(v, k) == NULL || (k == 0 && n == 1));
        assert_null(ovsdb_map_get(v, "k"));
        assert_null(ovsdb_uuid_of(v));
        json_object_put(v);
    }
    /* A map entry of the right shape is still found next to broken ones. */
    struct json_object *m = json_tokener_parse("[\"map\", [5, [null, \"x\"], [\"k\", \"v\"]]]");
    assert_string_equal(ovsdb_map_get(m, "k"), "v");
    json_object_put(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_transact_with_echo_and_update_first),
        cmocka_unit_test(test_echo_is_answered),
        cmocka_unit_test(test_operation_errors),
        cmocka_unit_test(test_peer_gone_and_garbage),
        cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_malformed_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
