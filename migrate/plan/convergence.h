/* The convergence policy: what the source does when a live migration's
 * rounds stop shrinking what remains, so that every migration ends.
 *
 * Pre-copy converges only when the guest dirties memory slower than the
 * link carries it.  The policy, per migration (POST options.convergence)
 * with the agent's configuration as defaults:
 *   - a downtime schedule: the first value is QEMU's downtime-limit at the
 *     start; each time the remainder has not shrunk by a tenth over
 *     CONVERGENCE_FLAT_ROUNDS rounds, the next value is set (oVirt's
 *     "downtime steps");
 *   - auto_converge: QEMU throttles the guest's vCPUs while it dirties faster
 *     than the link carries (a capability set at the start; QEMU decides the
 *     throttle itself);
 *   - allow_postcopy: when the schedule is spent and the rounds still do not
 *     shrink, switch to post-copy: the VM runs on the destination, which
 *     pulls the pages it lacks.  That is the point of no return (see
 *     migrate/migrator.c's journal rules): if either host or the link fails
 *     during post-copy, the VM is lost (its memory is split between two
 *     hosts).  QEMU 7.2 cannot do post-copy with multifd, so it needs one
 *     channel;
 *   - a completion timeout, timeout_per_gib_s seconds per GiB of guest
 *     memory from the start of the transfer (0: none), and what happens when
 *     it passes: abort (the VM runs on at the source), pause (force-complete:
 *     the VM is paused, the rest copied, and it resumes on the destination:
 *     the downtime is that copy) or postcopy.
 *
 * struct convergence follows one migration: convergence_observe() takes
 * each progress sample and says what to do now; every step taken is kept,
 * with when, for GET /v1/migrations/{id}.  No I/O here: the state machine
 * applies the steps. */
#ifndef LMNET_MIGRATE_CONVERGENCE_H
#define LMNET_MIGRATE_CONVERGENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>

#define CONVERGENCE_MAX_STEPS       8  /* downtime schedule entries */
#define CONVERGENCE_MAX_EVENTS      16 /* steps kept per migration */
#define CONVERGENCE_FLAT_ROUNDS     2  /* rounds without shrinking before a step */
#define CONVERGENCE_DOWNTIME_MAX_MS 60000

enum convergence_action {
    CONVERGENCE_NONE,
    CONVERGENCE_RAISE_DOWNTIME,
    CONVERGENCE_POSTCOPY,
    CONVERGENCE_PAUSE,
    CONVERGENCE_ABORT,
};

/* "none", "raise-downtime", "postcopy", "pause", "abort". */
const char *convergence_action_to_string(enum convergence_action action);

/* Parses a timeout action: "abort", "pause" or "postcopy".  Returns 0 or
 * -EINVAL. */
int convergence_timeout_action_from_string(const char *name, enum convergence_action *out);

struct convergence_policy {
    size_t n_downtime;
    int64_t downtime_ms[CONVERGENCE_MAX_STEPS]; /* rising, 1-60000 */
    bool auto_converge;
    bool allow_postcopy;
    unsigned timeout_per_gib_s;             /* 0: no completion timeout */
    enum convergence_action timeout_action; /* ABORT, PAUSE or POSTCOPY */
};

/* The built-in defaults: downtime 300, 1000, 2000 ms; no auto-converge, no
 * post-copy; 150 s per GiB, then abort. */
void convergence_policy_defaults(struct convergence_policy *policy);

/* Parses "300,1000,2000" into POLICY's schedule.  Returns 0, or -EINVAL
 * with the reason in WHY (values 1-60000 ms, rising, at most
 * CONVERGENCE_MAX_STEPS). */
int convergence_schedule_parse(const char *text, struct convergence_policy *policy, char *why,
                               size_t why_size);

/* Applies OPTIONS (a JSON object: downtime_schedule_ms, auto_converge,
 * allow_postcopy, completion_timeout_per_gib_s, timeout_action; each may be
 * missing) onto *POLICY.  Returns 0, or -EINVAL with the offending key in
 * KEY (KEY_SIZE bytes) and the reason in WHY. */
int convergence_policy_apply_json(struct convergence_policy *policy, struct json_object *options,
                                  char *key, size_t key_size, char *why, size_t why_size);

/* Makes DOWNTIME_LIMIT_MS (a request's single limit, > 0) the start of the
 * schedule: steps at or below it are dropped. */
void convergence_policy_start_at(struct convergence_policy *policy, int64_t downtime_limit_ms);

/* POLICY as JSON (the caller owns it); convergence_policy_apply_json() of it
 * onto anything gives POLICY back. */
struct json_object *convergence_policy_to_json(const struct convergence_policy *policy);

/* One step taken. */
struct convergence_event {
    int64_t at_ms; /* since the transfer began */
    enum convergence_action action;
    int64_t downtime_ms; /* RAISE_DOWNTIME: the new limit */
    uint64_t round;      /* QEMU's round (dirty sync) count then */
    uint64_t remaining;  /* bytes left then */
    char reason[120];
};

struct convergence {
    struct convergence_policy policy;
    int64_t started_ms;
    int64_t deadline_ms;  /* 0: none */
    size_t next_downtime; /* index of the next schedule step */
    uint64_t last_round;
    uint64_t best_remaining;
    unsigned flat_rounds;
    bool timed_out;
    bool postcopy; /* asked for: the last resort is taken */
    bool paused;
    size_t n_events;
    struct convergence_event events[CONVERGENCE_MAX_EVENTS];
};

/* Starts following a transfer of MEMORY_BYTES of guest memory under POLICY
 * at NOW_MS (a monotonic clock). */
void convergence_start(struct convergence *c, const struct convergence_policy *policy,
                       uint64_t memory_bytes, int64_t now_ms);

/* The downtime limit to start with (the schedule's first), or -1. */
int64_t convergence_initial_downtime(const struct convergence *c);

/* Takes a progress sample (QEMU's ROUNDS so far and REMAINING bytes) at
 * NOW_MS and answers what to do now; RAISE_DOWNTIME puts the new limit in
 * *downtime_ms.  The step is recorded as taken.  At most one step per call. */
enum convergence_action convergence_observe(struct convergence *c, int64_t now_ms, uint64_t rounds,
                                            uint64_t remaining, int64_t *downtime_ms);

/* {"timeout_ms", "steps": [{"at_ms", "action", "downtime_ms", "round",
 * "remaining", "reason"}]}; the caller owns it. */
struct json_object *convergence_to_json(const struct convergence *c);

#endif
