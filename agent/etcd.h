/* A client of etcd v3 over its JSON gateway (POST /v3/kv/range, /v3/kv/txn,
 * /v3/kv/put, /v3/kv/deleterange, /v3/lease/grant, /v3/lease/keepalive,
 * /v3/auth/authenticate, /v3/watch), with libcurl and json-c.  All of etcd's JSON is
 * built and read here: keys and values travel base64-encoded, int64s as
 * strings; callers pass and get plain C strings and integers.
 *
 * Several endpoints: a call that gets no answer (refused, timed out, or a
 * 5xx such as "no leader") is tried on the next endpoint, each endpoint once
 * per call; the one that answered is tried first next time.  Every call has
 * a timeout.  With a user name set, the client authenticates
 * (/v3/auth/authenticate) and presents the token, fetching a new one when
 * etcd says it expired.  TLS: a CA file to check the servers with, and a
 * client certificate and key.
 *
 * Errors: -ENOENT (no such key), -ETIMEDOUT/-ECONNREFUSED/-EHOSTUNREACH
 * (no endpoint answered), -EACCES (authentication refused), -EPROTO (an
 * answer that is not etcd's), -EIO (etcd refused the request; its message is
 * in the error buffer given to etcd_last_error()).
 *
 * Thread-safe: calls from several threads share a small pool of curl
 * handles under one mutex. */
#ifndef LMNET_AGENT_ETCD_H
#define LMNET_AGENT_ETCD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct etcd;
struct etcd_txn;

struct etcd_options {
    const char *endpoints; /* "h1:2379,h2:2379" (host:port, comma-separated; an
                            * endpoint written http://h:p or https://h:p keeps
                            * its scheme) */
    bool tls;              /* https to the endpoints written without a scheme */
    const char *ca_file;   /* checks the servers' certificates; NULL: system CAs */
    const char *cert_file; /* client certificate, or NULL */
    const char *key_file;  /* its key, or NULL */
    const char *user;      /* NULL: no authentication */
    const char *password;
    long timeout_ms; /* per call; 0: 3000 */
};

/* One key as etcd holds it: KEY and VALUE are NUL-terminated copies. */
struct etcd_kv {
    char *key;
    char *value;
    int64_t create_revision;
    int64_t mod_revision;
    int64_t lease;
};

struct etcd_range {
    struct etcd_kv *kvs;
    size_t n;
    int64_t revision; /* the store's revision when read */
    bool more;        /* a LIMIT left keys out */
};

/* Creates a client (no call is made).  Returns 0 and *out, -EINVAL for an
 * endpoint list it cannot read, -EPERM (or -ENOENT...) for a client key
 * file that is not a regular file owned by this user or root with mode
 * 0600 or stricter (the reason in etcd_last_error()), or -ENOMEM. */
int etcd_create(const struct etcd_options *options, struct etcd **out);
void etcd_destroy(struct etcd *etcd); /* NULL is a no-op */

/* The last error message of this thread's last failed call ("" if none). */
const char *etcd_last_error(void);

/* Reads KEY into *out (etcd_kv_release()).  Returns 0, -ENOENT, or a
 * negative errno. */
int etcd_get(struct etcd *etcd, const char *key, struct etcd_kv *out);
void etcd_kv_release(struct etcd_kv *kv);

/* Reads every key starting with PREFIX, by key, into *out
 * (etcd_range_release()).  Returns 0 or a negative errno. */
int etcd_get_prefix(struct etcd *etcd, const char *prefix, struct etcd_range *out);
void etcd_range_release(struct etcd_range *range);

/* Reads the keys in [START, END), by key, at most LIMIT of them (0: all)
 * (etcd_range_release()). */
int etcd_get_range(struct etcd *etcd, const char *start, const char *end, size_t limit,
                   struct etcd_range *out);

/* Writes KEY = VALUE, attached to LEASE (0: none).  Returns 0 or a negative
 * errno. */
int etcd_put(struct etcd *etcd, const char *key, const char *value, int64_t lease);

/* Deletes KEY (PREFIX true: every key starting with it).  Returns the
 * number deleted or a negative errno. */
int etcd_delete(struct etcd *etcd, const char *key, bool prefix);

/* Grants a lease of TTL_S seconds.  Returns 0 and *id, or a negative errno. */
int etcd_lease_grant(struct etcd *etcd, int64_t ttl_s, int64_t *id);

/* Keeps lease ID alive once.  Returns 0, -ENOENT when the lease is gone
 * (expired or revoked: grant a new one), or a negative errno. */
int etcd_lease_keepalive(struct etcd *etcd, int64_t id);

/* ---- transactions: compares, then puts and deletes if all hold ---- */

/* A new empty transaction, or NULL on out of memory. */
struct etcd_txn *etcd_txn_new(void);
void etcd_txn_free(struct etcd_txn *txn); /* NULL is a no-op */

/* Compares: KEY does not exist; KEY's mod_revision equals REVISION (0:
 * absent); no key in [START, END) was modified after REVISION. */
void etcd_txn_absent(struct etcd_txn *txn, const char *key);
void etcd_txn_unchanged(struct etcd_txn *txn, const char *key, int64_t revision);
void etcd_txn_range_unchanged_since(struct etcd_txn *txn, const char *start, const char *end,
                                    int64_t revision);

/* Operations when every compare holds. */
void etcd_txn_put(struct etcd_txn *txn, const char *key, const char *value, int64_t lease);
void etcd_txn_delete(struct etcd_txn *txn, const char *key);

/* Runs TXN.  Returns 1 when the compares held (the operations are done),
 * 0 when one did not (nothing done), or a negative errno (not known
 * whether it was done, when the answer was lost). */
int etcd_txn_commit(struct etcd *etcd, struct etcd_txn *txn);

/* ---- watch: POST /v3/watch, a stream of {"result": {...}} objects ---- */

/* One change: a put (KV holds the new value) or a delete (KV.value ""). */
struct etcd_event {
    bool deleted;
    struct etcd_kv kv;
};

/* Called for each event, in order; KV is only valid during the call. */
typedef void etcd_watch_fn(void *ctx, const struct etcd_event *event);

/* Reads a watch stream fed in chunks of any size (an object may be split
 * anywhere): delivers each event to FN and keeps the revision the watcher
 * has seen everything up to.  Zero-initialise, set fn/ctx (and revision to
 * START_REVISION - 1 when watching from a revision), feed, then
 * etcd_watch_parser_release(). */
struct etcd_watch_parser {
    etcd_watch_fn *fn;
    void *ctx;
    int64_t revision;         /* every change up to it was delivered */
    int64_t compact_revision; /* set with -ESTALE */
    struct json_tokener *tok; /* private */
};

/* Returns 0 (more to come), -ESTALE (the start revision was compacted:
 * read everything again and watch from then), -EIO (etcd canceled the
 * watch or sent an error; the message in etcd_last_error()) or -EPROTO
 * (not a watch stream). */
int etcd_watch_parser_feed(struct etcd_watch_parser *parser, const char *data, size_t len);
void etcd_watch_parser_release(struct etcd_watch_parser *parser);

/* Watches every key starting with PREFIX from START_REVISION (0: from
 * now), delivering events to FN, until the stream breaks, STOP reads true
 * (checked at least once a second), or etcd cancels.  Endpoints are tried
 * as for the other calls.  *REVISION is the last revision seen (watch again
 * from *REVISION + 1).  Returns -ECANCELED (stopped), -ESTALE (compacted),
 * or another negative errno: it never returns 0. */
int etcd_watch(struct etcd *etcd, const char *prefix, int64_t start_revision, etcd_watch_fn *fn,
               void *ctx, const atomic_bool *stop, int64_t *revision);

/* ---- helpers, public for the unit tests ---- */

/* Base64 (RFC 4648, with padding) of LEN bytes of DATA; caller frees. */
char *etcd_base64_encode(const void *data, size_t len);
/* Decodes TEXT; *len is the length (a NUL follows).  NULL on bad input. */
char *etcd_base64_decode(const char *text, size_t *len);
/* The key just after every key starting with PREFIX (etcd's range_end for a
 * prefix); caller frees. */
char *etcd_prefix_end(const char *prefix);

#endif
