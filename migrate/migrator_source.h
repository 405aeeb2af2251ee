/* The source side of a migration (see migrate/migrator.h): the worker
 * thread that drives one, and its recovery at start.  Internal to the
 * migrator. */
#ifndef LMNET_MIGRATE_MIGRATOR_SOURCE_H
#define LMNET_MIGRATE_MIGRATOR_SOURCE_H

#include "migrate/migrator_core.h"

/* Starts the worker of QUEUED, a queued source migration, and adds it to
 * m->running.  Returns 0 or a negative errno. */
int migrator_source_start(struct migrator *m, const struct migration *queued);

/* Finishes or undoes MIG, a source migration a previous run left
 * unfinished: roll forward past switchover, roll back before. */
void migrator_source_recover(struct migrator *m, const struct migration *mig);

#endif
