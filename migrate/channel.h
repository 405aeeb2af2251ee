/* The migration channel: QEMU's migration streams between two hosts, over
 * the dedicated migration network only, authenticated with a one-time token.
 *
 * QEMU 7.2 cannot authenticate a migration connection by itself (short of
 * TLS, which costs the throughput we exist to keep), so neither QEMU ever
 * listens on the network.  With one stream the agents only make the
 * connection and then hand it to QEMU, so no byte of memory passes through
 * them:
 *
 *   source agent: channel_connect() ==TCP, "hello + token"==> destination
 *   agent: channel_listen_handoff() -> its taker: getfd + migrate-incoming
 *   fd:NAME on the destination QEMU; then "OK"; the source agent: getfd +
 *   migrate fd:NAME on the source QEMU.
 *
 * QEMU 7.2's multifd opens its extra connections itself and cannot take
 * descriptors, so with more than one stream the agents relay:
 *
 *   source QEMU --unix--> source agent (forwarder)
 *       ==TCP, migration network, "hello + token"==>
 *   destination agent (listener) --unix--> destination QEMU (-incoming unix:)
 *
 * Each TCP connection starts with a 80-byte hello, "LMNETMIG2 " + the
 * 64-hex-digit token + " " + the channel index (three digits: 000 for the
 * handed-over or main connection, then one per multifd channel in the
 * order the source opens them) + " \n".  The token is checked in constant
 * time; the listener answers "OK\n" or closes.  After the hello both agents
 * only move bytes, with splice(2) through a pipe, so they never copy the
 * pages into user space.  QEMU's multifd opens one connection per channel
 * plus the main one; each becomes one such pair.
 *
 * The token is one-time and each channel index is good once: the listener
 * takes at most max_connections authenticated connections, one per index
 * below max_connections, refuses a hello whose index was used already (a
 * replay) and closes its socket once every index is connected or when it
 * is destroyed.  It accepts without waiting on anyone: every new
 * connection has its own short deadline for its hello, so a client that
 * connects and closes, or connects and says nothing, or sends a wrong
 * hello, neither delays the source's connections nor counts nor closes the
 * listener (the token has 256 bits: refusing costs nothing, guessing is
 * hopeless).
 *
 * Threads: the listener and the forwarder each run one accepting thread
 * ("lmnet-chan-acc"; the listener's is one poll loop over its socket and the
 * connections still owing a hello) and, per connection, one thread per direction
 * ("lmnet-chan-fwd").  Byte counters are atomics read by any thread. */
#ifndef LMNET_MIGRATE_CHANNEL_H
#define LMNET_MIGRATE_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#define CHANNEL_TOKEN_HEX 64
#define CHANNEL_HELLO_SIZE 80

struct channel;

struct channel_stats {
    uint64_t bytes_forward;  /* source to destination */
    uint64_t bytes_backward; /* destination to source (QEMU's return path) */
    unsigned connections;    /* authenticated connections so far */
    unsigned rejected;       /* connections closed for a bad or replayed hello */
    unsigned dropped;        /* closed before a whole hello: gone, silent or slow */
};

/* Makes a random one-time token: CHANNEL_TOKEN_HEX hex digits and a NUL in
 * OUT.  Returns 0 or a negative errno (no randomness available). */
int channel_token_generate(char out[CHANNEL_TOKEN_HEX + 1]);

/* Destination side.  Listens on ADDRESS (the destination's address on the
 * migration network; IPv4 or IPv6) and PORT (0: any free port, see
 * channel_port()), and joins each authenticated connection to a new
 * connection to the unix socket QEMU_SOCKET.  Accepts channel indexes 0 to
 * MAX_CONNECTIONS - 1 (at most 1000), each once.  Returns 0 and *out, or a
 * negative errno. */
int channel_listen(const char *address, uint16_t port, const char *token, const char *qemu_socket,
                   unsigned max_connections, struct channel **out);

/* Takes FD, an authenticated connection, for the destination's QEMU (it
 * makes its own copy: the channel closes FD afterwards).  Returns 0, or a
 * negative errno and the source's hello is refused. */
typedef int (*channel_take_fn)(void *ctx, int fd);

/* Destination side, one stream handed over: listens on ADDRESS:PORT like
 * channel_listen() and gives the one authenticated connection to TAKE
 * (called with CTX from the channel's accepting thread, so channel_destroy()
 * waits for it) before answering "OK".  Returns 0 and *out, or a negative
 * errno. */
int channel_listen_handoff(const char *address, uint16_t port, const char *token,
                           channel_take_fn take, void *ctx, struct channel **out);

/* Source side, one stream handed over: connects from SOURCE_ADDRESS (NULL:
 * any) to DESTINATION:PORT and presents TOKEN.  Returns the connected socket
 * (the caller's) once the destination said "OK", or a negative errno
 * (-EACCES: refused). */
int channel_connect(const char *source_address, const char *destination, uint16_t port,
                    const char *token);

/* Source side.  Listens on the unix socket LOCAL_SOCKET (created mode 0600;
 * QEMU migrates to "unix:LOCAL_SOCKET") and joins each connection QEMU makes
 * to a TCP connection from SOURCE_ADDRESS (the source's address on the
 * migration network, so the bytes leave by that NIC; NULL: any) to
 * DESTINATION:PORT, which presents TOKEN.  Returns 0 and *out, or a negative
 * errno. */
int channel_forward(const char *local_socket, const char *source_address, const char *destination,
                    uint16_t port, const char *token, struct channel **out);

/* The TCP port the listener is bound to (0 for a forwarder). */
uint16_t channel_port(const struct channel *channel);

/* Current counters. */
void channel_stats(const struct channel *channel, struct channel_stats *stats);

/* Stops accepting, cuts every connection, joins the threads, removes a
 * forwarder's unix socket and frees.  NULL is a no-op. */
void channel_destroy(struct channel *channel);

#endif
