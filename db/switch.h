/* Virtual switches as lmnet means them to be (schema/0004_switches.sql). */
#ifndef LMNET_DB_SWITCH_H
#define LMNET_DB_SWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "db/db.h"

#define SWITCH_MAX_VLANS 4094

enum switch_type {
    SWITCH_EXTERNAL, /* bound to an uplink NIC */
    SWITCH_INTERNAL, /* the host has a port on it */
    SWITCH_PRIVATE,  /* VMs only */
};

struct vswitch_record {
    char name[16];           /* also the OVS bridge name */
    enum switch_type type;
    char uplink[16];         /* external */
    size_t n_uplink_vlans;   /* external: what the uplink trunks; 0: every VLAN */
    uint16_t uplink_vlans[SWITCH_MAX_VLANS];
    uint16_t management_vlan; /* internal: the host port's VLAN, 0 none */
    int64_t generation;
    int64_t created_ms;
};

const char *switch_type_to_string(enum switch_type type);
int switch_type_from_string(const char *name, enum switch_type *type);

/* True for 1-15 of [a-z0-9-], starting with a letter (an interface name). */
bool switch_name_valid(const char *name);

/* Stores S.  Returns 0, -EEXIST, or a negative errno. */
int switch_insert(struct db *db, const struct vswitch_record *s);
/* Reads one.  Returns 0, -ENOENT or a negative errno. */
int switch_get(struct db *db, const char *name, struct vswitch_record *out);
/* Every switch by name; *out (n) is the caller's to free(). */
int switch_list(struct db *db, struct vswitch_record **out, size_t *n);
/* Deletes one without ports.  Returns 0, -ENOENT, -EBUSY (it has ports). */
int switch_delete(struct db *db, const char *name);
/* True when the switch's uplink carries VLAN ID (always for internal and
 * private switches, and for an uplink that trunks every VLAN). */
bool switch_carries(const struct vswitch_record *s, uint16_t id);

struct json_object *switch_to_json(const struct vswitch_record *s);

#endif
