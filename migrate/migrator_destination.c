/* The destination side of a migration: the migrator_dest_*() calls the
 * peer REST handlers make, the incoming records (struct incoming, with its
 * ownership rule) and the recovery of an unfinished one.  See
 * migrate/migrator_destination.h. */
#include "migrate/migrator_destination.h"

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
#include "db/member.h"
#include "db/migration.h"
#include "db/vm.h"
#include "hypervisor/hypervisor.h"
#include "migrate/channel.h"
#include "migrate/direct.h"
#include "migrate/lifecycle.h"
#include "migrate/peer_protocol.h"
#include "migrate/plan/ports.h"

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

/* What the destination's undo steps work with. */
struct dest_undo_ctx {
    struct migrator *m;
    struct incoming *in; /* NULL once the agent restarted */
    const char *vm_name;
};

static int undo_qemu_started(void *ctx, struct json_object *detail)
{
    (void)detail;
    struct dest_undo_ctx *u = ctx;
    struct hypervisor_vm *h = u->in ? u->in->handle : NULL;
    if (!h && hypervisor_vm_attach(u->m->deps.hypervisor, u->vm_name, &h) < 0)
        h = NULL; /* no QEMU of that name is left to end */
    hypervisor_vm_destroy(h);
    if (u->in)
        u->in->handle = NULL;
    return 0;
}

static int undo_port_created(void *ctx, struct json_object *detail)
{
    struct dest_undo_ctx *u = ctx;
    const char *name = migrator_json_string(detail, "name");
    if (!name)
        return 0;
    int r = u->m->ports.ops->remove(u->m->ports.ctx, name);
    if (r < 0 && r != -ENOENT)
        return log_errno(LOG_LEVEL_ERROR, r, "cannot remove prepared port=%s", name);
    return 0;
}

static int undo_vm_record(void *ctx, struct json_object *detail)
{
    struct dest_undo_ctx *u = ctx;
    const char *vm = migrator_json_string(detail, "vm");
    const char *previous = migrator_json_string(detail, "previous_host");
    if (vm && previous && previous[0])
        return migrator_set_vm_host(u->m, vm, previous, VM_RUNNING);
    if (!vm)
        return 0;
    int r = vm_delete(migrator_db(u->m), vm);
    if (r < 0 && r != -ENOENT)
        return log_errno(LOG_LEVEL_ERROR, r, "cannot forget the incoming VM vm=%s", vm);
    return 0;
}

static const struct migrator_undo dest_undo_steps[] = {
    { "qemu-started", undo_qemu_started },
    { "port-created:", undo_port_created },
    { "vm-record", undo_vm_record },
    /* channel-listening: the listener is in memory (closed first, below);
     * ports-active: switchover reached, nothing of its own to undo. */
};

/* Undoes the destination's journaled steps for UUID (what is in IN, when
 * it is still in memory, else found again by name). */
static void dest_undo(struct migrator *m, const char *uuid, struct incoming *in,
                      const char *vm_name)
{
    if (in) {
        migrator_channel_done(m, in->channel);
        in->channel = NULL;
    }
    struct dest_undo_ctx u = { .m = m, .in = in, .vm_name = vm_name };
    (void)migrator_undo_journal(m, uuid, dest_undo_steps,
                                sizeof(dest_undo_steps) / sizeof(dest_undo_steps[0]),
                                &u); /* logged; the record's phase tells the rest */
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

int migrator_dest_prepare(struct migrator *m, struct json_object *body, struct json_object **answer,
                          struct refusal *refusal)
{
    struct db *db = migrator_db(m);
    _cleanup_free_ struct peer_prepare *p = calloc(1, sizeof(*p));
    if (!p)
        return -ENOMEM;
    char bad[400];
    if (peer_prepare_decode(body, p, bad, sizeof(bad)) < 0) {
        return refuse(refusal, -EPERM, REFUSAL_INVALID, "bad-prepare",
                      "the prepare request does not read: %s", bad);
    }
    const char *id = p->id;
    const char *address = p->destination_address;
    const char *source_address = p->source_address[0] ? p->source_address : NULL;
    struct vm vm = p->vm;
    int active = migration_count_active(db, MIGRATION_ROLE_DESTINATION);
    if (active < 0)
        return active;
    if ((unsigned)active >= m->agent->config.max_migrations) {
        return refuse(refusal, -EPERM, REFUSAL_CONFLICT, "no-free-slot",
                      "this host already takes part in %d migrations as destination (max %u)",
                      active, m->agent->config.max_migrations);
    }
    struct vm existing;
    bool had = vm_get(db, vm.uuid, &existing) == 0;
    if (had && strcmp(existing.host, m->agent->node_id) == 0 && existing.state != VM_STOPPED &&
        existing.state != VM_FAILED) {
        return refuse(refusal, -EPERM, REFUSAL_CONFLICT, "vm-already-here",
                      "VM '%s' already runs on this host", vm.name);
    }
    /* Another VM of the same name: a copy of one that lives elsewhere is
     * only what this host last knew of it and gives way; one defined here
     * is the operator's and is not touched. */
    struct vm namesake;
    if (vm_get(db, vm.name, &namesake) == 0 && strcmp(namesake.uuid, vm.uuid) != 0) {
        if (strcmp(namesake.host, m->agent->node_id) == 0) {
            return refuse(
                refusal, -EPERM, REFUSAL_CONFLICT, "vm-name-taken",
                "another VM named '%s' is defined on the destination; delete or rename it there",
                vm.name);
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
        return refuse(refusal, -EPERM, REFUSAL_CONFLICT, "migration-exists",
                      "migration %s is already known here", id);
    }
    if (r < 0)
        return r;
    struct incoming *in = calloc(1, sizeof(*in));
    if (!in) {
        (void)migrator_set_phase(m, id, MIGRATION_FAILED,
                                 "out of memory"); /* logged; refused anyway */
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
        migrator_journal(m, id, "vm-record", STEP_DONE, detail);
    }
    for (size_t i = 0; i < vm.n_adapters; i++) {
        r = m->ports.ops->create_inactive(m->ports.ctx, &p->ports[i]);
        if (r < 0) {
            snprintf(why, sizeof(why), "cannot create port '%s' here: %s", vm.adapters[i].port,
                     strerror(-r));
            goto fail;
        }
        char step[48];
        snprintf(step, sizeof(step), "port-created:%.32s", vm.adapters[i].port);
        migrator_journal_name(m, id, step, vm.adapters[i].port);
        snprintf(in->ports[in->n_ports++], sizeof(in->ports[0]), "%s", vm.adapters[i].port);
    }
    struct options options;
    migrator_options_apply(&p->options, mig.quick, &options);
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
    migrator_journal_name(m, id, "qemu-started", vm.name);
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
    migrator_journal(m, id, "channel-listening", STEP_DONE, NULL);
    r = migrator_set_phase(m, id, MIGRATION_TRANSFERRING, NULL);
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
    (void)migrator_set_phase(m, id, MIGRATION_FAILED, why); /* logged; the refusal says it all */
    incoming_free(in);
    return refuse(refusal, -EPERM, REFUSAL_CONFLICT, "destination-prepare-failed", "%s", why);
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
    migrator_journal(m, uuid, "ports-active", STEP_DONE, NULL);
    /* Not recorded: the source rolls back, and its abort undoes the ports. */
    return migrator_set_phase(m, uuid, MIGRATION_SWITCHOVER, NULL);
}

int migrator_dest_finish(struct migrator *m, const char *uuid, int64_t downtime_ms, int64_t gap_ms)
{
    struct incoming *in = incoming_get(m, uuid);
    if (!in)
        return -ENOENT;
    int64_t deadline = clock_mono_ms() + FINISH_TIMEOUT_MS / 2;
    struct hypervisor_vm_status status = {.state = HYPERVISOR_VM_INCOMING};
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
    (void)migrator_set_vm_host(m, in->vm, m->agent->node_id, VM_RUNNING);
    if (downtime_ms >= 0 || gap_ms >= 0)
        (void)migrator_set_measurements(m, uuid, downtime_ms, gap_ms);
    (void)migrator_set_phase(m, uuid, MIGRATION_FINISHING, NULL);
    (void)migrator_set_phase(m, uuid, MIGRATION_COMPLETED, NULL);
    _cleanup_json_ struct json_object *detail = json_object_new_object();
    json_object_object_add(detail, "migration", json_object_new_string(uuid));
    migrator_event(m, NULL, "migration.arrive", in->vm_name, detail);
    log_info("migration arrived migration=%s vm=%s", uuid, in->vm_name);
    incoming_free(in);
    return 0;
}

int migrator_dest_abort(struct migrator *m, const char *uuid, const char *reason)
{
    struct incoming *in = incoming_take(m, uuid);
    struct migration mig;
    int r = migration_get(migrator_db(m), uuid, &mig);
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
    r = migrator_set_phase(m, uuid, MIGRATION_FAILED, reason ? reason : "aborted by the source");
    log_info("migration undone here migration=%s vm=%s reason=\"%s\"", uuid, mig.vm_name,
             reason ? reason : "aborted by the source");
    migration_release(&mig);
    incoming_free(in);
    return r < 0 ? r : 0;
}

/* An incoming QEMU that ended before switchover (the stream broke, it
 * crashed) is undone without waiting for the source. */
void migrator_destination_check(struct migrator *m)
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

void migrator_destination_recover(struct migrator *m, const struct migration *mig)
{
    if (migration_phase_before_switchover(mig->phase)) {
        dest_undo(m, mig->uuid, NULL, mig->vm_name);
        (void)migrator_set_phase(m, mig->uuid, MIGRATION_FAILED,
                                 "the destination agent restarted during the migration");
        log_info("recovered incoming migration by undoing it migration=%s", mig->uuid);
        return;
    }
    /* Past switchover: the VM should run here; take it. */
    struct hypervisor_vm *h = NULL;
    struct hypervisor_vm_status status = {.state = HYPERVISOR_VM_EXITED};
    if (hypervisor_vm_attach(m->deps.hypervisor, mig->vm_name, &h) == 0 &&
        hypervisor_vm_query(h, &status) < 0)
        status.state = HYPERVISOR_VM_EXITED;
    if (h && status.state == HYPERVISOR_VM_RUNNING) {
        int r = hypervisor_vm_announce(h);
        if (r < 0) /* the switches learn the MACs from the VM's own traffic */
            log_errno(LOG_LEVEL_WARNING, r, "cannot announce the VM vm=%s", mig->vm_name);
        if (lifecycle_adopt(m->deps.lifecycle, mig->vm, h) < 0)
            hypervisor_vm_detach(h);
        (void)migrator_set_vm_host(m, mig->vm, m->agent->node_id, VM_RUNNING);
        (void)migrator_set_phase(m, mig->uuid, MIGRATION_COMPLETED, NULL);
    } else {
        hypervisor_vm_detach(h);
        (void)migrator_set_vm_state(m, mig->vm, VM_FAILED);
        (void)migrator_set_phase(m, mig->uuid, MIGRATION_FAILED,
                                 "the destination agent restarted after switchover and the VM does "
                                 "not run here");
    }
}

void migrator_destination_release_all(struct migrator *m)
{
    while (m->incoming) {
        struct incoming *in = incoming_take(m, m->incoming->uuid);
        if (!in)
            break; /* no other caller is left to end it: the scheduler is joined */
        migrator_channel_done(m, in->channel); /* its taker may be using the handle */
        in->channel = NULL;
        hypervisor_vm_detach(in->handle); /* the journal lets the next start undo it */
        incoming_free(in);
    }
}
