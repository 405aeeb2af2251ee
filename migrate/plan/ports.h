/* What VM lifecycle and live migration need of this host's switch ports, as
 * one table of function pointers: the agent fills it from its virtual-switch
 * code (agent/ ports over OVSDB); unit tests bring a fake.
 *
 * A port is named by its switch-port name, which is also the name of the
 * VM adapter's tap device (so at most 15 characters).  Its settings are a
 * struct port_record (db/port.h: switch, mac, vlan, guards, bandwidth,
 * active), which travels between hosts in the peer protocol's codec
 * (migrate/peer_protocol.h): the source describes each port, the
 * destination creates the same port inactive, and at switchover the
 * destination activates its copy while the source deactivates its own. */
#ifndef LMNET_MIGRATE_PORTS_H
#define LMNET_MIGRATE_PORTS_H

#include <stdbool.h>

/* db/port.h; this layer (plan, on base only) passes it by pointer and never
 * looks inside. */
struct port_record;

struct port_ops {
    /* Fills *OUT with the settings of port NAME.  Returns 0, -ENOENT, or a
     * negative errno (*OUT is then unspecified). */
    int (*describe)(void *ctx, const char *name, struct port_record *out);

    /* Creates a port from SETTINGS (as describe() returned them on another
     * host), with active forced to false, so it exists with
     * every setting yet passes no traffic.  Returns 0, -EEXIST when a port
     * of that name exists, or a negative errno (-EHOSTUNREACH-style errors
     * when this host lacks the switch or a VLAN). */
    int (*create_inactive)(void *ctx, const struct port_record *settings);

    /* Lets the port pass traffic (FORWARD) or not, and changes nothing
     * else of it (the switch-over's operation: it runs while the VM is
     * paused).  Returns 0, -ENOENT or a negative errno. */
    int (*set_forwarding)(void *ctx, const char *name, bool forward);

    /* Deletes the port (its MAC stays allocated: the address travels with
     * the VM).  Returns 0, -ENOENT or a negative errno. */
    int (*remove)(void *ctx, const char *name);
};

/* The port table with its context, as the agent passes it around. */
struct ports {
    const struct port_ops *ops;
    void *ctx;
};

/* The ports of a host without a virtual switch: none exist (-ENOENT) and
 * none can be made (-ENODEV).  VMs without adapters still run there. */
extern const struct ports ports_none;

#endif
