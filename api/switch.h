/* Routes for /v1/switches: list, create, show, delete. */
#ifndef LMNET_API_SWITCH_H
#define LMNET_API_SWITCH_H

#include "api/route.h"

struct vswitch_record;

/* Reads the body of POST /v1/switches into S (cleared first): name, type,
 * uplink, vlans and management_vlan, as the handler takes them.  Returns 0,
 * or sets a 422 problem on RESP naming the field at fault and returns its
 * result.  Whether the switch can be made is for agent/switchport.c. */
int switch_request_parse(struct json_object *body, struct vswitch_record *s, struct response *resp);

extern const struct route switch_routes[];

#endif
