/* lmnetctl macpool: list, show, create, allocate, release. */
#ifndef LMNET_API_CLI_MACPOOL_H
#define LMNET_API_CLI_MACPOOL_H

#include "cli/cli.h"

int cli_macpool(struct cli *cli, int argc, char **argv);

#endif
