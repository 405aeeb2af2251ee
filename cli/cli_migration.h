/* lmnetctl migrate VM DEST (start a live migration, optionally wait with a
 * progress bar) and lmnetctl migration list|show|cancel. */
#ifndef LMNET_API_CLI_MIGRATION_H
#define LMNET_API_CLI_MIGRATION_H

#include "cli/cli.h"

int cli_migrate(struct cli *cli, int argc, char **argv);
int cli_migration(struct cli *cli, int argc, char **argv);

#endif
