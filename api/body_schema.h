/* The request bodies the OpenAPI document (api/openapi.json, embedded in the
 * binary) closes with "additionalProperties": false: for each such POST
 * route, the member names its body may carry.  The server refuses any other
 * member with 422 before the handler runs, so a misspelt or unsupported
 * field is an error, never silently ignored (PATCH handlers check their own
 * fields).  The document is the one list: what it describes is what the
 * agent takes. */
#ifndef LMNET_API_BODY_SCHEMA_H
#define LMNET_API_BODY_SCHEMA_H

#include <stddef.h>
#include <json-c/json.h>
#include "api/route.h"

struct body_schema;

/* Reads the closed POST body schemas of the OpenAPI document TEXT (LENGTH
 * bytes).  On success *out owns them (body_schema_destroy()).  Returns 0,
 * -EINVAL when TEXT is not a JSON object, or -ENOMEM. */
int body_schema_create(const char *text, size_t length, struct body_schema **out);

/* Frees SCHEMA; NULL is a no-op. */
void body_schema_destroy(struct body_schema *schema);

/* Checks the top-level members of BODY (a JSON object; anything else passes
 * here and is the handler's to refuse) against the closed schema of METHOD
 * PATTERN, if the document has one.  Returns 0 when every member is allowed,
 * or -EINVAL with the first unknown member's name in FIELD (FIELD_SIZE
 * bytes) and the allowed names, comma-separated, in ALLOWED. */
int body_schema_check(const struct body_schema *schema, enum http_method method,
                      const char *pattern, struct json_object *body, char *field, size_t field_size,
                      char *allowed, size_t allowed_size);

#endif
