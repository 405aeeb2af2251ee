/* Route for /metrics: the agent's counters in Prometheus' text exposition
 * format (version 0.0.4). */
#ifndef LMNET_API_METRICS_H
#define LMNET_API_METRICS_H

#include "api/route.h"

extern const struct route metrics_routes[];

#endif
