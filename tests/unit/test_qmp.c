/* hypervisor/qmp.c against a fake QEMU: a thread on the other end of a
 * socketpair plays a script (read a command, answer it, send events, stall,
 * close).  Checks the greeting and negotiation, typed calls in and out,
 * QEMU's errors, events interleaved with replies, timeouts and the late
 * replies they leave behind, a peer that closes or talks nonsense. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>
#include <cmocka.h>
#include <json-c/json.h>
#include "base/clock.h"
#include "hypervisor/qmp.h"

#define GREETING                                                                                   \
    "{\"QMP\": {\"version\": {\"qemu\": {\"micro\": 22, \"minor\": 2, \"major\": 7}, "            \
    "\"package\": \"Debian 1:7.2+dfsg-7\"}, \"capabilities\": [\"oob\"]}}\r\n"
#define OK "{\"return\": {}, \"id\": %ID%}\r\n"
#define MAX_STEPS 16
#define MAX_LINES 16

/* One step of the fake QEMU: read a command (when EXPECT is set; it must be
 * that command), wait DELAY_MS, send SEND with %ID% replaced by the id of
 * the command read and %NUL% with a NUL byte, and close the socket when
 * CLOSE. */
struct step {
    const char *expect;
    int delay_ms;
    const char *send;
    bool close;
};

struct peer {
    int fd;
    struct step steps[MAX_STEPS];
    pthread_t thread;
    char *lines[MAX_LINES]; /* every command received, in order */
    int n_lines;
    int mismatches; /* commands that were not the expected ones */
};

/* Reads one line (without the newline) from FD; NULL at end of stream. */
static char *read_line(int fd)
{
    char buf[65536];
    size_t len = 0;
    while (len < sizeof(buf) - 1) {
        ssize_t n = read(fd, buf + len, 1);
        if (n <= 0)
            return NULL;
        if (buf[len] == '\n')
            break;
        len++;
    }
    buf[len] = '\0';
    return strdup(buf);
}

static void send_text(int fd, const char *text, const char *id)
{
    char out[65536];
    size_t len = 0;
    for (const char *p = text; *p && len < sizeof(out) - 32;) {
        if (strncmp(p, "%NUL%", 5) == 0) {
            out[len++] = '\0';
            p += 5;
        } else if (strncmp(p, "%ID%", 4) == 0) {
            len += (size_t)snprintf(out + len, sizeof(out) - len, "%s", id);
            p += 4;
        } else {
            out[len++] = *p++;
        }
    }
    if (write(fd, out, len) != (ssize_t)len)
        fprintf(stderr, "fake qemu: short write\n");
}

static void *peer_thread(void *arg)
{
    struct peer *peer = arg;
    char id[32] = "0";
    for (int i = 0; i < MAX_STEPS; i++) {
        const struct step *s = &peer->steps[i];
        if (!s->expect && !s->send && !s->close && !s->delay_ms)
            break;
        if (s->expect) {
            char *line = read_line(peer->fd);
            if (!line) {
                peer->mismatches++;
                break;
            }
            struct json_object *cmd = json_tokener_parse(line), *field;
            if (!cmd || !json_object_object_get_ex(cmd, "execute", &field) ||
                strcmp(json_object_get_string(field), s->expect) != 0)
                peer->mismatches++;
            if (cmd && json_object_object_get_ex(cmd, "id", &field))
                snprintf(id, sizeof(id), "%s", json_object_get_string(field));
            json_object_put(cmd);
            if (peer->n_lines < MAX_LINES)
                peer->lines[peer->n_lines++] = line;
            else
                free(line);
        }
        if (s->delay_ms)
            clock_sleep_ms(s->delay_ms);
        if (s->send)
            send_text(peer->fd, s->send, id);
        if (s->close) {
            close(peer->fd);
            peer->fd = -1;
            break;
        }
    }
    return NULL;
}

/* Starts the fake QEMU with STEPS (after its greeting and the negotiation)
 * and returns our end of the socketpair. */
static int peer_start(struct peer *peer, const struct step *steps, size_t n)
{
    memset(peer, 0, sizeof(*peer));
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    peer->fd = sv[1];
    assert_true(n <= MAX_STEPS);
    memcpy(peer->steps, steps, n * sizeof(*steps));
    assert_int_equal(pthread_create(&peer->thread, NULL, peer_thread, peer), 0);
    return sv[0];
}

/* Waits for the script to end and checks every command was the expected
 * one.  The commands received stay readable until peer_free(). */
static void peer_finish(struct peer *peer)
{
    pthread_join(peer->thread, NULL);
    if (peer->fd >= 0)
        close(peer->fd);
    peer->fd = -1;
    assert_int_equal(peer->mismatches, 0);
}

static void peer_free(struct peer *peer)
{
    for (int i = 0; i < peer->n_lines; i++)
        free(peer->lines[i]);
    peer->n_lines = 0;
}

/* The arguments of the Nth command the peer received, as JSON text. */
static struct json_object *peer_arguments(struct peer *peer, int n)
{
    assert_true(n < peer->n_lines);
    struct json_object *cmd = json_tokener_parse(peer->lines[n]), *args;
    assert_non_null(cmd);
    assert_true(json_object_object_get_ex(cmd, "arguments", &args));
    json_object_get(args);
    json_object_put(cmd);
    return args;
}

#define HELLO { NULL, 0, GREETING, false }, { "qmp_capabilities", 0, OK, false }

static void test_greeting_and_status(void **state)
{
    (void)state;
    struct peer peer;
    struct step steps[] = {
        HELLO,
        { "query-status", 0,
          "{\"return\": {\"status\": \"running\", \"singlestep\": false, \"running\": true}, "
          "\"id\": %ID%}\r\n", false },
        { "query-status", 0,
          "{\"return\": {\"status\": \"inmigrate\", \"running\": false}, \"id\": %ID%}\n", false },
        { "query-status", 0,
          "{\"return\": {\"status\": \"brand-new\", \"running\": false}, \"id\": %ID%}\n", false },
    };
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    int major, minor, micro;
    qmp_version(qmp, &major, &minor, &micro);
    assert_int_equal(major, 7);
    assert_int_equal(minor, 2);
    assert_int_equal(micro, 22);
    struct qmp_status st;
    assert_int_equal(qmp_query_status(qmp, &st), 0);
    assert_true(st.running);
    assert_int_equal(st.state, QMP_RUN_STATE_RUNNING);
    assert_int_equal(qmp_query_status(qmp, &st), 0);
    assert_false(st.running);
    assert_int_equal(st.state, QMP_RUN_STATE_INMIGRATE);
    assert_int_equal(qmp_query_status(qmp, &st), 0);
    assert_int_equal(st.state, QMP_RUN_STATE_UNKNOWN);
    qmp_close(qmp);
    peer_finish(&peer);
    peer_free(&peer);
}

static void test_query_kvm(void **state)
{
    (void)state;
    struct peer peer;
    struct step steps[] = {
        HELLO,
        { "query-kvm", 0, "{\"return\": {\"enabled\": true, \"present\": true}, \"id\": %ID%}\n",
          false },
        { "query-kvm", 0, "{\"return\": {\"enabled\": false, \"present\": true}, \"id\": %ID%}\n",
          false },
        { "query-kvm", 0, "{\"return\": {\"present\": false}, \"id\": %ID%}\n", false },
    };
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    bool kvm = false;
    assert_int_equal(qmp_query_kvm(qmp, &kvm), 0);
    assert_true(kvm);
    assert_int_equal(qmp_query_kvm(qmp, &kvm), 0);
    assert_false(kvm);
    kvm = true;
    assert_int_equal(qmp_query_kvm(qmp, &kvm), -EPROTO);
    assert_true(kvm); /* left alone */
    qmp_close(qmp);
    peer_finish(&peer);
    peer_free(&peer);
}

static void test_bad_greeting(void **state)
{
    (void)state;
    struct peer peer;
    struct step steps[] = { { NULL, 0, "{\"hello\": 1}\n", false } };
    int fd = peer_start(&peer, steps, 1);
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 1000, &qmp), -EPROTO);
    assert_null(qmp);
    peer_finish(&peer);
    peer_free(&peer);

    struct step garbage[] = { { NULL, 0, "this is not json\n", false } };
    fd = peer_start(&peer, garbage, 1);
    assert_int_equal(qmp_open(fd, 1000, &qmp), -EPROTO);
    peer_finish(&peer);
    peer_free(&peer);

    struct step refused[] = {
        { NULL, 0, GREETING, false },
        { "qmp_capabilities", 0,
          "{\"error\": {\"class\": \"GenericError\", \"desc\": \"no\"}, \"id\": %ID%}\n", false },
    };
    fd = peer_start(&peer, refused, 2);
    assert_int_equal(qmp_open(fd, 1000, &qmp), -EREMOTEIO);
    peer_finish(&peer);
    peer_free(&peer);
}

static void test_no_greeting_times_out(void **state)
{
    (void)state;
    struct peer peer;
    struct step steps[] = { { NULL, 400, NULL, true } };
    int fd = peer_start(&peer, steps, 1);
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 100, &qmp), -ETIMEDOUT);
    peer_finish(&peer);
    peer_free(&peer);
}

static void test_errors(void **state)
{
    (void)state;
    struct peer peer;
    struct step steps[] = {
        HELLO,
        { "migrate-incoming", 0,
          "{\"id\": %ID%, \"error\": {\"class\": \"GenericError\", \"desc\": \"The incoming "
          "migration has already been started\"}}\n", false },
        { "migrate-continue", 0,
          "{\"error\": {\"class\": \"CommandNotFound\", \"desc\": \"The command migrate-continue "
          "has not been found\"}, \"id\": %ID%}\n", false },
        { "cont", 0, "{\"return\": {}, \"id\": %ID%}\n", false },
    };
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    char err[256];
    qmp_last_error(qmp, err, sizeof(err));
    assert_string_equal(err, "");
    assert_int_equal(qmp_migrate_incoming(qmp, "tcp:0:4444"), -EREMOTEIO);
    qmp_last_error(qmp, err, sizeof(err));
    assert_string_equal(err, "GenericError: The incoming migration has already been started");
    assert_int_equal(qmp_migrate_continue(qmp, QMP_MIGRATION_PRE_SWITCHOVER), -EOPNOTSUPP);
    /* The connection is still good after QEMU refused a command. */
    assert_int_equal(qmp_cont(qmp), 0);
    /* Bad arguments never reach QEMU. */
    assert_int_equal(qmp_migrate_continue(qmp, QMP_MIGRATION_UNKNOWN), -EINVAL);
    struct qmp_migration_parameters bad = { -1, -1, 256, 0 };
    assert_int_equal(qmp_migrate_set_parameters(qmp, &bad), -EINVAL);
    struct qmp_announce neg = { -1, 0, 0, 0 };
    assert_int_equal(qmp_announce_self(qmp, &neg), -EINVAL);
    qmp_close(qmp);
    peer_finish(&peer);
    assert_int_equal(peer.n_lines, 4);
    peer_free(&peer);
}

static void test_events_between_replies(void **state)
{
    (void)state;
    struct peer peer;
    struct step steps[] = {
        HELLO,
        { "migrate", 0,
          "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 250}, \"event\": "
          "\"MIGRATION\", \"data\": {\"status\": \"setup\"}}\r\n"
          "{\"return\": {}, \"id\": %ID%}\r\n"
          "{\"timestamp\": {\"seconds\": 1700000000, \"microseconds\": 900}, \"event\": "
          "\"MIGRATION\", \"data\": {\"status\": \"active\"}}\r\n", false },
        { "query-migrate", 0,
          "{\"event\": \"MIGRATION_PASS\", \"data\": {\"pass\": 2}, \"timestamp\": "
          "{\"seconds\": 1, \"microseconds\": 0}}\n"
          "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 1, \"microseconds\": 1}}\n"
          "{\"event\": \"MIGRATION\", \"data\": {\"status\": \"pre-switchover\"}, \"timestamp\": "
          "{\"seconds\": 1, \"microseconds\": 2}}\n"
          "{\"return\": {\"status\": \"pre-switchover\"}, \"id\": %ID%}\n", false },
        { NULL, 300,
          "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 2, \"microseconds\": 0}}\n"
          "{\"event\": \"NIC_RX_FILTER_CHANGED\", \"data\": {\"path\": \"/x\"}, \"timestamp\": "
          "{\"seconds\": 2, \"microseconds\": 1}}\n", false },
    };
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    assert_int_equal(qmp_migrate(qmp, "tcp:10.0.0.2:4444"), 0);
    struct qmp_migration_info info;
    assert_int_equal(qmp_query_migrate(qmp, &info), 0);
    assert_int_equal(info.status, QMP_MIGRATION_PRE_SWITCHOVER);
    assert_false(info.has_ram);
    assert_int_equal(info.downtime_ms, -1);

    struct qmp_event ev;
    assert_int_equal(qmp_next_event(qmp, 0, &ev), 0);
    assert_int_equal(ev.type, QMP_EVENT_MIGRATION);
    assert_int_equal(ev.migration_status, QMP_MIGRATION_SETUP);
    assert_int_equal(ev.timestamp_us, 1700000000000250LL);
    assert_int_equal(qmp_next_event(qmp, 0, &ev), 0);
    assert_int_equal(ev.migration_status, QMP_MIGRATION_ACTIVE);
    assert_int_equal(qmp_next_event(qmp, 0, &ev), 0);
    assert_int_equal(ev.type, QMP_EVENT_MIGRATION_PASS);
    assert_int_equal(ev.pass, 2);
    assert_int_equal(qmp_next_event(qmp, 0, &ev), 0);
    assert_int_equal(ev.type, QMP_EVENT_STOP);
    assert_int_equal(qmp_next_event(qmp, 0, &ev), 0);
    assert_int_equal(ev.type, QMP_EVENT_MIGRATION);
    assert_int_equal(ev.migration_status, QMP_MIGRATION_PRE_SWITCHOVER);
    /* Nothing queued, nothing waiting: a zero timeout returns at once. */
    assert_int_equal(qmp_next_event(qmp, 0, &ev), -ETIMEDOUT);
    /* Events that arrive later are read by next_event itself. */
    assert_int_equal(qmp_next_event(qmp, 2000, &ev), 0);
    assert_int_equal(ev.type, QMP_EVENT_RESUME);
    assert_int_equal(qmp_next_event(qmp, 2000, &ev), 0);
    assert_int_equal(ev.type, QMP_EVENT_OTHER);
    assert_string_equal(ev.name, "NIC_RX_FILTER_CHANGED");
    assert_int_equal(qmp_next_event(qmp, 50, &ev), -ETIMEDOUT);
    assert_int_equal(qmp_events_dropped(qmp), 0);
    qmp_close(qmp);
    peer_finish(&peer);
    struct json_object *args = peer_arguments(&peer, 1);
    assert_string_equal(json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN),
                        "{\"uri\":\"tcp:10.0.0.2:4444\"}");
    json_object_put(args);
    peer_free(&peer);
}

static void test_timeout_then_late_reply(void **state)
{
    (void)state;
    struct peer peer;
    struct step steps[] = {
        HELLO,
        /* Answers the first query-status too late ... */
        { "query-status", 300,
          "{\"return\": {\"status\": \"paused\", \"running\": false}, \"id\": %ID%}\n", false },
        /* ... and the second one in time: the late reply must not be taken
         * for the second one's. */
        { "query-status", 0,
          "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": %ID%}\n", false },
    };
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    qmp_set_timeout(qmp, 100);
    struct qmp_status st;
    assert_int_equal(qmp_query_status(qmp, &st), -ETIMEDOUT);
    qmp_set_timeout(qmp, 2000);
    assert_int_equal(qmp_query_status(qmp, &st), 0);
    assert_true(st.running);
    assert_int_equal(st.state, QMP_RUN_STATE_RUNNING);
    qmp_close(qmp);
    peer_finish(&peer);
    peer_free(&peer);
}

static void test_peer_closes(void **state)
{
    (void)state;
    struct peer peer;
    struct step steps[] = {
        HELLO,
        { NULL, 0, "{\"event\": \"SHUTDOWN\", \"data\": {\"guest\": false}, \"timestamp\": "
                   "{\"seconds\": 3, \"microseconds\": 0}}\n", false },
        { "query-migrate", 0, NULL, true },
    };
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    struct qmp_migration_info info;
    assert_int_equal(qmp_query_migrate(qmp, &info), -ECONNRESET);
    /* Once closed, always closed, and quickly. */
    assert_int_equal(qmp_stop(qmp), -ECONNRESET);
    /* The event sent before the close is still delivered, then the close. */
    struct qmp_event ev;
    assert_int_equal(qmp_next_event(qmp, 1000, &ev), 0);
    assert_int_equal(ev.type, QMP_EVENT_SHUTDOWN);
    assert_int_equal(qmp_next_event(qmp, 1000, &ev), -ECONNRESET);
    qmp_close(qmp);
    peer_finish(&peer);
    peer_free(&peer);
}

static void test_peer_closes_mid_message(void **state)
{
    (void)state;
    struct peer peer;
    struct step steps[] = {
        HELLO,
        { "query-status", 0, "{\"return\": {\"status\": \"runn", true },
    };
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    struct qmp_status st;
    assert_int_equal(qmp_query_status(qmp, &st), -ECONNRESET);
    qmp_close(qmp);
    peer_finish(&peer);
    peer_free(&peer);
}

static void test_nonsense_reply(void **state)
{
    (void)state;
    struct peer peer;
    struct step steps[] = {
        HELLO,
        { "stop", 0, "[1, 2, 3]\n", false },
    };
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    assert_int_equal(qmp_stop(qmp), -EPROTO);
    assert_int_equal(qmp_cont(qmp), -EPROTO);
    qmp_close(qmp);
    peer_finish(&peer);
    peer_free(&peer);

    struct step no_return[] = {
        HELLO,
        { "stop", 0, "{\"id\": %ID%, \"something\": 1}\n", false },
    };
    fd = peer_start(&peer, no_return, sizeof(no_return) / sizeof(no_return[0]));
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    assert_int_equal(qmp_stop(qmp), -EPROTO);
    qmp_close(qmp);
    peer_finish(&peer);
    peer_free(&peer);
}

/* A reply followed, in the same read, by a line that starts with a NUL:
 * the reply is still the reply, and the NUL line is not JSON. */
static void test_line_starting_with_nul(void **state)
{
    (void)state;
    struct peer peer;
    struct step steps[] = {
        HELLO,
        { "query-status", 0,
          "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": %ID%}\n"
          "%NUL%{\"event\": \"STOP\"}\n", false },
        { "query-status", 0, NULL, false },
    };
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    qmp_set_timeout(qmp, 1000);
    struct qmp_status st = { 0 };
    assert_int_equal(qmp_query_status(qmp, &st), 0);
    assert_true(st.running);
    assert_int_equal(st.state, QMP_RUN_STATE_RUNNING);
    assert_int_equal(qmp_query_status(qmp, &st), -EPROTO);
    qmp_close(qmp);
    peer_finish(&peer);
    peer_free(&peer);
}

/* Empty and blank lines between messages are skipped, not fatal. */
static void test_empty_lines(void **state)
{
    (void)state;
    struct peer peer;
    struct step steps[] = {
        HELLO,
        { "query-status", 0,
          "\n{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": %ID%}\n", false },
        { "query-status", 0,
          "\r\n \t\r\n\n{\"return\": {\"status\": \"paused\", \"running\": false}, \"id\": %ID%}\r\n",
          false },
        { NULL, 0, "\n", false },
        { "query-status", 0,
          "{\"return\": {\"status\": \"running\", \"running\": true}, \"id\": %ID%}\n", false },
    };
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    struct qmp_status st;
    assert_int_equal(qmp_query_status(qmp, &st), 0);
    assert_int_equal(st.state, QMP_RUN_STATE_RUNNING);
    assert_int_equal(qmp_query_status(qmp, &st), 0);
    assert_int_equal(st.state, QMP_RUN_STATE_PAUSED);
    assert_int_equal(qmp_query_status(qmp, &st), 0);
    assert_int_equal(st.state, QMP_RUN_STATE_RUNNING);
    qmp_close(qmp);
    peer_finish(&peer);
    peer_free(&peer);
}

/* Timestamps that do not fit in int64 microseconds (or make no sense) are
 * stored as 0, unknown, never overflowed into garbage. */
static void test_huge_timestamps(void **state)
{
    (void)state;
    struct peer peer;
    struct step steps[] = {
        HELLO,
        { NULL, 0,
          "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": 9223372036854775807, "
          "\"microseconds\": 0}}\n"
          "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 9223372036854, "
          "\"microseconds\": 9223372036854775807}}\n"
          "{\"event\": \"STOP\", \"timestamp\": {\"seconds\": -9223372036854775807, "
          "\"microseconds\": -5}}\n"
          "{\"event\": \"RESUME\", \"timestamp\": {\"seconds\": 9223372036853, "
          "\"microseconds\": 999999}}\n", false },
    };
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    struct qmp_event ev;
    assert_int_equal(qmp_next_event(qmp, 2000, &ev), 0);
    assert_int_equal(ev.type, QMP_EVENT_STOP);
    assert_int_equal(ev.timestamp_us, 0);
    assert_int_equal(qmp_next_event(qmp, 2000, &ev), 0);
    assert_int_equal(ev.type, QMP_EVENT_RESUME);
    assert_int_equal(ev.timestamp_us, 0);
    assert_int_equal(qmp_next_event(qmp, 2000, &ev), 0);
    assert_int_equal(ev.timestamp_us, 0);
    /* The largest that fits is kept. */
    assert_int_equal(qmp_next_event(qmp, 2000, &ev), 0);
    assert_int_equal(ev.timestamp_us, 9223372036853999999LL);
    qmp_close(qmp);
    peer_finish(&peer);
    peer_free(&peer);
}

static void test_query_migrate_full(void **state)
{
    (void)state;
    struct peer peer;
    struct step steps[] = {
        HELLO,
        { "query-migrate", 0,
          "{\"return\": {\"expected-downtime\": 31, \"status\": \"active\", \"setup-time\": 4, "
          "\"total-time\": 1234, \"ram\": {\"total\": 537665536, \"postcopy-requests\": 0, "
          "\"dirty-sync-count\": 3, \"multifd-bytes\": 4096, \"pages-per-second\": 87000, "
          "\"downtime-bytes\": 0, \"page-size\": 4096, \"remaining\": 1048576, "
          "\"postcopy-bytes\": 0, \"mbps\": 3105.5, \"transferred\": 500000000, "
          "\"dirty-sync-missed-zero-copy\": 0, \"precopy-bytes\": 499000000, \"duplicate\": 1000, "
          "\"dirty-pages-rate\": 16384, \"normal-bytes\": 498000000, \"normal\": 121582}}, "
          "\"id\": %ID%}\n", false },
        { "query-migrate", 0,
          "{\"return\": {\"status\": \"completed\", \"setup-time\": 4, \"downtime\": 35, "
          "\"total-time\": 350, \"ram\": {\"transferred\": 1, \"remaining\": 0, \"total\": 2}}, "
          "\"id\": %ID%}\n", false },
        { "query-migrate", 0,
          "{\"return\": {\"status\": \"failed\", \"error-desc\": \"Unable to write to socket: "
          "Broken pipe\"}, \"id\": %ID%}\n", false },
        { "query-migrate", 0, "{\"return\": {}, \"id\": %ID%}\n", false },
    };
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    struct qmp_migration_info info;
    assert_int_equal(qmp_query_migrate(qmp, &info), 0);
    assert_int_equal(info.status, QMP_MIGRATION_ACTIVE);
    assert_true(info.has_ram);
    assert_int_equal(info.ram_total, 537665536);
    assert_int_equal(info.ram_transferred, 500000000);
    assert_int_equal(info.ram_remaining, 1048576);
    assert_int_equal(info.ram_duplicate, 1000);
    assert_int_equal(info.ram_normal, 121582);
    assert_int_equal(info.ram_normal_bytes, 498000000);
    assert_int_equal(info.dirty_pages_rate, 16384);
    assert_int_equal(info.dirty_sync_count, 3);
    assert_int_equal(info.page_size, 4096);
    assert_int_equal(info.multifd_bytes, 4096);
    assert_int_equal(info.pages_per_second, 87000);
    assert_int_equal(info.precopy_bytes, 499000000);
    assert_true(info.mbps > 3105.4 && info.mbps < 3105.6);
    assert_int_equal(info.expected_downtime_ms, 31);
    assert_int_equal(info.total_time_ms, 1234);
    assert_int_equal(info.setup_time_ms, 4);
    assert_int_equal(info.downtime_ms, -1);
    assert_string_equal(info.error_desc, "");

    assert_int_equal(qmp_query_migrate(qmp, &info), 0);
    assert_int_equal(info.status, QMP_MIGRATION_COMPLETED);
    assert_int_equal(info.downtime_ms, 35);
    assert_int_equal(info.expected_downtime_ms, -1);

    assert_int_equal(qmp_query_migrate(qmp, &info), 0);
    assert_int_equal(info.status, QMP_MIGRATION_FAILED);
    assert_string_equal(info.error_desc, "Unable to write to socket: Broken pipe");

    assert_int_equal(qmp_query_migrate(qmp, &info), 0);
    assert_int_equal(info.status, QMP_MIGRATION_NONE);
    assert_false(info.has_ram);
    qmp_close(qmp);
    peer_finish(&peer);
    peer_free(&peer);
}

/* QEMU 7.2 says "completed" before its migration thread has computed the
 * totals; in between, query-migrate reports total-time and downtime 0. */
static void test_query_migrate_waits_for_totals(void **state)
{
    (void)state;
    struct peer peer;
#define COMPLETED_EARLY                                                                            \
    "{\"return\": {\"status\": \"completed\", \"setup-time\": 4, \"downtime\": 0, "          \
    "\"total-time\": 0, \"ram\": {\"transferred\": 9, \"remaining\": 0, \"total\": 9}}, "   \
    "\"id\": %ID%}\n"
    struct step steps[] = {
        HELLO,
        { "query-migrate", 0, COMPLETED_EARLY, false },
        { "query-migrate", 0, COMPLETED_EARLY, false },
        { "query-migrate", 0,
          "{\"return\": {\"status\": \"completed\", \"setup-time\": 4, \"downtime\": 87, "
          "\"total-time\": 4321, \"ram\": {\"transferred\": 9, \"remaining\": 0, "
          "\"total\": 9}}, \"id\": %ID%}\n", false },
        { "query-migrate", 0,
          "{\"return\": {\"status\": \"active\", \"total-time\": 0}, \"id\": %ID%}\n", false },
    };
#undef COMPLETED_EARLY
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    struct qmp_migration_info info;
    assert_int_equal(qmp_query_migrate(qmp, &info), 0);
    assert_int_equal(info.status, QMP_MIGRATION_COMPLETED);
    assert_int_equal(info.total_time_ms, 4321);
    assert_int_equal(info.downtime_ms, 87);
    /* Only a completed migration is asked again: an active one that has
     * just begun may well have run for 0 ms. */
    assert_int_equal(qmp_query_migrate(qmp, &info), 0);
    assert_int_equal(info.status, QMP_MIGRATION_ACTIVE);
    assert_int_equal(info.total_time_ms, 0);
    qmp_close(qmp);
    peer_finish(&peer);
    assert_int_equal(peer.n_lines, 5);
    assert_int_equal(peer.mismatches, 0);
    peer_free(&peer);
}

static void test_arguments_sent(void **state)
{
    (void)state;
    struct peer peer;
    struct step steps[] = {
        HELLO,
        { "migrate-set-capabilities", 0, OK, false },
        { "migrate-set-parameters", 0, OK, false },
        { "migrate-set-parameters", 0, OK, false },
        { "migrate-continue", 0, OK, false },
        { "announce-self", 0, OK, false },
        { "announce-self", 0, OK, false },
        { "migrate_cancel", 0, OK, false },
        { "migrate-incoming", 0, OK, false },
    };
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    struct qmp_capability_setting caps[] = {
        { QMP_CAPABILITY_EVENTS, true },
        { QMP_CAPABILITY_MULTIFD, true },
        { QMP_CAPABILITY_PAUSE_BEFORE_SWITCHOVER, false },
    };
    assert_int_equal(qmp_migrate_set_capabilities(qmp, caps, 3), 0);
    struct qmp_migration_parameters all = { 300, 1250000000, 4, 1 };
    assert_int_equal(qmp_migrate_set_parameters(qmp, &all), 0);
    struct qmp_migration_parameters one = { -1, 0, 0, 0 };
    assert_int_equal(qmp_migrate_set_parameters(qmp, &one), 0);
    struct qmp_migration_parameters none = { -1, -1, 0, 0 };
    assert_int_equal(qmp_migrate_set_parameters(qmp, &none), 0); /* sends nothing */
    assert_int_equal(qmp_migrate_continue(qmp, QMP_MIGRATION_PRE_SWITCHOVER), 0);
    assert_int_equal(qmp_announce_self(qmp, NULL), 0);
    struct qmp_announce fast = { 0, 100, 3, 50 };
    assert_int_equal(qmp_announce_self(qmp, &fast), 0);
    assert_int_equal(qmp_migrate_cancel(qmp), 0);
    assert_int_equal(qmp_migrate_incoming(qmp, "unix:/run/lmnet/in.sock"), 0);
    qmp_close(qmp);
    peer_finish(&peer);

    static const char *const want[] = {
        "{\"capabilities\":[{\"capability\":\"events\",\"state\":true},"
        "{\"capability\":\"multifd\",\"state\":true},"
        "{\"capability\":\"pause-before-switchover\",\"state\":false}]}",
        "{\"downtime-limit\":300,\"max-bandwidth\":1250000000,\"multifd-channels\":4,"
        "\"announce-initial\":1}",
        "{\"max-bandwidth\":0}",
        "{\"state\":\"pre-switchover\"}",
        "{\"initial\":50,\"max\":550,\"rounds\":5,\"step\":100}",
        "{\"initial\":0,\"max\":100,\"rounds\":3,\"step\":50}",
    };
    for (int i = 0; i < 6; i++) {
        struct json_object *args = peer_arguments(&peer, i + 1);
        assert_string_equal(json_object_to_json_string_ext(args, JSON_C_TO_STRING_PLAIN), want[i]);
        json_object_put(args);
    }
    /* migrate_cancel has no arguments at all. */
    struct json_object *cmd = json_tokener_parse(peer.lines[7]), *field;
    assert_false(json_object_object_get_ex(cmd, "arguments", &field));
    json_object_put(cmd);
    peer_free(&peer);
}

/* A fake QEMU for getfd: reads the greeting's negotiation and one command
 * with recvmsg, keeps the descriptor that came with it, writes "x" into it
 * and answers. */
struct fd_peer {
    int fd;
    int received; /* the descriptor that came with the command, or -1 */
    char line[512];
};

static void *fd_peer_thread(void *arg)
{
    struct fd_peer *p = arg;
    send_text(p->fd, GREETING, "0");
    char *neg = read_line(p->fd);
    free(neg);
    send_text(p->fd, OK, "1");
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    size_t len = 0;
    p->received = -1;
    while (len < sizeof(p->line) - 1 && !memchr(p->line, '\n', len)) {
        struct iovec iov = { .iov_base = p->line + len, .iov_len = sizeof(p->line) - 1 - len };
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                              .msg_controllen = sizeof(control.buf) };
        ssize_t n = recvmsg(p->fd, &msg, 0);
        if (n <= 0)
            break;
        struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
        if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
            memcpy(&p->received, CMSG_DATA(c), sizeof(int));
        len += (size_t)n;
    }
    p->line[len] = '\0';
    if (p->received >= 0 && write(p->received, "x", 1) != 1)
        fprintf(stderr, "fake qemu: cannot write to the descriptor\n");
    send_text(p->fd, OK, "2");
    return NULL;
}

static void test_getfd_passes_descriptor(void **state)
{
    (void)state;
    int sv[2], pipefd[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    assert_int_equal(pipe(pipefd), 0);
    struct fd_peer peer = { .fd = sv[1], .received = -1 };
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, fd_peer_thread, &peer), 0);
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(sv[0], 2000, &qmp), 0);
    assert_int_equal(qmp_getfd(qmp, "", pipefd[1]), -EINVAL);
    assert_int_equal(qmp_getfd(qmp, "mig", -1), -EINVAL);
    assert_int_equal(qmp_getfd(qmp, "mig", pipefd[1]), 0);
    pthread_join(thread, NULL);
    /* The peer got its own copy: it wrote through it. */
    assert_true(peer.received >= 0 && peer.received != pipefd[1]);
    char c = 0;
    assert_int_equal(read(pipefd[0], &c, 1), 1);
    assert_int_equal(c, 'x');
    struct json_object *cmd = json_tokener_parse(peer.line), *field, *name;
    assert_non_null(cmd);
    assert_true(json_object_object_get_ex(cmd, "execute", &field));
    assert_string_equal(json_object_get_string(field), "getfd");
    assert_true(json_object_object_get_ex(cmd, "arguments", &field));
    assert_true(json_object_object_get_ex(field, "fdname", &name));
    assert_string_equal(json_object_get_string(name), "mig");
    json_object_put(cmd);
    qmp_close(qmp);
    close(peer.received);
    close(sv[1]);
    close(pipefd[0]);
    close(pipefd[1]);
}

static void test_quit(void **state)
{
    (void)state;
    struct peer peer;
    /* QEMU may close the socket before its reply to quit reaches us. */
    struct step steps[] = { HELLO, { "quit", 0, NULL, true } };
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    assert_int_equal(qmp_quit(qmp), 0);
    assert_int_equal(qmp_cont(qmp), -ECONNRESET);
    qmp_close(qmp);
    peer_finish(&peer);
    peer_free(&peer);

    struct step polite[] = { HELLO, { "quit", 0, OK, true } };
    fd = peer_start(&peer, polite, sizeof(polite) / sizeof(polite[0]));
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    assert_int_equal(qmp_quit(qmp), 0);
    qmp_close(qmp);
    peer_finish(&peer);
    peer_free(&peer);
}

static void test_event_queue_overflow(void **state)
{
    (void)state;
    static char flood[300 * 120];
    size_t len = 0;
    for (int i = 0; i < 300; i++)
        len += (size_t)snprintf(flood + len, sizeof(flood) - len,
                                "{\"event\": \"MIGRATION_PASS\", \"data\": {\"pass\": %d}, "
                                "\"timestamp\": {\"seconds\": 0, \"microseconds\": 0}}\n", i);
    snprintf(flood + len, sizeof(flood) - len, "%s", OK);
    struct peer peer;
    struct step steps[] = { HELLO, { "stop", 0, flood, false } };
    int fd = peer_start(&peer, steps, sizeof(steps) / sizeof(steps[0]));
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_open(fd, 2000, &qmp), 0);
    assert_int_equal(qmp_stop(qmp), 0);
    assert_true(qmp_events_dropped(qmp) > 0);
    /* The newest events are kept, in order. */
    struct qmp_event ev, last = { 0 };
    int n = 0;
    while (qmp_next_event(qmp, 0, &ev) == 0) {
        if (n > 0)
            assert_int_equal(ev.pass, last.pass + 1);
        last = ev;
        n++;
    }
    assert_int_equal(last.pass, 299);
    assert_int_equal((uint64_t)n + qmp_events_dropped(qmp), 300);
    qmp_close(qmp);
    peer_finish(&peer);
    peer_free(&peer);
}

struct late_listener {
    char path[108];
    pthread_t thread;
};

/* Creates the QMP socket only after a while, as a starting QEMU does, and
 * then plays QEMU for the greeting and negotiation. */
static void *late_listener_thread(void *arg)
{
    struct late_listener *l = arg;
    clock_sleep_ms(150);
    int lfd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", l->path);
    if (bind(lfd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(lfd, 1) < 0) {
        close(lfd);
        return NULL;
    }
    int fd = accept(lfd, NULL, NULL);
    close(lfd);
    if (fd < 0)
        return NULL;
    send_text(fd, GREETING, "0");
    char *line = read_line(fd);
    char id[32] = "0";
    struct json_object *cmd = line ? json_tokener_parse(line) : NULL, *field;
    if (cmd && json_object_object_get_ex(cmd, "id", &field))
        snprintf(id, sizeof(id), "%s", json_object_get_string(field));
    json_object_put(cmd);
    free(line);
    send_text(fd, OK, id);
    close(fd);
    return NULL;
}

static void test_connect_waits_for_socket(void **state)
{
    (void)state;
    struct late_listener l;
    snprintf(l.path, sizeof(l.path), "/tmp/lmnet-test-qmp-%d.sock", (int)getpid());
    unlink(l.path);
    struct qmp *qmp = NULL;
    assert_int_equal(qmp_connect(l.path, 100, &qmp), -ETIMEDOUT);
    assert_int_equal(pthread_create(&l.thread, NULL, late_listener_thread, &l), 0);
    assert_int_equal(qmp_connect(l.path, 3000, &qmp), 0);
    int major, minor, micro;
    qmp_version(qmp, &major, &minor, &micro);
    assert_int_equal(major, 7);
    qmp_close(qmp);
    pthread_join(l.thread, NULL);
    unlink(l.path);
    char longpath[200];
    memset(longpath, 'a', sizeof(longpath) - 1);
    longpath[sizeof(longpath) - 1] = '\0';
    assert_int_equal(qmp_connect(longpath, 100, &qmp), -ENAMETOOLONG);
}

static void test_names(void **state)
{
    (void)state;
    for (int i = 0; i < QMP_MIGRATION_STATUS_COUNT; i++)
        if (i != QMP_MIGRATION_UNKNOWN)
            assert_int_equal(qmp_migration_status_from_string(
                                 qmp_migration_status_to_string((enum qmp_migration_status)i)),
                             i);
    for (int i = 1; i < QMP_RUN_STATE_COUNT; i++)
        assert_int_equal(qmp_run_state_from_string(qmp_run_state_to_string((enum qmp_run_state)i)),
                         i);
    assert_int_equal(qmp_migration_status_from_string("postcopy-recover-setup"),
                     QMP_MIGRATION_UNKNOWN);
    assert_int_equal(qmp_migration_status_from_string(NULL), QMP_MIGRATION_UNKNOWN);
    assert_string_equal(qmp_migration_status_to_string(QMP_MIGRATION_STATUS_COUNT), "unknown");
    assert_string_equal(qmp_migration_capability_to_string(QMP_CAPABILITY_PAUSE_BEFORE_SWITCHOVER),
                        "pause-before-switchover");
    assert_string_equal(qmp_migration_capability_to_string(QMP_CAPABILITY_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_greeting_and_status),
        cmocka_unit_test(test_query_kvm),
        cmocka_unit_test(test_bad_greeting),
        cmocka_unit_test(test_no_greeting_times_out),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_events_between_replies),
        cmocka_unit_test(test_timeout_then_late_reply),
        cmocka_unit_test(test_peer_closes),
        cmocka_unit_test(test_peer_closes_mid_message),
        cmocka_unit_test(test_nonsense_reply),
        cmocka_unit_test(test_line_starting_with_nul),
        cmocka_unit_test(test_empty_lines),
        cmocka_unit_test(test_huge_timestamps),
        cmocka_unit_test(test_query_migrate_full),
        cmocka_unit_test(test_query_migrate_waits_for_totals),
        cmocka_unit_test(test_arguments_sent),
        cmocka_unit_test(test_getfd_passes_descriptor),
        cmocka_unit_test(test_quit),
        cmocka_unit_test(test_event_queue_overflow),
        cmocka_unit_test(test_connect_waits_for_socket),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
