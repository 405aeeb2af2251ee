/* lmnetctl cluster: the member list and joining agents to the cluster. */
#include "cli/cli_cluster.h"

#include <stdlib.h>
#include <string.h>
#include "base/cleanup.h"
#include "cli/table.h"

static const char usage_text[] =
    "Usage: lmnetctl cluster COMMAND\n"
    "\n"
    "Commands:\n"
    "  members         list the cluster's members (Name, Id, Url, Registry, LastSeen)\n"
    "  join-token [--ttl SECONDS]\n"
    "                  make a one-time join token (on the registry, or any member:\n"
    "                  it is made by the registry); good for an hour by default\n"
    "  join TOKEN      make the agent of --server (configured with 'registry = URL')\n"
    "                  join its registry with TOKEN; it stores the member credential\n"
    "                  it gets back and reports with it from then on\n"
    "  remove ID       remove a member by its node id\n";

static int members(struct cli *cli)
{
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "GET", "/v1/cluster/members", NULL, &body);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli->output == CLI_OUTPUT_JSON) {
        cli_print_json(cli, body);
        return CLI_EXIT_OK;
    }
    struct json_object *items = NULL, *reachable = NULL;
    json_object_object_get_ex(body, "items", &items);
    const char *headers[] = { "Name", "Id", "Url", "Registry", "LastSeen" };
    struct table *t = table_create(5, headers);
    if (!t)
        return CLI_EXIT_TRANSPORT;
    for (size_t i = 0; items && i < json_object_array_length(items); i++) {
        struct json_object *m = json_object_array_get_idx(items, i);
        struct json_object *reg;
        bool is_registry = json_object_object_get_ex(m, "registry", &reg) && json_object_get_boolean(reg);
        const char *cells[] = { cli_str(m, "name"), cli_str(m, "id"), cli_str(m, "url"), is_registry ? "yes" : "",
                                cli_str(m, "last_seen") };
        table_add_row(t, cells);
    }
    table_print(t, cli->out);
    table_destroy(t);
    if (json_object_object_get_ex(body, "registry_reachable", &reachable) &&
        !json_object_get_boolean(reachable))
        fprintf(cli->err, "warning: the registry is unreachable; this list may be stale\n");
    return CLI_EXIT_OK;
}

static int join_token(struct cli *cli, long ttl)
{
    _cleanup_json_ struct json_object *req = json_object_new_object();
    if (ttl > 0)
        json_object_object_add(req, "ttl", json_object_new_int64(ttl));
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "POST", "/v1/cluster/join-tokens", req, &body);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli->output == CLI_OUTPUT_JSON)
        cli_print_json(cli, body);
    else
        fprintf(cli->out, "%s\n", cli_str(body, "token"));
    return CLI_EXIT_OK;
}

static int join(struct cli *cli, const char *token)
{
    if (strncmp(token, "http://", 7) == 0 || strncmp(token, "https://", 8) == 0)
        return cli_usage_error(cli, "'cluster join' takes a join token now, not a URL: make one "
                                    "with 'lmnetctl cluster join-token' against the registry, "
                                    "then run 'lmnetctl --server NEW_AGENT cluster join TOKEN'");
    _cleanup_json_ struct json_object *req = json_object_new_object();
    json_object_object_add(req, "token", json_object_new_string(token));
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "POST", "/v1/cluster/join", req, &body);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli->output == CLI_OUTPUT_JSON)
        cli_print_json(cli, body);
    else
        fprintf(cli->out, "%s (%s) is a member\n", cli_str(body, "name"), cli_str(body, "id"));
    return CLI_EXIT_OK;
}

static int remove_member(struct cli *cli, const char *id)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/cluster/members/%s", id);
    int r = cli_call(cli, "DELETE", path, NULL, NULL);
    if (r == CLI_EXIT_OK && cli->output != CLI_OUTPUT_JSON)
        fprintf(cli->out, "removed %s\n", id);
    return r;
}

int cli_cluster(struct cli *cli, int argc, char **argv)
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
    if (strcmp(verb, "members") == 0 || strcmp(verb, "list") == 0) {
        if (argc != 2)
            return cli_usage_error(cli, "'cluster members' takes no arguments");
        return members(cli);
    }
    if (strcmp(verb, "join-token") == 0) {
        long ttl = 0;
        if (argc == 4 && strcmp(argv[2], "--ttl") == 0) {
            char *end = NULL;
            ttl = strtol(argv[3], &end, 10);
            if (!*argv[3] || *end || ttl < 1)
                return cli_usage_error(cli, "--ttl needs a number of seconds");
        } else if (argc != 2) {
            return cli_usage_error(cli, "usage: lmnetctl cluster join-token [--ttl SECONDS]");
        }
        return join_token(cli, ttl);
    }
    if (strcmp(verb, "join") == 0) {
        if (argc != 3)
            return cli_usage_error(cli, "usage: lmnetctl cluster join TOKEN");
        return join(cli, argv[2]);
    }
    if (strcmp(verb, "remove") == 0) {
        if (argc != 3)
            return cli_usage_error(cli, "usage: lmnetctl cluster remove ID");
        return remove_member(cli, argv[2]);
    }
    return cli_usage_error(cli, "unknown command 'cluster %s'", verb);
}
