/* The OVSDB management protocol (RFC 7047) over a unix socket: JSON-RPC 1.0
 * messages, one after another with no separator.  This is the only place
 * that speaks it; the Open vSwitch driver builds its operations with the
 * helpers below and reads typed results.
 *
 * Calls are synchronous with a deadline each.  The server's "echo"
 * requests are answered whenever we read; "update" notifications of a
 * monitor are queued and handed out by ovsdb_next_update().
 *
 * Values follow RFC 7047 section 5.1: a uuid is ["uuid", "..."], a set
 * ["set", [...]] (a one-element set may be the bare atom), a map
 * ["map", [[k, v], ...]].
 *
 * Threads: one struct ovsdb is used by one thread at a time. */
#ifndef LMNET_AGENT_OVSDB_H
#define LMNET_AGENT_OVSDB_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

struct ovsdb;

/* Connects to the server at ADDRESS ("unix:/run/openvswitch/db.sock" or a
 * bare path), each call bounded by TIMEOUT_MS.  Returns 0 and *out (close
 * with ovsdb_close()), or a negative errno. */
int ovsdb_connect(const char *address, int timeout_ms, struct ovsdb **out);

/* Takes over the connected stream FD (tests use a socketpair). */
int ovsdb_open(int fd, int timeout_ms, struct ovsdb **out);

void ovsdb_close(struct ovsdb *ovsdb); /* NULL is a no-op */

/* Runs OPS (a JSON array of operations; not consumed) on database DB
 * ("Open_vSwitch") as one transaction.  On success *results (caller owns)
 * is the array of per-operation results.  A failed transaction returns
 * -EPROTO (a server error), -EEXIST (a constraint violation) or -ESTALE
 * (a "wait" or "abort" condition), with the server's words in ERR. */
int ovsdb_transact(struct ovsdb *ovsdb, const char *db, struct json_object *ops,
                   struct json_object **results, char *err, size_t err_size);

/* Starts monitor MONITOR_ID on DB for REQUESTS ({"Table": {"columns":
 * [...]}}; not consumed).  *initial (caller owns) is the table-updates
 * object with every current row.  Returns 0 or a negative errno. */
int ovsdb_monitor(struct ovsdb *ovsdb, const char *db, const char *monitor_id,
                  struct json_object *requests, struct json_object **initial);

/* Waits up to TIMEOUT_MS for the next "update" notification; *update
 * (caller owns) is its table-updates.  Returns 0, -ETIMEDOUT, or a
 * negative errno when the connection is gone. */
int ovsdb_next_update(struct ovsdb *ovsdb, int timeout_ms, struct json_object **update);

/* The socket, for poll() by a monitoring thread. */
int ovsdb_fd(const struct ovsdb *ovsdb);

/* ---- building values (each returns a new object the caller owns) ---- */

struct json_object *ovsdb_uuid(const char *uuid);         /* ["uuid", UUID] */
struct json_object *ovsdb_named_uuid(const char *name);   /* ["named-uuid", NAME] */
struct json_object *ovsdb_set(struct json_object *items); /* ["set", ITEMS] (consumed) */
struct json_object *ovsdb_empty_set(void);
/* ["map", [[k, v], ...]] from a JSON object of strings (consumed). */
struct json_object *ovsdb_map(struct json_object *pairs);
/* [COLUMN, "==", VALUE] (VALUE consumed). */
struct json_object *ovsdb_condition(const char *column, struct json_object *value);

/* ---- reading values ---- */

/* A set value (or a bare atom, a one-element set): its size, and its
 * member I (borrowed). */
size_t ovsdb_set_size(struct json_object *value);
struct json_object *ovsdb_set_at(struct json_object *value, size_t i);
/* The string value of KEY in a map value, or NULL. */
const char *ovsdb_map_get(struct json_object *map, const char *key);
/* The uuid string of a ["uuid", U] value, or NULL. */
const char *ovsdb_uuid_of(struct json_object *value);

#endif
