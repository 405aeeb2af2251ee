/* VM ports: see db/port.h. */
#include "db/port.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/clock.h"
#include "base/mac.h"
#include "db/switch.h"

static const char *const source_names[] = {
    [MAC_SOURCE_GIVEN] = "given",
    [MAC_SOURCE_STATIC] = "static",
    [MAC_SOURCE_DYNAMIC] = "dynamic",
};

const char *mac_source_to_string(enum mac_source s)
{
    return (unsigned)s <= MAC_SOURCE_DYNAMIC ? source_names[s] : "unknown";
}

#define COLUMNS                                                                                    \
    "name, switch, vm, adapter_type, legacy_reason, mac, mac_pool, mac_source, vlan, "            \
    "spoofing_allowed, dhcp_guard, router_guard, max_bandwidth_kbps, active, generation, "        \
    "created_ms"

static void bind_row(sqlite3_stmt *stmt, const struct port_record *p, char **vlan_text)
{
    sqlite3_bind_text(stmt, 1, p->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, p->switch_name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 3, p->vm, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, p->legacy ? "legacy" : "synthetic", -1, SQLITE_STATIC);
    if (p->legacy_reason[0])
        sqlite3_bind_text(stmt, 5, p->legacy_reason, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 6, (sqlite3_int64)p->mac);
    if (p->mac_pool[0])
        sqlite3_bind_text(stmt, 7, p->mac_pool, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 8, mac_source_to_string(p->mac_source), -1, SQLITE_STATIC);
    *vlan_text = NULL;
    if (p->has_vlan) {
        struct json_object *v = vlan_assignment_to_json(&p->vlan);
        *vlan_text = strdup(json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
        json_object_put(v);
        sqlite3_bind_text(stmt, 9, *vlan_text, -1, SQLITE_STATIC);
    }
    sqlite3_bind_int(stmt, 10, p->spoofing_allowed);
    sqlite3_bind_int(stmt, 11, p->dhcp_guard);
    sqlite3_bind_int(stmt, 12, p->router_guard);
    sqlite3_bind_int64(stmt, 13, (sqlite3_int64)p->max_bandwidth_kbps);
    sqlite3_bind_int(stmt, 14, p->active);
}

int port_insert(struct db *db, const struct port_record *p)
{
    sqlite3_stmt *stmt = db_stmt(db, "INSERT INTO port (" COLUMNS ") VALUES "
                                     "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?)");
    if (!stmt)
        return -EIO;
    char *vlan = NULL;
    bind_row(stmt, p, &vlan);
    sqlite3_bind_int64(stmt, 15, clock_wall_ms());
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    free(vlan);
    return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

int port_update(struct db *db, const struct port_record *p)
{
    sqlite3_stmt *stmt = db_stmt(db, "UPDATE port SET switch = ?2, vm = ?3, adapter_type = ?4, "
                                     "legacy_reason = ?5, mac = ?6, mac_pool = ?7, mac_source = ?8, "
                                     "vlan = ?9, spoofing_allowed = ?10, dhcp_guard = ?11, "
                                     "router_guard = ?12, max_bandwidth_kbps = ?13, active = ?14, "
                                     "generation = generation + 1 WHERE name = ?1");
    if (!stmt)
        return -EIO;
    char *vlan = NULL;
    bind_row(stmt, p, &vlan);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    free(vlan);
    if (rc != SQLITE_DONE)
        return db_errno(rc);
    return sqlite3_changes(db_sqlite(db)) ? 0 : -ENOENT;
}

static void copy_col(char *dst, size_t size, sqlite3_stmt *stmt, int col)
{
    const unsigned char *t = sqlite3_column_text(stmt, col);
    snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static void read_row(sqlite3_stmt *stmt, struct port_record *p)
{
    memset(p, 0, sizeof(*p));
    copy_col(p->name, sizeof(p->name), stmt, 0);
    copy_col(p->switch_name, sizeof(p->switch_name), stmt, 1);
    copy_col(p->vm, sizeof(p->vm), stmt, 2);
    const unsigned char *t = sqlite3_column_text(stmt, 3);
    p->legacy = t && strcmp((const char *)t, "legacy") == 0;
    copy_col(p->legacy_reason, sizeof(p->legacy_reason), stmt, 4);
    p->mac = (uint64_t)sqlite3_column_int64(stmt, 5);
    copy_col(p->mac_pool, sizeof(p->mac_pool), stmt, 6);
    t = sqlite3_column_text(stmt, 7);
    for (unsigned i = 0; t && i <= MAC_SOURCE_DYNAMIC; i++)
        if (strcmp((const char *)t, source_names[i]) == 0)
            p->mac_source = (enum mac_source)i;
    t = sqlite3_column_text(stmt, 8);
    if (t) {
        struct json_object *v = json_tokener_parse((const char *)t);
        char pointer[64], detail[128];
        p->has_vlan = vlan_assignment_from_json(v, "", &p->vlan, pointer, sizeof(pointer), detail,
                                                sizeof(detail)) == 0;
        json_object_put(v);
    }
    p->spoofing_allowed = sqlite3_column_int(stmt, 9);
    p->dhcp_guard = sqlite3_column_int(stmt, 10);
    p->router_guard = sqlite3_column_int(stmt, 11);
    p->max_bandwidth_kbps = (uint64_t)sqlite3_column_int64(stmt, 12);
    p->active = sqlite3_column_int(stmt, 13);
    p->generation = sqlite3_column_int64(stmt, 14);
    p->created_ms = sqlite3_column_int64(stmt, 15);
}

int port_get(struct db *db, const char *name, struct port_record *out)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT " COLUMNS " FROM port WHERE name = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        read_row(stmt, out);
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE)
        return -ENOENT;
    return rc == SQLITE_ROW ? 0 : db_errno(rc);
}

int port_list(struct db *db, const char *switch_name, struct port_record **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *stmt = db_stmt(db, "SELECT " COLUMNS " FROM port WHERE ?1 IS NULL OR "
                                     "switch = ?1 ORDER BY name");
    if (!stmt)
        return -EIO;
    if (switch_name)
        sqlite3_bind_text(stmt, 1, switch_name, -1, SQLITE_TRANSIENT);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (db_grow((void **)out, &cap, *n, sizeof(**out)) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        read_row(stmt, &(*out)[(*n)++]);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return db_errno(rc);
    }
    return 0;
}

int port_delete(struct db *db, const char *name)
{
    sqlite3_stmt *stmt = db_stmt(db, "DELETE FROM port WHERE name = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return db_errno(rc);
    return sqlite3_changes(db_sqlite(db)) ? 0 : -ENOENT;
}

struct json_object *port_to_json(const struct port_record *p)
{
    char mac[MAC_STRING_SIZE];
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(p->name));
    json_object_object_add(o, "switch", json_object_new_string(p->switch_name));
    json_object_object_add(o, "vm", json_object_new_string(p->vm));
    json_object_object_add(o, "adapter_type",
                           json_object_new_string(p->legacy ? "legacy" : "synthetic"));
    json_object_object_add(o, "legacy_reason",
                           p->legacy_reason[0] ? json_object_new_string(p->legacy_reason) : NULL);
    json_object_object_add(o, "mac", json_object_new_string(mac_format(p->mac, mac)));
    json_object_object_add(o, "mac_pool", p->mac_pool[0] ? json_object_new_string(p->mac_pool) : NULL);
    json_object_object_add(o, "mac_source", json_object_new_string(mac_source_to_string(p->mac_source)));
    json_object_object_add(o, "vlan", p->has_vlan ? vlan_assignment_to_json(&p->vlan) : NULL);
    json_object_object_add(o, "spoofing_allowed", json_object_new_boolean(p->spoofing_allowed));
    json_object_object_add(o, "dhcp_guard", json_object_new_boolean(p->dhcp_guard));
    json_object_object_add(o, "router_guard", json_object_new_boolean(p->router_guard));
    json_object_object_add(o, "max_bandwidth_kbps", json_object_new_int64((int64_t)p->max_bandwidth_kbps));
    json_object_object_add(o, "active", json_object_new_boolean(p->active));
    json_object_object_add(o, "generation", json_object_new_int64(p->generation));
    return o;
}

static int bad(char *pointer, size_t ps, char *detail, size_t ds, const char *where, const char *what)
{
    snprintf(pointer, ps, "%s", where);
    snprintf(detail, ds, "%s", what);
    return -EINVAL;
}

static int get_bool(struct json_object *obj, const char *key, bool fallback, bool *out)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || !v) {
        *out = fallback;
        return 0;
    }
    if (!json_object_is_type(v, json_type_boolean))
        return -EINVAL;
    *out = json_object_get_boolean(v);
    return 0;
}

static int get_string(struct json_object *obj, const char *key, char *out, size_t size)
{
    struct json_object *v = NULL;
    out[0] = '\0';
    if (!json_object_object_get_ex(obj, key, &v) || !v)
        return 0;
    if (!json_object_is_type(v, json_type_string) || (size_t)json_object_get_string_len(v) >= size)
        return -EINVAL;
    snprintf(out, size, "%s", json_object_get_string(v));
    return 0;
}

int port_from_json(struct json_object *obj, bool mac_required, struct port_record *out,
                   char *pointer, size_t ps, char *detail, size_t ds)
{
    memset(out, 0, sizeof(*out));
    out->active = true;
    if (!obj || !json_object_is_type(obj, json_type_object))
        return bad(pointer, ps, detail, ds, "", "a port is {\"name\", \"switch\", ...}");
    if (get_string(obj, "name", out->name, sizeof(out->name)) < 0 || !switch_name_valid(out->name))
        return bad(pointer, ps, detail, ds, "/name",
                   "'name' is the port's (and tap's) name: 1-15 of a-z, 0-9, '-', starting "
                   "with a letter");
    if (get_string(obj, "switch", out->switch_name, sizeof(out->switch_name)) < 0 ||
        !out->switch_name[0])
        return bad(pointer, ps, detail, ds, "/switch", "'switch' names the switch the port is on");
    if (get_string(obj, "vm", out->vm, sizeof(out->vm)) < 0)
        return bad(pointer, ps, detail, ds, "/vm", "'vm' is a name of at most 63 bytes");
    char type[16];
    if (get_string(obj, "adapter_type", type, sizeof(type)) < 0 ||
        (type[0] && strcmp(type, "synthetic") != 0 && strcmp(type, "legacy") != 0))
        return bad(pointer, ps, detail, ds, "/adapter_type", "'adapter_type' is synthetic or legacy");
    out->legacy = strcmp(type, "legacy") == 0;
    if (get_string(obj, "legacy_reason", out->legacy_reason, sizeof(out->legacy_reason)) < 0)
        return bad(pointer, ps, detail, ds, "/legacy_reason", "'legacy_reason' is at most 127 bytes");
    if (out->legacy && !out->legacy_reason[0])
        return bad(pointer, ps, detail, ds, "/legacy_reason",
                   "a legacy adapter (an emulated e1000) is slow and costs CPU on the host; "
                   "use it only to PXE-boot, and say so in 'legacy_reason'");
    char mac[32];
    if (get_string(obj, "mac", mac, sizeof(mac)) < 0 || (mac[0] && mac_parse(mac, &out->mac) < 0))
        return bad(pointer, ps, detail, ds, "/mac", "'mac' is aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff or aabbccddeeff");
    if (mac[0] && mac_is_multicast(out->mac))
        return bad(pointer, ps, detail, ds, "/mac", "a multicast address cannot be an adapter's");
    if (get_string(obj, "mac_pool", out->mac_pool, sizeof(out->mac_pool)) < 0)
        return bad(pointer, ps, detail, ds, "/mac_pool", "'mac_pool' names a MAC pool");
    if (mac_required && !mac[0])
        return bad(pointer, ps, detail, ds, "/mac", "'mac' is required here");
    char source[16];
    if (get_string(obj, "mac_source", source, sizeof(source)) < 0)
        return bad(pointer, ps, detail, ds, "/mac_source", "'mac_source' is given, static or dynamic");
    out->mac_source = strcmp(source, "static") == 0    ? MAC_SOURCE_STATIC
                      : strcmp(source, "dynamic") == 0 ? MAC_SOURCE_DYNAMIC
                                                       : MAC_SOURCE_GIVEN;
    struct json_object *vlan = NULL;
    if (json_object_object_get_ex(obj, "vlan", &vlan) && vlan) {
        if (vlan_assignment_from_json(vlan, "/vlan", &out->vlan, pointer, ps, detail, ds) < 0)
            return -EINVAL;
        out->has_vlan = true;
    }
    if (get_bool(obj, "spoofing_allowed", false, &out->spoofing_allowed) < 0)
        return bad(pointer, ps, detail, ds, "/spoofing_allowed", "'spoofing_allowed' is true or false");
    if (get_bool(obj, "dhcp_guard", false, &out->dhcp_guard) < 0)
        return bad(pointer, ps, detail, ds, "/dhcp_guard", "'dhcp_guard' is true or false");
    if (get_bool(obj, "router_guard", false, &out->router_guard) < 0)
        return bad(pointer, ps, detail, ds, "/router_guard", "'router_guard' is true or false");
    if (get_bool(obj, "active", true, &out->active) < 0)
        return bad(pointer, ps, detail, ds, "/active", "'active' is true or false");
    struct json_object *bw = NULL;
    if (json_object_object_get_ex(obj, "max_bandwidth_kbps", &bw) && bw) {
        if (!json_object_is_type(bw, json_type_int) || json_object_get_int64(bw) < 0)
            return bad(pointer, ps, detail, ds, "/max_bandwidth_kbps",
                       "'max_bandwidth_kbps' is kilobits per second, 0 for no cap");
        out->max_bandwidth_kbps = (uint64_t)json_object_get_int64(bw);
    }
    return 0;
}
