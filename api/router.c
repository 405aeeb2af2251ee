/* The router: a flat list of routes, matched segment by segment.
 *
 * We have a few dozen routes; a linear scan with early segment mismatch costs
 * well under a microsecond, far below anything else a request does, so there
 * is no trie.  A literal segment beats a {param} only by order: list literal
 * routes (e.g. /v1/cluster/networks) before parameterised siblings. */
#include "api/router.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/log.h"

struct router {
    size_t n_routes;
    const struct route **routes;
};

static size_t count_params(const char *pattern)
{
    size_t n = 0;
    for (const char *c = pattern; (c = strchr(c, '{')); c++)
        n++;
    return n;
}

struct router *router_create(const struct route *const *tables, size_t n_tables)
{
    size_t n = 0;
    for (size_t t = 0; t < n_tables; t++)
        for (const struct route *r = tables[t]; r->pattern; r++) {
            /* struct request holds ROUTE_MAX_PARAMS values: a longer pattern
             * could never be served, so refuse the table now. */
            if (count_params(r->pattern) > ROUTE_MAX_PARAMS) {
                log_error("route has more than %d parameters pattern=%s", ROUTE_MAX_PARAMS,
                          r->pattern);
                return NULL;
            }
            n++;
        }
    struct router *router = calloc(1, sizeof(*router));
    if (!router)
        return NULL;
    router->routes = calloc(n ? n : 1, sizeof(*router->routes));
    if (!router->routes) {
        free(router);
        return NULL;
    }
    for (size_t t = 0; t < n_tables; t++)
        for (const struct route *r = tables[t]; r->pattern; r++)
            router->routes[router->n_routes++] = r;
    return router;
}

void router_destroy(struct router *router)
{
    if (!router)
        return;
    free(router->routes);
    free(router);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* Percent-decodes LEN bytes of S into OUT (LEN + 1 bytes), or only checks
 * them when OUT is NULL.  Returns 0, or -EINVAL on a bad escape or an encoded
 * '/' or NUL. */
static int decode_segment(const char *s, size_t len, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi = i + 1 < len ? hex_value(s[i + 1]) : -1;
            int lo = i + 2 < len ? hex_value(s[i + 2]) : -1;
            c = hi < 0 || lo < 0 ? -1 : hi * 16 + lo;
            if (c <= 0 || c == '/')
                return -EINVAL;
            i += 2;
        }
        if (out)
            out[o++] = (char)c;
    }
    if (out)
        out[o] = '\0';
    return 0;
}

/* Matches PATH against PATTERN; on success fills params into REQ (when REQ
 * is not NULL).  A parameter with a bad escape does not match, so such a
 * path is a 404 like any other unknown path.  Returns 1 match, 0 no match,
 * -ENOMEM. */
static int match_pattern(const char *pattern, const char *path, struct request *req)
{
    const char *p = pattern, *s = path;
    size_t n_params = 0;
    while (*p && *s) {
        if (*p != '/' || *s != '/')
            return 0;
        p++;
        s++;
        const char *pend = strchrnul(p, '/');
        const char *send = strchrnul(s, '/');
        if (*p == '{') {
            if (send == s)
                return 0; /* empty segment never matches a parameter */
            size_t len = (size_t)(send - s);
            if (!req) {
                if (decode_segment(s, len, NULL) < 0)
                    return 0;
            } else {
                if (n_params >= ROUTE_MAX_PARAMS)
                    return 0; /* router_create() refused such patterns */
                char *value = malloc(len + 1);
                if (!value)
                    return -ENOMEM;
                if (decode_segment(s, len, value) < 0) {
                    free(value);
                    return 0;
                }
                /* The name is "{name}" without the braces; keep a pointer
                 * into the pattern and its length-bounded copy below. */
                req->param_values[n_params] = value;
                size_t name_len = (size_t)(pend - p) - 2; /* "{name}" without braces */
                if (name_len >= sizeof(req->param_names[0]))
                    name_len = sizeof(req->param_names[0]) - 1;
                memcpy(req->param_names[n_params], p + 1, name_len);
                req->param_names[n_params][name_len] = '\0';
                n_params++;
                req->n_params = n_params;
            }
        } else if ((size_t)(pend - p) != (size_t)(send - s) || memcmp(p, s, (size_t)(pend - p)) != 0) {
            return 0;
        }
        p = pend;
        s = send;
    }
    return *p == '\0' && *s == '\0';
}

int router_match(const struct router *router, enum http_method method, const char *path,
                 const struct route **route, struct request *req, unsigned *allowed)
{
    unsigned mask = 0;
    enum http_method want = method == HTTP_HEAD ? HTTP_GET : method;
    for (size_t i = 0; i < router->n_routes; i++) {
        const struct route *r = router->routes[i];
        if (!match_pattern(r->pattern, path, NULL))
            continue;
        mask |= 1u << r->method;
        if (r->method == HTTP_GET)
            mask |= 1u << HTTP_HEAD;
        if (r->method != want)
            continue;
        req->n_params = 0;
        if (match_pattern(r->pattern, path, req) != 1) {
            router_release_params(req);
            return -ENOMEM;
        }
        *route = r;
        return 0;
    }
    if (allowed)
        *allowed = mask;
    return mask ? -EOPNOTSUPP : -ENOENT;
}

void router_release_params(struct request *req)
{
    for (size_t i = 0; i < req->n_params; i++) {
        free(req->param_values[i]);
        req->param_values[i] = NULL;
    }
    req->n_params = 0;
}

void router_allow_header(unsigned allowed, char *buf, size_t size)
{
    size_t n = 0;
    buf[0] = '\0';
    for (unsigned m = 0; m < HTTP_METHOD_COUNT; m++) {
        if (!(allowed & (1u << m)))
            continue;
        int w = snprintf(buf + n, size - n, "%s%s", n ? ", " : "", http_method_to_string(m));
        if (w < 0 || (size_t)w >= size - n) {
            buf[n] = '\0'; /* whole names only, never "DEL" */
            break;
        }
        n += (size_t)w;
    }
}
