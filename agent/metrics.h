/* The agent's counters for Prometheus (served by api/metrics.c at
 * /metrics).
 *
 * Only what happens in this process and is gone once it has happened is
 * counted here: requests served, MAC allocations and releases, bytes the
 * migration channels and the request relay moved.  What the database or a
 * running thread already knows (pool fill, migrations by outcome and their
 * downtime, heartbeats heard) is read when /metrics is scraped, so it
 * survives a restart and cannot drift from what the API shows.
 *
 * Every counter is a relaxed atomic: any thread adds, the scrape reads, no
 * lock.  Counters start at zero when the agent starts (Prometheus handles
 * the reset).  Every function accepts a NULL struct metrics and does
 * nothing, so code under unit test needs none. */
#ifndef LMNET_AGENT_METRICS_H
#define LMNET_AGENT_METRICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define METRICS_METHODS    8 /* at least HTTP_METHOD_COUNT + 1 (unknown) */
#define METRICS_STATUS_MIN 100
#define METRICS_STATUS_MAX 599

/* How a migration's memory crossed the migration network. */
enum metrics_migration_path {
    METRICS_PATH_STREAM, /* one authenticated connection handed to QEMU */
    METRICS_PATH_DIRECT, /* QEMU's own multifd connections (migrate/direct.h) */
    METRICS_PATH_RELAY,  /* several channels through the agents' relay */
    METRICS_PATHS
};

struct metrics {
    _Atomic uint64_t requests[METRICS_METHODS][METRICS_STATUS_MAX - METRICS_STATUS_MIN + 1];
    _Atomic uint64_t mac_allocations;
    _Atomic uint64_t mac_allocation_failures;
    _Atomic uint64_t mac_releases;
    _Atomic uint64_t channel_bytes_forward;  /* source to destination */
    _Atomic uint64_t channel_bytes_backward; /* destination to source */
    _Atomic uint64_t relay_requests;
    _Atomic uint64_t relay_failures;       /* the peer did not answer */
    _Atomic uint64_t relay_bytes_sent;     /* request bodies relayed */
    _Atomic uint64_t relay_bytes_received; /* answers relayed back */
    _Atomic uint64_t migration_bytes[METRICS_PATHS]; /* what QEMU sent, by path */
};

/* Allocates zeroed counters.  Returns NULL on out of memory. */
struct metrics *metrics_create(void);
void metrics_destroy(struct metrics *metrics);

/* One request answered: METHOD an enum http_method (METRICS_METHODS - 1 for
 * one we do not know), STATUS its HTTP status (out of range: not counted). */
void metrics_count_request(struct metrics *metrics, unsigned method, int status);

/* A MAC allocation that succeeded (OK) or was refused; a release. */
void metrics_count_allocation(struct metrics *metrics, bool ok);
void metrics_count_release(struct metrics *metrics);

/* Adds a finished channel's byte counts. */
void metrics_count_channel(struct metrics *metrics, uint64_t forward, uint64_t backward);

/* Adds BYTES, what QEMU says a migration that ended sent (its RAM
 * "transferred"), under PATH (out of range: not counted).  The agent sees
 * no byte of the stream and direct paths itself, so this is their only
 * count. */
void metrics_count_migration(struct metrics *metrics, enum metrics_migration_path path,
                             uint64_t bytes);

/* One request relayed to another agent, with the bytes it sent and got
 * back; ANSWERED false when the peer did not answer. */
void metrics_count_relay(struct metrics *metrics, bool answered, uint64_t sent, uint64_t received);

#endif
