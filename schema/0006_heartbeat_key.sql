-- lmnet schema, version 6: the cluster's heartbeat key (agent/heartbeat.h).
-- The registry makes it once; every other agent keeps the copy it last
-- fetched, so heartbeats stay signed while the registry is away.

CREATE TABLE heartbeat_key (
    id          INTEGER PRIMARY KEY CHECK (id = 1),  -- one row
    key         BLOB NOT NULL CHECK (length(key) = 16),
    stored_ms   INTEGER NOT NULL
);
