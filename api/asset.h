/* Files embedded into the binaries at build time (api/embed_assets.cmake):
 * the OpenAPI document and the web view's pages, so that the agent serves
 * them with nothing to install beside it and nothing fetched from
 * elsewhere. */
#ifndef LMNET_API_ASSET_H
#define LMNET_API_ASSET_H

#include <stddef.h>

struct asset {
    const char *name; /* path relative to api/: "openapi.json", "web/index.html" */
    const char *data; /* LENGTH bytes, followed by a NUL */
    size_t length;
};

extern const struct asset assets[];
extern const size_t assets_count;

/* The asset called NAME, or NULL. */
const struct asset *asset_find(const char *name);

/* The Content-Type for NAME by its extension ("text/html; charset=utf-8",
 * ...; application/octet-stream when unknown). */
const char *asset_content_type(const char *name);

#endif
