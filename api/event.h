/* Routes for /v1/events: the audit log, paged. */
#ifndef LMNET_API_EVENT_H
#define LMNET_API_EVENT_H

#include "api/route.h"

extern const struct route event_routes[];

#endif
