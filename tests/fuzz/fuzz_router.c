/* libFuzzer target: any request path, matched against the agent's real
 * route tables, must give a route, 404 or 405 and nothing else. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "api/router.h"
#include "api/routes.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct router *router;
    if (!router)
        router = router_create(api_route_tables, api_route_tables_count);
    if (size < 1)
        return 0;
    char *path = malloc(size);
    memcpy(path, data + 1, size - 1);
    path[size - 1] = '\0';
    struct request req = { 0 };
    const struct route *route = NULL;
    unsigned allowed = 0;
    int r = router_match(router, (enum http_method)(data[0] % HTTP_METHOD_COUNT), path, &route, &req,
                         &allowed);
    if (r == 0)
        router_release_params(&req);
    else if (r != -ENOENT && r != -EOPNOTSUPP && r != -ENOMEM)
        abort();
    free(path);
    return 0;
}
