/* Unit tests for api/router.c: literal and {param} matching, percent-decoding
 * of parameters, what does not match (trailing slash, empty segments, bad
 * escapes), 404 versus 405 with the Allow mask, HEAD on GET routes, and the
 * ROUTE_MAX_PARAMS limit. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <errno.h>
#include <string.h>
#include "base/log.h"
#include "api/router.h"

static int handler_a(struct request *req, struct response *resp)
{
    (void)req;
    (void)resp;
    return 0;
}

static const struct route system_table[] = {
    {HTTP_GET, "/v1/health", SCOPE_NONE, handler_a},
    {HTTP_GET, "/v1/members", SCOPE_READ, handler_a},
    {HTTP_POST, "/v1/members", SCOPE_ADMIN, handler_a},
    {HTTP_GET, "/v1/members/{id}", SCOPE_READ, handler_a},
    {HTTP_DELETE, "/v1/members/{id}", SCOPE_ADMIN, handler_a},
    {HTTP_PUT, "/v1/pools/{pool}/allocations/{mac}", SCOPE_ADMIN, handler_a},
    {HTTP_POST, "/v1/only-post", SCOPE_ADMIN, handler_a},
    {HTTP_GET, "/v1/four/{p1}/{p2}/{p3}/{p4}", SCOPE_READ, handler_a},
    {0, NULL, 0, NULL},
};

static const struct route cluster_table[] = {
    {HTTP_GET, "/v1/cluster/networks", SCOPE_READ, handler_a},
    {HTTP_GET, "/v1/cluster/{thing}", SCOPE_READ, handler_a},
    {HTTP_PATCH, "/v1/cluster/{thing}", SCOPE_ADMIN, handler_a},
    {0, NULL, 0, NULL},
};

static const struct route *const tables[] = {system_table, cluster_table};

static int setup(void **state)
{
    log_set_level(LOG_LEVEL_ERROR);
    struct router *router = router_create(tables, 2);
    *state = router;
    return router ? 0 : -1;
}

static int teardown(void **state)
{
    router_destroy(*state);
    return 0;
}

/* Matches and expects success; returns the route. */
static const struct route *match_ok(struct router *router, enum http_method method,
                                    const char *path, struct request *req)
{
    const struct route *route = NULL;
    unsigned allowed = 0xdead;
    memset(req, 0, sizeof(*req));
    int r = router_match(router, method, path, &route, req, &allowed);
    if (r != 0)
        fail_msg("%s %s: expected a match, got %d", http_method_to_string(method), path, r);
    assert_non_null(route);
    return route;
}

/* Matches and expects failure R; returns the allowed mask. */
static unsigned match_fail(struct router *router, enum http_method method, const char *path,
                           int want)
{
    const struct route *route = NULL;
    unsigned allowed = 0;
    struct request req;
    memset(&req, 0, sizeof(req));
    int r = router_match(router, method, path, &route, &req, &allowed);
    if (r != want)
        fail_msg("%s %s: expected %d, got %d", http_method_to_string(method), path, want, r);
    assert_null(route);
    assert_int_equal(req.n_params, 0);
    assert_null(req.param_values[0]);
    return allowed;
}

static void test_literal(void **state)
{
    struct router *router = *state;
    struct request req;
    const struct route *route = match_ok(router, HTTP_GET, "/v1/health", &req);
    assert_ptr_equal(route, &system_table[0]);
    assert_int_equal(req.n_params, 0);

    route = match_ok(router, HTTP_GET, "/v1/members", &req);
    assert_ptr_equal(route, &system_table[1]);
    route = match_ok(router, HTTP_POST, "/v1/members", &req);
    assert_ptr_equal(route, &system_table[2]);

    /* A literal route listed before a parameterised sibling wins. */
    route = match_ok(router, HTTP_GET, "/v1/cluster/networks", &req);
    assert_ptr_equal(route, &cluster_table[0]);
    assert_int_equal(req.n_params, 0);

    match_fail(router, HTTP_GET, "/v1/healthz", -ENOENT);
    match_fail(router, HTTP_GET, "/v1/healt", -ENOENT);
    match_fail(router, HTTP_GET, "/v2/health", -ENOENT);
    match_fail(router, HTTP_GET, "/V1/health", -ENOENT);
    match_fail(router, HTTP_GET, "v1/health", -ENOENT);
    match_fail(router, HTTP_GET, "", -ENOENT);
    match_fail(router, HTTP_GET, "/", -ENOENT);
    match_fail(router, HTTP_GET, "/v1", -ENOENT);
}

static void test_params(void **state)
{
    struct router *router = *state;
    struct request req;
    const struct route *route = match_ok(router, HTTP_GET, "/v1/members/abc-123", &req);
    assert_ptr_equal(route, &system_table[3]);
    assert_int_equal(req.n_params, 1);
    assert_string_equal(req.param_names[0], "id");
    assert_string_equal(request_param(&req, "id"), "abc-123");
    assert_null(request_param(&req, "name"));
    router_release_params(&req);
    assert_int_equal(req.n_params, 0);
    assert_null(req.param_values[0]);
    assert_null(request_param(&req, "id"));

    route = match_ok(router, HTTP_DELETE, "/v1/members/x", &req);
    assert_ptr_equal(route, &system_table[4]);
    assert_string_equal(request_param(&req, "id"), "x");
    router_release_params(&req);

    route = match_ok(router, HTTP_PUT, "/v1/pools/blue/allocations/52:54:00:aa:bb:cc", &req);
    assert_ptr_equal(route, &system_table[5]);
    assert_int_equal(req.n_params, 2);
    assert_string_equal(request_param(&req, "pool"), "blue");
    assert_string_equal(request_param(&req, "mac"), "52:54:00:aa:bb:cc");
    router_release_params(&req);

    route = match_ok(router, HTTP_GET, "/v1/cluster/storage", &req);
    assert_ptr_equal(route, &cluster_table[1]);
    assert_string_equal(request_param(&req, "thing"), "storage");
    router_release_params(&req);

    /* Exactly ROUTE_MAX_PARAMS parameters are captured. */
    route = match_ok(router, HTTP_GET, "/v1/four/a/b/c/d", &req);
    assert_ptr_equal(route, &system_table[7]);
    assert_int_equal(req.n_params, ROUTE_MAX_PARAMS);
    assert_string_equal(request_param(&req, "p1"), "a");
    assert_string_equal(request_param(&req, "p2"), "b");
    assert_string_equal(request_param(&req, "p3"), "c");
    assert_string_equal(request_param(&req, "p4"), "d");
    router_release_params(&req);

    /* A literal segment after a parameter must still match exactly. */
    match_fail(router, HTTP_PUT, "/v1/pools/blue/allocation/x", -ENOENT);
    match_fail(router, HTTP_GET, "/v1/four/a/b/c", -ENOENT);
    match_fail(router, HTTP_GET, "/v1/four/a/b/c/d/e", -ENOENT);
}

static void test_percent_decoding(void **state)
{
    struct router *router = *state;
    struct request req;
    const struct {
        const char *path, *value;
    } good[] = {
        {"/v1/members/a%20b", "a b"},
        {"/v1/members/%41%42c", "ABc"},
        {"/v1/members/%2a%2A", "**"},
        {"/v1/members/%7e", "~"},
        {"/v1/members/%25", "%"},
        {"/v1/members/%3A%3a", "::"},
        {"/v1/members/caf%C3%A9", "caf\xc3\xa9"},
        {"/v1/members/a+b", "a+b"}, /* '+' is not a space in a path */
    };
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        match_ok(router, HTTP_GET, good[i].path, &req);
        assert_int_equal(req.n_params, 1);
        assert_string_equal(request_param(&req, "id"), good[i].value);
        router_release_params(&req);
    }

    /* An encoded '/' or NUL, or a broken escape, is no resource at all: 404,
     * not a server error. */
    static const char *const bad[] = {
        "/v1/members/a%2Fb", "/v1/members/a%2fb", "/v1/members/%00",  "/v1/members/a%00b",
        "/v1/members/%",     "/v1/members/a%",    "/v1/members/%2",   "/v1/members/%zz",
        "/v1/members/%g0",   "/v1/members/%0g",   "/v1/members/%%41",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        match_fail(router, HTTP_GET, bad[i], -ENOENT);
        match_fail(router, HTTP_DELETE, bad[i], -ENOENT);
        /* Not a 405 either: the path names nothing, whatever the method. */
        match_fail(router, HTTP_PATCH, bad[i], -ENOENT);
    }
    /* A bad escape in the second parameter does not leak the first. */
    match_fail(router, HTTP_PUT, "/v1/pools/blue/allocations/%2F", -ENOENT);
    match_fail(router, HTTP_GET, "/v1/four/a/b/c/%", -ENOENT);
}

static void test_slashes(void **state)
{
    struct router *router = *state;
    match_fail(router, HTTP_GET, "/v1/members/abc/", -ENOENT); /* trailing slash */
    match_fail(router, HTTP_GET, "/v1/members/", -ENOENT);     /* empty parameter */
    match_fail(router, HTTP_GET, "/v1/members//", -ENOENT);
    match_fail(router, HTTP_GET, "/v1/members//abc", -ENOENT);
    match_fail(router, HTTP_GET, "/v1//members", -ENOENT);
    match_fail(router, HTTP_GET, "/v1/health/", -ENOENT);
    match_fail(router, HTTP_GET, "//v1/health", -ENOENT);
    match_fail(router, HTTP_PUT, "/v1/pools//allocations/x", -ENOENT);
    match_fail(router, HTTP_PUT, "/v1/pools/p/allocations/", -ENOENT);
    match_fail(router, HTTP_GET, "/v1/cluster/", -ENOENT);
}

static void test_method_not_allowed(void **state)
{
    struct router *router = *state;
    char allow[64];

    unsigned allowed = match_fail(router, HTTP_DELETE, "/v1/members", -EOPNOTSUPP);
    assert_int_equal(allowed, (1u << HTTP_GET) | (1u << HTTP_HEAD) | (1u << HTTP_POST));
    router_allow_header(allowed, allow, sizeof(allow));
    assert_string_equal(allow, "GET, HEAD, POST");

    allowed = match_fail(router, HTTP_PATCH, "/v1/members/x", -EOPNOTSUPP);
    assert_int_equal(allowed, (1u << HTTP_GET) | (1u << HTTP_HEAD) | (1u << HTTP_DELETE));
    router_allow_header(allowed, allow, sizeof(allow));
    assert_string_equal(allow, "GET, HEAD, DELETE");

    allowed = match_fail(router, HTTP_POST, "/v1/health", -EOPNOTSUPP);
    assert_int_equal(allowed, (1u << HTTP_GET) | (1u << HTTP_HEAD));

    /* HEAD is not offered where there is no GET. */
    allowed = match_fail(router, HTTP_HEAD, "/v1/only-post", -EOPNOTSUPP);
    assert_int_equal(allowed, 1u << HTTP_POST);
    router_allow_header(allowed, allow, sizeof(allow));
    assert_string_equal(allow, "POST");

    /* The mask collects methods from both tables' matching routes. */
    allowed = match_fail(router, HTTP_DELETE, "/v1/cluster/networks", -EOPNOTSUPP);
    assert_int_equal(allowed, (1u << HTTP_GET) | (1u << HTTP_HEAD) | (1u << HTTP_PATCH));

    /* A method the server never serves (the server passes HTTP_METHOD_COUNT). */
    allowed = match_fail(router, HTTP_METHOD_COUNT, "/v1/members", -EOPNOTSUPP);
    assert_int_equal(allowed, (1u << HTTP_GET) | (1u << HTTP_HEAD) | (1u << HTTP_POST));
    assert_int_equal(match_fail(router, HTTP_METHOD_COUNT, "/nope", -ENOENT), 0);

    /* 404 reports an empty mask. */
    allowed = match_fail(router, HTTP_GET, "/v1/nothing", -ENOENT);
    assert_int_equal(allowed, 0);

    /* allowed may be NULL. */
    const struct route *route = NULL;
    struct request req;
    memset(&req, 0, sizeof(req));
    assert_int_equal(router_match(router, HTTP_PUT, "/v1/health", &route, &req, NULL), -EOPNOTSUPP);
}

static void test_head_matches_get(void **state)
{
    struct router *router = *state;
    struct request req;
    const struct route *route = match_ok(router, HTTP_HEAD, "/v1/health", &req);
    assert_ptr_equal(route, &system_table[0]);
    assert_int_equal(route->method, HTTP_GET);
    route = match_ok(router, HTTP_HEAD, "/v1/members/m1", &req);
    assert_ptr_equal(route, &system_table[3]);
    assert_string_equal(request_param(&req, "id"), "m1");
    router_release_params(&req);
}

static void test_allow_header(void **state)
{
    (void)state;
    char buf[64];
    router_allow_header(0, buf, sizeof(buf));
    assert_string_equal(buf, "");
    router_allow_header((1u << HTTP_METHOD_COUNT) - 1, buf, sizeof(buf));
    assert_string_equal(buf, "GET, HEAD, POST, PUT, PATCH, DELETE");
    router_allow_header(1u << HTTP_DELETE, buf, sizeof(buf));
    assert_string_equal(buf, "DELETE");
    /* A short buffer holds whole method names only. */
    router_allow_header((1u << HTTP_GET) | (1u << HTTP_HEAD) | (1u << HTTP_POST), buf, 10);
    assert_string_equal(buf, "GET, HEAD");
    router_allow_header(1u << HTTP_DELETE, buf, 4);
    assert_string_equal(buf, "");
}

static void test_method_names(void **state)
{
    (void)state;
    static const char *const names[] = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"};
    for (unsigned i = 0; i < HTTP_METHOD_COUNT; i++) {
        enum http_method m;
        assert_string_equal(http_method_to_string((enum http_method)i), names[i]);
        assert_int_equal(http_method_from_string(names[i], &m), 0);
        assert_int_equal(m, i);
    }
    enum http_method m = HTTP_GET;
    assert_int_equal(http_method_from_string("get", &m), -EINVAL);
    assert_int_equal(http_method_from_string("OPTIONS", &m), -EINVAL);
    assert_int_equal(http_method_from_string("", &m), -EINVAL);
    assert_string_equal(http_method_to_string(HTTP_METHOD_COUNT), "?");
}

/* A pattern with more parameters than struct request can hold is a bug in a
 * route table: the router refuses the table when it is built, instead of
 * failing every request to that path. */
static void test_too_many_params(void **state)
{
    (void)state;
    static const struct route five[] = {
        {HTTP_GET, "/v1/ok", SCOPE_READ, handler_a},
        {HTTP_GET, "/v1/five/{a}/{b}/{c}/{d}/{e}", SCOPE_READ, handler_a},
        {0, NULL, 0, NULL},
    };
    static const struct route *const five_tables[] = {five};
    struct router *router = router_create(five_tables, 1);
    assert_null(router);
    router_destroy(NULL);

    static const struct route four[] = {
        {HTTP_GET, "/v1/{a}/{b}/{c}/{d}", SCOPE_READ, handler_a},
        {0, NULL, 0, NULL},
    };
    static const struct route *const four_tables[] = {four};
    router = router_create(four_tables, 1);
    assert_non_null(router);
    router_destroy(router);

    /* An empty set of tables is a router that matches nothing. */
    router = router_create(NULL, 0);
    assert_non_null(router);
    const struct route *route = NULL;
    struct request req;
    memset(&req, 0, sizeof(req));
    assert_int_equal(router_match(router, HTTP_GET, "/v1/health", &route, &req, NULL), -ENOENT);
    router_destroy(router);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_literal, setup, teardown),
        cmocka_unit_test_setup_teardown(test_params, setup, teardown),
        cmocka_unit_test_setup_teardown(test_percent_decoding, setup, teardown),
        cmocka_unit_test_setup_teardown(test_slashes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_method_not_allowed, setup, teardown),
        cmocka_unit_test_setup_teardown(test_head_matches_get, setup, teardown),
        cmocka_unit_test(test_allow_header),
        cmocka_unit_test(test_method_names),
        cmocka_unit_test(test_too_many_params),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
