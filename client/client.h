/* The REST client that lmnetctl and agent-to-agent calls share (libcurl).
 *
 * A struct client holds the server's base URL, the bearer token, TLS
 * settings and a curl handle reused across calls (keep-alive).  One client is
 * used by one thread at a time.  Every call has a timeout. */
#ifndef LMNET_API_CLIENT_H
#define LMNET_API_CLIENT_H

#include <stdbool.h>
#include <json-c/json.h>
#include "base/refusal.h"

struct client;

struct client_options {
    const char *base_url;   /* "http://127.0.0.1:8470" */
    const char *token;      /* NULL: no Authorization header */
    const char *ca_file;    /* NULL: system CAs */
    bool insecure;          /* skip TLS verification (self-signed test certs) */
    long timeout_ms;        /* 0: 10 s */
};

struct client_reply {
    long status;                 /* HTTP status, 0 when no answer */
    struct json_object *body;    /* parsed JSON body or NULL; owned by the reply */
    char *location;              /* Location header or NULL */
    char *etag;                  /* ETag header or NULL */
    char error[256];             /* transport error, when status is 0 */
};

/* Creates a client; copies the options.  Returns 0 and *out or a negative
 * errno. */
int client_create(const struct client_options *options, struct client **out);
void client_destroy(struct client *client);

/* Sends METHOD ("GET", "POST", ...) to PATH (starting with "/v1/") with BODY
 * (may be NULL; not consumed) and optional extra HEADERS (NULL-terminated
 * "Name: value" strings).  Fills REPLY (release it with client_reply_release()).
 * Returns 0 when an HTTP answer came back, whatever its status, or a negative
 * errno (-ECONNREFUSED, -ETIMEDOUT, -EHOSTUNREACH, ...) with REPLY->error set. */
int client_call(struct client *client, const char *method, const char *path,
                struct json_object *body, const char *const *headers, struct client_reply *reply);

void client_reply_release(struct client_reply *reply);

/* The host part of base URL URL ("http://[fd00::1]:8470" gives
 * "fd00::1") into BUF; "" when URL has no "://".  Returns BUF. */
const char *client_url_host(const char *url, char *buf, size_t size);

/* Formats a problem+json reply (or a transport error) as one line:
 * "409 Conflict: pool 'a' is exhausted (mac-pool-exhausted)".  Writes into BUF. */
const char *client_reply_message(const struct client_reply *reply, char *buf, size_t size);

/* The kind of refusal (base/refusal.h) a peer's error STATUS stands for:
 * the inverse of the API's problem_status_of_refusal() (api/problem.h),
 * for relaying a peer's refusal.  A 4xx it does not name is
 * REFUSAL_INVALID, a 5xx REFUSAL_BAD_ANSWER. */
enum refusal_kind client_refusal_kind(long status);

/* Reads the first token from a token file line "NAME SCOPE TOKEN" (or a file
 * holding just a token), checked for owner and mode as token_file_open()
 * does.  Returns 0 and *token (caller frees) or a negative
 * errno with a message in ERR. */
int client_read_token_file(const char *path, char **token, char *err, size_t err_size);

#endif
