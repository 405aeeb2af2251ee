/* Switches and VM ports made real: see agent/switchport.h.
 *
 * Threads: API workers call in concurrently; one mutex serialises changes,
 * so a port's row and its switch state never interleave with another
 * change of the same port. */
#include "agent/switchport.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "agent/agent.h"
#include "agent/allocator.h"
#include "base/cleanup.h"
#include "base/clock.h"
#include "base/log.h"
#include "vswitch/vswitch.h"
#include "db/event.h"

struct switchport {
    struct agent *agent;
    struct vswitch *vs;
    /* Switch changes, syncs and scrubs hold it for writing; port changes
     * for reading, so ports are made side by side (Open vSwitch folds
     * changes that arrive together into one reconfiguration), each also
     * holding its port's name, so one port's changes stay in order and
     * never wait on another port's (hashed stripes did: with 16 stripes,
     * 16 ports made at once nearly always shared one, and the second
     * waited out the first's ~70 ms with the switch). */
    pthread_rwlock_t lock;
    pthread_mutex_t names_lock; /* guards busy */
    pthread_cond_t names_freed;
    char (*busy)[16]; /* names of the ports being changed */
    size_t n_busy, cap_busy;
    struct ports ports;
    pthread_t watcher;
    bool watching;
    atomic_bool stopping;
};

static struct db *db_of(struct switchport *sp)
{
    return db_pool_get(sp->agent->db);
}

static void record(struct switchport *sp, const char *actor, const char *kind, const char *subject,
                   struct json_object *detail)
{
    event_record(db_of(sp), sp->agent->node_id, actor ? actor : "agent", kind, subject, detail);
}

/* ---- applying ---- */

static int apply_switch(struct switchport *sp, const struct vswitch_record *s)
{
    int r = vswitch_bridge_ensure(sp->vs, s->name);
    if (r < 0)
        return r;
    if (s->type == SWITCH_EXTERNAL && s->uplink[0]) {
        struct vswitch_port_spec up = { 0 };
        snprintf(up.name, sizeof(up.name), "%s", s->uplink);
        up.n_trunks = s->n_uplink_vlans < VSWITCH_MAX_TRUNKS ? s->n_uplink_vlans : VSWITCH_MAX_TRUNKS;
        memcpy(up.trunks, s->uplink_vlans, up.n_trunks * sizeof(up.trunks[0]));
        snprintf(up.vm, sizeof(up.vm), "uplink");
        r = vswitch_port_ensure(sp->vs, s->name, &up);
    }
    if (s->type == SWITCH_INTERNAL && s->management_vlan) {
        /* The host's own port on the switch (the bridge's internal port)
         * sits on the management VLAN. */
        struct vswitch_port_spec host = { .internal = true, .tag = s->management_vlan };
        snprintf(host.name, sizeof(host.name), "%s", s->name);
        snprintf(host.vm, sizeof(host.vm), "host");
        r = vswitch_port_ensure(sp->vs, s->name, &host);
    }
    return r;
}

static int apply_guards(struct switchport *sp, const struct port_record *p, bool fresh);

static int apply_port(struct switchport *sp, const struct port_record *p, bool fresh)
{
    struct vswitch_port_spec spec = { .tap = true };
    snprintf(spec.name, sizeof(spec.name), "%s", p->name);
    if (p->has_vlan && p->vlan.mode == VLAN_MODE_ACCESS) {
        spec.tag = p->vlan.id;
    } else if (p->has_vlan) {
        spec.n_trunks = p->vlan.n_allowed < VSWITCH_MAX_TRUNKS ? p->vlan.n_allowed : VSWITCH_MAX_TRUNKS;
        memcpy(spec.trunks, p->vlan.allowed, spec.n_trunks * sizeof(spec.trunks[0]));
    }
    spec.ingress_kbps = p->max_bandwidth_kbps;
    snprintf(spec.vm, sizeof(spec.vm), "%s", p->vm);
    int r = vswitch_port_ensure(sp->vs, p->switch_name, &spec);
    if (r < 0)
        return r;
    return apply_guards(sp, p, fresh);
}

static int apply_guards(struct switchport *sp, const struct port_record *p, bool fresh)
{
    struct vswitch_port_guards g = {
        .mac = p->mac,
        .spoofing_allowed = p->spoofing_allowed,
        .dhcp_guard = p->dhcp_guard,
        .router_guard = p->router_guard,
        .active = p->active,
        .fresh = fresh,
    };
    snprintf(g.name, sizeof(g.name), "%s", p->name);
    return vswitch_port_guards(sp->vs, p->switch_name, &g);
}

static void unapply_port(struct switchport *sp, const char *switch_name, const char *name)
{
    int r = vswitch_port_delete(sp->vs, switch_name, name);
    if (r < 0 && r != -ENOENT)
        log_errno(LOG_LEVEL_WARNING, r, "cannot remove port=%s from the switch", name);
}

/* ---- switches ---- */

int switchport_switch_add(struct switchport *sp, const struct vswitch_record *s, const char *actor,
                          struct refusal *err)
{
    if (!switch_name_valid(s->name))
        return refusal_set(
            err, -EINVAL, REFUSAL_INVALID, "invalid", "/name",
            "'%s' is not a switch name: 1-15 of a-z, 0-9, '-', starting with a letter", s->name);
    if (s->type == SWITCH_EXTERNAL && !s->uplink[0])
        return refusal_set(err, -EINVAL, REFUSAL_INVALID, "invalid", "/uplink",
                           "an external switch is bound to an uplink NIC: give 'uplink'");
    if (s->type != SWITCH_EXTERNAL && s->uplink[0])
        return refusal_set(err, -EINVAL, REFUSAL_INVALID, "invalid", "/uplink",
                           "only an external switch has an uplink");
    pthread_rwlock_wrlock(&sp->lock);
    int r = switch_insert(db_of(sp), s);
    if (r == -EEXIST) {
        pthread_rwlock_unlock(&sp->lock);
        return refusal_set(err, r, REFUSAL_CONFLICT, "conflict", "/name", "a switch '%s' exists",
                           s->name);
    }
    if (r >= 0) {
        r = apply_switch(sp, s);
        if (r < 0) {
            switch_delete(db_of(sp), s->name);
            pthread_rwlock_unlock(&sp->lock);
            return refusal_set(err, r, r == -EPERM ? REFUSAL_CONFLICT : REFUSAL_BAD_ANSWER,
                               r == -EPERM ? "not-lmnets" : "switch-refused", NULL,
                               r == -EPERM
                                   ? "a bridge or port '%s' exists on the switch and is not "
                                     "lmnet's; lmnet leaves it alone"
                                   : "the virtual switch refused '%s' (see the agent's log)",
                               s->name);
        }
    }
    pthread_rwlock_unlock(&sp->lock);
    if (r < 0)
        return refusal_set(err, r, REFUSAL_INTERNAL, "database", NULL,
                           "cannot store the switch: %s", strerror(-r));
    _cleanup_json_ struct json_object *detail = switch_to_json(s);
    record(sp, actor, "switch.create", s->name, detail);
    return 0;
}

int switchport_switch_remove(struct switchport *sp, const char *name, const char *actor,
                             struct refusal *err)
{
    pthread_rwlock_wrlock(&sp->lock);
    struct vswitch_record *s = malloc(sizeof(*s));
    int r = s ? switch_get(db_of(sp), name, s) : -ENOMEM;
    if (r == 0)
        r = switch_delete(db_of(sp), name);
    if (r == 0) {
        int d = vswitch_bridge_delete(sp->vs, name);
        if (d < 0 && d != -ENOENT)
            log_errno(LOG_LEVEL_WARNING, d, "cannot delete bridge=%s", name);
    }
    pthread_rwlock_unlock(&sp->lock);
    free(s);
    if (r == -ENOENT)
        return refusal_set(err, r, REFUSAL_NOT_FOUND, "not-found", NULL, "no switch '%s'", name);
    if (r == -EBUSY)
        return refusal_set(err, r, REFUSAL_CONFLICT, "switch-in-use", NULL,
                           "switch '%s' still has ports; delete them first", name);
    if (r < 0)
        return refusal_set(err, r, REFUSAL_INTERNAL, "database", NULL, "cannot delete: %s",
                           strerror(-r));
    record(sp, actor, "switch.delete", name, NULL);
    return 0;
}

/* ---- ports ---- */

static int check_port(struct switchport *sp, const struct port_record *p, struct refusal *err)
{
    struct vswitch_record *s = malloc(sizeof(*s));
    if (!s)
        return -ENOMEM;
    int r = switch_get(db_of(sp), p->switch_name, s);
    if (r == -ENOENT) {
        free(s);
        return refusal_set(err, r, REFUSAL_INVALID, "switch-not-found", "/switch",
                           "no switch '%s' on this host", p->switch_name);
    }
    if (r == 0 && p->has_vlan) {
        uint16_t ids[VLAN_ID_MAX];
        size_t n = 0;
        if (p->vlan.mode == VLAN_MODE_ACCESS)
            ids[n++] = p->vlan.id;
        for (size_t i = 0; p->vlan.mode == VLAN_MODE_TRUNK && i < p->vlan.n_allowed; i++)
            ids[n++] = p->vlan.allowed[i];
        for (size_t i = 0; i < n; i++)
            if (!switch_carries(s, ids[i])) {
                r = refusal_set(
                    err, -EINVAL, REFUSAL_INVALID, "vlan-not-carried", "/vlan",
                    "the uplink %s of switch '%s' does not carry VLAN %u; add it to the "
                    "switch's 'vlans' or choose another",
                    s->uplink, s->name, ids[i]);
                break;
            }
    }
    free(s);
    return r;
}

static bool name_busy(const struct switchport *sp, const char *name)
{
    for (size_t i = 0; i < sp->n_busy; i++)
        if (strcmp(sp->busy[i], name) == 0)
            return true;
    return false;
}

static void port_lock(struct switchport *sp, const char *name)
{
    pthread_rwlock_rdlock(&sp->lock);
    pthread_mutex_lock(&sp->names_lock);
    while (name_busy(sp, name))
        pthread_cond_wait(&sp->names_freed, &sp->names_lock);
    if (sp->n_busy == sp->cap_busy) {
        void *more = realloc(sp->busy, 2 * sp->cap_busy * sizeof(*sp->busy));
        if (more) {
            sp->busy = more;
            sp->cap_busy *= 2;
        }
        /* Out of memory: wait for one of the others (at least 32) to go. */
        while (sp->n_busy == sp->cap_busy)
            pthread_cond_wait(&sp->names_freed, &sp->names_lock);
    }
    snprintf(sp->busy[sp->n_busy++], sizeof(sp->busy[0]), "%s", name);
    pthread_mutex_unlock(&sp->names_lock);
}

static void port_unlock(struct switchport *sp, const char *name)
{
    pthread_mutex_lock(&sp->names_lock);
    for (size_t i = 0; i < sp->n_busy; i++) {
        if (strcmp(sp->busy[i], name) == 0) {
            memcpy(sp->busy[i], sp->busy[--sp->n_busy], sizeof(sp->busy[0]));
            break;
        }
    }
    pthread_cond_broadcast(&sp->names_freed);
    pthread_mutex_unlock(&sp->names_lock);
    pthread_rwlock_unlock(&sp->lock);
}

int switchport_port_add(struct switchport *sp, struct port_record *p, const char *actor,
                        struct refusal *err)
{
    int r = check_port(sp, p, err);
    if (r < 0)
        return r;
    bool allocated = false;
    if (p->mac == 0) {
        if (!p->mac_pool[0])
            return refusal_set(err, -EINVAL, REFUSAL_INVALID, "invalid", "/mac",
                               "give 'mac', or 'mac_pool' to take one (a static pool for clustered "
                               "VMs, or 'dynamic' for this host's own)");
        struct allocation_request rq = { 0 };
        snprintf(rq.vm, sizeof(rq.vm), "%s", p->vm);
        snprintf(rq.adapter, sizeof(rq.adapter), "%s", p->name);
        snprintf(rq.key, sizeof(rq.key), "port:%s", p->name);
        struct mac_allocation a;
        struct refusal aerr;
        r = allocator_allocate(sp->agent, p->mac_pool, &rq, actor, &a, &aerr);
        if (r < 0)
            return refusal_set(err, r, aerr.kind, aerr.type, "/mac_pool", "%s", aerr.detail);
        p->mac = a.mac;
        p->mac_source = strcmp(p->mac_pool, "dynamic") == 0 ? MAC_SOURCE_DYNAMIC : MAC_SOURCE_STATIC;
        allocated = true;
    }
    port_lock(sp, p->name);
    r = port_insert(db_of(sp), p);
    if (r == 0) {
        r = apply_port(sp, p, true);
        if (r < 0) {
            unapply_port(sp, p->switch_name, p->name);
            port_delete(db_of(sp), p->name);
            r = r == -EPERM ? -EPERM : -EREMOTEIO;
        }
    }
    port_unlock(sp, p->name);
    if (r < 0 && allocated) {
        struct refusal aerr;
        allocator_release(sp->agent, p->mac_pool, p->mac, actor, &aerr);
    }
    if (r == -EEXIST)
        return refusal_set(err, r, REFUSAL_CONFLICT, "conflict", "/name",
                           "a port named '%s' exists, or its MAC is on another port", p->name);
    if (r == -EPERM)
        return refusal_set(err, r, REFUSAL_CONFLICT, "not-lmnets", "/name",
                           "a port '%s' exists on the switch and is not lmnet's", p->name);
    if (r < 0)
        return refusal_set(err, r, REFUSAL_BAD_ANSWER, "switch-refused", NULL,
                           "the virtual switch refused port '%s' (see the agent's log)", p->name);
    _cleanup_json_ struct json_object *detail = port_to_json(p);
    record(sp, actor, "port.create", p->name, detail);
    return 0;
}

int switchport_port_change(struct switchport *sp, const struct port_record *p, const char *actor,
                           struct refusal *err)
{
    int r = check_port(sp, p, err);
    if (r < 0)
        return r;
    port_lock(sp, p->name);
    struct port_record *old = malloc(sizeof(*old));
    r = old ? port_get(db_of(sp), p->name, old) : -ENOMEM;
    if (r == 0)
        r = port_update(db_of(sp), p);
    if (r == 0) {
        r = apply_port(sp, p, false);
        if (r < 0) { /* put back what was there */
            port_update(db_of(sp), old);
            apply_port(sp, old, false);
            r = -EREMOTEIO;
        }
    }
    port_unlock(sp, p->name);
    free(old);
    if (r == -ENOENT)
        return refusal_set(err, r, REFUSAL_NOT_FOUND, "not-found", NULL, "no port '%s'", p->name);
    if (r < 0)
        return refusal_set(err, r, REFUSAL_BAD_ANSWER, "switch-refused", NULL,
                           "the virtual switch refused the change of port '%s'; it is as it was",
                           p->name);
    _cleanup_json_ struct json_object *detail = port_to_json(p);
    record(sp, actor, "port.change", p->name, detail);
    return 0;
}

int switchport_port_set_forwarding(struct switchport *sp, const char *name, bool forward)
{
    port_lock(sp, name);
    struct port_record *p = malloc(sizeof(*p));
    int r = p ? port_get(db_of(sp), name, p) : -ENOMEM;
    if (r == 0 && p->active != forward) {
        p->active = forward;
        r = port_update(db_of(sp), p);
        /* Only the guards carry the flag: no OVSDB port transaction. */
        if (r == 0 && (r = apply_guards(sp, p, false)) < 0) {
            p->active = !forward; /* the record says what the switch does */
            int u = port_update(db_of(sp), p);
            if (u < 0)
                log_errno(LOG_LEVEL_ERROR, u, "cannot put back the forwarding of port=%s", name);
            r = -EREMOTEIO;
        }
    }
    port_unlock(sp, name);
    free(p);
    if (r < 0 && r != -ENOENT)
        log_errno(LOG_LEVEL_ERROR, r, "cannot turn forwarding %s on port=%s", forward ? "on" : "off",
                  name);
    return r;
}

int switchport_port_remove(struct switchport *sp, const char *name, bool release_mac,
                           const char *actor, struct refusal *err)
{
    port_lock(sp, name);
    struct port_record *p = malloc(sizeof(*p));
    int r = p ? port_get(db_of(sp), name, p) : -ENOMEM;
    if (r == 0)
        r = port_delete(db_of(sp), name);
    if (r == 0)
        unapply_port(sp, p->switch_name, name);
    port_unlock(sp, name);
    if (r == 0 && release_mac && p->mac_source != MAC_SOURCE_GIVEN && p->mac_pool[0]) {
        struct refusal aerr;
        allocator_release(sp->agent, p->mac_pool, p->mac, actor, &aerr);
    }
    free(p);
    if (r == -ENOENT)
        return refusal_set(err, r, REFUSAL_NOT_FOUND, "not-found", NULL, "no port '%s'", name);
    if (r < 0)
        return refusal_set(err, r, REFUSAL_INTERNAL, "database", NULL, "cannot delete: %s",
                           strerror(-r));
    record(sp, actor, "port.delete", name, NULL);
    return 0;
}

static const struct vswitch_object *find_object(const struct vswitch_object *objects, size_t n,
                                                const char *bridge, const char *port)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(objects[i].bridge, bridge) == 0 && strcmp(objects[i].port, port) == 0)
            return &objects[i];
    return NULL;
}

static bool listed(const struct vswitch_object *objects, size_t n, const char *bridge,
                   const char *port)
{
    return find_object(objects, n, bridge, port) != NULL;
}

static bool in_list(const uint16_t *list, size_t n, uint16_t id)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == id)
            return true;
    return false;
}

/* True when the switch's VLAN settings of port P (OBJECT) are not the
 * database's: someone changed them by hand. */
static bool vlan_drifted(const struct port_record *p, const struct vswitch_object *object)
{
    uint16_t tag = p->has_vlan && p->vlan.mode == VLAN_MODE_ACCESS ? (uint16_t)p->vlan.id : 0;
    if (object->tag != tag)
        return true;
    size_t n = p->has_vlan && p->vlan.mode != VLAN_MODE_ACCESS ? p->vlan.n_allowed : 0;
    if (n > VSWITCH_MAX_TRUNKS)
        n = VSWITCH_MAX_TRUNKS;
    if (object->n_trunks != n)
        return true;
    for (size_t i = 0; i < n; i++)
        if (!in_list(object->trunks, object->n_trunks, p->vlan.allowed[i]))
            return true;
    return false;
}

static void drift_event(struct switchport *sp, const char *kind, const char *bridge,
                        const char *subject)
{
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "bridge", json_object_new_string(bridge));
    record(sp, NULL, kind, subject, detail);
}

/* Makes the switch match the database: EVERYTHING re-applies every switch
 * and port (at start: flows do not survive a switch restart); otherwise
 * only what is missing is put back.  What lmnet made and no longer means to
 * have is removed either way.  Returns the number of repairs. */
static int sync_switch(struct switchport *sp, bool everything)
{
    struct vswitch_record *switches = NULL;
    struct port_record *ports = NULL;
    struct vswitch_object *objects = NULL;
    size_t n_switches = 0, n_ports = 0, n_objects = 0;
    /* The database is read under the lock too: a port added meanwhile must
     * not look like a stray on the switch. */
    pthread_rwlock_wrlock(&sp->lock);
    int r = switch_list(db_of(sp), &switches, &n_switches);
    if (r == 0)
        r = port_list(db_of(sp), NULL, &ports, &n_ports);
    if (r == 0)
        r = vswitch_list(sp->vs, &objects, &n_objects);
    int repaired = 0;
    for (size_t i = 0; r == 0 && i < n_switches; i++) {
        bool missing = !listed(objects, n_objects, switches[i].name, "");
        if (!everything && !missing)
            continue;
        if (apply_switch(sp, &switches[i]) < 0) {
            log_error("cannot put back switch=%s", switches[i].name);
        } else if (missing) {
            repaired++;
            drift_event(sp, "switch.drift.repaired", switches[i].name, switches[i].name);
        }
    }
    for (size_t i = 0; r == 0 && i < n_ports; i++) {
        const struct vswitch_object *on_switch =
            find_object(objects, n_objects, ports[i].switch_name, ports[i].name);
        bool missing = !on_switch, drifted = on_switch && vlan_drifted(&ports[i], on_switch);
        if (!everything && !missing && !drifted)
            continue;
        if (apply_port(sp, &ports[i], false) < 0) {
            log_error("cannot put back port=%s", ports[i].name);
            if (everything) {
                /* The switch is not back yet: the watcher tries again
                 * rather than fail every port in turn. */
                r = -EAGAIN;
                break;
            }
        } else if (missing || drifted) {
            repaired++;
            log_warning("port %s behind lmnet's back, put back port=%s",
                        missing ? "deleted" : "VLAN changed", ports[i].name);
            drift_event(sp, "port.drift.repaired", ports[i].switch_name, ports[i].name);
        }
    }
    /* What lmnet made on the switch but no longer means to have goes. */
    for (size_t i = 0; r == 0 && i < n_objects; i++) {
        bool known = false;
        for (size_t k = 0; k < n_switches && !known; k++)
            known = strcmp(objects[i].bridge, switches[k].name) == 0 &&
                    (!objects[i].port[0] || strcmp(objects[i].port, switches[k].uplink) == 0);
        for (size_t k = 0; k < n_ports && !known; k++)
            known = strcmp(objects[i].port, ports[k].name) == 0;
        if (known)
            continue;
        if (objects[i].port[0])
            vswitch_port_delete(sp->vs, objects[i].bridge, objects[i].port);
        else
            vswitch_bridge_delete(sp->vs, objects[i].bridge);
        repaired++;
        drift_event(sp, "switch.drift.removed", objects[i].bridge,
                    objects[i].port[0] ? objects[i].port : objects[i].bridge);
    }
    pthread_rwlock_unlock(&sp->lock);
    free(objects);
    free(ports);
    free(switches);
    return r < 0 ? r : repaired;
}

int switchport_apply_all(struct switchport *sp)
{
    return sync_switch(sp, true);
}

/* The watcher: every change on the switch, by anyone, is checked against
 * the database a moment later (changes come in bursts). */
static void *watch_thread(void *arg)
{
    struct switchport *sp = arg;
    bool restore = false;
    int64_t retry_at = 0;
    while (!atomic_load(&sp->stopping)) {
        int r = vswitch_wait_change(sp->vs, 500);
        /* A switch that restarted kept its database but not its flows:
         * every guard goes back (tried again every few seconds until the
         * switch answers). */
        if (vswitch_flows_lost(sp->vs)) {
            log_warning("the switch lost its flows (restarted?): putting every guard back");
            restore = true;
        }
        if (restore && clock_mono_ms() >= retry_at) {
            int s = sync_switch(sp, true);
            restore = s < 0;
            retry_at = restore ? clock_mono_ms() + 3000 : 0;
            if (!restore)
                record(sp, NULL, "switch.guards.restored", "all", NULL);
            continue;
        }
        if (r < 0) {
            clock_sleep_ms(1000);
            continue;
        }
        if (r == 0)
            continue;
        while (vswitch_wait_change(sp->vs, 100) > 0)
            ; /* let the burst end */
        r = sync_switch(sp, false);
        if (r > 0)
            log_info("switch drift repaired repairs=%d", r);
    }
    return NULL;
}

int switchport_watch(struct switchport *sp)
{
    int r = pthread_create(&sp->watcher, NULL, watch_thread, sp);
    if (r != 0)
        return -r;
    pthread_setname_np(sp->watcher, "lmnet-ovswatch");
    sp->watching = true;
    return 0;
}

int switchport_scrub(struct switchport *sp, bool dry_run, const char *actor,
                     struct json_object **plan)
{
    struct vswitch_record *switches = NULL;
    struct port_record *ports = NULL;
    struct vswitch_object *objects = NULL;
    size_t n_switches = 0, n_ports = 0, n_objects = 0;
    int r = switch_list(db_of(sp), &switches, &n_switches);
    if (r == 0)
        r = port_list(db_of(sp), NULL, &ports, &n_ports);
    if (r == 0)
        r = vswitch_list(sp->vs, &objects, &n_objects);
    if (r < 0)
        goto out;
    *plan = json_object_new_object();
    struct json_object *sw = json_object_new_array(), *po = json_object_new_array(),
                       *left = json_object_new_array();
    json_object_object_add(*plan, "switches", sw);
    json_object_object_add(*plan, "ports", po);
    json_object_object_add(*plan, "leftovers", left);
    for (size_t i = 0; i < n_switches; i++)
        json_object_array_add(sw, json_object_new_string(switches[i].name));
    for (size_t i = 0; i < n_ports; i++)
        json_object_array_add(po, json_object_new_string(ports[i].name));
    for (size_t i = 0; i < n_objects; i++) {
        bool known = false;
        for (size_t k = 0; k < n_switches && !known; k++)
            known = strcmp(objects[i].bridge, switches[k].name) == 0;
        if (!known) {
            char text[140];
            snprintf(text, sizeof(text), "%s%s%s", objects[i].bridge, objects[i].port[0] ? "/" : "",
                     objects[i].port);
            json_object_array_add(left, json_object_new_string(text));
        }
    }
    json_object_object_add(*plan, "dry_run", json_object_new_boolean(dry_run));
    if (dry_run)
        goto out;
    struct refusal err;
    for (size_t i = 0; i < n_ports; i++)
        if (switchport_port_remove(sp, ports[i].name, true, actor, &err) < 0)
            log_error("scrub: %s", err.detail);
    for (size_t i = 0; i < n_switches; i++)
        if (switchport_switch_remove(sp, switches[i].name, actor, &err) < 0)
            log_error("scrub: %s", err.detail);
    for (size_t i = 0; i < n_objects; i++) {
        if (objects[i].port[0])
            vswitch_port_delete(sp->vs, objects[i].bridge, objects[i].port);
        else
            vswitch_bridge_delete(sp->vs, objects[i].bridge);
    }
    record(sp, actor, "switch.scrub", "all", *plan);
out:
    free(objects);
    free(ports);
    free(switches);
    return r;
}

/* ---- the port table for VMs and migration ---- */

static int ops_describe(void *ctx, const char *name, struct port_record *out)
{
    struct switchport *sp = ctx;
    return port_get(db_of(sp), name, out);
}

static int ops_create_inactive(void *ctx, const struct port_record *settings)
{
    struct switchport *sp = ctx;
    struct port_record *p = malloc(sizeof(*p));
    if (!p)
        return -ENOMEM;
    *p = *settings;
    p->active = false;
    struct refusal err;
    /* The MAC travels with the VM: it is the source's, not allocated here. */
    int r = switchport_port_add(sp, p, "migration", &err);
    if (r < 0)
        log_error("cannot prepare port=%s: %s", p->name, err.detail);
    free(p);
    return r;
}

static int ops_set_forwarding(void *ctx, const char *name, bool forward)
{
    return switchport_port_set_forwarding(ctx, name, forward);
}

static int ops_remove(void *ctx, const char *name)
{
    struct switchport *sp = ctx;
    struct refusal err;
    return switchport_port_remove(sp, name, false, "migration", &err);
}

static const struct port_ops switchport_port_ops = {
    .describe = ops_describe,
    .create_inactive = ops_create_inactive,
    .set_forwarding = ops_set_forwarding,
    .remove = ops_remove,
};

const struct ports *switchport_ports(struct switchport *sp)
{
    return &sp->ports;
}

int switchport_create(struct agent *agent, struct vswitch *vs, struct switchport **out)
{
    struct switchport *sp = calloc(1, sizeof(*sp));
    if (!sp)
        return -ENOMEM;
    sp->cap_busy = 32;
    sp->busy = calloc(sp->cap_busy, sizeof(*sp->busy));
    if (!sp->busy) {
        free(sp);
        return -ENOMEM;
    }
    sp->agent = agent;
    sp->vs = vs;
    pthread_rwlock_init(&sp->lock, NULL);
    pthread_mutex_init(&sp->names_lock, NULL);
    pthread_cond_init(&sp->names_freed, NULL);
    sp->ports.ops = &switchport_port_ops;
    sp->ports.ctx = sp;
    *out = sp;
    return 0;
}

void switchport_destroy(struct switchport *sp)
{
    if (!sp)
        return;
    atomic_store(&sp->stopping, true);
    if (sp->watching)
        pthread_join(sp->watcher, NULL);
    pthread_rwlock_destroy(&sp->lock);
    pthread_mutex_destroy(&sp->names_lock);
    pthread_cond_destroy(&sp->names_freed);
    free(sp->busy);
    free(sp);
}
