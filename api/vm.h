/* Routes for /v1/vms: list, create (and start), show, start, stop, delete. */
#ifndef LMNET_API_VM_H
#define LMNET_API_VM_H

#include "api/route.h"

extern const struct route vm_routes[];

#endif
