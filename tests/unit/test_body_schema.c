/* Unit tests for api/body_schema.c: POST bodies closed by the OpenAPI
 * document ("additionalProperties": false, inline or through a components
 * "$ref") refuse members the schema does not list; open schemas, other
 * methods and non-object bodies are not its to judge; and the embedded
 * api/openapi.json closes the real routes. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include "api/asset.h"
#include "api/body_schema.h"

static const char doc[] =
    "{\"paths\": {"
    "  \"/v1/things\": {\"post\": {\"requestBody\": {\"content\": {\"application/json\":"
    "     {\"schema\": {\"$ref\": \"#/components/schemas/ThingCreate\"}}}}}},"
    "  \"/v1/inline\": {\"post\": {\"requestBody\": {\"content\": {\"application/json\":"
    "     {\"schema\": {\"type\": \"object\", \"additionalProperties\": false,"
    "                 \"properties\": {\"ttl\": {\"type\": \"integer\"}}}}}}}},"
    "  \"/v1/open\": {\"post\": {\"requestBody\": {\"content\": {\"application/json\":"
    "     {\"schema\": {\"type\": \"object\", \"properties\": {\"a\": {}}}}}}}},"
    "  \"/v1/empty\": {\"post\": {\"requestBody\": {\"content\": {\"application/json\":"
    "     {\"schema\": {\"type\": \"object\", \"additionalProperties\": false}}}}}}"
    "},"
    "\"components\": {\"schemas\": {\"ThingCreate\": {\"type\": \"object\","
    "  \"additionalProperties\": false,"
    "  \"properties\": {\"name\": {}, \"size\": {}}}}}}";

static int check(const struct body_schema *s, enum http_method m, const char *pattern,
                 const char *body, char *field, char *allowed)
{
    struct json_object *obj = json_tokener_parse(body);
    int r = body_schema_check(s, m, pattern, obj, field, 64, allowed, 256);
    json_object_put(obj);
    return r;
}

static void test_closed_and_open(void **state)
{
    (void)state;
    struct body_schema *s = NULL;
    assert_int_equal(body_schema_create(doc, strlen(doc), &s), 0);
    char field[64] = "", allowed[256] = "";

    assert_int_equal(
        check(s, HTTP_POST, "/v1/things", "{\"name\":\"a\",\"size\":2}", field, allowed), 0);
    assert_int_equal(
        check(s, HTTP_POST, "/v1/things", "{\"name\":\"a\",\"colour\":2}", field, allowed),
        -EINVAL);
    assert_string_equal(field, "colour");
    assert_string_equal(allowed, "name, size");

    assert_int_equal(check(s, HTTP_POST, "/v1/inline", "{\"ttl\":5}", field, allowed), 0);
    assert_int_equal(check(s, HTTP_POST, "/v1/inline", "{\"ttl\":5,\"tll\":6}", field, allowed),
                     -EINVAL);
    assert_string_equal(field, "tll");

    assert_int_equal(check(s, HTTP_POST, "/v1/empty", "{}", field, allowed), 0);
    assert_int_equal(check(s, HTTP_POST, "/v1/empty", "{\"x\":1}", field, allowed), -EINVAL);
    assert_string_equal(allowed, "(none)");

    /* Not closed, not POST, not an object, not described: not judged here. */
    assert_int_equal(check(s, HTTP_POST, "/v1/open", "{\"zzz\":1}", field, allowed), 0);
    assert_int_equal(check(s, HTTP_PATCH, "/v1/things", "{\"colour\":1}", field, allowed), 0);
    assert_int_equal(check(s, HTTP_POST, "/v1/things", "[1,2]", field, allowed), 0);
    assert_int_equal(check(s, HTTP_POST, "/v1/nowhere", "{\"colour\":1}", field, allowed), 0);
    body_schema_destroy(s);
    body_schema_destroy(NULL);
}

static void test_not_a_document(void **state)
{
    (void)state;
    struct body_schema *s = NULL;
    assert_int_equal(body_schema_create("[]", 2, &s), -EINVAL);
    assert_int_equal(body_schema_create("{", 1, &s), -EINVAL);
}

/* The embedded document closes the bodies the agent takes: a misspelt
 * member of a VM, a pool, an allocation or a migration is refused. */
static void test_embedded_document(void **state)
{
    (void)state;
    const struct asset *a = asset_find("openapi.json");
    assert_non_null(a);
    struct body_schema *s = NULL;
    assert_int_equal(body_schema_create(a->data, a->length, &s), 0);
    char field[64], allowed[256];
    assert_int_equal(
        check(s, HTTP_POST, "/v1/vms", "{\"name\":\"web1\",\"memory\":512}", field, allowed),
        -EINVAL);
    assert_string_equal(field, "memory");
    assert_int_equal(
        check(s, HTTP_POST, "/v1/vms", "{\"name\":\"web1\",\"memory_mib\":512}", field, allowed),
        0);
    assert_int_equal(check(s, HTTP_POST, "/v1/mac-pools/{name}/allocations",
                           "{\"vm\":\"web1\",\"adapter\":\"eth0\",\"key\":\"k\"}", field, allowed),
                     -EINVAL);
    assert_int_equal(
        check(s, HTTP_POST, "/v1/migrations",
              "{\"vm\":\"web1\",\"destination\":\"h2\",\"mode\":\"live\",\"live\":true}", field,
              allowed),
        -EINVAL);
    /* What the source agent sends to prepare the destination. */
    assert_int_equal(check(s, HTTP_POST, "/v1/migrations/{id}/prepare",
                           "{\"id\":\"x\",\"source\":\"a\",\"destination\":\"b\",\"network\":\"n\","
                           "\"source_address\":\"s\",\"destination_address\":\"d\",\"quick\":false,"
                           "\"multifd\":\"direct\",\"options\":{},\"vm\":{},\"ports\":[]}",
                           field, allowed),
                     0);
    body_schema_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_closed_and_open),
        cmocka_unit_test(test_not_a_document),
        cmocka_unit_test(test_embedded_document),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
