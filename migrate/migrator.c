/* The live-migration state machine: see migrate/migrator.h.  This file is
 * its public side (start, stop, cancel, slots) and the scheduler thread
 * ("lmnet-migsched"); the source side is migrate/migrator_source.c, the
 * destination side migrate/migrator_destination.c, what they share
 * migrate/migrator_core.c.
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
#include "migrate/migrator_core.h"
#include "migrate/migrator_destination.h"
#include "migrate/migrator_source.h"

/* ---- the scheduler (source) ---- */

/* Whether the destination at URL has a free slot, by its GET /v1/host.  An
 * agent that cannot say counts as full (the migration waits). */
static bool destination_has_slot(struct migrator *m, const char *url)
{
    struct client_reply reply;
    char why[512];
    if (migrator_peer_call(m, url, "GET", "/v1/host", NULL, 3000, &reply, why, sizeof(why)) < 0)
        return false;
    struct json_object *slots = NULL;
    bool free_slot = false;
    if (json_object_object_get_ex(reply.body, "migrations", &slots)) {
        int64_t active = migrator_json_int64(slots, "active_destination", 0);
        int64_t max = migrator_json_int64(slots, "max", 0);
        free_slot = active < max;
    }
    client_reply_release(&reply);
    return free_slot;
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

static void schedule(struct migrator *m)
{
    struct migration *list = NULL;
    size_t n = 0;
    int r = migration_list(migrator_db(m), NULL, 1000, true, &list, &n);
    if (r < 0) {
        log_errno(LOG_LEVEL_ERROR, r, "cannot read the queued migrations");
        return; /* the next round tries again */
    }
    int active = migration_count_active(migrator_db(m), MIGRATION_ROLE_SOURCE);
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
        if (migrator_destination_url(m, q, url, sizeof(url)) < 0 || !destination_has_slot(m, url))
            continue;
        r = migrator_source_start(m, q);
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
        migrator_destination_check(m);
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
    int r = migration_get(migrator_db(m), uuid, &mig);
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
        r = migration_set_phase(migrator_db(m), uuid, MIGRATION_CANCELLED,
                                "cancelled while queued");
        return r;
    }
    return migration_phase_before_switchover(phase) ? -EAGAIN : -EBUSY;
}

static void recover(struct migrator *m)
{
    struct migration *list = NULL;
    size_t n = 0;
    int r = migration_list(migrator_db(m), NULL, 1000, true, &list, &n);
    if (r < 0) {
        log_errno(LOG_LEVEL_ERROR, r, "cannot read the unfinished migrations to recover them");
        return;
    }
    for (size_t i = 0; i < n; i++) {
        if (list[i].phase == MIGRATION_QUEUED)
            continue;
        if (list[i].role == MIGRATION_ROLE_SOURCE)
            migrator_source_recover(m, &list[i]);
        else
            migrator_destination_recover(m, &list[i]);
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
    migrator_destination_release_all(m);
    pthread_cond_destroy(&m->incoming_released);
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void migrator_slots(struct migrator *m, unsigned *active_source, unsigned *active_destination,
                    unsigned *max)
{
    int s = migration_count_active(migrator_db(m), MIGRATION_ROLE_SOURCE);
    int d = migration_count_active(migrator_db(m), MIGRATION_ROLE_DESTINATION);
    *active_source = s < 0 ? 0 : (unsigned)s;
    *active_destination = d < 0 ? 0 : (unsigned)d;
    *max = m->agent->config.max_migrations;
}
