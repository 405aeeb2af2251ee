/* Routes for /v1/host/nics: this host's NICs, and their offloads. */
#ifndef LMNET_API_NIC_H
#define LMNET_API_NIC_H

#include "api/route.h"

/* Checks the body of PATCH /v1/host/nics/{name}: {"offloads": {NAME:
 * true|false, ...}} with known offload names.  Returns 0 and *OFFLOADS (the
 * body's object, not a new reference), or sets a 422 problem on RESP naming
 * the field and returns its result. */
int nic_patch_parse(struct json_object *body, struct json_object **offloads, struct response *resp);

extern const struct route nic_routes[];

#endif
