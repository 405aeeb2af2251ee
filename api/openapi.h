/* Route for /v1/openapi.json: the OpenAPI document (api/openapi.json),
 * embedded at build time, so what is served is what this binary was built
 * with. */
#ifndef LMNET_API_OPENAPI_H
#define LMNET_API_OPENAPI_H

#include "api/route.h"

extern const struct route openapi_routes[];

#endif
