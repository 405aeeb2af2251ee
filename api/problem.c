/* Problem details (RFC 9457) and the one errno-to-status map of the API. */
#include "api/problem.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct json_object *problem_new(int status, const char *type, const char *detail,
                                const char *pointer)
{
    char uri[160];
    if (type)
        snprintf(uri, sizeof(uri), PROBLEM_TYPE_BASE "%s", type);
    else
        snprintf(uri, sizeof(uri), "about:blank"); /* RFC 9457's "no particular type" */
    struct json_object *p = json_object_new_object();
    json_object_object_add(p, "type", json_object_new_string(uri));
    json_object_object_add(p, "title", json_object_new_string(problem_title(status)));
    json_object_object_add(p, "status", json_object_new_int(status));
    json_object_object_add(p, "detail", json_object_new_string(detail ? detail : ""));
    if (pointer)
        json_object_object_add(p, "pointer", json_object_new_string(pointer));
    return p;
}

const char *problem_title(int status)
{
    switch (status) {
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 412: return "Precondition Failed";
    case 413: return "Content Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 428: return "Precondition Required";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Error";
    }
}

int problem_status_from_errno(int err, const char **type)
{
    const char *t;
    int status;
    switch (err < 0 ? -err : err) {
    case ENOENT: status = 404; t = "not-found"; break;
    case EEXIST: status = 409; t = "conflict"; break;
    case EINVAL: status = 422; t = "invalid"; break;
    case EACCES: case EPERM: status = 403; t = "forbidden"; break;
    case EBUSY: case EAGAIN: status = 503; t = "busy"; break;
    case ENOSPC: status = 409; t = "exhausted"; break;
    case ESTALE: status = 412; t = "precondition-failed"; break;
    case ETIMEDOUT: status = 504; t = "timeout"; break;
    case EHOSTUNREACH: case ECONNREFUSED: status = 502; t = "unreachable"; break;
    case EBADMSG: status = 400; t = "malformed"; break;
    case EMSGSIZE: status = 413; t = "too-large"; break;
    default: status = 500; t = "internal"; break;
    }
    if (type)
        *type = t;
    return status;
}

int problem_status_of_refusal(enum refusal_kind kind)
{
    switch (kind) {
    case REFUSAL_INTERNAL: return 500;
    case REFUSAL_INVALID: return 422;
    case REFUSAL_NOT_FOUND: return 404;
    case REFUSAL_CONFLICT: return 409;
    case REFUSAL_UNAUTHENTICATED: return 401;
    case REFUSAL_FORBIDDEN: return 403;
    case REFUSAL_NOT_IMPLEMENTED: return 501;
    case REFUSAL_BAD_ANSWER: return 502;
    case REFUSAL_UNAVAILABLE: return 503;
    }
    return 500;
}

int problem_status_to_errno(int status)
{
    switch (status) {
    case 400: return -EBADMSG;
    case 401: case 403: return -EACCES;
    case 404: return -ENOENT;
    case 409: return -EEXIST;
    case 412: return -ESTALE;
    case 413: return -EMSGSIZE;
    case 422: return -EINVAL;
    case 502: return -EHOSTUNREACH;
    case 503: return -EBUSY;
    case 504: return -ETIMEDOUT;
    default: return -EIO;
    }
}

void problem_pointer_append(char *buf, size_t size, const char *token)
{
    size_t n = strlen(buf);
    if (n + 1 < size)
        buf[n++] = '/';
    for (; *token && n + 2 < size; token++) {
        if (*token == '~' || *token == '/') {
            buf[n++] = '~';
            buf[n++] = *token == '~' ? '0' : '1';
        } else {
            buf[n++] = *token;
        }
    }
    buf[n] = '\0';
}
