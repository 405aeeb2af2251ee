/* lmnetctl nic: list, set offloads, bindings (which NIC carries which
 * switch and which of lmnet's listeners). */
#ifndef LMNET_API_CLI_NIC_H
#define LMNET_API_CLI_NIC_H

#include "cli/cli.h"

int cli_nic(struct cli *cli, int argc, char **argv);

#endif
