/* VM ports as lmnet means them to be (schema/0004_switches.sql): switch,
 * adapter type, MAC and where it came from, VLAN, guards, bandwidth cap,
 * active.  Its JSON form is also what travels to a migration's destination
 * (migrate/plan/ports.h). */
#ifndef LMNET_DB_PORT_H
#define LMNET_DB_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "model/vlan.h"
#include "db/db.h"

enum mac_source {
    MAC_SOURCE_GIVEN,   /* an address the caller chose, not from a pool */
    MAC_SOURCE_STATIC,  /* from a cluster-wide pool */
    MAC_SOURCE_DYNAMIC, /* from this host's pool */
};

struct port_record {
    char name[16];
    char switch_name[16];
    char vm[64];
    bool legacy;
    char legacy_reason[128];
    uint64_t mac;
    char mac_pool[64];
    enum mac_source mac_source;
    bool has_vlan;
    struct vlan_assignment vlan;
    bool spoofing_allowed;
    bool dhcp_guard;
    bool router_guard;
    uint64_t max_bandwidth_kbps;
    bool active;
    int64_t generation;
    int64_t created_ms;
};

const char *mac_source_to_string(enum mac_source source);

/* Stores P.  Returns 0, -EEXIST (the name or the MAC is taken), or a
 * negative errno. */
int port_insert(struct db *db, const struct port_record *p);
/* Replaces the stored settings of P->name and bumps its generation.
 * Returns 0, -ENOENT, or a negative errno. */
int port_update(struct db *db, const struct port_record *p);
int port_get(struct db *db, const char *name, struct port_record *out);
/* Ports of SWITCH_NAME (NULL: all) by name; *out (n) is the caller's to
 * free(). */
int port_list(struct db *db, const char *switch_name, struct port_record **out, size_t *n);
int port_delete(struct db *db, const char *name);

/* The JSON form (caller owns). */
struct json_object *port_to_json(const struct port_record *p);

/* Reads the settings of a port from JSON, as POST /v1/ports takes them and
 * as port_to_json() writes them; the MAC may be absent (MAC_REQUIRED false:
 * it is allocated later).  Returns 0 or -EINVAL with the JSON pointer and a
 * sentence. */
int port_from_json(struct json_object *obj, bool mac_required, struct port_record *out,
                   char *pointer, size_t pointer_size, char *detail, size_t detail_size);

#endif
