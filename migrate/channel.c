/* The migration channel; the design is in migrate/channel.h.
 *
 * Ownership: struct channel owns the listening socket, the accepting thread
 * and a list of struct link (one per connection pair).  A link owns its two
 * sockets and its two forwarding threads.  channel_destroy() shuts the
 * sockets down, which wakes every blocked accept/splice, then joins. */
#include "migrate/channel.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include "base/clock.h"
#include "base/log.h"

#define PIPE_BYTES (1 << 20)
/* How long a source waits for the listener's "OK" (the listener may be
 * handing the connection to QEMU meanwhile). */
#define HELLO_TIMEOUT_MS 5000
/* How long the listener gives a new connection to send its whole hello. */
#define HELLO_DEADLINE_MS 1500
/* Connections still owing their hello; when a new one comes with all
 * taken, the oldest is dropped (it has had the longest). */
#define PENDING_MAX 32
/* Room in the kernel's accept queue: a burst of probes that fills it makes
 * the source's own connect wait for a SYN retransmission (1 s). */
#define LISTEN_BACKLOG 512
/* Channel indexes fit in the hello's three digits. */
#define CHANNEL_INDEX_MAX 999

enum channel_role {
    CHANNEL_LISTENER,  /* destination: TCP in, unix out */
    CHANNEL_FORWARDER, /* source: unix in, TCP out */
    CHANNEL_HANDOFF,   /* destination: TCP in, handed to the caller */
};

struct link;

struct direction {
    struct link *link;
    int from;
    int to;
    bool forward; /* counts into bytes_forward */
    pthread_t thread;
};

struct link {
    struct channel *channel;
    int accepted;  /* the connection we accepted */
    int connected; /* the connection we made */
    struct direction up, down;
    bool threads_started;
    struct link *next;
};

struct channel {
    enum channel_role role;
    int listen_fd;
    uint16_t port;
    char token[CHANNEL_TOKEN_HEX + 1];
    char target[108];        /* listener: QEMU's unix socket; forwarder: "" */
    char local_socket[108];  /* forwarder: the unix socket we made */
    struct sockaddr_storage destination; /* forwarder */
    socklen_t destination_len;
    struct sockaddr_storage source;      /* forwarder; ss_family 0: any */
    unsigned max_connections;
    bool *index_used;        /* listener, handoff: [max_connections], accepting thread only */
    unsigned next_index;     /* forwarder: the next connection's channel index */
    channel_take_fn take;    /* handoff */
    void *take_ctx;
    pthread_t acceptor;
    bool acceptor_started;
    pthread_mutex_t lock;    /* guards links and stopping */
    bool stopping;
    struct link *links;
    _Atomic uint64_t bytes_forward;
    _Atomic uint64_t bytes_backward;
    atomic_uint connections;
    atomic_uint rejected;
    atomic_uint dropped;
};

int channel_token_generate(char out[CHANNEL_TOKEN_HEX + 1])
{
    unsigned char raw[CHANNEL_TOKEN_HEX / 2];
    ssize_t n = getrandom(raw, sizeof(raw), 0);
    if (n != (ssize_t)sizeof(raw))
        return n < 0 ? -errno : -EIO;
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}

static void hello_format(const char *token, unsigned index, char hello[CHANNEL_HELLO_SIZE])
{
    char text[CHANNEL_HELLO_SIZE + 1];
    snprintf(text, sizeof(text), "LMNETMIG2 %.64s %03u \n", token, index % (CHANNEL_INDEX_MAX + 1));
    memcpy(hello, text, CHANNEL_HELLO_SIZE);
    explicit_bzero(text, sizeof(text));
}

/* Checks GOT against TOKEN: the fixed part in constant time, then the
 * channel index.  Returns the index, or -EACCES. */
static int hello_check(const char *token, const char got[CHANNEL_HELLO_SIZE])
{
    char expected[CHANNEL_HELLO_SIZE];
    hello_format(token, 0, expected);
    unsigned char d = 0;
    for (size_t i = 0; i < CHANNEL_HELLO_SIZE; i++)
        if (i < 75 || i > 77) /* the index digits are compared below */
            d |= (unsigned char)(expected[i] ^ got[i]);
    explicit_bzero(expected, sizeof(expected));
    if (d != 0)
        return -EACCES;
    int index = 0;
    for (size_t i = 75; i <= 77; i++) {
        if (got[i] < '0' || got[i] > '9')
            return -EACCES;
        index = index * 10 + (got[i] - '0');
    }
    return index;
}

/* Reads exactly N bytes within TIMEOUT_MS.  Returns 0 or a negative errno. */
static int read_exact(int fd, char *buf, size_t n, int timeout_ms)
{
    size_t got = 0;
    while (got < n) {
        struct pollfd p = { .fd = fd, .events = POLLIN };
        int r = poll(&p, 1, timeout_ms);
        if (r == 0)
            return -ETIMEDOUT;
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        ssize_t k = read(fd, buf + got, n - got);
        if (k == 0)
            return -ECONNRESET;
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        got += (size_t)k;
    }
    return 0;
}

static int write_all(int fd, const char *buf, size_t n)
{
    while (n) {
        ssize_t k = send(fd, buf, n, MSG_NOSIGNAL);
        if (k < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        buf += k;
        n -= (size_t)k;
    }
    return 0;
}

/* Moves bytes FROM -> TO with splice until FROM reaches end of file, then
 * half-closes TO so the other end sees the end too. */
static void *direction_thread(void *arg)
{
    struct direction *d = arg;
    struct channel *c = d->link->channel;
    pthread_setname_np(pthread_self(), "lmnet-chan-fwd");
    /* splice() into a socket whose peer is gone raises SIGPIPE, and there is
     * no MSG_NOSIGNAL for it: block it in this thread (a thread-directed
     * signal stays pending here and dies with the thread) and see EPIPE. */
    sigset_t pipe_set;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_set, NULL);
    int pipefd[2];
    if (pipe2(pipefd, O_CLOEXEC) < 0) {
        log_errno(LOG_LEVEL_ERROR, errno, "migration channel: no pipe");
        shutdown(d->to, SHUT_WR);
        return NULL;
    }
    fcntl(pipefd[1], F_SETPIPE_SZ, PIPE_BYTES);
    _Atomic uint64_t *counter = d->forward ? &c->bytes_forward : &c->bytes_backward;
    for (;;) {
        ssize_t in = splice(d->from, NULL, pipefd[1], NULL, PIPE_BYTES, SPLICE_F_MOVE | SPLICE_F_MORE);
        if (in == 0)
            break;
        if (in < 0) {
            if (errno == EINTR)
                continue;
            if (errno != ECONNRESET && errno != EPIPE && errno != EBADF)
                log_errno(LOG_LEVEL_WARNING, errno, "migration channel: read failed");
            break;
        }
        ssize_t left = in;
        while (left > 0) {
            ssize_t out = splice(pipefd[0], NULL, d->to, NULL, (size_t)left, SPLICE_F_MOVE);
            if (out < 0 && errno == EINTR)
                continue;
            if (out <= 0) {
                left = -1;
                break;
            }
            left -= out;
            atomic_fetch_add(counter, (uint64_t)out);
        }
        if (left < 0)
            break;
    }
    close(pipefd[0]);
    close(pipefd[1]);
    shutdown(d->to, SHUT_WR);
    /* Whatever ended this direction, the peer direction may still wait on
     * a read that will never come once one side is gone. */
    shutdown(d->from, SHUT_RD);
    return NULL;
}

static void link_free(struct link *l)
{
    if (l->threads_started) {
        pthread_join(l->up.thread, NULL);
        pthread_join(l->down.thread, NULL);
    }
    if (l->accepted >= 0)
        close(l->accepted);
    if (l->connected >= 0)
        close(l->connected);
    free(l);
}

static int connect_unix(const char *path)
{
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", path);
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

/* A TCP connection from SOURCE (ss_family 0: any address) to
 * DESTINATION; NODELAY for a relayed one (a handed-over one is QEMU's and
 * stays as QEMU's own connections are). */
static int connect_tcp(const struct sockaddr_storage *source,
                       const struct sockaddr_storage *destination, socklen_t destination_len,
                       bool nodelay)
{
    int fd = socket(destination->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (nodelay)
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (source->ss_family) {
        socklen_t len = source->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6)
                                                      : sizeof(struct sockaddr_in);
        if (bind(fd, (const struct sockaddr *)source, len) < 0) {
            int e = -errno;
            close(fd);
            return e;
        }
    }
    if (connect(fd, (const struct sockaddr *)destination, destination_len) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

/* Source side of the hello on FD, a fresh connection: sends it, waits for
 * "OK".  Returns 0 or a negative errno (-EACCES: refused). */
static int hello_send(int fd, const char *token, unsigned index)
{
    char hello[CHANNEL_HELLO_SIZE];
    hello_format(token, index, hello);
    int r = write_all(fd, hello, sizeof(hello));
    explicit_bzero(hello, sizeof(hello));
    char ok[3];
    if (r >= 0)
        r = read_exact(fd, ok, sizeof(ok), HELLO_TIMEOUT_MS);
    if (r == -ECONNRESET || (r >= 0 && memcmp(ok, "OK\n", 3) != 0))
        r = -EACCES;
    return r;
}

/* Forwarder: makes the connection to the destination for one QEMU
 * connection and presents the hello of the next channel index.  Returns the
 * connected fd or a negative errno. */
static int forward_connect(struct channel *c)
{
    int fd = connect_tcp(&c->source, &c->destination, c->destination_len, true);
    if (fd < 0)
        return log_errno(LOG_LEVEL_ERROR, fd, "migration channel: cannot reach the destination");
    int r = hello_send(fd, c->token, c->next_index++);
    if (r < 0) {
        close(fd);
        return log_errno(LOG_LEVEL_ERROR, r, "migration channel: the destination refused the token");
    }
    return fd;
}

static void start_link(struct channel *c, int accepted, int connected)
{
    struct link *l = calloc(1, sizeof(*l));
    if (!l) {
        close(accepted);
        close(connected);
        return;
    }
    l->channel = c;
    l->accepted = accepted;
    l->connected = connected;
    /* "forward" is source to destination: on the listener that is what we
     * accepted (from the source) into QEMU; on the forwarder, what QEMU
     * sends us, into the network. */
    l->up = (struct direction){ .link = l, .from = accepted, .to = connected, .forward = true };
    l->down = (struct direction){ .link = l, .from = connected, .to = accepted, .forward = false };
    if (pthread_create(&l->up.thread, NULL, direction_thread, &l->up) != 0) {
        link_free(l);
        return;
    }
    if (pthread_create(&l->down.thread, NULL, direction_thread, &l->down) != 0) {
        shutdown(accepted, SHUT_RDWR);
        pthread_join(l->up.thread, NULL);
        link_free(l);
        return;
    }
    l->threads_started = true;
    pthread_mutex_lock(&c->lock);
    l->next = c->links;
    c->links = l;
    pthread_mutex_unlock(&c->lock);
}

/* The forwarder's accepting thread: QEMU's connections on the local unix
 * socket, each joined to a new authenticated connection to the
 * destination. */
static void *forward_thread(void *arg)
{
    struct channel *c = arg;
    pthread_setname_np(pthread_self(), "lmnet-chan-acc");
    for (;;) {
        int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            break; /* shut down by channel_destroy(), or a real error */
        }
        pthread_mutex_lock(&c->lock);
        bool stopping = c->stopping;
        pthread_mutex_unlock(&c->lock);
        if (stopping) {
            close(fd);
            break;
        }
        int other = forward_connect(c);
        if (other < 0) {
            close(fd);
            continue;
        }
        start_link(c, fd, other);
        atomic_fetch_add(&c->connections, 1);
    }
    return NULL;
}

/* A connection the listener accepted that has not sent its whole hello. */
struct pending {
    int fd;
    size_t got;
    int64_t deadline_ms;
    char hello[CHANNEL_HELLO_SIZE];
};

static int set_blocking(int fd)
{
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) < 0)
        return -errno;
    return 0;
}

/* Listener and handoff: a connection whose hello for channel INDEX was
 * good.  Joins it to QEMU (or hands it over) and answers "OK".  Returns 0
 * (FD is taken care of) or a negative errno (the caller closes FD). */
static int admit(struct channel *c, int fd, unsigned index)
{
    (void)index;
    int r = set_blocking(fd);
    if (r < 0)
        return r;
    int qemu = -1;
    if (c->role == CHANNEL_HANDOFF) {
        /* The taker has its copy before the source hears OK, so a refusal
         * reaches the source as a refused hello, not as a dead stream. */
        r = c->take(c->take_ctx, fd);
        if (r < 0)
            return log_errno(LOG_LEVEL_ERROR, r, "migration channel: the connection was not taken");
    } else {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        qemu = connect_unix(c->target);
        if (qemu < 0)
            return log_errno(LOG_LEVEL_ERROR, qemu,
                             "migration channel: QEMU is not listening path=%s", c->target);
    }
    /* Counted before the source hears OK, so whoever has heard it sees it
     * counted. */
    atomic_fetch_add(&c->connections, 1);
    r = write_all(fd, "OK\n", 3);
    if (r < 0) {
        atomic_fetch_sub(&c->connections, 1);
        if (qemu >= 0)
            close(qemu);
        return r;
    }
    if (c->role == CHANNEL_HANDOFF)
        close(fd); /* the taker holds its own copy */
    else
        start_link(c, fd, qemu);
    return 0;
}

/* P's hello is complete: checks it and admits or refuses the connection. */
static void finish_hello(struct channel *c, struct pending *p)
{
    int index = hello_check(c->token, p->hello);
    explicit_bzero(p->hello, sizeof(p->hello));
    const char *reason = NULL;
    if (index < 0)
        reason = "wrong token";
    else if ((unsigned)index >= c->max_connections)
        reason = "no such channel";
    else if (c->index_used[index])
        reason = "channel already connected (a replayed hello)";
    if (reason) {
        /* Counted before the close the source hears as a refusal, so
         * whoever has heard it sees it counted. */
        atomic_fetch_add(&c->rejected, 1);
        close(p->fd);
        log_warning("migration channel: hello refused reason=\"%s\"", reason);
        return;
    }
    /* Used even if admitting fails below: a hello is good once. */
    c->index_used[index] = true;
    int r = admit(c, p->fd, (unsigned)index);
    if (r < 0) {
        atomic_fetch_add(&c->rejected, 1);
        close(p->fd);
    }
}

/* Drops pending connection I of *N (silent, gone, or too slow). */
static void drop_pending(struct channel *c, struct pending *pending, size_t *n, size_t i)
{
    atomic_fetch_add(&c->dropped, 1); /* before the close its client hears */
    close(pending[i].fd);
    explicit_bzero(pending[i].hello, sizeof(pending[i].hello));
    pending[i] = pending[--*n];
}

/* Reads what pending connection P has sent.  Returns 1 when the hello is
 * complete, 0 for more to come, or a negative errno (closed, failed). */
static int read_pending(struct pending *p)
{
    for (;;) {
        ssize_t k = read(p->fd, p->hello + p->got, CHANNEL_HELLO_SIZE - p->got);
        if (k == 0)
            return -ECONNRESET;
        if (k < 0)
            return errno == EINTR ? 0 : errno == EAGAIN ? 0 : -errno;
        p->got += (size_t)k;
        if (p->got == CHANNEL_HELLO_SIZE)
            return 1;
    }
}

/* The listener's (and handoff's) accepting thread.  One poll loop over the
 * listening socket and every connection still owing its hello, so no
 * connection waits for another: each gets HELLO_DEADLINE_MS for its whole
 * hello.  Connections that close, stay silent or refuse to authenticate do
 * not count and do not close the listener; it closes once every channel
 * index has been connected, or on channel_destroy(). */
static void *listen_thread(void *arg)
{
    struct channel *c = arg;
    pthread_setname_np(pthread_self(), "lmnet-chan-acc");
    struct pending pending[PENDING_MAX];
    size_t n = 0;
    while (atomic_load(&c->connections) < c->max_connections) {
        pthread_mutex_lock(&c->lock);
        bool stopping = c->stopping;
        pthread_mutex_unlock(&c->lock);
        if (stopping)
            break;
        struct pollfd fds[PENDING_MAX + 1];
        fds[0] = (struct pollfd){.fd = c->listen_fd, .events = POLLIN};
        int64_t now = clock_mono_ms();
        int timeout = 1000;
        for (size_t i = 0; i < n; i++) {
            fds[i + 1] = (struct pollfd){.fd = pending[i].fd, .events = POLLIN};
            int64_t left = pending[i].deadline_ms - now;
            if (left < timeout)
                timeout = left < 0 ? 0 : (int)left;
        }
        int r = poll(fds, n + 1, timeout);
        if (r < 0 && errno != EINTR)
            break;
        if (r < 0)
            continue;
        now = clock_mono_ms();
        /* From the end, so that dropping (which moves the last one into
         * the hole) never skips one whose revents we have not seen. */
        for (size_t i = n; i-- > 0;) {
            if (fds[i + 1].revents) {
                int done = read_pending(&pending[i]);
                if (done < 0) {
                    drop_pending(c, pending, &n, i);
                    continue;
                }
                if (done > 0) {
                    finish_hello(c, &pending[i]);
                    pending[i] = pending[--n];
                    continue;
                }
            }
            if (now >= pending[i].deadline_ms)
                drop_pending(c, pending, &n, i);
        }
        if (fds[0].revents & (POLLHUP | POLLERR | POLLNVAL))
            break; /* shut down by channel_destroy() */
        if (!(fds[0].revents & POLLIN))
            continue;
        for (;;) {
            int fd = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
            if (fd < 0)
                break; /* EAGAIN: all taken; anything else: poll says next round */
            if (n == PENDING_MAX) {
                size_t oldest = 0;
                for (size_t i = 1; i < n; i++)
                    if (pending[i].deadline_ms < pending[oldest].deadline_ms)
                        oldest = i;
                drop_pending(c, pending, &n, oldest);
            }
            pending[n++] = (struct pending){.fd = fd, .deadline_ms = now + HELLO_DEADLINE_MS};
        }
    }
    while (n > 0)
        drop_pending(c, pending, &n, n - 1);
    shutdown(c->listen_fd, SHUT_RDWR);
    return NULL;
}

static int parse_address(const char *address, uint16_t port, struct sockaddr_storage *out,
                         socklen_t *len)
{
    memset(out, 0, sizeof(*out));
    struct sockaddr_in *a4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
    if (inet_pton(AF_INET, address, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(port);
        *len = sizeof(*a4);
        return 0;
    }
    if (inet_pton(AF_INET6, address, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(port);
        *len = sizeof(*a6);
        return 0;
    }
    return -EINVAL;
}

static struct channel *channel_new(enum channel_role role, const char *token)
{
    if (!token || strlen(token) != CHANNEL_TOKEN_HEX)
        return NULL;
    struct channel *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->role = role;
    c->listen_fd = -1;
    memcpy(c->token, token, CHANNEL_TOKEN_HEX + 1);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

static int start_acceptor(struct channel *c, struct channel **out)
{
    int r = -pthread_create(&c->acceptor, NULL,
                            c->role == CHANNEL_FORWARDER ? forward_thread : listen_thread, c);
    if (r < 0) {
        channel_destroy(c);
        return r;
    }
    c->acceptor_started = true;
    *out = c;
    return 0;
}

/* Binds C's listening socket to ADDRESS:PORT and starts accepting. */
static int listen_tcp(struct channel *c, const char *address, uint16_t port, struct channel **out)
{
    struct sockaddr_storage addr;
    socklen_t len;
    int r = parse_address(address, port, &addr, &len);
    if (r < 0) {
        channel_destroy(c);
        return r;
    }
    c->index_used = calloc(c->max_connections, sizeof(*c->index_used));
    if (!c->index_used) {
        channel_destroy(c);
        return -ENOMEM;
    }
    c->listen_fd = socket(addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int one = 1;
    if (c->listen_fd < 0 || setsockopt(c->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(c->listen_fd, (struct sockaddr *)&addr, len) < 0 ||
        listen(c->listen_fd, LISTEN_BACKLOG) < 0) {
        r = -errno;
        channel_destroy(c);
        return log_errno(LOG_LEVEL_ERROR, r, "migration channel: cannot listen address=%s", address);
    }
    len = sizeof(addr);
    getsockname(c->listen_fd, (struct sockaddr *)&addr, &len);
    c->port = ntohs(addr.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&addr)->sin6_port
                                               : ((struct sockaddr_in *)&addr)->sin_port);
    return start_acceptor(c, out);
}

int channel_listen(const char *address, uint16_t port, const char *token, const char *qemu_socket,
                   unsigned max_connections, struct channel **out)
{
    if (!qemu_socket || strlen(qemu_socket) >= sizeof(((struct channel *)0)->target) ||
        max_connections == 0 || max_connections > CHANNEL_INDEX_MAX + 1)
        return -EINVAL;
    struct channel *c = channel_new(CHANNEL_LISTENER, token);
    if (!c)
        return -EINVAL;
    snprintf(c->target, sizeof(c->target), "%s", qemu_socket);
    c->max_connections = max_connections;
    return listen_tcp(c, address, port, out);
}

int channel_listen_handoff(const char *address, uint16_t port, const char *token,
                           channel_take_fn take, void *ctx, struct channel **out)
{
    if (!take)
        return -EINVAL;
    struct channel *c = channel_new(CHANNEL_HANDOFF, token);
    if (!c)
        return -EINVAL;
    c->take = take;
    c->take_ctx = ctx;
    c->max_connections = 1;
    return listen_tcp(c, address, port, out);
}

int channel_connect(const char *source_address, const char *destination, uint16_t port,
                    const char *token)
{
    if (!token || strlen(token) != CHANNEL_TOKEN_HEX)
        return -EINVAL;
    struct sockaddr_storage src, dst;
    socklen_t len, ignored;
    memset(&src, 0, sizeof(src));
    int r = parse_address(destination, port, &dst, &len);
    if (r >= 0 && source_address)
        r = parse_address(source_address, 0, &src, &ignored);
    if (r < 0)
        return r;
    int fd = connect_tcp(&src, &dst, len, false);
    if (fd < 0)
        return log_errno(LOG_LEVEL_ERROR, fd, "migration channel: cannot reach the destination");
    r = hello_send(fd, token, 0);
    if (r < 0) {
        close(fd);
        return log_errno(LOG_LEVEL_ERROR, r, "migration channel: the destination refused the token");
    }
    return fd;
}

/* Binds FD to the unix socket PATH with MODE, without touching the
 * process-wide umask (which every other thread's new files would share).
 * bind() creates the socket file with 0777 & ~umask; so it binds inside a
 * fresh private directory next to PATH (mkdtemp: 0700, reachable by this
 * user only), sets MODE there and renames the socket into place: at PATH
 * it appears with MODE already.  Returns 0 or a negative errno. */
static int bind_unix_private(int fd, const char *path, mode_t mode)
{
    const char *slash = strrchr(path, '/');
    char dir[sizeof(((struct sockaddr_un *)0)->sun_path) - 2]; /* room for "/s" */
    int n = slash ? snprintf(dir, sizeof(dir), "%.*s/.lmnet-XXXXXX", (int)(slash - path), path)
                  : snprintf(dir, sizeof(dir), ".lmnet-XXXXXX");
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (n < 0 || (size_t)n >= sizeof(dir))
        return -ENAMETOOLONG;
    if (!mkdtemp(dir))
        return -errno;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/s", dir);
    int r = 0;
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
        r = -errno;
    else if (chmod(sun.sun_path, mode) < 0 || rename(sun.sun_path, path) < 0)
        r = -errno;
    if (r < 0)
        unlink(sun.sun_path);
    rmdir(dir);
    return r;
}

int channel_forward(const char *local_socket, const char *source_address, const char *destination,
                    uint16_t port, const char *token, struct channel **out)
{
    if (!local_socket || strlen(local_socket) >= sizeof(((struct channel *)0)->local_socket))
        return -EINVAL;
    struct channel *c = channel_new(CHANNEL_FORWARDER, token);
    if (!c)
        return -EINVAL;
    int r = parse_address(destination, port, &c->destination, &c->destination_len);
    socklen_t ignored;
    if (r >= 0 && source_address)
        r = parse_address(source_address, 0, &c->source, &ignored);
    if (r < 0) {
        channel_destroy(c);
        return r;
    }
    c->listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    /* 0660: a QEMU running as qemu_user connects through run_dir's group. */
    r = c->listen_fd < 0 ? -errno : bind_unix_private(c->listen_fd, local_socket, 0660);
    if (r == 0 && listen(c->listen_fd, 16) < 0)
        r = -errno;
    if (r < 0) {
        channel_destroy(c);
        return log_errno(LOG_LEVEL_ERROR, r, "migration channel: cannot listen path=%s", local_socket);
    }
    snprintf(c->local_socket, sizeof(c->local_socket), "%s", local_socket);
    return start_acceptor(c, out);
}

uint16_t channel_port(const struct channel *c)
{
    return c->port;
}

void channel_stats(const struct channel *c, struct channel_stats *s)
{
    s->bytes_forward = atomic_load(&c->bytes_forward);
    s->bytes_backward = atomic_load(&c->bytes_backward);
    s->connections = atomic_load(&c->connections);
    s->rejected = atomic_load(&c->rejected);
    s->dropped = atomic_load(&c->dropped);
}

void channel_destroy(struct channel *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->lock);
    c->stopping = true;
    for (struct link *l = c->links; l; l = l->next) {
        shutdown(l->accepted, SHUT_RDWR);
        shutdown(l->connected, SHUT_RDWR);
    }
    pthread_mutex_unlock(&c->lock);
    if (c->listen_fd >= 0)
        shutdown(c->listen_fd, SHUT_RDWR);
    if (c->acceptor_started)
        pthread_join(c->acceptor, NULL);
    /* No new links can appear now: cut any that started meanwhile. */
    for (struct link *l = c->links, *next; l; l = next) {
        next = l->next;
        shutdown(l->accepted, SHUT_RDWR);
        shutdown(l->connected, SHUT_RDWR);
        link_free(l);
    }
    if (c->listen_fd >= 0)
        close(c->listen_fd);
    if (c->local_socket[0])
        unlink(c->local_socket);
    explicit_bzero(c->token, sizeof(c->token));
    free(c->index_used);
    pthread_mutex_destroy(&c->lock);
    free(c);
}
