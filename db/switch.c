/* Virtual switches: see db/switch.h. */
#include "db/switch.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/clock.h"

static const char *const type_names[] = {
    [SWITCH_EXTERNAL] = "external",
    [SWITCH_INTERNAL] = "internal",
    [SWITCH_PRIVATE] = "private",
};

const char *switch_type_to_string(enum switch_type type)
{
    return (unsigned)type <= SWITCH_PRIVATE ? type_names[type] : "unknown";
}

int switch_type_from_string(const char *name, enum switch_type *type)
{
    for (unsigned i = 0; name && i <= SWITCH_PRIVATE; i++)
        if (strcmp(name, type_names[i]) == 0) {
            *type = (enum switch_type)i;
            return 0;
        }
    return -EINVAL;
}

bool switch_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 15 || !islower((unsigned char)name[0]))
        return false;
    for (size_t i = 0; i < len; i++)
        if (!islower((unsigned char)name[i]) && !isdigit((unsigned char)name[i]) && name[i] != '-')
            return false;
    return true;
}

static char *vlans_text(const struct vswitch_record *s)
{
    struct json_object *a = json_object_new_array();
    for (size_t i = 0; i < s->n_uplink_vlans; i++)
        json_object_array_add(a, json_object_new_int(s->uplink_vlans[i]));
    char *text = strdup(json_object_to_json_string_ext(a, JSON_C_TO_STRING_PLAIN));
    json_object_put(a);
    return text;
}

int switch_insert(struct db *db, const struct vswitch_record *s)
{
    sqlite3_stmt *stmt = db_stmt(db, "INSERT INTO switch (name, type, uplink, uplink_vlans, "
                                     "management_vlan, created_ms) VALUES (?, ?, ?, ?, ?, ?)");
    if (!stmt)
        return -EIO;
    char *vlans = vlans_text(s);
    if (!vlans)
        return -ENOMEM;
    sqlite3_bind_text(stmt, 1, s->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, switch_type_to_string(s->type), -1, SQLITE_STATIC);
    if (s->uplink[0])
        sqlite3_bind_text(stmt, 3, s->uplink, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 4, vlans, -1, SQLITE_STATIC);
    if (s->management_vlan)
        sqlite3_bind_int(stmt, 5, s->management_vlan);
    sqlite3_bind_int64(stmt, 6, clock_wall_ms());
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    free(vlans);
    return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

static void read_row(sqlite3_stmt *stmt, struct vswitch_record *s)
{
    memset(s, 0, sizeof(*s));
    const unsigned char *t = sqlite3_column_text(stmt, 0);
    snprintf(s->name, sizeof(s->name), "%s", t ? (const char *)t : "");
    t = sqlite3_column_text(stmt, 1);
    switch_type_from_string(t ? (const char *)t : "", &s->type);
    t = sqlite3_column_text(stmt, 2);
    snprintf(s->uplink, sizeof(s->uplink), "%s", t ? (const char *)t : "");
    t = sqlite3_column_text(stmt, 3);
    struct json_object *a = json_tokener_parse(t ? (const char *)t : "[]");
    for (size_t i = 0; a && i < json_object_array_length(a) && i < SWITCH_MAX_VLANS; i++)
        s->uplink_vlans[s->n_uplink_vlans++] =
            (uint16_t)json_object_get_int(json_object_array_get_idx(a, i));
    json_object_put(a);
    s->management_vlan = (uint16_t)sqlite3_column_int(stmt, 4);
    s->generation = sqlite3_column_int64(stmt, 5);
    s->created_ms = sqlite3_column_int64(stmt, 6);
}

#define COLUMNS "name, type, uplink, uplink_vlans, management_vlan, generation, created_ms"

int switch_get(struct db *db, const char *name, struct vswitch_record *out)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT " COLUMNS " FROM switch WHERE name = ?");
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

int switch_list(struct db *db, struct vswitch_record **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *stmt = db_stmt(db, "SELECT " COLUMNS " FROM switch ORDER BY name");
    if (!stmt)
        return -EIO;
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

int switch_delete(struct db *db, const char *name)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT 1 FROM port WHERE switch = ? LIMIT 1");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc == SQLITE_ROW)
        return -EBUSY;
    stmt = db_stmt(db, "DELETE FROM switch WHERE name = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return db_errno(rc);
    return sqlite3_changes(db_sqlite(db)) ? 0 : -ENOENT;
}

bool switch_carries(const struct vswitch_record *s, uint16_t id)
{
    if (s->type != SWITCH_EXTERNAL || s->n_uplink_vlans == 0)
        return true;
    for (size_t i = 0; i < s->n_uplink_vlans; i++)
        if (s->uplink_vlans[i] == id)
            return true;
    return false;
}

struct json_object *switch_to_json(const struct vswitch_record *s)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(s->name));
    json_object_object_add(o, "type", json_object_new_string(switch_type_to_string(s->type)));
    json_object_object_add(o, "uplink", s->uplink[0] ? json_object_new_string(s->uplink) : NULL);
    struct json_object *vlans = json_object_new_array();
    for (size_t i = 0; i < s->n_uplink_vlans; i++)
        json_object_array_add(vlans, json_object_new_int(s->uplink_vlans[i]));
    json_object_object_add(o, "vlans", vlans);
    json_object_object_add(o, "management_vlan",
                           s->management_vlan ? json_object_new_int(s->management_vlan) : NULL);
    return o;
}
