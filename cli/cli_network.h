/* lmnetctl network: the cluster networks (Get-ClusterNetwork), their
 * interfaces, settings and the good-practice checks. */
#ifndef LMNET_API_CLI_NETWORK_H
#define LMNET_API_CLI_NETWORK_H

#include "cli/cli.h"

int cli_network(struct cli *cli, int argc, char **argv);

#endif
