/* Accessors a handler uses on the request, and the HTTP method names. */
#include "api/route.h"

#include <errno.h>
#include <microhttpd.h>
#include <string.h>

static const char *const method_names[HTTP_METHOD_COUNT] = {
    [HTTP_GET] = "GET",     [HTTP_HEAD] = "HEAD",   [HTTP_POST] = "POST",
    [HTTP_PUT] = "PUT",     [HTTP_PATCH] = "PATCH", [HTTP_DELETE] = "DELETE",
};

const char *http_method_to_string(enum http_method method)
{
    return (unsigned)method < HTTP_METHOD_COUNT ? method_names[method] : "?";
}

int http_method_from_string(const char *name, enum http_method *method)
{
    for (unsigned i = 0; name && i < HTTP_METHOD_COUNT; i++) {
        if (strcmp(name, method_names[i]) == 0) {
            *method = (enum http_method)i;
            return 0;
        }
    }
    return -EINVAL;
}

const char *request_param(const struct request *req, const char *name)
{
    for (size_t i = 0; i < req->n_params; i++)
        if (strcmp(req->param_names[i], name) == 0)
            return req->param_values[i];
    return NULL;
}

const char *request_header(const struct request *req, const char *name)
{
    return req->lookup ? req->lookup(req->lookup_ctx, MHD_HEADER_KIND, name) : NULL;
}

const char *request_query(const struct request *req, const char *name)
{
    return req->lookup ? req->lookup(req->lookup_ctx, MHD_GET_ARGUMENT_KIND, name) : NULL;
}

int request_check_if_match(const struct request *req, struct response *resp, const char *etag)
{
    const char *if_match = request_header(req, "If-Match");
    if (!if_match || strcmp(if_match, "*") == 0)
        return 0;
    if (!etag || !*etag)
        return response_problem(resp, 412, "precondition-failed", NULL,
                                "this resource has no ETag to match");
    /* If-Match may list several tags: "a", "b". */
    size_t len = strlen(etag);
    for (const char *p = if_match; (p = strstr(p, etag)); p += len) {
        char after = p[len];
        if ((p == if_match || p[-1] == ' ' || p[-1] == ',') &&
            (after == '\0' || after == ',' || after == ' '))
            return 0;
    }
    return response_problem(resp, 412, "precondition-failed", NULL,
                            "the resource changed since you read it (its ETag is now %s); "
                            "read it again and retry",
                            etag);
}
