/* The agent's counters: see agent/metrics.h. */
#include "agent/metrics.h"

#include <stdlib.h>

static void add(_Atomic uint64_t *counter, uint64_t n)
{
    atomic_fetch_add_explicit(counter, n, memory_order_relaxed);
}

struct metrics *metrics_create(void)
{
    return calloc(1, sizeof(struct metrics));
}

void metrics_destroy(struct metrics *metrics)
{
    free(metrics);
}

void metrics_count_request(struct metrics *metrics, unsigned method, int status)
{
    if (!metrics || status < METRICS_STATUS_MIN || status > METRICS_STATUS_MAX)
        return;
    if (method >= METRICS_METHODS)
        method = METRICS_METHODS - 1;
    add(&metrics->requests[method][status - METRICS_STATUS_MIN], 1);
}

void metrics_count_allocation(struct metrics *metrics, bool ok)
{
    if (metrics)
        add(ok ? &metrics->mac_allocations : &metrics->mac_allocation_failures, 1);
}

void metrics_count_release(struct metrics *metrics)
{
    if (metrics)
        add(&metrics->mac_releases, 1);
}

void metrics_count_channel(struct metrics *metrics, uint64_t forward, uint64_t backward)
{
    if (!metrics)
        return;
    add(&metrics->channel_bytes_forward, forward);
    add(&metrics->channel_bytes_backward, backward);
}

void metrics_count_migration(struct metrics *metrics, enum metrics_migration_path path,
                             uint64_t bytes)
{
    if (metrics && (unsigned)path < METRICS_PATHS)
        add(&metrics->migration_bytes[path], bytes);
}

void metrics_count_relay(struct metrics *metrics, bool answered, uint64_t sent, uint64_t received)
{
    if (!metrics)
        return;
    add(&metrics->relay_requests, 1);
    if (!answered)
        add(&metrics->relay_failures, 1);
    add(&metrics->relay_bytes_sent, sent);
    add(&metrics->relay_bytes_received, received);
}
