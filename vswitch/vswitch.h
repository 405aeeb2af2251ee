/* The virtual-switch driver interface: what lmnet asks of a switch, as one
 * table of function pointers.  The Open vSwitch driver (vswitch/vswitch_ovs.c,
 * over OVSDB) is the real one; unit tests bring a fake.
 *
 * Everything a driver creates carries lmnet's mark (in OVS,
 * external_ids:lmnet-*), and a driver never changes or deletes an object
 * without it: an operator's own bridges and ports are left alone.
 *
 * Errors are negative errnos: -ENOENT (no such object), -EPERM (the object
 * exists but is not lmnet's), -EPROTO/-EIO (the switch refused or is gone),
 * with the switch's words logged. */
#ifndef LMNET_AGENT_VSWITCH_H
#define LMNET_AGENT_VSWITCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VSWITCH_MAX_TRUNKS 64

struct vswitch;

/* A port as lmnet programs it. */
struct vswitch_port_spec {
    char name[16];   /* port and interface name (a tap or veth, or an
                        internal port the switch creates) */
    bool internal;   /* the switch creates the interface (the host's own
                        port on an internal switch) */
    bool tap;        /* a VM's port: the driver makes a persistent tap of
                        this name for it (and removes it with the port) */
    uint16_t tag;    /* access VLAN, 0: none */
    size_t n_trunks; /* trunk: allowed VLANs (tag 0) */
    uint16_t trunks[VSWITCH_MAX_TRUNKS];
    uint64_t ingress_kbps; /* bandwidth cap of traffic from the port; 0: none */
    char vm[64];     /* recorded with the port, for operators */
};

/* The guards of a port, programmed as flows (which must hand what they
 * do not drop to the NORMAL action, or VLAN isolation is lost). */
struct vswitch_port_guards {
    char name[16];
    uint64_t mac;          /* the adapter's own MAC */
    bool spoofing_allowed; /* false: frames with another source MAC drop */
    bool dhcp_guard;       /* drop DHCP server replies from the VM */
    bool router_guard;     /* drop router advertisements and redirects */
    bool active;           /* false: the port passes nothing either way */
    bool fresh;            /* the port was just made (never inactive): an
                              active one needs no port-flag change */
};

/* An object lmnet made, as a listing reports it. */
struct vswitch_object {
    char bridge[64];
    char port[64]; /* "" for the bridge itself */
    /* A port's VLAN settings as the switch has them, to find drift. */
    uint16_t tag;  /* access VLAN, 0 none */
    size_t n_trunks;
    uint16_t trunks[VSWITCH_MAX_TRUNKS];
};

struct vswitch_ops {
    const char *name;
    void (*destroy)(struct vswitch *vs);
    /* Creates bridge NAME (marked as lmnet's) unless it exists; an existing
     * bridge that is not lmnet's is -EPERM. */
    int (*bridge_ensure)(struct vswitch *vs, const char *name);
    /* Deletes lmnet's bridge NAME with its ports. */
    int (*bridge_delete)(struct vswitch *vs, const char *name);
    /* Creates or updates port SPEC on BRIDGE to match SPEC exactly. */
    int (*port_ensure)(struct vswitch *vs, const char *bridge, const struct vswitch_port_spec *spec);
    /* Deletes lmnet's port NAME from BRIDGE, with its guard flows (an old
     * port number's flows would otherwise apply to the next port given it)
     * and the tap it made for it. */
    int (*port_delete)(struct vswitch *vs, const char *bridge, const char *name);
    /* Replaces the guard flows of port GUARDS->name on BRIDGE. */
    int (*port_guards)(struct vswitch *vs, const char *bridge,
                       const struct vswitch_port_guards *guards);
    /* Waits up to TIMEOUT_MS for the switch's configuration to change (by
     * anyone).  Returns 1 when it changed, 0 on timeout, or a negative errno.
     * For one watching thread. */
    int (*wait_change)(struct vswitch *vs, int timeout_ms);
    /* True (once per loss) when the switch lost the guards it was given
     * (it restarted): every port's guards must be programmed again.
     * NULL: never. */
    bool (*flows_lost)(struct vswitch *vs);
    /* Lists every bridge and port that carries lmnet's mark: *out (n) is
     * the caller's to free(). */
    int (*list)(struct vswitch *vs, struct vswitch_object **out, size_t *n);
};

struct vswitch {
    const struct vswitch_ops *ops;
};

/* Dispatchers (see struct vswitch_ops). */
void vswitch_destroy(struct vswitch *vs); /* NULL is a no-op */
int vswitch_bridge_ensure(struct vswitch *vs, const char *name);
int vswitch_bridge_delete(struct vswitch *vs, const char *name);
int vswitch_port_ensure(struct vswitch *vs, const char *bridge,
                        const struct vswitch_port_spec *spec);
int vswitch_port_delete(struct vswitch *vs, const char *bridge, const char *name);
int vswitch_list(struct vswitch *vs, struct vswitch_object **out, size_t *n);
int vswitch_port_guards(struct vswitch *vs, const char *bridge,
                        const struct vswitch_port_guards *guards);
int vswitch_wait_change(struct vswitch *vs, int timeout_ms);
bool vswitch_flows_lost(struct vswitch *vs);

/* The Open vSwitch driver: OVSDB at ADDRESS ("unix:/run/openvswitch/db.sock"),
 * bridges with DATAPATH_TYPE ("system", or "netdev" for the userspace
 * datapath).  Returns 0 and *out, or a negative errno (the server does not
 * answer). */
int vswitch_ovs_create(const char *address, const char *datapath_type, struct vswitch **out);

/* Reads the Open vSwitch driver's listing transaction's answer (RESULTS:
 * the rows of Bridge with name, external_ids and ports, then of Port with
 * name, external_ids, _uuid, tag and trunks) into *out (n; the caller
 * frees it): lmnet's bridges and the ports it made on them.  Rows or values
 * of the wrong shape are skipped.  Returns 0 or -ENOMEM. */
struct json_object;
int vswitch_ovs_list_parse(struct json_object *results, struct vswitch_object **out, size_t *n);

#endif
