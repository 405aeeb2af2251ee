/* The live-migration state machine: see migrate/migrator.h.
 *
 * The journal's step names, and how each is undone before switchover:
 *   source:       prepare-destination  POST .../abort on the destination
 *                 vm-migrating         the VM's state back to running
 *                 channel              (in memory: the forwarder is closed,
 *                                      or QEMU holds the one stream)
 *                 vm-paused            resume the vCPUs (quick mode, or the
 *                                      convergence policy's pause)
 *                 qemu-migrate         migrate_cancel, resume if paused
 *                 destination-ports    (undone by the destination's abort)
 *                 postcopy-requested   (the convergence policy's last resort:
 *                                      QEMU still stops at pre-switchover,
 *                                      so nothing to undo)
 *                 continue             the point of no return: after it,
 *                                      roll forward
 *                 postcopy             begun with continue when post-copy was
 *                                      requested: the destination runs the VM
 *                                      and pulls its pages from here; if
 *                                      either side fails before it is done,
 *                                      the VM is lost (nothing is resumed
 *                                      here: this memory is stale); a
 *                                      restarted agent waits for QEMU to
 *                                      finish sending before it lets go
 *                 source-ports-inactive  activate the source ports again
 *                                      (only if QEMU itself gave up and
 *                                      resumed the VM here)
 *   destination:  vm-record            delete the VM row, or give it back
 *                                      to the host it had
 *                 port-created:NAME    remove the port (one step per port:
 *                                      the journal keys steps by name)
 *                 qemu-started         end the incoming QEMU
 *                 channel-listening    (in memory: the listener is closed)
 *                 ports-active         (switchover reached)
 */
#include "migrate/migrator.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <uuid/uuid.h>
#include "agent/agent.h"
#include "base/cleanup.h"
#include "base/clock.h"
#include "base/log.h"
#include "agent/metrics.h"
#include "agent/peer.h"
#include "db/db.h"
#include "db/event.h"
#include "db/member.h"
#include "db/migration.h"
#include "db/vm.h"
#include "migrate/channel.h"
#include "migrate/direct.h"
#include "hypervisor/hypervisor.h"
#include "migrate/lifecycle.h"
#include "migrate/peer_protocol.h"
#include "migrate/plan/ports.h"

#define PEER_TIMEOUT_MS 10000
#define PREPARE_TIMEOUT_MS 60000
#define FINISH_TIMEOUT_MS 60000
#define COMPLETE_TIMEOUT_MS 120000
#define POLL_MS 200
#define DEST_WATCH_MS 1000 /* how often the source asks after the destination */
#define STREAM_FD_NAME "lmnet-stream" /* QEMU's name for a handed-over stream */
#define LISTEN_FD_NAME      "lmnet-listen" /* and for the direct multifd listener */

/* A source migration whose worker runs. */
struct running {
    struct running *next;
    char uuid[37];
    pthread_t thread;
    atomic_bool cancel;
    atomic_bool past_switchover;
    atomic_bool done;
};

/* A destination migration between prepare and finish/abort.
 *
 * Ownership: the list m->incoming holds one reference; each caller that
 * uses an incoming without m->lock (switchover, finish, the scheduler's
 * check) holds another, from incoming_get() to incoming_put().  Whoever
 * ends it (finish, abort, stop) unlinks it with incoming_take(), which
 * marks it removed and waits until the other holders have put theirs
 * back: after that the taker alone owns it, handle and channel included.
 * A holder that sees REMOVED stops using it as soon as it can. */
struct incoming {
    struct incoming *next;
    unsigned refs; /* guarded by m->lock */
    bool removed;  /* guarded by m->lock: incoming_take() has begun */
    char uuid[37];
    char vm[37];
    char vm_name[64];
    struct hypervisor_vm *handle;
    struct hypervisor_migration_options hv; /* what the taker applies */
    struct channel *channel;
    char socket[128];
    uint16_t direct_port; /* QEMU's own listener (several channels), or 0 */
    size_t n_ports;
    char ports[VM_MAX_ADAPTERS][64];
};

struct migrator {
    struct agent *agent;
    struct migrator_deps deps;
    struct ports ports;
    pthread_mutex_t lock; /* guards running, incoming (and their refs), stopping */
    pthread_cond_t wake;
    pthread_cond_t incoming_released; /* an incoming's reference was put back */
    bool stopping;
    pthread_t scheduler;
    bool scheduler_started;
    struct running *running;
    struct incoming *incoming;
};

struct options {
    struct hypervisor_migration_options hv;
    bool quick;
    struct convergence_policy convergence;
};

static struct db *db_of(struct migrator *m)
{
    return db_pool_get(m->agent->db);
}

/* Adds CHANNEL's byte counts to /metrics, then destroys it (NULL: no-op). */
static void channel_done(struct migrator *m, struct channel *channel)
{
    if (!channel)
        return;
    struct channel_stats stats;
    channel_stats(channel, &stats);
    metrics_count_channel(m->agent->metrics, stats.bytes_forward, stats.bytes_backward);
    channel_destroy(channel);
}

static void refuse(struct planner_refusal *refusal, int status, const char *type, const char *fmt,
                   ...) __attribute__((format(printf, 4, 5)));
static void refuse(struct planner_refusal *refusal, int status, const char *type, const char *fmt,
                   ...)
{
    refusal->status = status;
    snprintf(refusal->type, sizeof(refusal->type), "%s", type);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(refusal->detail, sizeof(refusal->detail), fmt, ap);
    va_end(ap);
}

static void journal(struct migrator *m, const char *uuid, const char *step,
                    enum migration_step_status status, struct json_object *detail)
{
    int r = migration_journal(db_of(m), uuid, step, status, detail);
    if (r < 0)
        log_errno(LOG_LEVEL_ERROR, r, "cannot journal migration=%s step=%s", uuid, step);
}

static void journal_name(struct migrator *m, const char *uuid, const char *step, const char *name)
{
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "name", json_object_new_string(name));
    journal(m, uuid, step, STEP_DONE, detail);
}

/* Events are the audit trail, not the migration's state: one that cannot
 * be written is logged and the migration goes on. */
static void record_event(struct migrator *m, const char *actor, const char *kind,
                         const char *subject, struct json_object *detail)
{
    int64_t r =
        event_record(db_of(m), m->agent->node_id, actor ? actor : "agent", kind, subject, detail);
    if (r < 0)
        log_errno(LOG_LEVEL_WARNING, (int)r, "cannot record event kind=%s subject=%s", kind,
                  subject);
}

/* The state writes: each returns what the db/ call did and logs a failure
 * once, here, so that callers act on it or go on knowingly. */
static int set_phase(struct migrator *m, const char *uuid, enum migration_phase phase,
                     const char *reason)
{
    int r = migration_set_phase(db_of(m), uuid, phase, reason);
    if (r < 0)
        log_errno(LOG_LEVEL_ERROR, r, "cannot record phase migration=%s phase=%s", uuid,
                  migration_phase_to_string(phase));
    return r;
}

static int set_vm_state(struct migrator *m, const char *vm, enum vm_state state)
{
    int r = vm_set_state(db_of(m), vm, state);
    if (r < 0)
        log_errno(LOG_LEVEL_ERROR, r, "cannot record the VM's state vm=%s state=%s", vm,
                  vm_state_to_string(state));
    return r;
}

static int set_vm_host(struct migrator *m, const char *vm, const char *host, enum vm_state state)
{
    int r = vm_set_host(db_of(m), vm, host, state);
    if (r < 0)
        log_errno(LOG_LEVEL_ERROR, r, "cannot record the VM's host vm=%s host=%s", vm, host);
    return r;
}

static int set_measurements(struct migrator *m, const char *uuid, int64_t downtime_ms,
                            int64_t gap_ms)
{
    int r = migration_set_measurements(db_of(m), uuid, downtime_ms, gap_ms);
    if (r < 0)
        log_errno(LOG_LEVEL_WARNING, r, "cannot record the downtime migration=%s", uuid);
    return r;
}

static int set_progress(struct migrator *m, const char *uuid, struct json_object *progress,
                        struct json_object *timings)
{
    int r = migration_set_progress(db_of(m), uuid, progress, timings);
    if (r < 0)
        log_errno(LOG_LEVEL_WARNING, r, "cannot record the progress migration=%s", uuid);
    return r;
}

/* ---- options ---- */

/* The options of request RQ as the migration record keeps them and the
 * prepare request carries them. */
static void options_of_request(const struct migration_request *rq, struct peer_options *out)
{
    memset(out, 0, sizeof(*out));
    out->downtime_limit_ms = rq->downtime_limit_ms;
    out->max_bandwidth = rq->max_bandwidth;
    out->channels = rq->channels;
    out->allow_management_network = rq->allow_management_network;
    out->convert_dynamic_macs = rq->convert_dynamic_macs;
    out->has_convergence = true;
    out->convergence = rq->convergence;
}

void migrator_convergence_defaults(const struct agent *agent, struct convergence_policy *out)
{
    const struct config *c = &agent->config;
    convergence_policy_defaults(out);
    char why[160];
    /* config_check() refused a bad schedule or action at start. */
    if (convergence_schedule_parse(c->migration_downtime_schedule, out, why, sizeof(why)) < 0)
        log_warning("migration_downtime_schedule ignored: %s", why);
    if (convergence_timeout_action_from_string(c->migration_timeout_action, &out->timeout_action) <
        0)
        out->timeout_action = CONVERGENCE_ABORT;
    out->auto_converge = c->migration_auto_converge != 0;
    out->allow_postcopy = c->migration_allow_postcopy != 0;
    out->timeout_per_gib_s = c->migration_completion_timeout_per_gib;
    if (out->timeout_action == CONVERGENCE_POSTCOPY && !out->allow_postcopy)
        out->timeout_action = CONVERGENCE_ABORT;
}

static int64_t get_int64(struct json_object *obj, const char *key, int64_t fallback)
{
    struct json_object *v = NULL;
    if (!obj || !json_object_object_get_ex(obj, key, &v) || !json_object_is_type(v, json_type_int))
        return fallback;
    return json_object_get_int64(v);
}

static const char *get_string(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    if (!obj || !json_object_object_get_ex(obj, key, &v) ||
        !json_object_is_type(v, json_type_string))
        return NULL;
    return json_object_get_string(v);
}

/* What the hypervisor and the worker take of a migration's options O. */
static void options_apply(const struct peer_options *o, bool quick, struct options *out)
{
    memset(out, 0, sizeof(*out));
    out->hv.downtime_limit_ms = o->downtime_limit_ms;
    out->hv.max_bandwidth = o->max_bandwidth;
    out->hv.channels = o->channels;
    out->hv.pause_before_switchover = true;
    out->quick = quick;
    out->convergence = o->convergence;
    const struct convergence_policy *p = &out->convergence;
    if (p->n_downtime)
        out->hv.downtime_limit_ms = p->downtime_ms[0];
    out->hv.auto_converge = p->auto_converge && !quick;
    out->hv.postcopy = p->allow_postcopy && !quick && out->hv.channels <= 1;
}

/* ---- peers ---- */

static int member_url(struct migrator *m, const char *node, char *url, size_t size)
{
    struct member member;
    int r = member_get(db_of(m), node, &member);
    if (r < 0)
        return r;
    snprintf(url, size, "%s", member.url);
    return 0;
}

/* Calls the agent at URL.  Returns 0 with *reply filled (release it) when
 * the agent answered 2xx; otherwise a negative errno and a one-line reason
 * in WHY. */
static int peer_call(struct migrator *m, const char *url, const char *method, const char *path,
                     struct json_object *body, long timeout_ms, struct client_reply *reply,
                     char *why, size_t why_size)
{
    memset(reply, 0, sizeof(*reply));
    struct client *client = NULL;
    int r = peer_client_create(m->agent, url, timeout_ms, &client);
    if (r < 0) {
        snprintf(why, why_size, "cannot create a client for %s", url);
        return r;
    }
    r = client_call(client, method, path, body, NULL, reply);
    client_destroy(client);
    if (r < 0 || reply->status < 200 || reply->status >= 300) {
        char line[400];
        snprintf(why, why_size, "%s %s%s: %s", method, url, path,
                 client_reply_message(reply, line, sizeof(line)));
        client_reply_release(reply);
        return r < 0 ? r : -EREMOTEIO;
    }
    return 0;
}

static int destination_url(struct migrator *m, const struct migration *mig, char *url,
                           size_t size)
{
    if (mig->destination_url[0]) {
        snprintf(url, size, "%s", mig->destination_url);
        return 0;
    }
    return member_url(m, mig->destination, url, size);
}

/* ---- submit (source) ---- */

static int find_member(struct migrator *m, const char *name_or_id, struct member *out)
{
    struct member *members = NULL;
    size_t n = 0;
    int r = member_list(db_of(m), &members, &n);
    if (r < 0)
        return r;
    r = -ENOENT;
    for (size_t i = 0; i < n; i++)
        if (strcmp(members[i].uuid, name_or_id) == 0 || strcmp(members[i].name, name_or_id) == 0) {
            *out = members[i];
            r = 0;
            break;
        }
    free(members);
    return r;
}

/* The VLAN ids a port's settings use (0 for untagged), appended to IDS. */
static void port_vlans(struct json_object *settings, uint16_t *ids, size_t *n, size_t max)
{
    struct json_object *vlan = NULL;
    if (!json_object_object_get_ex(settings, "vlan", &vlan) || !vlan ||
        json_object_is_type(vlan, json_type_null)) {
        if (*n < max)
            ids[(*n)++] = 0;
        return;
    }
    int64_t access = get_int64(vlan, "id", get_int64(vlan, "access", -1));
    if (access > 0 && *n < max)
        ids[(*n)++] = (uint16_t)access;
    struct json_object *allowed = NULL;
    if (json_object_object_get_ex(vlan, "allowed", &allowed) &&
        json_object_is_type(allowed, json_type_array))
        for (size_t i = 0; i < json_object_array_length(allowed) && *n < max; i++)
            ids[(*n)++] = (uint16_t)json_object_get_int(json_object_array_get_idx(allowed, i));
}

/* Pre-flight checks of the VM's switches and MACs against the destination:
 * every port's switch must exist there and its uplink carry the port's
 * VLANs; no adapter may have a dynamic MAC unless CONVERT. */
static int check_ports(struct migrator *m, const struct vm *vm, const char *dest_url, bool convert,
                       struct planner_refusal *refusal)
{
    bool dynamic[VM_MAX_ADAPTERS] = { false };
    const char *names[VM_MAX_ADAPTERS];
    for (size_t i = 0; i < vm->n_adapters; i++) {
        names[i] = vm->adapters[i].port;
        _cleanup_json_ struct json_object *settings = NULL;
        int r = m->ports.ops->describe(m->ports.ctx, vm->adapters[i].port, &settings);
        if (r < 0) {
            refuse(refusal, 409, "port-missing",
                   "the VM's port '%s' is missing on this host; recreate it before migrating",
                   vm->adapters[i].port);
            return -EPERM;
        }
        const char *source = get_string(settings, "mac_source");
        dynamic[i] = source && strcmp(source, "dynamic") == 0;
        const char *sw = get_string(settings, "switch");
        if (!sw)
            continue;
        char path[160];
        snprintf(path, sizeof(path), "/v1/switches/%s", sw);
        struct client_reply reply;
        char why[512];
        r = peer_call(m, dest_url, "GET", path, NULL, PEER_TIMEOUT_MS, &reply, why, sizeof(why));
        if (r < 0) {
            refuse(refusal, 409, "destination-lacks-switch",
                   "the destination has no switch '%s' for port '%s' (%s)", sw,
                   vm->adapters[i].port, why);
            return -EPERM;
        }
        uint16_t vm_vlans[64];
        size_t n_vm = 0;
        port_vlans(settings, vm_vlans, &n_vm, 64);
        uint16_t uplink[4096];
        size_t n_uplink = 0;
        bool all = true;
        struct json_object *trunks = NULL;
        if (json_object_object_get_ex(reply.body, "vlans", &trunks) &&
            json_object_is_type(trunks, json_type_array) && json_object_array_length(trunks) > 0) {
            all = false;
            for (size_t k = 0; k < json_object_array_length(trunks) && n_uplink < 4096; k++)
                uplink[n_uplink++] =
                    (uint16_t)json_object_get_int(json_object_array_get_idx(trunks, k));
        }
        client_reply_release(&reply);
        r = planner_check_vlans(sw, vm_vlans, n_vm, uplink, n_uplink, all, refusal);
        if (r < 0)
            return r;
    }
    return planner_check_macs(dynamic, names, vm->n_adapters, convert, refusal);
}

/* The channels a migration over NET gets for REQUESTED: several only when
 * QEMU's own connections can go directly and safely (migrate/direct.h). */
static unsigned choose_channels(const struct planner_network *net, unsigned requested, char *note,
                                size_t size)
{
    char route[64] = "";
    bool safe = requested > 1 &&
                direct_route_source(net->destination_address, route, sizeof(route)) == 0 &&
                direct_path_safe(net->source_address, net->destination_address, route);
    unsigned channels = planner_choose_channels(requested, safe, note, size);
    if (note[0])
        log_info("migration channels reduced to 1 source=%s destination=%s route_source=%s",
                 net->source_address, net->destination_address, route[0] ? route : "none");
    return channels;
}

int migrator_submit(struct migrator *m, const struct migration_request *rq, const char *actor,
                    char uuid[37], struct planner_refusal *refusal)
{
    struct db *db = db_of(m);
    struct vm vm;
    int r = vm_get(db, rq->vm, &vm);
    if (r == -ENOENT) {
        refuse(refusal, 404, "vm-not-found", "no VM '%s' on this host", rq->vm);
        return -EPERM;
    }
    if (r < 0)
        return r;
    if (strcmp(vm.host, m->agent->node_id) != 0) {
        refuse(refusal, 409, "vm-not-here", "VM '%s' runs on host %s, not here", vm.name, vm.host);
        return -EPERM;
    }
    if (vm.state != VM_RUNNING && vm.state != VM_PAUSED) {
        refuse(refusal, 409, "vm-not-running", "VM '%s' is %s; only a running VM migrates",
               vm.name, vm_state_to_string(vm.state));
        return -EPERM;
    }
    struct migration busy;
    if (migration_find_unfinished_for_vm(db, vm.uuid, &busy) == 0) {
        refuse(refusal, 409, "migration-in-progress",
               "VM '%s' is already migrating (migration %s is %s)", vm.name, busy.uuid,
               migration_phase_to_string(busy.phase));
        migration_release(&busy);
        return -EPERM;
    }
    struct member dest;
    if (find_member(m, rq->destination, &dest) < 0) {
        refuse(refusal, 422, "destination-unknown",
               "'%s' is not a cluster member; see 'lmnetctl cluster members'", rq->destination);
        return -EPERM;
    }
    if (strcmp(dest.uuid, m->agent->node_id) == 0) {
        refuse(refusal, 422, "destination-is-source", "VM '%s' already runs on %s", vm.name,
               dest.name);
        return -EPERM;
    }
    struct client_reply reply;
    char why[512];
    r = peer_call(m, dest.url, "GET", "/v1/health", NULL, 3000, &reply, why, sizeof(why));
    /* A destination that lost its registry can still take a VM; one
     * whose database fails cannot. */
    struct json_object *checks = NULL;
    const char *database = r == 0 && json_object_object_get_ex(reply.body, "checks", &checks)
                               ? get_string(checks, "database")
                               : NULL;
    bool healthy = database && strcmp(database, "ok") == 0;
    if (r == 0)
        client_reply_release(&reply);
    if (!healthy) {
        refuse(refusal, 409, "destination-unhealthy", "destination %s is not healthy: %s",
               dest.name, r < 0 ? why : "its database is not ok (GET /v1/health)");
        return -EPERM;
    }
    struct planner_network *networks = NULL;
    size_t n_networks = 0;
    r = m->deps.networks(m->agent, m->agent->node_id, dest.uuid, &networks, &n_networks);
    if (r < 0)
        return r;
    const struct planner_network *net = NULL;
    r = planner_choose_network(networks, n_networks, rq->allow_management_network, &net, refusal);
    if (r < 0) {
        free(networks);
        return r;
    }
    struct planner_network chosen = *net;
    free(networks);
    r = check_ports(m, &vm, dest.url, rq->convert_dynamic_macs, refusal);
    if (r < 0)
        return r;
    struct migration_request effective = *rq;
    if (!effective.has_convergence)
        migrator_convergence_defaults(m->agent, &effective.convergence);
    convergence_policy_start_at(&effective.convergence, rq->downtime_limit_ms);
    unsigned requested_channels = rq->channels;
    char channels_note[512] = "";
    effective.channels =
        choose_channels(&chosen, rq->channels, channels_note, sizeof(channels_note));
    rq = &effective;
    r = planner_check_postcopy(rq->channels, rq->convergence.allow_postcopy && !rq->quick, refusal);
    if (r < 0)
        return r;
    unsigned max = m->agent->config.max_migrations;
    (void)max; /* slots are the scheduler's: a full host queues, not refuses */

    struct migration mig;
    memset(&mig, 0, sizeof(mig));
    uuid_t id;
    uuid_generate_random(id);
    uuid_unparse_lower(id, mig.uuid);
    snprintf(mig.vm, sizeof(mig.vm), "%s", vm.uuid);
    snprintf(mig.vm_name, sizeof(mig.vm_name), "%s", vm.name);
    mig.role = MIGRATION_ROLE_SOURCE;
    snprintf(mig.source, sizeof(mig.source), "%s", m->agent->node_id);
    snprintf(mig.destination, sizeof(mig.destination), "%s", dest.uuid);
    snprintf(mig.destination_url, sizeof(mig.destination_url), "%s", dest.url);
    mig.quick = rq->quick;
    mig.phase = MIGRATION_QUEUED;
    mig.downtime_ms = -1;
    mig.switchover_gap_ms = -1;
    struct peer_options peer_options;
    options_of_request(rq, &peer_options);
    if (channels_note[0]) {
        peer_options.channels_requested = requested_channels;
        snprintf(peer_options.channels_note, sizeof(peer_options.channels_note), "%s",
                 channels_note);
    }
    _cleanup_json_ struct json_object *options = peer_options_encode(&peer_options);
    mig.options = (char *)json_object_to_json_string_ext(options, JSON_C_TO_STRING_PLAIN);
    r = db_begin(db);
    if (r < 0)
        return r;
    r = migration_insert(db, &mig);
    if (r >= 0)
        r = migration_set_network(db, mig.uuid, chosen.id, chosen.source_address,
                                  chosen.destination_address);
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    r = db_commit(db);
    if (r < 0)
        return r;
    mig.options = NULL;
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "migration", json_object_new_string(mig.uuid));
    json_object_object_add(detail, "destination", json_object_new_string(dest.name));
    json_object_object_add(detail, "network", json_object_new_string(chosen.name));
    record_event(m, actor, "migration.submit", vm.name, detail);
    log_info("migration queued migration=%s vm=%s destination=%s network=%s", mig.uuid, vm.name,
             dest.name, chosen.name);
    snprintf(uuid, 37, "%s", mig.uuid);
    pthread_mutex_lock(&m->lock);
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* ---- the source worker ---- */

struct source_run {
    struct migrator *m;
    struct running *running;
    struct migration mig;
    struct vm vm;
    struct options options;
    char dest_url[256];
    struct hypervisor_vm *handle;
    struct channel *channel;
    char socket[128];
    struct json_object *timings;
    int64_t phase_started;
    bool prepared, vm_migrating, paused, qemu_migrating, ports_inactive;
    bool converging; /* live: the convergence policy follows the transfer */
    struct convergence conv;
    enum metrics_migration_path path; /* for /metrics, once QEMU migrates */
};

static void enter_phase(struct source_run *s, enum migration_phase phase)
{
    int64_t now = clock_mono_ms();
    if (s->phase_started) {
        char key[40];
        snprintf(key, sizeof(key), "%s_ms", migration_phase_to_string(s->mig.phase));
        json_object_object_add(s->timings, key, json_object_new_int64(now - s->phase_started));
    }
    s->phase_started = now;
    int r = migration_set_phase(db_of(s->m), s->mig.uuid, phase, NULL);
    if (r < 0)
        log_errno(LOG_LEVEL_ERROR, r, "cannot record phase migration=%s phase=%s", s->mig.uuid,
                  migration_phase_to_string(phase));
    s->mig.phase = phase;
    log_info("migration phase migration=%s vm=%s phase=%s", s->mig.uuid, s->mig.vm_name,
             migration_phase_to_string(phase));
}

static struct json_object *progress_to_json(const struct hypervisor_migration_progress *p,
                                            const struct channel_stats *c)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "status",
                           json_object_new_string(hypervisor_migration_status_to_string(p->status)));
    json_object_object_add(o, "bytes_sent", json_object_new_int64((int64_t)p->bytes_transferred));
    json_object_object_add(o, "bytes_remaining",
                           json_object_new_int64((int64_t)p->bytes_remaining));
    json_object_object_add(o, "bytes_total", json_object_new_int64((int64_t)p->bytes_total));
    json_object_object_add(o, "pages", json_object_new_int64((int64_t)p->pages_transferred));
    json_object_object_add(o, "dirty_pages_rate",
                           json_object_new_int64((int64_t)p->dirty_pages_rate));
    json_object_object_add(o, "rounds", json_object_new_int64((int64_t)p->rounds));
    json_object_object_add(o, "mbps", json_object_new_double(p->mbps));
    json_object_object_add(o, "expected_downtime_ms",
                           json_object_new_int64(p->expected_downtime_ms));
    json_object_object_add(o, "downtime_ms", json_object_new_int64(p->downtime_ms));
    json_object_object_add(o, "total_time_ms", json_object_new_int64(p->total_time_ms));
    json_object_object_add(o, "cpu_throttle_percent",
                           json_object_new_int64(p->cpu_throttle_percent));
    if (c) {
        json_object_object_add(o, "channel_bytes", json_object_new_int64((int64_t)c->bytes_forward));
        json_object_object_add(o, "channel_connections",
                               json_object_new_int((int)c->connections));
    }
    return o;
}

static void store_progress(struct source_run *s, const struct hypervisor_migration_progress *p)
{
    struct channel_stats stats;
    if (s->channel)
        channel_stats(s->channel, &stats);
    _cleanup_json_ struct json_object *o = progress_to_json(p, s->channel ? &stats : NULL);
    if (s->converging)
        json_object_object_add(o, "convergence", convergence_to_json(&s->conv));
    /* A sample lost is only a gap in what GET shows: the next one follows. */
    (void)set_progress(s->m, s->mig.uuid, o, s->timings);
}

/* Takes the step STEP of S's convergence policy.  Returns 0 (the transfer
 * goes on), or a negative errno with WHY when the move must end here. */
static int take_step(struct source_run *s, const struct convergence_event *step, char *why,
                     size_t why_size)
{
    struct migrator *m = s->m;
    int r = 0;
    switch (step->action) {
    case CONVERGENCE_NONE: return 0;
    case CONVERGENCE_RAISE_DOWNTIME:
        r = hypervisor_vm_migration_set_downtime(s->handle, step->downtime_ms);
        if (r < 0)
            log_errno(LOG_LEVEL_WARNING, r, "cannot raise the downtime limit migration=%s",
                      s->mig.uuid);
        return 0; /* the later steps still apply */
    case CONVERGENCE_POSTCOPY:
        /* Not yet the point of no return: QEMU stops at pre-switchover
         * first, and the destination runs the VM only after "continue". */
        r = hypervisor_vm_migration_start_postcopy(s->handle);
        if (r >= 0) {
            journal(m, s->mig.uuid, "postcopy-requested", STEP_DONE, NULL);
            return 0;
        }
        snprintf(why, why_size, "QEMU refused to switch to post-copy (%s): %s", strerror(-r),
                 step->reason);
        return r;
    case CONVERGENCE_PAUSE:
        r = hypervisor_vm_stop(s->handle);
        if (r >= 0) {
            s->paused = true; /* a rollback resumes it here */
            journal(m, s->mig.uuid, "vm-paused", STEP_DONE, NULL);
            return 0;
        }
        snprintf(why, why_size, "cannot pause the VM to force the move to complete (%s): %s",
                 strerror(-r), step->reason);
        return r;
    case CONVERGENCE_ABORT:
        snprintf(why, why_size, "the convergence policy ended the move (%s); the VM runs on here",
                 step->reason);
        return -ETIME;
    }
    return 0;
}

/* Feeds a progress sample P of S's transfer to its convergence policy and
 * takes the step it asks for.  Returns 0, or a negative errno with WHY when
 * the move must end. */
static int converge(struct source_run *s, const struct hypervisor_migration_progress *p, char *why,
                    size_t why_size)
{
    if (!s->converging || p->status != HYPERVISOR_MIGRATION_ACTIVE)
        return 0;
    int64_t downtime = -1;
    enum convergence_action action =
        convergence_observe(&s->conv, clock_mono_ms(), p->rounds, p->bytes_remaining, &downtime);
    if (action == CONVERGENCE_NONE || s->conv.n_events == 0)
        return 0;
    const struct convergence_event *step = &s->conv.events[s->conv.n_events - 1];
    log_info("migration convergence step migration=%s vm=%s action=%s downtime_ms=%lld round=%llu "
             "remaining=%llu reason=\"%s\"",
             s->mig.uuid, s->mig.vm_name, convergence_action_to_string(action),
             (long long)step->downtime_ms, (unsigned long long)step->round,
             (unsigned long long)step->remaining, step->reason);
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "migration", json_object_new_string(s->mig.uuid));
    json_object_object_add(detail, "action",
                           json_object_new_string(convergence_action_to_string(action)));
    if (action == CONVERGENCE_RAISE_DOWNTIME)
        json_object_object_add(detail, "downtime_ms", json_object_new_int64(step->downtime_ms));
    json_object_object_add(detail, "reason", json_object_new_string(step->reason));
    record_event(s->m, NULL, "migration.converge", s->mig.vm_name, detail);
    int r = take_step(s, step, why, why_size);
    store_progress(s, p);
    return r;
}

/* Asks the destination agent how its side of S is.  Returns 0 (it goes
 * on), 1 (it gave up: WHY says why) or a negative errno (no answer: WHY). */
static int watch_destination(struct source_run *s, char *why, size_t why_size)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/migrations/%s", s->mig.uuid);
    struct client_reply reply;
    int r = peer_call(s->m, s->dest_url, "GET", path, NULL, DEST_WATCH_MS, &reply, why, why_size);
    if (r < 0)
        return r;
    struct peer_status status;
    char bad[200];
    r = peer_status_decode(reply.body, &status, bad, sizeof(bad));
    client_reply_release(&reply);
    if (r < 0) { /* counts as no answer: the stall timeout decides */
        snprintf(why, why_size, "the destination's migration record does not read: %s", bad);
        return -EPROTO;
    }
    if (!status.gave_up)
        return 0;
    snprintf(why, why_size, "the destination gave up: %s",
             status.error[0] ? status.error : status.phase);
    return 1;
}

/* Undoes, in reverse, what the source did; the VM goes on running here.
 * CANCELLED tells a user's cancel from a failure (REASON). */
static void source_rollback(struct source_run *s, bool cancelled, const char *reason)
{
    struct migrator *m = s->m;
    log_warning("migration rolling back migration=%s vm=%s reason=\"%s\"", s->mig.uuid,
                s->mig.vm_name, reason);
    /* The rollback goes on whatever the database says: the VM must end up
     * running here, and each step it undoes is journaled (logged when that
     * fails), so the results of the state writes below are not acted on. */
    if (cancelled && migration_phase_can_move(s->mig.phase, MIGRATION_CANCELLING))
        (void)set_phase(m, s->mig.uuid, MIGRATION_CANCELLING, reason);
    if (s->qemu_migrating && s->handle) {
        int c = hypervisor_vm_migration_cancel(s->handle);
        if (c < 0) /* the wait below sees where QEMU's migration stands anyway */
            log_errno(LOG_LEVEL_WARNING, c, "migrate_cancel failed migration=%s", s->mig.uuid);
        enum hypervisor_migration_status st = HYPERVISOR_MIGRATION_NONE;
        for (int i = 0; i < 25; i++) {
            if (hypervisor_vm_migration_wait(s->handle, POLL_MS, &st) < 0)
                break;
            if (st == HYPERVISOR_MIGRATION_CANCELLED || st == HYPERVISOR_MIGRATION_FAILED ||
                st == HYPERVISOR_MIGRATION_COMPLETED || st == HYPERVISOR_MIGRATION_NONE)
                break;
        }
        journal(m, s->mig.uuid, "qemu-migrate", STEP_UNDONE, NULL);
        struct hypervisor_migration_progress sent;
        memset(&sent, 0, sizeof(sent));
        if (hypervisor_vm_migration_progress(s->handle, &sent) == 0)
            metrics_count_migration(m->agent->metrics, s->path, sent.bytes_transferred);
    }
    if (s->handle) {
        struct hypervisor_vm_status status;
        if (hypervisor_vm_query(s->handle, &status) == 0 && status.state == HYPERVISOR_VM_PAUSED) {
            int r = hypervisor_vm_resume(s->handle);
            if (r < 0)
                log_errno(LOG_LEVEL_ERROR, r, "cannot resume the VM on the source vm=%s",
                          s->mig.vm_name);
            else if (s->paused)
                journal(m, s->mig.uuid, "vm-paused", STEP_UNDONE, NULL);
        }
    }
    if (s->ports_inactive) {
        for (size_t i = 0; i < s->vm.n_adapters; i++) {
            int r = m->ports.ops->set_forwarding(m->ports.ctx, s->vm.adapters[i].port, true);
            if (r < 0)
                log_errno(LOG_LEVEL_ERROR, r, "cannot reactivate source port=%s",
                          s->vm.adapters[i].port);
        }
        journal(m, s->mig.uuid, "source-ports-inactive", STEP_UNDONE, NULL);
    }
    if (s->prepared) {
        struct peer_abort abort_;
        snprintf(abort_.reason, sizeof(abort_.reason), "%s", reason);
        _cleanup_json_ struct json_object *body = peer_abort_encode(&abort_);
        char path[128];
        snprintf(path, sizeof(path), "/v1/migrations/%s/abort", s->mig.uuid);
        struct client_reply reply;
        char why[512];
        if (peer_call(m, s->dest_url, "POST", path, body, PEER_TIMEOUT_MS, &reply, why,
                      sizeof(why)) == 0) {
            client_reply_release(&reply);
            journal(m, s->mig.uuid, "prepare-destination", STEP_UNDONE, NULL);
        } else {
            /* The destination undoes it by itself when its QEMU loses the
             * stream, or at its next start from its journal. */
            log_warning("destination did not take the abort migration=%s: %s", s->mig.uuid, why);
        }
    }
    channel_done(m, s->channel);
    s->channel = NULL;
    if (s->vm_migrating) {
        (void)set_vm_state(m, s->vm.uuid, VM_RUNNING);
        journal(m, s->mig.uuid, "vm-migrating", STEP_UNDONE, NULL);
    }
    if (cancelled)
        (void)set_phase(m, s->mig.uuid, MIGRATION_CANCELLED, reason);
    else
        (void)set_phase(m, s->mig.uuid, MIGRATION_FAILED, reason);
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "migration", json_object_new_string(s->mig.uuid));
    json_object_object_add(detail, "reason", json_object_new_string(reason));
    record_event(m, NULL, cancelled ? "migration.cancel" : "migration.fail", s->mig.vm_name,
                 detail);
}

/* Tells the destination to take the VM; retried, since after switchover
 * there is no way back. */
static int finish_destination(struct migrator *m, const struct migration *mig, const char *url,
                              int64_t downtime_ms, int64_t gap_ms, char *why, size_t why_size)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/migrations/%s/finish", mig->uuid);
    /* The figures go along, so the destination's record has them too. */
    struct peer_finish finish = { .downtime_ms = downtime_ms, .switchover_gap_ms = gap_ms };
    _cleanup_json_ struct json_object *body = peer_finish_encode(&finish);
    int r = -EIO;
    for (int attempt = 0; attempt < 3; attempt++) {
        struct client_reply reply;
        r = peer_call(m, url, "POST", path, body, FINISH_TIMEOUT_MS, &reply, why, why_size);
        if (r == 0) {
            client_reply_release(&reply);
            return 0;
        }
        clock_sleep_ms(1000);
    }
    return r;
}

/* After switchover: the VM lives on the destination; release it here. */
static void source_release(struct migrator *m, const struct migration *mig, const struct vm *vm)
{
    hypervisor_vm_destroy(lifecycle_release(m->deps.lifecycle, vm->uuid));
    for (size_t i = 0; i < vm->n_adapters; i++) {
        int r = m->ports.ops->remove(m->ports.ctx, vm->adapters[i].port);
        if (r < 0 && r != -ENOENT)
            log_errno(LOG_LEVEL_ERROR, r, "cannot remove source port=%s", vm->adapters[i].port);
    }
    journal(m, mig->uuid, "source-released", STEP_DONE, NULL);
    /* Past switchover there is nothing to undo: a failed write is logged,
     * and the destination's record is the one that says where the VM runs. */
    (void)set_vm_host(m, vm->uuid, mig->destination, VM_RUNNING);
}

/* Post-copy broke after the destination began running the VM: its newest
 * memory is there, the rest here, and neither half runs alone.  Nothing is
 * resumed here (that would run stale memory); the move is failed and the
 * VM marked failed, for the operator to start again. */
static void postcopy_lost(struct source_run *s, const struct hypervisor_migration_progress *p)
{
    struct migrator *m = s->m;
    char reason[600];
    snprintf(reason, sizeof(reason),
             "post-copy failed after the VM began running on the destination (%s): its memory "
             "is split between the hosts and it is lost; stop it on both hosts and start it again",
             p->error[0] ? p->error : hypervisor_migration_status_to_string(p->status));
    journal(m, s->mig.uuid, "postcopy", STEP_FAILED, NULL);
    /* Nothing is left to do on failure but the log lines these leave. */
    (void)set_vm_state(m, s->vm.uuid, VM_FAILED);
    (void)set_phase(m, s->mig.uuid, MIGRATION_FAILED, reason);
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "migration", json_object_new_string(s->mig.uuid));
    json_object_object_add(detail, "reason", json_object_new_string(reason));
    record_event(m, NULL, "migration.lost", s->mig.vm_name, detail);
    log_error("migration lost the VM in post-copy migration=%s vm=%s: %s", s->mig.uuid,
              s->mig.vm_name, reason);
}

/* Asks the destination to prepare S.  Returns 0 with ANSWER, or a negative
 * errno with WHY. */
static int prepare_destination(struct source_run *s, struct peer_prepare_answer *answer,
                               char *why, size_t why_size)
{
    struct migrator *m = s->m;
    _cleanup_free_ struct peer_prepare *p = calloc(1, sizeof(*p));
    if (!p) {
        snprintf(why, why_size, "out of memory");
        return -ENOMEM;
    }
    snprintf(p->id, sizeof(p->id), "%s", s->mig.uuid);
    snprintf(p->source, sizeof(p->source), "%s", s->mig.source);
    snprintf(p->destination, sizeof(p->destination), "%s", s->mig.destination);
    snprintf(p->network, sizeof(p->network), "%s", s->mig.network);
    snprintf(p->source_address, sizeof(p->source_address), "%s", s->mig.source_address);
    snprintf(p->destination_address, sizeof(p->destination_address), "%s",
             s->mig.destination_address);
    p->quick = s->mig.quick;
    p->multifd_direct = true; /* this agent can have QEMU's channels go directly */
    _cleanup_json_ struct json_object *stored = json_tokener_parse(s->mig.options);
    int r = peer_options_decode(stored, &p->options, why, why_size);
    if (r < 0)
        return r;
    p->vm = s->vm;
    p->n_ports = s->vm.n_adapters;
    for (size_t i = 0; i < p->n_ports; i++) {
        const char *name = s->vm.adapters[i].port;
        _cleanup_json_ struct json_object *settings = NULL;
        r = m->ports.ops->describe(m->ports.ctx, name, &settings);
        char pointer[64], detail[256];
        if (r >= 0 && port_from_json(settings, true, &p->ports[i], pointer, sizeof(pointer),
                                     detail, sizeof(detail)) < 0) {
            snprintf(why, why_size, "port '%s' here does not read at %s: %s", name, pointer,
                     detail);
            return -EINVAL;
        }
        if (r < 0) {
            snprintf(why, why_size, "cannot read port '%s' here: %s", name, strerror(-r));
            return r;
        }
    }
    _cleanup_json_ struct json_object *body = peer_prepare_encode(p);
    char path[128];
    snprintf(path, sizeof(path), "/v1/migrations/%s/prepare", s->mig.uuid);
    struct client_reply reply;
    r = peer_call(m, s->dest_url, "POST", path, body, PREPARE_TIMEOUT_MS, &reply, why, why_size);
    if (r < 0)
        return r;
    char bad[200];
    r = peer_prepare_answer_decode(reply.body, s->options.hv.channels, answer, bad, sizeof(bad));
    client_reply_release(&reply);
    if (r < 0) {
        snprintf(why, why_size, "the destination's prepare answer does not read: %s", bad);
        return -EPROTO;
    }
    return 0;
}

/* The source worker's steps, in order.  Each returns 0 to go on, or a
 * negative errno with the reason the move ends in WHY (WHY_SIZE bytes);
 * source_thread() then rolls back, once, from what S records as done.
 * *CANCELLED tells a user's cancel from a failure. */

/* Preflight and prepare: the destination has made its ports and QEMU and
 * listens; ANSWER says where. */
static int source_prepare(struct source_run *s, struct peer_prepare_answer *answer, char *why,
                          size_t why_size)
{
    struct migrator *m = s->m;
    enter_phase(s, MIGRATION_PREFLIGHT);
    s->handle = lifecycle_handle(m->deps.lifecycle, s->vm.uuid);
    if (!s->handle) {
        snprintf(why, why_size, "the VM has no running hypervisor on this host");
        return -ENOENT;
    }
    enter_phase(s, MIGRATION_PREPARING);
    char detail[600];
    int r = prepare_destination(s, answer, detail, sizeof(detail));
    s->prepared = true; /* even a failed prepare may have done part: its abort undoes that */
    if (r < 0) {
        snprintf(why, why_size, "the destination could not prepare: %s", detail);
        return r;
    }
    journal(m, s->mig.uuid, "prepare-destination", STEP_DONE, NULL);
    r = set_vm_state(m, s->vm.uuid, VM_MIGRATING);
    if (r < 0) {
        snprintf(why, why_size, "cannot record the VM as migrating in this host's database");
        return r;
    }
    s->vm_migrating = true;
    journal(m, s->mig.uuid, "vm-migrating", STEP_DONE, NULL);
    return 0;
}

/* Opens the migration channel ANSWER names and starts QEMU's migration
 * over it (pausing the VM first for a quick one). */
static int source_start_stream(struct source_run *s, struct peer_prepare_answer *answer,
                               char *why, size_t why_size)
{
    struct migrator *m = s->m;
    const char *from = s->mig.source_address[0] ? s->mig.source_address : NULL;
    _cleanup_close_ int stream = -1;
    int r;
    if (s->options.hv.channels <= 1) {
        /* One stream: the authenticated connection goes to QEMU itself. */
        stream = channel_connect(from, s->mig.destination_address, answer->port, answer->token);
        r = stream < 0 ? stream : 0;
    } else if (answer->direct) {
        r = 0; /* QEMU connects itself, to a socket only this host can reach */
    } else {
        snprintf(s->socket, sizeof(s->socket), "%s/mig-%.8s.sock", m->agent->config.run_dir,
                 s->mig.uuid);
        r = channel_forward(s->socket, from, s->mig.destination_address, answer->port,
                            answer->token, &s->channel);
    }
    explicit_bzero(answer->token, sizeof(answer->token));
    if (r < 0) {
        snprintf(why, why_size, "cannot open the migration channel from %s to %s:%u: %s",
                 s->mig.source_address, s->mig.destination_address, answer->port, strerror(-r));
        return r;
    }
    journal(m, s->mig.uuid, "channel", STEP_DONE, NULL);
    if (s->options.quick) {
        r = hypervisor_vm_stop(s->handle);
        if (r < 0) {
            snprintf(why, why_size, "cannot pause the VM for a quick migration");
            return r;
        }
        s->paused = true;
        journal(m, s->mig.uuid, "vm-paused", STEP_DONE, NULL);
    }
    s->path = stream >= 0 ? METRICS_PATH_STREAM
              : answer->direct ? METRICS_PATH_DIRECT
                               : METRICS_PATH_RELAY;
    char uri[160];
    if (stream >= 0) {
        r = hypervisor_vm_pass_fd(s->handle, STREAM_FD_NAME, stream);
        snprintf(uri, sizeof(uri), "fd:%s", STREAM_FD_NAME);
    } else if (answer->direct) {
        bool v6 = strchr(s->mig.destination_address, ':') != NULL;
        snprintf(uri, sizeof(uri), "tcp:%s%s%s:%u", v6 ? "[" : "", s->mig.destination_address,
                 v6 ? "]" : "", answer->port);
    } else {
        snprintf(uri, sizeof(uri), "unix:%s", s->socket);
    }
    if (r >= 0)
        r = hypervisor_vm_migrate(s->handle, uri, &s->options.hv);
    if (r < 0) {
        snprintf(why, why_size, "QEMU refused to start the migration (see the agent's log)");
        return r;
    }
    s->qemu_migrating = true;
    journal(m, s->mig.uuid, "qemu-migrate", STEP_DONE, NULL);
    return 0;
}

/* What the transfer loop keeps between samples. */
struct transfer_watch {
    int64_t stall_ms;
    uint64_t last_bytes;
    int64_t last_move, last_store, last_heard, last_asked;
};

/* Asks after the destination agent every DEST_WATCH_MS: the stream runs
 * QEMU to QEMU, so a dead destination agent does not break it, but nobody
 * would switch the ports over there. */
static int check_destination(struct source_run *s, struct transfer_watch *w, char *why,
                             size_t why_size)
{
    if (clock_mono_ms() - w->last_asked < DEST_WATCH_MS)
        return 0;
    w->last_asked = clock_mono_ms();
    char detail[600];
    int r = watch_destination(s, detail, sizeof(detail));
    if (r > 0) {
        snprintf(why, why_size, "%s", detail);
        return -ECONNABORTED;
    }
    if (r == 0)
        w->last_heard = clock_mono_ms();
    else if (clock_mono_ms() - w->last_heard > w->stall_ms) {
        snprintf(why, why_size, "the destination agent has not answered for %u s: %s",
                 s->m->agent->config.migration_stall_timeout, detail);
        return -ETIMEDOUT;
    }
    return 0;
}

/* Bytes QEMU sent, or (relayed) the channel carried: either stops growing
 * when the link is down. */
static int check_stall(struct source_run *s, struct transfer_watch *w,
                       const struct hypervisor_migration_progress *p, char *why, size_t why_size)
{
    struct channel_stats cs;
    memset(&cs, 0, sizeof(cs));
    if (s->channel)
        channel_stats(s->channel, &cs);
    uint64_t moved = cs.bytes_forward + p->bytes_transferred;
    if (moved != w->last_bytes) {
        w->last_bytes = moved;
        w->last_move = clock_mono_ms();
    } else if (clock_mono_ms() - w->last_move > w->stall_ms) {
        snprintf(why, why_size,
                 "no byte crossed the migration network for %u s (link down or destination gone)",
                 s->m->agent->config.migration_stall_timeout);
        return -ETIMEDOUT;
    }
    return 0;
}

/* The transfer: samples QEMU until it stops at pre-switchover, applying
 * the convergence policy and watching the destination and the link. */
static int source_wait_pre_switchover(struct source_run *s, char *why, size_t why_size,
                                      bool *cancelled)
{
    enter_phase(s, MIGRATION_TRANSFERRING);
    s->converging = !s->options.quick;
    if (s->converging)
        convergence_start(&s->conv, &s->options.convergence, (uint64_t)s->vm.memory_mib << 20,
                          clock_mono_ms());
    int64_t now = clock_mono_ms();
    struct transfer_watch w = {
        .stall_ms = (int64_t)s->m->agent->config.migration_stall_timeout * 1000,
        .last_move = now,
        .last_heard = now,
        .last_asked = now,
    };
    for (;;) {
        enum hypervisor_migration_status st = HYPERVISOR_MIGRATION_NONE;
        int r = hypervisor_vm_migration_wait(s->handle, POLL_MS, &st);
        if (r < 0 && r != -ETIMEDOUT) {
            snprintf(why, why_size, "lost QEMU on the source during the transfer: %s",
                     strerror(-r));
            s->qemu_migrating = false;
            return r;
        }
        struct hypervisor_migration_progress progress;
        memset(&progress, 0, sizeof(progress));
        /* A sample QEMU did not give stays zero; the status above decides. */
        (void)hypervisor_vm_migration_progress(s->handle, &progress);
        if (clock_mono_ms() - w.last_store >= 500 || st == HYPERVISOR_MIGRATION_PRE_SWITCHOVER) {
            store_progress(s, &progress);
            w.last_store = clock_mono_ms();
        }
        if (atomic_load(&s->running->cancel)) {
            snprintf(why, why_size, "cancelled");
            *cancelled = true;
            return -ECANCELED;
        }
        if (st == HYPERVISOR_MIGRATION_FAILED || st == HYPERVISOR_MIGRATION_CANCELLED) {
            snprintf(why, why_size, "QEMU's migration %s: %s",
                     hypervisor_migration_status_to_string(st),
                     progress.error[0] ? progress.error : "no reason given");
            return -EIO;
        }
        if (st == HYPERVISOR_MIGRATION_PRE_SWITCHOVER)
            return 0;
        r = converge(s, &progress, why, why_size);
        if (r >= 0)
            r = check_destination(s, &w, why, why_size);
        if (r >= 0)
            r = check_stall(s, &w, &progress, why, why_size);
        if (r < 0)
            return r;
    }
}

/* Switchover, with the source paused at pre-switchover: the destination's
 * ports go active, then QEMU continues (the point of no return), then the
 * source's ports go quiet.  *GAP is the time from the pause to the
 * destination's ports being active; *POSTCOPY whether QEMU went on in
 * post-copy. */
static int source_switchover(struct source_run *s, int64_t *gap, bool *postcopy, char *why,
                             size_t why_size, bool *cancelled)
{
    struct migrator *m = s->m;
    int64_t paused_at = clock_mono_ms();
    enter_phase(s, MIGRATION_SWITCHOVER);
    char path[128];
    snprintf(path, sizeof(path), "/v1/migrations/%s/switchover", s->mig.uuid);
    struct client_reply reply;
    char detail[600];
    int r = peer_call(m, s->dest_url, "POST", path, NULL, PEER_TIMEOUT_MS, &reply, detail,
                      sizeof(detail));
    if (r < 0) {
        snprintf(why, why_size, "the destination could not activate its ports: %s", detail);
        return r;
    }
    client_reply_release(&reply);
    *gap = clock_mono_ms() - paused_at;
    journal(m, s->mig.uuid, "destination-ports", STEP_DONE, NULL);
    if (atomic_load(&s->running->cancel)) {
        snprintf(why, why_size, "cancelled");
        *cancelled = true;
        return -ECANCELED;
    }
    journal(m, s->mig.uuid, "continue", STEP_BEGUN, NULL);
    *postcopy = s->converging && s->conv.postcopy;
    if (*postcopy)
        journal(m, s->mig.uuid, "postcopy", STEP_BEGUN, NULL);
    atomic_store(&s->running->past_switchover, true);
    r = hypervisor_vm_migration_continue(s->handle);
    if (r < 0) {
        atomic_store(&s->running->past_switchover, false);
        journal(m, s->mig.uuid, "continue", STEP_FAILED, NULL);
        if (*postcopy)
            journal(m, s->mig.uuid, "postcopy", STEP_FAILED, NULL);
        snprintf(why, why_size, "QEMU refused to continue at switchover");
        return r;
    }
    journal(m, s->mig.uuid, "continue", STEP_DONE, NULL);
    /* The source ports go quiet while QEMU sends the last state, not
     * before: the paused VM sends nothing, and each switch call here would
     * lengthen the downtime. */
    s->ports_inactive = true;
    for (size_t i = 0; i < s->vm.n_adapters; i++) {
        r = m->ports.ops->set_forwarding(m->ports.ctx, s->vm.adapters[i].port, false);
        if (r < 0)
            log_errno(LOG_LEVEL_WARNING, r, "cannot deactivate source port=%s",
                      s->vm.adapters[i].port);
    }
    journal(m, s->mig.uuid, "source-ports-inactive", STEP_DONE, NULL);
    /* The measurements are figures for the operator, stored again at the
     * end: losing one does not change the move. */
    (void)set_measurements(m, s->mig.uuid, -1, *gap);
    return 0;
}

/* Waits for QEMU to end the migration after continue: COMPLETED, FAILED or
 * CANCELLED, or NONE-like when it did not say in time.  Post-copy takes as
 * long as the rest of the memory takes to cross; QEMU says when its stream
 * breaks (failed, or postcopy-paused). */
static enum hypervisor_migration_status source_wait_complete(struct source_run *s, bool postcopy)
{
    enum hypervisor_migration_status st = HYPERVISOR_MIGRATION_NONE;
    int64_t deadline = clock_mono_ms() + COMPLETE_TIMEOUT_MS;
    while (postcopy || clock_mono_ms() < deadline) {
        int r = hypervisor_vm_migration_wait(s->handle, 1000, &st);
        if (r < 0 && r != -ETIMEDOUT)
            break;
        if (st == HYPERVISOR_MIGRATION_COMPLETED || st == HYPERVISOR_MIGRATION_FAILED ||
            st == HYPERVISOR_MIGRATION_CANCELLED)
            break;
    }
    return st;
}

/* After QEMU completed: the destination takes the VM, this host lets go. */
static void source_finish(struct source_run *s, const struct hypervisor_migration_progress *p,
                          int64_t gap)
{
    struct migrator *m = s->m;
    enter_phase(s, MIGRATION_FINISHING);
    store_progress(s, p);
    (void)set_measurements(m, s->mig.uuid, p->downtime_ms, gap); /* logged; figures only */
    char why[600];
    int r = finish_destination(m, &s->mig, s->dest_url, p->downtime_ms, gap, why, sizeof(why));
    channel_done(m, s->channel);
    s->channel = NULL;
    source_release(m, &s->mig, &s->vm);
    if (r < 0) {
        char reason[700];
        snprintf(reason, sizeof(reason),
                 "the destination did not confirm the VM after switchover: %s", why);
        (void)set_phase(m, s->mig.uuid, MIGRATION_FAILED, reason); /* logged; nothing to undo */
        return;
    }
    enter_phase(s, MIGRATION_COMPLETED);
    _cleanup_json_ struct json_object *final = progress_to_json(p, NULL);
    if (s->converging) /* the steps taken stay in the record */
        json_object_object_add(final, "convergence", convergence_to_json(&s->conv));
    (void)set_progress(m, s->mig.uuid, final, s->timings); /* figures only; logged */
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "migration", json_object_new_string(s->mig.uuid));
    json_object_object_add(detail, "downtime_ms", json_object_new_int64(p->downtime_ms));
    json_object_object_add(detail, "switchover_gap_ms", json_object_new_int64(gap));
    record_event(m, NULL, "migration.complete", s->mig.vm_name, detail);
    log_info("migration completed migration=%s vm=%s downtime_ms=%lld switchover_gap_ms=%lld",
             s->mig.uuid, s->mig.vm_name, (long long)p->downtime_ms, (long long)gap);
}

/* After continue: QEMU completes (finish), fails and resumes the VM here
 * (a rollback, not a loss), or breaks in post-copy (the VM is lost). */
static void source_after_switchover(struct source_run *s, int64_t gap, bool postcopy)
{
    enum hypervisor_migration_status st = source_wait_complete(s, postcopy);
    struct hypervisor_migration_progress progress;
    memset(&progress, 0, sizeof(progress));
    (void)hypervisor_vm_migration_progress(s->handle, &progress); /* zero: figures unknown */
    /* Past switchover QEMU is done sending whichever way this ends. */
    metrics_count_migration(s->m->agent->metrics, s->path, progress.bytes_transferred);
    if (postcopy && st != HYPERVISOR_MIGRATION_COMPLETED) {
        postcopy_lost(s, &progress);
        return;
    }
    if (postcopy)
        journal(s->m, s->mig.uuid, "postcopy", STEP_DONE, NULL);
    if (st == HYPERVISOR_MIGRATION_FAILED || st == HYPERVISOR_MIGRATION_CANCELLED) {
        atomic_store(&s->running->past_switchover, false);
        char why[700];
        snprintf(why, sizeof(why), "QEMU failed after switchover began: %s",
                 progress.error[0] ? progress.error : "no reason given");
        s->qemu_migrating = false;
        source_rollback(s, false, why);
        return;
    }
    source_finish(s, &progress, gap);
}

static void *source_thread(void *arg)
{
    struct source_run *s = arg;
    struct migrator *m = s->m;
    char why[700] = "";
    bool cancelled = false;
    struct peer_prepare_answer answer = { 0 };
    int64_t gap = -1;
    bool postcopy = false;
    s->timings = json_object_new_object();
    s->phase_started = 0;
    int r = source_prepare(s, &answer, why, sizeof(why));
    if (r >= 0)
        r = source_start_stream(s, &answer, why, sizeof(why));
    explicit_bzero(answer.token, sizeof(answer.token));
    if (r >= 0)
        r = source_wait_pre_switchover(s, why, sizeof(why), &cancelled);
    if (r >= 0)
        r = source_switchover(s, &gap, &postcopy, why, sizeof(why), &cancelled);
    if (r < 0)
        source_rollback(s, cancelled, why);
    else
        source_after_switchover(s, gap, postcopy);

    channel_done(m, s->channel);
    json_object_put(s->timings);
    atomic_store(&s->running->done, true);
    migration_release(&s->mig);
    pthread_mutex_lock(&m->lock);
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
    free(s);
    return NULL;
}

/* ---- the scheduler (source) ---- */

/* Whether the destination at URL has a free slot, by its GET /v1/host.  An
 * agent that cannot say counts as full (the migration waits). */
static bool destination_has_slot(struct migrator *m, const char *url)
{
    struct client_reply reply;
    char why[512];
    if (peer_call(m, url, "GET", "/v1/host", NULL, 3000, &reply, why, sizeof(why)) < 0)
        return false;
    struct json_object *slots = NULL;
    bool free_slot = false;
    if (json_object_object_get_ex(reply.body, "migrations", &slots)) {
        int64_t active = get_int64(slots, "active_destination", 0);
        int64_t max = get_int64(slots, "max", 0);
        free_slot = active < max;
    }
    client_reply_release(&reply);
    return free_slot;
}

static int start_worker(struct migrator *m, const struct migration *queued)
{
    struct source_run *s = calloc(1, sizeof(*s));
    struct running *run = calloc(1, sizeof(*run));
    if (!s || !run) {
        free(s);
        free(run);
        return -ENOMEM;
    }
    s->m = m;
    s->running = run;
    snprintf(run->uuid, sizeof(run->uuid), "%s", queued->uuid);
    int r = migration_get(db_of(m), queued->uuid, &s->mig);
    if (r >= 0)
        r = vm_get(db_of(m), queued->vm, &s->vm);
    if (r >= 0)
        r = destination_url(m, &s->mig, s->dest_url, sizeof(s->dest_url));
    if (r < 0) {
        migration_release(&s->mig);
        free(s);
        free(run);
        return r;
    }
    _cleanup_json_ struct json_object *options = json_tokener_parse(s->mig.options);
    struct peer_options peer_options;
    char why[256];
    r = peer_options_decode(options, &peer_options, why, sizeof(why));
    if (r < 0) { /* this host wrote them: only a damaged record gets here */
        log_error("a migration's options are unreadable migration=%s: %s", s->mig.uuid, why);
        (void)set_phase(m, s->mig.uuid, MIGRATION_FAILED, "its options are unreadable"); /* logged */
        migration_release(&s->mig);
        free(s);
        free(run);
        return r;
    }
    options_apply(&peer_options, s->mig.quick, &s->options);
    r = pthread_create(&run->thread, NULL, source_thread, s);
    if (r != 0) {
        migration_release(&s->mig);
        free(s);
        free(run);
        return -r;
    }
    (void)pthread_setname_np(run->thread, "lmnet-mig"); /* a name only helps debugging */
    pthread_mutex_lock(&m->lock);
    run->next = m->running;
    m->running = run;
    pthread_mutex_unlock(&m->lock);
    return 0;
}

/* Joins the workers that are done. */
static void reap_workers(struct migrator *m)
{
    pthread_mutex_lock(&m->lock);
    struct running **p = &m->running;
    while (*p) {
        struct running *run = *p;
        if (atomic_load(&run->done)) {
            *p = run->next;
            pthread_mutex_unlock(&m->lock);
            pthread_join(run->thread, NULL);
            free(run);
            pthread_mutex_lock(&m->lock);
            p = &m->running;
        } else {
            p = &run->next;
        }
    }
    pthread_mutex_unlock(&m->lock);
}

static bool is_running(struct migrator *m, const char *uuid)
{
    pthread_mutex_lock(&m->lock);
    struct running *run = m->running;
    while (run && strcmp(run->uuid, uuid) != 0)
        run = run->next;
    pthread_mutex_unlock(&m->lock);
    return run != NULL;
}

static void check_incoming(struct migrator *m);

static void schedule(struct migrator *m)
{
    struct migration *list = NULL;
    size_t n = 0;
    int r = migration_list(db_of(m), NULL, 1000, true, &list, &n);
    if (r < 0) {
        log_errno(LOG_LEVEL_ERROR, r, "cannot read the queued migrations");
        return; /* the next round tries again */
    }
    int active = migration_count_active(db_of(m), MIGRATION_ROLE_SOURCE);
    if (active < 0)
        log_errno(LOG_LEVEL_ERROR, active, "cannot count the running migrations");
    for (size_t i = 0; i < n && active >= 0; i++) {
        const struct migration *q = &list[i];
        if (q->role != MIGRATION_ROLE_SOURCE || q->phase != MIGRATION_QUEUED)
            continue;
        if ((unsigned)active >= m->agent->config.max_migrations)
            break;
        if (is_running(m, q->uuid))
            continue;
        char url[256];
        if (destination_url(m, q, url, sizeof(url)) < 0 || !destination_has_slot(m, url))
            continue;
        r = start_worker(m, q);
        if (r < 0)
            log_errno(LOG_LEVEL_ERROR, r, "cannot start migration=%s", q->uuid);
        else
            active++;
    }
    migration_list_free(list, n);
}

static void *scheduler_thread(void *arg)
{
    struct migrator *m = arg;
    pthread_mutex_lock(&m->lock);
    while (!m->stopping) {
        pthread_mutex_unlock(&m->lock);
        reap_workers(m);
        schedule(m);
        check_incoming(m);
        pthread_mutex_lock(&m->lock);
        if (m->stopping)
            break;
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += 1;
        /* Woken or timed out, the loop does the same: look again. */
        (void)pthread_cond_timedwait(&m->wake, &m->lock, &until);
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

int migrator_cancel(struct migrator *m, const char *uuid)
{
    struct migration mig;
    int r = migration_get(db_of(m), uuid, &mig);
    if (r < 0)
        return r;
    enum migration_phase phase = mig.phase;
    enum migration_role role = mig.role;
    migration_release(&mig);
    if (migration_phase_is_final(phase))
        return -EALREADY;
    if (role != MIGRATION_ROLE_SOURCE)
        return -EXDEV; /* the API forwards it to the source */
    pthread_mutex_lock(&m->lock);
    struct running *run = m->running;
    while (run && strcmp(run->uuid, uuid) != 0)
        run = run->next;
    if (run) {
        bool late = atomic_load(&run->past_switchover);
        if (!late)
            atomic_store(&run->cancel, true);
        pthread_mutex_unlock(&m->lock);
        return late ? -EBUSY : 0;
    }
    pthread_mutex_unlock(&m->lock);
    if (phase == MIGRATION_QUEUED) {
        r = migration_set_phase(db_of(m), uuid, MIGRATION_CANCELLED, "cancelled while queued");
        return r;
    }
    return migration_phase_before_switchover(phase) ? -EAGAIN : -EBUSY;
}

/* ---- destination ---- */

/* The incoming migration UUID with a reference for the caller (give it
 * back with incoming_put()), or NULL when none is prepared or it is being
 * ended. */
static struct incoming *incoming_find_locked(struct migrator *m, const char *uuid)
{
    struct incoming *in = m->incoming;
    while (in && strcmp(in->uuid, uuid) != 0)
        in = in->next;
    return in && !in->removed ? in : NULL;
}

static struct incoming *incoming_get(struct migrator *m, const char *uuid)
{
    pthread_mutex_lock(&m->lock);
    struct incoming *in = incoming_find_locked(m, uuid);
    if (in)
        in->refs++;
    pthread_mutex_unlock(&m->lock);
    return in;
}

static void incoming_put(struct migrator *m, struct incoming *in)
{
    pthread_mutex_lock(&m->lock);
    in->refs--;
    pthread_cond_broadcast(&m->incoming_released);
    pthread_mutex_unlock(&m->lock);
}

/* Whether incoming_take() has begun on IN, which the caller holds. */
static bool incoming_removed(struct migrator *m, struct incoming *in)
{
    pthread_mutex_lock(&m->lock);
    bool removed = in->removed;
    pthread_mutex_unlock(&m->lock);
    return removed;
}

/* Unlinks IN (m->lock held) and waits until no one but the caller (who
 * holds HELD references, 0 or 1) holds it. */
static void incoming_unlink_locked(struct migrator *m, struct incoming *in, unsigned held)
{
    struct incoming **p = &m->incoming;
    while (*p && *p != in)
        p = &(*p)->next;
    if (*p)
        *p = in->next;
    in->next = NULL;
    in->removed = true;
    while (in->refs > 1 + held)
        pthread_cond_wait(&m->incoming_released, &m->lock);
}

/* Ends the incoming migration UUID for the caller: unlinked, and returned
 * once every other holder has let go; the caller owns it (incoming_free()).
 * NULL when none is prepared, or another caller ends it already. */
static struct incoming *incoming_take(struct migrator *m, const char *uuid)
{
    pthread_mutex_lock(&m->lock);
    struct incoming *in = incoming_find_locked(m, uuid);
    if (in)
        incoming_unlink_locked(m, in, 0);
    pthread_mutex_unlock(&m->lock);
    return in;
}

/* incoming_take() for a caller that holds IN already (incoming_get()): its
 * reference becomes the ownership.  False when another caller ends it. */
static bool incoming_take_held(struct migrator *m, struct incoming *in)
{
    pthread_mutex_lock(&m->lock);
    bool mine = !in->removed;
    if (mine) {
        incoming_unlink_locked(m, in, 1);
    } else {
        in->refs--; /* the other taker waits for it */
        pthread_cond_broadcast(&m->incoming_released);
    }
    pthread_mutex_unlock(&m->lock);
    return mine;
}

/* Undoes the destination's journaled steps for MIGRATION (what is in IN,
 * when it is still in memory, else found again by name). */
static void dest_undo(struct migrator *m, const char *uuid, struct incoming *in, const char *vm_name)
{
    if (in) {
        channel_done(m, in->channel);
        in->channel = NULL;
    }
    struct migration_step *steps = NULL;
    size_t n = 0;
    int r = migration_steps_to_undo(db_of(m), uuid, &steps, &n);
    if (r < 0) {
        log_errno(LOG_LEVEL_ERROR, r, "cannot read the journal to undo migration=%s", uuid);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const struct migration_step *st = &steps[i];
        _cleanup_json_ struct json_object *detail =
            st->detail ? json_tokener_parse(st->detail) : NULL;
        r = 0;
        if (strcmp(st->step, "qemu-started") == 0) {
            struct hypervisor_vm *h = in ? in->handle : NULL;
            if (!h && hypervisor_vm_attach(m->deps.hypervisor, vm_name, &h) < 0)
                h = NULL; /* no QEMU of that name is left to end */
            hypervisor_vm_destroy(h);
            if (in)
                in->handle = NULL;
        } else if (strncmp(st->step, "port-created:", 13) == 0) {
            const char *name = get_string(detail, "name");
            if (name) {
                r = m->ports.ops->remove(m->ports.ctx, name);
                if (r == -ENOENT)
                    r = 0;
                if (r < 0)
                    log_errno(LOG_LEVEL_ERROR, r, "cannot remove prepared port=%s", name);
            }
        } else if (strcmp(st->step, "vm-record") == 0) {
            const char *vm = get_string(detail, "vm");
            const char *previous = get_string(detail, "previous_host");
            if (vm && previous && previous[0])
                r = set_vm_host(m, vm, previous, VM_RUNNING);
            else if (vm) {
                r = vm_delete(db_of(m), vm);
                if (r < 0 && r != -ENOENT)
                    log_errno(LOG_LEVEL_ERROR, r, "cannot forget the incoming VM vm=%s", vm);
                else
                    r = 0;
            }
        }
        /* A step that could not be undone says so in the journal. */
        journal(m, uuid, st->step, r < 0 ? STEP_FAILED : STEP_UNDONE, NULL);
    }
    migration_steps_free(steps, n);
}

static void incoming_free(struct incoming *in)
{
    if (!in)
        return;
    channel_destroy(in->channel); /* a handoff channel: QEMU's fd, no bytes counted */
    free(in);
}

/* The destination's taker (channel_listen_handoff): the authenticated
 * connection goes to the incoming QEMU, which reads the stream from it. */
static int incoming_stream(void *ctx, int fd)
{
    struct incoming *in = ctx;
    int r = hypervisor_vm_pass_fd(in->handle, STREAM_FD_NAME, fd);
    if (r >= 0)
        r = hypervisor_vm_migrate_incoming(in->handle, "fd:" STREAM_FD_NAME, &in->hv);
    if (r >= 0)
        log_info("migration stream handed to QEMU migration=%s vm=%s", in->uuid, in->vm_name);
    return r;
}

/* Several channels: QEMU listens itself, on a socket the agent made that
 * only PEER (the source's migration address) can connect to. */
static int listen_direct(struct incoming *in, const char *address, const char *peer, char *why,
                         size_t why_size)
{
    uint16_t port = 0;
    int fd = direct_listen(address, peer, &port);
    if (fd < 0) {
        snprintf(why, why_size, "cannot make the multifd listener on %s for source %s: %s", address,
                 peer ? peer : "(none)", strerror(-fd));
        return fd;
    }
    int r = hypervisor_vm_pass_fd(in->handle, LISTEN_FD_NAME, fd);
    close(fd); /* QEMU has its own copy, or none */
    if (r >= 0)
        r = hypervisor_vm_migrate_incoming(in->handle, "tcp:fd:" LISTEN_FD_NAME, &in->hv);
    if (r < 0) {
        snprintf(why, why_size, "QEMU did not take the multifd listener: %s", strerror(-r));
        return r;
    }
    in->direct_port = port;
    return 0;
}

int migrator_dest_prepare(struct migrator *m, struct json_object *body,
                          struct json_object **answer, struct planner_refusal *refusal)
{
    struct db *db = db_of(m);
    _cleanup_free_ struct peer_prepare *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    char bad[400];
    if (peer_prepare_decode(body, p, bad, sizeof(bad)) < 0) {
        refuse(refusal, 422, "bad-prepare", "the prepare request does not read: %s", bad);
        return -EPERM;
    }
    const char *id = p->id;
    const char *address = p->destination_address;
    const char *source_address = p->source_address[0] ? p->source_address : NULL;
    struct vm vm = p->vm;
    int active = migration_count_active(db, MIGRATION_ROLE_DESTINATION);
    if (active < 0)
        return active;
    if ((unsigned)active >= m->agent->config.max_migrations) {
        refuse(refusal, 409, "no-free-slot",
               "this host already takes part in %d migrations as destination (max %u)", active,
               m->agent->config.max_migrations);
        return -EPERM;
    }
    struct vm existing;
    bool had = vm_get(db, vm.uuid, &existing) == 0;
    if (had && strcmp(existing.host, m->agent->node_id) == 0 && existing.state != VM_STOPPED &&
        existing.state != VM_FAILED) {
        refuse(refusal, 409, "vm-already-here", "VM '%s' already runs on this host", vm.name);
        return -EPERM;
    }
    /* Another VM of the same name: a copy of one that lives elsewhere is
     * only what this host last knew of it and gives way; one defined here
     * is the operator's and is not touched. */
    struct vm namesake;
    if (vm_get(db, vm.name, &namesake) == 0 && strcmp(namesake.uuid, vm.uuid) != 0) {
        if (strcmp(namesake.host, m->agent->node_id) == 0) {
            refuse(refusal, 409, "vm-name-taken",
                   "another VM named '%s' is defined on the destination; delete or rename it there",
                   vm.name);
            return -EPERM;
        }
        int d = vm_delete(db, namesake.uuid);
        if (d < 0)
            return d;
        log_info("forgot a stale copy of a VM vm=%s id=%s host=%s", namesake.name, namesake.uuid,
                 namesake.host);
    }

    struct migration mig;
    memset(&mig, 0, sizeof(mig));
    snprintf(mig.uuid, sizeof(mig.uuid), "%s", id);
    snprintf(mig.vm, sizeof(mig.vm), "%s", vm.uuid);
    snprintf(mig.vm_name, sizeof(mig.vm_name), "%s", vm.name);
    mig.role = MIGRATION_ROLE_DESTINATION;
    snprintf(mig.source, sizeof(mig.source), "%s", p->source);
    snprintf(mig.destination, sizeof(mig.destination), "%s", m->agent->node_id);
    mig.phase = MIGRATION_PREPARING;
    mig.quick = p->quick;
    mig.downtime_ms = -1;
    mig.switchover_gap_ms = -1;
    _cleanup_json_ struct json_object *options_json = peer_options_encode(&p->options);
    mig.options = (char *)json_object_to_json_string_ext(options_json, JSON_C_TO_STRING_PLAIN);
    int r = migration_insert(db, &mig);
    mig.options = NULL;
    if (r == -EEXIST) {
        refuse(refusal, 409, "migration-exists", "migration %s is already known here", id);
        return -EPERM;
    }
    if (r < 0)
        return r;
    struct incoming *in = calloc(1, sizeof(*in));
    if (!in) {
        (void)set_phase(m, id, MIGRATION_FAILED, "out of memory"); /* logged; refused anyway */
        return -ENOMEM;
    }
    snprintf(in->uuid, sizeof(in->uuid), "%s", id);
    snprintf(in->vm, sizeof(in->vm), "%s", vm.uuid);
    snprintf(in->vm_name, sizeof(in->vm_name), "%s", vm.name);
    char why[512] = "";
    r = migration_set_network(db, id, p->network, source_address, address);
    if (r < 0) {
        snprintf(why, sizeof(why), "cannot record the migration network here: %s", strerror(-r));
        goto fail;
    }

    /* The VM row: new here, or back to a host it once left. */
    {
        _cleanup_json_ struct json_object *detail = json_object_new_object();
        json_object_object_add(detail, "vm", json_object_new_string(vm.uuid));
        json_object_object_add(detail, "previous_host",
                               json_object_new_string(had ? existing.host : ""));
        snprintf(vm.host, sizeof(vm.host), "%s", m->agent->node_id);
        vm.state = VM_INCOMING;
        r = had ? vm_set_host(db, vm.uuid, m->agent->node_id, VM_INCOMING) : vm_insert(db, &vm);
        if (r < 0) {
            snprintf(why, sizeof(why), "cannot record the VM here: %s", strerror(-r));
            goto fail;
        }
        journal(m, id, "vm-record", STEP_DONE, detail);
    }
    for (size_t i = 0; i < vm.n_adapters; i++) {
        _cleanup_json_ struct json_object *settings = port_to_json(&p->ports[i]);
        r = m->ports.ops->create_inactive(m->ports.ctx, settings);
        if (r < 0) {
            snprintf(why, sizeof(why), "cannot create port '%s' here: %s", vm.adapters[i].port,
                     strerror(-r));
            goto fail;
        }
        char step[48];
        snprintf(step, sizeof(step), "port-created:%.32s", vm.adapters[i].port);
        journal_name(m, id, step, vm.adapters[i].port);
        snprintf(in->ports[in->n_ports++], sizeof(in->ports[0]), "%s", vm.adapters[i].port);
    }
    struct options options;
    options_apply(&p->options, mig.quick, &options);
    struct hypervisor_vm_config config;
    r = lifecycle_vm_config(m->deps.lifecycle, &vm, &config);
    if (r < 0) {
        snprintf(why, sizeof(why), "cannot configure the VM from its ports: %s", strerror(-r));
        goto fail;
    }
    r = hypervisor_vm_start_incoming(m->deps.hypervisor, &config, "defer", &options.hv,
                                     &in->handle);
    if (r < 0) {
        snprintf(why, sizeof(why), "QEMU did not start for the incoming VM: %s (see the log)",
                 strerror(-r));
        goto fail;
    }
    journal_name(m, id, "qemu-started", vm.name);
    in->hv = options.hv;
    char token[CHANNEL_TOKEN_HEX + 1];
    r = channel_token_generate(token);
    if (r >= 0 && options.hv.channels <= 1) {
        /* One stream: QEMU gets the connection itself once it is here. */
        r = channel_listen_handoff(address, 0, token, incoming_stream, in, &in->channel);
    } else if (r >= 0 && p->multifd_direct) {
        r = listen_direct(in, address, source_address, why, sizeof(why));
        if (r < 0) {
            explicit_bzero(token, sizeof(token));
            goto fail;
        }
    } else if (r >= 0) {
        /* A source agent that only knows the relay. */
        snprintf(in->socket, sizeof(in->socket), "%s/in-%.8s.sock", m->agent->config.run_dir, id);
        char uri[160];
        snprintf(uri, sizeof(uri), "unix:%s", in->socket);
        r = hypervisor_vm_migrate_incoming(in->handle, uri, &options.hv);
        if (r < 0) {
            snprintf(why, sizeof(why), "QEMU did not accept the incoming address: %s",
                     strerror(-r));
            explicit_bzero(token, sizeof(token));
            goto fail;
        }
        r = channel_listen(address, 0, token, in->socket, options.hv.channels + 1, &in->channel);
    }
    if (r < 0) {
        snprintf(why, sizeof(why), "cannot listen on %s for the migration stream: %s", address,
                 strerror(-r));
        explicit_bzero(token, sizeof(token));
        goto fail;
    }
    journal(m, id, "channel-listening", STEP_DONE, NULL);
    r = set_phase(m, id, MIGRATION_TRANSFERRING, NULL);
    if (r < 0) {
        snprintf(why, sizeof(why), "cannot record the migration's phase here: %s", strerror(-r));
        explicit_bzero(token, sizeof(token));
        goto fail;
    }
    struct peer_prepare_answer reply = {
        .port = in->channel ? channel_port(in->channel) : in->direct_port,
        .direct = !in->channel,
    };
    uint16_t listen_port = reply.port;
    if (in->channel)
        memcpy(reply.token, token, sizeof(reply.token));
    *answer = peer_prepare_answer_encode(&reply);
    explicit_bzero(reply.token, sizeof(reply.token));
    explicit_bzero(token, sizeof(token));
    pthread_mutex_lock(&m->lock);
    in->refs = 1; /* the list's */
    in->next = m->incoming;
    m->incoming = in;
    pthread_mutex_unlock(&m->lock);
    log_info("migration prepared migration=%s vm=%s listen=%s:%u direct=%s", id, vm.name, address,
             listen_port, in->channel ? "no" : "yes");
    return 0;

fail:
    log_warning("migration prepare failed migration=%s vm=%s: %s", id, vm.name, why);
    dest_undo(m, id, in, vm.name);
    (void)set_phase(m, id, MIGRATION_FAILED, why); /* logged; the refusal says it all */
    incoming_free(in);
    refuse(refusal, 409, "destination-prepare-failed", "%s", why);
    return -EPERM;
}

int migrator_dest_switchover(struct migrator *m, const char *uuid)
{
    struct incoming *in = incoming_get(m, uuid);
    if (!in)
        return -ENOENT;
    int r = 0;
    for (size_t i = 0; i < in->n_ports && r >= 0; i++) {
        r = m->ports.ops->set_forwarding(m->ports.ctx, in->ports[i], true);
        if (r < 0)
            log_errno(LOG_LEVEL_ERROR, r, "cannot activate port=%s", in->ports[i]);
    }
    incoming_put(m, in);
    if (r < 0)
        return r;
    journal(m, uuid, "ports-active", STEP_DONE, NULL);
    /* Not recorded: the source rolls back, and its abort undoes the ports. */
    return set_phase(m, uuid, MIGRATION_SWITCHOVER, NULL);
}

int migrator_dest_finish(struct migrator *m, const char *uuid, int64_t downtime_ms, int64_t gap_ms)
{
    struct incoming *in = incoming_get(m, uuid);
    if (!in)
        return -ENOENT;
    int64_t deadline = clock_mono_ms() + FINISH_TIMEOUT_MS / 2;
    struct hypervisor_vm_status status = { .state = HYPERVISOR_VM_INCOMING };
    while (clock_mono_ms() < deadline) {
        if (incoming_removed(m, in)) { /* aborted meanwhile: it is not ours to take */
            incoming_put(m, in);
            return -ENOENT;
        }
        if (hypervisor_vm_query(in->handle, &status) == 0 && status.state == HYPERVISOR_VM_RUNNING)
            break;
        /* A quick migration moved a paused VM, and QEMU keeps the state it
         * came in: it ran before it left, so it runs here. */
        if (status.state == HYPERVISOR_VM_PAUSED && hypervisor_vm_resume(in->handle) < 0)
            log_warning("cannot resume the arrived VM migration=%s", uuid);
        clock_sleep_ms(20);
    }
    if (status.state != HYPERVISOR_VM_RUNNING) {
        incoming_put(m, in);
        return log_errno(LOG_LEVEL_ERROR, -ETIMEDOUT,
                         "the migrated VM does not run here migration=%s state=%s", uuid,
                         hypervisor_vm_state_to_string(status.state));
    }
    /* No announce-self here: QEMU announces the VM itself as the incoming
     * migration completes (1 ms after, see the driver), and a second
     * announcement overlapping the first was seen to leave a 2 GiB TCG
     * guest unresponsive. */
    if (!incoming_take_held(m, in))
        return -ENOENT;
    int r = lifecycle_adopt(m->deps.lifecycle, in->vm, in->handle);
    if (r < 0)
        log_errno(LOG_LEVEL_ERROR, r, "cannot keep the VM's handle vm=%s", in->vm_name);
    in->handle = NULL;
    /* The VM runs here now, whatever the database says: a write that fails
     * is logged, and the answer stays "taken" so the source lets go. */
    (void)set_vm_host(m, in->vm, m->agent->node_id, VM_RUNNING);
    if (downtime_ms >= 0 || gap_ms >= 0)
        (void)set_measurements(m, uuid, downtime_ms, gap_ms);
    (void)set_phase(m, uuid, MIGRATION_FINISHING, NULL);
    (void)set_phase(m, uuid, MIGRATION_COMPLETED, NULL);
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "migration", json_object_new_string(uuid));
    record_event(m, NULL, "migration.arrive", in->vm_name, detail);
    log_info("migration arrived migration=%s vm=%s", uuid, in->vm_name);
    incoming_free(in);
    return 0;
}

int migrator_dest_abort(struct migrator *m, const char *uuid, const char *reason)
{
    struct incoming *in = incoming_take(m, uuid);
    struct migration mig;
    int r = migration_get(db_of(m), uuid, &mig);
    if (r < 0) {
        incoming_free(in);
        return r;
    }
    if (migration_phase_is_final(mig.phase)) {
        migration_release(&mig);
        incoming_free(in);
        return 0;
    }
    dest_undo(m, uuid, in, mig.vm_name);
    /* Not recorded: the next start finds it unfinished and ends it again. */
    r = set_phase(m, uuid, MIGRATION_FAILED, reason ? reason : "aborted by the source");
    log_info("migration undone here migration=%s vm=%s reason=\"%s\"", uuid, mig.vm_name,
             reason ? reason : "aborted by the source");
    migration_release(&mig);
    incoming_free(in);
    return r < 0 ? r : 0;
}

/* An incoming QEMU that ended before switchover (the stream broke, it
 * crashed) is undone without waiting for the source. */
static void check_incoming(struct migrator *m)
{
    /* References under the lock, QMP without it. */
    struct incoming *held[16];
    size_t n = 0;
    pthread_mutex_lock(&m->lock);
    for (struct incoming *in = m->incoming; in && n < 16; in = in->next)
        if (!in->removed) {
            in->refs++;
            held[n++] = in;
        }
    pthread_mutex_unlock(&m->lock);
    char gone[16][37];
    size_t n_gone = 0;
    for (size_t i = 0; i < n; i++) {
        struct incoming *in = held[i];
        struct hypervisor_vm_status status;
        bool ended = !in->handle || hypervisor_vm_query(in->handle, &status) < 0 ||
                     status.state == HYPERVISOR_VM_EXITED || status.state == HYPERVISOR_VM_FAILED;
        if (ended)
            snprintf(gone[n_gone++], sizeof(gone[0]), "%s", in->uuid);
        incoming_put(m, in);
    }
    for (size_t i = 0; i < n_gone; i++) {
        int r = migrator_dest_abort(m, gone[i], "the incoming QEMU ended before switchover");
        if (r < 0 && r != -ENOENT)
            log_errno(LOG_LEVEL_ERROR, r, "cannot undo the incoming migration=%s", gone[i]);
    }
}

/* ---- recovery at start ---- */

static bool journal_has(struct migrator *m, const char *uuid, const char *step,
                        enum migration_step_status status)
{
    struct migration_step *steps = NULL;
    size_t n = 0;
    bool found = false;
    int r = migration_steps(db_of(m), uuid, &steps, &n);
    if (r < 0) {
        log_errno(LOG_LEVEL_ERROR, r, "cannot read the journal migration=%s", uuid);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (strcmp(steps[i].step, step) == 0 && steps[i].status == status)
            found = true;
    migration_steps_free(steps, n);
    return found;
}

/* The destination may still pull pages from this host's QEMU (the agent
 * restarted during post-copy): it must outlive the transfer. */
static void wait_postcopy(struct hypervisor_vm *h, const struct migration *mig)
{
    log_info("waiting for post-copy to end before the source lets go migration=%s", mig->uuid);
    int64_t deadline = clock_mono_ms() + 600000;
    enum hypervisor_migration_status st = HYPERVISOR_MIGRATION_POSTCOPY_ACTIVE;
    while (st == HYPERVISOR_MIGRATION_POSTCOPY_ACTIVE && clock_mono_ms() < deadline) {
        int r = hypervisor_vm_migration_wait(h, 1000, &st);
        if (r < 0 && r != -ETIMEDOUT)
            break;
    }
}

static void recover_source(struct migrator *m, const struct migration *mig)
{
    /* Recovery goes on with the next migration whatever one write says:
     * the failures are logged, and an unrecorded end is tried again at the
     * next start. */
    struct vm vm;
    if (vm_get(db_of(m), mig->vm, &vm) < 0) {
        (void)set_phase(m, mig->uuid, MIGRATION_FAILED, "the VM is gone");
        return;
    }
    char url[256] = "";
    int r = destination_url(m, mig, url, sizeof(url));
    if (r < 0) /* the peer calls below fail with a clear reason */
        log_errno(LOG_LEVEL_WARNING, r, "the destination's address is unknown migration=%s",
                  mig->uuid);
    if (journal_has(m, mig->uuid, "continue", STEP_DONE) ||
        journal_has(m, mig->uuid, "continue", STEP_BEGUN)) {
        /* Past switchover, or maybe: QEMU tells. */
        struct hypervisor_vm_status status = { .state = HYPERVISOR_VM_EXITED };
        struct hypervisor_vm *h = lifecycle_handle(m->deps.lifecycle, vm.uuid);
        if (h && hypervisor_vm_query(h, &status) < 0)
            status.state = HYPERVISOR_VM_EXITED; /* no answer: it does not run here */
        if (status.state != HYPERVISOR_VM_RUNNING) {
            if (h && journal_has(m, mig->uuid, "postcopy", STEP_BEGUN))
                wait_postcopy(h, mig);
            char why[512];
            r = finish_destination(m, mig, url, mig->downtime_ms, mig->switchover_gap_ms, why,
                                   sizeof(why));
            source_release(m, mig, &vm);
            (void)set_phase(m, mig->uuid, r < 0 ? MIGRATION_FAILED : MIGRATION_COMPLETED,
                            r < 0 ? "agent restarted after switchover; destination did not "
                                    "confirm"
                                  : NULL);
            log_info("recovered migration by rolling forward migration=%s", mig->uuid);
            return;
        }
    }
    struct source_run s;
    memset(&s, 0, sizeof(s));
    s.m = m;
    s.mig = *mig;
    s.vm = vm;
    snprintf(s.dest_url, sizeof(s.dest_url), "%s", url);
    s.handle = lifecycle_handle(m->deps.lifecycle, vm.uuid);
    s.prepared = journal_has(m, mig->uuid, "prepare-destination", STEP_DONE) ||
                 mig->phase >= MIGRATION_PREPARING;
    s.vm_migrating = true;
    s.qemu_migrating = journal_has(m, mig->uuid, "qemu-migrate", STEP_DONE);
    s.ports_inactive = journal_has(m, mig->uuid, "source-ports-inactive", STEP_DONE);
    s.paused = journal_has(m, mig->uuid, "vm-paused", STEP_DONE);
    source_rollback(&s, false, "the source agent restarted during the migration");
    log_info("recovered migration by rolling back migration=%s", mig->uuid);
}

static void recover_destination(struct migrator *m, const struct migration *mig)
{
    if (migration_phase_before_switchover(mig->phase)) {
        dest_undo(m, mig->uuid, NULL, mig->vm_name);
        (void)set_phase(m, mig->uuid, MIGRATION_FAILED,
                        "the destination agent restarted during the migration");
        log_info("recovered incoming migration by undoing it migration=%s", mig->uuid);
        return;
    }
    /* Past switchover: the VM should run here; take it. */
    struct hypervisor_vm *h = NULL;
    struct hypervisor_vm_status status = { .state = HYPERVISOR_VM_EXITED };
    if (hypervisor_vm_attach(m->deps.hypervisor, mig->vm_name, &h) == 0 &&
        hypervisor_vm_query(h, &status) < 0)
        status.state = HYPERVISOR_VM_EXITED;
    if (h && status.state == HYPERVISOR_VM_RUNNING) {
        int r = hypervisor_vm_announce(h);
        if (r < 0) /* the switches learn the MACs from the VM's own traffic */
            log_errno(LOG_LEVEL_WARNING, r, "cannot announce the VM vm=%s", mig->vm_name);
        if (lifecycle_adopt(m->deps.lifecycle, mig->vm, h) < 0)
            hypervisor_vm_detach(h);
        (void)set_vm_host(m, mig->vm, m->agent->node_id, VM_RUNNING);
        (void)set_phase(m, mig->uuid, MIGRATION_COMPLETED, NULL);
    } else {
        hypervisor_vm_detach(h);
        (void)set_vm_state(m, mig->vm, VM_FAILED);
        (void)set_phase(m, mig->uuid, MIGRATION_FAILED,
                        "the destination agent restarted after switchover and the VM does "
                        "not run here");
    }
}

static void recover(struct migrator *m)
{
    struct migration *list = NULL;
    size_t n = 0;
    int r = migration_list(db_of(m), NULL, 1000, true, &list, &n);
    if (r < 0) {
        log_errno(LOG_LEVEL_ERROR, r, "cannot read the unfinished migrations to recover them");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (list[i].phase == MIGRATION_QUEUED)
            continue;
        if (list[i].role == MIGRATION_ROLE_SOURCE)
            recover_source(m, &list[i]);
        else
            recover_destination(m, &list[i]);
    }
    migration_list_free(list, n);
}

int migrator_start(struct agent *agent, const struct migrator_deps *deps, struct migrator **out)
{
    struct migrator *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->agent = agent;
    m->deps = *deps;
    m->ports = *deps->ports;
    m->deps.ports = &m->ports;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->wake, NULL);
    pthread_cond_init(&m->incoming_released, NULL);
    recover(m);
    int r = pthread_create(&m->scheduler, NULL, scheduler_thread, m);
    if (r != 0) {
        pthread_cond_destroy(&m->incoming_released);
        pthread_cond_destroy(&m->wake);
        pthread_mutex_destroy(&m->lock);
        free(m);
        return -r;
    }
    (void)pthread_setname_np(m->scheduler, "lmnet-migsched"); /* as above */
    m->scheduler_started = true;
    *out = m;
    return 0;
}

void migrator_stop(struct migrator *m)
{
    if (!m)
        return;
    pthread_mutex_lock(&m->lock);
    m->stopping = true;
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
    if (m->scheduler_started)
        pthread_join(m->scheduler, NULL);
    /* Running workers are cancelled; what they leave is journaled. */
    pthread_mutex_lock(&m->lock);
    for (struct running *run = m->running; run; run = run->next)
        if (!atomic_load(&run->past_switchover))
            atomic_store(&run->cancel, true);
    pthread_mutex_unlock(&m->lock);
    for (;;) {
        pthread_mutex_lock(&m->lock);
        struct running *run = m->running;
        if (run)
            m->running = run->next;
        pthread_mutex_unlock(&m->lock);
        if (!run)
            break;
        pthread_join(run->thread, NULL);
        free(run);
    }
    while (m->incoming) {
        struct incoming *in = incoming_take(m, m->incoming->uuid);
        if (!in)
            break; /* no other caller is left to end it: the scheduler is joined */
        channel_done(m, in->channel); /* its taker may be using the handle */
        in->channel = NULL;
        hypervisor_vm_detach(in->handle); /* the journal lets the next start undo it */
        incoming_free(in);
    }
    pthread_cond_destroy(&m->incoming_released);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void migrator_slots(struct migrator *m, unsigned *active_source, unsigned *active_destination,
                    unsigned *max)
{
    int s = migration_count_active(db_of(m), MIGRATION_ROLE_SOURCE);
    int d = migration_count_active(db_of(m), MIGRATION_ROLE_DESTINATION);
    *active_source = s < 0 ? 0 : (unsigned)s;
    *active_destination = d < 0 ? 0 : (unsigned)d;
    *max = m->agent->config.max_migrations;
}
