/* OpenFlow 1.4 to one bridge: see vswitch/openflow.h.  The wire formats are
 * those of the OpenFlow Switch Specification 1.4 (all fields big-endian;
 * every message starts with the 8-byte ofp_header). */
#include "vswitch/openflow.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include "base/clock.h"

#define OFP_VERSION 0x05 /* OpenFlow 1.4 */

enum ofp_type {
    OFPT_HELLO = 0,
    OFPT_ERROR = 1,
    OFPT_ECHO_REQUEST = 2,
    OFPT_ECHO_REPLY = 3,
    OFPT_PORT_STATUS = 12,
    OFPT_FLOW_MOD = 14,
    OFPT_PORT_MOD = 16,
    OFPT_MULTIPART_REQUEST = 18,
    OFPT_MULTIPART_REPLY = 19,
    OFPT_BARRIER_REQUEST = 20,
    OFPT_BARRIER_REPLY = 21,
    OFPT_SET_ASYNC = 28,
    OFPT_BUNDLE_CONTROL = 33,
    OFPT_BUNDLE_ADD_MESSAGE = 34,
};

#define OFPMP_PORT_DESC 13
#define OFPMPF_REPLY_MORE 1
#define OFPFC_ADD 0
#define OFPFC_DELETE 3
#define OFPTT_ALL 0xff
#define OFP_NO_BUFFER 0xffffffffu
#define OFPP_ANY 0xffffffffu
#define OFPG_ANY 0xffffffffu
#define OFPCML_NO_BUFFER 0xffff
#define OFPMT_OXM 1
#define OFPIT_APPLY_ACTIONS 4
#define OFPAT_OUTPUT 0
#define OFPPC_NO_FWD (1u << 5)
#define OFPPR_ADD 0
#define OFPPR_DELETE 1
#define OFPACPT_PORT_STATUS_SLAVE 2
#define OFPACPT_PORT_STATUS_MASTER 3
#define OFPBCT_OPEN_REQUEST 0
#define OFPBCT_COMMIT_REQUEST 4
#define OFPBCT_COMMIT_REPLY 5
#define OFPBF_ATOMIC 1
#define OFPBF_ORDERED 2

/* OXM headers, class OPENFLOW_BASIC: class << 16 | field << 9 | length. */
#define OXM(field, len) (0x80000000u | ((uint32_t)(field) << 9) | (uint32_t)(len))
#define OXM_IN_PORT OXM(0, 4)
#define OXM_ETH_SRC OXM(4, 6)
#define OXM_ETH_TYPE OXM(5, 2)
#define OXM_IP_PROTO OXM(10, 1)
#define OXM_UDP_SRC OXM(15, 2)
#define OXM_ICMPV4_TYPE OXM(19, 1)
#define OXM_ICMPV6_TYPE OXM(29, 1)

#define PORT_NAME_SIZE 16
#define PORT_MIN_SIZE 40 /* struct ofp_port without properties */
#define READ_BUFFER (256 * 1024)
#define MAX_MESSAGE 65535

struct port_entry {
    char name[PORT_NAME_SIZE + 1];
    struct openflow_port port;
};

/* A caller waiting for the answer to its request XID: a message of type
 * TYPE (and, for bundle control, SUBTYPE), or an error. */
struct waiter {
    struct waiter *next;
    uint32_t xid;
    uint8_t type;
    int subtype;
    bool done;
    int result;
};

struct openflow {
    int fd;
    pthread_t reader;
    pthread_mutex_t send_lock; /* one message stream at a time */
    pthread_mutex_t lock;      /* guards everything below */
    pthread_cond_t cond;       /* a waiter done, the port table changed, or the end */
    int status;                /* 0, or why the session ended */
    uint32_t next_xid;
    uint32_t next_bundle;
    struct waiter *waiters;
    struct port_entry *ports;
    size_t n_ports, cap_ports;
    char last_error[64];
};

/* ---- building messages ---- */

struct buf {
    uint8_t *data;
    size_t len, cap;
    bool failed;
};

static void buf_reserve(struct buf *b, size_t more)
{
    if (b->failed || b->len + more <= b->cap)
        return;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + more)
        cap *= 2;
    uint8_t *p = realloc(b->data, cap);
    if (!p) {
        b->failed = true;
        return;
    }
    b->data = p;
    b->cap = cap;
}

static void put_bytes(struct buf *b, const void *p, size_t n)
{
    buf_reserve(b, n);
    if (b->failed)
        return;
    memcpy(b->data + b->len, p, n);
    b->len += n;
}

static void put8(struct buf *b, uint8_t v)
{
    put_bytes(b, &v, 1);
}

static void put16(struct buf *b, uint16_t v)
{
    uint8_t p[2] = { (uint8_t)(v >> 8), (uint8_t)v };
    put_bytes(b, p, 2);
}

static void put32(struct buf *b, uint32_t v)
{
    uint8_t p[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16), (uint8_t)(v >> 8), (uint8_t)v };
    put_bytes(b, p, 4);
}

static void put64(struct buf *b, uint64_t v)
{
    put32(b, (uint32_t)(v >> 32));
    put32(b, (uint32_t)v);
}

static void put_zeros(struct buf *b, size_t n)
{
    static const uint8_t zeros[8];
    while (n) {
        size_t k = n < sizeof(zeros) ? n : sizeof(zeros);
        put_bytes(b, zeros, k);
        n -= k;
    }
}

static void patch16(struct buf *b, size_t at, uint16_t v)
{
    if (b->failed)
        return;
    b->data[at] = (uint8_t)(v >> 8);
    b->data[at + 1] = (uint8_t)v;
}

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Starts a message; returns where it starts (finish with msg_end). */
static size_t msg_begin(struct buf *b, uint8_t type, uint32_t xid)
{
    size_t at = b->len;
    put8(b, OFP_VERSION);
    put8(b, type);
    put16(b, 0); /* length, patched by msg_end */
    put32(b, xid);
    return at;
}

static void msg_end(struct buf *b, size_t at)
{
    if (b->len - at > MAX_MESSAGE)
        b->failed = true;
    patch16(b, at + 2, (uint16_t)(b->len - at));
}

static void put_match(struct buf *b, const struct openflow_flow *f)
{
    size_t at = b->len;
    put16(b, OFPMT_OXM);
    put16(b, 0); /* length without the padding */
    if (f) {
        put32(b, OXM_IN_PORT);
        put32(b, f->in_port);
        if (f->has_eth_src) {
            put32(b, OXM_ETH_SRC);
            put_bytes(b, f->eth_src, 6);
        }
        if (f->eth_type) {
            put32(b, OXM_ETH_TYPE);
            put16(b, f->eth_type);
        }
        if (f->ip_proto) {
            put32(b, OXM_IP_PROTO);
            put8(b, f->ip_proto);
        }
        if (f->udp_src >= 0) {
            put32(b, OXM_UDP_SRC);
            put16(b, (uint16_t)f->udp_src);
        }
        if (f->icmp_type >= 0) {
            put32(b, f->eth_type == 0x86dd ? OXM_ICMPV6_TYPE : OXM_ICMPV4_TYPE);
            put8(b, (uint8_t)f->icmp_type);
        }
    }
    size_t len = b->len - at;
    patch16(b, at + 2, (uint16_t)len);
    put_zeros(b, (8 - len % 8) % 8);
}

/* A FLOW_MOD: F added to table 0, or (F NULL) every flow of COOKIE/MASK
 * deleted from every table. */
static void put_flow_mod(struct buf *b, uint32_t xid, const struct openflow_flow *f,
                         uint64_t cookie, uint64_t mask)
{
    size_t at = msg_begin(b, OFPT_FLOW_MOD, xid);
    put64(b, f ? f->cookie : cookie);
    put64(b, f ? 0 : mask);
    put8(b, f ? 0 : OFPTT_ALL);
    put8(b, f ? OFPFC_ADD : OFPFC_DELETE);
    put16(b, 0); /* idle timeout */
    put16(b, 0); /* hard timeout */
    put16(b, f ? f->priority : 0);
    put32(b, OFP_NO_BUFFER);
    put32(b, OFPP_ANY);
    put32(b, OFPG_ANY);
    put16(b, 0); /* flags */
    put16(b, 0); /* importance */
    put_match(b, f);
    if (f && f->normal) {
        put16(b, OFPIT_APPLY_ACTIONS);
        put16(b, 24);
        put32(b, 0);
        put16(b, OFPAT_OUTPUT);
        put16(b, 16);
        put32(b, OPENFLOW_PORT_NORMAL);
        put16(b, OFPCML_NO_BUFFER);
        put_zeros(b, 6);
    }
    msg_end(b, at);
}

static void put_bundle_control(struct buf *b, uint32_t xid, uint32_t bundle, uint16_t type)
{
    size_t at = msg_begin(b, OFPT_BUNDLE_CONTROL, xid);
    put32(b, bundle);
    put16(b, type);
    put16(b, OFPBF_ATOMIC | OFPBF_ORDERED);
    msg_end(b, at);
}

/* ---- the session ---- */

static void deadline_to_timespec(int64_t deadline_ms, struct timespec *ts)
{
    ts->tv_sec = deadline_ms / 1000;
    ts->tv_nsec = (deadline_ms % 1000) * 1000000;
}

static int send_buf(struct openflow *of, const struct buf *b)
{
    if (b->failed)
        return -ENOMEM;
    pthread_mutex_lock(&of->send_lock);
    int r = 0;
    for (size_t done = 0; done < b->len;) {
        ssize_t n = send(of->fd, b->data + done, b->len - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            r = -ECONNRESET;
            break;
        }
        done += (size_t)n;
    }
    pthread_mutex_unlock(&of->send_lock);
    return r;
}

static uint32_t new_xid(struct openflow *of)
{
    pthread_mutex_lock(&of->lock);
    uint32_t xid = ++of->next_xid;
    pthread_mutex_unlock(&of->lock);
    return xid;
}

static void waiter_add(struct openflow *of, struct waiter *w)
{
    pthread_mutex_lock(&of->lock);
    w->next = of->waiters;
    of->waiters = w;
    pthread_mutex_unlock(&of->lock);
}

/* Sends B, then waits until W is answered, the session ends or TIMEOUT_MS
 * pass.  W was added before B went, so no answer can come too early. */
static int send_and_wait(struct openflow *of, const struct buf *b, struct waiter *w, int timeout_ms)
{
    waiter_add(of, w);
    int r = send_buf(of, b);
    int64_t deadline = clock_mono_ms() + timeout_ms;
    pthread_mutex_lock(&of->lock);
    while (r == 0 && !w->done && !of->status) {
        struct timespec ts;
        deadline_to_timespec(deadline, &ts);
        if (pthread_cond_timedwait(&of->cond, &of->lock, &ts) == ETIMEDOUT) {
            r = -ETIMEDOUT;
            break;
        }
    }
    if (r == 0)
        r = w->done ? w->result : of->status;
    for (struct waiter **p = &of->waiters; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            break;
        }
    }
    pthread_mutex_unlock(&of->lock);
    return r;
}

/* Called with the lock held: answers the waiter for XID, if any, when
 * TYPE/SUBTYPE is what it waits for (or RESULT is an error). */
static void answer(struct openflow *of, uint32_t xid, uint8_t type, int subtype, int result)
{
    for (struct waiter *w = of->waiters; w; w = w->next) {
        if (w->xid != xid || w->done)
            continue;
        if (result == 0 && (w->type != type || (w->subtype >= 0 && w->subtype != subtype)))
            continue;
        w->done = true;
        w->result = result;
        pthread_cond_broadcast(&of->cond);
    }
}

/* Called with the lock held: records what DESC (an ofp_port of LEN bytes)
 * says, or forgets the port when GONE. */
static void port_update(struct openflow *of, const uint8_t *desc, size_t len, bool gone)
{
    if (len < PORT_MIN_SIZE)
        return;
    char name[PORT_NAME_SIZE + 1];
    memcpy(name, desc + 16, PORT_NAME_SIZE);
    name[PORT_NAME_SIZE] = '\0';
    size_t i = 0;
    while (i < of->n_ports && strcmp(of->ports[i].name, name) != 0)
        i++;
    if (gone) {
        if (i < of->n_ports)
            of->ports[i] = of->ports[--of->n_ports];
        return;
    }
    if (i == of->n_ports) {
        if (of->n_ports == of->cap_ports) {
            size_t cap = of->cap_ports ? of->cap_ports * 2 : 64;
            struct port_entry *p = realloc(of->ports, cap * sizeof(*p));
            if (!p)
                return;
            of->ports = p;
            of->cap_ports = cap;
        }
        of->n_ports++;
        memcpy(of->ports[i].name, name, sizeof(name));
    }
    of->ports[i].port.number = get32(desc);
    memcpy(of->ports[i].port.hw_addr, desc + 8, 6);
    pthread_cond_broadcast(&of->cond);
}

/* Handles one whole message from the switch (reader thread). */
static void handle(struct openflow *of, const uint8_t *m, size_t len)
{
    uint8_t type = m[1];
    uint32_t xid = get32(m + 4);
    if (type == OFPT_ECHO_REQUEST) {
        struct buf b = { 0 };
        size_t at = msg_begin(&b, OFPT_ECHO_REPLY, xid);
        put_bytes(&b, m + 8, len - 8);
        msg_end(&b, at);
        send_buf(of, &b);
        free(b.data);
        return;
    }
    pthread_mutex_lock(&of->lock);
    switch (type) {
    case OFPT_HELLO:
        if (m[0] < OFP_VERSION && !of->status) {
            of->status = -EPROTONOSUPPORT; /* the bridge does not allow OpenFlow 1.4 */
            pthread_cond_broadcast(&of->cond);
        }
        break;
    case OFPT_ERROR:
        if (len >= 12) {
            snprintf(of->last_error, sizeof(of->last_error), "type %u code %u", get16(m + 8),
                     get16(m + 10));
            answer(of, xid, type, -1, -EREMOTEIO);
        }
        break;
    case OFPT_PORT_STATUS:
        if (len >= 16 + PORT_MIN_SIZE)
            port_update(of, m + 16, len - 16, m[8] == OFPPR_DELETE);
        break;
    case OFPT_MULTIPART_REPLY:
        if (len >= 16 && get16(m + 8) == OFPMP_PORT_DESC) {
            for (size_t at = 16; at + PORT_MIN_SIZE <= len;) {
                size_t plen = get16(m + at + 4);
                if (plen < PORT_MIN_SIZE || at + plen > len)
                    break;
                port_update(of, m + at, plen, false);
                at += plen;
            }
            if (!(get16(m + 10) & OFPMPF_REPLY_MORE))
                answer(of, xid, type, -1, 0);
        }
        break;
    case OFPT_BUNDLE_CONTROL:
        if (len >= 16)
            answer(of, xid, type, get16(m + 12), 0);
        break;
    default:
        answer(of, xid, type, -1, 0);
        break;
    }
    pthread_mutex_unlock(&of->lock);
}

static void *reader_thread(void *arg)
{
    struct openflow *of = arg;
    pthread_setname_np(pthread_self(), "lmnet-openflow");
    uint8_t *buf = malloc(READ_BUFFER);
    size_t have = 0;
    int end = buf ? 0 : -ENOMEM;
    while (!end) {
        ssize_t n = read(of->fd, buf + have, READ_BUFFER - have);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            end = -ECONNRESET;
            break;
        }
        have += (size_t)n;
        size_t at = 0;
        while (have - at >= 8) {
            size_t len = get16(buf + at + 2);
            if (len < 8) {
                end = -EPROTO;
                break;
            }
            if (have - at < len)
                break;
            handle(of, buf + at, len);
            at += len;
        }
        memmove(buf, buf + at, have - at);
        have -= at;
    }
    free(buf);
    pthread_mutex_lock(&of->lock);
    if (!of->status)
        of->status = end;
    pthread_cond_broadcast(&of->cond);
    pthread_mutex_unlock(&of->lock);
    return NULL;
}

/* A request whose only answer is a barrier reply (or an error): B gets a
 * barrier with XID appended. */
static int request_with_barrier(struct openflow *of, struct buf *b, uint32_t xid, int timeout_ms)
{
    size_t at = msg_begin(b, OFPT_BARRIER_REQUEST, xid);
    msg_end(b, at);
    struct waiter w = { .xid = xid, .type = OFPT_BARRIER_REPLY, .subtype = -1 };
    return send_and_wait(of, b, &w, timeout_ms);
}

int openflow_open(const char *path, int timeout_ms, struct openflow **out)
{
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (!path || strlen(path) >= sizeof(sun.sun_path))
        return -EINVAL;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int r = -errno;
        if (fd >= 0)
            close(fd);
        return r;
    }
    return openflow_open_fd(fd, timeout_ms, out);
}

int openflow_open_fd(int fd, int timeout_ms, struct openflow **out)
{
    struct openflow *of = calloc(1, sizeof(*of));
    if (!of) {
        close(fd);
        return -ENOMEM;
    }
    of->fd = fd;
    pthread_mutex_init(&of->send_lock, NULL);
    pthread_mutex_init(&of->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&of->cond, &attr);
    pthread_condattr_destroy(&attr);
    int r = -pthread_create(&of->reader, NULL, reader_thread, of);
    if (r < 0) {
        close(of->fd);
        pthread_cond_destroy(&of->cond);
        pthread_mutex_destroy(&of->lock);
        pthread_mutex_destroy(&of->send_lock);
        free(of);
        return r;
    }
    /* Hello; then port-status messages on (service connections get none
     * unless they ask), confirmed by a barrier; then the port table. */
    struct buf b = { 0 };
    size_t at = msg_begin(&b, OFPT_HELLO, new_xid(of));
    msg_end(&b, at);
    uint32_t xid = new_xid(of);
    at = msg_begin(&b, OFPT_SET_ASYNC, xid);
    for (uint16_t prop = OFPACPT_PORT_STATUS_SLAVE; prop <= OFPACPT_PORT_STATUS_MASTER; prop++) {
        put16(&b, prop);
        put16(&b, 8);
        put32(&b, 1u << 0 | 1u << 1 | 1u << 2); /* add, delete, modify */
    }
    msg_end(&b, at);
    r = request_with_barrier(of, &b, xid, timeout_ms);
    if (r == 0) {
        b.len = 0;
        xid = new_xid(of);
        at = msg_begin(&b, OFPT_MULTIPART_REQUEST, xid);
        put16(&b, OFPMP_PORT_DESC);
        put16(&b, 0);
        put32(&b, 0);
        msg_end(&b, at);
        struct waiter w = { .xid = xid, .type = OFPT_MULTIPART_REPLY, .subtype = -1 };
        r = send_and_wait(of, &b, &w, timeout_ms);
    }
    free(b.data);
    /* The switch's hello came before its answers, but a waiter woken late
     * sees only its own answer: a switch that refused OpenFlow 1.4 in its
     * hello gives no session, even when it answered.  (One that hung up
     * after answering did give one; its next call says so.) */
    if (r == 0 && openflow_status(of) == -EPROTONOSUPPORT)
        r = -EPROTONOSUPPORT;
    if (r < 0) {
        openflow_close(of);
        return r;
    }
    *out = of;
    return 0;
}

void openflow_close(struct openflow *of)
{
    if (!of)
        return;
    shutdown(of->fd, SHUT_RDWR);
    pthread_join(of->reader, NULL);
    close(of->fd);
    pthread_cond_destroy(&of->cond);
    pthread_mutex_destroy(&of->lock);
    pthread_mutex_destroy(&of->send_lock);
    free(of->ports);
    free(of);
}

int openflow_status(struct openflow *of)
{
    pthread_mutex_lock(&of->lock);
    int r = of->status;
    pthread_mutex_unlock(&of->lock);
    return r;
}

int openflow_port(struct openflow *of, const char *name, int timeout_ms, struct openflow_port *out)
{
    if (!name || strlen(name) > PORT_NAME_SIZE)
        return -EINVAL;
    int64_t deadline = clock_mono_ms() + timeout_ms;
    int r = -ENOENT;
    pthread_mutex_lock(&of->lock);
    for (;;) {
        for (size_t i = 0; i < of->n_ports; i++) {
            if (strcmp(of->ports[i].name, name) == 0) {
                *out = of->ports[i].port;
                r = 0;
                break;
            }
        }
        if (r == 0 || of->status)
            break;
        struct timespec ts;
        deadline_to_timespec(deadline, &ts);
        if (pthread_cond_timedwait(&of->cond, &of->lock, &ts) == ETIMEDOUT)
            break;
    }
    if (r < 0 && of->status)
        r = of->status;
    pthread_mutex_unlock(&of->lock);
    return r;
}

int openflow_apply(struct openflow *of, const struct openflow_change *changes, size_t n)
{
    uint32_t xid = new_xid(of);
    pthread_mutex_lock(&of->lock);
    uint32_t bundle = ++of->next_bundle;
    pthread_mutex_unlock(&of->lock);
    /* Every message of the bundle carries XID: an error about any of them
     * answers the caller. */
    struct buf b = { 0 };
    put_bundle_control(&b, xid, bundle, OFPBCT_OPEN_REQUEST);
    for (size_t i = 0; i < n; i++) {
        const struct openflow_change *c = &changes[i];
        for (size_t k = 0; k <= c->n_flows; k++) {
            size_t at = msg_begin(&b, OFPT_BUNDLE_ADD_MESSAGE, xid);
            put32(&b, bundle);
            put16(&b, 0); /* pad */
            put16(&b, OFPBF_ATOMIC | OFPBF_ORDERED);
            if (k == 0)
                put_flow_mod(&b, xid, NULL, c->cookie, UINT64_MAX);
            else
                put_flow_mod(&b, xid, &c->flows[k - 1], 0, 0);
            msg_end(&b, at);
        }
    }
    put_bundle_control(&b, xid, bundle, OFPBCT_COMMIT_REQUEST);
    struct waiter w = { .xid = xid, .type = OFPT_BUNDLE_CONTROL, .subtype = OFPBCT_COMMIT_REPLY };
    int r = send_and_wait(of, &b, &w, 10000);
    free(b.data);
    return r;
}

int openflow_port_forward(struct openflow *of, const struct openflow_port *port, bool forward)
{
    uint32_t xid = new_xid(of);
    struct buf b = { 0 };
    size_t at = msg_begin(&b, OFPT_PORT_MOD, xid);
    put32(&b, port->number);
    put32(&b, 0);
    put_bytes(&b, port->hw_addr, 6);
    put16(&b, 0);
    put32(&b, forward ? 0 : OFPPC_NO_FWD);
    put32(&b, OFPPC_NO_FWD);
    msg_end(&b, at);
    int r = request_with_barrier(of, &b, xid, 10000);
    free(b.data);
    return r;
}

const char *openflow_last_error(struct openflow *of)
{
    return of->last_error;
}
