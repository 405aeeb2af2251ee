/* Shared lmnetctl helpers: calling the agent, printing, confirming. */
#include "api/cli.h"

#include <stdarg.h>
#include <string.h>
#include <unistd.h>

int cli_call(struct cli *cli, const char *method, const char *path,
             struct json_object *request_body, struct json_object **body)
{
    struct client_reply reply;
    char msg[1024];
    int r = client_call(cli->client, method, path, request_body, NULL, &reply);
    if (r < 0) {
        fprintf(cli->err, "lmnetctl: %s\n", client_reply_message(&reply, msg, sizeof(msg)));
        client_reply_release(&reply);
        return CLI_EXIT_TRANSPORT;
    }
    if (reply.status < 200 || reply.status > 299) {
        fprintf(cli->err, "lmnetctl: %s\n", client_reply_message(&reply, msg, sizeof(msg)));
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
