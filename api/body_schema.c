/* Closed request bodies, read once from the OpenAPI document at start.
 *
 * Only POST is checked: PATCH handlers refuse what they cannot change
 * themselves, with a message that says what can.  A request schema counts
 * when it, or the components schema its "$ref" names, says
 * "additionalProperties": false; its "properties" are the allowed names.
 * Nested objects (a VM's adapters, a migration's options) are checked by
 * their handlers. */
#include "api/body_schema.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct closed_body {
    char *pattern;
    char **fields;
    size_t n_fields;
};

struct body_schema {
    struct closed_body *bodies;
    size_t n_bodies;
};

/* The schema SCHEMA names, following one "$ref" into DOC's components. */
static struct json_object *resolve(struct json_object *doc, struct json_object *schema)
{
    struct json_object *ref = NULL;
    if (!json_object_object_get_ex(schema, "$ref", &ref))
        return schema;
    const char *prefix = "#/components/schemas/";
    const char *name = json_object_get_string(ref);
    if (!name || strncmp(name, prefix, strlen(prefix)) != 0)
        return NULL;
    struct json_object *components = NULL, *schemas = NULL, *target = NULL;
    if (!json_object_object_get_ex(doc, "components", &components) ||
        !json_object_object_get_ex(components, "schemas", &schemas) ||
        !json_object_object_get_ex(schemas, name + strlen(prefix), &target))
        return NULL;
    return target;
}

/* The closed JSON request schema of operation OP, or NULL. */
static struct json_object *closed_request_schema(struct json_object *doc, struct json_object *op)
{
    struct json_object *body = NULL, *content = NULL, *json = NULL, *schema = NULL, *extra = NULL;
    if (!json_object_object_get_ex(op, "requestBody", &body) ||
        !json_object_object_get_ex(body, "content", &content) ||
        !json_object_object_get_ex(content, "application/json", &json) ||
        !json_object_object_get_ex(json, "schema", &schema))
        return NULL;
    schema = resolve(doc, schema);
    if (!schema || !json_object_object_get_ex(schema, "additionalProperties", &extra) ||
        !json_object_is_type(extra, json_type_boolean) || json_object_get_boolean(extra))
        return NULL;
    return schema;
}

static int add_body(struct body_schema *s, const char *pattern, struct json_object *schema)
{
    struct closed_body *grown = realloc(s->bodies, (s->n_bodies + 1) * sizeof(*grown));
    if (!grown)
        return -ENOMEM;
    s->bodies = grown;
    struct closed_body *b = &s->bodies[s->n_bodies];
    memset(b, 0, sizeof(*b));
    s->n_bodies++;
    b->pattern = strdup(pattern);
    if (!b->pattern)
        return -ENOMEM;
    struct json_object *properties = NULL;
    if (!json_object_object_get_ex(schema, "properties", &properties) ||
        !json_object_is_type(properties, json_type_object))
        return 0; /* closed and empty: no member at all */
    size_t n = (size_t)json_object_object_length(properties);
    b->fields = calloc(n ? n : 1, sizeof(*b->fields));
    if (!b->fields)
        return -ENOMEM;
    json_object_object_foreach(properties, name, value)
    {
        (void)value;
        b->fields[b->n_fields] = strdup(name);
        if (!b->fields[b->n_fields])
            return -ENOMEM;
        b->n_fields++;
    }
    return 0;
}

int body_schema_create(const char *text, size_t length, struct body_schema **out)
{
    struct json_tokener *tok = json_tokener_new();
    if (!tok)
        return -ENOMEM;
    struct json_object *doc = json_tokener_parse_ex(tok, text, (int)length);
    json_tokener_free(tok);
    struct json_object *paths = NULL;
    if (!doc || !json_object_object_get_ex(doc, "paths", &paths) ||
        !json_object_is_type(paths, json_type_object)) {
        json_object_put(doc);
        return -EINVAL;
    }
    struct body_schema *s = calloc(1, sizeof(*s));
    if (!s) {
        json_object_put(doc);
        return -ENOMEM;
    }
    int r = 0;
    json_object_object_foreach(paths, pattern, ops)
    {
        struct json_object *post = NULL, *schema = NULL;
        if (r == 0 && json_object_object_get_ex(ops, "post", &post) &&
            (schema = closed_request_schema(doc, post)))
            r = add_body(s, pattern, schema);
    }
    json_object_put(doc);
    if (r < 0) {
        body_schema_destroy(s);
        return r;
    }
    *out = s;
    return 0;
}

void body_schema_destroy(struct body_schema *schema)
{
    if (!schema)
        return;
    for (size_t i = 0; i < schema->n_bodies; i++) {
        for (size_t j = 0; j < schema->bodies[i].n_fields; j++)
            free(schema->bodies[i].fields[j]);
        free(schema->bodies[i].fields);
        free(schema->bodies[i].pattern);
    }
    free(schema->bodies);
    free(schema);
}

static bool allows(const struct closed_body *b, const char *name)
{
    for (size_t i = 0; i < b->n_fields; i++)
        if (strcmp(b->fields[i], name) == 0)
            return true;
    return false;
}

int body_schema_check(const struct body_schema *schema, enum http_method method,
                      const char *pattern, struct json_object *body, char *field, size_t field_size,
                      char *allowed, size_t allowed_size)
{
    if (!schema || method != HTTP_POST || !pattern || !json_object_is_type(body, json_type_object))
        return 0;
    const struct closed_body *b = NULL;
    for (size_t i = 0; i < schema->n_bodies && !b; i++)
        if (strcmp(schema->bodies[i].pattern, pattern) == 0)
            b = &schema->bodies[i];
    if (!b)
        return 0;
    json_object_object_foreach(body, name, value)
    {
        (void)value;
        if (allows(b, name))
            continue;
        snprintf(field, field_size, "%s", name);
        size_t used = 0;
        if (allowed_size)
            allowed[0] = '\0';
        for (size_t i = 0; i < b->n_fields && used < allowed_size; i++) {
            int w =
                snprintf(allowed + used, allowed_size - used, "%s%s", i ? ", " : "", b->fields[i]);
            if (w < 0)
                break;
            used += (size_t)w;
        }
        if (b->n_fields == 0)
            snprintf(allowed, allowed_size, "(none)");
        return -EINVAL;
    }
    return 0;
}
