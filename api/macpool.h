/* Routes for /v1/mac-pools: pools, allocations (Idempotency-Key honoured)
 * and the registry's block claims. */
#ifndef LMNET_API_MACPOOL_H
#define LMNET_API_MACPOOL_H

#include <stdbool.h>
#include <stdint.h>
#include "api/route.h"

struct allocation_request;
struct macpool;

/* Applies the body of PATCH /v1/mac-pools/{name} (ranges, description) to
 * POOL and reads the result into CHANGED, checked as a new pool would be,
 * as the handler does.  Returns 0, or sets a 422 problem on RESP naming the
 * field at fault and returns its result. */
int macpool_patch_parse(const struct macpool *pool, struct json_object *body, struct macpool *changed,
                        struct response *resp);

/* Reads the body of POST /v1/mac-pools/{name}/blocks, a member's claim of
 * a block ({"node": UUID, "mac"?: MAC it wants inside the block}): NODE
 * (64 bytes) and the MAC if one is given.  Returns 0, or sets a 422 problem
 * on RESP naming the field and returns its result. */
int claim_request_parse(struct json_object *body, char node[64], bool *has_mac, uint64_t *mac,
                        struct response *resp);

/* Reads the body of POST /v1/mac-pools/{name}/allocations (mac, vm,
 * adapter; NULL is an empty request) into RQ (cleared first).  Returns 0,
 * or sets a 422 problem on RESP naming the field and returns its result. */
int allocation_request_parse(struct json_object *body, struct allocation_request *rq,
                             struct response *resp);

extern const struct route macpool_routes[];

#endif
