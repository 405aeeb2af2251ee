/* lmnetctl events: the audit log, oldest first, one page or (--all) every
 * page by following "next". */
#include "api/cli_event.h"

#include <getopt.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include "agent/cleanup.h"
#include "api/table.h"

static const char usage_text[] =
    "Usage: lmnetctl events [--kind KIND] [--after CURSOR] [--limit N] [--all]\n"
    "\n"
    "Lists the audit log (time, node, actor, kind, subject), oldest first.\n"
    "  --kind KIND      only events of this kind (e.g. mac.allocate, member.join)\n"
    "  --after CURSOR   start after this event id (the 'next' of a previous page)\n"
    "  --limit N        events per page, 1-1000 (default 100)\n"
    "  --all            follow the pages to the end\n";

int cli_event(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        { "kind", required_argument, NULL, 'k' }, { "after", required_argument, NULL, 'a' },
        { "limit", required_argument, NULL, 'l' }, { "all", no_argument, NULL, 'A' },
        { "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 },
    };
    const char *kind = NULL, *after = "0", *limit = "100";
    bool all = false;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'k': kind = optarg; break;
        case 'a': after = optarg; break;
        case 'l': limit = optarg; break;
        case 'A': all = true; break;
        case 'h': fputs(usage_text, cli->out); return CLI_EXIT_OK;
        default: return cli_usage_error(cli, "events: unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return cli_usage_error(cli, "events: unexpected argument '%s'", argv[optind]);

    const char *headers[] = { "Id", "Time", "Node", "Actor", "Kind", "Subject" };
    struct table *t = cli->output == CLI_OUTPUT_TABLE ? table_create(6, headers) : NULL;
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
