/* The nouns lmnetctl knows, in the order --help lists them.  A noun adds one
 * line here and its header's include. */
#include "cli/cli.h"
#include "cli/cli_cluster.h"
#include "cli/cli_event.h"
#include "cli/cli_host.h"
#include "cli/cli_macpool.h"
#include "cli/cli_migration.h"
#include "cli/cli_network.h"
#include "cli/cli_nic.h"
#include "cli/cli_switch.h"
#include "cli/cli_vlan.h"
#include "cli/cli_vm.h"

const struct cli_command cli_commands[] = {
    { "host", "show this agent's identity", cli_host },
    { "health", "check that the agent is up", cli_health },
    { "version", "show client and agent versions", cli_version },
    { "cluster", "cluster members; join an agent", cli_cluster },
    { "events", "the audit log", cli_event },
    { "macpool", "MAC pools: list, show, create, allocate, release", cli_macpool },
    { "vlan", "the VLAN catalogue: list, create, delete", cli_vlan },
    { "network", "cluster networks: list, show, set, check", cli_network },
    { "nic", "host NICs: list, set offloads, bindings", cli_nic },
    { "switch", "virtual switches: list, create, delete, scrub", cli_switch },
    { "port", "VM ports: list, show, create, set, delete", cli_port },
    { "vm", "VMs: list, create, start, stop, delete", cli_vm },
    { "migrate", "live-migrate a VM to another member", cli_migrate },
    { "migration", "migrations: list, show, cancel", cli_migration },
    { NULL, NULL, NULL },
};
