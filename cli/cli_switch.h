/* lmnetctl switch (list, create, delete, scrub) and lmnetctl port (list,
 * show, create, set, delete). */
#ifndef LMNET_API_CLI_SWITCH_H
#define LMNET_API_CLI_SWITCH_H

#include "cli/cli.h"

int cli_switch(struct cli *cli, int argc, char **argv);
int cli_port(struct cli *cli, int argc, char **argv);

#endif
