/* lmnetctl switch and lmnetctl port: this host's virtual switches and VM
 * ports.  One file for both: a port's options are a switch's vocabulary. */
#include "cli/cli_switch.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "base/cleanup.h"
#include "cli/table.h"

static const char switch_usage[] =
    "Usage: lmnetctl switch COMMAND\n"
    "\n"
    "Commands:\n"
    "  list                         the switches (Name, Type, Uplink, Vlans)\n"
    "  create NAME --type external|internal|private [--uplink NIC] [--vlans 100,200]\n"
    "                               --vlans: what an external uplink trunks (default all)\n"
    "  delete NAME                  a switch without ports\n"
    "  scrub [--dry-run]            list, then (after confirmation, or -y) remove every\n"
    "                               bridge, port and flow lmnet made here, and nothing else\n";

static const char port_usage[] =
    "Usage: lmnetctl port COMMAND\n"
    "\n"
    "Commands:\n"
    "  list [--switch NAME] [--vm VM]\n"
    "                               the ports (Name, Switch, Vm, Mac, Vlan, Active, Guards);\n"
    "                               -o wide adds Adapter, MacSource, MacPool, BandwidthKbps\n"
    "  show NAME                    one port, as JSON\n"
    "  create NAME --switch S [options]\n"
    "  set NAME [options]           change a port (not its name, switch or MAC)\n"
    "  delete NAME                  remove it (a pool MAC goes back to its pool)\n"
    "\n"
    "Options:\n"
    "  --vm VM                      the VM it serves\n"
    "  --mac MAC | --mac-pool POOL  its address, or a pool to take one from ('dynamic':\n"
    "                               this host's own)\n"
    "  --access ID | --trunk ID,ID,... [--native ID]\n"
    "  --legacy REASON              an emulated e1000 (PXE boot) instead of virtio\n"
    "  --spoofing | --no-spoofing   allow other source MACs (default: not)\n"
    "  --dhcp-guard | --no-dhcp-guard, --router-guard | --no-router-guard\n"
    "  --bandwidth KBPS             cap what the VM sends (0: none)\n"
    "  --active | --inactive        an inactive port passes nothing\n";

static struct json_object *id_list(const char *text)
{
    struct json_object *a = json_object_new_array();
    char *copy = strdup(text), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
        json_object_array_add(a, json_object_new_int(atoi(t)));
    free(copy);
    return a;
}

static int print_or_json(struct cli *cli, struct json_object *body, void (*print)(struct cli *, struct json_object *))
{
    struct json_object *items = NULL;
    if (cli->output == CLI_OUTPUT_JSON)
        cli_print_json(cli, body);
    else if (json_object_object_get_ex(body, "items", &items))
        print(cli, items);
    return CLI_EXIT_OK;
}

static void print_switches(struct cli *cli, struct json_object *items)
{
    const char *headers[] = { "Name", "Type", "Uplink", "Vlans" };
    struct table *t = table_create(4, headers);
    if (!t)
        return;
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        struct json_object *s = json_object_array_get_idx(items, i), *v = NULL;
        json_object_object_get_ex(s, "vlans", &v);
        const char *vlans = v && json_object_array_length(v) ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN) : "all";
        const char *cells[] = { cli_str(s, "name"), cli_str(s, "type"), cli_str(s, "uplink"), vlans };
        table_add_row(t, cells);
    }
    table_print(t, cli->out);
    table_destroy(t);
}

static void vlan_text(struct json_object *port, char *out, size_t size)
{
    struct json_object *v = NULL;
    out[0] = '\0';
    if (!json_object_object_get_ex(port, "vlan", &v) || !v)
        return;
    struct json_object *allowed = NULL;
    if (json_object_object_get_ex(v, "allowed", &allowed))
        snprintf(out, size, "trunk %s", json_object_to_json_string_ext(allowed, JSON_C_TO_STRING_PLAIN));
    else
        snprintf(out, size, "%s", cli_str(v, "id"));
}

static void print_ports(struct cli *cli, struct json_object *items)
{
    const char *headers[] = {"Name",   "Switch",  "Vm",        "Mac",     "Vlan",         "Active",
                             "Guards", "Adapter", "MacSource", "MacPool", "BandwidthKbps"};
    bool wide = cli->output == CLI_OUTPUT_WIDE;
    struct table *t = table_create(wide ? 11 : 7, headers);
    if (!t)
        return;
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        struct json_object *p = json_object_array_get_idx(items, i);
        char vlan[128], guards[64];
        vlan_text(p, vlan, sizeof(vlan));
        snprintf(guards, sizeof(guards), "%s%s%s",
                 strcmp(cli_str(p, "spoofing_allowed"), "true") == 0 ? "" : "mac ",
                 strcmp(cli_str(p, "dhcp_guard"), "true") == 0 ? "dhcp " : "",
                 strcmp(cli_str(p, "router_guard"), "true") == 0 ? "router" : "");
        const char *cells[] = {cli_str(p, "name"),
                               cli_str(p, "switch"),
                               cli_str(p, "vm"),
                               cli_str(p, "mac"),
                               vlan,
                               cli_str(p, "active"),
                               guards,
                               cli_str(p, "adapter_type"),
                               cli_str(p, "mac_source"),
                               cli_str(p, "mac_pool"),
                               cli_str(p, "max_bandwidth_kbps")};
        table_add_row(t, cells);
    }
    table_print(t, cli->out);
    table_destroy(t);
}

static int scrub(struct cli *cli, bool dry_run)
{
    _cleanup_json_ struct json_object *plan = NULL;
    int r = cli_call(cli, "POST", "/v1/switches/scrub?dry_run=true", NULL, &plan);
    if (r != CLI_EXIT_OK)
        return r;
    const char *keys[] = { "switches", "ports", "leftovers" };
    size_t total = 0;
    for (size_t k = 0; k < 3; k++) {
        struct json_object *list = NULL;
        json_object_object_get_ex(plan, keys[k], &list);
        for (size_t i = 0; list && i < json_object_array_length(list); i++, total++)
            fprintf(cli->out, "%-9s %s\n", keys[k], json_object_get_string(json_object_array_get_idx(list, i)));
    }
    if (total == 0) {
        fprintf(cli->out, "lmnet made nothing on this host's switch\n");
        return CLI_EXIT_OK;
    }
    if (dry_run)
        return CLI_EXIT_OK;
    if (!cli_confirm(cli, "Remove all of the above (VMs on these ports lose their network)?")) {
        fprintf(cli->err, "lmnetctl: nothing removed\n");
        return CLI_EXIT_REFUSED;
    }
    json_object_put(plan);
    plan = NULL;
    r = cli_call(cli, "POST", "/v1/switches/scrub?dry_run=false", NULL, &plan);
    if (r == CLI_EXIT_OK)
        fprintf(cli->out, "removed %zu objects\n", total);
    return r;
}

int cli_switch(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        fputs(switch_usage, cli->err);
        return CLI_EXIT_USAGE;
    }
    const char *verb = argv[1];
    if (cli_is_help(verb) || (argc > 2 && cli_is_help(argv[2]))) {
        fputs(switch_usage, cli->out);
        return CLI_EXIT_OK;
    }
    _cleanup_json_ struct json_object *body = NULL;
    if (strcmp(verb, "list") == 0) {
        int r = cli_call(cli, "GET", "/v1/switches", NULL, &body);
        return r != CLI_EXIT_OK ? r : print_or_json(cli, body, print_switches);
    }
    if (strcmp(verb, "scrub") == 0) {
        if (argc > 3 || (argc == 3 && strcmp(argv[2], "--dry-run") != 0))
            return cli_usage_error(cli, "usage: lmnetctl switch scrub [--dry-run]");
        return scrub(cli, argc == 3);
    }
    if (strcmp(verb, "delete") == 0) {
        if (argc != 3)
            return cli_usage_error(cli, "usage: lmnetctl switch delete NAME");
        char path[96];
        snprintf(path, sizeof(path), "/v1/switches/%s", argv[2]);
        int r = cli_call(cli, "DELETE", path, NULL, NULL);
        if (r == CLI_EXIT_OK && cli->output != CLI_OUTPUT_JSON)
            fprintf(cli->out, "deleted switch %s\n", argv[2]);
        return r;
    }
    if (strcmp(verb, "create") == 0) {
        static const struct option options[] = {
            { "type", required_argument, NULL, 't' }, { "uplink", required_argument, NULL, 'u' },
            { "vlans", required_argument, NULL, 'v' }, { NULL, 0, NULL, 0 },
        };
        _cleanup_json_ struct json_object *req = json_object_new_object();
        optind = 0; /* 0, not 1: GNU getopt must forget the global flags it parsed */
        int c;
        while ((c = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
            if (c == 't')
                json_object_object_add(req, "type", json_object_new_string(optarg));
            else if (c == 'u')
                json_object_object_add(req, "uplink", json_object_new_string(optarg));
            else if (c == 'v')
                json_object_object_add(req, "vlans", id_list(optarg));
            else
                return cli_usage_error(cli, "unknown option for 'switch create'");
        }
        if (optind != argc - 2)
            return cli_usage_error(cli, "usage: lmnetctl switch create NAME --type TYPE [...]");
        json_object_object_add(req, "name", json_object_new_string(argv[optind + 1]));
        int r = cli_call(cli, "POST", "/v1/switches", req, &body);
        if (r != CLI_EXIT_OK)
            return r;
        struct json_object *items = json_object_new_array();
        json_object_array_add(items, json_object_get(body));
        if (cli->output == CLI_OUTPUT_JSON)
            cli_print_json(cli, body);
        else
            print_switches(cli, items);
        json_object_put(items);
        return CLI_EXIT_OK;
    }
    return cli_usage_error(cli, "unknown command 'switch %s'", verb);
}

/* Reads the port options into REQ; returns -1 on a bad option. */
static int port_options(int argc, char **argv, struct json_object *req, const char **switch_name)
{
    static const struct option options[] = {
        { "switch", required_argument, NULL, 'S' },    { "vm", required_argument, NULL, 'V' },
        { "mac", required_argument, NULL, 'm' },       { "mac-pool", required_argument, NULL, 'p' },
        { "access", required_argument, NULL, 'a' },    { "trunk", required_argument, NULL, 't' },
        { "native", required_argument, NULL, 'n' },    { "legacy", required_argument, NULL, 'l' },
        { "spoofing", no_argument, NULL, 's' },        { "no-spoofing", no_argument, NULL, 1 },
        { "dhcp-guard", no_argument, NULL, 'd' },      { "no-dhcp-guard", no_argument, NULL, 2 },
        { "router-guard", no_argument, NULL, 'r' },    { "no-router-guard", no_argument, NULL, 3 },
        { "bandwidth", required_argument, NULL, 'b' }, { "active", no_argument, NULL, 'A' },
        { "inactive", no_argument, NULL, 'I' },        { NULL, 0, NULL, 0 },
    };
    struct json_object *vlan = NULL;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        switch (c) {
        case 'S': *switch_name = optarg; json_object_object_add(req, "switch", json_object_new_string(optarg)); break;
        case 'V': json_object_object_add(req, "vm", json_object_new_string(optarg)); break;
        case 'm': json_object_object_add(req, "mac", json_object_new_string(optarg)); break;
        case 'p': json_object_object_add(req, "mac_pool", json_object_new_string(optarg)); break;
        case 'a':
        case 't':
            if (!vlan)
                vlan = json_object_new_object();
            json_object_object_add(vlan, "mode", json_object_new_string(c == 'a' ? "access" : "trunk"));
            json_object_object_add(vlan, c == 'a' ? "id" : "allowed",
                                   c == 'a' ? json_object_new_int(atoi(optarg)) : id_list(optarg));
            break;
        case 'n':
            if (!vlan)
                vlan = json_object_new_object();
            json_object_object_add(vlan, "native", json_object_new_int(atoi(optarg)));
            break;
        case 'l':
            json_object_object_add(req, "adapter_type", json_object_new_string("legacy"));
            json_object_object_add(req, "legacy_reason", json_object_new_string(optarg));
            break;
        case 's': case 1: json_object_object_add(req, "spoofing_allowed", json_object_new_boolean(c == 's')); break;
        case 'd': case 2: json_object_object_add(req, "dhcp_guard", json_object_new_boolean(c == 'd')); break;
        case 'r': case 3: json_object_object_add(req, "router_guard", json_object_new_boolean(c == 'r')); break;
        case 'b': json_object_object_add(req, "max_bandwidth_kbps", json_object_new_int64(atoll(optarg))); break;
        case 'A': case 'I': json_object_object_add(req, "active", json_object_new_boolean(c == 'A')); break;
        default:
            json_object_put(vlan);
            return -1;
        }
    }
    if (vlan)
        json_object_object_add(req, "vlan", vlan);
    return 0;
}

int cli_port(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        fputs(port_usage, cli->err);
        return CLI_EXIT_USAGE;
    }
    const char *verb = argv[1];
    if (cli_is_help(verb) || (argc > 2 && cli_is_help(argv[2]))) {
        fputs(port_usage, cli->out);
        return CLI_EXIT_OK;
    }
    _cleanup_json_ struct json_object *body = NULL;
    char path[128];
    if (strcmp(verb, "list") == 0) {
        static const struct option options[] = {
            {"switch", required_argument, NULL, 's'},
            {"vm", required_argument, NULL, 'v'},
            {NULL, 0, NULL, 0},
        };
        const char *sw = NULL, *vm = NULL;
        optind = 0; /* 0, not 1: GNU getopt must forget the global flags it parsed */
        int c;
        while ((c = getopt_long(argc - 1, argv + 1, "", options, NULL)) != -1) {
            if (c == 's')
                sw = optarg;
            else if (c == 'v')
                vm = optarg;
            else
                return cli_usage_error(cli, "usage: lmnetctl port list [--switch NAME] [--vm VM]");
        }
        if (optind != argc - 1)
            return cli_usage_error(cli, "usage: lmnetctl port list [--switch NAME] [--vm VM]");
        /* the agent filters by switch itself; by VM here */
        if (sw)
            snprintf(path, sizeof(path), "/v1/ports?switch=%s", sw);
        else
            snprintf(path, sizeof(path), "/v1/ports");
        int r = cli_call(cli, "GET", path, NULL, &body);
        if (r != CLI_EXIT_OK)
            return r;
        if (vm) {
            struct json_object *items = NULL;
            json_object_object_get_ex(body, "items", &items);
            json_object_object_add(body, "items", cli_filter_items(items, "vm", NULL, vm));
        }
        return print_or_json(cli, body, print_ports);
    }
    if ((strcmp(verb, "show") == 0 || strcmp(verb, "delete") == 0) && argc == 3) {
        snprintf(path, sizeof(path), "/v1/ports/%s", argv[2]);
        bool del = verb[0] == 'd';
        int r = cli_call(cli, del ? "DELETE" : "GET", path, NULL, del ? NULL : &body);
        if (r == CLI_EXIT_OK && del && cli->output != CLI_OUTPUT_JSON)
            fprintf(cli->out, "deleted port %s\n", argv[2]);
        else if (r == CLI_EXIT_OK && !del)
            cli_print_json(cli, body);
        return r;
    }
    if (strcmp(verb, "create") == 0 || strcmp(verb, "set") == 0) {
        bool create = verb[0] == 'c';
        _cleanup_json_ struct json_object *req = json_object_new_object();
        const char *sw = NULL;
        if (port_options(argc - 1, argv + 1, req, &sw) < 0)
            return cli_usage_error(cli, "unknown option for 'port %s' (see lmnetctl port --help)", verb);
        if (optind != argc - 2)
            return cli_usage_error(cli, "usage: lmnetctl port %s NAME [options]", verb);
        const char *name = argv[optind + 1];
        if (create && !sw)
            return cli_usage_error(cli, "'port create' needs --switch");
        if (create)
            json_object_object_add(req, "name", json_object_new_string(name));
        snprintf(path, sizeof(path), create ? "/v1/ports" : "/v1/ports/%s", name);
        int r = cli_call(cli, create ? "POST" : "PATCH", path, req, &body);
        if (r != CLI_EXIT_OK)
            return r;
        struct json_object *items = json_object_new_array();
        json_object_array_add(items, json_object_get(body));
        if (cli->output == CLI_OUTPUT_JSON)
            cli_print_json(cli, body);
        else
            print_ports(cli, items);
        json_object_put(items);
        return CLI_EXIT_OK;
    }
    return cli_usage_error(cli, "unknown command 'port %s'", verb);
}
