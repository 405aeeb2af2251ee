/* Membership upkeep: see agent/membership.h.
 *
 * Threads: one, "lmnet-member", on agents that are not the registry; the
 * status it writes is read by HTTP workers under membership->lock. */
#include "agent/membership.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "agent/agent.h"
#include "agent/cleanup.h"
#include "agent/clock.h"
#include "agent/log.h"
#include "agent/registry.h"
#include "db/db.h"
#include "db/member.h"

#define MEMBERSHIP_INTERVAL_MS 5000

struct membership {
    struct agent *agent;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock; /* guards status and stopping */
    pthread_cond_t wake;
    bool stopping;
    struct registry_status status;
};

bool agent_is_registry(const struct agent *agent)
{
    return strcmp(agent->config.registry, "self") == 0;
}

static void join_of(struct agent *agent, struct registry_join *join)
{
    memset(join, 0, sizeof(*join));
    snprintf(join->node, sizeof(join->node), "%s", agent->node_id);
    snprintf(join->name, sizeof(join->name), "%s", agent->hostname);
    agent_url(agent, join->url, sizeof(join->url));
}

static int record_self(struct agent *agent)
{
    struct registry_join join;
    struct registry_error err;
    join_of(agent, &join);
    int r = registry_join(agent->registry, &join, &err);
    return r < 0 ? log_errno(LOG_LEVEL_ERROR, r, "cannot record this agent as a member: %s",
                             err.detail)
                 : 0;
}

static void set_status(struct membership *m, bool reachable, const char *error)
{
    pthread_mutex_lock(&m->lock);
    if (reachable && !m->status.reachable)
        log_info("registry reachable url=%s", m->agent->config.registry);
    else if (!reachable && (m->status.reachable || m->status.last_contact_ms == 0))
        log_warning("registry unreachable url=%s reason=\"%s\"", m->agent->config.registry, error);
    m->status.reachable = reachable;
    if (reachable)
        m->status.last_contact_ms = clock_wall_ms();
    snprintf(m->status.error, sizeof(m->status.error), "%s", error ? error : "");
    pthread_mutex_unlock(&m->lock);
}

/* One round: register with the registry, then copy its member list. */
static void sync_once(struct membership *m)
{
    struct agent *agent = m->agent;
    struct registry_join join;
    struct registry_error err;
    join_of(agent, &join);
    int r = registry_join(agent->registry, &join, &err);
    if (r < 0) {
        set_status(m, false, err.detail);
        return;
    }
    struct member *members = NULL;
    size_t n = 0;
    r = registry_members(agent->registry, &members, &n, &err);
    if (r < 0) {
        set_status(m, false, err.detail);
        return;
    }
    struct db *db = db_pool_get(agent->db);
    r = db ? member_replace_all(db, members, n) : -EIO;
    free(members);
    if (r < 0)
        log_errno(LOG_LEVEL_WARNING, r, "cannot store the member list");
    set_status(m, true, NULL);
}

static void *membership_thread(void *arg)
{
    struct membership *m = arg;
    pthread_setname_np(pthread_self(), "lmnet-member");
    pthread_mutex_lock(&m->lock);
    while (!m->stopping) {
        pthread_mutex_unlock(&m->lock);
        sync_once(m);
        pthread_mutex_lock(&m->lock);
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += MEMBERSHIP_INTERVAL_MS / 1000;
        while (!m->stopping && pthread_cond_timedwait(&m->wake, &m->lock, &deadline) == 0)
            ;
    }
    pthread_mutex_unlock(&m->lock);
    return NULL;
}

int membership_start(struct agent *agent, struct membership **out)
{
    struct membership *m = calloc(1, sizeof(*m));
    if (!m)
        return -ENOMEM;
    m->agent = agent;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->wake, NULL);
    if (registry_is_self(agent->registry)) {
        m->status.self = true;
        m->status.reachable = true;
        m->status.last_contact_ms = clock_wall_ms();
        int r = record_self(agent);
        if (r < 0) {
            membership_stop(m);
            return r;
        }
    } else {
        int r = -pthread_create(&m->thread, NULL, membership_thread, m);
        if (r < 0) {
            membership_stop(m);
            return log_errno(LOG_LEVEL_ERROR, r, "cannot start the membership thread");
        }
        m->thread_started = true;
    }
    *out = m;
    return 0;
}

void membership_stop(struct membership *m)
{
    if (!m)
        return;
    if (m->thread_started) {
        pthread_mutex_lock(&m->lock);
        m->stopping = true;
        pthread_cond_signal(&m->wake);
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->thread, NULL);
    }
    pthread_cond_destroy(&m->wake);
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void membership_status(struct membership *m, struct registry_status *status)
{
    pthread_mutex_lock(&m->lock);
    *status = m->status;
    pthread_mutex_unlock(&m->lock);
}
