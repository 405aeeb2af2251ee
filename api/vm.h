/* Routes for /v1/vms: list, create (and start), show, start, stop, delete. */
#ifndef LMNET_API_VM_H
#define LMNET_API_VM_H

#include "api/route.h"

struct vm;

/* Reads the body of POST /v1/vms (REQ->json) into VM (cleared first), as
 * the handler does: the files it boots must be readable here and lie in
 * image_dirs, and each adapter's port must exist on REQ->agent->ports.
 * Returns 0, or sets a 422 problem on RESP naming the field at fault and
 * returns its result (a negative errno when a port cannot be asked). */
int vm_request_parse(struct request *req, struct response *resp, struct vm *vm);

extern const struct route vm_routes[];

#endif
