/* The destination side of a migration (see migrate/migrator.h): the
 * incoming migrations between prepare and finish or abort, and their
 * recovery at start.  Internal to the migrator. */
#ifndef LMNET_MIGRATE_MIGRATOR_DESTINATION_H
#define LMNET_MIGRATE_MIGRATOR_DESTINATION_H

#include "migrate/migrator_core.h"

/* Undoes the incoming migrations whose QEMU ended before switchover (the
 * scheduler calls it each round). */
void migrator_destination_check(struct migrator *m);

/* Finishes or undoes MIG, a destination migration a previous run left
 * unfinished. */
void migrator_destination_recover(struct migrator *m, const struct migration *mig);

/* At stop: lets go of every incoming migration without undoing it (its
 * QEMU is detached; the journal lets the next start undo it). */
void migrator_destination_release_all(struct migrator *m);

#endif
