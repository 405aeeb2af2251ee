/* lmnetctl migrate and lmnetctl migration.
 *
 * "migrate --wait" polls GET /v1/migrations/{id} until the migration ends;
 * on a terminal it redraws one progress line (phase, percent of memory
 * sent, throughput, the last convergence step), elsewhere it prints a line
 * per phase change and per convergence step.  The exit
 * code is 0 only when the migration completed. */
#include "cli/cli_migration.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include "base/cleanup.h"
#include "base/clock.h"
#include "cli/table.h"

static const char migrate_usage[] =
    "Usage: lmnetctl migrate VM DESTINATION [options]\n"
    "\n"
    "Live-migrates VM (name or id) to the cluster member DESTINATION (name or id)\n"
    "over the cluster network with role 'migration'.  Any agent takes the request.\n"
    "\n"
    "Options:\n"
    "  --quick                    pause the VM first, then copy (quick migration)\n"
    "  --wait                     wait for the end, with a progress bar on a terminal\n"
    "  --channels N               parallel streams (1-16; default 1)\n"
    "  --downtime-limit MS        longest pause allowed at switchover\n"
    "  --bandwidth BYTES_PER_S    cap the transfer (default: no cap)\n"
    "  --allow-management-network use the management network when no migration\n"
    "                             network is up\n"
    "  --convert-dynamic-macs     give adapters with host-pool MACs static ones\n"
    "Convergence (defaults from the agent's configuration):\n"
    "  --downtime-schedule MS,... downtime limits to step through when rounds stop\n"
    "                             shrinking what remains (e.g. 300,1000,2000)\n"
    "  --auto-converge            let QEMU throttle a guest that dirties too fast\n"
    "  --postcopy                 allow post-copy as the last resort (one channel;\n"
    "                             if either host fails during it, the VM is lost)\n"
    "  --completion-timeout S     seconds per GiB of guest memory (0: none)\n"
    "  --timeout-action ACTION    then: abort (the VM stays), pause (force-complete)\n"
    "                             or postcopy\n";

static const char migration_usage[] =
    "Usage: lmnetctl migration COMMAND\n"
    "\n"
    "Commands:\n"
    "  list [--phase PHASE] [--role source|destination] [--vm VM]\n"
    "                 migrations this agent took part in (Id, Vm, Role, Phase, Network,\n"
    "                 Downtime, Gap, Error); -o wide adds Source, Destination, Mode and\n"
    "                 the whole Id.  PHASE: queued, preflight, preparing, transferring,\n"
    "                 switchover, finishing, completed, cancelling, cancelled, failed\n"
    "  show ID [--watch]\n"
    "                 one migration with its progress and journal; --watch follows it\n"
    "                 to its end (a progress bar on a terminal, a line per phase\n"
    "                 elsewhere; exit 0 only when it completed)\n"
    "  cancel ID      cancel a migration that has not reached switchover\n";

static int64_t num(struct json_object *obj, const char *key)
{
    struct json_object *v;
    if (!obj || !json_object_object_get_ex(obj, key, &v) || !v)
        return 0;
    return json_object_get_int64(v);
}

static bool is_final(const char *phase)
{
    return strcmp(phase, "completed") == 0 || strcmp(phase, "cancelled") == 0 ||
           strcmp(phase, "failed") == 0;
}

/* "downtime 1000 ms at 12.3 s", "postcopy at 20.0 s", ... for STEP. */
static void describe_step(struct json_object *step, char *buf, size_t size)
{
    const char *action = cli_str(step, "action");
    double at = (double)num(step, "at_ms") / 1000.0;
    if (strcmp(action, "raise-downtime") == 0)
        snprintf(buf, size, "downtime %lld ms at %.1f s", (long long)num(step, "downtime_ms"), at);
    else
        snprintf(buf, size, "%s at %.1f s", action, at);
}

static void draw(struct cli *cli, struct json_object *m, char *last_phase, size_t size,
                 size_t *steps_seen)
{
    const char *phase = cli_str(m, "phase");
    struct json_object *progress = NULL, *convergence = NULL, *steps = NULL;
    json_object_object_get_ex(m, "progress", &progress);
    int64_t total = num(progress, "bytes_total"), remaining = num(progress, "bytes_remaining");
    double mbps = progress ? json_object_get_double(json_object_object_get(progress, "mbps")) : 0;
    size_t n_steps = 0;
    if (progress && json_object_object_get_ex(progress, "convergence", &convergence) &&
        json_object_object_get_ex(convergence, "steps", &steps) &&
        json_object_is_type(steps, json_type_array))
        n_steps = json_object_array_length(steps);
    char step[80] = "";
    if (n_steps)
        describe_step(json_object_array_get_idx(steps, n_steps - 1), step, sizeof(step));
    if (!cli->interactive) {
        if (strcmp(phase, last_phase) != 0)
            fprintf(cli->out, "%s\n", phase);
        for (size_t i = *steps_seen; i < n_steps; i++) {
            struct json_object *s = json_object_array_get_idx(steps, i);
            describe_step(s, step, sizeof(step));
            fprintf(cli->out, "convergence: %s (%s)\n", step, cli_str(s, "reason"));
        }
        *steps_seen = n_steps > *steps_seen ? n_steps : *steps_seen;
        snprintf(last_phase, size, "%s", phase);
        return;
    }
    int percent = total > 0 ? (int)(100 * (total - remaining) / total) : 0;
    if (strcmp(phase, "completed") == 0)
        percent = 100;
    char bar[31];
    int filled = percent * 30 / 100;
    for (int i = 0; i < 30; i++)
        bar[i] = i < filled ? '#' : '.';
    bar[30] = '\0';
    int64_t throttle = num(progress, "cpu_throttle_percent");
    char extra[160] = "", cpu[40] = "";
    if (throttle > 0)
        snprintf(cpu, sizeof(cpu), "%s%lld%% cpu throttle", step[0] ? ", " : "",
                 (long long)throttle);
    if (step[0] || cpu[0])
        snprintf(extra, sizeof(extra), "  %s%s", step, cpu);
    /* The line shrinks when the step text does; clear what is left. */
    fprintf(cli->out, "\r[%s] %3d%%  %-13s %8.0f Mbit/s%s\033[K", bar, percent, phase, mbps, extra);
    fflush(cli->out);
    snprintf(last_phase, size, "%s", phase);
}

/* Polls migration ID; SOURCE (its source host's node id, or NULL when the
 * agent asked holds the migration) lets an agent that only relayed the
 * request find it. */
static int wait_for(struct cli *cli, const char *id, const char *source)
{
    char path[160], last[32] = "";
    size_t steps_seen = 0;
    snprintf(path, sizeof(path), "/v1/migrations/%s%s%s", id, source ? "?source=" : "",
             source ? source : "");
    for (;;) {
        _cleanup_json_ struct json_object *m = NULL;
        int r = cli_call(cli, "GET", path, NULL, &m);
        if (r != CLI_EXIT_OK)
            return r;
        draw(cli, m, last, sizeof(last), &steps_seen);
        const char *phase = cli_str(m, "phase");
        if (is_final(phase)) {
            if (cli->interactive)
                fputc('\n', cli->out);
            if (strcmp(phase, "completed") == 0) {
                fprintf(cli->out, "migrated %s: downtime %lld ms, switchover gap %lld ms\n",
                        cli_str(m, "vm"), (long long)num(m, "downtime_ms"),
                        (long long)num(m, "switchover_gap_ms"));
                return CLI_EXIT_OK;
            }
            fprintf(cli->err, "lmnetctl: migration %s %s: %s\n", id, phase, cli_str(m, "error"));
            return CLI_EXIT_REFUSED;
        }
        clock_sleep_ms(250);
    }
}

int cli_migrate(struct cli *cli, int argc, char **argv)
{
    static const struct option options[] = {
        {"quick", no_argument, NULL, 'q'},
        {"wait", no_argument, NULL, 'w'},
        {"channels", required_argument, NULL, 'c'},
        {"downtime-limit", required_argument, NULL, 'd'},
        {"bandwidth", required_argument, NULL, 'b'},
        {"allow-management-network", no_argument, NULL, 'M'},
        {"convert-dynamic-macs", no_argument, NULL, 'C'},
        {"downtime-schedule", required_argument, NULL, 'S'},
        {"auto-converge", no_argument, NULL, 'A'},
        {"postcopy", no_argument, NULL, 'P'},
        {"completion-timeout", required_argument, NULL, 'T'},
        {"timeout-action", required_argument, NULL, 'X'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    _cleanup_json_ struct json_object *req = json_object_new_object();
    struct json_object *opts = json_object_new_object();
    json_object_object_add(req, "options", opts);
    struct json_object *conv = json_object_new_object(); /* options.convergence, if any */
    json_object_object_add(opts, "convergence", conv);
    bool wait = false;
    optind = 0; /* 0, not 1: GNU getopt must forget the global flags it parsed */
    int c;
    while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
        char *end = NULL;
        long long v = 0;
        switch (c) {
        case 'q':
            json_object_object_add(req, "mode", json_object_new_string("quick"));
            break;
        case 'w':
            wait = true;
            break;
        case 'c':
        case 'd':
        case 'b':
            v = strtoll(optarg, &end, 10);
            if (!*optarg || *end || v < 0)
                return cli_usage_error(cli, "--%s needs a number",
                                       c == 'c' ? "channels"
                                       : c == 'd' ? "downtime-limit"
                                                  : "bandwidth");
            json_object_object_add(opts,
                                   c == 'c'   ? "channels"
                                   : c == 'd' ? "downtime_limit_ms"
                                              : "max_bandwidth",
                                   json_object_new_int64(v));
            break;
        case 'M':
            json_object_object_add(opts, "allow_management_network",
                                   json_object_new_boolean(true));
            break;
        case 'C':
            json_object_object_add(opts, "convert_dynamic_macs", json_object_new_boolean(true));
            break;
        case 'S': {
            /* The agent checks the values; here only that they are numbers. */
            struct json_object *list = json_object_new_array();
            json_object_object_add(conv, "downtime_schedule_ms", list);
            const char *s = optarg;
            do {
                v = strtoll(s, &end, 10);
                if (end == s || (*end && *end != ','))
                    return cli_usage_error(cli, "--downtime-schedule needs MS,MS,... "
                                                "(e.g. 300,1000,2000)");
                json_object_array_add(list, json_object_new_int64(v));
                s = *end ? end + 1 : end;
            } while (*end);
            break;
        }
        case 'A':
        case 'P':
            json_object_object_add(conv, c == 'A' ? "auto_converge" : "allow_postcopy",
                                   json_object_new_boolean(true));
            break;
        case 'T':
            v = strtoll(optarg, &end, 10);
            if (!*optarg || *end || v < 0)
                return cli_usage_error(cli, "--completion-timeout needs seconds per GiB");
            json_object_object_add(conv, "completion_timeout_per_gib_s", json_object_new_int64(v));
            break;
        case 'X':
            json_object_object_add(conv, "timeout_action", json_object_new_string(optarg));
            break;
        case 'h':
            fputs(migrate_usage, cli->out);
            return CLI_EXIT_OK;
        default:
            return cli_usage_error(cli, "unknown option for 'migrate'");
        }
    }
    if (optind != argc - 2)
        return cli_usage_error(cli, "usage: lmnetctl migrate VM DESTINATION [options]");
    if (json_object_object_length(conv) == 0)
        json_object_object_del(opts, "convergence");
    json_object_object_add(req, "vm", json_object_new_string(argv[optind]));
    json_object_object_add(req, "destination", json_object_new_string(argv[optind + 1]));
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "POST", "/v1/migrations", req, &body);
    if (r != CLI_EXIT_OK)
        return r;
    if (!wait) {
        if (cli->output == CLI_OUTPUT_JSON)
            cli_print_json(cli, body);
        else
            fprintf(cli->out, "migration %s queued; follow it with 'lmnetctl migration show %s'\n",
                    cli_str(body, "id"), cli_str(body, "id"));
        return CLI_EXIT_OK;
    }
    return wait_for(cli, cli_str(body, "id"), cli_str(body, "source"));
}

static void print_list(struct cli *cli, struct json_object *items)
{
    const char *headers[] = {"Id",    "Vm",    "Role",   "Phase",       "Network", "DowntimeMs",
                             "GapMs", "Error", "Source", "Destination", "Mode"};
    bool wide = cli->output == CLI_OUTPUT_WIDE;
    struct table *t = table_create(wide ? 11 : 8, headers);
    if (!t)
        return;
    for (size_t i = 0; i < json_object_array_length(items); i++) {
        struct json_object *m = json_object_array_get_idx(items, i);
        char id[64], down[24], gap[24], network[160] = "";
        snprintf(id, wide ? sizeof(id) : 9, "%s", cli_str(m, "id"));
        struct json_object *net = NULL;
        if (json_object_object_get_ex(m, "network", &net) && net && cli_str(net, "source_address")[0])
            snprintf(network, sizeof(network), "%s->%s", cli_str(net, "source_address"),
                     cli_str(net, "destination_address"));
        int64_t d = num(m, "downtime_ms"), g = num(m, "switchover_gap_ms");
        /* clang's -Wformat-zero-length refuses "" as a format: write no
         * figure for an unknown time rather than an empty format. */
        down[0] = gap[0] = '\0';
        if (d >= 0)
            snprintf(down, sizeof(down), "%lld", (long long)d);
        if (g >= 0)
            snprintf(gap, sizeof(gap), "%lld", (long long)g);
        const char *cells[] = {id,
                               cli_str(m, "vm"),
                               cli_str(m, "role"),
                               cli_str(m, "phase"),
                               network,
                               down,
                               gap,
                               cli_str(m, "error"),
                               cli_str(m, "source"),
                               cli_str(m, "destination"),
                               cli_str(m, "mode")};
        table_add_row(t, cells);
    }
    table_print(t, cli->out);
    table_destroy(t);
}

static int list(struct cli *cli, int argc, char **argv)
{
    static const char *const phases[] = {"queued",     "preflight", "preparing", "transferring",
                                         "switchover", "finishing", "completed", "cancelling",
                                         "cancelled",  "failed",    NULL};
    static const char *const roles[] = {"source", "destination", NULL};
    static const struct option options[] = {
        {"phase", required_argument, NULL, 'p'},
        {"role", required_argument, NULL, 'r'},
        {"vm", required_argument, NULL, 'v'},
        {NULL, 0, NULL, 0},
    };
    static const char usage[] =
        "usage: lmnetctl migration list [--phase PHASE] [--role ROLE] [--vm VM]";
    const char *phase = NULL, *role = NULL, *vm = NULL;
    optind = 0; /* 0, not 1: GNU getopt must forget the global flags it parsed */
    int c;
    while ((c = getopt_long(argc, argv, "", options, NULL)) != -1) {
        if (c == 'p' && cli_check_choice(cli, "--phase", optarg, phases))
            phase = optarg;
        else if (c == 'r' && cli_check_choice(cli, "--role", optarg, roles))
            role = optarg;
        else if (c == 'v')
            vm = optarg;
        else
            return c == '?' ? cli_usage_error(cli, "%s", usage) : CLI_EXIT_USAGE;
    }
    if (optind != argc)
        return cli_usage_error(cli, "%s", usage);
    _cleanup_json_ struct json_object *body = NULL;
    int r = cli_call(cli, "GET", "/v1/migrations", NULL, &body);
    if (r != CLI_EXIT_OK)
        return r;
    struct json_object *items = NULL;
    json_object_object_get_ex(body, "items", &items);
    _cleanup_json_ struct json_object *by_phase = cli_filter_items(items, "phase", NULL, phase);
    _cleanup_json_ struct json_object *by_role = cli_filter_items(by_phase, "role", NULL, role);
    _cleanup_json_ struct json_object *kept = cli_filter_items(by_role, "vm", "vm_id", vm);
    if (cli->output == CLI_OUTPUT_JSON) {
        if (phase || role || vm)
            json_object_object_add(body, "items", json_object_get(kept));
        cli_print_json(cli, body);
    } else if (kept) {
        print_list(cli, kept);
    }
    return CLI_EXIT_OK;
}

int cli_migration(struct cli *cli, int argc, char **argv)
{
    if (argc < 2) {
        fputs(migration_usage, cli->err);
        return CLI_EXIT_USAGE;
    }
    const char *verb = argv[1];
    if (cli_is_help(verb) || (argc > 2 && cli_is_help(argv[2]))) {
        fputs(migration_usage, cli->out);
        return CLI_EXIT_OK;
    }
    _cleanup_json_ struct json_object *body = NULL;
    if (strcmp(verb, "list") == 0)
        return list(cli, argc - 1, argv + 1);
    if (strcmp(verb, "show") == 0 && argc == 4 &&
        (strcmp(argv[2], "--watch") == 0 || strcmp(argv[3], "--watch") == 0))
        return wait_for(cli, strcmp(argv[2], "--watch") == 0 ? argv[3] : argv[2], NULL);
    if (strcmp(verb, "show") == 0 || strcmp(verb, "cancel") == 0) {
        if (argc != 3)
            return cli_usage_error(cli, "usage: lmnetctl migration %s ID", verb);
        char path[128];
        bool cancel = strcmp(verb, "cancel") == 0;
        snprintf(path, sizeof(path), "/v1/migrations/%s%s", argv[2], cancel ? "/cancel" : "");
        int r = cli_call(cli, cancel ? "POST" : "GET", path, NULL, &body);
        if (r != CLI_EXIT_OK)
            return r;
        /* One migration has too many fields for a row: JSON either way. */
        cli_print_json(cli, body);
        return CLI_EXIT_OK;
    }
    return cli_usage_error(cli, "unknown command 'migration %s'", verb);
}
