/* The list of every resource's route table (api/routes.c). */
#ifndef LMNET_API_ROUTES_H
#define LMNET_API_ROUTES_H

#include <stddef.h>
#include "api/route.h"

extern const struct route *const api_route_tables[];
extern const size_t api_route_tables_count;

#endif
