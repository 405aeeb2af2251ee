/* Matching a method and path against the route tables.
 *
 * The router is built once from api/routes.c's list and is read-only
 * afterwards, so every HTTP worker can use it without a lock. */
#ifndef LMNET_API_ROUTER_H
#define LMNET_API_ROUTER_H

#include "api/route.h"

struct router;

/* Builds a router over TABLES (N_TABLES route tables, each ended by an entry
 * with a NULL pattern).  Returns NULL on out of memory, or after logging
 * when a pattern has more than ROUTE_MAX_PARAMS {params}.  The tables are
 * borrowed and must outlive the router. */
struct router *router_create(const struct route *const *tables, size_t n_tables);
void router_destroy(struct router *router);

/* Finds the route for METHOD and PATH.  On a match returns 0, *route, and the
 * captured {params} in REQ (percent-decoded, owned by REQ: free them with
 * router_release_params()).  Returns -ENOENT when no pattern matches the path
 * (a {param} segment with a bad escape, an encoded '/' or NUL matches none),
 * -EOPNOTSUPP when the path exists but not for METHOD, with the methods it
 * allows as a bit mask (1 << enum http_method) in *allowed.  HEAD matches
 * GET routes. */
int router_match(const struct router *router, enum http_method method, const char *path,
                 const struct route **route, struct request *req, unsigned *allowed);

void router_release_params(struct request *req);

/* Writes the Allow header value for the bit mask ("GET, HEAD, POST"). */
void router_allow_header(unsigned allowed, char *buf, size_t size);

#endif
