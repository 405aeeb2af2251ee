/* lmnetctl: the lmnet command line.
 *
 *   lmnetctl [GLOBAL OPTIONS] NOUN VERB [ARGS]
 *
 * Global options come before the noun; the noun's own function parses the
 * rest.  Defaults come from the environment (LMNET_SERVER, LMNET_TOKEN_FILE)
 * so that scripts need not repeat them. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/cleanup.h"
#include "cli/cli.h"
#include "client/client.h"

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: lmnetctl [OPTIONS] COMMAND [ARGS]\n"
            "\n"
            "Talks to an lmnet agent (lmnetd) over its REST API.\n"
            "\n"
            "Options:\n"
            "  -s, --server URL       agent URL (default $LMNET_SERVER or http://127.0.0.1:8470)\n"
            "  -t, --token-file FILE  file with the bearer token ('NAME SCOPE TOKEN' or the bare\n"
            "                         token; default $LMNET_TOKEN_FILE)\n"
            "  -o, --output FORMAT    table (default), wide (more columns) or json\n"
            "      --cacert FILE      CA certificate to check the agent's TLS certificate\n"
            "  -k, --insecure         do not check the agent's TLS certificate\n"
            "      --timeout SECONDS  give up on a call after this long (default 10)\n"
            "  -y, --yes              do not ask for confirmation\n"
            "  -h, --help             show this help; COMMAND --help for a command's\n"
            "\n"
            "Commands:\n");
    for (const struct cli_command *c = cli_commands; c->noun; c++)
        fprintf(out, "  %-10s %s\n", c->noun, c->summary);
    fprintf(out, "\nExit status: 0 ok, 1 the agent refused, 2 usage error, 3 agent unreachable.\n");
}

int main(int argc, char **argv)
{
    static const struct option options[] = {
        { "server", required_argument, NULL, 's' },
        { "token-file", required_argument, NULL, 't' },
        { "output", required_argument, NULL, 'o' },
        { "cacert", required_argument, NULL, 'C' },
        { "insecure", no_argument, NULL, 'k' },
        { "timeout", required_argument, NULL, 'T' },
        { "yes", no_argument, NULL, 'y' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    const char *server = getenv("LMNET_SERVER");
    const char *token_file = getenv("LMNET_TOKEN_FILE");
    struct client_options copts = { 0 };
    struct cli cli = { .out = stdout, .err = stderr, .interactive = isatty(STDOUT_FILENO) };
    int c;
    while ((c = getopt_long(argc, argv, "+s:t:o:kyhV", options, NULL)) != -1) {
        switch (c) {
        case 's': server = optarg; break;
        case 't': token_file = optarg; break;
        case 'o':
            if (strcmp(optarg, "json") == 0)
                cli.output = CLI_OUTPUT_JSON;
            else if (strcmp(optarg, "table") == 0)
                cli.output = CLI_OUTPUT_TABLE;
            else if (strcmp(optarg, "wide") == 0)
                cli.output = CLI_OUTPUT_WIDE;
            else
                return cli_usage_error(&cli, "--output must be 'table', 'wide' or 'json', not '%s'",
                                       optarg);
            break;
        case 'C': copts.ca_file = optarg; break;
        case 'k': copts.insecure = true; break;
        case 'T': {
            char *end;
            double s = strtod(optarg, &end);
            if (*end || s <= 0 || s > 86400)
                return cli_usage_error(&cli, "--timeout takes seconds, e.g. 30");
            copts.timeout_ms = (long)(s * 1000);
            break;
        }
        case 'y': cli.assume_yes = true; break;
        case 'h': usage(stdout); return CLI_EXIT_OK;
        case 'V': printf("lmnetctl %s\n", LMNET_VERSION); return CLI_EXIT_OK;
        default: usage(stderr); return CLI_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        usage(stderr);
        return CLI_EXIT_USAGE;
    }
    const char *noun = argv[optind];
    const struct cli_command *command = NULL;
    for (const struct cli_command *cmd = cli_commands; cmd->noun; cmd++)
        if (strcmp(cmd->noun, noun) == 0)
            command = cmd;
    if (!command) {
        if (cli_is_help(noun)) {
            usage(stdout);
            return CLI_EXIT_OK;
        }
        const char *nouns[64];
        size_t n = 0;
        for (const struct cli_command *cmd = cli_commands; cmd->noun && n < 63; cmd++)
            nouns[n++] = cmd->noun;
        nouns[n] = NULL;
        const char *guess = cli_suggest(noun, nouns);
        if (guess)
            return cli_usage_error(&cli, "unknown command '%s'; did you mean '%s'?", noun, guess);
        return cli_usage_error(&cli, "unknown command '%s'", noun);
    }

    _cleanup_free_ char *token = NULL;
    if (token_file) {
        char err[512];
        if (client_read_token_file(token_file, &token, err, sizeof(err)) < 0) {
            fprintf(stderr, "lmnetctl: token file %s\n", err);
            return CLI_EXIT_USAGE;
        }
    }
    copts.base_url = server ? server : "http://127.0.0.1:8470";
    copts.token = token;
    if (client_create(&copts, &cli.client) < 0) {
        fprintf(stderr, "lmnetctl: out of memory\n");
        return CLI_EXIT_TRANSPORT;
    }
    int r = command->run(&cli, argc - optind, argv + optind);
    client_destroy(cli.client);
    return r;
}
