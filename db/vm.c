/* The VM aggregate: see db/vm.h. */
#include "db/vm.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/clock.h"

static const char *const state_names[VM_STATE_COUNT] = {
    [VM_STOPPED] = "stopped",     [VM_RUNNING] = "running",   [VM_PAUSED] = "paused",
    [VM_MIGRATING] = "migrating", [VM_INCOMING] = "incoming", [VM_FAILED] = "failed",
};

const char *vm_state_to_string(enum vm_state state)
{
    return (unsigned)state < VM_STATE_COUNT ? state_names[state] : "unknown";
}

int vm_state_from_string(const char *name, enum vm_state *state)
{
    for (unsigned i = 0; name && i < VM_STATE_COUNT; i++)
        if (strcmp(name, state_names[i]) == 0) {
            *state = (enum vm_state)i;
            return 0;
        }
    return -EINVAL;
}

bool vm_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 63 || name[0] == '-' || name[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
            return false;
    return true;
}

static void bind_optional(sqlite3_stmt *stmt, int col, const char *text)
{
    if (text[0])
        sqlite3_bind_text(stmt, col, text, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(stmt, col);
}

int vm_insert(struct db *db, const struct vm *vm)
{
    if (vm->n_adapters > VM_MAX_ADAPTERS)
        return -EINVAL;
    int r = db_begin(db);
    if (r < 0)
        return r;
    sqlite3_stmt *stmt = db_stmt(db, "INSERT INTO vm (uuid, name, memory_mib, vcpus, kernel, initrd, append, "
                                     "disk, state, host, generation, created_ms, updated_ms) "
                                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)");
    if (!stmt) {
        db_rollback(db);
        return -EIO;
    }
    int64_t now = clock_wall_ms();
    sqlite3_bind_text(stmt, 1, vm->uuid, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, vm->name, -1, SQLITE_STATIC);
    sqlite3_bind_int(stmt, 3, (int)vm->memory_mib);
    sqlite3_bind_int(stmt, 4, (int)vm->vcpus);
    bind_optional(stmt, 5, vm->kernel);
    bind_optional(stmt, 6, vm->initrd);
    bind_optional(stmt, 7, vm->append);
    bind_optional(stmt, 8, vm->disk);
    sqlite3_bind_text(stmt, 9, vm_state_to_string(vm->state), -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 10, vm->host, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 11, now);
    sqlite3_bind_int64(stmt, 12, now);
    r = db_errno(sqlite3_step(stmt));
    sqlite3_reset(stmt);
    for (size_t i = 0; r >= 0 && i < vm->n_adapters; i++) {
        stmt = db_stmt(db, "INSERT INTO vm_adapter (vm, idx, port, model) VALUES (?, ?, ?, ?)");
        if (!stmt) {
            r = -EIO;
            break;
        }
        sqlite3_bind_text(stmt, 1, vm->uuid, -1, SQLITE_STATIC);
        sqlite3_bind_int(stmt, 2, (int)i);
        sqlite3_bind_text(stmt, 3, vm->adapters[i].port, -1, SQLITE_STATIC);
        sqlite3_bind_text(stmt, 4, vm->adapters[i].model, -1, SQLITE_STATIC);
        r = db_errno(sqlite3_step(stmt));
        sqlite3_reset(stmt);
    }
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    return db_commit(db);
}

static void copy_text(char *dst, size_t size, sqlite3_stmt *stmt, int col)
{
    const unsigned char *t = sqlite3_column_text(stmt, col);
    snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static void read_row(sqlite3_stmt *stmt, struct vm *vm)
{
    memset(vm, 0, sizeof(*vm));
    copy_text(vm->uuid, sizeof(vm->uuid), stmt, 0);
    copy_text(vm->name, sizeof(vm->name), stmt, 1);
    vm->memory_mib = (unsigned)sqlite3_column_int(stmt, 2);
    vm->vcpus = (unsigned)sqlite3_column_int(stmt, 3);
    copy_text(vm->kernel, sizeof(vm->kernel), stmt, 4);
    copy_text(vm->initrd, sizeof(vm->initrd), stmt, 5);
    copy_text(vm->append, sizeof(vm->append), stmt, 6);
    copy_text(vm->disk, sizeof(vm->disk), stmt, 7);
    if (vm_state_from_string((const char *)sqlite3_column_text(stmt, 8), &vm->state) < 0)
        vm->state = VM_FAILED;
    copy_text(vm->host, sizeof(vm->host), stmt, 9);
    vm->generation = sqlite3_column_int64(stmt, 10);
    vm->created_ms = sqlite3_column_int64(stmt, 11);
    vm->updated_ms = sqlite3_column_int64(stmt, 12);
}

static int read_adapters(struct db *db, struct vm *vm)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT port, model FROM vm_adapter WHERE vm = ? ORDER BY idx");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, vm->uuid, -1, SQLITE_STATIC);
    int rc;
    vm->n_adapters = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && vm->n_adapters < VM_MAX_ADAPTERS) {
        struct vm_adapter *a = &vm->adapters[vm->n_adapters++];
        copy_text(a->port, sizeof(a->port), stmt, 0);
        copy_text(a->model, sizeof(a->model), stmt, 1);
    }
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : db_errno(rc);
}

#define VM_COLUMNS \
    "uuid, name, memory_mib, vcpus, kernel, initrd, append, disk, state, host, generation, created_ms, updated_ms"

int vm_get(struct db *db, const char *uuid_or_name, struct vm *out)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT " VM_COLUMNS " FROM vm WHERE uuid = ?1 OR name = ?1");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, uuid_or_name, -1, SQLITE_STATIC);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        read_row(stmt, out);
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW)
        return rc == SQLITE_DONE ? -ENOENT : db_errno(rc);
    return read_adapters(db, out);
}

int vm_list(struct db *db, struct vm **out, size_t *n)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT " VM_COLUMNS " FROM vm ORDER BY name");
    if (!stmt)
        return -EIO;
    struct vm *list = NULL;
    size_t count = 0;
    int rc, r = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct vm *grown = realloc(list, (count + 1) * sizeof(*grown));
        if (!grown) {
            r = -ENOMEM;
            break;
        }
        list = grown;
        read_row(stmt, &list[count++]);
    }
    sqlite3_reset(stmt);
    if (r >= 0 && rc != SQLITE_DONE)
        r = db_errno(rc);
    for (size_t i = 0; r >= 0 && i < count; i++)
        r = read_adapters(db, &list[i]);
    if (r < 0) {
        free(list);
        return r;
    }
    *out = list;
    *n = count;
    return 0;
}

static int update_one(struct db *db, sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return db_errno(rc);
    return sqlite3_changes(db_sqlite(db)) ? 0 : -ENOENT;
}

int vm_set_state(struct db *db, const char *uuid, enum vm_state state)
{
    sqlite3_stmt *stmt = db_stmt(db, "UPDATE vm SET state = ?, generation = generation + 1, updated_ms = ? "
                                     "WHERE uuid = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, vm_state_to_string(state), -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 2, clock_wall_ms());
    sqlite3_bind_text(stmt, 3, uuid, -1, SQLITE_STATIC);
    return update_one(db, stmt);
}

int vm_set_host(struct db *db, const char *uuid, const char *host, enum vm_state state)
{
    sqlite3_stmt *stmt = db_stmt(db, "UPDATE vm SET host = ?, state = ?, generation = generation + 1, "
                                     "updated_ms = ? WHERE uuid = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, host, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, vm_state_to_string(state), -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 3, clock_wall_ms());
    sqlite3_bind_text(stmt, 4, uuid, -1, SQLITE_STATIC);
    return update_one(db, stmt);
}

int vm_delete(struct db *db, const char *uuid)
{
    sqlite3_stmt *stmt = db_stmt(db, "DELETE FROM vm WHERE uuid = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, uuid, -1, SQLITE_STATIC);
    return update_one(db, stmt); /* adapters go with it (ON DELETE CASCADE) */
}

static struct json_object *string_or_null(const char *s)
{
    return s[0] ? json_object_new_string(s) : NULL;
}

struct json_object *vm_to_json(const struct vm *vm)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "id", json_object_new_string(vm->uuid));
    json_object_object_add(o, "name", json_object_new_string(vm->name));
    json_object_object_add(o, "memory_mib", json_object_new_int((int)vm->memory_mib));
    json_object_object_add(o, "vcpus", json_object_new_int((int)vm->vcpus));
    json_object_object_add(o, "kernel", string_or_null(vm->kernel));
    json_object_object_add(o, "initrd", string_or_null(vm->initrd));
    json_object_object_add(o, "append", string_or_null(vm->append));
    json_object_object_add(o, "disk", string_or_null(vm->disk));
    json_object_object_add(o, "state", json_object_new_string(vm_state_to_string(vm->state)));
    json_object_object_add(o, "host", json_object_new_string(vm->host));
    json_object_object_add(o, "generation", json_object_new_int64(vm->generation));
    struct json_object *adapters = json_object_new_array();
    for (size_t i = 0; i < vm->n_adapters; i++) {
        struct json_object *a = json_object_new_object();
        json_object_object_add(a, "port", json_object_new_string(vm->adapters[i].port));
        json_object_object_add(a, "model", json_object_new_string(vm->adapters[i].model));
        json_object_array_add(adapters, a);
    }
    json_object_object_add(o, "adapters", adapters);
    return o;
}

static int copy_string(struct json_object *obj, const char *key, bool required, char *out,
                       size_t size)
{
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, key, &v) || json_object_is_type(v, json_type_null)) {
        out[0] = '\0';
        return required ? -EINVAL : 0;
    }
    if (!json_object_is_type(v, json_type_string) ||
        (size_t)json_object_get_string_len(v) >= size)
        return -EINVAL;
    memcpy(out, json_object_get_string(v), (size_t)json_object_get_string_len(v) + 1);
    return 0;
}

int vm_from_json(struct json_object *obj, struct vm *out)
{
    memset(out, 0, sizeof(*out));
    if (!json_object_is_type(obj, json_type_object))
        return -EINVAL;
    struct json_object *v = NULL;
    if (copy_string(obj, "id", true, out->uuid, sizeof(out->uuid)) < 0 ||
        copy_string(obj, "name", true, out->name, sizeof(out->name)) < 0 ||
        copy_string(obj, "kernel", false, out->kernel, sizeof(out->kernel)) < 0 ||
        copy_string(obj, "initrd", false, out->initrd, sizeof(out->initrd)) < 0 ||
        copy_string(obj, "append", false, out->append, sizeof(out->append)) < 0 ||
        copy_string(obj, "disk", false, out->disk, sizeof(out->disk)) < 0 ||
        copy_string(obj, "host", false, out->host, sizeof(out->host)) < 0)
        return -EINVAL;
    if (!vm_name_valid(out->name))
        return -EINVAL;
    if (!json_object_object_get_ex(obj, "memory_mib", &v) || !json_object_is_type(v, json_type_int))
        return -EINVAL;
    out->memory_mib = (unsigned)json_object_get_int(v);
    if (!json_object_object_get_ex(obj, "vcpus", &v) || !json_object_is_type(v, json_type_int))
        return -EINVAL;
    out->vcpus = (unsigned)json_object_get_int(v);
    char state[16];
    if (copy_string(obj, "state", false, state, sizeof(state)) < 0 ||
        (state[0] && vm_state_from_string(state, &out->state) < 0))
        return -EINVAL;
    struct json_object *adapters = NULL;
    if (json_object_object_get_ex(obj, "adapters", &adapters)) {
        if (!json_object_is_type(adapters, json_type_array) ||
            json_object_array_length(adapters) > VM_MAX_ADAPTERS)
            return -EINVAL;
        for (size_t i = 0; i < json_object_array_length(adapters); i++) {
            struct json_object *a = json_object_array_get_idx(adapters, i);
            struct vm_adapter *ad = &out->adapters[i];
            if (copy_string(a, "port", true, ad->port, sizeof(ad->port)) < 0 ||
                copy_string(a, "model", true, ad->model, sizeof(ad->model)) < 0)
                return -EINVAL;
        }
        out->n_adapters = json_object_array_length(adapters);
    }
    return 0;
}
