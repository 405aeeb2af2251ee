/* The VLAN catalogue: id (1-4094), name, description.  Decided by the
 * registry like MAC blocks; ports and switches refer to these ids. */
#ifndef LMNET_DB_VLAN_H
#define LMNET_DB_VLAN_H

#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "db/db.h"

struct vlan {
    unsigned id;
    char name[64];
    char description[256];
    int64_t created_ms;
};

/* Stores VLAN.  Returns 0, -EEXIST when the id or the name is taken, or a
 * negative errno. */
int vlan_insert(struct db *db, const struct vlan *vlan);

/* Reads VLAN ID.  Returns 0, -ENOENT or a negative errno. */
int vlan_get(struct db *db, unsigned id, struct vlan *out);

/* Lists the catalogue by id; *out (n) is the caller's to free(). */
int vlan_list(struct db *db, struct vlan **out, size_t *n);

/* Renames VLAN->id and sets its description.  Returns 0, -ENOENT, -EEXIST
 * when another VLAN has the name, or a negative errno. */
int vlan_update(struct db *db, const struct vlan *vlan);

/* Deletes VLAN ID.  Returns 0, -ENOENT or a negative errno. */
int vlan_delete(struct db *db, unsigned id);

struct json_object *vlan_to_json(const struct vlan *vlan);

#endif
