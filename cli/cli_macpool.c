/* lmnetctl macpool: MAC pools and their allocations. */
#include "cli/cli_macpool.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "base/cleanup.h"
#include "base/mac.h"
#include "cli/table.h"

static const char usage_text[] =
    "Usage: lmnetctl macpool COMMAND\n"
    "\n"
    "Commands:\n"
    "  list                       the pools (Name, Kind, Size, AllocatedHere, Ranges)\n"
    "  show POOL                  one pool and the addresses allocated from it on this host\n"
    "  create POOL START-END [START-END...] [--block-size N] [--description TEXT]\n"
    "                             a static, cluster-wide pool; ranges may not overlap\n"
    "                             another pool's, e.g. 00:1d:d8:b7:1c:00-00:1d:d8:f4:1f:ff\n"
    "  allocate POOL [--mac MAC] [--vm VM] [--adapter NAME] [--key KEY]\n"
    "                             the next free address (or MAC); KEY makes a retry\n"
    "                             return the same address\n"
    "  release POOL MAC           give an address back (on the host that allocated it)\n"
    "  set POOL [--add-range START-END]... [--remove-range START-END]... [--description TEXT]\n"
    "                             grow the pool, or shrink it where no block is claimed\n"
    "                             (remove a range and add a smaller one in one call)\n"
    "  delete POOL                remove a pool none of whose blocks is claimed\n"
    "\n"
    "'dynamic' is this host's own pool (00:15:5d + two octets of its management address).\n";

static void ranges_text(struct json_object *pool, char *out, size_t size)
{
    out[0] = '\0';
    struct json_object *ranges = NULL;
    if (!json_object_object_get_ex(pool, "ranges", &ranges))
        return;
    size_t used = 0;
    for (size_t i = 0; i < json_object_array_length(ranges) && used < size; i++) {
        struct json_object *r = json_object_array_get_idx(ranges, i);
        int n = snprintf(out + used, size - used, "%s%s-%s", i ? "," : "", cli_str(r, "start"),
                         cli_str(r, "end"));
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void print_pools(struct cli *cli, struct json_object *items)
{
    const char *headers[] = { "Name", "Kind", "Size", "AllocatedHere", "Ranges" };
    struct table *t = table_create(5, headers);
    if (!t)
        return;
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        struct json_object *p = json_object_array_get_idx(items, i);
        char ranges[512];
        ranges_text(p, ranges, sizeof(ranges));
        const char *cells[] = { cli_str(p, "name"), cli_str(p, "kind"), cli_str(p, "size"),
                                cli_str(p, "allocated_here"), ranges };
        table_add_row(t, cells);
    }
    table_print(t, cli->out);
    table_destroy(t);
}

static void print_allocations(struct cli *cli, struct json_object *items)
{
    const char *headers[] = { "Mac", "Vm", "Adapter", "Host" };
    struct table *t = table_create(4, headers);
    if (!t)
        return;
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        struct json_object *a = json_object_array_get_idx(items, i);
        const char *cells[] = { cli_str(a, "mac"), cli_str(a, "vm"), cli_str(a, "adapter"), cli_str(a, "host") };
        table_add_row(t, cells);
    }
    table_print(t, cli->out);
    table_destroy(t);
}

static int list(struct cli *cli)
{
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "GET", "/v1/mac-pools", NULL, &body);
    if (r != CLI_EXIT_OK)
        return r;
    struct json_object *items = NULL;
    if (cli->output == CLI_OUTPUT_JSON)
        cli_print_json(cli, body);
    else if (json_object_object_get_ex(body, "items", &items))
        print_pools(cli, items);
    return CLI_EXIT_OK;
}

static int show(struct cli *cli, const char *pool)
{
    char path[160];
    snprintf(path, sizeof(path), "/v1/mac-pools/%s", pool);
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "GET", path, NULL, &body);
    if (r != CLI_EXIT_OK)
        return r;
    snprintf(path, sizeof(path), "/v1/mac-pools/%s/allocations?limit=1000", pool);
    _cleanup_json_ struct json_object *allocs = NULL;
    r = cli_call(cli, "GET", path, NULL, &allocs);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli->output == CLI_OUTPUT_JSON) {
        json_object_object_add(body, "allocations", json_object_get(allocs));
        cli_print_json(cli, body);
        return CLI_EXIT_OK;
    }
    struct json_object *items = json_object_new_array();
    json_object_array_add(items, json_object_get(body));
    print_pools(cli, items);
    json_object_put(items);
    fputc('\n', cli->out);
    if (json_object_object_get_ex(allocs, "items", &items))
        print_allocations(cli, items);
    return CLI_EXIT_OK;
}

static int create(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        { "block-size", required_argument, NULL, 'b' },
        { "description", required_argument, NULL, 'd' },
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
        case 'b':
            v = strtol(optarg, &end, 10);
            if (!*optarg || *end || v <= 0)
                return cli_usage_error(cli, "--block-size needs a positive number");
            json_object_object_add(req, "block_size", json_object_new_int64(v));
            break;
        case 'd':
            json_object_object_add(req, "description", json_object_new_string(optarg));
            break;
        case 'h':
            fputs(usage_text, cli->out);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(cli, "unknown option for 'macpool create'");
        }
    }
    if (argc - optind < 2)
        return cli_usage_error(cli, "usage: lmnetctl macpool create POOL START-END [START-END...]");
    json_object_object_add(req, "name", json_object_new_string(argv[optind]));
    struct json_object *ranges = json_object_new_array();
    json_object_object_add(req, "ranges", ranges);
    for (int i = optind + 1; i < argc; i++) {
        struct mac_range range;
        if (mac_range_parse(argv[i], &range) < 0)
            return cli_usage_error(cli, "'%s' is not a range START-END", argv[i]);
        char start[MAC_STRING_SIZE], end[MAC_STRING_SIZE];
        struct json_object *r = json_object_new_object();
        json_object_object_add(r, "start", json_object_new_string(mac_format(range.start, start)));
        json_object_object_add(r, "end", json_object_new_string(mac_format(range.end, end)));
        json_object_array_add(ranges, r);
    }
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "POST", "/v1/mac-pools", req, &body);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli->output == CLI_OUTPUT_JSON) {
        cli_print_json(cli, body);
        return CLI_EXIT_OK;
    }
    struct json_object *items = json_object_new_array();
    json_object_array_add(items, json_object_get(body));
    print_pools(cli, items);
    json_object_put(items);
    return CLI_EXIT_OK;
}

static int allocate(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        { "mac", required_argument, NULL, 'm' },     { "vm", required_argument, NULL, 'v' },
        { "adapter", required_argument, NULL, 'a' }, { "key", required_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
    };
    _cleanup_json_ struct json_object *req = json_object_new_object();
    const char *key = NULL;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
        case 'm':
            json_object_object_add(req, "mac", json_object_new_string(optarg));
            break;
        case 'v':
            json_object_object_add(req, "vm", json_object_new_string(optarg));
            break;
        case 'a':
            json_object_object_add(req, "adapter", json_object_new_string(optarg));
            break;
        case 'k':
            key = optarg;
            break;
        case 'h':
            fputs(usage_text, cli->out);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(cli, "unknown option for 'macpool allocate'");
        }
    }
    if (argc - optind != 1)
        return cli_usage_error(cli, "usage: lmnetctl macpool allocate POOL [options]");
    char path[160];
    snprintf(path, sizeof(path), "/v1/mac-pools/%s/allocations", argv[optind]);
    _cleanup_json_ struct json_object *body = NULL;
    int r;
    if (key) {
        char header[200];
        snprintf(header, sizeof(header), "Idempotency-Key: %s", key);
        const char *headers[] = { header, NULL };
        struct client_reply reply;
        r = client_call(cli->client, "POST", path, req, headers, &reply);
        if (r < 0 || reply.status >= 300) {
            char line[600];
            fprintf(cli->err, "lmnetctl: %s\n", client_reply_message(&reply, line, sizeof(line)));
            client_reply_release(&reply);
            return r < 0 ? CLI_EXIT_TRANSPORT : CLI_EXIT_REFUSED;
        }
        body = reply.body;
        reply.body = NULL;
        client_reply_release(&reply);
    } else {
        r = cli_call(cli, "POST", path, req, &body);
        if (r != CLI_EXIT_OK)
            return r;
    }
    if (cli->output == CLI_OUTPUT_JSON) {
        cli_print_json(cli, body);
        return CLI_EXIT_OK;
    }
    fprintf(cli->out, "%s\n", cli_str(body, "mac"));
    return CLI_EXIT_OK;
}

static int release(struct cli *cli, const char *pool, const char *mac)
{
    char path[200];
    snprintf(path, sizeof(path), "/v1/mac-pools/%s/allocations/%s", pool, mac);
    int r = cli_call(cli, "DELETE", path, NULL, NULL);
    if (r == CLI_EXIT_OK && cli->output != CLI_OUTPUT_JSON)
        fprintf(cli->out, "released %s\n", mac);
    return r;
}

static struct json_object *range_json(const struct mac_range *range)
{
    char start[MAC_STRING_SIZE], end[MAC_STRING_SIZE];
    struct json_object *r = json_object_new_object();
    json_object_object_add(r, "start", json_object_new_string(mac_format(range->start, start)));
    json_object_object_add(r, "end", json_object_new_string(mac_format(range->end, end)));
    return r;
}

/* macpool set: reads the pool, adds and removes whole ranges, and PATCHes
 * the resulting list with If-Match, so a change made in between is not
 * overwritten. */
static int set(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"add-range", required_argument, NULL, 'a'},
        {"remove-range", required_argument, NULL, 'r'},
        {"description", required_argument, NULL, 'd'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct mac_range add[16], del[16];
    size_t n_add = 0, n_del = 0;
    const char *description = NULL;
    optind = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        struct mac_range range;
        switch (c) {
        case 'a':
        case 'r':
            if (mac_range_parse(optarg, &range) < 0)
                return cli_usage_error(cli, "'%s' is not a range START-END", optarg);
            if ((c == 'a' ? n_add : n_del) == 16)
                return cli_usage_error(cli, "at most 16 ranges");
            if (c == 'a')
                add[n_add++] = range;
            else
                del[n_del++] = range;
            break;
        case 'd': description = optarg; break;
        case 'h': fputs(usage_text, cli->out); return CLI_EXIT_OK;
        default: return cli_usage_error(cli, "unknown option for 'macpool set'");
        }
    }
    if (argc - optind != 1 || (!n_add && !n_del && !description))
        return cli_usage_error(cli, "usage: lmnetctl macpool set POOL [--add-range START-END]... "
                                    "[--remove-range START-END]... [--description TEXT]");
    char path[160];
    snprintf(path, sizeof(path), "/v1/mac-pools/%s", argv[optind]);
    struct client_reply reply;
    int r = client_call(cli->client, "GET", path, NULL, NULL, &reply);
    if (r < 0 || reply.status != 200) {
        char line[600];
        fprintf(cli->err, "lmnetctl: %s\n", client_reply_message(&reply, line, sizeof(line)));
        client_reply_release(&reply);
        return r < 0 ? CLI_EXIT_TRANSPORT : CLI_EXIT_REFUSED;
    }
    char if_match[80];
    snprintf(if_match, sizeof(if_match), "If-Match: %s", reply.etag ? reply.etag : "*");
    _cleanup_json_ struct json_object *req = json_object_new_object();
    if (n_add || n_del) {
        struct json_object *ranges = json_object_new_array(), *current = NULL;
        json_object_object_add(req, "ranges", ranges);
        json_object_object_get_ex(reply.body, "ranges", &current);
        bool removed[16] = {false};
        for (size_t i = 0; current && i < json_object_array_length(current); i++) {
            struct json_object *o = json_object_array_get_idx(current, i);
            struct mac_range range;
            if (mac_parse(cli_str(o, "start"), &range.start) < 0 ||
                mac_parse(cli_str(o, "end"), &range.end) < 0)
                continue;
            bool keep = true;
            for (size_t k = 0; k < n_del && keep; k++)
                if (del[k].start == range.start && del[k].end == range.end)
                    keep = !(removed[k] = true);
            if (keep)
                json_object_array_add(ranges, range_json(&range));
        }
        for (size_t k = 0; k < n_del; k++)
            if (!removed[k]) {
                char a[MAC_STRING_SIZE], e[MAC_STRING_SIZE];
                client_reply_release(&reply);
                return cli_usage_error(
                    cli, "pool '%s' has no range %s-%s (macpool show lists them)", argv[optind],
                    mac_format(del[k].start, a), mac_format(del[k].end, e));
            }
        for (size_t k = 0; k < n_add; k++)
            json_object_array_add(ranges, range_json(&add[k]));
    }
    client_reply_release(&reply);
    if (description)
        json_object_object_add(req, "description", json_object_new_string(description));
    const char *headers[] = {if_match, NULL};
    r = client_call(cli->client, "PATCH", path, req, headers, &reply);
    if (r < 0 || reply.status != 200) {
        char line[600];
        fprintf(cli->err, "lmnetctl: %s\n", client_reply_message(&reply, line, sizeof(line)));
        client_reply_release(&reply);
        return r < 0 ? CLI_EXIT_TRANSPORT : CLI_EXIT_REFUSED;
    }
    if (cli->output == CLI_OUTPUT_JSON) {
        cli_print_json(cli, reply.body);
    } else {
        struct json_object *items = json_object_new_array();
        json_object_array_add(items, json_object_get(reply.body));
        print_pools(cli, items);
        json_object_put(items);
    }
    client_reply_release(&reply);
    return CLI_EXIT_OK;
}

static int delete_pool(struct cli *cli, const char *pool)
{
    char path[160];
    snprintf(path, sizeof(path), "/v1/mac-pools/%s", pool);
    int r = cli_call(cli, "DELETE", path, NULL, NULL);
    if (r == CLI_EXIT_OK && cli->output != CLI_OUTPUT_JSON)
        fprintf(cli->out, "deleted pool %s\n", pool);
    return r;
}

int cli_macpool(struct cli *cli, int argc, char **argv)
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
        return argc == 2 ? list(cli) : cli_usage_error(cli, "'macpool list' takes no arguments");
    if (strcmp(verb, "show") == 0)
        return argc == 3 ? show(cli, argv[2]) : cli_usage_error(cli, "usage: lmnetctl macpool show POOL");
    if (strcmp(verb, "create") == 0)
        return create(cli, argc - 1, argv + 1);
    if (strcmp(verb, "allocate") == 0)
        return allocate(cli, argc - 1, argv + 1);
    if (strcmp(verb, "set") == 0)
        return set(cli, argc - 1, argv + 1);
    if (strcmp(verb, "delete") == 0)
        return argc == 3 ? delete_pool(cli, argv[2])
                         : cli_usage_error(cli, "usage: lmnetctl macpool delete POOL");
    if (strcmp(verb, "release") == 0)
        return argc == 4 ? release(cli, argv[2], argv[3])
                         : cli_usage_error(cli, "usage: lmnetctl macpool release POOL MAC");
    return cli_usage_error(cli, "unknown command 'macpool %s'", verb);
}
