/* lmnetctl vlan: list, create, delete. */
#ifndef LMNET_API_CLI_VLAN_H
#define LMNET_API_CLI_VLAN_H

#include "cli/cli.h"

int cli_vlan(struct cli *cli, int argc, char **argv);

#endif
