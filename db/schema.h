/* Versioned schema migrations.
 *
 * schema/NNNN_name.sql files are embedded at build time (schema/embed.cmake)
 * as schema_steps[], sorted by version.  schema_apply() runs, each in its own
 * transaction, the steps newer than the version recorded in the
 * schema_version table, and records each one.  A database whose recorded
 * version is newer than the newest step we know was written by a newer lmnet:
 * it is refused with -EPROTO and not touched. */
#ifndef LMNET_DB_SCHEMA_H
#define LMNET_DB_SCHEMA_H

#include <stddef.h>
#include <sqlite3.h>

struct schema_step {
    int version;
    const char *name;
    const char *sql;
};

extern const struct schema_step schema_steps[];
extern const size_t schema_steps_count;

/* Brings DB up to the newest of STEPS (N_STEPS of them, ascending versions).
 * Returns the version now recorded (>= 0), -EPROTO for a newer database, or
 * another negative errno (the failing step is rolled back and logged). */
int schema_apply(sqlite3 *db, const struct schema_step *steps, size_t n_steps);

/* The version recorded in DB (0 for an empty database), or a negative errno. */
int schema_version(sqlite3 *db);

#endif
