/* Routes for /v1/host/nics: this host's NICs, and their offloads. */
#ifndef LMNET_API_NIC_H
#define LMNET_API_NIC_H

#include "api/route.h"

extern const struct route nic_routes[];

#endif
