-- lmnet schema, version 2: MAC pools, their blocks and allocations, and the
-- VLAN catalogue.  Addresses are 48-bit integers (agent/mac.h).
--
-- A static pool is cluster-wide: the registry holds its definition and
-- decides which node owns which block; every agent keeps a copy of the
-- pools it allocates from and of its own blocks.  The dynamic pool is one
-- per host, known only to that host.  Free addresses have no rows: a block
-- is a range plus a cursor, an allocation is a row.

CREATE TABLE mac_pool (
    name        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL CHECK (kind IN ('static', 'dynamic')),
    block_size  INTEGER NOT NULL CHECK (block_size BETWEEN 1 AND 65536),
    description TEXT NOT NULL DEFAULT '',
    created_ms  INTEGER NOT NULL,
    generation  INTEGER NOT NULL DEFAULT 1
);

CREATE TABLE mac_range (
    pool   TEXT NOT NULL REFERENCES mac_pool (name) ON DELETE CASCADE,
    start  INTEGER NOT NULL,
    end    INTEGER NOT NULL,
    CHECK (start <= end),
    PRIMARY KEY (pool, start)
);
CREATE INDEX mac_range_span ON mac_range (start, end);

-- A block of a pool claimed by a node: a whole block_size slice of a range,
-- or (single = 1) one requested address.  Blocks are never handed to another
-- node: the addresses in them travel with their VMs.
CREATE TABLE mac_block (
    pool        TEXT NOT NULL REFERENCES mac_pool (name) ON DELETE CASCADE,
    start       INTEGER NOT NULL,
    end         INTEGER NOT NULL,
    owner       TEXT NOT NULL,       -- node uuid
    single      INTEGER NOT NULL DEFAULT 0,
    cursor      INTEGER NOT NULL,    -- where the next search for a free address starts
    full        INTEGER NOT NULL DEFAULT 0,
    claimed_ms  INTEGER NOT NULL,
    CHECK (start <= end),
    PRIMARY KEY (pool, start, single)
);
CREATE INDEX mac_block_free ON mac_block (pool, owner, full, start);
CREATE INDEX mac_block_span ON mac_block (start, end);

CREATE TABLE mac_allocation (
    mac             INTEGER PRIMARY KEY,
    pool            TEXT NOT NULL,
    vm              TEXT NOT NULL DEFAULT '',
    adapter         TEXT NOT NULL DEFAULT '',
    host            TEXT NOT NULL,       -- node uuid that allocated it
    actor           TEXT NOT NULL DEFAULT '',
    idempotency_key TEXT UNIQUE,
    created_ms      INTEGER NOT NULL
);
CREATE INDEX mac_allocation_pool ON mac_allocation (pool, mac);

CREATE TABLE vlan (
    id          INTEGER PRIMARY KEY CHECK (id BETWEEN 1 AND 4094),
    name        TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL DEFAULT '',
    created_ms  INTEGER NOT NULL
);
