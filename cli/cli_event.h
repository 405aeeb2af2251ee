/* lmnetctl events [--kind K] [--after CURSOR] [--limit N] [--all]. */
#ifndef LMNET_API_CLI_EVENT_H
#define LMNET_API_CLI_EVENT_H

#include "cli/cli.h"

int cli_event(struct cli *cli, int argc, char **argv);

#endif
