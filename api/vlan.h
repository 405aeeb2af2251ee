/* Routes for /v1/vlans: the cluster's VLAN catalogue (kept by the
 * registry; other agents relay to it). */
#ifndef LMNET_API_VLAN_H
#define LMNET_API_VLAN_H

#include "api/route.h"

struct vlan;

/* Reads the body of POST /v1/vlans into VLAN (cleared first), as the
 * handler does: id, name, description.  Returns 0, or sets a 422 problem on
 * RESP naming the field at fault and returns its result. */
int vlan_request_parse(struct json_object *body, struct vlan *vlan, struct response *resp);

/* Applies the body of PATCH /v1/vlans/{id} to VLAN (as stored): name and
 * description change, nothing else.  Returns 0 or sets a 422 problem on
 * RESP and returns its result. */
int vlan_patch_parse(struct json_object *body, struct vlan *vlan, struct response *resp);

extern const struct route vlan_routes[];

#endif
