/* lmnetctl host show | health | version. */
#include "cli/cli_host.h"

#include <string.h>
#include "base/cleanup.h"
#include "cli/table.h"

static const char *field(struct json_object *obj, const char *key)
{
    struct json_object *v;
    return json_object_object_get_ex(obj, key, &v) ? json_object_get_string(v) : "";
}

/* Prints OBJ's members as a two-column KEY VALUE table (or JSON). */
static int print_object(struct cli *cli, struct json_object *obj, const char *const *keys,
                        const char *const *labels, size_t n)
{
    if (cli->output == CLI_OUTPUT_JSON) {
        cli_print_json(cli, obj);
        return CLI_EXIT_OK;
    }
    for (size_t i = 0; i < n; i++)
        fprintf(cli->out, "%-10s %s\n", labels[i], field(obj, keys[i]));
    return CLI_EXIT_OK;
}

static int show_host(struct cli *cli)
{
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "GET", "/v1/host", NULL, &body);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli->output == CLI_OUTPUT_JSON) {
        cli_print_json(cli, body);
        return CLI_EXIT_OK;
    }
    struct json_object *up;
    double uptime = json_object_object_get_ex(body, "uptime_seconds", &up) ? json_object_get_double(up) : 0;
    char uptime_text[64];
    snprintf(uptime_text, sizeof(uptime_text), "%dd %02d:%02d:%02d", (int)(uptime / 86400),
             (int)(uptime / 3600) % 24, (int)(uptime / 60) % 60, (int)uptime % 60);
    const char *headers[] = { "NodeId", "Hostname", "Version", "Uptime", "Registry" };
    const char *cells[] = { field(body, "node_id"), field(body, "hostname"), field(body, "version"),
                            uptime_text, field(body, "registry") };
    struct table *t = table_create(5, headers);
    if (!t || table_add_row(t, cells) < 0) {
        table_destroy(t);
        return CLI_EXIT_TRANSPORT;
    }
    table_print(t, cli->out);
    table_destroy(t);
    return CLI_EXIT_OK;
}

static int show_simple(struct cli *cli, const char *path, const char *const *keys,
                       const char *const *labels, size_t n)
{
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "GET", path, NULL, &body);
    if (r != CLI_EXIT_OK)
        return r;
    return print_object(cli, body, keys, labels, n);
}

int cli_host(struct cli *cli, int argc, char **argv)
{
    if (argc < 2 || cli_is_help(argv[1])) {
        fprintf(argc < 2 ? cli->err : cli->out,
                "Usage: lmnetctl host show\n\n"
                "Shows this agent's node id, host name, version, uptime and registry.\n");
        return argc < 2 ? CLI_EXIT_USAGE : CLI_EXIT_OK;
    }
    if (strcmp(argv[1], "show") == 0) {
        if (argc > 2 && cli_is_help(argv[2])) {
            fprintf(cli->out, "Usage: lmnetctl host show\n");
            return CLI_EXIT_OK;
        }
        return show_host(cli);
    }
    return cli_usage_error(cli, "unknown command 'host %s'", argv[1]);
}

int cli_health(struct cli *cli, int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        fprintf(cli->out, "Usage: lmnetctl health\n\nShows whether the agent is healthy (no token needed).\n");
        return CLI_EXIT_OK;
    }
    static const char *const keys[] = { "status" };
    static const char *const labels[] = { "Status" };
    return show_simple(cli, "/v1/health", keys, labels, 1);
}

int cli_version(struct cli *cli, int argc, char **argv)
{
    if (argc > 1 && cli_is_help(argv[1])) {
        fprintf(cli->out, "Usage: lmnetctl version\n\nShows the agent's version and API version.\n");
        return CLI_EXIT_OK;
    }
    static const char *const keys[] = { "version", "api" };
    static const char *const labels[] = { "Version", "API" };
    if (cli->output == CLI_OUTPUT_JSON) {
        /* One JSON document: the agent's answer and this client's version. */
        _cleanup_json_ struct json_object *body = NULL;
        int r = cli_call(cli, "GET", "/v1/version", NULL, &body);
        if (r != CLI_EXIT_OK)
            return r;
        json_object_object_add(body, "client_version", json_object_new_string(LMNET_VERSION));
        cli_print_json(cli, body);
        return CLI_EXIT_OK;
    }
    fprintf(cli->out, "lmnetctl   %s\n", LMNET_VERSION);
    return show_simple(cli, "/v1/version", keys, labels, 2);
}
