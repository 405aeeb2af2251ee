/* The HTTP(S) server: libmicrohttpd with an internal pool of worker threads
 * (epoll), one SQLite connection per worker (db_pool).
 *
 * For each request it: finds the route (404, 405 + Allow), checks the bearer
 * token and its scope (401 + WWW-Authenticate, 403) and the declared body
 * length against the route's limit (413), all on the headers alone, before
 * any byte of the body is read; requires application/json for bodies
 * (415), parses them (400
 * naming the byte where parsing broke), calls the handler, adds the ETag,
 * answers 304 to a matching If-None-Match, and logs one line with method,
 * path, status and latency. */
#ifndef LMNET_API_SERVER_H
#define LMNET_API_SERVER_H

#include <stddef.h>

struct agent;
struct server;

/* Request bodies are refused (413) past a route's limit, by default
 * SERVER_DEFAULT_BODY, never above SERVER_MAX_BODY. */
#define SERVER_DEFAULT_BODY (64 * 1024)
#define SERVER_MAX_BODY (1024 * 1024)

/* Starts listening on agent->config's address and port, with TLS when a
 * certificate and key are configured, at most max_connections connections
 * (max_connections_per_ip from one address), each closed when a request
 * takes longer than request_timeout seconds to arrive or its answer to be
 * read (handler time aside).  Returns 0 and *out, or a negative
 * errno (logged). */
int server_start(struct agent *agent, struct server **out);

/* The port actually bound (useful when the configuration said 0). */
unsigned server_port(const struct server *server);

/* Stops accepting, waits for the workers, frees everything; NULL is a no-op. */
void server_stop(struct server *server);

#endif
