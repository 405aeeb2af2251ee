/* The migration peer protocol's codecs: see migrate/peer_protocol.h.
 *
 * Each message has one encoder, which writes every field, and one decoder,
 * which reads what the encoder writes and refuses what it would not have
 * written (a field of the wrong type, a port out of range, a short token),
 * naming the field.  Fields a decoder does not know are ignored, so a newer
 * peer can add some. */
#include "migrate/peer_protocol.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int bad(char *why, size_t why_size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int bad(char *why, size_t why_size, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(why, why_size, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

/* The value at KEY when it has TYPE; NULL when absent (or null); -EINVAL
 * with WHY when it has another type. */
static int field(struct json_object *obj, const char *key, enum json_type type,
                 struct json_object **out, char *why, size_t why_size)
{
    *out = NULL;
    struct json_object *v = NULL;
    if (!obj || !json_object_object_get_ex(obj, key, &v) || !v)
        return 0;
    if (!json_object_is_type(v, type))
        return bad(why, why_size, "'%s' must be %s", key,
                   type == json_type_int       ? "an integer"
                   : type == json_type_boolean ? "true or false"
                   : type == json_type_string  ? "a string"
                   : type == json_type_array   ? "an array"
                                               : "an object");
    *out = v;
    return 0;
}

static int read_int64(struct json_object *obj, const char *key, int64_t fallback, int64_t *out,
                      char *why, size_t why_size)
{
    struct json_object *v;
    int r = field(obj, key, json_type_int, &v, why, why_size);
    if (r < 0)
        return r;
    *out = v ? json_object_get_int64(v) : fallback;
    return 0;
}

static int read_bool(struct json_object *obj, const char *key, bool *out, char *why,
                     size_t why_size)
{
    struct json_object *v;
    int r = field(obj, key, json_type_boolean, &v, why, why_size);
    if (r < 0)
        return r;
    *out = v && json_object_get_boolean(v);
    return 0;
}

/* A string field into OUT (SIZE bytes); REQUIRED: absent or empty is
 * refused; too long is always refused. */
static int read_string(struct json_object *obj, const char *key, bool required, char *out,
                       size_t size, char *why, size_t why_size)
{
    struct json_object *v;
    int r = field(obj, key, json_type_string, &v, why, why_size);
    if (r < 0)
        return r;
    const char *s = v ? json_object_get_string(v) : "";
    if (required && !s[0])
        return bad(why, why_size, "'%s' is required", key);
    if (strlen(s) >= size)
        return bad(why, why_size, "'%s' is longer than %zu characters", key, size - 1);
    snprintf(out, size, "%s", s);
    return 0;
}

static void add_string(struct json_object *obj, const char *key, const char *value)
{
    json_object_object_add(obj, key, json_object_new_string(value));
}

/* ---- options ---- */

struct json_object *peer_options_encode(const struct peer_options *o)
{
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "downtime_limit_ms", json_object_new_int64(o->downtime_limit_ms));
    json_object_object_add(obj, "max_bandwidth", json_object_new_int64((int64_t)o->max_bandwidth));
    json_object_object_add(obj, "channels", json_object_new_int((int)o->channels));
    json_object_object_add(obj, "allow_management_network",
                           json_object_new_boolean(o->allow_management_network));
    json_object_object_add(obj, "convert_dynamic_macs",
                           json_object_new_boolean(o->convert_dynamic_macs));
    if (o->has_convergence)
        json_object_object_add(obj, "convergence", convergence_policy_to_json(&o->convergence));
    if (o->channels_requested) {
        json_object_object_add(obj, "channels_requested",
                               json_object_new_int((int)o->channels_requested));
        add_string(obj, "channels_note", o->channels_note);
    }
    return obj;
}

int peer_options_decode(struct json_object *obj, struct peer_options *out, char *why,
                        size_t why_size)
{
    memset(out, 0, sizeof(*out));
    int64_t bandwidth = 0, channels = 1, requested = 0;
    struct json_object *policy = NULL;
    int r = 0;
    if (obj && !json_object_is_type(obj, json_type_object))
        return bad(why, why_size, "'options' must be an object");
    if (r == 0)
        r = read_int64(obj, "downtime_limit_ms", -1, &out->downtime_limit_ms, why, why_size);
    if (r == 0)
        r = read_int64(obj, "max_bandwidth", 0, &bandwidth, why, why_size);
    if (r == 0)
        r = read_int64(obj, "channels", 1, &channels, why, why_size);
    if (r == 0)
        r = read_bool(obj, "allow_management_network", &out->allow_management_network, why,
                      why_size);
    if (r == 0)
        r = read_bool(obj, "convert_dynamic_macs", &out->convert_dynamic_macs, why, why_size);
    if (r == 0)
        r = read_int64(obj, "channels_requested", 0, &requested, why, why_size);
    if (r == 0)
        r = read_string(obj, "channels_note", false, out->channels_note,
                        sizeof(out->channels_note), why, why_size);
    if (r == 0)
        r = field(obj, "convergence", json_type_object, &policy, why, why_size);
    if (r < 0)
        return r;
    if (bandwidth < 0)
        return bad(why, why_size, "'max_bandwidth' must not be negative");
    if (channels < 1 || channels > 64 || requested < 0 || requested > 64)
        return bad(why, why_size, "'channels' must be 1 to 64");
    out->max_bandwidth = (uint64_t)bandwidth;
    out->channels = (unsigned)channels;
    out->channels_requested = (unsigned)requested;
    /* Without a policy: the old behaviour, its one downtime limit and no
     * timeout. */
    struct convergence_policy *p = &out->convergence;
    convergence_policy_defaults(p);
    p->n_downtime = 0;
    p->timeout_per_gib_s = 0;
    out->has_convergence = policy != NULL;
    char key[64];
    char reason[200];
    if (policy && convergence_policy_apply_json(p, policy, key, sizeof(key), reason,
                                                sizeof(reason)) < 0)
        return bad(why, why_size, "'convergence/%s': %s", key, reason);
    return 0;
}

/* ---- prepare ---- */

struct json_object *peer_prepare_encode(const struct peer_prepare *p)
{
    struct json_object *obj = json_object_new_object();
    add_string(obj, "id", p->id);
    add_string(obj, "source", p->source);
    add_string(obj, "destination", p->destination);
    add_string(obj, "network", p->network);
    add_string(obj, "source_address", p->source_address);
    add_string(obj, "destination_address", p->destination_address);
    json_object_object_add(obj, "quick", json_object_new_boolean(p->quick));
    if (p->multifd_direct)
        add_string(obj, "multifd", "direct");
    json_object_object_add(obj, "options", peer_options_encode(&p->options));
    json_object_object_add(obj, "vm", vm_to_json(&p->vm));
    struct json_object *ports = json_object_new_array();
    for (size_t i = 0; i < p->n_ports; i++)
        json_object_array_add(ports, port_to_json(&p->ports[i]));
    json_object_object_add(obj, "ports", ports);
    return obj;
}

int peer_prepare_decode(struct json_object *obj, struct peer_prepare *out, char *why,
                        size_t why_size)
{
    memset(out, 0, sizeof(*out));
    if (!obj || !json_object_is_type(obj, json_type_object))
        return bad(why, why_size, "the prepare request must be a JSON object");
    char multifd[16] = "";
    struct json_object *options = NULL, *vm = NULL, *ports = NULL;
    int r = read_string(obj, "id", true, out->id, sizeof(out->id), why, why_size);
    if (r == 0 && strlen(out->id) != 36)
        r = bad(why, why_size, "'id' must be a migration's UUID");
    if (r == 0)
        r = read_string(obj, "source", true, out->source, sizeof(out->source), why, why_size);
    if (r == 0)
        r = read_string(obj, "destination", false, out->destination, sizeof(out->destination),
                        why, why_size);
    if (r == 0)
        r = read_string(obj, "network", false, out->network, sizeof(out->network), why,
                        why_size);
    if (r == 0)
        r = read_string(obj, "source_address", false, out->source_address,
                        sizeof(out->source_address), why, why_size);
    if (r == 0)
        r = read_string(obj, "destination_address", true, out->destination_address,
                        sizeof(out->destination_address), why, why_size);
    if (r == 0)
        r = read_bool(obj, "quick", &out->quick, why, why_size);
    if (r == 0)
        r = read_string(obj, "multifd", false, multifd, sizeof(multifd), why, why_size);
    if (r == 0)
        r = field(obj, "options", json_type_object, &options, why, why_size);
    if (r == 0)
        r = peer_options_decode(options, &out->options, why, why_size);
    if (r == 0)
        r = field(obj, "vm", json_type_object, &vm, why, why_size);
    if (r == 0 && (!vm || vm_from_json(vm, &out->vm) < 0))
        r = bad(why, why_size, "'vm' must describe the VM (id, name, memory, adapters)");
    if (r == 0)
        r = field(obj, "ports", json_type_array, &ports, why, why_size);
    if (r == 0 && (!ports || json_object_array_length(ports) != out->vm.n_adapters))
        r = bad(why, why_size, "'ports' must have one port per adapter of the VM");
    if (r < 0)
        return r;
    out->multifd_direct = strcmp(multifd, "direct") == 0;
    out->n_ports = out->vm.n_adapters;
    for (size_t i = 0; i < out->n_ports; i++) {
        char pointer[64], detail[256];
        if (port_from_json(json_object_array_get_idx(ports, i), true, &out->ports[i], pointer,
                           sizeof(pointer), detail, sizeof(detail)) < 0)
            return bad(why, why_size, "'ports/%zu%s': %s", i, pointer, detail);
        if (strcmp(out->ports[i].name, out->vm.adapters[i].port) != 0)
            return bad(why, why_size, "'ports/%zu' is '%s', but the VM's adapter %zu is on '%s'",
                       i, out->ports[i].name, i, out->vm.adapters[i].port);
    }
    return 0;
}

/* ---- prepare answer ---- */

struct json_object *peer_prepare_answer_encode(const struct peer_prepare_answer *a)
{
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "port", json_object_new_int(a->port));
    if (a->direct)
        json_object_object_add(obj, "direct", json_object_new_boolean(true));
    else
        add_string(obj, "token", a->token);
    return obj;
}

int peer_prepare_answer_decode(struct json_object *obj, unsigned channels,
                               struct peer_prepare_answer *out, char *why, size_t why_size)
{
    memset(out, 0, sizeof(*out));
    if (!obj || !json_object_is_type(obj, json_type_object))
        return bad(why, why_size, "the prepare answer must be a JSON object");
    int64_t port = 0;
    int r = read_int64(obj, "port", 0, &port, why, why_size);
    if (r == 0)
        r = read_bool(obj, "direct", &out->direct, why, why_size);
    if (r == 0 && !out->direct)
        r = read_string(obj, "token", true, out->token, sizeof(out->token), why, why_size);
    if (r < 0)
        return r;
    if (port <= 0 || port > 65535)
        return bad(why, why_size, "'port' must be 1 to 65535");
    if (out->direct && channels <= 1)
        return bad(why, why_size, "a direct answer needs several channels, and one was asked");
    if (!out->direct && strlen(out->token) != CHANNEL_TOKEN_HEX)
        return bad(why, why_size, "'token' must be %d hex digits", CHANNEL_TOKEN_HEX);
    if (!out->direct && strspn(out->token, "0123456789abcdefABCDEF") != CHANNEL_TOKEN_HEX)
        return bad(why, why_size, "'token' must be %d hex digits", CHANNEL_TOKEN_HEX);
    out->port = (uint16_t)port;
    return 0;
}

/* ---- finish, abort ---- */

struct json_object *peer_finish_encode(const struct peer_finish *f)
{
    struct json_object *obj = json_object_new_object();
    json_object_object_add(obj, "downtime_ms", json_object_new_int64(f->downtime_ms));
    json_object_object_add(obj, "switchover_gap_ms", json_object_new_int64(f->switchover_gap_ms));
    return obj;
}

int peer_finish_decode(struct json_object *obj, struct peer_finish *out, char *why,
                       size_t why_size)
{
    out->downtime_ms = -1;
    out->switchover_gap_ms = -1;
    if (obj && !json_object_is_type(obj, json_type_object))
        return bad(why, why_size, "the finish request must be a JSON object");
    int r = read_int64(obj, "downtime_ms", -1, &out->downtime_ms, why, why_size);
    if (r == 0)
        r = read_int64(obj, "switchover_gap_ms", -1, &out->switchover_gap_ms, why, why_size);
    return r;
}

struct json_object *peer_abort_encode(const struct peer_abort *a)
{
    struct json_object *obj = json_object_new_object();
    if (a->reason[0])
        add_string(obj, "reason", a->reason);
    return obj;
}

int peer_abort_decode(struct json_object *obj, struct peer_abort *out, char *why,
                      size_t why_size)
{
    out->reason[0] = '\0';
    if (obj && !json_object_is_type(obj, json_type_object))
        return bad(why, why_size, "the abort request must be a JSON object");
    struct json_object *v = NULL;
    int r = field(obj, "reason", json_type_string, &v, why, why_size);
    if (r == 0 && v) /* a long reason is cut, not refused: the abort matters more */
        snprintf(out->reason, sizeof(out->reason), "%s", json_object_get_string(v));
    return r;
}

/* ---- status ---- */

struct json_object *peer_status_encode(const struct peer_status *s)
{
    struct json_object *obj = json_object_new_object();
    add_string(obj, "phase", s->phase);
    if (s->error[0])
        add_string(obj, "error", s->error);
    return obj;
}

int peer_status_decode(struct json_object *obj, struct peer_status *out, char *why,
                       size_t why_size)
{
    memset(out, 0, sizeof(*out));
    if (!obj || !json_object_is_type(obj, json_type_object))
        return bad(why, why_size, "the migration record must be a JSON object");
    int r = read_string(obj, "phase", true, out->phase, sizeof(out->phase), why, why_size);
    struct json_object *v = NULL;
    if (r == 0)
        r = field(obj, "error", json_type_string, &v, why, why_size);
    if (r < 0)
        return r;
    if (v) /* the destination's words, cut to fit */
        snprintf(out->error, sizeof(out->error), "%s", json_object_get_string(v));
    out->gave_up = strcmp(out->phase, "failed") == 0 || strcmp(out->phase, "cancelled") == 0;
    return 0;
}
