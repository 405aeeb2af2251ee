/* The etcd v3 JSON-gateway client: see agent/etcd.h.
 *
 * Every call is one POST of a JSON body to /v3/..., answered by one JSON
 * object.  post() does the endpoint failover and the authentication; the
 * typed calls above it build the bodies and read the answers.  Threads
 * share the curl handles (a free list under etcd->lock; each handle keeps
 * its connections, so a busy client reuses them), the token and the index
 * of the endpoint that answered last, under the same lock. */
#include "agent/etcd.h"

#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <json-c/json.h>
#include "base/cleanup.h"

#define ETCD_MAX_ENDPOINTS      16
#define ETCD_MAX_HANDLES        16
#define ETCD_DEFAULT_TIMEOUT_MS 3000
#define ETCD_MAX_REPLY          (64u << 20)

struct etcd {
    char *endpoints[ETCD_MAX_ENDPOINTS]; /* base URLs: http(s)://host:port */
    size_t n_endpoints;
    bool tls;
    char *ca_file, *cert_file, *key_file;
    char *user, *password;
    long timeout_ms;
    pthread_mutex_t lock; /* guards current, token, handles */
    size_t current;
    char *token;
    CURL *handles[ETCD_MAX_HANDLES];
    size_t n_handles;
};

struct etcd_txn {
    struct json_object *compare;
    struct json_object *success;
};

static _Thread_local char last_error[512];

static int set_error(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_error(int r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof(last_error), fmt, ap);
    va_end(ap);
    return r;
}

const char *etcd_last_error(void)
{
    return last_error;
}

/* ---- base64 ---- */

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

char *etcd_base64_encode(const void *data, size_t len)
{
    const unsigned char *in = data;
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < len)
            v |= in[i + 2];
        out[o++] = b64[(v >> 18) & 63];
        out[o++] = b64[(v >> 12) & 63];
        out[o++] = i + 1 < len ? b64[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < len ? b64[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

static int b64_value(char c)
{
    const char *p = c ? strchr(b64, c) : NULL;
    return p ? (int)(p - b64) : -1;
}

char *etcd_base64_decode(const char *text, size_t *len)
{
    size_t n = strlen(text);
    if (n % 4 != 0)
        return NULL;
    char *out = malloc(n / 4 * 3 + 1);
    if (!out)
        return NULL;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        for (int k = 0; k < 4; k++)
            v[k] = text[i + k] == '=' && i + 4 == n && k >= 2 ? -2 : b64_value(text[i + k]);
        if (v[0] < 0 || v[1] < 0 || v[2] == -1 || v[3] == -1 || (v[2] == -2 && v[3] != -2)) {
            free(out);
            return NULL;
        }
        uint32_t x = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                     (uint32_t)(v[2] < 0 ? 0 : v[2]) << 6 | (uint32_t)(v[3] < 0 ? 0 : v[3]);
        out[o++] = (char)(x >> 16);
        if (v[2] >= 0)
            out[o++] = (char)(x >> 8 & 0xff);
        if (v[3] >= 0)
            out[o++] = (char)(x & 0xff);
    }
    out[o] = '\0';
    if (len)
        *len = o;
    return out;
}

char *etcd_prefix_end(const char *prefix)
{
    char *end = strdup(prefix);
    if (!end)
        return NULL;
    for (size_t i = strlen(end); i-- > 0;) {
        if ((unsigned char)end[i] < 0xff) {
            end[i]++;
            end[i + 1] = '\0';
            return end;
        }
    }
    /* all 0xff: everything after; etcd's "\0" means no end */
    end[0] = '\0';
    return end;
}

/* ---- JSON helpers ---- */

static void add_b64(struct json_object *o, const char *field, const char *text)
{
    char *e = etcd_base64_encode(text, strlen(text));
    json_object_object_add(o, field, json_object_new_string(e ? e : ""));
    free(e);
}

static void add_int64(struct json_object *o, const char *field, int64_t v)
{
    char text[24];
    snprintf(text, sizeof(text), "%" PRId64, v);
    json_object_object_add(o, field, json_object_new_string(text));
}

/* An int64 field: etcd writes them as strings; absent is 0. */
static int64_t get_int64(struct json_object *o, const char *field)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, field, &v))
        return 0;
    if (json_object_is_type(v, json_type_string))
        return strtoll(json_object_get_string(v), NULL, 10);
    return json_object_get_int64(v);
}

static char *get_b64(struct json_object *o, const char *field)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(o, field, &v) || !json_object_is_type(v, json_type_string))
        return strdup("");
    return etcd_base64_decode(json_object_get_string(v), NULL);
}

/* ---- transport ---- */

struct buffer {
    char *data;
    size_t length;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct buffer *b = userdata;
    size_t n = size * nmemb;
    if (b->length + n > ETCD_MAX_REPLY)
        return 0;
    char *grown = realloc(b->data, b->length + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + b->length, ptr, n);
    b->length += n;
    grown[b->length] = '\0';
    b->data = grown;
    return n;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

static CURL *handle_take(struct etcd *etcd)
{
    pthread_mutex_lock(&etcd->lock);
    CURL *c = etcd->n_handles ? etcd->handles[--etcd->n_handles] : NULL;
    pthread_mutex_unlock(&etcd->lock);
    return c ? c : curl_easy_init();
}

static void handle_give(struct etcd *etcd, CURL *c)
{
    pthread_mutex_lock(&etcd->lock);
    if (etcd->n_handles < ETCD_MAX_HANDLES) {
        etcd->handles[etcd->n_handles++] = c;
        c = NULL;
    }
    pthread_mutex_unlock(&etcd->lock);
    if (c)
        curl_easy_cleanup(c);
}

/* One POST to one endpoint.  Returns 0 with *status and *reply (may be NULL
 * when the body is not JSON), or a negative errno when no answer came. */
static int post_one(struct etcd *etcd, size_t endpoint, const char *path, const char *payload,
                    const char *token, long *status, struct json_object **reply)
{
    *reply = NULL;
    *status = 0;
    CURL *curl = handle_take(etcd);
    if (!curl)
        return -ENOMEM;
    char url[512], auth[600];
    snprintf(url, sizeof(url), "%s%s", etcd->endpoints[endpoint], path);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: %s", token);
        headers = curl_slist_append(headers, auth);
    }
    struct buffer buf = {0};
    char detail[CURL_ERROR_SIZE] = "";
    curl_easy_reset(curl);
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, detail);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, etcd->timeout_ms);
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     etcd->timeout_ms < 1000 ? etcd->timeout_ms : 1000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &buf);
    if (etcd->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, etcd->ca_file);
    if (etcd->cert_file)
        curl_easy_setopt(curl, CURLOPT_SSLCERT, etcd->cert_file);
    if (etcd->key_file)
        curl_easy_setopt(curl, CURLOPT_SSLKEY, etcd->key_file);
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    if (token)
        explicit_bzero(auth, sizeof(auth));
    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, NULL);
    int r = 0;
    if (rc != CURLE_OK) {
        /* With TLS 1.3 a server that wants a client certificate says so
         * with an alert after the handshake, or just closes: a receive or
         * send error, not a connect error.  Without a client certificate
         * that is what it most likely means. */
        bool https = strncmp(etcd->endpoints[endpoint], "https:", 6) == 0;
        bool closed = https && (rc == CURLE_RECV_ERROR || rc == CURLE_SEND_ERROR);
        bool alert = closed && (strstr(detail, "alert") || !etcd->cert_file);
        bool verify = rc == CURLE_PEER_FAILED_VERIFICATION;
        bool tls = alert || verify || rc == CURLE_SSL_CONNECT_ERROR ||
                   rc == CURLE_SSL_CERTPROBLEM || rc == CURLE_SSL_CACERT_BADFILE;
        r = rc == CURLE_OPERATION_TIMEDOUT     ? -ETIMEDOUT
            : rc == CURLE_COULDNT_CONNECT      ? -ECONNREFUSED
            : rc == CURLE_COULDNT_RESOLVE_HOST ? -EHOSTUNREACH
            : tls                              ? -EACCES
                                               : -EIO;
        /* What to do first: the health output keeps only the start. */
        const char *hint = NULL;
        if (verify)
            hint = etcd->ca_file ? "etcd's server certificate is not signed by etcd_ca_file"
                                 : "etcd's server certificate is not signed by a system CA "
                                   "(set etcd_ca_file)";
        else if (alert && !etcd->cert_file)
            hint = "etcd closed the TLS connection: it wants a client certificate (set "
                   "etcd_cert_file and etcd_key_file)";
        else if (alert)
            hint = "etcd refused the client certificate in etcd_cert_file";
        set_error(r, "%s: %s%s(%s%s%s)", etcd->endpoints[endpoint], hint ? hint : "",
                  hint ? " " : "", curl_easy_strerror(rc), *detail ? ": " : "", detail);
        curl_easy_cleanup(curl); /* a handle that failed keeps nothing worth reusing */
        free(buf.data);
        return r;
    }
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
    handle_give(etcd, curl);
    *reply = buf.data ? json_tokener_parse(buf.data) : NULL;
    free(buf.data);
    return 0;
}

static bool is_auth_expired(struct json_object *reply)
{
    struct json_object *v = NULL;
    const char *m =
        json_object_object_get_ex(reply, "message", &v) ? json_object_get_string(v) : "";
    return get_int64(reply, "code") == 16 || strstr(m, "invalid auth token");
}

static int authenticate(struct etcd *etcd, size_t endpoint);

/* POSTs BODY to PATH, trying each endpoint once from the last good one.
 * Returns 0 and *reply (the caller's), or a negative errno with the reason
 * in last_error. */
static int post(struct etcd *etcd, const char *path, struct json_object *body,
                struct json_object **reply, bool with_token)
{
    const char *payload = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
    pthread_mutex_lock(&etcd->lock);
    size_t start = etcd->current;
    pthread_mutex_unlock(&etcd->lock);
    int r = -EHOSTUNREACH;
    bool reauthed = false;
    for (size_t i = 0; i < etcd->n_endpoints; i++) {
        size_t e = (start + i) % etcd->n_endpoints;
        char *token = NULL;
        if (with_token && etcd->user) {
            pthread_mutex_lock(&etcd->lock);
            token = etcd->token ? strdup(etcd->token) : NULL;
            pthread_mutex_unlock(&etcd->lock);
            if (!token) {
                r = authenticate(etcd, e);
                if (r == -EACCES)
                    return r;
                if (r < 0)
                    continue;
                pthread_mutex_lock(&etcd->lock);
                token = etcd->token ? strdup(etcd->token) : NULL;
                pthread_mutex_unlock(&etcd->lock);
            }
        }
        long status = 0;
        r = post_one(etcd, e, path, payload, token, &status, reply);
        if (token) {
            explicit_bzero(token, strlen(token));
            free(token);
        }
        if (r < 0)
            continue;
        if (status >= 500 || !*reply) {
            struct json_object *v = NULL;
            r = set_error(status >= 500 ? -EHOSTUNREACH : -EPROTO, "%s: HTTP %ld %s",
                          etcd->endpoints[e], status,
                          *reply && json_object_object_get_ex(*reply, "message", &v)
                              ? json_object_get_string(v)
                              : "(no etcd answer)");
            json_object_put(*reply);
            *reply = NULL;
            continue;
        }
        if (status != 200 && with_token && etcd->user && !reauthed && is_auth_expired(*reply)) {
            json_object_put(*reply);
            *reply = NULL;
            pthread_mutex_lock(&etcd->lock);
            free(etcd->token);
            etcd->token = NULL;
            pthread_mutex_unlock(&etcd->lock);
            reauthed = true;
            i--; /* the same endpoint again, with a new token */
            continue;
        }
        pthread_mutex_lock(&etcd->lock);
        etcd->current = e;
        pthread_mutex_unlock(&etcd->lock);
        if (status != 200) {
            struct json_object *v = NULL;
            r = set_error(get_int64(*reply, "code") == 16 || status == 401 ? -EACCES : -EIO,
                          "etcd refused %s: %s", path,
                          json_object_object_get_ex(*reply, "message", &v)
                              ? json_object_get_string(v)
                              : json_object_to_json_string(*reply));
            json_object_put(*reply);
            *reply = NULL;
            return r;
        }
        return 0;
    }
    return r;
}

static int authenticate(struct etcd *etcd, size_t endpoint)
{
    _cleanup_json_ struct json_object *body = json_object_new_object();
    json_object_object_add(body, "name", json_object_new_string(etcd->user));
    json_object_object_add(body, "password",
                           json_object_new_string(etcd->password ? etcd->password : ""));
    const char *payload = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN);
    long status = 0;
    _cleanup_json_ struct json_object *reply = NULL;
    int r = post_one(etcd, endpoint, "/v3/auth/authenticate", payload, NULL, &status, &reply);
    struct json_object *token = NULL;
    if (r == 0 && status == 200 && json_object_object_get_ex(reply, "token", &token) &&
        json_object_is_type(token, json_type_string)) {
        pthread_mutex_lock(&etcd->lock);
        free(etcd->token);
        etcd->token = strdup(json_object_get_string(token));
        pthread_mutex_unlock(&etcd->lock);
        return 0;
    }
    if (r < 0)
        return r;
    if (status >= 500)
        return set_error(-EHOSTUNREACH, "%s: HTTP %ld", etcd->endpoints[endpoint], status);
    return set_error(-EACCES, "etcd refused user '%s' (check etcd_user and etcd_password_file)",
                     etcd->user);
}

/* ---- lifecycle ---- */

/* The client key is a secret like a token file (api/token.h): refused
 * unless a regular file owned by this user or root, mode 0600 or
 * stricter. */
static int key_file_check(const char *path)
{
    struct stat st;
    if (stat(path, &st) < 0)
        return set_error(-errno, "etcd_key_file %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return set_error(-EINVAL, "etcd_key_file %s: not a regular file", path);
    if (st.st_uid != geteuid() && st.st_uid != 0)
        return set_error(-EPERM,
                         "etcd_key_file %s: owned by uid %u, not by this user (uid %u) or root; "
                         "run 'chown %u %s'",
                         path, (unsigned)st.st_uid, (unsigned)geteuid(), (unsigned)geteuid(), path);
    if (st.st_mode & (S_IRWXG | S_IRWXO))
        return set_error(-EPERM,
                         "etcd_key_file %s: mode %04o lets others read the private key; run "
                         "'chmod 600 %s'",
                         path, (unsigned)(st.st_mode & 07777), path);
    return 0;
}

int etcd_create(const struct etcd_options *options, struct etcd **out)
{
    pthread_once(&curl_once, curl_init_once);
    struct etcd *etcd = calloc(1, sizeof(*etcd));
    if (!etcd)
        return -ENOMEM;
    pthread_mutex_init(&etcd->lock, NULL);
    etcd->tls = options->tls;
    etcd->timeout_ms = options->timeout_ms > 0 ? options->timeout_ms : ETCD_DEFAULT_TIMEOUT_MS;
    int r = 0;
#define COPY(f)                                                                                    \
    if (options->f && !(etcd->f = strdup(options->f)))                                             \
        r = -ENOMEM;
    COPY(ca_file)
    COPY(cert_file)
    COPY(key_file)
    COPY(user)
    COPY(password)
#undef COPY
    _cleanup_free_ char *list = options->endpoints ? strdup(options->endpoints) : NULL;
    if (!list)
        r = r < 0 ? r : options->endpoints ? -ENOMEM : -EINVAL;
    char *save = NULL;
    for (char *item = list ? strtok_r(list, ",", &save) : NULL; r == 0 && item;
         item = strtok_r(NULL, ",", &save)) {
        while (*item == ' ')
            item++;
        const char *host = item, *scheme = etcd->tls ? "https" : "http";
        if (strncmp(host, "http://", 7) == 0 || strncmp(host, "https://", 8) == 0) {
            scheme = host[4] == 's' ? "https" : "http"; /* an explicit scheme wins */
            host = strstr(host, "://") + 3;
        }
        size_t len = strlen(host);
        while (len && host[len - 1] == ' ')
            len--;
        if (len == 0 || len > 300 || memchr(host, '/', len) || !memchr(host, ':', len) ||
            etcd->n_endpoints == ETCD_MAX_ENDPOINTS) {
            r = -EINVAL;
            break;
        }
        char url[320];
        snprintf(url, sizeof(url), "%s://%.*s", scheme, (int)len, host);
        if (!(etcd->endpoints[etcd->n_endpoints++] = strdup(url)))
            r = -ENOMEM;
    }
    if (r == 0 && etcd->n_endpoints == 0)
        r = -EINVAL;
    if (r == 0 && etcd->key_file)
        r = key_file_check(etcd->key_file);
    if (r < 0) {
        etcd_destroy(etcd);
        return r;
    }
    *out = etcd;
    return 0;
}

void etcd_destroy(struct etcd *etcd)
{
    if (!etcd)
        return;
    for (size_t i = 0; i < etcd->n_endpoints; i++)
        free(etcd->endpoints[i]);
    for (size_t i = 0; i < etcd->n_handles; i++)
        curl_easy_cleanup(etcd->handles[i]);
    free(etcd->ca_file);
    free(etcd->cert_file);
    free(etcd->key_file);
    free(etcd->user);
    if (etcd->password)
        explicit_bzero(etcd->password, strlen(etcd->password));
    free(etcd->password);
    if (etcd->token)
        explicit_bzero(etcd->token, strlen(etcd->token));
    free(etcd->token);
    pthread_mutex_destroy(&etcd->lock);
    free(etcd);
}

/* ---- key-value ---- */

void etcd_kv_release(struct etcd_kv *kv)
{
    if (!kv)
        return;
    free(kv->key);
    free(kv->value);
    kv->key = kv->value = NULL;
}

void etcd_range_release(struct etcd_range *range)
{
    for (size_t i = 0; i < range->n; i++)
        etcd_kv_release(&range->kvs[i]);
    free(range->kvs);
    range->kvs = NULL;
    range->n = 0;
}

static int kv_from_json(struct json_object *o, struct etcd_kv *kv)
{
    memset(kv, 0, sizeof(*kv));
    kv->key = get_b64(o, "key");
    kv->value = get_b64(o, "value");
    kv->create_revision = get_int64(o, "create_revision");
    kv->mod_revision = get_int64(o, "mod_revision");
    kv->lease = get_int64(o, "lease");
    if (!kv->key || !kv->value) {
        etcd_kv_release(kv);
        return set_error(-EPROTO, "etcd sent a key or value that is not base64");
    }
    return 0;
}

static int range_from_json(struct json_object *reply, struct etcd_range *out)
{
    memset(out, 0, sizeof(*out));
    struct json_object *header = NULL, *kvs = NULL;
    if (json_object_object_get_ex(reply, "header", &header))
        out->revision = get_int64(header, "revision");
    struct json_object *more = NULL;
    out->more = json_object_object_get_ex(reply, "more", &more) && json_object_get_boolean(more);
    if (!json_object_object_get_ex(reply, "kvs", &kvs))
        return 0;
    if (!json_object_is_type(kvs, json_type_array))
        return set_error(-EPROTO, "etcd sent 'kvs' that is not a list");
    size_t n = json_object_array_length(kvs);
    out->kvs = calloc(n ? n : 1, sizeof(*out->kvs));
    if (!out->kvs)
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        int r = kv_from_json(json_object_array_get_idx(kvs, i), &out->kvs[out->n]);
        if (r < 0) {
            etcd_range_release(out);
            return r;
        }
        out->n++;
    }
    return 0;
}

static int range(struct etcd *etcd, const char *key, const char *end, size_t limit,
                 struct etcd_range *out)
{
    _cleanup_json_ struct json_object *body = json_object_new_object();
    add_b64(body, "key", key);
    if (end)
        add_b64(body, "range_end", end);
    if (limit)
        add_int64(body, "limit", (int64_t)limit);
    _cleanup_json_ struct json_object *reply = NULL;
    int r = post(etcd, "/v3/kv/range", body, &reply, true);
    return r < 0 ? r : range_from_json(reply, out);
}

int etcd_get(struct etcd *etcd, const char *key, struct etcd_kv *out)
{
    struct etcd_range rg;
    int r = range(etcd, key, NULL, 0, &rg);
    if (r < 0)
        return r;
    if (rg.n == 0) {
        etcd_range_release(&rg);
        return -ENOENT;
    }
    *out = rg.kvs[0];
    rg.kvs[0].key = rg.kvs[0].value = NULL;
    etcd_range_release(&rg);
    return 0;
}

int etcd_get_prefix(struct etcd *etcd, const char *prefix, struct etcd_range *out)
{
    _cleanup_free_ char *end = etcd_prefix_end(prefix);
    return end ? range(etcd, prefix, end, 0, out) : -ENOMEM;
}

int etcd_get_range(struct etcd *etcd, const char *start, const char *end, size_t limit,
                   struct etcd_range *out)
{
    return range(etcd, start, end, limit, out);
}

int etcd_put(struct etcd *etcd, const char *key, const char *value, int64_t lease)
{
    _cleanup_json_ struct json_object *body = json_object_new_object();
    add_b64(body, "key", key);
    add_b64(body, "value", value);
    if (lease)
        add_int64(body, "lease", lease);
    _cleanup_json_ struct json_object *reply = NULL;
    return post(etcd, "/v3/kv/put", body, &reply, true);
}

int etcd_delete(struct etcd *etcd, const char *key, bool prefix)
{
    _cleanup_json_ struct json_object *body = json_object_new_object();
    add_b64(body, "key", key);
    if (prefix) {
        _cleanup_free_ char *end = etcd_prefix_end(key);
        if (!end)
            return -ENOMEM;
        add_b64(body, "range_end", end);
    }
    _cleanup_json_ struct json_object *reply = NULL;
    int r = post(etcd, "/v3/kv/deleterange", body, &reply, true);
    return r < 0 ? r : (int)get_int64(reply, "deleted");
}

/* ---- leases ---- */

int etcd_lease_grant(struct etcd *etcd, int64_t ttl_s, int64_t *id)
{
    _cleanup_json_ struct json_object *body = json_object_new_object();
    add_int64(body, "TTL", ttl_s);
    _cleanup_json_ struct json_object *reply = NULL;
    int r = post(etcd, "/v3/lease/grant", body, &reply, true);
    if (r < 0)
        return r;
    *id = get_int64(reply, "ID");
    return *id ? 0 : set_error(-EPROTO, "etcd granted no lease");
}

int etcd_lease_keepalive(struct etcd *etcd, int64_t id)
{
    _cleanup_json_ struct json_object *body = json_object_new_object();
    add_int64(body, "ID", id);
    _cleanup_json_ struct json_object *reply = NULL;
    int r = post(etcd, "/v3/lease/keepalive", body, &reply, true);
    if (r < 0)
        return r;
    /* The gateway streams: one {"result": {...}} for one request. */
    struct json_object *result = NULL;
    if (!json_object_object_get_ex(reply, "result", &result))
        return set_error(-EPROTO, "etcd's keepalive answer has no result");
    return get_int64(result, "TTL") > 0 ? 0 : set_error(-ENOENT, "lease %" PRId64 " is gone", id);
}

/* ---- transactions ---- */

struct etcd_txn *etcd_txn_new(void)
{
    struct etcd_txn *txn = calloc(1, sizeof(*txn));
    if (!txn)
        return NULL;
    txn->compare = json_object_new_array();
    txn->success = json_object_new_array();
    return txn;
}

void etcd_txn_free(struct etcd_txn *txn)
{
    if (!txn)
        return;
    json_object_put(txn->compare);
    json_object_put(txn->success);
    free(txn);
}

static void compare(struct etcd_txn *txn, const char *key, const char *end, const char *target,
                    const char *result, const char *field, int64_t value)
{
    struct json_object *c = json_object_new_object();
    add_b64(c, "key", key);
    if (end)
        add_b64(c, "range_end", end);
    json_object_object_add(c, "target", json_object_new_string(target));
    json_object_object_add(c, "result", json_object_new_string(result));
    add_int64(c, field, value);
    json_object_array_add(txn->compare, c);
}

void etcd_txn_absent(struct etcd_txn *txn, const char *key)
{
    compare(txn, key, NULL, "CREATE", "EQUAL", "create_revision", 0);
}

void etcd_txn_unchanged(struct etcd_txn *txn, const char *key, int64_t revision)
{
    compare(txn, key, NULL, "MOD", "EQUAL", "mod_revision", revision);
}

void etcd_txn_range_unchanged_since(struct etcd_txn *txn, const char *start, const char *end,
                                    int64_t revision)
{
    compare(txn, start, end, "MOD", "LESS", "mod_revision", revision + 1);
}

void etcd_txn_put(struct etcd_txn *txn, const char *key, const char *value, int64_t lease)
{
    struct json_object *put = json_object_new_object();
    add_b64(put, "key", key);
    add_b64(put, "value", value);
    if (lease)
        add_int64(put, "lease", lease);
    struct json_object *op = json_object_new_object();
    json_object_object_add(op, "request_put", put);
    json_object_array_add(txn->success, op);
}

void etcd_txn_delete(struct etcd_txn *txn, const char *key)
{
    struct json_object *del = json_object_new_object();
    add_b64(del, "key", key);
    struct json_object *op = json_object_new_object();
    json_object_object_add(op, "request_delete_range", del);
    json_object_array_add(txn->success, op);
}

int etcd_txn_commit(struct etcd *etcd, struct etcd_txn *txn)
{
    _cleanup_json_ struct json_object *body = json_object_new_object();
    json_object_object_add(body, "compare", json_object_get(txn->compare));
    json_object_object_add(body, "success", json_object_get(txn->success));
    _cleanup_json_ struct json_object *reply = NULL;
    int r = post(etcd, "/v3/kv/txn", body, &reply, true);
    if (r < 0)
        return r;
    struct json_object *v = NULL;
    return json_object_object_get_ex(reply, "succeeded", &v) && json_object_get_boolean(v) ? 1 : 0;
}

/* ---- watch ---- */

/* One object of the stream: {"result": {"header", "created", "canceled",
 * "compact_revision", "events": [{"type": "DELETE"?, "kv": {...}}]}} or
 * {"error": {...}}. */
static int watch_message(struct etcd_watch_parser *p, struct json_object *o)
{
    struct json_object *result = NULL, *v = NULL;
    if (json_object_object_get_ex(o, "error", &v))
        return set_error(-EIO, "etcd refused the watch: %s",
                         json_object_object_get_ex(v, "message", &v) ? json_object_get_string(v)
                                                                     : "(no message)");
    if (!json_object_object_get_ex(o, "result", &result) ||
        !json_object_is_type(result, json_type_object))
        return set_error(-EPROTO, "etcd's watch stream sent an object with no result");
    p->compact_revision = get_int64(result, "compact_revision");
    if (p->compact_revision > 0)
        return set_error(-ESTALE, "revision %" PRId64 " is compacted (etcd keeps from %" PRId64 ")",
                         p->revision + 1, p->compact_revision);
    if (json_object_object_get_ex(result, "canceled", &v) && json_object_get_boolean(v)) {
        struct json_object *why = NULL;
        return set_error(-EIO, "etcd canceled the watch: %s",
                         json_object_object_get_ex(result, "cancel_reason", &why) &&
                                 json_object_is_type(why, json_type_string)
                             ? json_object_get_string(why)
                             : "(no reason)");
    }
    struct json_object *events = NULL, *header = NULL;
    /* json-c asserts (aborts the agent) on the length of what is no list. */
    if (json_object_object_get_ex(result, "events", &events) && events &&
        !json_object_is_type(events, json_type_array))
        return set_error(-EPROTO, "etcd sent 'events' that is not a list");
    if (!events || json_object_array_length(events) == 0) {
        /* Created from now: the watcher has seen up to the store's
         * revision.  (Created from a revision, or a progress report while
         * events may still be on their way: nothing is known.) */
        if (p->revision == 0 && json_object_object_get_ex(result, "created", &v) &&
            json_object_get_boolean(v) && json_object_object_get_ex(result, "header", &header))
            p->revision = get_int64(header, "revision");
        return 0;
    }
    for (size_t i = 0; i < json_object_array_length(events); i++) {
        struct json_object *ev = json_object_array_get_idx(events, i), *kv = NULL;
        if (!json_object_object_get_ex(ev, "kv", &kv))
            return set_error(-EPROTO, "etcd sent an event with no key");
        struct etcd_event event = {0};
        event.deleted = json_object_object_get_ex(ev, "type", &v) &&
                        json_object_is_type(v, json_type_string) &&
                        strcmp(json_object_get_string(v), "DELETE") == 0;
        int r = kv_from_json(kv, &event.kv);
        if (r < 0)
            return r;
        if (event.kv.mod_revision > p->revision)
            p->revision = event.kv.mod_revision;
        if (p->fn)
            p->fn(p->ctx, &event);
        etcd_kv_release(&event.kv);
    }
    return 0;
}

int etcd_watch_parser_feed(struct etcd_watch_parser *p, const char *data, size_t len)
{
    if (!p->tok && !(p->tok = json_tokener_new()))
        return -ENOMEM;
    while (len > 0) {
        /* whitespace between objects (the gateway ends each with "\n") */
        if (json_tokener_get_parse_end(p->tok) == 0 &&
            (*data == '\n' || *data == '\r' || *data == ' ' || *data == '\t')) {
            data++;
            len--;
            continue;
        }
        struct json_object *o = json_tokener_parse_ex(p->tok, data, (int)len);
        enum json_tokener_error jerr = json_tokener_get_error(p->tok);
        if (jerr == json_tokener_continue)
            return 0; /* the rest of this object comes in the next chunk */
        if (jerr != json_tokener_success) {
            json_tokener_reset(p->tok);
            return set_error(-EPROTO, "etcd's watch stream is not JSON: %s",
                             json_tokener_error_desc(jerr));
        }
        size_t used = json_tokener_get_parse_end(p->tok);
        json_tokener_reset(p->tok);
        int r = watch_message(p, o);
        json_object_put(o);
        if (r < 0)
            return r;
        if (used == 0 || used > len)
            used = len;
        data += used;
        len -= used;
    }
    return 0;
}

void etcd_watch_parser_release(struct etcd_watch_parser *p)
{
    if (p->tok)
        json_tokener_free(p->tok);
    p->tok = NULL;
}

struct watch_transfer {
    CURL *curl;
    struct etcd_watch_parser parser;
    const atomic_bool *stop;
    int error;     /* the parser's, which ended the transfer */
    bool answered; /* a first object came: the endpoint is up */
    long status;
    char head[512]; /* the start of a body that is not 200 */
    size_t head_len;
};

static size_t on_watch_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct watch_transfer *t = userdata;
    size_t n = size * nmemb;
    if (t->status == 0)
        curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &t->status);
    if (t->status != 200) {
        size_t k = n < sizeof(t->head) - 1 - t->head_len ? n : sizeof(t->head) - 1 - t->head_len;
        memcpy(t->head + t->head_len, ptr, k);
        t->head_len += k;
        t->head[t->head_len] = '\0';
        return n;
    }
    t->answered = true;
    int r = etcd_watch_parser_feed(&t->parser, ptr, n);
    if (r < 0) {
        t->error = r;
        return 0;
    }
    return n;
}

static int on_watch_progress(void *userdata, curl_off_t dltotal, curl_off_t dlnow,
                             curl_off_t ultotal, curl_off_t ulnow)
{
    (void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
    struct watch_transfer *t = userdata;
    return atomic_load(t->stop) ? 1 : 0;
}

/* A token for a call to ENDPOINT (NULL without a user): 0 and *token (the
 * caller's, to wipe and free), or a negative errno. */
static int token_for(struct etcd *etcd, size_t endpoint, char **token)
{
    *token = NULL;
    if (!etcd->user)
        return 0;
    for (int attempt = 0; attempt < 2; attempt++) {
        pthread_mutex_lock(&etcd->lock);
        *token = etcd->token ? strdup(etcd->token) : NULL;
        pthread_mutex_unlock(&etcd->lock);
        if (*token)
            return 0;
        int r = authenticate(etcd, endpoint);
        if (r < 0)
            return r;
    }
    return -ENOMEM;
}

/* One watch stream on ENDPOINT, until it ends. */
static int watch_one(struct etcd *etcd, size_t endpoint, const char *payload,
                     struct watch_transfer *t)
{
    char *token = NULL;
    int r = token_for(etcd, endpoint, &token);
    if (r < 0)
        return r;
    CURL *curl = curl_easy_init();
    if (!curl) {
        free(token);
        return -ENOMEM;
    }
    char url[512], auth[600];
    snprintf(url, sizeof(url), "%s/v3/watch", etcd->endpoints[endpoint]);
    struct curl_slist *headers = curl_slist_append(NULL, "Content-Type: application/json");
    if (token) {
        snprintf(auth, sizeof(auth), "Authorization: %s", token);
        headers = curl_slist_append(headers, auth);
        explicit_bzero(token, strlen(token));
        free(token);
    }
    t->curl = curl;
    t->status = 0;
    t->head_len = 0;
    t->error = 0;
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_POST, 1L);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDS, payload);
    curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(payload));
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
    /* a stream: no overall timeout; a dead peer shows by keepalives */
    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                     etcd->timeout_ms < 1000 ? etcd->timeout_ms : 1000L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPIDLE, 5L);
    curl_easy_setopt(curl, CURLOPT_TCP_KEEPINTVL, 2L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_watch_body);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, t);
    curl_easy_setopt(curl, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(curl, CURLOPT_XFERINFOFUNCTION, on_watch_progress);
    curl_easy_setopt(curl, CURLOPT_XFERINFODATA, t);
    if (etcd->ca_file)
        curl_easy_setopt(curl, CURLOPT_CAINFO, etcd->ca_file);
    if (etcd->cert_file)
        curl_easy_setopt(curl, CURLOPT_SSLCERT, etcd->cert_file);
    if (etcd->key_file)
        curl_easy_setopt(curl, CURLOPT_SSLKEY, etcd->key_file);
    CURLcode rc = curl_easy_perform(curl);
    curl_slist_free_all(headers);
    explicit_bzero(auth, sizeof(auth));
    curl_easy_cleanup(curl);
    t->curl = NULL;
    if (t->error < 0)
        return t->error;
    if (rc == CURLE_ABORTED_BY_CALLBACK)
        return -ECANCELED;
    if (t->status != 0 && t->status != 200) {
        if (etcd->user && t->status != 200 && strstr(t->head, "invalid auth token")) {
            pthread_mutex_lock(&etcd->lock);
            free(etcd->token);
            etcd->token = NULL;
            pthread_mutex_unlock(&etcd->lock);
        }
        return set_error(t->status >= 500 ? -EHOSTUNREACH : -EIO, "%s: watch: HTTP %ld %s",
                         etcd->endpoints[endpoint], t->status, t->head);
    }
    if (rc != CURLE_OK)
        return set_error(rc == CURLE_COULDNT_CONNECT ? -ECONNREFUSED : -EPIPE, "%s: watch: %s",
                         etcd->endpoints[endpoint], curl_easy_strerror(rc));
    return set_error(-EPIPE, "%s: the watch stream ended", etcd->endpoints[endpoint]);
}

int etcd_watch(struct etcd *etcd, const char *prefix, int64_t start_revision, etcd_watch_fn *fn,
               void *ctx, const atomic_bool *stop, int64_t *revision)
{
    _cleanup_free_ char *end = etcd_prefix_end(prefix);
    if (!end)
        return -ENOMEM;
    struct watch_transfer t = {.stop = stop};
    t.parser.fn = fn;
    t.parser.ctx = ctx;
    t.parser.revision = start_revision > 0 ? start_revision - 1 : 0;
    pthread_mutex_lock(&etcd->lock);
    size_t start = etcd->current;
    pthread_mutex_unlock(&etcd->lock);
    int r = -EHOSTUNREACH;
    for (size_t i = 0; i < etcd->n_endpoints && !atomic_load(stop); i++) {
        size_t e = (start + i) % etcd->n_endpoints;
        _cleanup_json_ struct json_object *body = json_object_new_object();
        struct json_object *create = json_object_new_object();
        add_b64(create, "key", prefix);
        add_b64(create, "range_end", end);
        if (t.parser.revision > 0)
            add_int64(create, "start_revision", t.parser.revision + 1);
        json_object_object_add(body, "create_request", create);
        t.answered = false;
        r = watch_one(etcd, e, json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN), &t);
        if (t.answered || r == -ECANCELED || r == -ESTALE || r == -EACCES)
            break; /* it was up: the caller watches again from the revision */
    }
    etcd_watch_parser_release(&t.parser);
    *revision = t.parser.revision;
    return atomic_load(stop) ? -ECANCELED : r;
}
