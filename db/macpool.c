/* MAC pools, blocks and allocations: see db/macpool.h.
 *
 * Finding a free address: the owner's first block not marked full is read
 * whole (its allocations and the other nodes' single claims inside it) into
 * a bitmap, and the search starts at the block's cursor and wraps.  A block
 * with no free address is marked full, so a pool with a million allocations
 * costs one indexed lookup and at most block_size rows per allocation. */
#include "db/macpool.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "base/clock.h"

static void copy_text(char *dst, size_t size, sqlite3_stmt *stmt, int col)
{
    const unsigned char *t = sqlite3_column_text(stmt, col);
    snprintf(dst, size, "%s", t ? (const char *)t : "");
}

static int step_done(sqlite3_stmt *stmt)
{
    int rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

bool macpool_name_valid(const char *name)
{
    size_t len = strlen(name);
    if (len == 0 || len > 63 || name[0] == '-' || name[0] == '.')
        return false;
    for (size_t i = 0; i < len; i++)
        if (!isalnum((unsigned char)name[i]) && !strchr("._-", name[i]))
            return false;
    return true;
}

/* ---- JSON ---- */

static int invalid(char *pointer, size_t psize, char *detail, size_t dsize, const char *where,
                   const char *what)
{
    snprintf(pointer, psize, "%s", where);
    snprintf(detail, dsize, "%s", what);
    return -EINVAL;
}

int macpool_from_json(struct json_object *obj, struct macpool *out, char *pointer,
                      size_t pointer_size, char *detail, size_t detail_size)
{
    memset(out, 0, sizeof(*out));
    out->kind = MACPOOL_STATIC;
    out->block_size = MACPOOL_DEFAULT_BLOCK;
    if (!obj || !json_object_is_type(obj, json_type_object))
        return invalid(pointer, pointer_size, detail, detail_size, "",
                       "a pool is {\"name\": N, \"ranges\": [{\"start\": MAC, \"end\": MAC}]}");
    struct json_object *v = NULL;
    if (!json_object_object_get_ex(obj, "name", &v) || !json_object_is_type(v, json_type_string) ||
        !macpool_name_valid(json_object_get_string(v)))
        return invalid(pointer, pointer_size, detail, detail_size, "/name",
                       "'name' is 1-63 of letters, digits, '.', '_', '-'");
    snprintf(out->name, sizeof(out->name), "%s", json_object_get_string(v));
    if (strcmp(out->name, MACPOOL_DYNAMIC_NAME) == 0)
        return invalid(pointer, pointer_size, detail, detail_size, "/name",
                       "'dynamic' is the name of each host's own pool");
    if (json_object_object_get_ex(obj, "description", &v) && v) {
        if (!json_object_is_type(v, json_type_string) ||
            json_object_get_string_len(v) >= (int)sizeof(out->description))
            return invalid(pointer, pointer_size, detail, detail_size, "/description",
                           "'description' is a string of at most 255 bytes");
        snprintf(out->description, sizeof(out->description), "%s", json_object_get_string(v));
    }
    if (json_object_object_get_ex(obj, "block_size", &v)) {
        int64_t bs = json_object_get_int64(v);
        if (!json_object_is_type(v, json_type_int) || bs < 1 || bs > 65536)
            return invalid(pointer, pointer_size, detail, detail_size, "/block_size",
                           "'block_size' is 1 to 65536 addresses");
        out->block_size = (unsigned)bs;
    }
    struct json_object *ranges = NULL;
    if (!json_object_object_get_ex(obj, "ranges", &ranges) ||
        !json_object_is_type(ranges, json_type_array) || json_object_array_length(ranges) == 0 ||
        json_object_array_length(ranges) > MACPOOL_MAX_RANGES)
        return invalid(pointer, pointer_size, detail, detail_size, "/ranges",
                       "'ranges' is a list of 1 to 16 {\"start\": MAC, \"end\": MAC}");
    for (size_t i = 0; i < json_object_array_length(ranges); i++) {
        struct json_object *r = json_object_array_get_idx(ranges, i);
        struct mac_range *range = &out->ranges[i];
        const char *keys[2] = { "start", "end" };
        uint64_t *slots[2] = { &range->start, &range->end };
        for (int k = 0; k < 2; k++) {
            char where[48];
            snprintf(where, sizeof(where), "/ranges/%zu/%s", i, keys[k]);
            if (!json_object_is_type(r, json_type_object) ||
                !json_object_object_get_ex(r, keys[k], &v) ||
                !json_object_is_type(v, json_type_string) ||
                mac_parse(json_object_get_string(v), slots[k]) < 0)
                return invalid(pointer, pointer_size, detail, detail_size, where,
                               "a MAC address: aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff or "
                               "aabbccddeeff");
        }
        char why[256], where[32];
        snprintf(where, sizeof(where), "/ranges/%zu", i);
        if (mac_range_check(range, why, sizeof(why)) < 0)
            return invalid(pointer, pointer_size, detail, detail_size, where, why);
        for (size_t k = 0; k < i; k++)
            if (mac_range_overlaps(range, &out->ranges[k])) {
                snprintf(why, sizeof(why), "range %zu overlaps range %zu of the same pool", i, k);
                return invalid(pointer, pointer_size, detail, detail_size, where, why);
            }
    }
    out->n_ranges = json_object_array_length(ranges);
    return 0;
}

struct json_object *macpool_to_json(const struct macpool *pool, int64_t allocated)
{
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "name", json_object_new_string(pool->name));
    json_object_object_add(o, "kind", json_object_new_string(
                                          pool->kind == MACPOOL_DYNAMIC ? "dynamic" : "static"));
    json_object_object_add(o, "description", json_object_new_string(pool->description));
    json_object_object_add(o, "block_size", json_object_new_int((int)pool->block_size));
    struct json_object *ranges = json_object_new_array();
    uint64_t size = 0;
    for (size_t i = 0; i < pool->n_ranges; i++) {
        char a[MAC_STRING_SIZE], b[MAC_STRING_SIZE];
        struct json_object *r = json_object_new_object();
        json_object_object_add(r, "start", json_object_new_string(mac_format(pool->ranges[i].start, a)));
        json_object_object_add(r, "end", json_object_new_string(mac_format(pool->ranges[i].end, b)));
        json_object_array_add(ranges, r);
        size += mac_range_size(&pool->ranges[i]);
    }
    json_object_object_add(o, "ranges", ranges);
    json_object_object_add(o, "size", json_object_new_int64((int64_t)size));
    if (allocated >= 0)
        json_object_object_add(o, "allocated_here", json_object_new_int64(allocated));
    json_object_object_add(o, "generation", json_object_new_int64(pool->generation));
    return o;
}

/* ---- pools ---- */

static int insert_rows(struct db *db, const struct macpool *pool, char *clash)
{
    sqlite3_stmt *exists = db_stmt(db, "SELECT 1 FROM mac_pool WHERE name = ?");
    if (!exists)
        return -EIO;
    sqlite3_bind_text(exists, 1, pool->name, -1, SQLITE_STATIC);
    int rc0 = sqlite3_step(exists);
    sqlite3_reset(exists);
    if (rc0 == SQLITE_ROW)
        return -EEXIST;
    if (rc0 != SQLITE_DONE)
        return db_errno(rc0);
    for (size_t i = 0; i < pool->n_ranges; i++) {
        sqlite3_stmt *stmt = db_stmt(db, "SELECT pool FROM mac_range WHERE start <= ? AND end >= ? "
                                         "LIMIT 1");
        if (!stmt)
            return -EIO;
        sqlite3_bind_int64(stmt, 1, (sqlite3_int64)pool->ranges[i].end);
        sqlite3_bind_int64(stmt, 2, (sqlite3_int64)pool->ranges[i].start);
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
            if (clash)
                copy_text(clash, 64, stmt, 0);
            sqlite3_reset(stmt);
            return -EADDRINUSE;
        }
        sqlite3_reset(stmt);
        if (rc != SQLITE_DONE)
            return db_errno(rc);
    }
    sqlite3_stmt *stmt = db_stmt(db, "INSERT INTO mac_pool (name, kind, block_size, description, "
                                     "created_ms, generation) VALUES (?, ?, ?, ?, ?, ?)");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, pool->name, -1, SQLITE_STATIC);
    sqlite3_bind_text(stmt, 2, pool->kind == MACPOOL_DYNAMIC ? "dynamic" : "static", -1,
                      SQLITE_STATIC);
    sqlite3_bind_int(stmt, 3, (int)pool->block_size);
    sqlite3_bind_text(stmt, 4, pool->description, -1, SQLITE_STATIC);
    sqlite3_bind_int64(stmt, 5, pool->created_ms ? pool->created_ms : clock_wall_ms());
    sqlite3_bind_int64(stmt, 6, pool->generation ? pool->generation : 1);
    int r = step_done(stmt);
    if (r < 0)
        return r;
    for (size_t i = 0; i < pool->n_ranges; i++) {
        stmt = db_stmt(db, "INSERT INTO mac_range (pool, start, end) VALUES (?, ?, ?)");
        if (!stmt)
            return -EIO;
        sqlite3_bind_text(stmt, 1, pool->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 2, (sqlite3_int64)pool->ranges[i].start);
        sqlite3_bind_int64(stmt, 3, (sqlite3_int64)pool->ranges[i].end);
        r = step_done(stmt);
        if (r < 0)
            return r;
    }
    return 0;
}

int macpool_insert(struct db *db, const struct macpool *pool, char *clash)
{
    int r = db_begin(db);
    if (r < 0)
        return r;
    r = insert_rows(db, pool, clash);
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    return db_commit(db);
}

static int read_ranges(struct db *db, struct macpool *pool)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT start, end FROM mac_range WHERE pool = ? "
                                     "ORDER BY start");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, pool->name, -1, SQLITE_STATIC);
    int rc;
    pool->n_ranges = 0;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && pool->n_ranges < MACPOOL_MAX_RANGES) {
        pool->ranges[pool->n_ranges].start = (uint64_t)sqlite3_column_int64(stmt, 0);
        pool->ranges[pool->n_ranges].end = (uint64_t)sqlite3_column_int64(stmt, 1);
        pool->n_ranges++;
    }
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_errno(rc);
}

static void read_pool(sqlite3_stmt *stmt, struct macpool *p)
{
    memset(p, 0, sizeof(*p));
    copy_text(p->name, sizeof(p->name), stmt, 0);
    const unsigned char *kind = sqlite3_column_text(stmt, 1);
    p->kind = kind && strcmp((const char *)kind, "dynamic") == 0 ? MACPOOL_DYNAMIC : MACPOOL_STATIC;
    p->block_size = (unsigned)sqlite3_column_int(stmt, 2);
    copy_text(p->description, sizeof(p->description), stmt, 3);
    p->created_ms = sqlite3_column_int64(stmt, 4);
    p->generation = sqlite3_column_int64(stmt, 5);
}

int macpool_get(struct db *db, const char *name, struct macpool *out)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT name, kind, block_size, description, created_ms, "
                                     "generation FROM mac_pool WHERE name = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        read_pool(stmt, out);
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE)
        return -ENOENT;
    if (rc != SQLITE_ROW)
        return db_errno(rc);
    return read_ranges(db, out);
}

int macpool_list(struct db *db, struct macpool **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *stmt = db_stmt(db, "SELECT name, kind, block_size, description, created_ms, "
                                     "generation FROM mac_pool ORDER BY name");
    if (!stmt)
        return -EIO;
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (db_grow((void **)out, &cap, *n, sizeof(**out)) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        read_pool(stmt, &(*out)[(*n)++]);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        free(*out);
        *out = NULL;
        *n = 0;
        return db_errno(rc);
    }
    for (size_t i = 0; i < *n; i++) {
        int r = read_ranges(db, &(*out)[i]);
        if (r < 0) {
            free(*out);
            *out = NULL;
            *n = 0;
            return r;
        }
    }
    return 0;
}

int64_t macpool_count_allocated(struct db *db, const char *pool)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT count(*) FROM mac_allocation WHERE pool = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    int64_t count = rc == SQLITE_ROW ? sqlite3_column_int64(stmt, 0) : db_errno(rc);
    sqlite3_reset(stmt);
    return count;
}

int macpool_delete(struct db *db, const char *name)
{
    int r = db_begin(db);
    if (r < 0)
        return r;
    int64_t used = macpool_count_allocated(db, name);
    if (used != 0) {
        db_rollback(db);
        return used > 0 ? -EBUSY : (int)used;
    }
    sqlite3_stmt *stmt = db_stmt(db, "DELETE FROM mac_pool WHERE name = ?");
    if (!stmt) {
        db_rollback(db);
        return -EIO;
    }
    sqlite3_bind_text(stmt, 1, name, -1, SQLITE_TRANSIENT);
    r = step_done(stmt);
    if (r == 0 && sqlite3_changes(db_sqlite(db)) == 0)
        r = -ENOENT;
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    return db_commit(db);
}

/* The first non-single block of POOL not inside one of RANGES: 1 and *out,
 * 0 when every block is inside, or a negative errno. */
static int block_outside(struct db *db, const char *pool, const struct mac_range *ranges,
                         size_t n_ranges, struct mac_block *out)
{
    struct mac_block *blocks = NULL;
    size_t n = 0;
    int r = macpool_blocks(db, pool, NULL, &blocks, &n);
    if (r < 0)
        return r;
    int found = 0;
    for (size_t i = 0; i < n && !found; i++) {
        bool inside = blocks[i].single;
        for (size_t k = 0; k < n_ranges && !inside; k++)
            inside = blocks[i].start >= ranges[k].start && blocks[i].end <= ranges[k].end;
        if (!inside) {
            *out = blocks[i];
            found = 1;
        }
    }
    free(blocks);
    return found;
}

int macpool_update(struct db *db, const struct macpool *pool, char *clash,
                   struct mac_block *in_the_way)
{
    int r = db_begin(db);
    if (r < 0)
        return r;
    struct macpool current;
    r = macpool_get(db, pool->name, &current);
    if (r == 0 && current.kind != MACPOOL_STATIC)
        r = -EPERM;
    for (size_t i = 0; r == 0 && i < pool->n_ranges; i++) {
        sqlite3_stmt *stmt = db_stmt(db, "SELECT pool FROM mac_range WHERE start <= ? AND end >= ? "
                                         "AND pool != ? LIMIT 1");
        if (!stmt) {
            r = -EIO;
            break;
        }
        sqlite3_bind_int64(stmt, 1, (sqlite3_int64)pool->ranges[i].end);
        sqlite3_bind_int64(stmt, 2, (sqlite3_int64)pool->ranges[i].start);
        sqlite3_bind_text(stmt, 3, pool->name, -1, SQLITE_STATIC);
        int rc = sqlite3_step(stmt);
        if (rc == SQLITE_ROW) {
            if (clash)
                copy_text(clash, 64, stmt, 0);
            r = -EADDRINUSE;
        } else if (rc != SQLITE_DONE) {
            r = db_errno(rc);
        }
        sqlite3_reset(stmt);
    }
    if (r == 0) {
        struct mac_block b;
        int found = block_outside(db, pool->name, pool->ranges, pool->n_ranges, &b);
        if (found > 0 && in_the_way)
            *in_the_way = b;
        r = found > 0 ? -EBUSY : found;
    }
    sqlite3_stmt *stmt = r == 0 ? db_stmt(db, "DELETE FROM mac_range WHERE pool = ?") : NULL;
    if (r == 0 && !stmt)
        r = -EIO;
    if (r == 0) {
        sqlite3_bind_text(stmt, 1, pool->name, -1, SQLITE_STATIC);
        r = step_done(stmt);
    }
    for (size_t i = 0; r == 0 && i < pool->n_ranges; i++) {
        stmt = db_stmt(db, "INSERT INTO mac_range (pool, start, end) VALUES (?, ?, ?)");
        if (!stmt) {
            r = -EIO;
            break;
        }
        sqlite3_bind_text(stmt, 1, pool->name, -1, SQLITE_STATIC);
        sqlite3_bind_int64(stmt, 2, (sqlite3_int64)pool->ranges[i].start);
        sqlite3_bind_int64(stmt, 3, (sqlite3_int64)pool->ranges[i].end);
        r = step_done(stmt);
    }
    if (r == 0) {
        stmt = db_stmt(db, "UPDATE mac_pool SET description = ?, generation = generation + 1 "
                           "WHERE name = ?");
        if (!stmt) {
            r = -EIO;
        } else {
            sqlite3_bind_text(stmt, 1, pool->description, -1, SQLITE_STATIC);
            sqlite3_bind_text(stmt, 2, pool->name, -1, SQLITE_STATIC);
            r = step_done(stmt);
        }
    }
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    return db_commit(db);
}

/* ---- blocks ---- */

static int insert_block(struct db *db, const char *pool, const struct mac_block *b)
{
    sqlite3_stmt *stmt = db_stmt(db, "INSERT INTO mac_block (pool, start, end, owner, single, "
                                     "cursor, claimed_ms) VALUES (?, ?, ?, ?, ?, ?, ?) "
                                     "ON CONFLICT DO NOTHING");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)b->start);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)b->end);
    sqlite3_bind_text(stmt, 4, b->owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(stmt, 5, b->single);
    sqlite3_bind_int64(stmt, 6, (sqlite3_int64)b->start);
    sqlite3_bind_int64(stmt, 7, clock_wall_ms());
    return step_done(stmt);
}

struct mac_range macpool_dynamic_default(uint8_t ip3, uint8_t ip4)
{
    uint64_t base = UINT64_C(0x00155d) << 24 | (uint64_t)ip3 << 16 | (uint64_t)ip4 << 8;
    return (struct mac_range){ base, base + 255 };
}

int macpool_ensure_dynamic(struct db *db, const char *node, const struct mac_range *range)
{
    char why[256];
    if (mac_range_check(range, why, sizeof(why)) < 0 || mac_range_size(range) > 65536)
        return -EINVAL;
    struct macpool pool;
    int r = macpool_get(db, MACPOOL_DYNAMIC_NAME, &pool);
    if (r != -ENOENT)
        return r;
    memset(&pool, 0, sizeof(pool));
    snprintf(pool.name, sizeof(pool.name), MACPOOL_DYNAMIC_NAME);
    pool.kind = MACPOOL_DYNAMIC;
    pool.block_size = (unsigned)mac_range_size(range);
    snprintf(pool.description, sizeof(pool.description), "this host's own pool");
    pool.ranges[0] = *range;
    pool.n_ranges = 1;
    r = db_begin(db);
    if (r < 0)
        return r;
    r = insert_rows(db, &pool, NULL);
    struct mac_block block = { .start = range->start, .end = range->end, .single = false };
    snprintf(block.owner, sizeof(block.owner), "%s", node);
    if (r >= 0)
        r = insert_block(db, pool.name, &block);
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    return db_commit(db);
}

static int reserved_in(struct db *db, const char *pool, const struct mac_block *b,
                       uint64_t *reserved, size_t *n_reserved)
{
    *n_reserved = 0;
    sqlite3_stmt *stmt = db_stmt(db, "SELECT start FROM mac_block WHERE single = 1 AND pool = ? "
                                     "AND start BETWEEN ? AND ? AND owner != ? ORDER BY start");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)b->start);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)b->end);
    sqlite3_bind_text(stmt, 4, b->owner, -1, SQLITE_TRANSIENT);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW && *n_reserved < MACPOOL_MAX_RESERVED)
        reserved[(*n_reserved)++] = (uint64_t)sqlite3_column_int64(stmt, 0);
    sqlite3_reset(stmt);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* The lowest gap of RANGE that no non-single block of POOL covers, as a
 * block of at most BLOCK_SIZE addresses in *OUT: 1, 0 when the range has
 * none, or a negative errno.  Gaps are what blocks given back leave. */
static int lowest_gap(struct db *db, const char *pool, const struct mac_range *range,
                      unsigned block_size, struct mac_block *out)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT start, end FROM mac_block WHERE pool = ? AND "
                                     "single = 0 AND start BETWEEN ? AND ? ORDER BY start");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)range->start);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)range->end);
    uint64_t next = range->start; /* every address below it is covered */
    bool found = false;
    int rc = SQLITE_DONE;
    while (!found && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        uint64_t start = (uint64_t)sqlite3_column_int64(stmt, 0);
        uint64_t end = (uint64_t)sqlite3_column_int64(stmt, 1);
        if (start > next) {
            out->start = next;
            out->end = start - next > block_size ? next + block_size - 1 : start - 1;
            found = true;
        } else if (end >= next) {
            next = end + 1;
        }
    }
    sqlite3_reset(stmt);
    if (!found && rc != SQLITE_DONE)
        return db_errno(rc);
    return found;
}

int macpool_claim_block(struct db *db, const char *pool_name, const char *owner,
                        struct mac_block *out, uint64_t *reserved, size_t *n_reserved)
{
    *n_reserved = 0;
    int r = db_begin(db);
    if (r < 0)
        return r;
    struct macpool pool;
    r = macpool_get(db, pool_name, &pool);
    if (r < 0)
        goto fail;
    memset(out, 0, sizeof(*out));
    snprintf(out->owner, sizeof(out->owner), "%s", owner);
    bool found = false;
    /* Fresh space first: above the highest block of each range.  Only when
     * no range has any does a claim take the lowest gap a returned block
     * left, so the addresses of a block just given back are not handed out
     * again at once (the block-level form of the cursor that moves on). */
    for (size_t i = 0; i < pool.n_ranges && !found; i++) {
        const struct mac_range *range = &pool.ranges[i];
        sqlite3_stmt *stmt = db_stmt(db, "SELECT max(end) FROM mac_block WHERE pool = ? AND "
                                         "single = 0 AND start BETWEEN ? AND ?");
        if (!stmt) {
            r = -EIO;
            goto fail;
        }
        sqlite3_bind_text(stmt, 1, pool_name, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(stmt, 2, (sqlite3_int64)range->start);
        sqlite3_bind_int64(stmt, 3, (sqlite3_int64)range->end);
        int rc = sqlite3_step(stmt);
        bool none = rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) == SQLITE_NULL;
        uint64_t last = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(stmt, 0) : 0;
        sqlite3_reset(stmt);
        if (rc != SQLITE_ROW) {
            r = db_errno(rc);
            goto fail;
        }
        uint64_t next = none ? range->start : last + 1;
        if (!none && last >= range->end)
            continue;
        out->start = next;
        out->end = range->end - next + 1 > pool.block_size ? next + pool.block_size - 1 : range->end;
        found = true;
    }
    for (size_t i = 0; i < pool.n_ranges && !found; i++) {
        r = lowest_gap(db, pool_name, &pool.ranges[i], pool.block_size, out);
        if (r < 0)
            goto fail;
        found = r == 1;
    }
    if (!found) {
        r = -ENOSPC;
        goto fail;
    }
    r = insert_block(db, pool_name, out);
    if (r >= 0)
        r = reserved_in(db, pool_name, out, reserved, n_reserved);
    if (r < 0)
        goto fail;
    return db_commit(db);
fail:
    db_rollback(db);
    return r;
}

/* The owner of the block or single claim covering MAC in POOL: 0 and OWNER
 * (37 bytes), -ENOENT, or a negative errno. */
static int owner_of(struct db *db, const char *pool, uint64_t mac, char *owner)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT owner FROM mac_block WHERE pool = ?1 AND start <= ?2 "
                                     "AND end >= ?2 ORDER BY single LIMIT 1");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)mac);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        copy_text(owner, 37, stmt, 0);
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE)
        return -ENOENT;
    return rc == SQLITE_ROW ? 0 : db_errno(rc);
}

int macpool_release_block(struct db *db, const char *pool, const char *owner,
                          const struct mac_block *block)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT end FROM mac_block WHERE pool = ? AND start = ? AND "
                                     "single = ? AND owner = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)block->start);
    sqlite3_bind_int(stmt, 3, block->single);
    sqlite3_bind_text(stmt, 4, owner, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    uint64_t end = rc == SQLITE_ROW ? (uint64_t)sqlite3_column_int64(stmt, 0) : 0;
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE)
        return -ENOENT;
    if (rc != SQLITE_ROW)
        return db_errno(rc);
    stmt = db_stmt(db, "SELECT 1 FROM mac_allocation WHERE pool = ? AND mac BETWEEN ? AND ? "
                       "LIMIT 1");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)block->start);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)end);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc == SQLITE_ROW)
        return -ENOTEMPTY;
    if (rc != SQLITE_DONE)
        return db_errno(rc);
    stmt = db_stmt(db, "DELETE FROM mac_block WHERE pool = ? AND start = ? AND single = ? AND "
                       "owner = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)block->start);
    sqlite3_bind_int(stmt, 3, block->single);
    sqlite3_bind_text(stmt, 4, owner, -1, SQLITE_TRANSIENT);
    return step_done(stmt);
}

int macpool_empty_block(struct db *db, const char *pool, const char *owner, uint64_t mac,
                        bool forget, struct mac_block *out)
{
    int r = db_begin(db);
    if (r < 0)
        return r;
    /* A single claim of MAC first: a requested address inside a block of
     * ours is not recorded as one, so this is the claim MAC came from. */
    sqlite3_stmt *stmt = db_stmt(db, "SELECT start, end, single FROM mac_block WHERE pool = ?1 "
                                     "AND owner = ?2 AND start <= ?3 AND end >= ?3 "
                                     "ORDER BY single DESC LIMIT 1");
    if (!stmt) {
        db_rollback(db);
        return -EIO;
    }
    sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)mac);
    int rc = sqlite3_step(stmt);
    memset(out, 0, sizeof(*out));
    if (rc == SQLITE_ROW) {
        out->start = (uint64_t)sqlite3_column_int64(stmt, 0);
        out->end = (uint64_t)sqlite3_column_int64(stmt, 1);
        out->single = sqlite3_column_int(stmt, 2) != 0;
        snprintf(out->owner, sizeof(out->owner), "%s", owner);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW) {
        db_rollback(db);
        return rc == SQLITE_DONE ? 0 : db_errno(rc);
    }
    stmt = db_stmt(db, "SELECT 1 FROM mac_allocation WHERE pool = ? AND mac BETWEEN ? AND ? "
                       "LIMIT 1");
    if (!stmt) {
        db_rollback(db);
        return -EIO;
    }
    sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)out->start);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)out->end);
    rc = sqlite3_step(stmt);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        db_rollback(db);
        return rc == SQLITE_ROW ? 0 : db_errno(rc);
    }
    if (forget) {
        /* The block, and what we noted of other nodes' claims inside it
         * (they are asked for again when the block comes back). */
        stmt = db_stmt(db, "DELETE FROM mac_block WHERE pool = ?1 AND ((start = ?2 AND single = "
                           "?3 AND owner = ?4) OR (single = 1 AND owner = 'elsewhere' AND start "
                           "BETWEEN ?2 AND ?5))");
        r = stmt ? 0 : -EIO;
        if (r == 0) {
            sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(stmt, 2, (sqlite3_int64)out->start);
            sqlite3_bind_int(stmt, 3, out->single);
            sqlite3_bind_text(stmt, 4, owner, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(stmt, 5, (sqlite3_int64)out->end);
            r = step_done(stmt);
        }
        if (r < 0) {
            db_rollback(db);
            return r;
        }
    }
    r = db_commit(db);
    return r < 0 ? r : 1;
}

int macpool_empty_blocks(struct db *db, const char *owner, int64_t claimed_before_ms, int limit,
                         struct macpool_block_ref **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (limit <= 0)
        return -EINVAL;
    sqlite3_stmt *stmt = db_stmt(
        db, "SELECT b.pool, b.start, b.end, b.single FROM mac_block b JOIN mac_pool p ON "
            "p.name = b.pool WHERE p.kind = 'static' AND b.owner = ?1 AND b.claimed_ms <= ?2 AND "
            "NOT EXISTS (SELECT 1 FROM mac_allocation a WHERE a.pool = b.pool AND a.mac BETWEEN "
            "b.start AND b.end) ORDER BY b.pool, b.start LIMIT ?3");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, claimed_before_ms);
    sqlite3_bind_int(stmt, 3, limit);
    struct macpool_block_ref *list = calloc((size_t)limit, sizeof(*list));
    if (!list) {
        sqlite3_reset(stmt);
        return -ENOMEM;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        struct macpool_block_ref *ref = &list[(*n)++];
        copy_text(ref->pool, sizeof(ref->pool), stmt, 0);
        ref->block.start = (uint64_t)sqlite3_column_int64(stmt, 1);
        ref->block.end = (uint64_t)sqlite3_column_int64(stmt, 2);
        ref->block.single = sqlite3_column_int(stmt, 3) != 0;
        snprintf(ref->block.owner, sizeof(ref->block.owner), "%s", owner);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        free(list);
        *n = 0;
        return db_errno(rc);
    }
    *out = list;
    return 0;
}

bool macpool_has_room(struct db *db, const char *pool, const char *owner)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT 1 FROM mac_block WHERE pool = ? AND owner = ? AND "
                                     "full = 0 AND single = 0 LIMIT 1");
    if (!stmt)
        return false;
    sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, owner, -1, SQLITE_TRANSIENT);
    bool room = sqlite3_step(stmt) == SQLITE_ROW;
    sqlite3_reset(stmt);
    return room;
}

bool macpool_owns(struct db *db, const char *pool, const char *owner, uint64_t mac)
{
    char holder[37];
    return owner_of(db, pool, mac, holder) == 0 && strcmp(holder, owner) == 0;
}

int macpool_claim_address(struct db *db, const char *pool_name, uint64_t mac, const char *owner,
                          char *holder)
{
    int r = db_begin(db);
    if (r < 0)
        return r;
    struct macpool pool;
    r = macpool_get(db, pool_name, &pool);
    if (r < 0)
        goto fail;
    char current[37];
    r = owner_of(db, pool_name, mac, current);
    if (r == 0) {
        if (strcmp(current, owner) != 0) {
            snprintf(holder, 37, "%s", current);
            r = -EEXIST;
            goto fail;
        }
        return db_commit(db);
    }
    if (r != -ENOENT)
        goto fail;
    struct mac_block single = { .start = mac, .end = mac, .single = true };
    snprintf(single.owner, sizeof(single.owner), "%s", owner);
    r = insert_block(db, pool_name, &single);
    if (r < 0)
        goto fail;
    return db_commit(db);
fail:
    db_rollback(db);
    return r;
}

int macpool_add_block(struct db *db, const char *pool, const struct mac_block *block,
                      const uint64_t *reserved, size_t n_reserved)
{
    int r = db_begin(db);
    if (r < 0)
        return r;
    r = insert_block(db, pool, block);
    for (size_t i = 0; r >= 0 && i < n_reserved; i++) {
        /* Held by another node: recorded as its single claim, so that the
         * search for a free address skips it. */
        struct mac_block other = { .start = reserved[i], .end = reserved[i], .single = true };
        snprintf(other.owner, sizeof(other.owner), "elsewhere");
        r = insert_block(db, pool, &other);
    }
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    return db_commit(db);
}

int macpool_blocks(struct db *db, const char *pool, const char *owner, struct mac_block **out,
                   size_t *n)
{
    *out = NULL;
    *n = 0;
    sqlite3_stmt *stmt = db_stmt(db, "SELECT start, end, owner, single FROM mac_block "
                                     "WHERE pool = ?1 AND (?2 IS NULL OR owner = ?2) ORDER BY start");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
    if (owner)
        sqlite3_bind_text(stmt, 2, owner, -1, SQLITE_TRANSIENT);
    size_t cap = 0;
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        if (db_grow((void **)out, &cap, *n, sizeof(**out)) < 0) {
            rc = SQLITE_NOMEM;
            break;
        }
        struct mac_block *b = &(*out)[(*n)++];
        b->start = (uint64_t)sqlite3_column_int64(stmt, 0);
        b->end = (uint64_t)sqlite3_column_int64(stmt, 1);
        copy_text(b->owner, sizeof(b->owner), stmt, 2);
        b->single = sqlite3_column_int(stmt, 3) != 0;
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

struct json_object *mac_block_to_json(const struct mac_block *b)
{
    char a[MAC_STRING_SIZE], e[MAC_STRING_SIZE];
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "start", json_object_new_string(mac_format(b->start, a)));
    json_object_object_add(o, "end", json_object_new_string(mac_format(b->end, e)));
    json_object_object_add(o, "owner", json_object_new_string(b->owner));
    json_object_object_add(o, "single", json_object_new_boolean(b->single));
    return o;
}

/* ---- allocations ---- */

static void read_allocation(sqlite3_stmt *stmt, struct mac_allocation *a)
{
    memset(a, 0, sizeof(*a));
    a->mac = (uint64_t)sqlite3_column_int64(stmt, 0);
    copy_text(a->pool, sizeof(a->pool), stmt, 1);
    copy_text(a->holder.vm, sizeof(a->holder.vm), stmt, 2);
    copy_text(a->holder.adapter, sizeof(a->holder.adapter), stmt, 3);
    copy_text(a->holder.host, sizeof(a->holder.host), stmt, 4);
    copy_text(a->holder.actor, sizeof(a->holder.actor), stmt, 5);
    copy_text(a->key, sizeof(a->key), stmt, 6);
    a->created_ms = sqlite3_column_int64(stmt, 7);
}

#define ALLOCATION_COLUMNS "mac, pool, vm, adapter, host, actor, idempotency_key, created_ms"

int macpool_find(struct db *db, uint64_t mac, struct mac_allocation *out)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT " ALLOCATION_COLUMNS " FROM mac_allocation "
                                     "WHERE mac = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mac);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        read_allocation(stmt, out);
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE)
        return -ENOENT;
    return rc == SQLITE_ROW ? 0 : db_errno(rc);
}

int macpool_find_key(struct db *db, const char *key, struct mac_allocation *out)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT " ALLOCATION_COLUMNS " FROM mac_allocation "
                                     "WHERE idempotency_key = ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, key, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW)
        read_allocation(stmt, out);
    sqlite3_reset(stmt);
    if (rc == SQLITE_DONE)
        return -ENOENT;
    return rc == SQLITE_ROW ? 0 : db_errno(rc);
}

static int insert_allocation(struct db *db, const char *pool, uint64_t mac,
                             const struct mac_holder *h, const char *key,
                             struct mac_allocation *out)
{
    sqlite3_stmt *stmt = db_stmt(db, "INSERT INTO mac_allocation (" ALLOCATION_COLUMNS ") "
                                     "VALUES (?, ?, ?, ?, ?, ?, ?, ?)");
    if (!stmt)
        return -EIO;
    int64_t now = clock_wall_ms();
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mac);
    sqlite3_bind_text(stmt, 2, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, h->vm, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 4, h->adapter, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 5, h->host, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 6, h->actor, -1, SQLITE_TRANSIENT);
    if (key && key[0])
        sqlite3_bind_text(stmt, 7, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 8, now);
    int r = step_done(stmt);
    if (r < 0)
        return r;
    memset(out, 0, sizeof(*out));
    out->mac = mac;
    snprintf(out->pool, sizeof(out->pool), "%s", pool);
    out->holder = *h;
    snprintf(out->key, sizeof(out->key), "%s", key ? key : "");
    out->created_ms = now;
    return 0;
}

/* Marks the taken addresses of [START, END] in BITS (bit i: START + i). */
static int taken_bits(struct db *db, const char *pool, const char *owner, uint64_t start,
                      uint64_t end, uint64_t *bits)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT mac FROM mac_allocation WHERE mac BETWEEN ? AND ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)start);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)end);
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        uint64_t i = (uint64_t)sqlite3_column_int64(stmt, 0) - start;
        bits[i / 64] |= UINT64_C(1) << (i % 64);
    }
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE)
        return db_errno(rc);
    stmt = db_stmt(db, "SELECT start FROM mac_block WHERE single = 1 AND pool = ? AND owner != ? "
                       "AND start BETWEEN ? AND ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 2, owner, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 3, (sqlite3_int64)start);
    sqlite3_bind_int64(stmt, 4, (sqlite3_int64)end);
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
        uint64_t i = (uint64_t)sqlite3_column_int64(stmt, 0) - start;
        bits[i / 64] |= UINT64_C(1) << (i % 64);
    }
    sqlite3_reset(stmt);
    return rc == SQLITE_DONE ? 0 : db_errno(rc);
}

/* 1 when MAC is neither allocated here nor another node's single claim,
 * 0 when it is taken, or a negative errno. */
static int address_free(struct db *db, const char *pool, const char *owner, uint64_t mac)
{
    sqlite3_stmt *stmt = db_stmt(db, "SELECT EXISTS (SELECT 1 FROM mac_allocation WHERE mac = ?1) "
                                     "OR EXISTS (SELECT 1 FROM mac_block WHERE single = 1 AND "
                                     "start = ?1 AND pool = ?2 AND owner != ?3)");
    if (!stmt)
        return -EIO;
    sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mac);
    sqlite3_bind_text(stmt, 2, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(stmt, 3, owner, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(stmt);
    int taken = rc == SQLITE_ROW ? sqlite3_column_int(stmt, 0) : -1;
    sqlite3_reset(stmt);
    if (rc != SQLITE_ROW)
        return db_errno(rc);
    return taken ? 0 : 1;
}

static int allocate_next_tx(struct db *db, const char *pool, const char *owner,
                            const struct mac_holder *holder, const char *key,
                            struct mac_allocation *out)
{
    uint64_t bits[65536 / 64];
    for (;;) {
        sqlite3_stmt *stmt = db_stmt(db, "SELECT start, end, cursor FROM mac_block WHERE pool = ? "
                                         "AND owner = ? AND full = 0 AND single = 0 "
                                         "ORDER BY start LIMIT 1");
        if (!stmt)
            return -EIO;
        sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(stmt, 2, owner, -1, SQLITE_TRANSIENT);
        int rc = sqlite3_step(stmt);
        uint64_t start = 0, end = 0, cursor = 0;
        if (rc == SQLITE_ROW) {
            start = (uint64_t)sqlite3_column_int64(stmt, 0);
            end = (uint64_t)sqlite3_column_int64(stmt, 1);
            cursor = (uint64_t)sqlite3_column_int64(stmt, 2);
        }
        sqlite3_reset(stmt);
        if (rc == SQLITE_DONE)
            return -ENOSPC;
        if (rc != SQLITE_ROW)
            return db_errno(rc);
        uint64_t size = end - start + 1;
        if (size > 65536)
            return -EINVAL;
        if (cursor < start || cursor > end)
            cursor = start;
        uint64_t found = UINT64_MAX;
        /* The usual case: the address at the cursor is free (addresses go
         * out in order), one index probe instead of reading the block. */
        int r = address_free(db, pool, owner, cursor);
        if (r < 0)
            return r;
        if (r == 1) {
            found = cursor;
        } else {
            memset(bits, 0, (size + 63) / 64 * sizeof(bits[0]));
            r = taken_bits(db, pool, owner, start, end, bits);
            if (r < 0)
                return r;
        }
        for (uint64_t k = 0; found == UINT64_MAX && k < size; k++) {
            uint64_t i = (cursor - start + k) % size;
            if (!(bits[i / 64] & (UINT64_C(1) << (i % 64)))) {
                found = start + i;
                break;
            }
        }
        if (found == UINT64_MAX) {
            stmt = db_stmt(db, "UPDATE mac_block SET full = 1 WHERE pool = ? AND start = ? AND "
                               "single = 0");
            if (!stmt)
                return -EIO;
            sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
            sqlite3_bind_int64(stmt, 2, (sqlite3_int64)start);
            r = step_done(stmt);
            if (r < 0)
                return r;
            continue;
        }
        r = insert_allocation(db, pool, found, holder, key, out);
        if (r < 0)
            return r;
        stmt = db_stmt(db, "UPDATE mac_block SET cursor = ? WHERE pool = ? AND start = ? AND "
                           "single = 0");
        if (!stmt)
            return -EIO;
        sqlite3_bind_int64(stmt, 1, (sqlite3_int64)(found == end ? start : found + 1));
        sqlite3_bind_text(stmt, 2, pool, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(stmt, 3, (sqlite3_int64)start);
        return step_done(stmt);
    }
}

int macpool_allocate_next(struct db *db, const char *pool, const char *owner,
                          const struct mac_holder *holder, const char *key,
                          struct mac_allocation *out)
{
    int r = db_begin(db);
    if (r < 0)
        return r;
    r = allocate_next_tx(db, pool, owner, holder, key, out);
    if (r == -ENOSPC) {
        /* Keep the 'full' marks: they are what tells the caller's next
         * look (macpool_has_room) that a new block is needed. */
        int c = db_commit(db);
        return c < 0 ? c : -ENOSPC;
    }
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    return db_commit(db);
}

int macpool_allocate_at(struct db *db, const char *pool, uint64_t mac,
                        const struct mac_holder *holder, const char *key,
                        struct mac_allocation *out)
{
    int r = db_begin(db);
    if (r < 0)
        return r;
    r = macpool_find(db, mac, out);
    if (r == 0) {
        db_rollback(db);
        return -EEXIST;
    }
    if (r == -ENOENT)
        r = insert_allocation(db, pool, mac, holder, key, out);
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    return db_commit(db);
}

int macpool_release(struct db *db, const char *pool, uint64_t mac, struct mac_allocation *out)
{
    int r = db_begin(db);
    if (r < 0)
        return r;
    struct mac_allocation a;
    r = macpool_find(db, mac, &a);
    if (r == 0 && strcmp(a.pool, pool) != 0)
        r = -ENOENT;
    sqlite3_stmt *stmt = NULL;
    if (r == 0) {
        stmt = db_stmt(db, "DELETE FROM mac_allocation WHERE mac = ?");
        r = stmt ? 0 : -EIO;
    }
    if (r == 0) {
        sqlite3_bind_int64(stmt, 1, (sqlite3_int64)mac);
        r = step_done(stmt);
    }
    if (r == 0) {
        stmt = db_stmt(db, "UPDATE mac_block SET full = 0 WHERE pool = ?1 AND single = 0 AND "
                           "start <= ?2 AND end >= ?2");
        r = stmt ? 0 : -EIO;
    }
    if (r == 0) {
        sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(stmt, 2, (sqlite3_int64)mac);
        r = step_done(stmt);
    }
    if (r < 0) {
        db_rollback(db);
        return r;
    }
    r = db_commit(db);
    if (r == 0 && out)
        *out = a;
    return r;
}

int macpool_allocations(struct db *db, const char *pool, uint64_t from, int limit,
                        struct mac_allocation **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (limit <= 0)
        return -EINVAL;
    sqlite3_stmt *stmt = db_stmt(db, "SELECT " ALLOCATION_COLUMNS " FROM mac_allocation "
                                     "WHERE pool = ? AND mac >= ? ORDER BY mac LIMIT ?");
    if (!stmt)
        return -EIO;
    sqlite3_bind_text(stmt, 1, pool, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(stmt, 2, (sqlite3_int64)from);
    sqlite3_bind_int(stmt, 3, limit);
    struct mac_allocation *list = calloc((size_t)limit, sizeof(*list));
    if (!list) {
        sqlite3_reset(stmt);
        return -ENOMEM;
    }
    int rc;
    while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
        read_allocation(stmt, &list[(*n)++]);
    sqlite3_reset(stmt);
    if (rc != SQLITE_DONE) {
        free(list);
        *n = 0;
        return db_errno(rc);
    }
    *out = list;
    return 0;
}

struct json_object *mac_allocation_to_json(const struct mac_allocation *a)
{
    char mac[MAC_STRING_SIZE];
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "mac", json_object_new_string(mac_format(a->mac, mac)));
    json_object_object_add(o, "pool", json_object_new_string(a->pool));
    json_object_object_add(o, "vm", json_object_new_string(a->holder.vm));
    json_object_object_add(o, "adapter", json_object_new_string(a->holder.adapter));
    json_object_object_add(o, "host", json_object_new_string(a->holder.host));
    json_object_object_add(o, "created_ms", json_object_new_int64(a->created_ms));
    return o;
}
