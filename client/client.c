/* The REST client on libcurl.  One easy handle per client, reused so that
 * keep-alive connections and TLS sessions survive between calls. */
#include "client/client.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/cleanup.h"
#include "base/secret_file.h"

struct client {
    CURL *curl;
    char *base_url;
    char *auth_header;
    char *ca_file;
    bool insecure;
    long timeout_ms;
};

struct buffer {
    char *data;
    size_t length;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

int client_create(const struct client_options *options, struct client **out)
{
    pthread_once(&curl_once, curl_init_once);
    struct client *client = calloc(1, sizeof(*client));
    if (!client)
        return -ENOMEM;
    client->curl = curl_easy_init();
    client->base_url = strdup(options->base_url);
    client->ca_file = options->ca_file ? strdup(options->ca_file) : NULL;
    client->insecure = options->insecure;
    client->timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : 10000;
    if (options->token && asprintf(&client->auth_header, "Authorization: Bearer %s", options->token) < 0)
        client->auth_header = NULL;
    if (!client->curl || !client->base_url || (options->token && !client->auth_header) ||
        (options->ca_file && !client->ca_file)) {
        client_destroy(client);
        return -ENOMEM;
    }
    /* Strip a trailing slash so base + "/v1/..." has one. */
    size_t n = strlen(client->base_url);
    while (n && client->base_url[n - 1] == '/')
        client->base_url[--n] = '\0';
    *out = client;
    return 0;
}

void client_destroy(struct client *client)
{
    if (!client)
        return;
    if (client->curl)
        curl_easy_cleanup(client->curl);
    if (client->auth_header)
        explicit_bzero(client->auth_header, strlen(client->auth_header));
    free(client->auth_header);
    free(client->base_url);
    free(client->ca_file);
    free(client);
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct buffer *buf = userdata;
    size_t n = size * nmemb;
    if (buf->length + n > 64u * 1024 * 1024)
        return 0; /* refuse absurd answers */
    char *grown = realloc(buf->data, buf->length + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + buf->length, ptr, n);
    buf->data = grown;
    buf->length += n;
    buf->data[buf->length] = '\0';
    return n;
}

static char *header_value(const char *line, size_t n, const char *name)
{
    size_t len = strlen(name);
    if (n <= len + 1 || strncasecmp(line, name, len) != 0 || line[len] != ':')
        return NULL;
    const char *v = line + len + 1;
    const char *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && isspace((unsigned char)end[-1]))
        end--;
    return strndup(v, (size_t)(end - v));
}

static size_t on_header(char *line, size_t size, size_t nmemb, void *userdata)
{
    struct client_reply *reply = userdata;
    size_t n = size * nmemb;
    char *v;
    if ((v = header_value(line, n, "Location"))) {
        free(reply->location);
        reply->location = v;
    } else if ((v = header_value(line, n, "ETag"))) {
        free(reply->etag);
        reply->etag = v;
    }
    return n;
}

static int curl_errno(CURLcode code)
{
    switch (code) {
    case CURLE_COULDNT_CONNECT: return -ECONNREFUSED;
    case CURLE_COULDNT_RESOLVE_HOST: return -EHOSTUNREACH;
    case CURLE_OPERATION_TIMEDOUT: return -ETIMEDOUT;
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CONNECT_ERROR: return -EPROTO;
    case CURLE_OUT_OF_MEMORY: return -ENOMEM;
    default: return -EIO;
    }
}

int client_call(struct client *client, const char *method, const char *path,
                struct json_object *body, const char *const *headers, struct client_reply *reply)
{
    memset(reply, 0, sizeof(*reply));
    CURL *curl = client->curl;
    curl_easy_reset(curl);

    _cleanup_free_ char *url = NULL;
    if (asprintf(&url, "%s%s", client->base_url, path) < 0)
        return -ENOMEM;
    struct curl_slist *list = NULL;
    list = curl_slist_append(list, "Accept: application/json, application/problem+json");
    if (client->auth_header)
        list = curl_slist_append(list, client->auth_header);
    const char *payload = NULL;
    if (body) {
        payload = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
        list = curl_slist_append(list, "Content-Type: application/json");
    }
    for (const char *const *h = headers; h && *h; h++)
        list = curl_slist_append(list, *h);

    struct buffer buf = { 0 };
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, client->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, client->timeout_ms < 3000 ? client->timeout_ms : 3000);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, reply);
    if (payload) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    }
    if (client->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, client->ca_file);
    if (client->insecure) {
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
    }

    CURLcode code = curl_easy_perform(curl);
    curl_slist_free_all(list);
    if (code != CURLE_OK) {
        snprintf(reply->error, sizeof(reply->error), "%s: %s", client->base_url,
                 curl_easy_strerror(code));
        free(buf.data);
        return curl_errno(code);
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &reply->status);
    if (buf.length)
        reply->body = json_tokener_parse(buf.data);
    free(buf.data);
    return 0;
}

void client_reply_release(struct client_reply *reply)
{
    json_object_put(reply->body);
    free(reply->location);
    free(reply->etag);
    memset(reply, 0, sizeof(*reply));
}

const char *client_url_host(const char *url, char *buf, size_t size)
{
    const char *start = url ? strstr(url, "://") : NULL;
    if (!start) {
        snprintf(buf, size, "%s", "");
        return buf;
    }
    start += 3;
    if (*start == '[')
        start++;
    snprintf(buf, size, "%.*s", (int)strcspn(start, "]:/"), start);
    return buf;
}

const char *client_reply_message(const struct client_reply *reply, char *buf, size_t size)
{
    if (reply->status == 0) {
        snprintf(buf, size, "cannot reach the agent: %s", reply->error);
        return buf;
    }
    struct json_object *title = NULL, *detail = NULL, *type = NULL, *pointer = NULL;
    if (reply->body) {
        json_object_object_get_ex(reply->body, "title", &title);
        json_object_object_get_ex(reply->body, "detail", &detail);
        json_object_object_get_ex(reply->body, "type", &type);
        json_object_object_get_ex(reply->body, "pointer", &pointer);
    }
    const char *slug = type ? strrchr(json_object_get_string(type), '/') : NULL;
    snprintf(buf, size, "%ld %s: %s%s%s%s%s%s", reply->status,
             title ? json_object_get_string(title) : "error",
             detail ? json_object_get_string(detail) : "(no detail)", pointer ? " at " : "",
             pointer ? json_object_get_string(pointer) : "", slug ? " (" : "",
             slug ? slug + 1 : "", slug ? ")" : "");
    return buf;
}

int client_read_token_file(const char *path, char **token, char *err, size_t size)
{
    FILE *opened = NULL;
    int r = token_file_open(path, &opened, err, size); /* owner and mode, as lmnetd's */
    if (r < 0)
        return r;
    _cleanup_fclose_ FILE *f = opened;
    char line[1024];
    while (fgets(line, sizeof(line), f)) {
        token_line_strip_comment(line);
        char a[300], b[300], c[300];
        int n = sscanf(line, "%299s %299s %299s", a, b, c);
        const char *value = n == 3 ? c : n == 1 ? a : NULL;
        if (n <= 0)
            continue;
        if (!value) {
            snprintf(err, size, "%s: expected 'NAME SCOPE TOKEN' or a bare token", path);
            return -EINVAL;
        }
        *token = strdup(value);
        explicit_bzero(line, sizeof(line));
        return *token ? 0 : -ENOMEM;
    }
    snprintf(err, size, "%s: no token in the file", path);
    return -EINVAL;
}

enum refusal_kind client_refusal_kind(long status)
{
    switch (status) {
    case 401: return REFUSAL_UNAUTHENTICATED;
    case 403: return REFUSAL_FORBIDDEN;
    case 404: return REFUSAL_NOT_FOUND;
    case 409: return REFUSAL_CONFLICT;
    case 422: return REFUSAL_INVALID;
    case 500: return REFUSAL_INTERNAL;
    case 501: return REFUSAL_NOT_IMPLEMENTED;
    case 502: return REFUSAL_BAD_ANSWER;
    case 503: return REFUSAL_UNAVAILABLE;
    }
    return status >= 400 && status < 500 ? REFUSAL_INVALID : REFUSAL_BAD_ANSWER;
}
