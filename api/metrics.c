/* GET /metrics: Prometheus' text exposition format, version 0.0.4.
 *
 * Three sources (agent/metrics.h says why each is where it is):
 * - the process counters of struct metrics: requests, allocations,
 *   migration channel and relay bytes;
 * - the database, read at scrape time: MAC pool size and fill, migrations
 *   by role and outcome, and the histograms of measured downtime and
 *   switchover gap (of this host's completed migrations as source, so that
 *   one migration counts once even when both hosts are scraped);
 * - the heartbeat thread's status: peers heard and lost per cluster
 *   network, datagrams sent, received and ignored.
 * Every family has its HELP and TYPE lines, even when it has no sample
 * yet, so a dashboard finds the names before the first migration. */
#include "api/metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "agent/agent.h"
#include "base/cleanup.h"
#include "agent/heartbeat.h"
#include "agent/metrics.h"
#include "db/db.h"
#include "db/macpool.h"
#include "db/migration.h"

/* Upper bounds, in seconds, of the downtime and gap histograms' buckets. */
static const double histogram_bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define N_BOUNDS (sizeof(histogram_bounds) / sizeof(histogram_bounds[0]))

struct histogram {
    uint64_t buckets[N_BOUNDS]; /* not cumulative; summed when printed */
    uint64_t count;
    double sum;
};

static void histogram_observe(struct histogram *h, double value)
{
    for (size_t i = 0; i < N_BOUNDS; i++)
        if (value <= histogram_bounds[i]) {
            h->buckets[i]++;
            break;
        }
    h->count++;
    h->sum += value;
}

static void family(FILE *out, const char *name, const char *type, const char *help)
{
    fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Writes VALUE as a label value: backslash, double quote and newline
 * escaped, as the format requires. */
static void label_value(FILE *out, const char *value)
{
    fputc('"', out);
    for (const char *p = value; *p; p++) {
        if (*p == '\\' || *p == '"')
            fprintf(out, "\\%c", *p);
        else if (*p == '\n')
            fputs("\\n", out);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

static uint64_t load(_Atomic uint64_t *counter)
{
    return atomic_load_explicit(counter, memory_order_relaxed);
}

static void histogram_print(FILE *out, const char *name, const char *help,
                            const struct histogram *h)
{
    family(out, name, "histogram", help);
    uint64_t cumulative = 0;
    for (size_t i = 0; i < N_BOUNDS; i++) {
        cumulative += h->buckets[i];
        fprintf(out, "%s_bucket{le=\"%g\"} %llu\n", name, histogram_bounds[i],
                (unsigned long long)cumulative);
    }
    fprintf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name, (unsigned long long)h->count);
    fprintf(out, "%s_sum %.3f\n%s_count %llu\n", name, h->sum, name, (unsigned long long)h->count);
}

static void print_process(FILE *out, struct metrics *m)
{
    family(out, "lmnet_http_requests_total", "counter",
           "HTTP requests answered, by method and status.");
    for (unsigned method = 0; m && method < METRICS_METHODS; method++)
        for (int s = METRICS_STATUS_MIN; s <= METRICS_STATUS_MAX; s++) {
            uint64_t n = load(&m->requests[method][s - METRICS_STATUS_MIN]);
            if (n)
                fprintf(out, "lmnet_http_requests_total{method=\"%s\",code=\"%d\"} %llu\n",
                        method < HTTP_METHOD_COUNT ? http_method_to_string(method) : "other", s,
                        (unsigned long long)n);
        }
    family(out, "lmnet_mac_allocations_total", "counter",
           "MAC allocations made on this host (ok) or refused.");
    fprintf(out, "lmnet_mac_allocations_total{result=\"ok\"} %llu\n",
            (unsigned long long)(m ? load(&m->mac_allocations) : 0));
    fprintf(out, "lmnet_mac_allocations_total{result=\"refused\"} %llu\n",
            (unsigned long long)(m ? load(&m->mac_allocation_failures) : 0));
    family(out, "lmnet_mac_releases_total", "counter", "MAC addresses released on this host.");
    fprintf(out, "lmnet_mac_releases_total %llu\n",
            (unsigned long long)(m ? load(&m->mac_releases) : 0));
    family(out, "lmnet_channel_bytes_total", "counter",
           "Bytes the migration channels of finished migrations carried, by direction.");
    fprintf(out, "lmnet_channel_bytes_total{direction=\"forward\"} %llu\n",
            (unsigned long long)(m ? load(&m->channel_bytes_forward) : 0));
    fprintf(out, "lmnet_channel_bytes_total{direction=\"backward\"} %llu\n",
            (unsigned long long)(m ? load(&m->channel_bytes_backward) : 0));
    family(out, "lmnet_migration_bytes_total", "counter",
           "Bytes QEMU sent in migrations this host was the source of, once each ended, by path: "
           "stream (one connection), direct (QEMU's own multifd connections), relay.");
    static const char *const paths[METRICS_PATHS] = {"stream", "direct", "relay"};
    for (unsigned i = 0; i < METRICS_PATHS; i++)
        fprintf(out, "lmnet_migration_bytes_total{path=\"%s\"} %llu\n", paths[i],
                (unsigned long long)(m ? load(&m->migration_bytes[i]) : 0));
    family(
        out, "lmnet_relay_requests_total", "counter",
        "Requests relayed to another agent (the registry, a VM's host), by whether it answered.");
    fprintf(out, "lmnet_relay_requests_total{result=\"answered\"} %llu\n",
            (unsigned long long)(m ? load(&m->relay_requests) - load(&m->relay_failures) : 0));
    fprintf(out, "lmnet_relay_requests_total{result=\"unanswered\"} %llu\n",
            (unsigned long long)(m ? load(&m->relay_failures) : 0));
    family(out, "lmnet_relay_bytes_total", "counter",
           "JSON bytes of relayed requests (sent) and of their answers (received).");
    fprintf(out, "lmnet_relay_bytes_total{direction=\"sent\"} %llu\n",
            (unsigned long long)(m ? load(&m->relay_bytes_sent) : 0));
    fprintf(out, "lmnet_relay_bytes_total{direction=\"received\"} %llu\n",
            (unsigned long long)(m ? load(&m->relay_bytes_received) : 0));
}

static int print_pools(FILE *out, struct db *db)
{
    struct macpool *pools = NULL;
    size_t n = 0;
    int r = macpool_list(db, &pools, &n);
    if (r < 0)
        return r;
    family(out, "lmnet_mac_pool_addresses", "gauge", "Addresses in a MAC pool's ranges.");
    for (size_t i = 0; i < n; i++) {
        uint64_t size = 0;
        for (size_t k = 0; k < pools[i].n_ranges; k++)
            size += pools[i].ranges[k].end - pools[i].ranges[k].start + 1;
        fputs("lmnet_mac_pool_addresses{pool=", out);
        label_value(out, pools[i].name);
        fprintf(out, ",kind=\"%s\"} %llu\n", pools[i].kind == MACPOOL_STATIC ? "static" : "dynamic",
                (unsigned long long)size);
    }
    family(out, "lmnet_mac_pool_allocated", "gauge",
           "Addresses of a MAC pool allocated, as GET /v1/mac-pools/{name} counts them.");
    for (size_t i = 0; i < n; i++) {
        int64_t allocated = macpool_count_allocated(db, pools[i].name);
        if (allocated < 0)
            continue;
        fputs("lmnet_mac_pool_allocated{pool=", out);
        label_value(out, pools[i].name);
        fprintf(out, "} %lld\n", (long long)allocated);
    }
    free(pools);
    return 0;
}

static int print_migrations(FILE *out, struct db *db)
{
    /* [role][phase] */
    uint64_t counts[2][MIGRATION_PHASE_COUNT] = {{0}};
    struct histogram downtime = {0}, gap = {0};
    char after[37] = "";
    for (;;) {
        struct migration *list = NULL;
        size_t n = 0;
        int r = migration_list(db, after[0] ? after : NULL, 500, false, &list, &n);
        if (r < 0)
            return r;
        for (size_t i = 0; i < n; i++) {
            const struct migration *mig = &list[i];
            counts[mig->role == MIGRATION_ROLE_SOURCE ? 0 : 1][mig->phase]++;
            if (mig->role != MIGRATION_ROLE_SOURCE || mig->phase != MIGRATION_COMPLETED)
                continue;
            if (mig->downtime_ms >= 0)
                histogram_observe(&downtime, (double)mig->downtime_ms / 1000.0);
            if (mig->switchover_gap_ms >= 0)
                histogram_observe(&gap, (double)mig->switchover_gap_ms / 1000.0);
        }
        if (n)
            snprintf(after, sizeof(after), "%s", list[n - 1].uuid);
        migration_list_free(list, n);
        if (n < 500)
            break;
    }
    static const char *roles[] = {"source", "destination"};
    /* Each family's samples right after its TYPE line, as the format requires. */
    for (int pass = 0; pass < 2; pass++) {
        bool final = pass == 0;
        if (final)
            family(out, "lmnet_migrations_total", "counter",
                   "Migrations this host took part in that ended, by role and outcome.");
        else
            family(out, "lmnet_migrations_active", "gauge",
                   "Migrations not ended yet, by role and phase.");
        for (int role = 0; role < 2; role++)
            for (int phase = 0; phase < MIGRATION_PHASE_COUNT; phase++) {
                if (migration_phase_is_final((enum migration_phase)phase) != final ||
                    (!final && !counts[role][phase]))
                    continue;
                fprintf(out, "%s{role=\"%s\",%s=\"%s\"} %llu\n",
                        final ? "lmnet_migrations_total" : "lmnet_migrations_active", roles[role],
                        final ? "outcome" : "phase",
                        migration_phase_to_string((enum migration_phase)phase),
                        (unsigned long long)counts[role][phase]);
            }
    }
    histogram_print(out, "lmnet_migration_downtime_seconds",
                    "QEMU's measured downtime of completed migrations from this host.", &downtime);
    histogram_print(out, "lmnet_migration_switchover_gap_seconds",
                    "Time from the source's pause to the destination's port active, of completed "
                    "migrations from this host.",
                    &gap);
    return 0;
}

static const char *get_str(struct json_object *obj, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(obj, key, &v) && v ? json_object_get_string(v) : "";
}

static void print_heartbeats(FILE *out, struct heartbeat *hb)
{
    _cleanup_json_ struct json_object *status = hb ? heartbeat_status(hb) : NULL;
    struct json_object *listeners = NULL, *v;
    if (status)
        json_object_object_get_ex(status, "listeners", &listeners);
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 0)
            family(out, "lmnet_heartbeat_peers", "gauge",
                   "Members this host sends heartbeats to on a cluster network.");
        else
            family(out, "lmnet_heartbeat_peers_lost", "gauge",
                   "Of those, the members not heard within the threshold (heartbeat loss).");
        for (size_t i = 0; listeners && i < json_object_array_length(listeners); i++) {
            struct json_object *l = json_object_array_get_idx(listeners, i), *peers = NULL;
            json_object_object_get_ex(l, "peers", &peers);
            size_t n = peers ? json_object_array_length(peers) : 0, lost = 0;
            for (size_t k = 0; k < n; k++) {
                struct json_object *heard;
                if (!json_object_object_get_ex(json_object_array_get_idx(peers, k), "heard",
                                               &heard) ||
                    !json_object_get_boolean(heard))
                    lost++;
            }
            const char *name = get_str(l, "name")[0] ? get_str(l, "name") : get_str(l, "network");
            fputs(pass ? "lmnet_heartbeat_peers_lost{network=" : "lmnet_heartbeat_peers{network=",
                  out);
            label_value(out, name);
            fprintf(out, "} %zu\n", pass ? lost : n);
        }
    }
    family(out, "lmnet_heartbeat_datagrams_total", "counter",
           "Heartbeat datagrams sent, received, and ignored (unsigned, forged, unknown sender).");
    static const char *kinds[] = {"sent", "received", "ignored"};
    for (size_t k = 0; k < 3; k++)
        fprintf(out, "lmnet_heartbeat_datagrams_total{kind=\"%s\"} %lld\n", kinds[k],
                status && json_object_object_get_ex(status, kinds[k], &v)
                    ? (long long)json_object_get_int64(v)
                    : 0LL);
}

static int get_metrics(struct request *req, struct response *resp)
{
    struct agent *agent = req->agent;
    struct db *db = db_pool_get(agent->db);
    if (!db)
        return -EIO;
    char *text = NULL;
    size_t length = 0;
    FILE *out = open_memstream(&text, &length);
    if (!out)
        return -ENOMEM;
    family(out, "lmnet_info", "gauge", "This agent's version and node id (always 1).");
    fputs("lmnet_info{version=", out);
    label_value(out, LMNET_VERSION);
    fputs(",node=", out);
    label_value(out, agent->node_id);
    fputs("} 1\n", out);
    family(out, "lmnet_uptime_seconds", "gauge", "Seconds since the agent started.");
    fprintf(out, "lmnet_uptime_seconds %.3f\n", agent_uptime(agent));
    print_process(out, agent->metrics);
    int r = print_pools(out, db);
    if (r >= 0)
        r = print_migrations(out, db);
    if (r >= 0)
        print_heartbeats(out, agent->heartbeat);
    if (fclose(out) != 0 && r >= 0)
        r = -ENOMEM;
    if (r >= 0)
        r = response_text(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, length);
    free(text);
    return r;
}

const struct route metrics_routes[] = {
    {HTTP_GET, "/metrics", SCOPE_READ, get_metrics},
    {0, NULL, 0, NULL},
};
