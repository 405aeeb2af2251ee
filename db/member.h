/* Cluster members as this agent knows them.
 *
 * On the registry agent the member table is the truth: members are added by
 * POST /v1/cluster/members with a join token, and each row holds the hash
 * of that member's credential (agent/credential.h).  On every other agent it is a cache, refreshed
 * from the registry by the membership thread (agent/membership.h), so that
 * heartbeats and peer calls still know their peers while the registry is
 * down. */
#ifndef LMNET_DB_MEMBER_H
#define LMNET_DB_MEMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "db/db.h"

struct member {
    char uuid[37];
    char name[256];
    char url[256];       /* base URL of its REST API */
    bool registry;
    int64_t joined_ms;
    int64_t last_seen_ms; /* 0: never */
};

/* Inserts or updates (by uuid) MEMBER; joined_ms is kept on update.
 * Returns 1 when it was new, 0 when updated, or a negative errno.  A URL
 * already used by another uuid is -EEXIST. */
int member_upsert(struct db *db, const struct member *member);

/* Lists all members, registry first then by name.  *out is an array of *n
 * members the caller frees with free().  Returns 0 or a negative errno. */
int member_list(struct db *db, struct member **out, size_t *n);

/* Finds a member by uuid.  Returns 0, -ENOENT, or a negative errno. */
int member_get(struct db *db, const char *uuid, struct member *out);

/* Deletes a member.  Returns 0, -ENOENT, or a negative errno. */
int member_delete(struct db *db, const char *uuid);

/* Replaces the whole table with MEMBERS (a non-registry agent's cache),
 * in one transaction.  Returns 0 or a negative errno. */
int member_replace_all(struct db *db, const struct member *members, size_t n);

/* Sets (HASH) or clears (NULL) the SHA-256 of MEMBER's credential
 * (agent/credential.h), on the registry.  Returns 0, -ENOENT, or a negative
 * errno. */
int member_set_credential(struct db *db, const char *uuid, const char *hash);

/* Finds the member whose credential hashes to HASH.  Returns 0, -ENOENT,
 * or a negative errno. */
int member_find_by_credential(struct db *db, const char *hash, struct member *out);

/* JSON form: {"id", "name", "url", "registry", "joined", "last_seen"}. */
struct json_object *member_to_json(const struct member *member);

/* Parses the JSON form back (times to whole seconds; absent or null is 0),
 * so a non-registry agent's cache keeps the registry's joined and last_seen.
 * Returns 0 or -EINVAL. */
int member_from_json(struct json_object *obj, struct member *out);

#endif
