/* lmnetctl vm: list, show, create, start, stop, delete VMs. */
#ifndef LMNET_API_CLI_VM_H
#define LMNET_API_CLI_VM_H

#include "cli/cli.h"

int cli_vm(struct cli *cli, int argc, char **argv);

#endif
