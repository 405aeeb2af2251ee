/* This agent's identity in its database: a UUID created once (libuuid) and
 * kept for the life of the database. */
#ifndef LMNET_DB_NODE_H
#define LMNET_DB_NODE_H

#include "db/db.h"

/* Reads the node id into OUT (37 bytes), creating and storing a random UUID
 * the first time.  Returns 0, or a negative errno. */
int node_id_load(struct db *db, char out[37]);

#endif
