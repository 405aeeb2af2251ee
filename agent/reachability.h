/* The registry's table of heartbeat reports.
 *
 * Every agent tells the registry, per cluster network, which members' 
 * heartbeats it currently hears (agent/heartbeat.h).  The registry keeps
 * the last report of each agent in memory (it is measured, not stored:
 * after a restart the first reports arrive within seconds) and answers
 * "do FROM's heartbeats arrive at TO on NETWORK" from TO's report.  A
 * report older than REACHABILITY_FRESH_MS counts as hearing nothing: an
 * agent that stopped reporting is not vouched for.
 *
 * Thread-safe: one mutex guards the table. */
#ifndef LMNET_AGENT_REACHABILITY_H
#define LMNET_AGENT_REACHABILITY_H

#include <stdbool.h>
#include <stdint.h>
#include <json-c/json.h>

#define REACHABILITY_FRESH_MS 10000

struct reachability;

/* Returns a new empty table, or NULL on out of memory. */
struct reachability *reachability_create(void);
void reachability_destroy(struct reachability *table); /* NULL is a no-op */

/* Records REPORTER's report HEARD, {"NETWORK_ID": ["NODE", ...], ...}
 * (copied), taken at NOW_MS (CLOCK_MONOTONIC).  Returns 0, -EINVAL for a
 * report of another shape, or -ENOMEM. */
int reachability_report(struct reachability *table, const char *reporter, struct json_object *heard,
                        int64_t now_ms);

/* True when TO's fresh report (at NOW_MS) lists FROM on NETWORK. */
bool reachability_heard(struct reachability *table, const char *network, const char *from,
                        const char *to, int64_t now_ms);

/* network_reach_fn over the table at the current time (CTX is the table). */
bool reachability_reach(void *ctx, const char *network, const char *from, const char *to);

#endif
