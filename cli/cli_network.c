/* lmnetctl network: see cli/cli_network.h. */
#include "cli/cli_network.h"

#include <ctype.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "base/cleanup.h"
#include "cli/table.h"

static const char usage_text[] =
    "Usage: lmnetctl network COMMAND\n"
    "\n"
    "Commands:\n"
    "  list [--role ROLE] [--state STATE]\n"
    "                     the cluster networks: Name, State, Role, Address, AddressMask,\n"
    "                     Metric, AutoMetric (like Get-ClusterNetwork | Format-Table);\n"
    "                     -o wide adds Id and Interfaces (node:nic pairs)\n"
    "                     STATE: up, partitioned, down, unavailable\n"
    "  show NETWORK       one network and its interfaces: which NIC on which node, its\n"
    "                     address, state and whom it reaches (NETWORK: name or id)\n"
    "  set NETWORK [--name NAME] [--role ROLE] [--metric N | --auto-metric]\n"
    "                     ROLE: none, management, migration, storage, vm\n"
    "  check              what breaks good practice, with the nodes and NICs concerned\n"
    "                     and a fix; exits 1 when there is something to fix\n";

/* NAME made safe for a URL path segment. */
static void path_segment(const char *name, char *out, size_t size)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t used = 0;
    for (const unsigned char *p = (const unsigned char *)name; *p && used + 4 < size; p++) {
        if (isalnum(*p) || strchr("-._~", *p)) {
            out[used++] = (char)*p;
        } else {
            out[used++] = '%';
            out[used++] = hex[*p >> 4];
            out[used++] = hex[*p & 15];
        }
    }
    out[used] = '\0';
}

static void network_path(const char *name, char *out, size_t size)
{
    char segment[256];
    path_segment(name, segment, sizeof(segment));
    snprintf(out, size, "/v1/cluster/networks/%s", segment);
}

static const char *capitalized(const char *s, char *buf, size_t size)
{
    snprintf(buf, size, "%s", s);
    if (buf[0])
        buf[0] = (char)toupper((unsigned char)buf[0]);
    return buf;
}

static const char *const roles[] = {"none", "management", "migration", "storage", "vm", NULL};
static const char *const states[] = {"up", "partitioned", "down", "unavailable", NULL};

/* NETWORK's interfaces as "node:nic,node:nic". */
static void interfaces_of(struct json_object *network, char *out, size_t size)
{
    struct json_object *list = NULL;
    size_t used = 0;
    out[0] = '\0';
    json_object_object_get_ex(network, "interfaces", &list);
    for (size_t i = 0; list && i < json_object_array_length(list) && used < size; i++) {
        struct json_object *it = json_object_array_get_idx(list, i);
        int w = snprintf(out + used, size - used, "%s%s:%s", i ? "," : "", cli_str(it, "node_name"),
                         cli_str(it, "nic"));
        if (w < 0)
            break;
        used += (size_t)w;
    }
}

static void print_networks(struct cli *cli, struct json_object *items)
{
    const char *headers[] = {"Name",   "State",      "Role", "Address",   "AddressMask",
                             "Metric", "AutoMetric", "Id",   "Interfaces"};
    bool wide = cli->output == CLI_OUTPUT_WIDE;
    struct table *t = table_create(wide ? 9 : 7, headers);
    for (size_t i = 0; t && items && i < json_object_array_length(items); i++) {
        struct json_object *n = json_object_array_get_idx(items, i);
        char state[32], role[32], interfaces[512];
        interfaces_of(n, interfaces, sizeof(interfaces));
        const char *cells[] = {cli_str(n, "name"),
                               capitalized(cli_str(n, "state"), state, sizeof(state)),
                               capitalized(cli_str(n, "role"), role, sizeof(role)),
                               cli_str(n, "address"),
                               cli_str(n, "address_mask"),
                               cli_str(n, "metric"),
                               strcmp(cli_str(n, "auto_metric"), "true") == 0 ? "True" : "False",
                               cli_str(n, "id"),
                               interfaces};
        table_add_row(t, cells);
    }
    table_print(t, cli->out);
    table_destroy(t);
}

/* One network, as a one-row table. */
static void print_network(struct cli *cli, struct json_object *network)
{
    struct json_object *items = json_object_new_array();
    json_object_array_add(items, json_object_get(network));
    print_networks(cli, items);
    json_object_put(items);
}

static void warn_if_cached(struct cli *cli, struct json_object *body)
{
    if (strcmp(cli_str(body, "registry_reachable"), "false") == 0)
        fprintf(cli->err, "lmnetctl: the registry did not answer; this is the agent's last copy\n");
}

static int list(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"role", required_argument, NULL, 'r'},
        {"state", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    const char *role = NULL, *state = NULL;
    optind = 0; /* 0, not 1: GNU getopt must forget the global flags it parsed */
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 'r' && cli_check_choice(cli, "--role", optarg, roles))
            role = optarg;
        else if (c == 's' && cli_check_choice(cli, "--state", optarg, states))
            state = optarg;
        else
            return c == '?' ? cli_usage_error(
                                  cli, "usage: lmnetctl network list [--role ROLE] [--state STATE]")
                            : CLI_EXIT_USAGE;
    }
    if (optind != argc)
        return cli_usage_error(cli, "usage: lmnetctl network list [--role ROLE] [--state STATE]");
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "GET", "/v1/cluster/networks", NULL, &body);
    if (r != CLI_EXIT_OK)
        return r;
    struct json_object *items = NULL;
    json_object_object_get_ex(body, "items", &items);
    _cleanup_json_ struct json_object *kept = cli_filter_items(items, "role", NULL, role);
    _cleanup_json_ struct json_object *kept2 = cli_filter_items(kept, "state", NULL, state);
    if (cli->output == CLI_OUTPUT_JSON) {
        if (role || state)
            json_object_object_add(body, "items", json_object_get(kept2));
        cli_print_json(cli, body);
        return CLI_EXIT_OK;
    }
    print_networks(cli, kept2);
    warn_if_cached(cli, body);
    return CLI_EXIT_OK;
}

static void print_interfaces(struct cli *cli, struct json_object *network)
{
    struct json_object *list = NULL;
    json_object_object_get_ex(network, "interfaces", &list);
    const char *headers[] = { "Node", "Nic", "Address", "State", "SpeedMbps", "Unreached" };
    struct table *t = table_create(6, headers);
    for (size_t i = 0; t && list && i < json_object_array_length(list); i++) {
        struct json_object *it = json_object_array_get_idx(list, i), *pairs = NULL;
        char unreached[256] = "", state[32];
        size_t used = 0;
        json_object_object_get_ex(it, "reachability", &pairs);
        for (size_t k = 0; pairs && k < json_object_array_length(pairs) && used < sizeof(unreached); k++) {
            struct json_object *p = json_object_array_get_idx(pairs, k);
            if (strcmp(cli_str(p, "reaches"), "true") == 0)
                continue;
            int w = snprintf(unreached + used, sizeof(unreached) - used, "%s%s", used ? "," : "",
                             cli_str(p, "node_name"));
            if (w > 0)
                used += (size_t)w;
        }
        const char *cells[] = { cli_str(it, "node_name"), cli_str(it, "nic"), cli_str(it, "address"),
                                capitalized(cli_str(it, "state"), state, sizeof(state)),
                                cli_str(it, "speed_mbps"), unreached };
        table_add_row(t, cells);
    }
    table_print(t, cli->out);
    table_destroy(t);
}

static int show(struct cli *cli, const char *name)
{
    char path[320];
    network_path(name, path, sizeof(path));
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "GET", path, NULL, &body);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli->output == CLI_OUTPUT_JSON) {
        cli_print_json(cli, body);
        return CLI_EXIT_OK;
    }
    print_network(cli, body);
    fputc('\n', cli->out);
    print_interfaces(cli, body);
    warn_if_cached(cli, body);
    return CLI_EXIT_OK;
}

static int set(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        { "name", required_argument, NULL, 'n' },
        { "role", required_argument, NULL, 'r' },
        { "metric", required_argument, NULL, 'm' },
        { "auto-metric", no_argument, NULL, 'a' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    _cleanup_json_ struct json_object *req = json_object_new_object();
    optind = 0; /* 0, not 1: GNU getopt must forget the global flags it parsed */
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        char *end = NULL;
        long v;
        switch (c) {
        case 'n':
            json_object_object_add(req, "name", json_object_new_string(optarg));
            break;
        case 'r':
            json_object_object_add(req, "role", json_object_new_string(optarg));
            break;
        case 'm':
            v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v < 0)
                return cli_usage_error(cli, "--metric needs a whole number (lower is preferred)");
            json_object_object_add(req, "metric", json_object_new_int64(v));
            break;
        case 'a':
            json_object_object_add(req, "auto_metric", json_object_new_boolean(1));
            break;
        case 'h':
            fputs(usage_text, cli->out);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(cli, "unknown option for 'network set'");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cli, "usage: lmnetctl network set NETWORK [--name NAME] [--role ROLE] "
                                    "[--metric N | --auto-metric]");
    if (json_object_object_length(req) == 0)
        return cli_usage_error(cli, "network set: nothing to change (give --name, --role, --metric or --auto-metric)");
    char path[320];
    network_path(argv[optind], path, sizeof(path));
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "PATCH", path, req, &body);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli->output == CLI_OUTPUT_JSON) {
        cli_print_json(cli, body);
        return CLI_EXIT_OK;
    }
    print_network(cli, body);
    return CLI_EXIT_OK;
}

static int check(struct cli *cli)
{
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "GET", "/v1/cluster/checks", NULL, &body);
    if (r != CLI_EXIT_OK)
        return r;
    struct json_object *items = NULL;
    json_object_object_get_ex(body, "items", &items);
    size_t n = items ? json_object_array_length(items) : 0;
    if (cli->output == CLI_OUTPUT_JSON) {
        cli_print_json(cli, body);
        return n ? CLI_EXIT_REFUSED : CLI_EXIT_OK;
    }
    if (n == 0)
        fprintf(cli->out, "No findings: the cluster networks follow good practice.\n");
    for (size_t i = 0; i < n; i++) {
        struct json_object *f = json_object_array_get_idx(items, i), *nodes = NULL;
        fprintf(cli->out, "%s%s: %s\n", i ? "\n" : "", cli_str(f, "check"), cli_str(f, "summary"));
        json_object_object_get_ex(f, "nodes", &nodes);
        for (size_t k = 0; nodes && k < json_object_array_length(nodes); k++) {
            struct json_object *nd = json_object_array_get_idx(nodes, k);
            const char *nic = cli_str(nd, "nic");
            fprintf(cli->out, "  node %s%s%s\n", cli_str(nd, "node_name"), nic[0] ? " nic " : "", nic);
        }
        fprintf(cli->out, "  fix: %s\n", cli_str(f, "fix"));
    }
    warn_if_cached(cli, body);
    return n ? CLI_EXIT_REFUSED : CLI_EXIT_OK;
}

int cli_network(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, cli->err);
        return CLI_EXIT_USAGE;
    }
    const char *verb = argv[1];
    if (cli_is_help(verb) || (argc > 2 && strcmp(verb, "set") != 0 && cli_is_help(argv[2]))) {
        fputs(usage_text, cli->out);
        return CLI_EXIT_OK;
    }
    if (strcmp(verb, "list") == 0)
        return list(cli, argc - 1, argv + 1);
    if (strcmp(verb, "show") == 0 && argc == 3)
        return show(cli, argv[2]);
    if (strcmp(verb, "set") == 0 && argc >= 3)
        return set(cli, argc - 1, argv + 1);
    if (strcmp(verb, "check") == 0 && argc == 2)
        return check(cli);
    return cli_usage_error(cli, "usage: lmnetctl network list | show NETWORK | set NETWORK OPTIONS | check");
}
