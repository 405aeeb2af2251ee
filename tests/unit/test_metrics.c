/* api/metrics.c and agent/metrics.c: what /metrics exposes, in a form
 * Prometheus parses (every sample after its family's TYPE line, families
 * not split), and that the values follow what happened. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include "agent/agent.h"
#include "agent/metrics.h"
#include "api/metrics.h"
#include "db/db.h"
#include "db/migration.h"
#include "db/node.h"

struct fixture {
    char dir[64];
    struct agent agent;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/lmnet-test-metrics-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    char path[96];
    snprintf(path, sizeof(path), "%s/lmnet.db", f->dir);
    assert_int_equal(config_init(&f->agent.config), 0);
    assert_int_equal(db_pool_create(path, &f->agent.db), 0);
    assert_int_equal(node_id_load(db_pool_get(f->agent.db), f->agent.node_id), 0);
    f->agent.metrics = metrics_create();
    assert_non_null(f->agent.metrics);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    metrics_destroy(f->agent.metrics);
    db_pool_destroy(f->agent.db);
    config_release(&f->agent.config);
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

/* Scrapes: the text of GET /metrics (caller frees). */
static char *scrape(struct fixture *f)
{
    struct request req = {.agent = &f->agent, .method = HTTP_GET, .path = "/metrics"};
    struct response resp = {0};
    assert_int_equal(metrics_routes[0].handler(&req, &resp), 0);
    assert_int_equal(resp.status, 200);
    assert_null(resp.body);
    assert_non_null(resp.text);
    assert_string_equal(resp.content_type, "text/plain; version=0.0.4; charset=utf-8");
    assert_int_equal(strlen(resp.text), resp.text_length);
    return resp.text;
}

/* The value of the sample whose whole "name{labels}" is SERIES, or -1. */
static double sample(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *line = text; line && *line;
         line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL)
        if (strncmp(line, series, n) == 0 && line[n] == ' ')
            return strtod(line + n + 1, NULL);
    return -1;
}

/* Checks the exposition format's grouping: HELP then TYPE before a
 * family's first sample, a family's samples together, no family twice,
 * every sample line "name[{...}] value". */
static void check_format(const char *text)
{
    char families[64][64];
    size_t n_families = 0;
    char current[64] = "", type[16] = "";
    char *copy = strdup(text), *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        char name[64];
        if (strncmp(line, "# HELP ", 7) == 0) {
            assert_int_equal(sscanf(line + 7, "%63s", name), 1);
            for (size_t i = 0; i < n_families; i++)
                assert_string_not_equal(families[i], name);
            assert_true(n_families < 64);
            snprintf(families[n_families++], sizeof(families[0]), "%s", name);
            snprintf(current, sizeof(current), "%s", name);
            type[0] = '\0';
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            assert_int_equal(sscanf(line + 7, "%63s %15s", name, type), 2);
            assert_string_equal(name, current);
            assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                        strcmp(type, "histogram") == 0);
            continue;
        }
        assert_true(line[0] != '#');
        size_t len = strcspn(line, "{ ");
        assert_true(len > 0 && len < sizeof(name));
        memcpy(name, line, len);
        name[len] = '\0';
        assert_true(type[0] != '\0'); /* TYPE came first */
        if (strcmp(type, "histogram") == 0) {
            size_t c = strlen(current);
            assert_int_equal(strncmp(name, current, c), 0);
            const char *suffix = name + c;
            assert_true(strcmp(suffix, "_bucket") == 0 || strcmp(suffix, "_sum") == 0 ||
                        strcmp(suffix, "_count") == 0);
        } else {
            assert_string_equal(name, current);
        }
        const char *value = strrchr(line, ' ');
        assert_non_null(value);
        char *end;
        strtod(value + 1, &end);
        assert_true(*end == '\0');
    }
    free(copy);
}

static void complete(struct db *db, const char *uuid, enum migration_role role, int64_t downtime,
                     int64_t gap, enum migration_phase final)
{
    struct migration m = {0};
    snprintf(m.uuid, sizeof(m.uuid), "%s", uuid);
    snprintf(m.vm, sizeof(m.vm), "vm-%s", uuid);
    snprintf(m.vm_name, sizeof(m.vm_name), "web-%s", uuid);
    m.role = role;
    snprintf(m.source, sizeof(m.source), "node-a");
    snprintf(m.destination, sizeof(m.destination), "node-b");
    m.phase = MIGRATION_QUEUED;
    m.options = (char *)"{}";
    m.downtime_ms = -1;
    m.switchover_gap_ms = -1;
    assert_int_equal(migration_insert(db, &m), 0);
    if (final == MIGRATION_QUEUED)
        return;
    static const enum migration_phase path[] = {MIGRATION_PREFLIGHT, MIGRATION_PREPARING,
                                                MIGRATION_TRANSFERRING, MIGRATION_SWITCHOVER,
                                                MIGRATION_FINISHING};
    for (size_t i = 0; i < sizeof(path) / sizeof(path[0]); i++) {
        if (final == MIGRATION_FAILED && path[i] == MIGRATION_SWITCHOVER)
            break;
        assert_int_equal(migration_set_phase(db, uuid, path[i], NULL), 0);
    }
    if (downtime >= 0 || gap >= 0)
        assert_int_equal(migration_set_measurements(db, uuid, downtime, gap), 0);
    assert_int_equal(
        migration_set_phase(db, uuid, final, final == MIGRATION_FAILED ? "test" : NULL), 0);
}

static void test_empty_agent_has_every_family(void **state)
{
    struct fixture *f = *state;
    char *text = scrape(f);
    check_format(text);
    static const char *names[] = {
        "lmnet_http_requests_total",
        "lmnet_mac_allocations_total",
        "lmnet_mac_pool_addresses",
        "lmnet_mac_pool_allocated",
        "lmnet_migrations_total",
        "lmnet_migration_downtime_seconds",
        "lmnet_migration_switchover_gap_seconds",
        "lmnet_heartbeat_peers_lost",
        "lmnet_heartbeat_datagrams_total",
        "lmnet_channel_bytes_total",
        "lmnet_migration_bytes_total",
        "lmnet_relay_bytes_total",
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        char want[96];
        snprintf(want, sizeof(want), "# TYPE %s ", names[i]);
        assert_non_null(strstr(text, want));
    }
    assert_true(sample(text, "lmnet_migrations_total{role=\"source\",outcome=\"completed\"}") == 0);
    assert_true(sample(text, "lmnet_migration_downtime_seconds_count") == 0);
    free(text);
}

static void test_counters_move(void **state)
{
    struct fixture *f = *state;
    struct metrics *m = f->agent.metrics;
    metrics_count_request(m, HTTP_GET, 200);
    metrics_count_request(m, HTTP_GET, 200);
    metrics_count_request(m, HTTP_POST, 409);
    metrics_count_request(m, 99, 404);      /* an unknown method counts as "other" */
    metrics_count_request(m, HTTP_GET, 42); /* not a status: not counted */
    metrics_count_allocation(m, true);
    metrics_count_allocation(m, false);
    metrics_count_release(m);
    metrics_count_channel(m, 1000, 10);
    metrics_count_channel(m, 24, 0);
    metrics_count_migration(m, METRICS_PATH_DIRECT, 1 << 20);
    metrics_count_migration(m, METRICS_PATH_DIRECT, 5);
    metrics_count_migration(m, METRICS_PATH_STREAM, 7);
    metrics_count_migration(m, METRICS_PATHS, 9); /* not a path: not counted */
    metrics_count_relay(m, true, 100, 200);
    metrics_count_relay(m, false, 5, 0);
    metrics_count_request(NULL, HTTP_GET, 200); /* no counters: nothing happens */
    char *text = scrape(f);
    check_format(text);
    assert_true(sample(text, "lmnet_http_requests_total{method=\"GET\",code=\"200\"}") == 2);
    assert_true(sample(text, "lmnet_http_requests_total{method=\"POST\",code=\"409\"}") == 1);
    assert_true(sample(text, "lmnet_http_requests_total{method=\"other\",code=\"404\"}") == 1);
    assert_null(strstr(text, "code=\"42\""));
    assert_true(sample(text, "lmnet_mac_allocations_total{result=\"ok\"}") == 1);
    assert_true(sample(text, "lmnet_mac_allocations_total{result=\"refused\"}") == 1);
    assert_true(sample(text, "lmnet_mac_releases_total") == 1);
    assert_true(sample(text, "lmnet_channel_bytes_total{direction=\"forward\"}") == 1024);
    assert_true(sample(text, "lmnet_channel_bytes_total{direction=\"backward\"}") == 10);
    assert_true(sample(text, "lmnet_migration_bytes_total{path=\"direct\"}") == (1 << 20) + 5);
    assert_true(sample(text, "lmnet_migration_bytes_total{path=\"stream\"}") == 7);
    assert_true(sample(text, "lmnet_migration_bytes_total{path=\"relay\"}") == 0);
    assert_true(sample(text, "lmnet_relay_requests_total{result=\"answered\"}") == 1);
    assert_true(sample(text, "lmnet_relay_requests_total{result=\"unanswered\"}") == 1);
    assert_true(sample(text, "lmnet_relay_bytes_total{direction=\"sent\"}") == 105);
    assert_true(sample(text, "lmnet_relay_bytes_total{direction=\"received\"}") == 200);
    free(text);
}

static void test_migrations_by_outcome_and_histograms(void **state)
{
    struct fixture *f = *state;
    struct db *db = db_pool_get(f->agent.db);
    complete(db, "m-1", MIGRATION_ROLE_SOURCE, 30, 4, MIGRATION_COMPLETED);
    complete(db, "m-2", MIGRATION_ROLE_SOURCE, 300, 120, MIGRATION_COMPLETED);
    complete(db, "m-3", MIGRATION_ROLE_SOURCE, -1, -1, MIGRATION_FAILED);
    /* The destination's copy of a migration is counted by outcome but not
     * in the histograms: the source's row already is. */
    complete(db, "m-4", MIGRATION_ROLE_DESTINATION, 30, 4, MIGRATION_COMPLETED);
    complete(db, "m-5", MIGRATION_ROLE_SOURCE, -1, -1, MIGRATION_QUEUED);
    char *text = scrape(f);
    check_format(text);
    assert_true(sample(text, "lmnet_migrations_total{role=\"source\",outcome=\"completed\"}") == 2);
    assert_true(sample(text, "lmnet_migrations_total{role=\"source\",outcome=\"failed\"}") == 1);
    assert_true(
        sample(text, "lmnet_migrations_total{role=\"destination\",outcome=\"completed\"}") == 1);
    assert_true(sample(text, "lmnet_migrations_active{role=\"source\",phase=\"queued\"}") == 1);
    assert_true(sample(text, "lmnet_migration_downtime_seconds_bucket{le=\"0.025\"}") == 0);
    assert_true(sample(text, "lmnet_migration_downtime_seconds_bucket{le=\"0.05\"}") == 1);
    assert_true(sample(text, "lmnet_migration_downtime_seconds_bucket{le=\"0.25\"}") == 1);
    assert_true(sample(text, "lmnet_migration_downtime_seconds_bucket{le=\"0.5\"}") == 2);
    assert_true(sample(text, "lmnet_migration_downtime_seconds_bucket{le=\"+Inf\"}") == 2);
    assert_true(sample(text, "lmnet_migration_downtime_seconds_count") == 2);
    assert_true(sample(text, "lmnet_migration_downtime_seconds_sum") == 0.33);
    assert_true(sample(text, "lmnet_migration_switchover_gap_seconds_bucket{le=\"0.005\"}") == 1);
    assert_true(sample(text, "lmnet_migration_switchover_gap_seconds_bucket{le=\"0.1\"}") == 1);
    assert_true(sample(text, "lmnet_migration_switchover_gap_seconds_bucket{le=\"0.25\"}") == 2);
    assert_true(sample(text, "lmnet_migration_switchover_gap_seconds_sum") == 0.124);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_agent_has_every_family, setup, teardown),
        cmocka_unit_test_setup_teardown(test_counters_move, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrations_by_outcome_and_histograms, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
