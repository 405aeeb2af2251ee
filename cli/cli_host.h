/* lmnetctl nouns for the agent itself: host, health, version. */
#ifndef LMNET_API_CLI_HOST_H
#define LMNET_API_CLI_HOST_H

#include "cli/cli.h"

int cli_host(struct cli *cli, int argc, char **argv);
int cli_health(struct cli *cli, int argc, char **argv);
int cli_version(struct cli *cli, int argc, char **argv);

#endif
