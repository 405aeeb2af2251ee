/* The contract between the HTTP server and the resource handlers.
 *
 * Each api/NOUN.c file exports a table of routes (NOUN_routes[], ended by an
 * entry whose pattern is NULL) that api/routes.c lists.  A pattern is a path
 * such as "/v1/mac-pools/{name}/allocations/{mac}"; "{x}" matches one path
 * segment, available to the handler as request_param(req, "x") (percent-
 * decoded).
 *
 * A handler fills in the response and returns 0, or returns a negative errno.
 * For a precise error it calls response_problem() (status, type, detail, and
 * the JSON pointer of the offending field) and returns its result; for a bare
 * negative errno the server answers the generic problem of that errno
 * (api/problem.h). */
#ifndef LMNET_API_ROUTE_H
#define LMNET_API_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <json-c/json.h>

struct agent;

enum http_method {
    HTTP_GET,
    HTTP_HEAD,
    HTTP_POST,
    HTTP_PUT,
    HTTP_PATCH,
    HTTP_DELETE,
    HTTP_METHOD_COUNT,
};

const char *http_method_to_string(enum http_method method);
/* Returns 0 and *method, or -EINVAL for a method we do not serve. */
int http_method_from_string(const char *name, enum http_method *method);

/* What a route requires of the caller's token. */
enum scope {
    SCOPE_NONE,  /* open: /v1/health */
    SCOPE_READ,
    SCOPE_ADMIN,
    SCOPE_MEMBER, /* a cluster member's own credential (agent/credential.h), on the
                     registry; admin tokens do not do */
};

const char *scope_to_string(enum scope scope);

#define ROUTE_MAX_PARAMS 4

struct request {
    struct agent *agent;
    enum http_method method;
    const char *path;
    const char *token_name;   /* the authenticated token's name, "anonymous" when auth is off */
    char member[37];          /* SCOPE_MEMBER: the uuid of the member whose credential it is */
    char client_address[64];  /* the caller's IP address as text, "" when unknown */
    const char *body;         /* NUL-terminated, may be NULL */
    size_t body_length;
    struct json_object *json; /* parsed body for POST/PUT/PATCH with JSON, or NULL */
    size_t n_params;
    char param_names[ROUTE_MAX_PARAMS][32];
    char *param_values[ROUTE_MAX_PARAMS];
    /* The server's accessor for request headers and query arguments. */
    const char *(*lookup)(void *ctx, int kind, const char *name);
    void *lookup_ctx;
};

#define RESPONSE_MAX_HEADERS 8

struct response {
    int status;                 /* 0 until set; 200 is assumed for a body */
    struct json_object *body;   /* owned by the response */
    char *text;                 /* a non-JSON body (metrics, web assets), owned; used when
                                   BODY is NULL */
    size_t text_length;
    const char *content_type;   /* default application/json */
    char *headers[RESPONSE_MAX_HEADERS][2]; /* extra headers, owned */
    size_t n_headers;
    char etag[40];              /* set by the handler, or computed from the body */
};

/* The value of path parameter NAME, or NULL. */
const char *request_param(const struct request *req, const char *name);
/* A request header (case-insensitive name) or NULL. */
const char *request_header(const struct request *req, const char *name);
/* A query-string argument or NULL. */
const char *request_query(const struct request *req, const char *name);

/* Sets STATUS and BODY (consumed).  Returns 0. */
int response_json(struct response *resp, int status, struct json_object *body);

/* Sets STATUS and a non-JSON body: LENGTH bytes of TEXT (copied) of
 * CONTENT_TYPE (a static string).  Returns 0 or -ENOMEM. */
int response_text(struct response *resp, int status, const char *content_type, const char *text,
                  size_t length);

/* Adds a header (both strings copied).  Returns 0 or -ENOMEM/-E2BIG. */
int response_header(struct response *resp, const char *name, const char *value);

/* Sets a problem+json body: TYPE is a short slug ("mac-pool-exhausted") that
 * becomes the problem's type URI, POINTER the JSON pointer of the field at
 * fault (sent as "pointer") or NULL.  Returns the negative errno that matches
 * STATUS (problem_status_to_errno()), so validation helpers can return it and
 * a handler can end with "return response_problem(...)"; the server sends the
 * problem as set. */
int response_problem(struct response *resp, int status, const char *type, const char *pointer,
                     const char *detail_fmt, ...) __attribute__((format(printf, 5, 6)));

/* Sets the problem REFUSAL stands for (base/refusal.h): its status from
 * its kind (problem_status_of_refusal()), its type, pointer and detail.
 * Returns what response_problem() returns. */
struct refusal;
int response_refusal(struct response *resp, const struct refusal *refusal);

/* Checks If-Match against the resource's current ETAG (quoted, as produced
 * by etag_of_json()).  Returns 0 when there is no If-Match or it matches;
 * otherwise sets a 412 problem and returns its result. */
int request_check_if_match(const struct request *req, struct response *resp, const char *etag);

/* Computes a strong ETag ("\"<16 hex>\"") over the JSON text of OBJ into
 * OUT (at least 19 bytes). */
void etag_of_json(struct json_object *obj, char *out, size_t out_size);
/* The same over LENGTH bytes of DATA. */
void etag_of_bytes(const char *data, size_t length, char *out, size_t out_size);

struct route {
    enum http_method method;
    const char *pattern;
    enum scope scope;
    int (*handler)(struct request *req, struct response *resp);
};

#endif
