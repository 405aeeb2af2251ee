/* Routes for /v1/ports: list, create, show, change (PATCH), delete. */
#ifndef LMNET_API_PORT_H
#define LMNET_API_PORT_H

#include "api/route.h"

struct port_record;

/* Applies PATCH /v1/ports/{name}'s body PATCH to CURRENT (the port as its
 * GET shows it; changed in place) and reads the result into CHANGED, as the
 * handler does.  Returns 0, or sets a 422 problem on RESP (read-only for a
 * field kept for the port's life, invalid naming the field) and returns its
 * result. */
int port_patch_parse(struct json_object *current, struct json_object *patch,
                     struct port_record *changed, struct response *resp);

extern const struct route port_routes[];

#endif
