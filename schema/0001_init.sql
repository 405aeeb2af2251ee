-- lmnet schema, version 1: the node's identity, cluster members and the
-- audit log.  schema_version itself is created by db/schema.c.

CREATE TABLE node (
    id          INTEGER PRIMARY KEY CHECK (id = 1),  -- one row: this agent
    uuid        TEXT NOT NULL,
    created_ms  INTEGER NOT NULL
);

CREATE TABLE member (
    uuid         TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    url          TEXT NOT NULL,          -- base URL of its REST API
    registry     INTEGER NOT NULL DEFAULT 0,  -- 1: this member is the registry
    joined_ms    INTEGER NOT NULL,
    last_seen_ms INTEGER
);

CREATE TABLE event (
    id       INTEGER PRIMARY KEY AUTOINCREMENT,
    time_ms  INTEGER NOT NULL,
    node     TEXT NOT NULL,
    actor    TEXT NOT NULL,
    kind     TEXT NOT NULL,
    subject  TEXT NOT NULL DEFAULT '',
    detail   TEXT                         -- JSON
);
CREATE INDEX event_kind ON event (kind, id);
