/* lmnetctl vm: the VMs of the agent's host. */
#include "cli/cli_vm.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "base/cleanup.h"
#include "cli/table.h"

static const char usage_text[] =
    "Usage: lmnetctl vm COMMAND\n"
    "\n"
    "Commands:\n"
    "  list [--host HOST] [--state STATE]\n"
    "                       the VMs this agent knows (Name, State, Host, Memory, vCPUs,\n"
    "                       Ports); -o wide adds Id, HostId and Adapters (port/model)\n"
    "                       STATE: stopped, running, paused, migrating, incoming, failed\n"
    "  show VM              one VM, by name or id\n"
    "  create NAME [options]\n"
    "                       define a VM and start it:\n"
    "      --memory MIB     memory (default 512)\n"
    "      --vcpus N        virtual CPUs (default 1)\n"
    "      --kernel PATH    a kernel to boot, with --initrd PATH and --append TEXT\n"
    "      --disk PATH      or a disk image on shared storage\n"
    "      --port NAME      plug an adapter into switch port NAME (repeat for more);\n"
    "                       create ports first with POST /v1/ports\n"
    "      --no-start       define it only\n"
    "  start VM             start a stopped VM\n"
    "  stop VM              stop a VM (its QEMU ends)\n"
    "  delete VM            delete a stopped VM\n";

static void ports_of(struct json_object *vm, char *out, size_t size)
{
    out[0] = '\0';
    struct json_object *adapters = NULL;
    if (!json_object_object_get_ex(vm, "adapters", &adapters))
        return;
    size_t used = 0;
    for (size_t i = 0; i < json_object_array_length(adapters) && used < size; i++) {
        struct json_object *a = json_object_array_get_idx(adapters, i);
        int n = snprintf(out + used, size - used, "%s%s", i ? "," : "", cli_str(a, "port"));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static const char *const states[] = {"stopped",  "running", "paused", "migrating",
                                     "incoming", "failed",  NULL};

/* VM's adapters as "port/model,port/model". */
static void adapters_of(struct json_object *vm, char *out, size_t size)
{
    struct json_object *adapters = NULL;
    size_t used = 0;
    out[0] = '\0';
    json_object_object_get_ex(vm, "adapters", &adapters);
    for (size_t i = 0; adapters && i < json_object_array_length(adapters) && used < size; i++) {
        struct json_object *a = json_object_array_get_idx(adapters, i);
        int n = snprintf(out + used, size - used, "%s%s/%s", i ? "," : "", cli_str(a, "port"),
                         cli_str(a, "model"));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void print_vms(struct cli *cli, struct json_object *items)
{
    const char *headers[] = {"Name",  "State", "Host",   "MemoryMiB", "vCPUs",
                             "Ports", "Id",    "HostId", "Adapters"};
    bool wide = cli->output == CLI_OUTPUT_WIDE;
    struct table *t = table_create(wide ? 9 : 6, headers);
    if (!t)
        return;
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        struct json_object *vm = json_object_array_get_idx(items, i);
        char host[64], ports[256], adapters[512];
        adapters_of(vm, adapters, sizeof(adapters));
        /* The host's name when the agent knows it, else its id's start. */
        if (cli_str(vm, "host_name")[0])
            snprintf(host, sizeof(host), "%s", cli_str(vm, "host_name"));
        else
            snprintf(host, sizeof(host), "%.8s", cli_str(vm, "host"));
        ports_of(vm, ports, sizeof(ports));
        const char *cells[] = {cli_str(vm, "name"),       cli_str(vm, "state"), host,
                               cli_str(vm, "memory_mib"), cli_str(vm, "vcpus"), ports,
                               cli_str(vm, "id"),         cli_str(vm, "host"),  adapters};
        table_add_row(t, cells);
    }
    table_print(t, cli->out);
    table_destroy(t);
}

static int list(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"host", required_argument, NULL, 'H'},
        {"state", required_argument, NULL, 's'},
        {NULL, 0, NULL, 0},
    };
    const char *host = NULL, *state = NULL;
    optind = 0; /* 0, not 1: GNU getopt must forget the global flags it parsed */
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 'H')
            host = optarg;
        else if (c == 's' && cli_check_choice(cli, "--state", optarg, states))
            state = optarg;
        else
            return c == '?' ? cli_usage_error(
                                  cli, "usage: lmnetctl vm list [--host HOST] [--state STATE]")
                            : CLI_EXIT_USAGE;
    }
    if (optind != argc)
        return cli_usage_error(cli, "usage: lmnetctl vm list [--host HOST] [--state STATE]");
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "GET", "/v1/vms", NULL, &body);
    if (r != CLI_EXIT_OK)
        return r;
    struct json_object *items = NULL;
    json_object_object_get_ex(body, "items", &items);
    /* --host: the host's name or its id */
    _cleanup_json_ struct json_object *kept = cli_filter_items(items, "host_name", "host", host);
    _cleanup_json_ struct json_object *kept2 = cli_filter_items(kept, "state", NULL, state);
    if (cli->output == CLI_OUTPUT_JSON) {
        if (host || state)
            json_object_object_add(body, "items", json_object_get(kept2));
        cli_print_json(cli, body);
        return CLI_EXIT_OK;
    }
    if (kept2)
        print_vms(cli, kept2);
    return CLI_EXIT_OK;
}

/* Prints the VM answer of a call: JSON, or a one-row table. */
static int print_one(struct cli *cli, struct json_object *vm)
{
    if (cli->output == CLI_OUTPUT_JSON) {
        cli_print_json(cli, vm);
        return CLI_EXIT_OK;
    }
    struct json_object *items = json_object_new_array();
    json_object_array_add(items, json_object_get(vm));
    print_vms(cli, items);
    json_object_put(items);
    return CLI_EXIT_OK;
}

static int simple(struct cli *cli, const char *method, const char *vm, const char *action)
{
    char path[256];
    snprintf(path, sizeof(path), "/v1/vms/%s%s%s", vm, action ? "/" : "", action ? action : "");
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, method, path, NULL, &body);
    if (r != CLI_EXIT_OK)
        return r;
    if (!body) {
        if (cli->output != CLI_OUTPUT_JSON)
            fprintf(cli->out, "deleted %s\n", vm);
        return CLI_EXIT_OK;
    }
    return print_one(cli, body);
}

static int create(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        { "memory", required_argument, NULL, 'm' }, { "vcpus", required_argument, NULL, 'c' },
        { "kernel", required_argument, NULL, 'k' }, { "initrd", required_argument, NULL, 'i' },
        { "append", required_argument, NULL, 'a' }, { "disk", required_argument, NULL, 'd' },
        { "port", required_argument, NULL, 'p' },   { "no-start", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    _cleanup_json_ struct json_object *req = json_object_new_object();
    struct json_object *adapters = json_object_new_array();
    json_object_object_add(req, "adapters", adapters);
    optind = 0; /* 0, not 1: GNU getopt must forget the global flags it parsed */
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
        case 'm':
        case 'c': {
            long v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v <= 0)
                return cli_usage_error(cli, "--%s needs a positive number",
                                       c == 'm' ? "memory" : "vcpus");
            json_object_object_add(req, c == 'm' ? "memory_mib" : "vcpus",
                                   json_object_new_int64(v));
            break;
        }
        case 'k':
            json_object_object_add(req, "kernel", json_object_new_string(optarg));
            break;
        case 'i':
            json_object_object_add(req, "initrd", json_object_new_string(optarg));
            break;
        case 'a':
            json_object_object_add(req, "append", json_object_new_string(optarg));
            break;
        case 'd':
            json_object_object_add(req, "disk", json_object_new_string(optarg));
            break;
        case 'p': {
            struct json_object *a = json_object_new_object();
            json_object_object_add(a, "port", json_object_new_string(optarg));
            json_object_array_add(adapters, a);
            break;
        }
        case 'n':
            json_object_object_add(req, "start", json_object_new_boolean(false));
            break;
        case 'h':
            fputs(usage_text, cli->out);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(cli, "unknown option for 'vm create'");
        }
    }
    if (optind != argc - 1)
        return cli_usage_error(cli, "usage: lmnetctl vm create NAME [options]");
    json_object_object_add(req, "name", json_object_new_string(argv[optind]));
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "POST", "/v1/vms", req, &body);
    if (r != CLI_EXIT_OK)
        return r;
    return print_one(cli, body);
}

int cli_vm(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        fputs(usage_text, cli->err);
        return CLI_EXIT_USAGE;
    }
    const char *verb = argv[1];
    if (cli_is_help(verb) || (argc > 2 && cli_is_help(argv[2]))) {
        fputs(usage_text, cli->out);
        return CLI_EXIT_OK;
    }
    if (strcmp(verb, "list") == 0)
        return list(cli, argc - 1, argv + 1);
    if (strcmp(verb, "create") == 0)
        return create(cli, argc - 1, argv + 1);
    static const struct {
        const char *verb, *method, *action;
    } simple_verbs[] = {
        { "show", "GET", NULL },
        { "start", "POST", "start" },
        { "stop", "POST", "stop" },
        { "delete", "DELETE", NULL },
    };
    for (size_t i = 0; i < sizeof(simple_verbs) / sizeof(simple_verbs[0]); i++)
        if (strcmp(verb, simple_verbs[i].verb) == 0) {
            if (argc != 3)
                return cli_usage_error(cli, "usage: lmnetctl vm %s VM", verb);
            return simple(cli, simple_verbs[i].method, argv[2], simple_verbs[i].action);
        }
    return cli_usage_error(cli, "unknown command 'vm %s'", verb);
}
