/* The source side of a migration: migrator_submit(), the worker thread
 * ("lmnet-mig", one per running migration, owning its struct source_run)
 * and the recovery of an unfinished one.  See migrate/migrator_source.h. */
#include "migrate/migrator_source.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <uuid/uuid.h>
#include "agent/agent.h"
#include "agent/metrics.h"
#include "agent/peer.h"
#include "base/cleanup.h"
#include "base/clock.h"
#include "base/log.h"
#include "db/db.h"
#include "db/event.h"
#include "db/port.h"
#include "db/member.h"
#include "db/migration.h"
#include "db/vm.h"
#include "hypervisor/hypervisor.h"
#include "migrate/channel.h"
#include "migrate/direct.h"
#include "migrate/lifecycle.h"
#include "migrate/peer_protocol.h"
#include "migrate/plan/ports.h"

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

/* ---- submit (source) ---- */

static int find_member(struct migrator *m, const char *name_or_id, struct member *out)
{
    struct member *members = NULL;
    size_t n = 0;
    int r = member_list(migrator_db(m), &members, &n);
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

/* The VLAN ids a port uses (0 for untagged; a trunk's allowed ids, not its
 * native one), appended to IDS. */
static void port_vlans(const struct port_record *p, uint16_t *ids, size_t *n, size_t max)
{
    if (!p->has_vlan) {
        if (*n < max)
            ids[(*n)++] = 0;
        return;
    }
    if (p->vlan.mode == VLAN_MODE_ACCESS) {
        if (p->vlan.id > 0 && *n < max)
            ids[(*n)++] = p->vlan.id;
        return;
    }
    for (size_t i = 0; i < p->vlan.n_allowed && *n < max; i++)
        ids[(*n)++] = p->vlan.allowed[i];
}

/* Pre-flight checks of the VM's switches and MACs against the destination:
 * every port's switch must exist there and its uplink carry the port's
 * VLANs; no adapter may have a dynamic MAC unless CONVERT. */
static int check_ports(struct migrator *m, const struct vm *vm, const char *dest_url, bool convert,
                       struct refusal *refusal)
{
    bool dynamic[VM_MAX_ADAPTERS] = {false};
    const char *names[VM_MAX_ADAPTERS];
    _cleanup_free_ struct port_record *settings = malloc(sizeof(*settings));
    if (!settings)
        return -ENOMEM;
    for (size_t i = 0; i < vm->n_adapters; i++) {
        names[i] = vm->adapters[i].port;
        int r = m->ports.ops->describe(m->ports.ctx, vm->adapters[i].port, settings);
        if (r < 0) {
            return refuse(
                refusal, -EPERM, REFUSAL_CONFLICT, "port-missing",
                "the VM's port '%s' is missing on this host; recreate it before migrating",
                vm->adapters[i].port);
        }
        dynamic[i] = settings->mac_source == MAC_SOURCE_DYNAMIC;
        const char *sw = settings->switch_name;
        char path[160];
        snprintf(path, sizeof(path), "/v1/switches/%s", sw);
        struct client_reply reply;
        char why[512];
        r = migrator_peer_call(m, dest_url, "GET", path, NULL, PEER_TIMEOUT_MS, &reply, why,
                               sizeof(why));
        if (r < 0) {
            return refuse(refusal, -EPERM, REFUSAL_CONFLICT, "destination-lacks-switch",
                          "the destination has no switch '%s' for port '%s' (%s)", sw,
                          vm->adapters[i].port, why);
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
                    char uuid[37], struct refusal *refusal)
{
    struct db *db = migrator_db(m);
    struct vm vm;
    int r = vm_get(db, rq->vm, &vm);
    if (r == -ENOENT) {
        return refuse(refusal, -EPERM, REFUSAL_NOT_FOUND, "vm-not-found", "no VM '%s' on this host",
                      rq->vm);
    }
    if (r < 0)
        return r;
    if (strcmp(vm.host, m->agent->node_id) != 0) {
        return refuse(refusal, -EPERM, REFUSAL_CONFLICT, "vm-not-here",
                      "VM '%s' runs on host %s, not here", vm.name, vm.host);
    }
    if (vm.state != VM_RUNNING && vm.state != VM_PAUSED) {
        return refuse(refusal, -EPERM, REFUSAL_CONFLICT, "vm-not-running",
                      "VM '%s' is %s; only a running VM migrates", vm.name,
                      vm_state_to_string(vm.state));
    }
    struct migration busy;
    if (migration_find_unfinished_for_vm(db, vm.uuid, &busy) == 0) {
        r = refuse(refusal, -EPERM, REFUSAL_CONFLICT, "migration-in-progress",
                   "VM '%s' is already migrating (migration %s is %s)", vm.name, busy.uuid,
                   migration_phase_to_string(busy.phase));
        migration_release(&busy);
        return r;
    }
    struct member dest;
    if (find_member(m, rq->destination, &dest) < 0) {
        return refuse(refusal, -EPERM, REFUSAL_INVALID, "destination-unknown",
                      "'%s' is not a cluster member; see 'lmnetctl cluster members'",
                      rq->destination);
    }
    if (strcmp(dest.uuid, m->agent->node_id) == 0) {
        return refuse(refusal, -EPERM, REFUSAL_INVALID, "destination-is-source",
                      "VM '%s' already runs on %s", vm.name, dest.name);
    }
    struct client_reply reply;
    char why[512];
    r = migrator_peer_call(m, dest.url, "GET", "/v1/health", NULL, 3000, &reply, why, sizeof(why));
    /* A destination that lost its registry can still take a VM; one
     * whose database fails cannot. */
    struct json_object *checks = NULL;
    const char *database = r == 0 && json_object_object_get_ex(reply.body, "checks", &checks)
                               ? migrator_json_string(checks, "database")
                               : NULL;
    bool healthy = database && strcmp(database, "ok") == 0;
    if (r == 0)
        client_reply_release(&reply);
    if (!healthy) {
        return refuse(refusal, -EPERM, REFUSAL_CONFLICT, "destination-unhealthy",
                      "destination %s is not healthy: %s", dest.name,
                      r < 0 ? why : "its database is not ok (GET /v1/health)");
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
    migrator_event(m, actor, "migration.submit", vm.name, detail);
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
    const char *undo_reason; /* while rolling back: what the destination's abort says */
    bool converging; /* live: the convergence policy follows the transfer */
    struct convergence conv;
    enum metrics_migration_path path; /* for /metrics, once QEMU migrates */
    bool bytes_counted;               /* /metrics has what QEMU sent */
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
    int r = migration_set_phase(migrator_db(s->m), s->mig.uuid, phase, NULL);
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
    json_object_object_add(
        o, "status", json_object_new_string(hypervisor_migration_status_to_string(p->status)));
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
        json_object_object_add(o, "channel_bytes",
                               json_object_new_int64((int64_t)c->bytes_forward));
        json_object_object_add(o, "channel_connections", json_object_new_int((int)c->connections));
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
    (void)migrator_set_progress(s->m, s->mig.uuid, o, s->timings);
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
            migrator_journal(m, s->mig.uuid, "postcopy-requested", STEP_DONE, NULL);
            return 0;
        }
        snprintf(why, why_size, "QEMU refused to switch to post-copy (%s): %s", strerror(-r),
                 step->reason);
        return r;
    case CONVERGENCE_PAUSE:
        r = hypervisor_vm_stop(s->handle);
        if (r >= 0) {
            migrator_journal(m, s->mig.uuid, "vm-paused", STEP_DONE, NULL); /* resumed on undo */
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
    migrator_event(s->m, NULL, "migration.converge", s->mig.vm_name, detail);
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
    int r = migrator_peer_call(s->m, s->dest_url, "GET", path, NULL, DEST_WATCH_MS, &reply, why,
                               why_size);
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

/* Resumes S's VM when it is paused (by QEMU at pre-switchover, by a quick
 * move or by the convergence policy). */
static int resume_if_paused(struct source_run *s)
{
    struct hypervisor_vm_status status;
    if (!s->handle || hypervisor_vm_query(s->handle, &status) < 0 ||
        status.state != HYPERVISOR_VM_PAUSED)
        return 0;
    int r = hypervisor_vm_resume(s->handle);
    if (r < 0)
        log_errno(LOG_LEVEL_ERROR, r, "cannot resume the VM on the source vm=%s", s->mig.vm_name);
    return r;
}

static int undo_source_ports_inactive(void *ctx, struct json_object *detail)
{
    (void)detail;
    struct source_run *s = ctx;
    const struct ports *ports = &s->m->ports;
    int failed = 0;
    for (size_t i = 0; i < s->vm.n_adapters; i++) {
        int r = ports->ops->set_forwarding(ports->ctx, s->vm.adapters[i].port, true);
        if (r < 0) {
            log_errno(LOG_LEVEL_ERROR, r, "cannot reactivate source port=%s",
                      s->vm.adapters[i].port);
            failed = r;
        }
    }
    return failed;
}

/* migrate_cancel, and the VM resumed: QEMU leaves it paused when it had
 * stopped at pre-switchover. */
static int undo_qemu_migrate(void *ctx, struct json_object *detail)
{
    (void)detail;
    struct source_run *s = ctx;
    if (!s->handle)
        return 0;
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
    struct hypervisor_migration_progress sent; /* what QEMU sent before it stopped */
    memset(&sent, 0, sizeof(sent));
    if (!s->bytes_counted && hypervisor_vm_migration_progress(s->handle, &sent) == 0)
        metrics_count_migration(s->m->agent->metrics, s->path, sent.bytes_transferred);
    s->bytes_counted = true;
    return resume_if_paused(s);
}

static int undo_vm_paused(void *ctx, struct json_object *detail)
{
    (void)detail;
    return resume_if_paused(ctx);
}

static int undo_channel(void *ctx, struct json_object *detail)
{
    (void)detail;
    struct source_run *s = ctx;
    migrator_channel_done(s->m, s->channel); /* a relay; QEMU holds a single stream */
    s->channel = NULL;
    return 0;
}

static int undo_vm_migrating(void *ctx, struct json_object *detail)
{
    (void)detail;
    struct source_run *s = ctx;
    return migrator_set_vm_state(s->m, s->vm.uuid, VM_RUNNING);
}

/* The destination undoes its side from its own journal. */
static int undo_prepare_destination(void *ctx, struct json_object *detail)
{
    (void)detail;
    struct source_run *s = ctx;
    struct peer_abort abort_;
    snprintf(abort_.reason, sizeof(abort_.reason), "%s", s->undo_reason);
    _cleanup_json_ struct json_object *body = peer_abort_encode(&abort_);
    char path[128];
    snprintf(path, sizeof(path), "/v1/migrations/%s/abort", s->mig.uuid);
    struct client_reply reply;
    char why[512];
    int r = migrator_peer_call(s->m, s->dest_url, "POST", path, body, PEER_TIMEOUT_MS, &reply,
                               why, sizeof(why));
    if (r < 0) {
        /* The destination undoes it by itself when its QEMU loses the
         * stream, or at its next start from its journal. */
        log_warning("destination did not take the abort migration=%s: %s", s->mig.uuid, why);
        return r;
    }
    client_reply_release(&reply);
    return 0;
}

static const struct migrator_undo source_undo_steps[] = {
    { "source-ports-inactive", undo_source_ports_inactive },
    { "qemu-migrate", undo_qemu_migrate },
    { "vm-paused", undo_vm_paused },
    { "channel", undo_channel },
    { "vm-migrating", undo_vm_migrating },
    { "prepare-destination", undo_prepare_destination },
    /* destination-ports: the destination's abort undoes them;
     * postcopy-requested: QEMU still stopped at pre-switchover. */
};

/* Undoes, from the journal, what the source did; the VM goes on running
 * here.  CANCELLED tells a user's cancel from a failure (REASON). */
static void source_rollback(struct source_run *s, bool cancelled, const char *reason)
{
    struct migrator *m = s->m;
    log_warning("migration rolling back migration=%s vm=%s reason=\"%s\"", s->mig.uuid,
                s->mig.vm_name, reason);
    /* The rollback goes on whatever the database says: the VM must end up
     * running here, and each step it undoes is journaled (logged when that
     * fails), so the results of the state writes below are not acted on. */
    if (cancelled && migration_phase_can_move(s->mig.phase, MIGRATION_CANCELLING))
        (void)migrator_set_phase(m, s->mig.uuid, MIGRATION_CANCELLING, reason);
    s->undo_reason = reason;
    (void)migrator_undo_journal(m, s->mig.uuid, source_undo_steps,
                                sizeof(source_undo_steps) / sizeof(source_undo_steps[0]), s);
    (void)resume_if_paused(s); /* whatever the journal holds: the VM runs here (logged) */
    migrator_channel_done(m, s->channel);
    s->channel = NULL;
    if (cancelled)
        (void)migrator_set_phase(m, s->mig.uuid, MIGRATION_CANCELLED, reason);
    else
        (void)migrator_set_phase(m, s->mig.uuid, MIGRATION_FAILED, reason);
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "migration", json_object_new_string(s->mig.uuid));
    json_object_object_add(detail, "reason", json_object_new_string(reason));
    migrator_event(m, NULL, cancelled ? "migration.cancel" : "migration.fail", s->mig.vm_name,
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
    struct peer_finish finish = {.downtime_ms = downtime_ms, .switchover_gap_ms = gap_ms};
    _cleanup_json_ struct json_object *body = peer_finish_encode(&finish);
    int r = -EIO;
    for (int attempt = 0; attempt < 3; attempt++) {
        struct client_reply reply;
        r = migrator_peer_call(m, url, "POST", path, body, FINISH_TIMEOUT_MS, &reply, why,
                               why_size);
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
    migrator_journal(m, mig->uuid, "source-released", STEP_DONE, NULL);
    /* Past switchover there is nothing to undo: a failed write is logged,
     * and the destination's record is the one that says where the VM runs. */
    (void)migrator_set_vm_host(m, vm->uuid, mig->destination, VM_RUNNING);
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
    migrator_journal(m, s->mig.uuid, "postcopy", STEP_FAILED, NULL);
    /* Nothing is left to do on failure but the log lines these leave. */
    (void)migrator_set_vm_state(m, s->vm.uuid, VM_FAILED);
    (void)migrator_set_phase(m, s->mig.uuid, MIGRATION_FAILED, reason);
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "migration", json_object_new_string(s->mig.uuid));
    json_object_object_add(detail, "reason", json_object_new_string(reason));
    migrator_event(m, NULL, "migration.lost", s->mig.vm_name, detail);
    log_error("migration lost the VM in post-copy migration=%s vm=%s: %s", s->mig.uuid,
              s->mig.vm_name, reason);
}

/* Asks the destination to prepare S.  Returns 0 with ANSWER, or a negative
 * errno with WHY. */
static int prepare_destination(struct source_run *s, struct peer_prepare_answer *answer, char *why,
                               size_t why_size)
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
        r = m->ports.ops->describe(m->ports.ctx, name, &p->ports[i]);
        if (r < 0) {
            snprintf(why, why_size, "cannot read port '%s' here: %s", name, strerror(-r));
            return r;
        }
        /* The destination's copy is a new port there, with its own
         * generation (and the peer protocol carries none). */
        p->ports[i].generation = 0;
        p->ports[i].created_ms = 0;
    }
    _cleanup_json_ struct json_object *body = peer_prepare_encode(p);
    char path[128];
    snprintf(path, sizeof(path), "/v1/migrations/%s/prepare", s->mig.uuid);
    struct client_reply reply;
    r = migrator_peer_call(m, s->dest_url, "POST", path, body, PREPARE_TIMEOUT_MS, &reply, why,
                           why_size);
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
    /* Journaled before it is done (here and for vm-migrating): a prepare
     * that failed, or an agent that stopped half-way, may have left part
     * of it, and both undos are harmless when nothing was done. */
    migrator_journal(m, s->mig.uuid, "prepare-destination", STEP_DONE, NULL);
    char detail[600];
    int r = prepare_destination(s, answer, detail, sizeof(detail));
    if (r < 0) {
        snprintf(why, why_size, "the destination could not prepare: %s", detail);
        return r;
    }
    migrator_journal(m, s->mig.uuid, "vm-migrating", STEP_DONE, NULL);
    r = migrator_set_vm_state(m, s->vm.uuid, VM_MIGRATING);
    if (r < 0) {
        snprintf(why, why_size, "cannot record the VM as migrating in this host's database");
        return r;
    }
    return 0;
}

/* Opens the migration channel ANSWER names and starts QEMU's migration
 * over it (pausing the VM first for a quick one). */
static int source_start_stream(struct source_run *s, struct peer_prepare_answer *answer, char *why,
                               size_t why_size)
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
    migrator_journal(m, s->mig.uuid, "channel", STEP_DONE, NULL);
    if (s->options.quick) {
        r = hypervisor_vm_stop(s->handle);
        if (r < 0) {
            snprintf(why, why_size, "cannot pause the VM for a quick migration");
            return r;
        }
        migrator_journal(m, s->mig.uuid, "vm-paused", STEP_DONE, NULL);
    }
    s->path = stream >= 0       ? METRICS_PATH_STREAM
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
    migrator_journal(m, s->mig.uuid, "qemu-migrate", STEP_DONE, NULL);
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
            return r; /* the undo's migrate_cancel fails, logged, and goes on */
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
    int r = migrator_peer_call(m, s->dest_url, "POST", path, NULL, PEER_TIMEOUT_MS, &reply, detail,
                               sizeof(detail));
    if (r < 0) {
        snprintf(why, why_size, "the destination could not activate its ports: %s", detail);
        return r;
    }
    client_reply_release(&reply);
    *gap = clock_mono_ms() - paused_at;
    migrator_journal(m, s->mig.uuid, "destination-ports", STEP_DONE, NULL);
    if (atomic_load(&s->running->cancel)) {
        snprintf(why, why_size, "cancelled");
        *cancelled = true;
        return -ECANCELED;
    }
    migrator_journal(m, s->mig.uuid, "continue", STEP_BEGUN, NULL);
    *postcopy = s->converging && s->conv.postcopy;
    if (*postcopy)
        migrator_journal(m, s->mig.uuid, "postcopy", STEP_BEGUN, NULL);
    atomic_store(&s->running->past_switchover, true);
    r = hypervisor_vm_migration_continue(s->handle);
    if (r < 0) {
        atomic_store(&s->running->past_switchover, false);
        migrator_journal(m, s->mig.uuid, "continue", STEP_FAILED, NULL);
        if (*postcopy)
            migrator_journal(m, s->mig.uuid, "postcopy", STEP_FAILED, NULL);
        snprintf(why, why_size, "QEMU refused to continue at switchover");
        return r;
    }
    migrator_journal(m, s->mig.uuid, "continue", STEP_DONE, NULL);
    /* The source ports go quiet while QEMU sends the last state, not
     * before: the paused VM sends nothing, and each switch call here would
     * lengthen the downtime. */
    for (size_t i = 0; i < s->vm.n_adapters; i++) {
        r = m->ports.ops->set_forwarding(m->ports.ctx, s->vm.adapters[i].port, false);
        if (r < 0)
            log_errno(LOG_LEVEL_WARNING, r, "cannot deactivate source port=%s",
                      s->vm.adapters[i].port);
    }
    migrator_journal(m, s->mig.uuid, "source-ports-inactive", STEP_DONE, NULL);
    /* The measurements are figures for the operator, stored again at the
     * end: losing one does not change the move. */
    (void)migrator_set_measurements(m, s->mig.uuid, -1, *gap);
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
    (void)migrator_set_measurements(m, s->mig.uuid, p->downtime_ms, gap); /* logged; figures only */
    char why[600];
    int r = finish_destination(m, &s->mig, s->dest_url, p->downtime_ms, gap, why, sizeof(why));
    migrator_channel_done(m, s->channel);
    s->channel = NULL;
    source_release(m, &s->mig, &s->vm);
    if (r < 0) {
        char reason[700];
        snprintf(reason, sizeof(reason),
                 "the destination did not confirm the VM after switchover: %s", why);
        (void)migrator_set_phase(m, s->mig.uuid, MIGRATION_FAILED,
                                 reason); /* logged; nothing to undo */
        return;
    }
    enter_phase(s, MIGRATION_COMPLETED);
    _cleanup_json_ struct json_object *final = progress_to_json(p, NULL);
    if (s->converging) /* the steps taken stay in the record */
        json_object_object_add(final, "convergence", convergence_to_json(&s->conv));
    (void)migrator_set_progress(m, s->mig.uuid, final, s->timings); /* figures only; logged */
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "migration", json_object_new_string(s->mig.uuid));
    json_object_object_add(detail, "downtime_ms", json_object_new_int64(p->downtime_ms));
    json_object_object_add(detail, "switchover_gap_ms", json_object_new_int64(gap));
    migrator_event(m, NULL, "migration.complete", s->mig.vm_name, detail);
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
    s->bytes_counted = true; /* a rollback from here must not count them again */
    if (postcopy && st != HYPERVISOR_MIGRATION_COMPLETED) {
        postcopy_lost(s, &progress);
        return;
    }
    if (postcopy)
        migrator_journal(s->m, s->mig.uuid, "postcopy", STEP_DONE, NULL);
    if (st == HYPERVISOR_MIGRATION_FAILED || st == HYPERVISOR_MIGRATION_CANCELLED) {
        atomic_store(&s->running->past_switchover, false);
        char why[700];
        snprintf(why, sizeof(why), "QEMU failed after switchover began: %s",
                 progress.error[0] ? progress.error : "no reason given");
        source_rollback(s, false, why); /* its migrate_cancel finds nothing to cancel */
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
    struct peer_prepare_answer answer = {0};
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

    migrator_channel_done(m, s->channel);
    json_object_put(s->timings);
    atomic_store(&s->running->done, true);
    migration_release(&s->mig);
    pthread_mutex_lock(&m->lock);
    pthread_cond_broadcast(&m->wake);
    pthread_mutex_unlock(&m->lock);
    free(s);
    return NULL;
}

int migrator_source_start(struct migrator *m, const struct migration *queued)
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
    int r = migration_get(migrator_db(m), queued->uuid, &s->mig);
    if (r >= 0)
        r = vm_get(migrator_db(m), queued->vm, &s->vm);
    if (r >= 0)
        r = migrator_destination_url(m, &s->mig, s->dest_url, sizeof(s->dest_url));
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
        (void)migrator_set_phase(m, s->mig.uuid, MIGRATION_FAILED,
                                 "its options are unreadable"); /* logged */
        migration_release(&s->mig);
        free(s);
        free(run);
        return r;
    }
    migrator_options_apply(&peer_options, s->mig.quick, &s->options);
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

/* ---- recovery at start ---- */

static bool journal_has(struct migrator *m, const char *uuid, const char *step,
                        enum migration_step_status status)
{
    struct migration_step *steps = NULL;
    size_t n = 0;
    bool found = false;
    int r = migration_steps(migrator_db(m), uuid, &steps, &n);
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

void migrator_source_recover(struct migrator *m, const struct migration *mig)
{
    /* Recovery goes on with the next migration whatever one write says:
     * the failures are logged, and an unrecorded end is tried again at the
     * next start. */
    struct vm vm;
    if (vm_get(migrator_db(m), mig->vm, &vm) < 0) {
        (void)migrator_set_phase(m, mig->uuid, MIGRATION_FAILED, "the VM is gone");
        return;
    }
    char url[256] = "";
    int r = migrator_destination_url(m, mig, url, sizeof(url));
    if (r < 0) /* the peer calls below fail with a clear reason */
        log_errno(LOG_LEVEL_WARNING, r, "the destination's address is unknown migration=%s",
                  mig->uuid);
    if (journal_has(m, mig->uuid, "continue", STEP_DONE) ||
        journal_has(m, mig->uuid, "continue", STEP_BEGUN)) {
        /* Past switchover, or maybe: QEMU tells. */
        struct hypervisor_vm_status status = {.state = HYPERVISOR_VM_EXITED};
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
            (void)migrator_set_phase(m, mig->uuid, r < 0 ? MIGRATION_FAILED : MIGRATION_COMPLETED,
                                     r < 0
                                         ? "agent restarted after switchover; destination did not "
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
    /* The same undo as a failure in the worker: the journal says what was
     * done. */
    source_rollback(&s, false, "the source agent restarted during the migration");
    log_info("recovered migration by rolling back migration=%s", mig->uuid);
}
