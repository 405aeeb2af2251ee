/* Shared lmnetctl helpers: calling the agent, printing, confirming. */
#include "cli/cli.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* Prints a failed call's error on cli->err: one line, or JSON under -o json. */
static void print_error(struct cli *cli, const struct client_reply *reply, bool answered)
{
    char msg[1024];
    client_reply_message(reply, msg, sizeof(msg));
    if (cli->output != CLI_OUTPUT_JSON) {
        fprintf(cli->err, "lmnetctl: %s\n", msg);
        return;
    }
    struct json_object *problem = answered && reply->body ? json_object_get(reply->body) : NULL;
    if (!problem) {
        problem = json_object_new_object();
        json_object_object_add(problem, "type", json_object_new_string(answered ? "http" : "transport"));
        if (answered)
            json_object_object_add(problem, "status", json_object_new_int((int)reply->status));
        json_object_object_add(problem, "detail", json_object_new_string(msg));
    }
    fprintf(cli->err, "%s\n",
            json_object_to_json_string_ext(problem, JSON_C_TO_STRING_PLAIN |
                                                        JSON_C_TO_STRING_NOSLASHESCAPE));
    json_object_put(problem);
}

int cli_call(struct cli *cli, const char *method, const char *path,
             struct json_object *request_body, struct json_object **body)
{
    struct client_reply reply;
    int r = client_call(cli->client, method, path, request_body, NULL, &reply);
    if (r < 0) {
        print_error(cli, &reply, false);
        client_reply_release(&reply);
        return CLI_EXIT_TRANSPORT;
    }
    if (reply.status < 200 || reply.status > 299) {
        print_error(cli, &reply, true);
        client_reply_release(&reply);
        return CLI_EXIT_REFUSED;
    }
    if (body) {
        *body = reply.body;
        reply.body = NULL;
    }
    client_reply_release(&reply);
    return CLI_EXIT_OK;
}

void cli_print_json(struct cli *cli, struct json_object *obj)
{
    fprintf(cli->out, "%s\n",
            json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED |
                                                    JSON_C_TO_STRING_NOSLASHESCAPE));
}

bool cli_is_help(const char *arg)
{
    return arg && (strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0 || strcmp(arg, "help") == 0);
}

int cli_usage_error(struct cli *cli, const char *fmt, ...)
{
    va_list ap;
    fprintf(cli->err, "lmnetctl: ");
    va_start(ap, fmt);
    vfprintf(cli->err, fmt, ap);
    va_end(ap);
    fprintf(cli->err, "\n(run with --help for usage)\n");
    return CLI_EXIT_USAGE;
}

bool cli_confirm(struct cli *cli, const char *prompt)
{
    if (cli->assume_yes)
        return true;
    if (!isatty(STDIN_FILENO))
        return false;
    fprintf(cli->err, "%s [y/N] ", prompt);
    fflush(cli->err);
    char answer[16];
    if (!fgets(answer, sizeof(answer), stdin))
        return false;
    return answer[0] == 'y' || answer[0] == 'Y';
}

const char *cli_str(struct json_object *obj, const char *key)
{
    struct json_object *v;
    if (!obj || !json_object_object_get_ex(obj, key, &v) || !v)
        return "";
    return json_object_get_string(v);
}

/* Damerau-Levenshtein (optimal string alignment) distance of A and B, both
 * shorter than 64 bytes (longer: a large number). */
static size_t edit_distance(const char *a, const char *b)
{
    size_t n = strlen(a), m = strlen(b);
    if (n >= 64 || m >= 64)
        return 1000;
    size_t d[64][64];
    for (size_t i = 0; i <= n; i++)
        d[i][0] = i;
    for (size_t j = 0; j <= m; j++)
        d[0][j] = j;
    for (size_t i = 1; i <= n; i++)
        for (size_t j = 1; j <= m; j++) {
            size_t cost = a[i - 1] != b[j - 1];
            size_t best = d[i - 1][j] + 1;
            if (d[i][j - 1] + 1 < best)
                best = d[i][j - 1] + 1;
            if (d[i - 1][j - 1] + cost < best)
                best = d[i - 1][j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                d[i - 2][j - 2] + 1 < best)
                best = d[i - 2][j - 2] + 1;
            d[i][j] = best;
        }
    return d[n][m];
}

const char *cli_suggest(const char *word, const char *const *candidates)
{
    const char *best = NULL;
    size_t best_distance = 3, len = strlen(word);
    for (size_t i = 0; candidates[i]; i++) {
        size_t dist = edit_distance(word, candidates[i]);
        if (dist < best_distance && dist < len) {
            best = candidates[i];
            best_distance = dist;
        }
    }
    return best;
}

bool cli_check_choice(struct cli *cli, const char *option, const char *value,
                      const char *const *choices)
{
    for (size_t i = 0; choices[i]; i++)
        if (strcasecmp(value, choices[i]) == 0)
            return true;
    char list[256] = "";
    size_t used = 0;
    for (size_t i = 0; choices[i] && used < sizeof(list); i++) {
        int n = snprintf(list + used, sizeof(list) - used, "%s%s", i ? ", " : "", choices[i]);
        if (n < 0)
            break;
        used += (size_t)n;
    }
    cli_usage_error(cli, "%s must be one of %s, not '%s'", option, list, value);
    return false;
}

struct json_object *cli_filter_items(struct json_object *items, const char *key, const char *key2,
                                     const char *value)
{
    struct json_object *kept = json_object_new_array();
    for (size_t i = 0; kept && items && i < json_object_array_length(items); i++) {
        struct json_object *item = json_object_array_get_idx(items, i);
        if (value && strcasecmp(cli_str(item, key), value) != 0 &&
            (!key2 || strcasecmp(cli_str(item, key2), value) != 0))
            continue;
        json_object_array_add(kept, json_object_get(item));
    }
    return kept;
}
