/* lmnetctl cluster members | join-token [--ttl S] | join TOKEN | remove ID. */
#ifndef LMNET_API_CLI_CLUSTER_H
#define LMNET_API_CLI_CLUSTER_H

#include "cli/cli.h"

int cli_cluster(struct cli *cli, int argc, char **argv);

#endif
