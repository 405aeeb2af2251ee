/* Routes for /v1/migrations: submit (any agent; forwarded to the VM's
 * host), list, show with its journal, cancel, and the peer calls a source
 * agent makes on the destination (prepare, switchover, finish, abort). */
#ifndef LMNET_API_MIGRATION_H
#define LMNET_API_MIGRATION_H

#include "api/route.h"

extern const struct route migration_routes[];

#endif
