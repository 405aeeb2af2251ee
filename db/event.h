/* The audit log: every change to cluster state is one event row.
 *
 * An event has a time (UTC, milliseconds), the node that made it, the actor
 * (the API token's name, or "agent" for the agent's own work), a kind such as
 * "mac.allocate" or "vlan.create", the subject (a MAC, a VLAN id, ...) and a
 * JSON detail object.  Record events inside the same transaction as the
 * change they describe, so that there is never one without the other. */
#ifndef LMNET_DB_EVENT_H
#define LMNET_DB_EVENT_H

#include <stdint.h>
#include <json-c/json.h>
#include "db/db.h"

struct event {
    int64_t id;
    int64_t time_ms;
    char node[40];
    char actor[64];
    char kind[48];
    char subject[128];
    char *detail; /* JSON text, owned by the event */
};

/* Appends one event.  DETAIL may be NULL; it is not consumed.  Returns the new
 * event id (> 0) or a negative errno. */
int64_t event_record(struct db *db, const char *node, const char *actor, const char *kind,
                     const char *subject, struct json_object *detail);

/* Lists up to LIMIT events with id > AFTER, oldest first, optionally only of
 * KIND (NULL for all).  On success *out is an array of *n events the caller
 * frees with event_list_free().  Returns 0, -EINVAL for a negative LIMIT, or
 * a negative errno. */
int event_list(struct db *db, int64_t after, const char *kind, int limit, struct event **out,
               size_t *n);
void event_list_free(struct event *events, size_t n);

/* The event as JSON ({"id", "time", "node", "actor", "kind", "subject",
 * "detail"}); the caller owns the object. */
struct json_object *event_to_json(const struct event *event);

#endif
