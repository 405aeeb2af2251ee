/* GET /v1/openapi.json: the embedded document, byte for byte. */
#include "api/openapi.h"

#include <errno.h>
#include "api/asset.h"

static int get_openapi(struct request *req, struct response *resp)
{
    (void)req;
    const struct asset *doc = asset_find("openapi.json");
    if (!doc)
        return -ENOENT; /* not possible in a normal build: the file is listed in CMakeLists.txt */
    return response_text(resp, 200, "application/json", doc->data, doc->length);
}

const struct route openapi_routes[] = {
    {HTTP_GET, "/v1/openapi.json", SCOPE_READ, get_openapi},
    {0, NULL, 0, NULL},
};
