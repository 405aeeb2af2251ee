/* The cluster's heartbeat key: 16 random bytes that sign every heartbeat
 * datagram (agent/heartbeat.h).  The registry makes it once and serves it
 * to members (GET /v1/cluster/heartbeat-key); members store their copy. */
#ifndef LMNET_DB_HEARTBEAT_KEY_H
#define LMNET_DB_HEARTBEAT_KEY_H

#include <stdint.h>
#include "db/db.h"

#define HEARTBEAT_KEY_SIZE 16

/* Reads the stored key.  Returns 0, -ENOENT or a negative errno. */
int heartbeat_key_get(struct db *db, uint8_t key[HEARTBEAT_KEY_SIZE]);

/* Stores KEY in place of any other.  Returns 0 or a negative errno. */
int heartbeat_key_put(struct db *db, const uint8_t key[HEARTBEAT_KEY_SIZE]);

/* The registry's: reads the key, or makes a random one and stores it, once
 * (two callers racing agree on one).  Returns 0 or a negative errno. */
int heartbeat_key_make(struct db *db, uint8_t key[HEARTBEAT_KEY_SIZE]);

#endif
