/* Membership upkeep: see agent/membership.h.
 *
 * Threads: one, "lmnet-member", on agents that are not the registry.  It
 * owns its REST client; the status it writes is read by HTTP workers under
 * membership->lock. */
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
#include "agent/peer.h"
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

static int record_self(struct agent *agent)
{
    struct db *db = db_pool_get(agent->db);
    if (!db)
        return -EIO;
    struct member self = { .registry = true, .last_seen_ms = clock_wall_ms() };
    snprintf(self.uuid, sizeof(self.uuid), "%s", agent->node_id);
    snprintf(self.name, sizeof(self.name), "%s", agent->hostname);
    agent_url(agent, self.url, sizeof(self.url));
    /* Another member may have held our URL (a re-created agent): our row wins. */
    struct member *all = NULL;
    size_t n = 0;
    if (member_list(db, &all, &n) == 0) {
        for (size_t i = 0; i < n; i++)
            if (strcmp(all[i].url, self.url) == 0 && strcmp(all[i].uuid, self.uuid) != 0)
                member_delete(db, all[i].uuid);
        free(all);
    }
    int r = member_upsert(db, &self);
    return r < 0 ? log_errno(LOG_LEVEL_ERROR, r, "cannot record this agent as a member") : 0;
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
static void sync_once(struct membership *m, struct client *client)
{
    struct agent *agent = m->agent;
    char url[256], msg[512];
    struct json_object *body = json_object_new_object();
    json_object_object_add(body, "url", json_object_new_string(agent_url(agent, url, sizeof(url))));
    struct client_reply reply;
    int r = client_call(client, "POST", "/v1/cluster/members", body, NULL, &reply);
    json_object_put(body);
    if (r < 0 || reply.status >= 300) {
        set_status(m, false, client_reply_message(&reply, msg, sizeof(msg)));
        client_reply_release(&reply);
        return;
    }
    client_reply_release(&reply);

    r = client_call(client, "GET", "/v1/cluster/members", NULL, NULL, &reply);
    struct json_object *items = NULL;
    if (r < 0 || reply.status != 200 || !reply.body ||
        !json_object_object_get_ex(reply.body, "items", &items) ||
        !json_object_is_type(items, json_type_array)) {
        set_status(m, false, r < 0 || reply.status != 200
                                 ? client_reply_message(&reply, msg, sizeof(msg))
                                 : "registry sent a member list we cannot read");
        client_reply_release(&reply);
        return;
    }
    size_t n = json_object_array_length(items);
    struct member *members = calloc(n ? n : 1, sizeof(*members));
    size_t kept = 0;
    for (size_t i = 0; members && i < n; i++)
        if (member_from_json(json_object_array_get_idx(items, i), &members[kept]) == 0)
            kept++;
    client_reply_release(&reply);
    struct db *db = db_pool_get(agent->db);
    r = members && db ? member_replace_all(db, members, kept) : -ENOMEM;
    free(members);
    if (r < 0)
        log_errno(LOG_LEVEL_WARNING, r, "cannot store the member list");
    set_status(m, true, NULL);
}

static void *membership_thread(void *arg)
{
    struct membership *m = arg;
    pthread_setname_np(pthread_self(), "lmnet-member");
    struct client *client = NULL;
    if (peer_client_create(m->agent, m->agent->config.registry, 3000, &client) < 0) {
        log_error("cannot create the registry client; membership upkeep stopped");
        return NULL;
    }
    pthread_mutex_lock(&m->lock);
    while (!m->stopping) {
        pthread_mutex_unlock(&m->lock);
        sync_once(m, client);
        pthread_mutex_lock(&m->lock);
        struct timespec deadline;
        clock_gettime(CLOCK_REALTIME, &deadline);
        deadline.tv_sec += MEMBERSHIP_INTERVAL_MS / 1000;
        while (!m->stopping && pthread_cond_timedwait(&m->wake, &m->lock, &deadline) == 0)
            ;
    }
    pthread_mutex_unlock(&m->lock);
    client_destroy(client);
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
    if (agent_is_registry(agent)) {
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
