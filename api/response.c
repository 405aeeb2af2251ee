/* Building responses: JSON bodies, extra headers, problems, ETags. */
#include "api/route.h"

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/problem.h"

int response_json(struct response *resp, int status, struct json_object *body)
{
    json_object_put(resp->body);
    resp->body = body;
    resp->status = status;
    return 0;
}

int response_text(struct response *resp, int status, const char *content_type, const char *text,
                  size_t length)
{
    char *copy = malloc(length + 1);
    if (!copy)
        return -ENOMEM;
    memcpy(copy, text, length);
    copy[length] = '\0';
    free(resp->text);
    resp->text = copy;
    resp->text_length = length;
    resp->content_type = content_type;
    resp->status = status;
    return 0;
}

int response_header(struct response *resp, const char *name, const char *value)
{
    if (resp->n_headers >= RESPONSE_MAX_HEADERS)
        return -E2BIG;
    char *n = strdup(name), *v = strdup(value);
    if (!n || !v) {
        free(n);
        free(v);
        return -ENOMEM;
    }
    resp->headers[resp->n_headers][0] = n;
    resp->headers[resp->n_headers][1] = v;
    resp->n_headers++;
    return 0;
}

int response_problem(struct response *resp, int status, const char *type, const char *pointer,
                     const char *detail_fmt, ...)
{
    char detail[1024];
    va_list ap;
    va_start(ap, detail_fmt);
    vsnprintf(detail, sizeof(detail), detail_fmt, ap);
    va_end(ap);
    response_json(resp, status, problem_new(status, type, detail, pointer));
    resp->content_type = "application/problem+json";
    return problem_status_to_errno(status);
}

int response_refusal(struct response *resp, const struct refusal *refusal)
{
    return response_problem(resp, problem_status_of_refusal(refusal->kind), refusal->type,
                            refusal->pointer[0] ? refusal->pointer : NULL, "%s", refusal->detail);
}

void etag_of_bytes(const char *data, size_t length, char *out, size_t out_size)
{
    /* FNV-1a: cheap, and any change shows. */
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < length; i++) {
        h ^= (unsigned char)data[i];
        h *= 0x100000001b3ull;
    }
    snprintf(out, out_size, "\"%016llx\"", (unsigned long long)h);
}

void etag_of_json(struct json_object *obj, char *out, size_t out_size)
{
    /* Over the canonical text. */
    const char *text = json_object_to_json_string_ext(obj, JSON_C_TO_STRING_PLAIN |
                                                               JSON_C_TO_STRING_NOSLASHESCAPE);
    etag_of_bytes(text, strlen(text), out, out_size);
}
