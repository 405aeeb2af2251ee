-- lmnet schema, version 3: cluster networks.
--
-- On the registry, network and member_inventory are the truth: a network is
-- created the first time a member reports an address in its subnet, and its
-- number, name, role and metric are kept from then on.  The other agents
-- keep the registry's last answer in network_cache, so heartbeats and
-- migrations still know the networks while the registry is away.

CREATE TABLE network (
    id          TEXT PRIMARY KEY,
    number      INTEGER NOT NULL UNIQUE,       -- N of "Cluster Network N"
    name        TEXT NOT NULL UNIQUE COLLATE NOCASE,
    address     TEXT NOT NULL,                 -- subnet address, host bits zero
    prefix      INTEGER NOT NULL,
    role        TEXT NOT NULL DEFAULT 'none'
                CHECK (role IN ('none', 'management', 'migration', 'storage', 'vm')),
    metric      INTEGER NOT NULL DEFAULT 0,    -- used when auto_metric = 0
    auto_metric INTEGER NOT NULL DEFAULT 1,
    created_ms  INTEGER NOT NULL,
    UNIQUE (address, prefix)
);

CREATE TABLE member_inventory (
    member      TEXT PRIMARY KEY REFERENCES member (uuid) ON DELETE CASCADE,
    reported_ms INTEGER NOT NULL,
    inventory   TEXT NOT NULL                  -- JSON, see agent/inventory.h
);

CREATE TABLE network_cache (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    fetched_ms  INTEGER NOT NULL,
    view        TEXT NOT NULL                  -- the registry's GET /v1/cluster/networks
);
