/* lmnetctl's shared pieces: the session a subcommand runs in, and the
 * command table.
 *
 * lmnetctl NOUN VERB [ARGS]: cli/lmnetctl.c parses the global flags
 * (--server, --token-file, -o, ...), builds a struct cli and calls the noun's
 * function from cli_commands[] (cli/cli_commands.c lists them).  Each noun
 * lives in api/cli_NOUN.c.  A noun function returns the process exit code:
 * 0 success, 1 the server refused (the problem is printed as one line on
 * stderr), 2 usage error, 3 transport error. */
#ifndef LMNET_API_CLI_H
#define LMNET_API_CLI_H

#include <stdbool.h>
#include <stdio.h>
#include <json-c/json.h>
#include "client/client.h"

enum cli_output {
    CLI_OUTPUT_TABLE,
    CLI_OUTPUT_JSON,
    CLI_OUTPUT_WIDE, /* the table with more columns */
};

enum cli_exit {
    CLI_EXIT_OK = 0,
    CLI_EXIT_REFUSED = 1,
    CLI_EXIT_USAGE = 2,
    CLI_EXIT_TRANSPORT = 3,
};

struct cli {
    struct client *client;
    enum cli_output output;
    bool assume_yes;      /* --yes: no confirmation prompts */
    bool interactive;     /* stdout is a terminal (progress bars) */
    FILE *out;
    FILE *err;
};

struct cli_command {
    const char *noun;
    const char *summary;
    int (*run)(struct cli *cli, int argc, char **argv); /* argv[0] is the noun */
};

extern const struct cli_command cli_commands[];

/* Sends the request and, when the answer is not 2xx, prints the problem as one
 * line on cli->err (under -o json: the problem+json object itself, or
 * {"type": "transport", "detail": ...} when the agent did not answer).  On 2xx, *body (if BODY is not NULL) receives the parsed
 * JSON, owned by the caller.  Returns a cli_exit code.  REQUEST_BODY is not
 * consumed. */
int cli_call(struct cli *cli, const char *method, const char *path,
             struct json_object *request_body, struct json_object **body);

/* The string form of OBJ's member KEY, or "" when OBJ is NULL or the member
 * is missing or null (for table cells). */
const char *cli_str(struct json_object *obj, const char *key);

/* Prints OBJ as pretty JSON on cli->out. */
void cli_print_json(struct cli *cli, struct json_object *obj);

/* True when ARG is -h or --help. */
bool cli_is_help(const char *arg);

/* Prints "lmnetctl: MESSAGE" and a hint to run --help on cli->err, returns
 * CLI_EXIT_USAGE. */
int cli_usage_error(struct cli *cli, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The candidate closest to WORD by edit distance (insertions, deletions,
 * substitutions and swaps of two neighbours each cost 1), when it is close
 * enough to be a typo: at most 2 edits and fewer than WORD's length.  NULL
 * otherwise.  CANDIDATES is ended by NULL. */
const char *cli_suggest(const char *word, const char *const *candidates);

/* True when VALUE is one of CHOICES (ended by NULL), ignoring case.
 * Otherwise prints "OPTION must be one of ..." as a usage error and returns
 * false: a filter value that can never match is a mistake, not an empty
 * list. */
bool cli_check_choice(struct cli *cli, const char *option, const char *value,
                      const char *const *choices);

/* A new array (the caller owns it) of the items of ITEMS (an array, or NULL)
 * whose member KEY or, when KEY2 is not NULL, member KEY2 equals VALUE,
 * ignoring case.  A NULL VALUE keeps every item.  NULL on out of memory. */
struct json_object *cli_filter_items(struct json_object *items, const char *key, const char *key2,
                                     const char *value);

/* Asks "PROMPT [y/N]" on the terminal unless --yes; returns true on yes.
 * Without a terminal and without --yes, returns false. */
bool cli_confirm(struct cli *cli, const char *prompt);

#endif
