/* VLAN assignments: see model/vlan.h. */
#include "model/vlan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

bool vlan_id_valid(int64_t id)
{
    return id >= VLAN_ID_MIN && id <= VLAN_ID_MAX;
}

const char *vlan_mode_to_string(enum vlan_mode mode)
{
    return mode == VLAN_MODE_TRUNK ? "trunk" : "access";
}

static int bad(char *pointer, size_t pointer_size, char *detail, size_t detail_size,
               const char *base, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
static int bad(char *pointer, size_t pointer_size, char *detail, size_t detail_size,
               const char *base, const char *field, const char *fmt, ...)
{
    snprintf(pointer, pointer_size, "%s%s", base, field);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, detail_size, fmt, ap);
    va_end(ap);
    return -EINVAL;
}

#define BAD(field, ...) bad(pointer, pointer_size, detail, detail_size, base, field, __VA_ARGS__)

static int read_id(struct json_object *v, int64_t *id)
{
    if (!v || !json_object_is_type(v, json_type_int))
        return -EINVAL;
    *id = json_object_get_int64(v);
    return vlan_id_valid(*id) ? 0 : -ERANGE;
}

int vlan_assignment_from_json(struct json_object *obj, const char *base,
                              struct vlan_assignment *out, char *pointer, size_t pointer_size,
                              char *detail, size_t detail_size)
{
    memset(out, 0, sizeof(*out));
    if (!obj || !json_object_is_type(obj, json_type_object))
        return BAD("", "a VLAN assignment is {\"mode\": \"access\", \"id\": N} or {\"mode\": "
                       "\"trunk\", \"allowed\": [N, ...], \"native\": N}");
    struct json_object *mode = NULL, *v = NULL;
    if (!json_object_object_get_ex(obj, "mode", &mode) ||
        !json_object_is_type(mode, json_type_string))
        return BAD("/mode", "'mode' is \"access\" or \"trunk\"");
    int64_t id;
    if (strcmp(json_object_get_string(mode), "access") == 0) {
        out->mode = VLAN_MODE_ACCESS;
        json_object_object_get_ex(obj, "id", &v);
        if (read_id(v, &id) < 0)
            return BAD("/id", "an access port needs 'id', a VLAN id from 1 to 4094");
        out->id = (uint16_t)id;
        json_object_object_foreach(obj, key, val) {
            (void)val;
            if (strcmp(key, "mode") != 0 && strcmp(key, "id") != 0)
                return BAD("", "unknown field '%s' for an access port (fields: mode, id)", key);
        }
        return 0;
    }
    if (strcmp(json_object_get_string(mode), "trunk") != 0)
        return BAD("/mode", "'mode' is \"access\" or \"trunk\", not \"%s\"",
                   json_object_get_string(mode));
    out->mode = VLAN_MODE_TRUNK;
    struct json_object *allowed = NULL;
    if (!json_object_object_get_ex(obj, "allowed", &allowed) ||
        !json_object_is_type(allowed, json_type_array) || json_object_array_length(allowed) == 0)
        return BAD("/allowed", "a trunk needs 'allowed', a non-empty list of VLAN ids");
    static const size_t words = (VLAN_ID_MAX + 64) / 64;
    uint64_t seen[(VLAN_ID_MAX + 64) / 64] = { 0 };
    for (size_t i = 0; i < json_object_array_length(allowed); i++) {
        char field[32];
        snprintf(field, sizeof(field), "/allowed/%zu", i);
        if (read_id(json_object_array_get_idx(allowed, i), &id) < 0)
            return BAD(field, "VLAN ids are integers from 1 to 4094");
        if (seen[id / 64] & (UINT64_C(1) << (id % 64)))
            return BAD(field, "VLAN %lld is listed twice", (long long)id);
        seen[id / 64] |= UINT64_C(1) << (id % 64);
    }
    for (size_t w = 0; w < words; w++)
        for (unsigned b = 0; b < 64; b++)
            if (seen[w] & (UINT64_C(1) << b))
                out->allowed[out->n_allowed++] = (uint16_t)(w * 64 + b);
    if (json_object_object_get_ex(obj, "native", &v) && !json_object_is_type(v, json_type_null)) {
        if (read_id(v, &id) < 0)
            return BAD("/native", "'native' is a VLAN id from 1 to 4094");
        if (!(seen[id / 64] & (UINT64_C(1) << (id % 64))))
            return BAD("/native", "native VLAN %lld is not in the allowed list", (long long)id);
        out->native = (uint16_t)id;
    }
    json_object_object_foreach(obj, key, val) {
        (void)val;
        if (strcmp(key, "mode") != 0 && strcmp(key, "allowed") != 0 && strcmp(key, "native") != 0)
            return BAD("", "unknown field '%s' for a trunk (fields: mode, allowed, native)", key);
    }
    return 0;
}

struct json_object *vlan_assignment_to_json(const struct vlan_assignment *a)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "mode", json_object_new_string(vlan_mode_to_string(a->mode)));
    if (a->mode == VLAN_MODE_ACCESS) {
        json_object_object_add(o, "id", json_object_new_int(a->id));
        return o;
    }
    struct json_object *allowed = json_object_new_array();
    for (size_t i = 0; i < a->n_allowed; i++)
        json_object_array_add(allowed, json_object_new_int(a->allowed[i]));
    json_object_object_add(o, "allowed", allowed);
    json_object_object_add(o, "native", a->native ? json_object_new_int(a->native) : NULL);
    return o;
}

bool vlan_assignment_carries(const struct vlan_assignment *a, uint16_t id)
{
    if (a->mode == VLAN_MODE_ACCESS)
        return a->id == id;
    for (size_t i = 0; i < a->n_allowed; i++)
        if (a->allowed[i] == id)
            return true;
    return false;
}
