/* lmnetctl vlan: the cluster's VLAN catalogue. */
#include "cli/cli_vlan.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "base/cleanup.h"
#include "cli/table.h"

static const char usage_text[] =
    "Usage: lmnetctl vlan COMMAND\n"
    "\n"
    "Commands:\n"
    "  list                              the catalogue (Id, Name, Description)\n"
    "  create ID NAME [--description T]  add VLAN ID (1-4094)\n"
    "  set ID [--name N] [--description T]  rename it or change its description\n"
    "  delete ID                         remove it from the catalogue\n";

static void print(struct cli *cli, struct json_object *items)
{
    const char *headers[] = { "Id", "Name", "Description" };
    struct table *t = table_create(3, headers);
    if (!t)
        return;
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        struct json_object *v = json_object_array_get_idx(items, i);
        const char *cells[] = { cli_str(v, "id"), cli_str(v, "name"), cli_str(v, "description") };
        table_add_row(t, cells);
    }
    table_print(t, cli->out);
    table_destroy(t);
}

static int create(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        { "description", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    _cleanup_json_ struct json_object *req = json_object_new_object();
    optind = 0; /* 0, not 1: GNU getopt must forget the global flags it parsed */
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (c == 'd') {
            json_object_object_add(req, "description", json_object_new_string(optarg));
        } else if (c == 'h') {
            fputs(usage_text, cli->out);
            return CLI_EXIT_OK;
        } else {
            return cli_usage_error(cli, "unknown option for 'vlan create'");
        }
    }
    if (argc - optind != 2)
        return cli_usage_error(cli, "usage: lmnetctl vlan create ID NAME [--description TEXT]");
    char *end = NULL;
    long id = strtol(argv[optind], &end, 10);
    if (!*argv[optind] || *end || id < 1 || id > 4094)
        return cli_usage_error(cli, "'%s' is not a VLAN id (1-4094)", argv[optind]);
    json_object_object_add(req, "id", json_object_new_int((int)id));
    json_object_object_add(req, "name", json_object_new_string(argv[optind + 1]));
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "POST", "/v1/vlans", req, &body);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli->output == CLI_OUTPUT_JSON) {
        cli_print_json(cli, body);
        return CLI_EXIT_OK;
    }
    struct json_object *items = json_object_new_array();
    json_object_array_add(items, json_object_get(body));
    print(cli, items);
    json_object_put(items);
    return CLI_EXIT_OK;
}

static int set(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"name", required_argument, NULL, 'n'},
        {"description", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    _cleanup_json_ struct json_object *req = json_object_new_object();
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        if (c == 'n') {
            json_object_object_add(req, "name", json_object_new_string(optarg));
        } else if (c == 'd') {
            json_object_object_add(req, "description", json_object_new_string(optarg));
        } else if (c == 'h') {
            fputs(usage_text, cli->out);
            return CLI_EXIT_OK;
        } else {
            return cli_usage_error(cli, "unknown option for 'vlan set'");
        }
    }
    if (argc - optind != 1 || json_object_object_length(req) == 0)
        return cli_usage_error(cli,
                               "usage: lmnetctl vlan set ID [--name NAME] [--description TEXT]");
    char path[64];
    snprintf(path, sizeof(path), "/v1/vlans/%s", argv[optind]);
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "PATCH", path, req, &body);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli->output == CLI_OUTPUT_JSON) {
        cli_print_json(cli, body);
        return CLI_EXIT_OK;
    }
    struct json_object *items = json_object_new_array();
    json_object_array_add(items, json_object_get(body));
    print(cli, items);
    json_object_put(items);
    return CLI_EXIT_OK;
}

int cli_vlan(struct cli *cli, int argc, char **argv)
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
    if (strcmp(verb, "list") == 0) {
        if (argc != 2)
            return cli_usage_error(cli, "'vlan list' takes no arguments");
        _cleanup_json_ struct json_object *body = NULL;
        int r = cli_call(cli, "GET", "/v1/vlans", NULL, &body);
        if (r != CLI_EXIT_OK)
            return r;
        struct json_object *items = NULL;
        if (cli->output == CLI_OUTPUT_JSON)
            cli_print_json(cli, body);
        else if (json_object_object_get_ex(body, "items", &items))
            print(cli, items);
        return CLI_EXIT_OK;
    }
    if (strcmp(verb, "create") == 0)
        return create(cli, argc - 1, argv + 1);
    if (strcmp(verb, "set") == 0)
        return set(cli, argc - 1, argv + 1);
    if (strcmp(verb, "delete") == 0) {
        if (argc != 3)
            return cli_usage_error(cli, "usage: lmnetctl vlan delete ID");
        char path[64];
        snprintf(path, sizeof(path), "/v1/vlans/%s", argv[2]);
        int r = cli_call(cli, "DELETE", path, NULL, NULL);
        if (r == CLI_EXIT_OK && cli->output != CLI_OUTPUT_JSON)
            fprintf(cli->out, "deleted VLAN %s\n", argv[2]);
        return r;
    }
    return cli_usage_error(cli, "unknown command 'vlan %s'", verb);
}
