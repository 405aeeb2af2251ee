/* lmnetctl events: the audit log, oldest first, one page or (--all) every
 * page by following "next"; --follow then waits for new events (long polls
 * of GET /v1/events?wait=) and prints each as it comes, one line each (one
 * JSON object a line under -o json), until interrupted. */
#include "cli/cli_event.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "base/cleanup.h"
#include "cli/table.h"

static const char usage_text[] =
    "Usage: lmnetctl events [--kind KIND] [--after CURSOR] [--limit N] [--all]\n"
    "\n"
    "Lists the audit log (time, node, actor, kind, subject), oldest first.\n"
    "  --kind KIND      only events of this kind (e.g. mac.allocate, member.join)\n"
    "  --after CURSOR   start after this event id (the 'next' of a previous page)\n"
    "  --limit N        events per page, 1-1000 (default 100)\n"
    "  --all            follow the pages to the end\n"
    "  --follow         then print new events as they happen, until interrupted\n"
    "                   (without --after: only events from now on)\n";

/* Seconds each long poll may wait: well under the client's timeout. */
#define FOLLOW_WAIT_S 5

static void print_line(struct cli *cli, struct json_object *e)
{
    if (cli->output == CLI_OUTPUT_JSON) {
        fprintf(cli->out, "%s\n",
                json_object_to_json_string_ext(e, JSON_C_TO_STRING_PLAIN |
                                                      JSON_C_TO_STRING_NOSLASHESCAPE));
    } else {
        fprintf(cli->out, "%-6s %-24s %-8.8s %-12s %-20s %s\n", cli_str(e, "id"),
                cli_str(e, "time"), cli_str(e, "node"), cli_str(e, "actor"), cli_str(e, "kind"),
                cli_str(e, "subject"));
    }
    fflush(cli->out);
}

/* Prints every event after CURSOR as it comes (PRINT false: only moves
 * CURSOR to the end, for a follow that starts now).  Returns a cli_exit
 * code when a call fails; never returns otherwise. */
static int follow(struct cli *cli, char *cursor, size_t size, const char *kind, bool print)
{
    for (;;) {
        char path[256];
        snprintf(path, sizeof(path), "/v1/events?after=%s&limit=1000&wait=%d%s%s", cursor,
                 print ? FOLLOW_WAIT_S : 0, kind ? "&kind=" : "", kind ? kind : "");
        _cleanup_json_ struct json_object *body = NULL;
        int r = cli_call(cli, "GET", path, NULL, &body);
        if (r != CLI_EXIT_OK)
            return r;
        struct json_object *items = NULL;
        json_object_object_get_ex(body, "items", &items);
        size_t n = items ? json_object_array_length(items) : 0;
        for (size_t i = 0; i < n; i++)
            if (print)
                print_line(cli, json_object_array_get_idx(items, i));
        if (n)
            snprintf(cursor, size, "%s", cli_str(json_object_array_get_idx(items, n - 1), "id"));
        else if (!print)
            return CLI_EXIT_OK; /* at the end: start following */
    }
}

int cli_event(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        { "kind", required_argument, NULL, 'k' }, { "after", required_argument, NULL, 'a' },
        { "limit", required_argument, NULL, 'l' }, { "all", no_argument, NULL, 'A' },
        { "follow", no_argument, NULL, 'f' },      { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *kind = NULL, *after = NULL, *limit = "100";
    bool all = false, follow_on = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'k': kind = optarg; break;
        case 'a': after = optarg; break;
        case 'l': limit = optarg; break;
        case 'A': all = true; break;
        case 'f': follow_on = true; break;
        case 'h': fputs(usage_text, cli->out); return CLI_EXIT_OK;
        default: return cli_usage_error(cli, "events: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(cli, "events: unexpected argument '%s'", argv[optind]);
    if (after && (!*after || strspn(after, "0123456789") != strlen(after)))
        return cli_usage_error(cli, "events: --after takes an event id, e.g. 120");
    if (follow_on) {
        char from[32];
        snprintf(from, sizeof(from), "%s", after ? after : "0");
        if (!after) {
            int r = follow(cli, from, sizeof(from), kind, false);
            if (r != CLI_EXIT_OK)
                return r;
        }
        return follow(cli, from, sizeof(from), kind, true);
    }
    if (!after)
        after = "0";

    const char *headers[] = { "Id", "Time", "Node", "Actor", "Kind", "Subject" };
    struct table *t = cli->output != CLI_OUTPUT_JSON ? table_create(6, headers) : NULL;
    struct json_object *collected = json_object_new_array();
    char cursor[32];
    snprintf(cursor, sizeof(cursor), "%s", after);
    int r = CLI_EXIT_OK;
    bool more = false; /* the last page had a next: -o json says where to go on */
    for (;;) {
        char path[256];
        snprintf(path, sizeof(path), "/v1/events?after=%s&limit=%s%s%s", cursor, limit,
                 kind ? "&kind=" : "", kind ? kind : "");
        _cleanup_json_ struct json_object *body = NULL;
        r = cli_call(cli, "GET", path, NULL, &body);
        if (r != CLI_EXIT_OK)
            break;
        struct json_object *items = NULL, *next = NULL;
        json_object_object_get_ex(body, "items", &items);
        for (size_t i = 0; items && i < json_object_array_length(items); i++) {
            struct json_object *e = json_object_array_get_idx(items, i);
            json_object_array_add(collected, json_object_get(e));
            if (t) {
                const char *node = cli_str(e, "node");
                char short_node[9];
                snprintf(short_node, sizeof(short_node), "%s", node);
                const char *cells[] = { cli_str(e, "id"), cli_str(e, "time"), short_node, cli_str(e, "actor"),
                                        cli_str(e, "kind"), cli_str(e, "subject") };
                table_add_row(t, cells);
            }
        }
        more = json_object_object_get_ex(body, "next", &next) && next;
        if (more)
            snprintf(cursor, sizeof(cursor), "%s", json_object_get_string(next));
        if (!all || !more)
            break;
    }
    if (r == CLI_EXIT_OK) {
        if (t) {
            table_print(t, cli->out);
        } else {
            /* The API's list shape, as every other list prints. */
            struct json_object *list = json_object_new_object();
            json_object_object_add(list, "items", json_object_get(collected));
            json_object_object_add(list, "next", more ? json_object_new_string(cursor) : NULL);
            cli_print_json(cli, list);
            json_object_put(list);
        }
    }
    table_destroy(t);
    json_object_put(collected);
    return r;
}
