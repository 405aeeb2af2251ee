/* Pre-flight decisions: see migrate/plan/planner.h.  Refusals name the facts
 * that led to them, so an operator can fix the cluster rather than guess. */
#include "migrate/plan/planner.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *planner_role_to_string(enum planner_role role)
{
    switch (role) {
    case PLANNER_ROLE_NONE: return "none";
    case PLANNER_ROLE_MANAGEMENT: return "management";
    case PLANNER_ROLE_MIGRATION: return "migration";
    case PLANNER_ROLE_STORAGE: return "storage";
    case PLANNER_ROLE_VM: return "vm";
    }
    return "unknown";
}

const char *planner_state_to_string(enum planner_state state)
{
    switch (state) {
    case PLANNER_STATE_UP: return "up";
    case PLANNER_STATE_PARTITIONED: return "partitioned";
    case PLANNER_STATE_DOWN: return "down";
    case PLANNER_STATE_UNAVAILABLE: return "unavailable";
    }
    return "unknown";
}

static const struct planner_network *best(const struct planner_network *nets, size_t n,
                                          enum planner_role role)
{
    const struct planner_network *chosen = NULL;
    for (size_t i = 0; i < n; i++) {
        const struct planner_network *net = &nets[i];
        if (net->role != role || net->state != PLANNER_STATE_UP || !net->source_address[0] ||
            !net->destination_address[0])
            continue;
        if (!chosen || net->metric < chosen->metric ||
            (net->metric == chosen->metric && strcmp(net->id, chosen->id) < 0))
            chosen = net;
    }
    return chosen;
}

int planner_choose_network(const struct planner_network *nets, size_t n, bool allow_management,
                           const struct planner_network **chosen, struct refusal *refusal)
{
    const struct planner_network *net = best(nets, n, PLANNER_ROLE_MIGRATION);
    if (!net && allow_management)
        net = best(nets, n, PLANNER_ROLE_MANAGEMENT);
    if (net) {
        *chosen = net;
        return 0;
    }
    /* Say why each migration network did not qualify. */
    char seen[384] = "";
    size_t used = 0;
    for (size_t i = 0; i < n && used < sizeof(seen) - 1; i++) {
        const struct planner_network *x = &nets[i];
        if (x->role != PLANNER_ROLE_MIGRATION)
            continue;
        const char *why = x->state != PLANNER_STATE_UP ? planner_state_to_string(x->state)
                          : !x->source_address[0]     ? "source not on it"
                                                      : "destination not on it";
        int w = snprintf(seen + used, sizeof(seen) - used, "%s'%s' (%s)", used ? ", " : "", x->name, why);
        if (w > 0)
            used += (size_t)w;
    }
    if (used)
        return refuse(refusal, -EPERM, REFUSAL_CONFLICT, "no-migration-network",
                      "no Up cluster network with role 'migration' is shared by both hosts: %s; "
                      "memory is not sent over the management network unless the request sets "
                      "allow_management_network",
                      seen);
    return refuse(refusal, -EPERM, REFUSAL_CONFLICT, "no-migration-network",
                  "no cluster network has role 'migration'%s; give one the role "
                  "(lmnetctl network set NAME --role migration) or set allow_management_network",
                  allow_management ? " and no Up management network is shared by both hosts" : "");
}

int planner_check_vlans(const char *switch_name, const uint16_t *vm_vlans, size_t n_vm,
                        const uint16_t *uplink_vlans, size_t n_uplink, bool trunks_all,
                        struct refusal *refusal)
{
    if (trunks_all)
        return 0;
    char missing[256] = "";
    size_t used = 0, count = 0;
    for (size_t i = 0; i < n_vm; i++) {
        uint16_t v = vm_vlans[i];
        if (v == 0)
            continue; /* untagged traffic needs no trunk entry */
        bool carried = false;
        for (size_t j = 0; j < n_uplink && !carried; j++)
            carried = uplink_vlans[j] == v;
        bool listed = false;
        for (size_t k = 0; k < i && !listed; k++)
            listed = vm_vlans[k] == v;
        if (carried || listed)
            continue;
        count++;
        int w = snprintf(missing + used, sizeof(missing) - used, "%s%u", used ? ", " : "", v);
        if (w > 0 && (size_t)w < sizeof(missing) - used)
            used += (size_t)w;
    }
    if (!count)
        return 0;
    return refuse(refusal, -EPERM, REFUSAL_INVALID, "vlan-not-carried",
                  "the destination's switch '%s' does not carry VLAN%s %s on its uplink; add %s to "
                  "the uplink's trunk list there first",
                  switch_name, count > 1 ? "s" : "", missing, count > 1 ? "them" : "it");
}

int planner_check_macs(const bool *dynamic, const char *const *ports, size_t n, bool convert,
                       struct refusal *refusal)
{
    if (convert)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (dynamic[i])
            return refuse(refusal, -EPERM, REFUSAL_INVALID, "dynamic-mac",
                          "adapter on port '%s' has a dynamic MAC, which would change on the new "
                          "host; give it a static MAC from a cluster pool, or set "
                          "convert_dynamic_macs to have lmnet do it",
                          ports[i]);
    return 0;
}

bool planner_slot_free(unsigned active, unsigned max)
{
    return active < max;
}

unsigned planner_choose_channels(unsigned requested, bool direct_safe, char *note, size_t size)
{
    if (size)
        note[0] = '\0';
    if (requested <= 1)
        return 1;
    if (direct_safe)
        return requested;
    snprintf(note, size,
             "%u channels asked, 1 used: QEMU's channels cannot go directly from this host's "
             "migration address to the destination's (no address of one IP family on both, or "
             "this host would send from another address), and relaying them is slower than one",
             requested);
    return 1;
}

int planner_check_postcopy(unsigned channels, bool postcopy, struct refusal *refusal)
{
    if (!postcopy || channels <= 1)
        return 0;
    return refuse(refusal, -EPERM, REFUSAL_INVALID, "postcopy-needs-one-channel",
                  "post-copy needs one channel (QEMU 7.2 cannot do post-copy with %u multifd "
                  "channels): ask for one channel, or set convergence.allow_postcopy to false",
                  channels);
}
