/* The web view's files: see api/web.h. */
#include "api/web.h"

#include <stdio.h>
#include <string.h>
#include "api/asset.h"

#define WEB_CSP                                                                                    \
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "              \
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

static int serve(struct response *resp, const char *file)
{
    char name[128];
    /* The router hands one path segment: no '/' can be in FILE, so only
     * web/ files are reachable. */
    if (snprintf(name, sizeof(name), "web/%s", file) >= (int)sizeof(name) || file[0] == '.')
        return response_problem(resp, 404, "not-found", NULL, "no file %s in the web view", file);
    const struct asset *asset = asset_find(name);
    if (!asset)
        return response_problem(resp, 404, "not-found", NULL, "no file %s in the web view", file);
    int r = response_text(resp, 200, asset_content_type(name), asset->data, asset->length);
    if (r < 0)
        return r;
    response_header(resp, "Content-Security-Policy", WEB_CSP);
    response_header(resp, "X-Content-Type-Options", "nosniff");
    response_header(resp, "X-Frame-Options", "DENY");
    response_header(resp, "Referrer-Policy", "no-referrer");
    response_header(resp, "Cache-Control", "no-cache");
    return 0;
}

static int get_index(struct request *req, struct response *resp)
{
    (void)req;
    return serve(resp, "index.html");
}

static int get_file(struct request *req, struct response *resp)
{
    return serve(resp, request_param(req, "file"));
}

static int get_root(struct request *req, struct response *resp)
{
    (void)req;
    response_header(resp, "Location", "/ui/");
    return response_text(resp, 302, "text/plain; charset=utf-8", "see /ui/\n", 9);
}

const struct route web_routes[] = {
    {HTTP_GET, "/", SCOPE_NONE, get_root},
    {HTTP_GET, "/ui", SCOPE_NONE, get_root},
    {HTTP_GET, "/ui/", SCOPE_NONE, get_index},
    {HTTP_GET, "/ui/{file}", SCOPE_NONE, get_file},
    {0, NULL, 0, NULL},
};
