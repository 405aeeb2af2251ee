/* MAC pools, their blocks and allocations (schema/0002_macpools.sql).
 *
 * A static pool is cluster-wide: a name, unicast ranges that overlap no
 * other pool, and a block size.  The registry splits it into blocks on
 * demand (macpool_claim_block), in address order, so an OUI-sized pool
 * stores a row per claimed block and per allocation, never per free
 * address.  An agent allocates only inside blocks it owns
 * (macpool_allocate_next), with a cursor per block that moves on, so an
 * address released is not handed out again at once.  A requested address is
 * first claimed as a single-address block at the registry
 * (macpool_claim_address), then allocated (macpool_allocate_at).
 *
 * The dynamic pool is per host: 00:15:5d, then the last two octets of the
 * host's management IPv4 address, then 256 addresses, one block owned by the
 * host (macpool_ensure_dynamic).
 *
 * Every function that changes more than one row runs in one transaction;
 * on -EBUSY nothing is changed and the caller may retry. */
#ifndef LMNET_DB_MACPOOL_H
#define LMNET_DB_MACPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <json-c/json.h>
#include "base/mac.h"
#include "db/db.h"

#define MACPOOL_MAX_RANGES 16
#define MACPOOL_DEFAULT_BLOCK 64
#define MACPOOL_DYNAMIC_NAME "dynamic"

enum macpool_kind {
    MACPOOL_STATIC,
    MACPOOL_DYNAMIC,
};

struct macpool {
    char name[64];
    enum macpool_kind kind;
    unsigned block_size;
    char description[256];
    size_t n_ranges;
    struct mac_range ranges[MACPOOL_MAX_RANGES];
    int64_t created_ms;
    int64_t generation;
};

/* True for 1-63 of [A-Za-z0-9._-], not starting with '-' or '.'. */
bool macpool_name_valid(const char *name);

/* Reads a pool definition from the API's JSON ({"name", "ranges": [{"start",
 * "end"}], "block_size", "description"}), checking names, addresses,
 * unicast ranges and overlaps between the ranges themselves.  Returns 0, or
 * -EINVAL with the JSON pointer of the field at fault and a sentence. */
int macpool_from_json(struct json_object *obj, struct macpool *out, char *pointer,
                      size_t pointer_size, char *detail, size_t detail_size);

/* The pool as the API shows it (caller owns).  ALLOCATED < 0 leaves the
 * count out. */
struct json_object *macpool_to_json(const struct macpool *pool, int64_t allocated);

/* Stores POOL.  Returns 0, -EEXIST when the name is taken, -EADDRINUSE when
 * a range overlaps another pool's (whose name goes into CLASH, 64 bytes), or
 * a negative errno. */
int macpool_insert(struct db *db, const struct macpool *pool, char *clash);

/* Reads a pool.  Returns 0, -ENOENT or a negative errno. */
int macpool_get(struct db *db, const char *name, struct macpool *out);

/* Lists the pools by name; *out (n of them) is the caller's to free(). */
int macpool_list(struct db *db, struct macpool **out, size_t *n);

/* Deletes a pool with no allocation.  Returns 0, -ENOENT, -EBUSY when
 * addresses are allocated from it, or a negative errno. */
int macpool_delete(struct db *db, const char *name);

/* Gives static pool POOL->name the ranges and description of POOL (its
 * block size stays), one transaction.  Returns 0; -ENOENT; -EPERM for the
 * dynamic pool; -EADDRINUSE when a range overlaps another pool's (its name
 * into CLASH, 64 bytes); -EBUSY when a claimed block would fall outside the
 * ranges (it into *IN_THE_WAY: a pool shrinks only where free); or a
 * negative errno. */
struct mac_block;
int macpool_update(struct db *db, const struct macpool *pool, char *clash,
                   struct mac_block *in_the_way);

/* Number of addresses allocated from POOL here, or a negative errno. */
int64_t macpool_count_allocated(struct db *db, const char *pool);

/* The default range of a host's dynamic pool: 00:15:5d, then the last two
 * octets of its management IPv4 address IP3 and IP4, then 256 addresses. */
struct mac_range macpool_dynamic_default(uint8_t ip3, uint8_t ip4);

/* Creates (once) this host's dynamic pool over RANGE (at most 65,536
 * addresses), as one block owned by NODE.  Returns 0, -EINVAL for a range
 * too large or with multicast addresses, or a negative errno. */
int macpool_ensure_dynamic(struct db *db, const char *node, const struct mac_range *range);

/* ---- blocks ---- */

struct mac_block {
    uint64_t start;
    uint64_t end;
    char owner[37];
    bool single;
};

#define MACPOOL_MAX_RESERVED 64

/* Registry: claims an unclaimed block of POOL for OWNER: the next one above
 * the highest claimed block of a range, or, when no range has room there,
 * the lowest gap that a block given back left.  *out is the
 * block; RESERVED (up to MACPOOL_MAX_RESERVED, *n_reserved of them) lists
 * addresses inside it that other nodes hold as single claims.  Returns 0,
 * -ENOENT for no such pool, -ENOSPC when every block is claimed, or a
 * negative errno. */
int macpool_claim_block(struct db *db, const char *pool, const char *owner, struct mac_block *out,
                        uint64_t *reserved, size_t *n_reserved);

/* Registry: claims the single address MAC of POOL for OWNER (MAC may lie
 * outside the pool's ranges).  Returns 0 when OWNER now holds it (or
 * already did: its own block or single), -EEXIST with the holding node in
 * HOLDER (37 bytes) when another node's block or single covers it, -ENOENT
 * for no such pool, or a negative errno. */
int macpool_claim_address(struct db *db, const char *pool, uint64_t mac, const char *owner,
                          char *holder);

/* Records BLOCK (claimed at the registry) and the RESERVED addresses in it
 * (held by other nodes) in this agent's database.  Idempotent. */
int macpool_add_block(struct db *db, const char *pool, const struct mac_block *block,
                      const uint64_t *reserved, size_t n_reserved);

/* Registry: gives OWNER's BLOCK (start and single as claimed) of POOL back.
 * Returns 0, -ENOENT when OWNER holds no such block, -ENOTEMPTY when an address
 * inside it is allocated here, or a negative errno. */
int macpool_release_block(struct db *db, const char *pool, const char *owner,
                          const struct mac_block *block);

/* The block (or single claim) of OWNER covering MAC in POOL, when no
 * address inside it is allocated here: 1 and *out, and with FORGET the
 * block is removed from this database in the same transaction (with the
 * other nodes' single claims noted inside it), so nothing more is
 * allocated from it while it goes back to the registry.  0 when OWNER
 * holds no such block or an address in it is allocated; or a negative
 * errno. */
int macpool_empty_block(struct db *db, const char *pool, const char *owner, uint64_t mac,
                        bool forget, struct mac_block *out);

/* A block and the pool it belongs to. */
struct macpool_block_ref {
    char pool[64];
    struct mac_block block;
};

/* OWNER's blocks and single claims of static pools with no address
 * allocated inside, claimed at or before CLAIMED_BEFORE_MS (wall clock), at most
 * LIMIT of them: what should have gone back to the registry (a release
 * while it was away, an agent stopped in between, or blocks emptied before
 * blocks went back at all).  *out is the caller's to free(). */
int macpool_empty_blocks(struct db *db, const char *owner, int64_t claimed_before_ms, int limit,
                         struct macpool_block_ref **out, size_t *n);

/* True when OWNER has a block of POOL not known to be full. */
bool macpool_has_room(struct db *db, const char *pool, const char *owner);

/* True when OWNER holds MAC in POOL by a block or a single claim. */
bool macpool_owns(struct db *db, const char *pool, const char *owner, uint64_t mac);

/* The blocks of POOL (OWNER NULL: every owner), by address.  *out is the
 * caller's to free(). */
int macpool_blocks(struct db *db, const char *pool, const char *owner, struct mac_block **out,
                   size_t *n);

struct json_object *mac_block_to_json(const struct mac_block *block);

/* ---- allocations ---- */

struct mac_holder {
    char vm[64];
    char adapter[64];
    char host[37];
    char actor[64];
};

struct mac_allocation {
    uint64_t mac;
    char pool[64];
    struct mac_holder holder;
    char key[128];
    int64_t created_ms;
};

/* The next free address in OWNER's blocks of POOL, for HOLDER, recorded with
 * idempotency KEY (NULL or "": none).  Returns 0 and *out, -ENOSPC when
 * OWNER's blocks are full (claim another), or a negative errno. */
int macpool_allocate_next(struct db *db, const char *pool, const char *owner,
                          const struct mac_holder *holder, const char *key,
                          struct mac_allocation *out);

/* Allocates MAC (the caller has checked it may: macpool_owns()).  Returns
 * 0 and *out, -EEXIST with *out describing the present holder, or a
 * negative errno. */
int macpool_allocate_at(struct db *db, const char *pool, uint64_t mac,
                        const struct mac_holder *holder, const char *key,
                        struct mac_allocation *out);

/* The allocation made with idempotency KEY: 0 and *out, or -ENOENT. */
int macpool_find_key(struct db *db, const char *key, struct mac_allocation *out);

/* The allocation of MAC: 0 and *out, or -ENOENT. */
int macpool_find(struct db *db, uint64_t mac, struct mac_allocation *out);

/* Releases MAC from POOL.  Returns 0 and the released allocation in *out
 * (may be NULL), -ENOENT, or a negative errno. */
int macpool_release(struct db *db, const char *pool, uint64_t mac, struct mac_allocation *out);

/* Allocations of POOL with mac >= FROM, by address, at most LIMIT.  *out is
 * the caller's to free(). */
int macpool_allocations(struct db *db, const char *pool, uint64_t from, int limit,
                        struct mac_allocation **out, size_t *n);

struct json_object *mac_allocation_to_json(const struct mac_allocation *a);

#endif
