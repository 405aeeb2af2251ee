/* vswitch/openflow.c against a fake switch on a unix socket: the session
 * opens (hello, port-status messages asked for, port table read), learns
 * ports that come and go, encodes flows, bundles and port flags as
 * OpenFlow 1.4 has them, reports the switch's refusals, answers echoes,
 * and fails cleanly when the switch speaks an older version or closes. */
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
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include "vswitch/openflow.h"

#define MAX_RECORDED 16

struct fake_switch {
    char path[108];
    int listen_fd;
    int fd;
    pthread_t thread;
    pthread_mutex_t lock; /* guards fd writes and the records */
    uint8_t hello_version;
    bool refuse_commit;
    bool close_after_ports; /* hang up once the port table went out */
    /* what it received */
    bool async_set;
    uint32_t async_mask;
    int echo_replies;
    size_t n_flow_mods; /* inside bundles, in order */
    uint8_t flow_mods[MAX_RECORDED][256];
    size_t flow_mod_len[MAX_RECORDED];
    int bundle_flags_bad; /* bundle messages without atomic|ordered */
    int bad_version;      /* messages that were not OpenFlow 1.4 */
    int plain_flow_mods;  /* outside bundles */
    uint8_t plain[256];
    uint8_t port_mod[64];
    size_t port_mod_len;
};

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void set16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static void set32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void fake_send(struct fake_switch *sw, uint8_t type, uint32_t xid, const uint8_t *body,
                      size_t len)
{
    uint8_t m[1024];
    m[0] = sw->hello_version;
    m[1] = type;
    set16(m + 2, (uint16_t)(8 + len));
    set32(m + 4, xid);
    if (len)
        memcpy(m + 8, body, len);
    pthread_mutex_lock(&sw->lock);
    if (sw->fd >= 0 && send(sw->fd, m, 8 + len, MSG_NOSIGNAL) != (ssize_t)(8 + len))
        fprintf(stderr, "fake switch: short write\n");
    pthread_mutex_unlock(&sw->lock);
}

/* An OpenFlow 1.4 ofp_port (40 bytes, no properties) at P. */
static void put_port(uint8_t *p, uint32_t number, const char *name, uint8_t last_hw)
{
    memset(p, 0, 40);
    set32(p, number);
    set16(p + 4, 40);
    uint8_t hw[6] = { 0x02, 0, 0, 0, 0, last_hw };
    memcpy(p + 8, hw, 6);
    snprintf((char *)p + 16, 16, "%s", name);
}

/* Tells the session a port came (ADD) or went (DELETE). */
static void fake_port_status(struct fake_switch *sw, uint8_t reason, uint32_t number,
                             const char *name)
{
    uint8_t body[48] = { reason };
    put_port(body + 8, number, name, (uint8_t)number);
    fake_send(sw, 12, 0, body, sizeof(body));
}

static void handle(struct fake_switch *sw, const uint8_t *m, size_t len)
{
    uint8_t type = m[1];
    uint32_t xid = get32(m + 4);
    switch (type) {
    case 28: /* SET_ASYNC: one property per status kind */
        pthread_mutex_lock(&sw->lock);
        sw->async_set = true;
        for (size_t at = 8; at + 8 <= len; at += 8)
            if (get16(m + at) == 3) /* PORT_STATUS_MASTER */
                sw->async_mask = get32(m + at + 4);
        pthread_mutex_unlock(&sw->lock);
        break;
    case 20: /* BARRIER_REQUEST */
        fake_send(sw, 21, xid, NULL, 0);
        break;
    case 18: { /* MULTIPART_REQUEST: port description, in two replies */
        uint8_t body[8 + 40] = { 0, 13, 0, 1 }; /* REPLY_MORE */
        put_port(body + 8, 1, "eth0", 1);
        fake_send(sw, 19, xid, body, sizeof(body));
        body[3] = 0;
        put_port(body + 8, 7, "vm-a", 7);
        fake_send(sw, 19, xid, body, sizeof(body));
        if (sw->close_after_ports) {
            pthread_mutex_lock(&sw->lock);
            shutdown(sw->fd, SHUT_RDWR);
            pthread_mutex_unlock(&sw->lock);
        }
        break;
    }
    case 33: { /* BUNDLE_CONTROL */
        uint16_t ctl = get16(m + 12);
        if (get16(m + 14) != 3)
            sw->bundle_flags_bad++;
        uint8_t body[8];
        memcpy(body, m + 8, 8);
        if (ctl == 4 && sw->refuse_commit) { /* COMMIT_REQUEST refused */
            uint8_t err[4] = { 0, 17, 0, 10 };
            fake_send(sw, 1, xid, err, sizeof(err));
            break;
        }
        set16(body + 4, (uint16_t)(ctl + 1)); /* the matching reply */
        fake_send(sw, 33, xid, body, sizeof(body));
        break;
    }
    case 34: /* BUNDLE_ADD_MESSAGE: the inner message at 16 carries our xid */
        pthread_mutex_lock(&sw->lock);
        if (get16(m + 14) != 3)
            sw->bundle_flags_bad++;
        if (sw->n_flow_mods < MAX_RECORDED && len - 16 <= 256 && m[17] == 14 &&
            get32(m + 20) == xid) {
            memcpy(sw->flow_mods[sw->n_flow_mods], m + 16, len - 16);
            sw->flow_mod_len[sw->n_flow_mods++] = len - 16;
        }
        pthread_mutex_unlock(&sw->lock);
        break;
    case 14: /* FLOW_MOD */
        pthread_mutex_lock(&sw->lock);
        sw->plain_flow_mods++;
        memcpy(sw->plain, m, len < sizeof(sw->plain) ? len : sizeof(sw->plain));
        pthread_mutex_unlock(&sw->lock);
        break;
    case 16: /* PORT_MOD */
        pthread_mutex_lock(&sw->lock);
        memcpy(sw->port_mod, m, len < sizeof(sw->port_mod) ? len : sizeof(sw->port_mod));
        sw->port_mod_len = len;
        pthread_mutex_unlock(&sw->lock);
        break;
    case 3: /* ECHO_REPLY */
        pthread_mutex_lock(&sw->lock);
        if (len == 12 && memcmp(m + 8, "ping", 4) == 0)
            sw->echo_replies++;
        pthread_mutex_unlock(&sw->lock);
        break;
    }
}

static void *switch_thread(void *arg)
{
    struct fake_switch *sw = arg;
    int fd = accept(sw->listen_fd, NULL, NULL);
    pthread_mutex_lock(&sw->lock);
    sw->fd = fd;
    pthread_mutex_unlock(&sw->lock);
    if (fd < 0)
        return NULL;
    fake_send(sw, 0, 1, NULL, 0); /* HELLO */
    uint8_t buf[65536];
    size_t have = 0;
    for (;;) {
        ssize_t n = read(fd, buf + have, sizeof(buf) - have);
        if (n <= 0)
            break;
        have += (size_t)n;
        size_t at = 0;
        while (have - at >= 8 && have - at >= get16(buf + at + 2)) {
            size_t len = get16(buf + at + 2);
            if (buf[at] != 0x05) /* everything we get must be OpenFlow 1.4 */
                sw->bad_version++;
            handle(sw, buf + at, len);
            at += len;
        }
        memmove(buf, buf + at, have - at);
        have -= at;
    }
    return NULL;
}

static void fake_start(struct fake_switch *sw, uint8_t version)
{
    memset(sw, 0, sizeof(*sw));
    sw->hello_version = version;
    sw->fd = -1;
    pthread_mutex_init(&sw->lock, NULL);
    static int counter;
    snprintf(sw->path, sizeof(sw->path), "/tmp/lmnet-test-of-%d-%d.mgmt", (int)getpid(), ++counter);
    unlink(sw->path);
    sw->listen_fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sw->path);
    assert_int_equal(bind(sw->listen_fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    assert_int_equal(listen(sw->listen_fd, 1), 0);
    assert_int_equal(pthread_create(&sw->thread, NULL, switch_thread, sw), 0);
}

static void fake_stop(struct fake_switch *sw)
{
    pthread_mutex_lock(&sw->lock);
    if (sw->fd >= 0)
        shutdown(sw->fd, SHUT_RDWR);
    pthread_mutex_unlock(&sw->lock);
    shutdown(sw->listen_fd, SHUT_RDWR);
    pthread_join(sw->thread, NULL);
    if (sw->fd >= 0)
        close(sw->fd);
    close(sw->listen_fd);
    unlink(sw->path);
    pthread_mutex_destroy(&sw->lock);
}

static void test_open_reads_ports(void **state)
{
    (void)state;
    struct fake_switch sw;
    fake_start(&sw, 0x06); /* a switch that could do 1.5 settles on our 1.4 */
    struct openflow *of = NULL;
    assert_int_equal(openflow_open(sw.path, 2000, &of), 0);
    assert_true(sw.async_set);
    assert_int_equal(sw.async_mask, 7); /* add, delete, modify */
    struct openflow_port p;
    assert_int_equal(openflow_port(of, "eth0", 0, &p), 0);
    assert_int_equal(p.number, 1);
    assert_int_equal(openflow_port(of, "vm-a", 0, &p), 0);
    assert_int_equal(p.number, 7);
    const uint8_t hw[6] = { 0x02, 0, 0, 0, 0, 7 };
    assert_memory_equal(p.hw_addr, hw, 6);
    assert_int_equal(openflow_port(of, "nope", 50, &p), -ENOENT);
    assert_int_equal(openflow_port(of, "a-name-longer-than-15", 0, &p), -EINVAL);
    assert_int_equal(openflow_status(of), 0);
    openflow_close(of);
    fake_stop(&sw);
}

static void *add_later(void *arg)
{
    struct fake_switch *sw = arg;
    struct timespec ts = { 0, 100 * 1000 * 1000 };
    nanosleep(&ts, NULL);
    fake_port_status(sw, 0, 9, "vm-b");
    return NULL;
}

static void test_ports_come_and_go(void **state)
{
    (void)state;
    struct fake_switch sw;
    fake_start(&sw, 0x05);
    struct openflow *of = NULL;
    assert_int_equal(openflow_open(sw.path, 2000, &of), 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, add_later, &sw), 0);
    struct openflow_port p;
    assert_int_equal(openflow_port(of, "vm-b", 2000, &p), 0); /* waited for it */
    assert_int_equal(p.number, 9);
    pthread_join(t, NULL);
    fake_port_status(&sw, 1, 9, "vm-b"); /* DELETE */
    int r = 0;
    for (int i = 0; i < 100 && r == 0; i++) {
        usleep(10000);
        r = openflow_port(of, "vm-b", 0, &p);
    }
    assert_int_equal(r, -ENOENT);
    assert_int_equal(openflow_port(of, "vm-a", 0, &p), 0); /* the others stay */
    openflow_close(of);
    fake_stop(&sw);
}

static void test_bundle_encoding(void **state)
{
    (void)state;
    struct fake_switch sw;
    fake_start(&sw, 0x05);
    struct openflow *of = NULL;
    assert_int_equal(openflow_open(sw.path, 2000, &of), 0);
    struct openflow_flow flows[2] = {
        { .cookie = 0x4c4d4e5400000001ull, .priority = 200, .in_port = 7, .has_eth_src = true,
          .eth_src = { 0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0xee }, .udp_src = -1, .icmp_type = -1,
          .normal = true },
        { .cookie = 0x4c4d4e5400000001ull, .priority = 300, .in_port = 7, .eth_type = 0x0800,
          .ip_proto = 17, .udp_src = 67, .icmp_type = -1 },
    };
    struct openflow_change change = { .cookie = 0x4c4d4e5400000001ull, .flows = flows,
                                      .n_flows = 2 };
    assert_int_equal(openflow_apply(of, &change, 1), 0);
    assert_int_equal(sw.bundle_flags_bad, 0);
    assert_int_equal(sw.bad_version, 0);
    assert_int_equal(sw.n_flow_mods, 3);
    /* First the port's old flows out: DELETE, every table, exact cookie. */
    const uint8_t *d = sw.flow_mods[0];
    assert_int_equal(get32(d + 8), 0x4c4d4e54);
    assert_int_equal(get32(d + 12), 1);
    assert_int_equal(get32(d + 16), 0xffffffff); /* cookie mask */
    assert_int_equal(get32(d + 20), 0xffffffff);
    assert_int_equal(d[24], 0xff); /* OFPTT_ALL */
    assert_int_equal(d[25], 3);    /* OFPFC_DELETE */
    assert_int_equal(get32(d + 36), 0xffffffff); /* out_port any */
    assert_int_equal(get16(d + 48), 1);          /* OXM match */
    assert_int_equal(get16(d + 50), 4);          /* and empty */
    assert_int_equal(sw.flow_mod_len[0], 56);
    /* Then the MAC's own frames to NORMAL: in_port and eth_src, one
     * apply-actions instruction with output:NORMAL. */
    const uint8_t *a = sw.flow_mods[1];
    assert_int_equal(sw.flow_mod_len[1], 96);
    assert_int_equal(get16(a + 2), 96);
    assert_int_equal(a[25], 0);                  /* OFPFC_ADD */
    assert_int_equal(get16(a + 30), 200);        /* priority */
    assert_int_equal(get32(a + 32), 0xffffffff); /* no buffer */
    assert_int_equal(get16(a + 50), 4 + 8 + 10); /* match length before padding */
    assert_int_equal(get32(a + 52), 0x80000004); /* OXM in_port */
    assert_int_equal(get32(a + 56), 7);
    assert_int_equal(get32(a + 60), 0x80000806); /* OXM eth_src */
    assert_memory_equal(a + 64, flows[0].eth_src, 6);
    assert_int_equal(get16(a + 72), 4);          /* apply actions */
    assert_int_equal(get16(a + 74), 24);
    assert_int_equal(get16(a + 80), 0);          /* output */
    assert_int_equal(get32(a + 84), 0xfffffffa); /* NORMAL */
    /* A DHCP server reply dropped: prerequisites in order, no instruction. */
    const uint8_t *g = sw.flow_mods[2];
    assert_int_equal(sw.flow_mod_len[2], 48 + 32);
    assert_int_equal(get16(g + 50), 4 + 8 + 6 + 5 + 6);
    assert_int_equal(get32(g + 60), 0x80000a02); /* eth_type */
    assert_int_equal(get16(g + 64), 0x0800);
    assert_int_equal(get32(g + 66), 0x80001401); /* ip_proto */
    assert_int_equal(g[70], 17);
    assert_int_equal(get32(g + 71), 0x80001e02); /* udp_src */
    assert_int_equal(get16(g + 75), 67);
    openflow_close(of);
    fake_stop(&sw);
}

static void test_refusal_and_port_flags(void **state)
{
    (void)state;
    struct fake_switch sw;
    fake_start(&sw, 0x05);
    sw.refuse_commit = true;
    struct openflow *of = NULL;
    assert_int_equal(openflow_open(sw.path, 2000, &of), 0);
    struct openflow_flow drop = { .cookie = 5, .priority = 400, .in_port = 7, .udp_src = -1,
                                  .icmp_type = -1 };
    struct openflow_change change = { .cookie = 5, .flows = &drop, .n_flows = 1 };
    assert_int_equal(openflow_apply(of, &change, 1), -EREMOTEIO);
    assert_string_equal(openflow_last_error(of), "type 17 code 10");
    assert_int_equal(openflow_status(of), 0); /* a refusal does not end the session */

    struct openflow_port p;
    assert_int_equal(openflow_port(of, "vm-a", 0, &p), 0);
    assert_int_equal(openflow_port_forward(of, &p, false), 0);
    assert_int_equal(sw.port_mod_len, 32);
    assert_int_equal(get32(sw.port_mod + 8), 7);
    assert_memory_equal(sw.port_mod + 16, p.hw_addr, 6); /* the switch checks it */
    assert_int_equal(get32(sw.port_mod + 24), 0x20);     /* no-forward set */
    assert_int_equal(get32(sw.port_mod + 28), 0x20);     /* and only it */
    assert_int_equal(openflow_port_forward(of, &p, true), 0);
    assert_int_equal(get32(sw.port_mod + 24), 0);

    /* The switch's echo is answered by the session itself. */
    fake_send(&sw, 2, 99, (const uint8_t *)"ping", 4);
    for (int i = 0; i < 100 && !sw.echo_replies; i++)
        usleep(10000);
    assert_int_equal(sw.echo_replies, 1);
    openflow_close(of);
    fake_stop(&sw);
}

static void test_old_switch_and_hang_up(void **state)
{
    (void)state;
    struct fake_switch sw;
    fake_start(&sw, 0x04); /* OpenFlow 1.3 only: no bundles */
    struct openflow *of = NULL;
    assert_int_equal(openflow_open(sw.path, 2000, &of), -EPROTONOSUPPORT);
    fake_stop(&sw);

    fake_start(&sw, 0x05);
    sw.close_after_ports = true;
    assert_int_equal(openflow_open(sw.path, 2000, &of), 0);
    int r = 0;
    for (int i = 0; i < 100 && r == 0; i++) {
        r = openflow_status(of);
        usleep(10000);
    }
    assert_int_equal(r, -ECONNRESET);
    struct openflow_port p;
    assert_int_equal(openflow_port(of, "new", 1000, &p), -ECONNRESET); /* no wait */
    struct openflow_change none = { .cookie = 1 };
    assert_int_equal(openflow_apply(of, &none, 1), -ECONNRESET);
    openflow_close(of);
    fake_stop(&sw);

    assert_int_equal(openflow_open("/tmp/lmnet-no-such.mgmt", 100, &of), -ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_open_reads_ports),
        cmocka_unit_test(test_ports_come_and_go),
        cmocka_unit_test(test_bundle_encoding),
        cmocka_unit_test(test_refusal_and_port_flags),
        cmocka_unit_test(test_old_switch_and_hang_up),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
