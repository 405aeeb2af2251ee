/* Cluster networks as stored: their settings, the members' inventories they
 * are discovered from (on the registry), and the copy of the registry's
 * view that every other agent keeps (see schema/0003_networks.sql). */
#ifndef LMNET_DB_NETWORK_H
#define LMNET_DB_NETWORK_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "model/network.h"
#include "db/db.h"

/* Stores a new network.  Returns 0, -EEXIST when its id, number, name or
 * subnet is taken, or a negative errno. */
int network_insert(struct db *db, const struct network_settings *settings);

/* Writes the name, role, metric and auto_metric of the network with
 * SETTINGS->id.  Returns 0, -ENOENT, -EEXIST (name taken) or a negative
 * errno. */
int network_update(struct db *db, const struct network_settings *settings);

/* Lists every network by number; *out (n) is the caller's to free(). */
int network_list(struct db *db, struct network_settings **out, size_t *n);

/* Stores MEMBER's inventory (JSON, not consumed).  Returns 0, -ENOENT when
 * MEMBER is not a member, or a negative errno. */
int network_inventory_put(struct db *db, const char *member, struct json_object *inventory);

/* Every stored inventory as {"MEMBER": {"reported": ms, "inventory": ...}}
 * (caller owns), or NULL on error. */
struct json_object *network_inventory_all(struct db *db);

/* The cached view: stores VIEW (not consumed) / reads it (caller owns;
 * -ENOENT when none was cached yet).  *fetched_ms may be NULL. */
int network_cache_put(struct db *db, struct json_object *view);
int network_cache_get(struct db *db, struct json_object **view, int64_t *fetched_ms);

#endif
