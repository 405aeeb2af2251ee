/* The HTTP server on libmicrohttpd.
 *
 * Threads: by default libmicrohttpd gives each connection a thread of its
 * own.  Handlers block: on a durable commit (writers queued side by side
 * share one fsync, see agent/allocator.c) and on the switch (a new port
 * waits for ovs-vswitchd to number it).  With a fixed pool, connections
 * that landed on the same worker wait behind one another even while other
 * workers idle: 16 clients making ports over 8 workers got the concurrency
 * of ~8.  "threads = N" in the configuration asks for a pool of N workers
 * instead, each with its own epoll loop and its own connections.  A
 * request is handled entirely on the thread that read it; threads share
 * only read-only state (the router, the agent context) and the database
 * through their per-thread connection.
 *
 * Per request, libmicrohttpd first calls uri_logged() with the raw request
 * target; we allocate struct exchange there (its return value becomes
 * *con_cls) and keep the path still percent-encoded, because libmicrohttpd
 * decodes the URL it hands to access_handler() and the router must be the
 * only decoder (else "%2541" would become "A" and "%2F" a separator).  Then
 * access_handler() runs with the headers (we check the declared length),
 * with each piece of the body (we append it, or count it once over the
 * limit), and once with no more data (we answer).  request_completed() frees
 * the exchange whatever happened. */
#include "api/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "agent/agent.h"
#include "base/cleanup.h"
#include "base/clock.h"
#include "base/log.h"
#include "agent/membership.h"
#include "agent/metrics.h"
#include "api/asset.h"
#include "api/body_schema.h"
#include "api/problem.h"
#include "api/router.h"
#include "base/secret_file.h"
#include "api/routes.h"
#include "api/token.h"
#include "db/db.h"

struct server {
    struct agent *agent;
    struct MHD_Daemon *daemon;
    struct router *router;
    struct body_schema *bodies; /* the POST bodies api/openapi.json closes */
    char *tls_cert;
    char *tls_key;
    unsigned port;
    /* The deadline watch: every open connection, under watch_lock. */
    pthread_mutex_t watch_lock;
    pthread_cond_t watch_wake;
    struct watched *watched;
    bool watch_stopping;
    bool watch_running;
    pthread_t watchdog;
    int64_t deadline_ms; /* 0: no deadline */
    /* libmicrohttpd's log, rate-limited (mhd_log()), under log_lock. */
    pthread_mutex_t log_lock;
    int64_t log_window_ms;
    unsigned log_in_window;
    unsigned log_suppressed;
};

/* One open connection, for the deadline watch (its socket context). */
struct watched {
    struct watched *prev, *next;
    int fd;
    int64_t since_ms; /* start of the current phase: arriving, answering or idle */
    bool busy;        /* a handler runs: its time is not the client's */
    bool cut;         /* shut down by the watch; closing */
};

struct exchange {
    struct timespec started;
    char *raw_path;      /* the request target up to '?', still encoded */
    bool headers_seen;
    bool answered;             /* a response is queued */
    const struct route *route; /* set once the headers passed admit() */
    size_t limit;              /* the route's body limit */
    char *body;
    size_t length;
    size_t capacity;
    struct request req;
    struct response resp;
};

static long elapsed_us(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (now.tv_sec - since->tv_sec) * 1000000L + (now.tv_nsec - since->tv_nsec) / 1000;
}

/* A header or query argument by NAME.  A query key given without a value
 * ("?dry_run") reads as "", not as absent: absent must never mean yes. */
static const char *lookup_value(void *ctx, int kind, const char *name)
{
    const char *value = NULL;
    size_t len = 0;
    if (MHD_lookup_connection_value_n(ctx, (enum MHD_ValueKind)kind, name, strlen(name), &value,
                                      &len) != MHD_YES)
        return NULL;
    return value ? value : "";
}

/* Appends body bytes.  Returns false, appending nothing, when the body
 * would grow past the route's limit (or memory ran out). */
static bool exchange_append(struct exchange *ex, const char *data, size_t size)
{
    if (ex->length + size > ex->limit)
        return false;
    if (ex->length + size + 1 > ex->capacity) {
        size_t cap = ex->capacity ? ex->capacity : 4096;
        while (cap < ex->length + size + 1)
            cap *= 2;
        char *grown = realloc(ex->body, cap);
        if (!grown)
            return false; /* answered as 413; nothing better to say */
        ex->body = grown;
        ex->capacity = cap;
    }
    memcpy(ex->body + ex->length, data, size);
    ex->length += size;
    ex->body[ex->length] = '\0';
    return true;
}

/* The body limit of ROUTE.  Every body the API takes today (a pool, a VM
 * with its adapters, a migration) is a few KiB at most, so one limit of
 * SERVER_DEFAULT_BODY serves them all; a route that needs more gets a case
 * here, never above SERVER_MAX_BODY. */
static size_t route_body_limit(const struct route *route)
{
    (void)route;
    return SERVER_DEFAULT_BODY;
}

static void set_generic_problem(struct response *resp, int err)
{
    const char *type;
    int status = problem_status_from_errno(err, &type);
    response_problem(resp, status, type, NULL, "%s",
                     status == 500 ? "internal error; the agent's log has the details"
                                   : strerror(err < 0 ? -err : err));
}

static bool is_json_type(const char *content_type)
{
    if (!content_type)
        return false;
    size_t n = strcspn(content_type, ";");
    while (n && content_type[n - 1] == ' ')
        n--;
    return (n == 16 && strncasecmp(content_type, "application/json", 16) == 0) ||
           (n == 28 && strncasecmp(content_type, "application/merge-patch+json", 28) == 0);
}

/* Finds a string in OBJ that holds a NUL (sent as \u0000): C code would
 * read it cut short there.  Leaves the JSON pointer of the first one in
 * POINTER and returns true. */
static bool find_nul(struct json_object *obj, char *pointer, size_t size)
{
    size_t mark = strlen(pointer);
    switch (json_object_get_type(obj)) {
    case json_type_string:
        return (size_t)json_object_get_string_len(obj) != strlen(json_object_get_string(obj));
    case json_type_object: {
        json_object_object_foreach(obj, key, val)
        {
            problem_pointer_append(pointer, size, key);
            if (find_nul(val, pointer, size))
                return true;
            pointer[mark] = '\0';
        }
        return false;
    }
    case json_type_array:
        for (size_t i = 0; i < json_object_array_length(obj); i++) {
            char index[24];
            snprintf(index, sizeof(index), "%zu", i);
            problem_pointer_append(pointer, size, index);
            if (find_nul(json_object_array_get_idx(obj, i), pointer, size))
                return true;
            pointer[mark] = '\0';
        }
        return false;
    default: return false;
    }
}

/* Finds a NUL (\u0000) inside an object key of BODY, which already parsed
 * as JSON: json-c keeps keys as C strings, so such a key arrives cut short
 * ("a\u0000b" as "a") and find_nul() cannot see it.  Returns the byte
 * offset of the escape, or -1. */
static long find_nul_in_key(const char *body, size_t length)
{
    long nul = -1;
    bool in_string = false;
    for (size_t i = 0; i < length; i++) {
        if (!in_string) {
            if (body[i] == '"') {
                in_string = true;
                nul = -1;
            } else if (body[i] == ':' && nul >= 0) {
                return nul; /* the string just closed was a key */
            } else if (!strchr(" \t\r\n", body[i])) {
                nul = -1;
            }
        } else if (body[i] == '\\') {
            if (i + 5 < length && memcmp(body + i + 1, "u0000", 5) == 0 && nul < 0)
                nul = (long)i;
            i++; /* the escaped character cannot close the string */
        } else if (body[i] == '"') {
            in_string = false;
        }
    }
    return -1;
}

/* Parses the body strictly (RFC 8259: no comments, single quotes, NaN or
 * other json-c leniencies).  Malformed JSON is a 400 naming where it
 * broke; invalid UTF-8 or a NUL inside a string or an object key is a
 * 422. */
static int parse_body(struct request *req, struct response *resp)
{
    struct json_tokener *tok = json_tokener_new();
    if (!tok)
        return -ENOMEM;
    /* Trailing data is checked below, with whitespace allowed. */
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_ALLOW_TRAILING_CHARS |
                                    JSON_TOKENER_VALIDATE_UTF8);
    struct json_object *obj = json_tokener_parse_ex(tok, req->body, (int)req->body_length);
    enum json_tokener_error jerr = json_tokener_get_error(tok);
    size_t end = json_tokener_get_parse_end(tok);
    int r = 0;
    if (jerr == json_tokener_continue) {
        r = response_problem(resp, 400, "malformed-json", NULL,
                             "request body is not valid JSON: it ends early, after byte %zu",
                             req->body_length);
    } else if (jerr == json_tokener_error_parse_utf8_string) {
        r = response_problem(resp, 422, "invalid-utf8", NULL,
                             "request body is not valid UTF-8 (at byte %zu)", end);
    } else if (jerr != json_tokener_success) {
        r = response_problem(resp, 400, "malformed-json", NULL,
                             "request body is not valid JSON: %s at byte %zu",
                             json_tokener_error_desc(jerr), end);
    } else {
        while (end < req->body_length && strchr(" \t\r\n", req->body[end]))
            end++;
        if (end < req->body_length)
            r = response_problem(resp, 400, "malformed-json", NULL,
                                 "request body is not valid JSON: unexpected data at byte %zu", end);
        char pointer[256] = "";
        if (r == 0 && find_nul(obj, pointer, sizeof(pointer)))
            r = response_problem(resp, 422, "invalid", pointer,
                                 "a string holds a NUL character (\\u0000); none may");
        long at = r == 0 ? find_nul_in_key(req->body, req->body_length) : -1;
        if (at >= 0)
            r = response_problem(resp, 422, "invalid", NULL,
                                 "an object key holds a NUL character (\\u0000 at byte %ld); "
                                 "none may",
                                 at);
    }
    json_tokener_free(tok);
    if (r < 0) {
        json_object_put(obj);
        return r;
    }
    req->json = obj;
    return 0;
}

/* A SCOPE_MEMBER route: the caller must present a member's own credential
 * (agent/membership.h), whether or not admin tokens are configured. */
static int authenticate_member(struct server *server, struct request *req, struct response *resp)
{
    const char *auth = request_header(req, "Authorization");
    const char *presented = auth && strncasecmp(auth, "Bearer ", 7) == 0 ? auth + 7 : NULL;
    while (presented && *presented == ' ')
        presented++;
    int r;
    if (presented && membership_authenticate(server->agent, presented, req->member) == 0) {
        req->token_name = req->member;
        return 0;
    }
    const char *name;
    enum scope scope;
    if (presented && server->agent->tokens &&
        token_set_check(server->agent->tokens, presented, &name, &scope) == 0)
        return response_problem(resp, 403, "forbidden", NULL,
                                "token '%s' is not a member credential: members report about "
                                "themselves only, with the credential they got when they joined",
                                name);
    r = response_problem(resp, 401, "unauthorized", NULL,
                         presented ? "the bearer token is not a member credential this registry "
                                     "knows (was the member removed? join again with a new join "
                                     "token)"
                                   : "this call needs a member credential (Authorization: Bearer "
                                     "lmm_...)");
    response_header(resp, "WWW-Authenticate", "Bearer realm=\"lmnet\"");
    return r;
}

/* Authenticates REQ for ROUTE.  Returns 0, or a negative errno with a
 * 401/403 problem set. */
static int authenticate(struct server *server, struct request *req, const struct route *route,
                        struct response *resp)
{
    if (route->scope == SCOPE_MEMBER)
        return authenticate_member(server, req, resp);
    if (route->scope == SCOPE_NONE || !server->agent->tokens) {
        req->token_name = "anonymous";
        return 0;
    }
    const char *auth = request_header(req, "Authorization");
    int r;
    if (!auth || strncasecmp(auth, "Bearer ", 7) != 0) {
        r = response_problem(resp, 401, "unauthorized", NULL,
                             "this call needs a bearer token (Authorization: Bearer TOKEN)");
    } else {
        const char *name;
        enum scope scope;
        const char *presented = auth + 7;
        while (*presented == ' ')
            presented++;
        if (token_set_check(server->agent->tokens, presented, &name, &scope) < 0) {
            r = response_problem(resp, 401, "unauthorized", NULL, "the bearer token is not valid");
        } else if (!scope_allows(scope, route->scope)) {
            return response_problem(resp, 403, "forbidden", NULL,
                                    "token '%s' has scope '%s'; this call needs '%s'", name,
                                    scope_to_string(scope), scope_to_string(route->scope));
        } else {
            req->token_name = name;
            return 0;
        }
    }
    response_header(resp, "WWW-Authenticate", "Bearer realm=\"lmnet\"");
    return r;
}

/* The ETag that GET PATH answers now, into ETAG (sizeof(resp->etag)), as
 * REQ's caller would see it.  Returns 0, or -ENOENT when PATH has no GET
 * or its GET does not answer 200 with a body. */
static int current_etag(struct server *server, const char *path, const struct request *req,
                        char *etag, size_t size)
{
    struct request get = {
        .agent = req->agent,
        .method = HTTP_GET,
        .path = path,
        .token_name = req->token_name,
        .lookup = req->lookup,
        .lookup_ctx = req->lookup_ctx,
    };
    struct response current;
    memset(&current, 0, sizeof(current));
    const struct route *route = NULL;
    unsigned allowed = 0;
    int r = -ENOENT;
    if (router_match(server->router, HTTP_GET, path, &route, &get, &allowed) == 0 &&
        route->handler(&get, &current) == 0 && current.body &&
        (current.status == 0 || current.status == 200)) {
        if (current.etag[0])
            snprintf(etag, size, "%s", current.etag);
        else
            etag_of_json(current.body, etag, size);
        r = 0;
    }
    router_release_params(&get);
    json_object_put(current.body);
    free(current.text);
    for (size_t i = 0; i < current.n_headers; i++) {
        free(current.headers[i][0]);
        free(current.headers[i][1]);
    }
    return r;
}

/* If-Match on a change (PUT, PATCH, DELETE): the resource's current ETag is
 * the one GET on the same path answers, so every change honours If-Match
 * without each handler building its view again.  A path with no GET, or
 * whose GET fails (404: the handler says so itself), is left to the
 * handler.  Returns 0 to go on, or a negative errno with RESP set (412). */
static int check_if_match(struct server *server, const char *url, const struct request *req,
                          struct response *resp)
{
    const char *if_match = request_header(req, "If-Match");
    if (!if_match || strcmp(if_match, "*") == 0 ||
        (req->method != HTTP_PUT && req->method != HTTP_PATCH && req->method != HTTP_DELETE))
        return 0;
    char etag[sizeof(resp->etag)];
    if (current_etag(server, url, req, etag, sizeof(etag)) < 0)
        return 0;
    return request_check_if_match(req, resp, etag);
}

static const char *response_location(const struct response *resp)
{
    for (size_t i = 0; i < resp->n_headers; i++)
        if (strcasecmp(resp->headers[i][0], "Location") == 0)
            return resp->headers[i][1];
    return NULL;
}

/* A change answers the ETag that GET of what it changed answers, so that
 * the caller's next If-Match matches: PUT and PATCH the resource at their
 * own path, a 201 (or a replayed 200 with Location) the one at Location.
 * A created resource with no GET still gets a tag, of its body. */
static void tag_change(struct server *server, const char *url, const struct request *req,
                       struct response *resp)
{
    int status = resp->status ? resp->status : 200;
    const char *location = response_location(resp);
    const char *path = NULL;
    if (!resp->body || (status != 200 && status != 201))
        return;
    if (req->method == HTTP_PUT || req->method == HTTP_PATCH)
        path = status == 201 && location ? location : url;
    else if (req->method == HTTP_POST && location)
        path = location;
    if (!path)
        return;
    char etag[sizeof(resp->etag)];
    if (current_etag(server, path, req, etag, sizeof(etag)) == 0)
        snprintf(resp->etag, sizeof(resp->etag), "%s", etag);
    else if (status == 201 && !resp->etag[0])
        etag_of_json(resp->body, resp->etag, sizeof(resp->etag));
}

/* On the headers alone, before any byte of the body is read: routes (404,
 * 405), authenticates (401, 403), and refuses a declared body over the
 * route's limit (413) or not JSON (415).  Returns true to go on with
 * ex->route set; false with the answer in ex->resp. */
static bool admit(struct server *server, struct MHD_Connection *conn, const char *method_name,
                  struct exchange *ex)
{
    struct request *req = &ex->req;
    struct response *resp = &ex->resp;
    const char *url = ex->raw_path;
    enum http_method method;
    const struct route *route = NULL;
    unsigned allowed = 0;
    int r;
    bool known_method = http_method_from_string(method_name, &method) == 0;

    r = router_match(server->router, known_method ? method : HTTP_GET, url, &route, req, &allowed);
    if (r >= 0 && !known_method) {
        /* The path exists; the method is one we never serve. */
        router_release_params(req);
        r = -EOPNOTSUPP;
        router_match(server->router, HTTP_METHOD_COUNT, url, &route, req, &allowed);
    }
    if (r == -ENOENT) {
        response_problem(resp, 404, "not-found", NULL, "no resource at %s; see GET /v1/version for the API", url);
        return false;
    }
    if (r == -EOPNOTSUPP) {
        char allow[64];
        router_allow_header(allowed, allow, sizeof(allow));
        response_problem(resp, 405, "method-not-allowed", NULL, "%s does not accept %s; it allows %s",
                         url, method_name, allow);
        response_header(resp, "Allow", allow);
        return false;
    }
    if (r < 0) {
        set_generic_problem(resp, r);
        return false;
    }
    req->method = method;
    if (authenticate(server, req, route, resp) < 0)
        return false;
    ex->limit = route_body_limit(route);
    const char *declared = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
    const char *chunked = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Transfer-Encoding");
    unsigned long long length = declared ? strtoull(declared, NULL, 10) : 0;
    if (length > ex->limit) {
        response_problem(resp, 413, "too-large", NULL,
                         "request body is %llu bytes; %s %s takes at most %zu", length, method_name,
                         route->pattern, ex->limit);
        return false;
    }
    if (length > 0 || chunked) {
        const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        if (!is_json_type(type)) {
            response_problem(resp, 415, "unsupported-media-type", NULL,
                             "request body must be application/json, not '%s'",
                             type ? type : "(none)");
            return false;
        }
    }
    ex->route = route;
    return true;
}

/* A POST body member that the route's schema in the OpenAPI document does
 * not list: 422 with its JSON pointer, before the handler acts on the rest. */
static int refuse_unknown_field(const struct server *server, const struct route *route,
                                const char *method_name, const struct request *req,
                                struct response *resp)
{
    char field[64], allowed[512];
    if (body_schema_check(server->bodies, req->method, route->pattern, req->json, field,
                          sizeof(field), allowed, sizeof(allowed)) == 0)
        return 0;
    char pointer[2 * sizeof(field) + 2] = "";
    problem_pointer_append(pointer, sizeof(pointer), field);
    return response_problem(resp, 422, "unknown-field", pointer,
                            "'%s' is not a field of %s %s; it takes: %s", field, method_name,
                            route->pattern, allowed);
}

/* With the whole body: parses it, and runs the handler.  Leaves the answer
 * in ex->resp whatever happens. */
static void dispatch(struct server *server, struct MHD_Connection *conn, const char *method_name,
                     struct exchange *ex)
{
    struct request *req = &ex->req;
    struct response *resp = &ex->resp;
    const struct route *route = ex->route;
    const char *url = ex->raw_path;
    int r;
    if (ex->length > 0) {
        const char *type = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
        if (!is_json_type(type)) {
            response_problem(resp, 415, "unsupported-media-type", NULL,
                             "request body must be application/json, not '%s'", type ? type : "(none)");
            return;
        }
        req->body = ex->body;
        req->body_length = ex->length;
        if (parse_body(req, resp) < 0)
            return;
        if (refuse_unknown_field(server, route, method_name, req, resp) < 0)
            return;
    }
    /* Handlers take this thread's database connection unchecked; it is
     * opened here on a thread's first request, so a connection SQLite
     * cannot open (no file descriptor left) is one 503 for this request.
     * The open /v1/health says "degraded" itself. */
    if (route->scope != SCOPE_NONE && server->agent->db && !db_pool_get(server->agent->db)) {
        response_problem(resp, 503, "database-unavailable", NULL,
                         "the agent cannot open its database right now (out of file "
                         "descriptors or memory?); retry later");
        response_header(resp, "Retry-After", "1");
        return;
    }
    if (check_if_match(server, url, req, resp) < 0)
        return;
    r = route->handler(req, resp);
    if (r < 0 && resp->status < 400) {
        if (r != -EINVAL && r != -ENOENT && r != -EEXIST)
            log_errno(LOG_LEVEL_ERROR, r, "handler failed method=%s path=%s", method_name, url);
        set_generic_problem(resp, r);
    } else if (r >= 0) {
        tag_change(server, url, req, resp);
    }
}

static enum MHD_Result queue(struct MHD_Connection *conn, struct request *req, struct response *resp)
{
    const char *text = "";
    size_t length = 0;
    if (resp->status == 0)
        resp->status = resp->body || resp->text ? 200 : 204;
    if (resp->body) {
        /* The ETag first: serializing reuses the object's buffer, so the
         * body text must be taken last. */
        if (!resp->etag[0] && resp->status == 200)
            etag_of_json(resp->body, resp->etag, sizeof(resp->etag));
        text = json_object_to_json_string_ext(resp->body, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE);
        length = strlen(text);
    } else if (resp->text) {
        if (!resp->etag[0] && resp->status == 200)
            etag_of_bytes(resp->text, resp->text_length, resp->etag, sizeof(resp->etag));
        text = resp->text;
        length = resp->text_length;
    }
    if (resp->etag[0] && (req->method == HTTP_GET || req->method == HTTP_HEAD) &&
        resp->status == 200) {
        const char *inm = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "If-None-Match");
        if (inm && strstr(inm, resp->etag)) {
            resp->status = 304;
            text = "";
            length = 0;
        }
    }
    struct MHD_Response *r = MHD_create_response_from_buffer(length, (void *)text,
                                                             MHD_RESPMEM_MUST_COPY);
    if (!r)
        return MHD_NO;
    if (length)
        MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE,
                                resp->content_type ? resp->content_type : "application/json");
    if (resp->etag[0])
        MHD_add_response_header(r, MHD_HTTP_HEADER_ETAG, resp->etag);
    for (size_t i = 0; i < resp->n_headers; i++)
        MHD_add_response_header(r, resp->headers[i][0], resp->headers[i][1]);
    enum MHD_Result ok = MHD_queue_response(conn, (unsigned)resp->status, r);
    MHD_destroy_response(r);
    return ok;
}

static void release(struct request *req, struct response *resp)
{
    router_release_params(req);
    json_object_put(req->json);
    json_object_put(resp->body);
    free(resp->text);
    for (size_t i = 0; i < resp->n_headers; i++) {
        free(resp->headers[i][0]);
        free(resp->headers[i][1]);
    }
}

/* The address CONN comes from, as text (an IPv4-mapped IPv6 address as
 * plain IPv4), or "". */
static void client_address(struct MHD_Connection *conn, char *out, size_t size)
{
    out[0] = '\0';
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (!info || !info->client_addr)
        return;
    const struct sockaddr *sa = info->client_addr;
    if (sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)size);
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6))
            inet_ntop(AF_INET, &a6->s6_addr[12], out, (socklen_t)size);
        else
            inet_ntop(AF_INET6, a6, out, (socklen_t)size);
    }
}

/* The connection's entry in the deadline watch, or NULL. */
static struct watched *watched_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

/* Starts a new phase of CONN's deadline: BUSY while a handler runs. */
static void watch_phase(struct server *server, struct MHD_Connection *conn, bool busy)
{
    struct watched *w = watched_of(conn);
    if (!w)
        return;
    pthread_mutex_lock(&server->watch_lock);
    w->busy = busy;
    w->since_ms = clock_mono_ms();
    pthread_mutex_unlock(&server->watch_lock);
}

/* Queues ex->resp, logs the request and releases what it held. */
static enum MHD_Result answer(struct server *server, struct MHD_Connection *conn,
                              const char *method, struct exchange *ex)
{
    enum MHD_Result ok = queue(conn, &ex->req, &ex->resp);
    enum http_method counted;
    metrics_count_request(server->agent->metrics,
                          http_method_from_string(method, &counted) == 0 ? (unsigned)counted
                                                                         : METRICS_METHODS - 1,
                          ex->resp.status);
    char path[512];
    log_escape(ex->raw_path, path, sizeof(path));
    log_info("request method=%s path=%s status=%d latency_us=%ld token=%s", method, path,
             ex->resp.status, elapsed_us(&ex->started), ex->req.token_name);
    release(&ex->req, &ex->resp);
    memset(&ex->resp, 0, sizeof(ex->resp));
    ex->req.json = NULL;
    ex->answered = true;
    return ok;
}

/* libmicrohttpd calls this first with the headers (we decide on them
 * alone: nobody unauthenticated gets a byte of body read), then with each
 * piece of the body, then once with no more data (the handler runs). */
static enum MHD_Result access_handler(void *cls, struct MHD_Connection *conn, const char *url,
                                      const char *method, const char *version,
                                      const char *upload_data, size_t *upload_data_size,
                                      void **con_cls)
{
    (void)version;
    (void)url; /* decoded by libmicrohttpd: we route on ex->raw_path */
    struct server *server = cls;
    struct exchange *ex = *con_cls;
    if (!ex)
        return MHD_NO; /* uri_logged() could not allocate it */
    if (ex->answered) {
        *upload_data_size = 0; /* the rest of a refused body */
        return MHD_YES;
    }
    if (!ex->headers_seen) {
        ex->headers_seen = true;
        ex->req = (struct request){
            .agent = server->agent,
            .path = ex->raw_path,
            .token_name = "anonymous",
            .lookup = lookup_value,
            .lookup_ctx = conn,
        };
        client_address(conn, ex->req.client_address, sizeof(ex->req.client_address));
        http_method_from_string(method, &ex->req.method);
        if (!admit(server, conn, method, ex))
            return answer(server, conn, method, ex);
        return MHD_YES;
    }
    if (*upload_data_size) {
        bool kept = exchange_append(ex, upload_data, *upload_data_size);
        *upload_data_size = 0;
        if (kept)
            return MHD_YES;
        /* libmicrohttpd may refuse an answer in the middle of a body; then
         * MHD_NO closes the connection, which refuses the body as well. */
        response_problem(&ex->resp, 413, "too-large", NULL,
                         "request body is over %zu bytes, the most %s %s takes", ex->limit, method,
                         ex->route->pattern);
        return answer(server, conn, method, ex);
    }

    watch_phase(server, conn, true);
    dispatch(server, conn, method, ex);
    enum MHD_Result ok = answer(server, conn, method, ex);
    watch_phase(server, conn, false);
    return ok;
}

/* Called by libmicrohttpd with the raw request target before anything
 * else; what it returns becomes the request's *con_cls. */
static void *uri_logged(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    struct exchange *ex = calloc(1, sizeof(*ex));
    if (!ex)
        return NULL;
    clock_gettime(CLOCK_MONOTONIC, &ex->started);
    ex->raw_path = strndup(uri, strcspn(uri, "?#"));
    if (!ex->raw_path) {
        free(ex);
        return NULL;
    }
    return ex;
}

static void request_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                              enum MHD_RequestTerminationCode code)
{
    (void)code;
    struct exchange *ex = *con_cls;
    if (ex) {
        if (!ex->answered)
            release(&ex->req, &ex->resp);
        free(ex->raw_path);
        free(ex->body);
        free(ex);
        *con_cls = NULL;
    }
    watch_phase(cls, conn, false); /* idle until the next request */
}

/* Connections enter the deadline watch when accepted and leave it before
 * libmicrohttpd closes their socket, so the watch never touches a
 * descriptor that was closed (and maybe reused). */
static void connection_notified(void *cls, struct MHD_Connection *conn, void **socket_context,
                                enum MHD_ConnectionNotificationCode code)
{
    struct server *server = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *info =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct watched *w = info ? calloc(1, sizeof(*w)) : NULL;
        if (!w)
            return; /* not watched: the idle timeout still holds */
        w->fd = info->connect_fd;
        w->since_ms = clock_mono_ms();
        pthread_mutex_lock(&server->watch_lock);
        w->next = server->watched;
        if (w->next)
            w->next->prev = w;
        server->watched = w;
        pthread_mutex_unlock(&server->watch_lock);
        *socket_context = w;
        return;
    }
    struct watched *w = *socket_context;
    if (!w)
        return;
    pthread_mutex_lock(&server->watch_lock);
    if (w->prev)
        w->prev->next = w->next;
    else
        server->watched = w->next;
    if (w->next)
        w->next->prev = w->prev;
    pthread_mutex_unlock(&server->watch_lock);
    free(w);
    *socket_context = NULL;
}

/* The "http-deadline" thread: twice a second, shuts down every connection
 * that spent longer than the deadline in one phase outside a handler
 * (headers or body arriving, the answer leaving, idle between requests).
 * libmicrohttpd's own timeout is reset by every byte, so a client that
 * sends one byte every few seconds (slowloris) would keep its connection
 * and thread for ever.  Owns nothing; reads and marks the watch list under
 * watch_lock. */
static void *watchdog_main(void *arg)
{
    struct server *server = arg;
    pthread_setname_np(pthread_self(), "http-deadline");
    pthread_mutex_lock(&server->watch_lock);
    while (!server->watch_stopping) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_nsec += 500 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&server->watch_wake, &server->watch_lock, &until);
        int64_t now = clock_mono_ms();
        unsigned cut = 0;
        for (struct watched *w = server->watched; w; w = w->next) {
            if (w->busy || w->cut || now - w->since_ms <= server->deadline_ms)
                continue;
            shutdown(w->fd, SHUT_RDWR); /* libmicrohttpd sees the end and closes */
            w->cut = true;
            cut++;
        }
        if (cut)
            log_warning("connections closed: over the request deadline count=%u deadline_s=%lld",
                        cut, (long long)(server->deadline_ms / 1000));
    }
    pthread_mutex_unlock(&server->watch_lock);
    return NULL;
}

/* libmicrohttpd's messages, at most MHD_LOG_PER_SECOND a second: under a
 * flood of refused connections (a limit reached) it says so once per
 * connection, and the log must not become the way to fill the disk. */
#define MHD_LOG_PER_SECOND 10

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    struct server *server = cls;
    int64_t now = clock_mono_ms();
    unsigned suppressed = 0;
    pthread_mutex_lock(&server->log_lock);
    if (now - server->log_window_ms >= 1000) {
        suppressed = server->log_suppressed;
        server->log_window_ms = now;
        server->log_in_window = 0;
        server->log_suppressed = 0;
    }
    bool quiet = server->log_in_window >= MHD_LOG_PER_SECOND;
    if (quiet)
        server->log_suppressed++;
    else
        server->log_in_window++;
    pthread_mutex_unlock(&server->log_lock);
    if (suppressed)
        log_warning("http: messages suppressed count=%u (more than %d a second)", suppressed,
                    MHD_LOG_PER_SECOND);
    if (quiet)
        return;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    log_warning("http: %s", msg);
}

static int read_file(const char *path, char **out)
{
    _cleanup_fclose_ FILE *f = fopen(path, "re");
    if (!f)
        return -errno;
    char *buf = NULL;
    size_t len = 0;
    _cleanup_fclose_ FILE *mem = open_memstream(&buf, &len);
    if (!mem)
        return -ENOMEM;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        fwrite(chunk, 1, n, mem);
    fclose(mem);
    mem = NULL;
    if (ferror(f)) {
        free(buf);
        return -EIO;
    }
    *out = buf;
    return 0;
}

int server_start(struct agent *agent, struct server **out)
{
    const struct config *config = &agent->config;
    struct server *server = calloc(1, sizeof(*server));
    if (!server)
        return -ENOMEM;
    server->agent = agent;
    pthread_mutex_init(&server->watch_lock, NULL);
    pthread_mutex_init(&server->log_lock, NULL);
    pthread_condattr_t cattr;
    pthread_condattr_init(&cattr);
    pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
    pthread_cond_init(&server->watch_wake, &cattr);
    pthread_condattr_destroy(&cattr);
    server->deadline_ms = (int64_t)config->request_timeout * 1000;
    server->router = router_create(api_route_tables, api_route_tables_count);
    if (!server->router) {
        server_stop(server);
        return -ENOMEM;
    }
    const struct asset *openapi = asset_find("openapi.json");
    int rs = openapi ? body_schema_create(openapi->data, openapi->length, &server->bodies) : -ENOENT;
    if (rs < 0) {
        server_stop(server);
        return log_errno(LOG_LEVEL_ERROR, rs, "cannot read the embedded OpenAPI document");
    }

    struct sockaddr_storage addr = { 0 };
    unsigned threads = config->threads;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG |
                     (threads ? MHD_USE_EPOLL : MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL);
    if (strchr(config->listen_address, ':')) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&addr;
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(config->listen_port);
        inet_pton(AF_INET6, config->listen_address, &a6->sin6_addr);
        flags |= MHD_USE_IPv6;
    } else {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&addr;
        a4->sin_family = AF_INET;
        a4->sin_port = htons(config->listen_port);
        inet_pton(AF_INET, config->listen_address, &a4->sin_addr);
    }

    if (config->tls_cert) {
        int r = read_file(config->tls_cert, &server->tls_cert);
        if (r < 0) {
            server_stop(server);
            return log_errno(LOG_LEVEL_ERROR, r, "cannot read tls_cert path=%s", config->tls_cert);
        }
        char err[512];
        r = secret_file_read(config->tls_key, "tls_key", "the private key", &server->tls_key, err,
                             sizeof(err));
        if (r < 0) {
            server_stop(server);
            return log_errno(LOG_LEVEL_ERROR, r, "cannot use tls_key reason=\"%s\"", err);
        }
        flags |= MHD_USE_TLS;
    }

    struct MHD_OptionItem options[] = {
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, server}, /* first, or MHD logs on its own */
        {MHD_OPTION_SOCK_ADDR, 0, &addr},
        {threads ? MHD_OPTION_THREAD_POOL_SIZE : MHD_OPTION_THREAD_STACK_SIZE,
         threads ? (intptr_t)threads : 2 << 20, NULL}, /* per connection: 2 MiB, not 8 */
        {MHD_OPTION_CONNECTION_TIMEOUT, config->request_timeout ? config->request_timeout : 60,
         NULL},
        {MHD_OPTION_CONNECTION_LIMIT, config->max_connections ? config->max_connections : 1024,
         NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, config->max_connections_per_ip, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)request_completed, server},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)connection_notified, server},
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_logged, NULL},
        {server->tls_cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, server->tls_cert},
        {server->tls_key ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, server->tls_key},
        {MHD_OPTION_END, 0, NULL},
    };
    server->daemon = MHD_start_daemon(flags, config->listen_port, NULL, NULL, access_handler, server,
                                      MHD_OPTION_ARRAY, options, MHD_OPTION_END);
    if (!server->daemon) {
        server_stop(server);
        log_error("cannot listen listen=%s (address in use, not configured on this host, or a "
                  "bad TLS certificate/key)",
                  config->listen);
        return -EADDRNOTAVAIL;
    }
    if (server->deadline_ms) {
        int e = pthread_create(&server->watchdog, NULL, watchdog_main, server);
        if (e) {
            server_stop(server);
            return log_errno(LOG_LEVEL_ERROR, -e, "cannot start the request deadline thread");
        }
        server->watch_running = true;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(server->daemon, MHD_DAEMON_INFO_BIND_PORT);
    server->port = info ? info->port : config->listen_port;
    char pool[32] = "per-connection";
    if (threads)
        snprintf(pool, sizeof(pool), "%u", threads);
    log_info("listening address=%s port=%u tls=%s threads=%s auth=%s max_connections=%u "
             "max_connections_per_ip=%u request_timeout_s=%u",
             config->listen_address, server->port, server->tls_cert ? "on" : "off", pool,
             agent->tokens ? "on" : "off", config->max_connections ? config->max_connections : 1024,
             config->max_connections_per_ip, config->request_timeout);
    *out = server;
    return 0;
}

unsigned server_port(const struct server *server)
{
    return server->port;
}

void server_stop(struct server *server)
{
    if (!server)
        return;
    if (server->watch_running) {
        pthread_mutex_lock(&server->watch_lock);
        server->watch_stopping = true;
        pthread_cond_signal(&server->watch_wake);
        pthread_mutex_unlock(&server->watch_lock);
        pthread_join(server->watchdog, NULL);
    }
    if (server->daemon)
        MHD_stop_daemon(server->daemon);
    pthread_cond_destroy(&server->watch_wake);
    pthread_mutex_destroy(&server->watch_lock);
    pthread_mutex_destroy(&server->log_lock);
    router_destroy(server->router);
    body_schema_destroy(server->bodies);
    if (server->tls_key)
        explicit_bzero(server->tls_key, strlen(server->tls_key));
    free(server->tls_cert);
    free(server->tls_key);
    free(server);
}
