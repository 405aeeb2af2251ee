/* Unit tests for api/problem.c, api/response.c and api/request.c: the
 * problem+json members, the errno <-> status map both ways, the status of
 * each refusal kind (and its way back through client_refusal_kind()),
 * response_problem(), response_refusal()
 * and response_header(), ETags, and If-Match checks through a fake header
 * lookup. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <ctype.h>
#include <errno.h>
#include <microhttpd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "api/problem.h"
#include "api/route.h"
#include "api/migration.h"
#include "api/network.h"
#include "migrate/migrator.h"
#include "model/network.h"
#include "base/refusal.h"
#include "client/client.h"

static const char *member_string(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        fail_msg("no member '%s' in %s", key, json_object_to_json_string(obj));
    assert_true(json_object_is_type(v, json_type_string));
    return json_object_get_string(v);
}

static int member_int(struct json_object *obj, const char *key)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v))
        fail_msg("no member '%s' in %s", key, json_object_to_json_string(obj));
    assert_true(json_object_is_type(v, json_type_int));
    return json_object_get_int(v);
}

static void response_free(struct response *resp)
{
    json_object_put(resp->body);
    for (size_t i = 0; i < resp->n_headers; i++) {
        free(resp->headers[i][0]);
        free(resp->headers[i][1]);
    }
    memset(resp, 0, sizeof(*resp));
}

static void test_problem_new(void **state)
{
    (void)state;
    struct json_object *p =
        problem_new(422, "invalid-vlan", "vlan must be 1 to 4094", "/adapters/0/vlan");
    assert_non_null(p);
    assert_string_equal(member_string(p, "type"), "https://lmnet.dev/problems/invalid-vlan");
    assert_string_equal(member_string(p, "type"), PROBLEM_TYPE_BASE "invalid-vlan");
    assert_string_equal(member_string(p, "title"), "Unprocessable Content");
    assert_int_equal(member_int(p, "status"), 422);
    assert_string_equal(member_string(p, "detail"), "vlan must be 1 to 4094");
    assert_string_equal(member_string(p, "pointer"), "/adapters/0/vlan");
    assert_int_equal(json_object_object_length(p), 5);
    json_object_put(p);

    /* No pointer: no "pointer" member at all (not null). */
    p = problem_new(404, "not-found", "no such thing", NULL);
    assert_false(json_object_object_get_ex(p, "pointer", NULL));
    assert_int_equal(json_object_object_length(p), 4);
    assert_string_equal(member_string(p, "title"), "Not Found");
    json_object_put(p);

    /* No detail: an empty string, still present. */
    p = problem_new(500, "internal", NULL, NULL);
    assert_string_equal(member_string(p, "detail"), "");
    json_object_put(p);

    /* No type: RFC 9457's "about:blank", not a URI under our base. */
    p = problem_new(404, NULL, "x", NULL);
    assert_string_equal(member_string(p, "type"), "about:blank");
    json_object_put(p);
}

static void test_titles(void **state)
{
    (void)state;
    const struct {
        int status;
        const char *title;
    } titles[] = {
        {400, "Bad Request"},
        {401, "Unauthorized"},
        {403, "Forbidden"},
        {404, "Not Found"},
        {405, "Method Not Allowed"},
        {409, "Conflict"},
        {412, "Precondition Failed"},
        {413, "Content Too Large"},
        {415, "Unsupported Media Type"},
        {422, "Unprocessable Content"},
        {428, "Precondition Required"},
        {429, "Too Many Requests"},
        {500, "Internal Server Error"},
        {502, "Bad Gateway"},
        {503, "Service Unavailable"},
        {504, "Gateway Timeout"},
        {418, "Error"},
        {0, "Error"},
    };
    for (size_t i = 0; i < sizeof(titles) / sizeof(titles[0]); i++)
        assert_string_equal(problem_title(titles[i].status), titles[i].title);
}

static void test_status_from_errno(void **state)
{
    (void)state;
    const struct {
        int err, status;
        const char *type;
    } map[] = {
        {ENOENT, 404, "not-found"},
        {EEXIST, 409, "conflict"},
        {EINVAL, 422, "invalid"},
        {EACCES, 403, "forbidden"},
        {EPERM, 403, "forbidden"},
        {EBUSY, 503, "busy"},
        {EAGAIN, 503, "busy"},
        {ENOSPC, 409, "exhausted"},
        {ESTALE, 412, "precondition-failed"},
        {ETIMEDOUT, 504, "timeout"},
        {EHOSTUNREACH, 502, "unreachable"},
        {ECONNREFUSED, 502, "unreachable"},
        {EBADMSG, 400, "malformed"},
        {EMSGSIZE, 413, "too-large"},
        {EIO, 500, "internal"},
        {ENOMEM, 500, "internal"},
        {EPROTO, 500, "internal"},
        {0, 500, "internal"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        const char *type = NULL;
        int status = problem_status_from_errno(-map[i].err, &type);
        if (status != map[i].status)
            fail_msg("errno %d: status %d, expected %d", map[i].err, status, map[i].status);
        assert_string_equal(type, map[i].type);
        /* A positive errno maps the same way. */
        type = NULL;
        assert_int_equal(problem_status_from_errno(map[i].err, &type), map[i].status);
        assert_string_equal(type, map[i].type);
        /* TYPE may be NULL. */
        assert_int_equal(problem_status_from_errno(-map[i].err, NULL), map[i].status);
    }
}

static void test_status_to_errno(void **state)
{
    (void)state;
    const struct {
        int status, err;
    } map[] = {
        {400, -EBADMSG},   {401, -EACCES},   {403, -EACCES}, {404, -ENOENT},       {409, -EEXIST},
        {412, -ESTALE},    {413, -EMSGSIZE}, {422, -EINVAL}, {502, -EHOSTUNREACH}, {503, -EBUSY},
        {504, -ETIMEDOUT}, {500, -EIO},      {405, -EIO},    {200, -EIO},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        int err = problem_status_to_errno(map[i].status);
        if (err != map[i].err)
            fail_msg("status %d: errno %d, expected %d", map[i].status, err, map[i].err);
        assert_true(err < 0);
    }

    /* Both ways: a status the agent produces from an errno comes back as
     * that status, and the errno a status stands for maps back to it. */
    static const int statuses[] = {400, 403, 404, 409, 412, 413, 422, 500, 502, 503, 504};
    for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++) {
        int back = problem_status_from_errno(problem_status_to_errno(statuses[i]), NULL);
        if (back != statuses[i])
            fail_msg("status %d -> errno -> %d", statuses[i], back);
    }
    static const int errnos[] = {EBADMSG, EACCES, ENOENT,       EEXIST, ESTALE,   EMSGSIZE,
                                 EINVAL,  EIO,    EHOSTUNREACH, EBUSY,  ETIMEDOUT};
    for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++) {
        int back = problem_status_to_errno(problem_status_from_errno(-errnos[i], NULL));
        if (back != -errnos[i])
            fail_msg("errno %d -> status -> %d", errnos[i], back);
    }
}

/* The statuses the modules carried before refusals had kinds: switch ports,
 * MAC allocation, the registry and the migration planner answer with these,
 * and peers' refusals relayed come back as the kind they went out as. */
static void test_refusal_status(void **state)
{
    (void)state;
    const struct {
        enum refusal_kind kind;
        int status;
    } map[] = {
        {REFUSAL_INTERNAL, 500},        {REFUSAL_INVALID, 422},         {REFUSAL_NOT_FOUND, 404},
        {REFUSAL_CONFLICT, 409},        {REFUSAL_UNAUTHENTICATED, 401}, {REFUSAL_FORBIDDEN, 403},
        {REFUSAL_NOT_IMPLEMENTED, 501}, {REFUSAL_BAD_ANSWER, 502},      {REFUSAL_UNAVAILABLE, 503},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        int status = problem_status_of_refusal(map[i].kind);
        if (status != map[i].status)
            fail_msg("kind %d: status %d, expected %d", map[i].kind, status, map[i].status);
        assert_int_equal(client_refusal_kind(status), map[i].kind);
    }
    /* A zeroed refusal (nobody said why) is an internal error. */
    struct refusal none = {0};
    assert_int_equal(problem_status_of_refusal(none.kind), 500);
    /* Statuses no kind stands for. */
    assert_int_equal(client_refusal_kind(400), REFUSAL_INVALID);
    assert_int_equal(client_refusal_kind(429), REFUSAL_INVALID);
    assert_int_equal(client_refusal_kind(504), REFUSAL_BAD_ANSWER);

    struct response resp;
    memset(&resp, 0, sizeof(resp));
    struct refusal refusal;
    assert_int_equal(refusal_set(&refusal, -EPERM, REFUSAL_CONFLICT, "mac-pool-exhausted", NULL,
                                 "pool '%s' is full", "p1"),
                     -EPERM);
    assert_int_equal(response_refusal(&resp, &refusal), -EEXIST);
    assert_int_equal(resp.status, 409);
    assert_string_equal(member_string(resp.body, "type"), PROBLEM_TYPE_BASE "mac-pool-exhausted");
    assert_string_equal(member_string(resp.body, "detail"), "pool 'p1' is full");
    assert_false(json_object_object_get_ex(resp.body, "pointer", NULL));
    refusal_set(&refusal, -EINVAL, REFUSAL_INVALID, "switch-not-found", "/switch", "no switch");
    assert_int_equal(response_refusal(&resp, &refusal), -EINVAL);
    assert_int_equal(resp.status, 422);
    assert_string_equal(member_string(resp.body, "pointer"), "/switch");
    /* NULL is allowed: the caller did not ask why. */
    assert_int_equal(refusal_set(NULL, -ENOENT, REFUSAL_NOT_FOUND, "not-found", NULL, "x"),
                     -ENOENT);
    response_free(&resp);
}

static void test_response_problem(void **state)
{
    (void)state;
    struct response resp;
    memset(&resp, 0, sizeof(resp));
    int r =
        response_problem(&resp, 404, "not-found", NULL, "no member with id '%s' (%d)", "m-1", 7);
    assert_int_equal(r, -ENOENT);
    assert_int_equal(resp.status, 404);
    assert_non_null(resp.content_type);
    assert_string_equal(resp.content_type, "application/problem+json");
    assert_string_equal(member_string(resp.body, "type"), PROBLEM_TYPE_BASE "not-found");
    assert_string_equal(member_string(resp.body, "title"), "Not Found");
    assert_int_equal(member_int(resp.body, "status"), 404);
    assert_string_equal(member_string(resp.body, "detail"), "no member with id 'm-1' (7)");
    assert_false(json_object_object_get_ex(resp.body, "pointer", NULL));

    /* A second problem replaces the first (the old body is released). */
    r = response_problem(&resp, 422, "invalid", "/name", "name must not be empty");
    assert_int_equal(r, -EINVAL);
    assert_int_equal(resp.status, 422);
    assert_string_equal(member_string(resp.body, "pointer"), "/name");
    assert_string_equal(member_string(resp.body, "detail"), "name must not be empty");

    const struct {
        int status, err;
    } each[] = {{400, -EBADMSG},  {401, -EACCES}, {409, -EEXIST},       {412, -ESTALE},
                {413, -EMSGSIZE}, {503, -EBUSY},  {502, -EHOSTUNREACH}, {500, -EIO}};
    for (size_t i = 0; i < sizeof(each) / sizeof(each[0]); i++) {
        assert_int_equal(response_problem(&resp, each[i].status, "t", NULL, "d"), each[i].err);
        assert_int_equal(resp.status, each[i].status);
        assert_int_equal(member_int(resp.body, "status"), each[i].status);
        assert_string_equal(resp.content_type, "application/problem+json");
    }

    /* A long detail is cut, not overflowed. */
    char *big = malloc(5000);
    assert_non_null(big);
    memset(big, 'x', 4999);
    big[4999] = '\0';
    response_problem(&resp, 400, "malformed", NULL, "%s", big);
    free(big);
    size_t len = strlen(member_string(resp.body, "detail"));
    assert_true(len > 500 && len < 4999);
    response_free(&resp);
}

static void test_response_json_and_headers(void **state)
{
    (void)state;
    struct response resp;
    memset(&resp, 0, sizeof(resp));
    assert_int_equal(response_json(&resp, 201, json_object_new_string("a")), 0);
    assert_int_equal(resp.status, 201);
    assert_string_equal(json_object_get_string(resp.body), "a");
    assert_int_equal(response_json(&resp, 200, json_object_new_int(5)), 0);
    assert_int_equal(resp.status, 200);
    assert_int_equal(json_object_get_int(resp.body), 5);
    assert_null(resp.content_type);

    char name[16] = "X-Name-0", value[16] = "value-0";
    for (int i = 0; i < RESPONSE_MAX_HEADERS; i++) {
        name[7] = value[6] = (char)('0' + i);
        assert_int_equal(response_header(&resp, name, value), 0);
    }
    assert_int_equal(resp.n_headers, RESPONSE_MAX_HEADERS);
    assert_int_equal(response_header(&resp, "X-One-Too-Many", "v"), -E2BIG);
    assert_int_equal(resp.n_headers, RESPONSE_MAX_HEADERS);
    /* The strings were copied. */
    strcpy(name, "changed");
    for (int i = 0; i < RESPONSE_MAX_HEADERS; i++) {
        char want_name[16], want_value[16];
        snprintf(want_name, sizeof(want_name), "X-Name-%d", i);
        snprintf(want_value, sizeof(want_value), "value-%d", i);
        assert_string_equal(resp.headers[i][0], want_name);
        assert_string_equal(resp.headers[i][1], want_value);
    }
    response_free(&resp);
}

static void test_etag(void **state)
{
    (void)state;
    struct json_object *a = json_object_new_object();
    json_object_object_add(a, "a", json_object_new_int(1));
    char tag[40], again[40];
    etag_of_json(a, tag, sizeof(tag));

    /* "\"" + 16 hex digits + "\"". */
    assert_int_equal(strlen(tag), 18);
    assert_int_equal(tag[0], '"');
    assert_int_equal(tag[17], '"');
    for (int i = 1; i < 17; i++)
        assert_true(isxdigit((unsigned char)tag[i]) && !isupper((unsigned char)tag[i]));
    /* FNV-1a 64 of {"a":1}: the tag must not change between releases, or
     * every client's cached ETag goes stale on upgrade. */
    assert_string_equal(tag, "\"9c3e82dd6fcae8b1\"");

    /* Stable: the same content built separately gives the same tag. */
    struct json_object *b = json_object_new_object();
    json_object_object_add(b, "a", json_object_new_int(1));
    etag_of_json(b, again, sizeof(again));
    assert_string_equal(tag, again);
    etag_of_json(a, again, sizeof(again));
    assert_string_equal(tag, again);

    /* Any change in content changes it. */
    json_object_object_add(b, "a", json_object_new_int(2));
    etag_of_json(b, again, sizeof(again));
    assert_string_not_equal(tag, again);
    json_object_object_add(b, "a", json_object_new_string("1"));
    etag_of_json(b, again, sizeof(again));
    assert_string_not_equal(tag, again);
    json_object_object_add(a, "b", NULL);
    etag_of_json(a, again, sizeof(again));
    assert_string_not_equal(tag, again);

    /* Exactly 19 bytes is enough. */
    char small[19];
    etag_of_json(b, small, sizeof(small));
    assert_int_equal(strlen(small), 18);
    assert_int_equal(small[17], '"');

    json_object_put(a);
    json_object_put(b);
}

/* The fake server side of struct request: one header, recording lookups. */
struct fake_headers {
    const char *if_match;
    const char *query_name, *query_value;
    int last_kind;
    char last_name[32];
    int calls;
};

static const char *fake_lookup(void *ctx, int kind, const char *name)
{
    struct fake_headers *h = ctx;
    h->calls++;
    h->last_kind = kind;
    snprintf(h->last_name, sizeof(h->last_name), "%s", name);
    if (kind == MHD_HEADER_KIND && strcasecmp(name, "If-Match") == 0)
        return h->if_match;
    if (kind == MHD_GET_ARGUMENT_KIND && h->query_name && strcmp(name, h->query_name) == 0)
        return h->query_value;
    return NULL;
}

static int check_if_match(const char *header, const char *etag, struct response *resp)
{
    struct fake_headers h = {.if_match = header};
    struct request req;
    memset(&req, 0, sizeof(req));
    req.lookup = fake_lookup;
    req.lookup_ctx = &h;
    memset(resp, 0, sizeof(*resp));
    int r = request_check_if_match(&req, resp, etag);
    assert_int_equal(h.calls, 1);
    assert_int_equal(h.last_kind, MHD_HEADER_KIND);
    assert_string_equal(h.last_name, "If-Match");
    return r;
}

static void test_if_match(void **state)
{
    (void)state;
    const char *etag = "\"9c3e82dd6fcae8b1\"";
    struct response resp;

    /* Passes: no header, "*", the tag, the tag in a list. */
    static const char *const pass[] = {
        NULL,
        "*",
        "\"9c3e82dd6fcae8b1\"",
        "\"0000000000000000\", \"9c3e82dd6fcae8b1\"",
        "\"9c3e82dd6fcae8b1\", \"0000000000000000\"",
        "\"0000000000000000\",\"9c3e82dd6fcae8b1\"",
        "\"a\", \"9c3e82dd6fcae8b1\", \"b\"",
    };
    for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
        int r = check_if_match(pass[i], etag, &resp);
        if (r != 0)
            fail_msg("If-Match %s refused (%d)", pass[i] ? pass[i] : "(none)", r);
        assert_int_equal(resp.status, 0);
        assert_null(resp.body);
    }

    /* Refused with 412: another tag, a list without it, a weak tag (If-Match
     * compares strongly), the tag without quotes, an empty header. */
    static const char *const refuse[] = {
        "\"0000000000000000\"",   "\"0000000000000000\", \"1111111111111111\"",
        "W/\"9c3e82dd6fcae8b1\"", "9c3e82dd6fcae8b1",
        "\"9c3e82dd6fcae8b1\"x",  "",
    };
    for (size_t i = 0; i < sizeof(refuse) / sizeof(refuse[0]); i++) {
        int r = check_if_match(refuse[i], etag, &resp);
        if (r != -ESTALE)
            fail_msg("If-Match %s: expected -ESTALE, got %d", refuse[i], r);
        assert_int_equal(resp.status, 412);
        assert_string_equal(resp.content_type, "application/problem+json");
        assert_string_equal(member_string(resp.body, "type"),
                            PROBLEM_TYPE_BASE "precondition-failed");
        assert_string_equal(member_string(resp.body, "title"), "Precondition Failed");
        assert_int_equal(member_int(resp.body, "status"), 412);
        /* The detail tells the client the current tag. */
        assert_non_null(strstr(member_string(resp.body, "detail"), etag));
        response_free(&resp);
    }

    /* Without a lookup function there are no headers: it passes. */
    struct request req;
    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    assert_int_equal(request_check_if_match(&req, &resp, etag), 0);
    assert_null(request_header(&req, "If-Match"));
    assert_null(request_query(&req, "limit"));
}

static void test_request_accessors(void **state)
{
    (void)state;
    struct fake_headers h = {.if_match = "\"x\"", .query_name = "limit", .query_value = "10"};
    struct request req;
    memset(&req, 0, sizeof(req));
    req.lookup = fake_lookup;
    req.lookup_ctx = &h;
    assert_string_equal(request_header(&req, "if-match"), "\"x\"");
    assert_int_equal(h.last_kind, MHD_HEADER_KIND);
    assert_string_equal(request_query(&req, "limit"), "10");
    assert_int_equal(h.last_kind, MHD_GET_ARGUMENT_KIND);
    assert_null(request_query(&req, "after"));
    /* A query argument is not a header and the other way round. */
    assert_null(request_header(&req, "limit"));

    req.n_params = 2;
    strcpy(req.param_names[0], "pool");
    strcpy(req.param_names[1], "mac");
    char pool[] = "blue", mac[] = "52:54:00:00:00:01";
    req.param_values[0] = pool;
    req.param_values[1] = mac;
    assert_string_equal(request_param(&req, "pool"), "blue");
    assert_string_equal(request_param(&req, "mac"), "52:54:00:00:00:01");
    assert_null(request_param(&req, "Pool"));
    assert_null(request_param(&req, "id"));
}

/* A refusal names the member at fault by an RFC 6901 pointer: a member
 * called "a/b" is "/a~1b" ("/a/b" would be member b of a).  The PATCH and
 * option readers built their pointers with "/%s" (found by
 * tests/fuzz/fuzz_request). */
static void test_pointer_escaped(void **state)
{
    (void)state;
    char buf[16] = "";
    problem_pointer_append(buf, sizeof(buf), "a/b~c");
    assert_string_equal(buf, "/a~1b~0c");
    problem_pointer_append(buf, sizeof(buf), "0");
    assert_string_equal(buf, "/a~1b~0c/0");
    problem_pointer_append(buf, sizeof(buf), "0123456789");
    assert_true(strlen(buf) < sizeof(buf));

    struct {
        const char *body;
        const char *pointer;
    } cases[] = {
        {"{\"a/b\": 1}", "/a~1b"},
        {"{\"x~y\": 1}", "/x~0y"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct json_object *body = json_tokener_parse(cases[i].body);
        struct network_settings s;
        memset(&s, 0, sizeof(s));
        struct response resp;
        memset(&resp, 0, sizeof(resp));
        assert_true(network_patch_parse(&resp, body, &s) < 0);
        struct json_object *v = NULL;
        assert_true(json_object_object_get_ex(resp.body, "pointer", &v));
        assert_string_equal(json_object_get_string(v), cases[i].pointer);
        json_object_put(resp.body);

        struct json_object *mig = json_object_new_object();
        json_object_object_add(mig, "vm", json_object_new_string("vm1"));
        json_object_object_add(mig, "destination", json_object_new_string("h2"));
        json_object_object_add(mig, "options", json_object_get(body));
        struct request req = {.method = HTTP_POST, .path = "/v1/migrations", .json = mig};
        struct migration_request rq;
        memset(&resp, 0, sizeof(resp));
        assert_true(migration_request_parse(&req, &resp, &rq) < 0);
        assert_true(json_object_object_get_ex(resp.body, "pointer", &v));
        char want[32];
        snprintf(want, sizeof(want), "/options%s", cases[i].pointer);
        assert_string_equal(json_object_get_string(v), want);
        json_object_put(resp.body);
        json_object_put(mig);
        json_object_put(body);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_problem_new),
        cmocka_unit_test(test_pointer_escaped),
        cmocka_unit_test(test_titles),
        cmocka_unit_test(test_status_from_errno),
        cmocka_unit_test(test_status_to_errno),
        cmocka_unit_test(test_refusal_status),
        cmocka_unit_test(test_response_problem),
        cmocka_unit_test(test_response_json_and_headers),
        cmocka_unit_test(test_etag),
        cmocka_unit_test(test_if_match),
        cmocka_unit_test(test_request_accessors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
