/* Membership upkeep: see agent/membership.h.
 *
 * Threads: one, "lmnet-member", on agents that are not the registry; the
 * status it writes and the credential membership_join() sets are read by
 * HTTP workers and the heartbeat thread under membership->lock. */
#include "agent/membership.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "agent/agent.h"
#include "agent/allocator.h"
#include "base/cleanup.h"
#include "base/clock.h"
#include "agent/credential.h"
#include "base/log.h"
#include "agent/registry.h"
#include "db/db.h"
#include "db/member.h"

#define MEMBERSHIP_INTERVAL_MS 5000
#define GIVE_BACK_MIN_AGE_MS   60000 /* an empty block older than this goes back */

struct membership {
    struct agent *agent;
    pthread_t thread;
    bool thread_started;
    pthread_mutex_t lock; /* guards status and stopping */
    pthread_cond_t wake;
    bool stopping;
    struct registry_status status;
    char credential[CREDENTIAL_SIZE]; /* "" until joined */
    char credential_path[4096];
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
    struct refusal err;
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

/* True when this agent's registry is another agent (registry = URL): it
 * joins with a join token and reports with its member credential.  A
 * registry every agent writes to directly (etcd) has its own access
 * control. */
static bool joins_with_token(const struct agent *agent)
{
    return agent->registry && strcmp(agent->registry->ops->name, "agent") == 0;
}

/* One round: refresh this member with the registry, then copy its member
 * list. */
static void sync_once(struct membership *m)
{
    struct agent *agent = m->agent;
    char credential[CREDENTIAL_SIZE] = "";
    if (joins_with_token(agent) && membership_credential(m, credential) < 0) {
        set_status(m, false,
                   "not a member yet: on the registry run 'lmnetctl cluster join-token', then "
                   "here 'lmnetctl cluster join TOKEN'");
        return;
    }
    struct registry_join join;
    struct refusal err;
    join_of(agent, &join);
    join.credential = credential[0] ? credential : NULL;
    int r = registry_join(agent->registry, &join, &err);
    explicit_bzero(credential, sizeof(credential));
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
    /* The registry answers: empty blocks a release could not give back go
     * now (only those claimed a while ago: a fresh claim is about to be
     * allocated from). */
    r = allocator_give_back_empty(agent, GIVE_BACK_MIN_AGE_MS);
    if (r < 0)
        log_errno(LOG_LEVEL_WARNING, r, "cannot look for empty blocks to give back");
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

/* Where this member keeps its credential: member_credential_file, or
 * "member-credential" next to the database. */
static void credential_path(const struct agent *agent, char *out, size_t size)
{
    if (agent->config.member_credential_file) {
        snprintf(out, size, "%s", agent->config.member_credential_file);
        return;
    }
    const char *db = agent->config.database;
    const char *slash = strrchr(db, '/');
    if (!slash)
        snprintf(out, size, "member-credential");
    else
        snprintf(out, size, "%.*s/member-credential", (int)(slash - db), db);
}

/* Reads the credential a previous join stored.  No file is fine (not
 * joined yet); a file others can read, or one that holds something else, is
 * refused, as token files are. */
static int load_credential(struct membership *m)
{
    credential_path(m->agent, m->credential_path, sizeof(m->credential_path));
    char err[512] = "";
    int r = credential_read_file(m->credential_path, CREDENTIAL_MEMBER_PREFIX, m->credential, err,
                                 sizeof(err));
    if (r == -ENOENT) {
        m->credential[0] = '\0';
        log_info("not a cluster member yet: join with 'lmnetctl cluster join TOKEN' "
                 "credential_file=%s",
                 m->credential_path);
        return 0;
    }
    if (r < 0)
        log_error("member credential: %s", err);
    return r;
}

int membership_join(struct agent *agent, const char *join_token, struct refusal *err)
{
    struct membership *m = agent->membership;
    if (!m)
        return refuse(err, -EAGAIN, REFUSAL_UNAVAILABLE, "starting",
                      "this agent is still starting; try again in a moment");
    if (registry_is_self(agent->registry))
        return refuse(err, -EINVAL, REFUSAL_CONFLICT, "member-is-registry",
                      "this agent is the registry (registry = self): it is a member "
                      "already; join the other agents to it");
    if (!joins_with_token(agent))
        return refuse(err, -EINVAL, REFUSAL_CONFLICT, "no-join-tokens",
                      "this agent's registry (%s) takes no join tokens: every agent "
                      "joins it by itself",
                      agent->config.registry);
    if (!credential_is(join_token, CREDENTIAL_JOIN_PREFIX))
        return refuse(err, -EINVAL, REFUSAL_INVALID, "invalid",
                      "'token' is not a join token (lmj_ and 64 hex digits, from "
                      "'lmnetctl cluster join-token' on the registry)");
    struct registry_join join;
    char issued[CREDENTIAL_SIZE] = "";
    join_of(agent, &join);
    join.credential = join_token;
    join.issued = issued;
    int r = registry_join(agent->registry, &join, err);
    if (r < 0)
        return r;
    if (!credential_is(issued, CREDENTIAL_MEMBER_PREFIX))
        return refuse(err, -EPROTO, REFUSAL_BAD_ANSWER, "registry-answer",
                      "the registry accepted the join token but sent no member credential");
    r = credential_write_file(m->credential_path, issued);
    if (r < 0) {
        explicit_bzero(issued, sizeof(issued));
        return refuse(err, r, REFUSAL_INTERNAL, "internal",
                      "joined, but cannot store the member credential in %s: %s; fix "
                      "that and join again with a new join token",
                      m->credential_path, strerror(-r));
    }
    pthread_mutex_lock(&m->lock);
    memcpy(m->credential, issued, CREDENTIAL_SIZE);
    pthread_cond_signal(&m->wake);
    pthread_mutex_unlock(&m->lock);
    explicit_bzero(issued, sizeof(issued));
    log_info("joined the cluster registry=%s credential_file=%s", agent->config.registry,
             m->credential_path);
    return 0;
}

int membership_credential(struct membership *m, char *out)
{
    if (!m)
        return -ENOENT;
    pthread_mutex_lock(&m->lock);
    bool joined = m->credential[0] != '\0';
    if (joined)
        memcpy(out, m->credential, CREDENTIAL_SIZE);
    pthread_mutex_unlock(&m->lock);
    return joined ? 0 : -ENOENT;
}

int membership_authenticate(struct agent *agent, const char *presented, char member[37])
{
    if (!registry_is_self(agent->registry) || !credential_is(presented, CREDENTIAL_MEMBER_PREFIX))
        return -EACCES;
    char hash[CREDENTIAL_HASH_SIZE];
    credential_hash(presented, hash);
    struct db *db = db_pool_get(agent->db);
    struct member found;
    if (!db || member_find_by_credential(db, hash, &found) < 0)
        return -EACCES;
    memcpy(member, found.uuid, 37);
    return 0;
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
        /* Blocks this registry holds itself that emptied before blocks
         * went back (an older lmnetd): nothing is claimed yet, so all. */
        r = allocator_give_back_empty(agent, 0);
        if (r > 0)
            log_info("empty blocks given back at start count=%d", r);
    } else {
        int r = joins_with_token(agent) ? load_credential(m) : 0;
        if (r < 0) {
            membership_stop(m);
            return r;
        }
        r = -pthread_create(&m->thread, NULL, membership_thread, m);
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
    explicit_bzero(m->credential, sizeof(m->credential));
    free(m);
}

void membership_status(struct membership *m, struct registry_status *status)
{
    pthread_mutex_lock(&m->lock);
    *status = m->status;
    pthread_mutex_unlock(&m->lock);
}
