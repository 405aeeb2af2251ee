/* The convergence policy: see migrate/plan/convergence.h.  Pure decisions over
 * progress samples, so each rule is tested on its own (tests/unit/
 * test_convergence.c) and the state machine only applies them. */
#include "migrate/plan/convergence.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GIB (1024.0 * 1024.0 * 1024.0)

const char *convergence_action_to_string(enum convergence_action action)
{
    switch (action) {
    case CONVERGENCE_NONE: return "none";
    case CONVERGENCE_RAISE_DOWNTIME: return "raise-downtime";
    case CONVERGENCE_POSTCOPY: return "postcopy";
    case CONVERGENCE_PAUSE: return "pause";
    case CONVERGENCE_ABORT: return "abort";
    }
    return "unknown";
}

int convergence_timeout_action_from_string(const char *name, enum convergence_action *out)
{
    if (!name)
        return -EINVAL;
    if (strcmp(name, "abort") == 0)
        *out = CONVERGENCE_ABORT;
    else if (strcmp(name, "pause") == 0)
        *out = CONVERGENCE_PAUSE;
    else if (strcmp(name, "postcopy") == 0)
        *out = CONVERGENCE_POSTCOPY;
    else
        return -EINVAL;
    return 0;
}

void convergence_policy_defaults(struct convergence_policy *p)
{
    memset(p, 0, sizeof(*p));
    p->n_downtime = 3;
    p->downtime_ms[0] = 300;
    p->downtime_ms[1] = 1000;
    p->downtime_ms[2] = 2000;
    p->timeout_per_gib_s = 150;
    p->timeout_action = CONVERGENCE_ABORT;
}

static int fail(char *why, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(char *why, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (why && size)
        vsnprintf(why, size, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* Checks and sets a schedule of N values. */
static int set_schedule(struct convergence_policy *p, const int64_t *values, size_t n, char *why,
                        size_t why_size)
{
    if (n == 0 || n > CONVERGENCE_MAX_STEPS)
        return fail(why, why_size, "the downtime schedule has 1 to %d steps",
                    CONVERGENCE_MAX_STEPS);
    for (size_t i = 0; i < n; i++) {
        if (values[i] < 1 || values[i] > CONVERGENCE_DOWNTIME_MAX_MS)
            return fail(why, why_size, "downtime steps are 1 to %d ms, not %" PRId64,
                        CONVERGENCE_DOWNTIME_MAX_MS, values[i]);
        if (i > 0 && values[i] <= values[i - 1])
            return fail(why, why_size, "downtime steps rise: %" PRId64 " after %" PRId64, values[i],
                        values[i - 1]);
    }
    memcpy(p->downtime_ms, values, n * sizeof(values[0]));
    p->n_downtime = n;
    return 0;
}

int convergence_schedule_parse(const char *text, struct convergence_policy *p, char *why,
                               size_t why_size)
{
    int64_t values[CONVERGENCE_MAX_STEPS + 1];
    size_t n = 0;
    const char *s = text ? text : "";
    for (;;) {
        while (*s == ' ')
            s++;
        char *end = NULL;
        errno = 0;
        long long v = strtoll(s, &end, 10);
        if (end == s || errno)
            return fail(why, why_size, "'%s' is not a list of milliseconds such as 300,1000,2000",
                        text ? text : "");
        if (n <= CONVERGENCE_MAX_STEPS)
            values[n++] = v;
        s = end;
        while (*s == ' ')
            s++;
        if (*s == '\0')
            break;
        if (*s != ',')
            return fail(why, why_size, "'%s' is not a list of milliseconds such as 300,1000,2000",
                        text);
        s++;
    }
    return set_schedule(p, values, n, why, why_size);
}

int convergence_policy_apply_json(struct convergence_policy *p, struct json_object *options,
                                  char *key, size_t key_size, char *why, size_t why_size)
{
    if (key_size)
        key[0] = '\0';
    if (!options)
        return 0;
    if (!json_object_is_type(options, json_type_object))
        return fail(why, why_size, "convergence is an object");
    struct convergence_policy next = *p;
    json_object_object_foreach(options, name, val)
    {
        snprintf(key, key_size, "%s", name);
        bool is_bool = json_object_is_type(val, json_type_boolean);
        if (strcmp(name, "downtime_schedule_ms") == 0) {
            if (!json_object_is_type(val, json_type_array))
                return fail(why, why_size, "downtime_schedule_ms is a list of milliseconds");
            int64_t values[CONVERGENCE_MAX_STEPS];
            size_t n = json_object_array_length(val);
            if (n == 0 || n > CONVERGENCE_MAX_STEPS)
                return fail(why, why_size, "the downtime schedule has 1 to %d steps",
                            CONVERGENCE_MAX_STEPS);
            for (size_t i = 0; i < n; i++) {
                struct json_object *v = json_object_array_get_idx(val, i);
                if (!json_object_is_type(v, json_type_int))
                    return fail(why, why_size, "downtime_schedule_ms holds whole milliseconds");
                values[i] = json_object_get_int64(v);
            }
            int r = set_schedule(&next, values, n, why, why_size);
            if (r < 0)
                return r;
        } else if (strcmp(name, "auto_converge") == 0 || strcmp(name, "allow_postcopy") == 0) {
            if (!is_bool)
                return fail(why, why_size, "%s is true or false", name);
            if (name[0] == 'a' && name[1] == 'u')
                next.auto_converge = json_object_get_boolean(val);
            else
                next.allow_postcopy = json_object_get_boolean(val);
        } else if (strcmp(name, "completion_timeout_per_gib_s") == 0) {
            int64_t v = json_object_get_int64(val);
            if (!json_object_is_type(val, json_type_int) || v < 0 || v > 86400)
                return fail(why, why_size,
                            "completion_timeout_per_gib_s is 0 (none) to 86400 seconds per GiB");
            next.timeout_per_gib_s = (unsigned)v;
        } else if (strcmp(name, "timeout_action") == 0) {
            if (!json_object_is_type(val, json_type_string) ||
                convergence_timeout_action_from_string(json_object_get_string(val),
                                                       &next.timeout_action) < 0)
                return fail(why, why_size, "timeout_action is abort, pause or postcopy");
        } else {
            return fail(why, why_size,
                        "unknown convergence option '%s' (known: downtime_schedule_ms, "
                        "auto_converge, allow_postcopy, completion_timeout_per_gib_s, "
                        "timeout_action)",
                        name);
        }
    }
    if (next.timeout_action == CONVERGENCE_POSTCOPY && !next.allow_postcopy) {
        snprintf(key, key_size, "timeout_action");
        return fail(why, why_size, "timeout_action postcopy needs allow_postcopy");
    }
    if (key_size)
        key[0] = '\0';
    *p = next;
    return 0;
}

void convergence_policy_start_at(struct convergence_policy *p, int64_t limit)
{
    if (limit <= 0)
        return;
    int64_t values[CONVERGENCE_MAX_STEPS];
    size_t n = 0;
    values[n++] = limit;
    for (size_t i = 0; i < p->n_downtime && n < CONVERGENCE_MAX_STEPS; i++)
        if (p->downtime_ms[i] > limit)
            values[n++] = p->downtime_ms[i];
    memcpy(p->downtime_ms, values, n * sizeof(values[0]));
    p->n_downtime = n;
}

struct json_object *convergence_policy_to_json(const struct convergence_policy *p)
{
    struct json_object *o = json_object_new_object();
    struct json_object *steps = json_object_new_array();
    for (size_t i = 0; i < p->n_downtime; i++)
        json_object_array_add(steps, json_object_new_int64(p->downtime_ms[i]));
    json_object_object_add(o, "downtime_schedule_ms", steps);
    json_object_object_add(o, "auto_converge", json_object_new_boolean(p->auto_converge));
    json_object_object_add(o, "allow_postcopy", json_object_new_boolean(p->allow_postcopy));
    json_object_object_add(o, "completion_timeout_per_gib_s",
                           json_object_new_int64(p->timeout_per_gib_s));
    json_object_object_add(o, "timeout_action",
                           json_object_new_string(convergence_action_to_string(p->timeout_action)));
    return o;
}

void convergence_start(struct convergence *c, const struct convergence_policy *policy,
                       uint64_t memory_bytes, int64_t now_ms)
{
    memset(c, 0, sizeof(*c));
    c->policy = *policy;
    c->started_ms = now_ms;
    c->next_downtime = policy->n_downtime ? 1 : 0;
    if (policy->timeout_per_gib_s) {
        /* In proportion to the memory, as Nova and KubeVirt do; at least a
         * second. */
        double ms = (double)policy->timeout_per_gib_s * 1000.0 * (double)memory_bytes / GIB;
        c->deadline_ms = now_ms + (ms < 1000.0 ? 1000 : (int64_t)ms);
    }
}

int64_t convergence_initial_downtime(const struct convergence *c)
{
    return c->policy.n_downtime ? c->policy.downtime_ms[0] : -1;
}

static enum convergence_action take(struct convergence *c, int64_t now_ms,
                                    enum convergence_action action, int64_t downtime_ms,
                                    uint64_t round, uint64_t remaining, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static enum convergence_action take(struct convergence *c, int64_t now_ms,
                                    enum convergence_action action, int64_t downtime_ms,
                                    uint64_t round, uint64_t remaining, const char *fmt, ...)
{
    if (action == CONVERGENCE_POSTCOPY)
        c->postcopy = true;
    if (action == CONVERGENCE_PAUSE)
        c->paused = true;
    /* The last slot is overwritten rather than a step forgotten: the final
     * one (the last resort) matters most. */
    struct convergence_event *e =
        &c->events[c->n_events < CONVERGENCE_MAX_EVENTS ? c->n_events++
                                                        : CONVERGENCE_MAX_EVENTS - 1];
    e->at_ms = now_ms - c->started_ms;
    e->action = action;
    e->downtime_ms = downtime_ms;
    e->round = round;
    e->remaining = remaining;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->reason, sizeof(e->reason), fmt, ap);
    va_end(ap);
    return action;
}

enum convergence_action convergence_observe(struct convergence *c, int64_t now_ms, uint64_t rounds,
                                            uint64_t remaining, int64_t *downtime_ms)
{
    if (c->postcopy || c->paused)
        return CONVERGENCE_NONE; /* the last resort is under way */
    if (!c->timed_out && c->deadline_ms && now_ms >= c->deadline_ms) {
        c->timed_out = true;
        return take(c, now_ms, c->policy.timeout_action, -1, rounds, remaining,
                    "completion timeout: %" PRId64 " s (%u s per GiB) passed",
                    (c->deadline_ms - c->started_ms) / 1000, c->policy.timeout_per_gib_s);
    }
    if (rounds == 0 || rounds <= c->last_round)
        return CONVERGENCE_NONE;
    bool first = c->last_round == 0;
    c->last_round = rounds;
    if (first || remaining < c->best_remaining - c->best_remaining / 10) {
        c->best_remaining = remaining;
        c->flat_rounds = 0;
        return CONVERGENCE_NONE;
    }
    if (++c->flat_rounds < CONVERGENCE_FLAT_ROUNDS)
        return CONVERGENCE_NONE;
    c->flat_rounds = 0;
    c->best_remaining = remaining;
    if (c->next_downtime < c->policy.n_downtime) {
        *downtime_ms = c->policy.downtime_ms[c->next_downtime++];
        return take(c, now_ms, CONVERGENCE_RAISE_DOWNTIME, *downtime_ms, rounds, remaining,
                    "%d rounds did not shrink the remainder by a tenth", CONVERGENCE_FLAT_ROUNDS);
    }
    if (c->policy.allow_postcopy)
        return take(c, now_ms, CONVERGENCE_POSTCOPY, -1, rounds, remaining,
                    "the downtime schedule is spent and the remainder does not shrink");
    return CONVERGENCE_NONE;
}

struct json_object *convergence_to_json(const struct convergence *c)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "timeout_ms",
                           c->deadline_ms ? json_object_new_int64(c->deadline_ms - c->started_ms)
                                          : NULL);
    struct json_object *steps = json_object_new_array();
    for (size_t i = 0; i < c->n_events; i++) {
        const struct convergence_event *e = &c->events[i];
        struct json_object *s = json_object_new_object();
        json_object_object_add(s, "at_ms", json_object_new_int64(e->at_ms));
        json_object_object_add(s, "action",
                               json_object_new_string(convergence_action_to_string(e->action)));
        if (e->action == CONVERGENCE_RAISE_DOWNTIME)
            json_object_object_add(s, "downtime_ms", json_object_new_int64(e->downtime_ms));
        json_object_object_add(s, "round", json_object_new_int64((int64_t)e->round));
        json_object_object_add(s, "remaining", json_object_new_int64((int64_t)e->remaining));
        json_object_object_add(s, "reason", json_object_new_string(e->reason));
        json_object_array_add(steps, s);
    }
    json_object_object_add(o, "steps", steps);
    return o;
}
