/* Routes for /v1/mac-pools: pools, allocations (Idempotency-Key honoured)
 * and the registry's block claims. */
#ifndef LMNET_API_MACPOOL_H
#define LMNET_API_MACPOOL_H

#include "api/route.h"

extern const struct route macpool_routes[];

#endif
