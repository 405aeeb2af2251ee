/* Migration pre-flight: the decisions of DESIGN.md's step 2, as pure
 * functions over plain inputs, so each rule is tested on its own and the
 * state machine only gathers the facts (networks, switches, MACs, slots)
 * and asks.
 *
 * Each check returns 0 when the migration may go on, or fills a refusal
 * (kind conflict or invalid, a problem type slug, a sentence for a person
 * that says what is wrong and what to do) and returns -EPERM. */
#ifndef LMNET_MIGRATE_PLANNER_H
#define LMNET_MIGRATE_PLANNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/refusal.h"

enum planner_role {
    PLANNER_ROLE_NONE,
    PLANNER_ROLE_MANAGEMENT,
    PLANNER_ROLE_MIGRATION,
    PLANNER_ROLE_STORAGE,
    PLANNER_ROLE_VM,
};

enum planner_state {
    PLANNER_STATE_UP,
    PLANNER_STATE_PARTITIONED,
    PLANNER_STATE_DOWN,
    PLANNER_STATE_UNAVAILABLE,
};

/* A cluster network as seen for one source/destination pair. */
struct planner_network {
    char id[64];
    char name[64];
    enum planner_role role;
    enum planner_state state;
    int metric;
    char source_address[64];      /* "" when the source has no address on it */
    char destination_address[64]; /* likewise for the destination */
};

/* Chooses the network memory will travel on: the Up network with role
 * migration that both hosts have an address on, lowest metric first (ties by
 * id).  Only when none exists and ALLOW_MANAGEMENT is set, the same among
 * management networks.  On success *chosen points into NETWORKS. */
int planner_choose_network(const struct planner_network *networks, size_t n, bool allow_management,
                           const struct planner_network **chosen, struct refusal *refusal);

/* Checks that the destination's switch carries every VLAN the VM uses:
 * VM_VLANS (N_VM, 0 meaning untagged) against the uplink's trunk list
 * (N_UPLINK; TRUNKS_ALL when the uplink carries every VLAN).  SWITCH_NAME
 * goes into the refusal. */
int planner_check_vlans(const char *switch_name, const uint16_t *vm_vlans, size_t n_vm,
                        const uint16_t *uplink_vlans, size_t n_uplink, bool trunks_all,
                        struct refusal *refusal);

/* Checks that no adapter has a dynamic MAC, unless CONVERT is set (then the
 * caller converts them to static ones first).  DYNAMIC[i] tells adapter i;
 * PORTS[i] names it for the refusal. */
int planner_check_macs(const bool *dynamic, const char *const *ports, size_t n, bool convert,
                       struct refusal *refusal);

/* Checks that a host with ACTIVE migrations may start one more under MAX.
 * HOST is "source" or "destination".  A full host is not a refusal of the
 * request: the migration waits in the queue; this answers whether it may
 * leave it now. */
bool planner_slot_free(unsigned active, unsigned max);

/* How many parallel streams a migration that asked for REQUESTED gets.
 * QEMU's multifd channels go straight over the migration network only when
 * DIRECT_SAFE (migrate/direct.h: the destination can restrict its socket to
 * the source's address, and the source sends from it); without that the
 * only way would be the agents' relay, which is slower than one stream on
 * small hosts, so the answer is 1.  NOTE (SIZE bytes) gets a sentence when
 * the answer is less than asked, else "". */
unsigned planner_choose_channels(unsigned requested, bool direct_safe, char *note, size_t size);

/* Checks that post-copy, when POSTCOPY allows it, comes with one channel:
 * QEMU 7.2 cannot do post-copy with multifd (its destination crashed when
 * tried). */
int planner_check_postcopy(unsigned channels, bool postcopy, struct refusal *refusal);

const char *planner_role_to_string(enum planner_role role);
const char *planner_state_to_string(enum planner_state state);

#endif
