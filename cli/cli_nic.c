/* lmnetctl nic: the host's NICs (GET /v1/host/nics), their offloads, and
 * what lmnet has bound to each. */
#include "cli/cli_nic.h"

#include <stdlib.h>
#include <string.h>
#include "base/cleanup.h"
#include "cli/table.h"

static const char usage_text[] =
    "Usage: lmnetctl nic COMMAND\n"
    "\n"
    "Commands:\n"
    "  list                         NICs (Name, State, Mac, Mtu, Speed, Addresses, Offloads)\n"
    "  set NAME OFFLOAD=on|off...   e.g. 'nic set eth1 tso=off gro=off'; prints what the\n"
    "                               kernel kept (rx_checksum, tx_checksum, tso, gso, gro)\n"
    "  bindings                     which NIC carries which switch and which of lmnet's\n"
    "                               listeners\n";

static void addresses_text(struct json_object *nic, char *out, size_t size)
{
    struct json_object *list = NULL;
    out[0] = '\0';
    json_object_object_get_ex(nic, "addresses", &list);
    size_t used = 0;
    for (size_t i = 0; list && i < json_object_array_length(list) && used < size; i++) {
        struct json_object *a = json_object_array_get_idx(list, i);
        int n = snprintf(out + used, size - used, "%s%s/%s", i ? "," : "", cli_str(a, "address"),
                         cli_str(a, "prefix"));
        if (n > 0)
            used += (size_t)n;
    }
}

static void offloads_text(struct json_object *nic, char *out, size_t size)
{
    struct json_object *o = NULL;
    out[0] = '\0';
    json_object_object_get_ex(nic, "offloads", &o);
    size_t used = 0;
    json_object_object_foreach(o, key, val) {
        if (!val || !json_object_get_boolean(val) || used >= size)
            continue;
        int n = snprintf(out + used, size - used, "%s%s", used ? "," : "", key);
        if (n > 0)
            used += (size_t)n;
    }
}

static int list(struct cli *cli)
{
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "GET", "/v1/host/nics", NULL, &body);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli->output == CLI_OUTPUT_JSON) {
        cli_print_json(cli, body);
        return CLI_EXIT_OK;
    }
    struct json_object *items = NULL;
    json_object_object_get_ex(body, "items", &items);
    const char *headers[] = { "Name", "State", "Mac", "Mtu", "SpeedMbps", "Addresses", "Offloads" };
    struct table *t = table_create(7, headers);
    for (size_t i = 0; t && items && i < json_object_array_length(items); i++) {
        struct json_object *n = json_object_array_get_idx(items, i);
        char addresses[512], offloads[128];
        addresses_text(n, addresses, sizeof(addresses));
        offloads_text(n, offloads, sizeof(offloads));
        const char *cells[] = { cli_str(n, "name"), cli_str(n, "state"), cli_str(n, "mac"),
                                cli_str(n, "mtu"), cli_str(n, "speed_mbps"), addresses, offloads };
        table_add_row(t, cells);
    }
    table_print(t, cli->out);
    table_destroy(t);
    return CLI_EXIT_OK;
}

static int set(struct cli *cli, int argc, char **argv)
{
    _cleanup_json_ struct json_object *req = json_object_new_object();
    struct json_object *offloads = json_object_new_object();
    json_object_object_add(req, "offloads", offloads);
    for (int i = 3; i < argc; i++) {
        const char *eq = strchr(argv[i], '=');
        if (!eq || (strcmp(eq + 1, "on") != 0 && strcmp(eq + 1, "off") != 0))
            return cli_usage_error(cli, "'%s' is not OFFLOAD=on|off", argv[i]);
        char key[32];
        snprintf(key, sizeof(key), "%.*s", (int)(eq - argv[i]), argv[i]);
        json_object_object_add(offloads, key, json_object_new_boolean(strcmp(eq + 1, "on") == 0));
    }
    char path[96];
    snprintf(path, sizeof(path), "/v1/host/nics/%s", argv[2]);
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "PATCH", path, req, &body);
    if (r != CLI_EXIT_OK)
        return r;
    if (cli->output == CLI_OUTPUT_JSON) {
        cli_print_json(cli, body);
        return CLI_EXIT_OK;
    }
    char now[128];
    offloads_text(body, now, sizeof(now));
    fprintf(cli->out, "%s offloads on: %s\n", argv[2], now[0] ? now : "none");
    struct json_object *refused = NULL;
    if (json_object_object_get_ex(body, "not_applied", &refused) && json_object_array_length(refused)) {
        fprintf(cli->err, "lmnetctl: the kernel kept these as they were: %s\n",
                json_object_to_json_string_ext(refused, JSON_C_TO_STRING_PLAIN));
        return CLI_EXIT_REFUSED;
    }
    return CLI_EXIT_OK;
}

/* Appends ", TEXT" (or TEXT) to BUF. */
static void append(char *buf, size_t size, const char *text)
{
    size_t used = strlen(buf);
    if (used + 2 < size)
        snprintf(buf + used, size - used, "%s%s", used ? ", " : "", text);
}

/* The roles of the cluster networks this host reaches over NIC, as
 * "migration (Cluster Network 2)". */
static void roles_text(struct json_object *networks, const char *node, const char *nic, char *out, size_t size)
{
    struct json_object *items = NULL;
    out[0] = '\0';
    json_object_object_get_ex(networks, "items", &items);
    for (size_t i = 0; items && i < json_object_array_length(items); i++) {
        struct json_object *net = json_object_array_get_idx(items, i), *ifs = NULL;
        json_object_object_get_ex(net, "interfaces", &ifs);
        for (size_t k = 0; ifs && k < json_object_array_length(ifs); k++) {
            struct json_object *it = json_object_array_get_idx(ifs, k);
            if (strcmp(cli_str(it, "node"), node) != 0 || strcmp(cli_str(it, "nic"), nic) != 0)
                continue;
            char text[128];
            snprintf(text, sizeof(text), "%s (%s)", cli_str(net, "role"), cli_str(net, "name"));
            append(out, size, text);
        }
    }
}

/* GET PATH without complaint: the body on 200, else NULL. */
static struct json_object *quiet_get(struct cli *cli, const char *path)
{
    struct client_reply reply;
    struct json_object *body = NULL;
    if (client_call(cli->client, "GET", path, NULL, NULL, &reply) == 0 && reply.status == 200)
        body = json_object_get(reply.body);
    client_reply_release(&reply);
    return body;
}

static int bindings(struct cli *cli)
{
    _cleanup_json_ struct json_object *nics = NULL, *switches = NULL, *host = NULL, *networks = NULL,
                                      *heartbeats = NULL;
    int r = cli_call(cli, "GET", "/v1/host/nics", NULL, &nics);
    if (r == CLI_EXIT_OK)
        r = cli_call(cli, "GET", "/v1/switches", NULL, &switches);
    if (r == CLI_EXIT_OK)
        r = cli_call(cli, "GET", "/v1/host", NULL, &host);
    if (r != CLI_EXIT_OK)
        return r;
    /* Roles and heartbeat listeners are shown when the agent can tell. */
    networks = quiet_get(cli, "/v1/cluster/networks");
    heartbeats = quiet_get(cli, "/v1/cluster/heartbeats");
    /* The API's own address, from the URL other agents reach it at. */
    char api_host[80];
    const char *url = cli_str(host, "url");
    client_url_host(url, api_host, sizeof(api_host));
    struct json_object *items = NULL, *sw = NULL, *hb = NULL, *out = json_object_new_array();
    json_object_object_get_ex(nics, "items", &items);
    json_object_object_get_ex(switches, "items", &sw);
    json_object_object_get_ex(heartbeats, "listeners", &hb);
    const char *headers[] = { "Nic", "Addresses", "Switches", "Role", "Listeners" };
    struct table *t = table_create(5, headers);
    for (size_t i = 0; items && i < json_object_array_length(items); i++) {
        struct json_object *n = json_object_array_get_idx(items, i);
        const char *name = cli_str(n, "name");
        char carried[256] = "", listeners[256] = "", addresses[512], roles[256];
        addresses_text(n, addresses, sizeof(addresses));
        roles_text(networks, cli_str(host, "node_id"), name, roles, sizeof(roles));
        for (size_t k = 0; sw && k < json_object_array_length(sw); k++) {
            struct json_object *s = json_object_array_get_idx(sw, k);
            if (strcmp(cli_str(s, "uplink"), name) == 0)
                append(carried, sizeof(carried), cli_str(s, "name"));
        }
        struct json_object *addrs = NULL;
        json_object_object_get_ex(n, "addresses", &addrs);
        for (size_t k = 0; addrs && k < json_object_array_length(addrs); k++) {
            const char *a = cli_str(json_object_array_get_idx(addrs, k), "address");
            char text[160];
            if (api_host[0] && strcmp(a, api_host) == 0) {
                snprintf(text, sizeof(text), "lmnetd API (%s)", url);
                append(listeners, sizeof(listeners), text);
            }
            for (size_t h = 0; hb && h < json_object_array_length(hb); h++) {
                struct json_object *l = json_object_array_get_idx(hb, h);
                if (strcmp(cli_str(l, "address"), a) == 0 && strcmp(cli_str(l, "bound"), "true") == 0) {
                    snprintf(text, sizeof(text), "heartbeats (udp %s:%s)", a, cli_str(heartbeats, "port"));
                    append(listeners, sizeof(listeners), text);
                }
            }
        }
        const char *cells[] = { name, addresses, carried, roles, listeners };
        if (t)
            table_add_row(t, cells);
        struct json_object *row = json_object_new_object();
        json_object_object_add(row, "nic", json_object_new_string(name));
        json_object_object_add(row, "switches", json_object_new_string(carried));
        json_object_object_add(row, "roles", json_object_new_string(roles));
        json_object_object_add(row, "listeners", json_object_new_string(listeners));
        json_object_array_add(out, row);
    }
    if (cli->output == CLI_OUTPUT_JSON) {
        struct json_object *list = json_object_new_object(); /* the API's list shape */
        json_object_object_add(list, "items", json_object_get(out));
        json_object_object_add(list, "next", NULL);
        cli_print_json(cli, list);
        json_object_put(list);
    } else if (t) {
        table_print(t, cli->out);
    }
    table_destroy(t);
    json_object_put(out);
    return CLI_EXIT_OK;
}

int cli_nic(struct cli *cli, int argc, char **argv)
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
    if (strcmp(verb, "list") == 0 && argc == 2)
        return list(cli);
    if (strcmp(verb, "bindings") == 0 && argc == 2)
        return bindings(cli);
    if (strcmp(verb, "set") == 0 && argc >= 4)
        return set(cli, argc, argv);
    return cli_usage_error(cli, "usage: lmnetctl nic list | set NAME OFFLOAD=on|off... | bindings");
}
