/* One-time join tokens, on the registry (agent/credential.h): an admin asks
 * for one (POST /v1/cluster/join-tokens), the joining agent spends it once
 * (POST /v1/cluster/members).  Only the token's SHA-256 is stored. */
#ifndef LMNET_DB_JOIN_TOKEN_H
#define LMNET_DB_JOIN_TOKEN_H

#include <stdint.h>
#include "db/db.h"

/* Stores the token whose hash is HASH, good until EXPIRES_MS (wall clock),
 * made by ACTOR.  Returns 0 or a negative errno. */
int join_token_add(struct db *db, const char *hash, int64_t expires_ms, const char *actor);

/* Spends the token whose hash is HASH at NOW_MS: deletes it (and every
 * expired one).  Returns 0 when it was there and not expired, -EACCES when
 * unknown, spent or expired, or a negative errno.  Call it inside the
 * transaction that records what the token was spent on. */
int join_token_spend(struct db *db, const char *hash, int64_t now_ms);

#endif
