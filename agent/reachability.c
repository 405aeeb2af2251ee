/* The registry's table of heartbeat reports: see agent/reachability.h. */
#include "agent/reachability.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "base/clock.h"

struct report {
    char reporter[37];
    int64_t at_ms;
    struct json_object *heard; /* owned */
};

struct reachability {
    pthread_mutex_t lock; /* guards reports and n */
    struct report *reports;
    size_t n;
};

struct reachability *reachability_create(void)
{
    struct reachability *t = calloc(1, sizeof(*t));
    if (t)
        pthread_mutex_init(&t->lock, NULL);
    return t;
}

void reachability_destroy(struct reachability *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->n; i++)
        json_object_put(t->reports[i].heard);
    free(t->reports);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

static bool valid(struct json_object *heard)
{
    if (!json_object_is_type(heard, json_type_object))
        return false;
    json_object_object_foreach(heard, network, nodes) {
        (void)network;
        if (!json_object_is_type(nodes, json_type_array))
            return false;
        for (size_t i = 0; i < json_object_array_length(nodes); i++)
            if (!json_object_is_type(json_object_array_get_idx(nodes, i), json_type_string))
                return false;
    }
    return true;
}

int reachability_report(struct reachability *t, const char *reporter, struct json_object *heard,
                        int64_t now_ms)
{
    if (!reporter || strlen(reporter) != 36 || !valid(heard))
        return -EINVAL;
    struct json_object *copy = NULL;
    if (json_object_deep_copy(heard, &copy, NULL) < 0)
        return -ENOMEM;
    pthread_mutex_lock(&t->lock);
    struct report *slot = NULL;
    for (size_t i = 0; i < t->n && !slot; i++)
        if (strcmp(t->reports[i].reporter, reporter) == 0)
            slot = &t->reports[i];
    if (!slot) {
        struct report *grown = realloc(t->reports, (t->n + 1) * sizeof(*grown));
        if (!grown) {
            pthread_mutex_unlock(&t->lock);
            json_object_put(copy);
            return -ENOMEM;
        }
        t->reports = grown;
        slot = &t->reports[t->n++];
        memset(slot, 0, sizeof(*slot));
        memcpy(slot->reporter, reporter, 37);
    }
    json_object_put(slot->heard);
    slot->heard = copy;
    slot->at_ms = now_ms;
    pthread_mutex_unlock(&t->lock);
    return 0;
}

bool reachability_heard(struct reachability *t, const char *network, const char *from,
                        const char *to, int64_t now_ms)
{
    bool heard = false;
    pthread_mutex_lock(&t->lock);
    for (size_t i = 0; i < t->n; i++) {
        struct report *r = &t->reports[i];
        struct json_object *nodes = NULL;
        if (strcmp(r->reporter, to) != 0 || now_ms - r->at_ms > REACHABILITY_FRESH_MS ||
            !json_object_object_get_ex(r->heard, network, &nodes))
            continue;
        for (size_t k = 0; k < json_object_array_length(nodes) && !heard; k++) {
            const char *node = json_object_get_string(json_object_array_get_idx(nodes, k));
            heard = node && strcmp(node, from) == 0;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return heard;
}

bool reachability_reach(void *ctx, const char *network, const char *from, const char *to)
{
    return reachability_heard(ctx, network, from, to, clock_mono_ms());
}
