/* Routes for /v1/vlans: the cluster's VLAN catalogue (kept by the
 * registry; other agents relay to it). */
#ifndef LMNET_API_VLAN_H
#define LMNET_API_VLAN_H

#include "api/route.h"

extern const struct route vlan_routes[];

#endif
