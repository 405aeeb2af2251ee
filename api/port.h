/* Routes for /v1/ports: list, create, show, change (PATCH), delete. */
#ifndef LMNET_API_PORT_H
#define LMNET_API_PORT_H

#include "api/route.h"

extern const struct route port_routes[];

#endif
