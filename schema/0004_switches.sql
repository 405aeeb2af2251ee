-- lmnet schema, version 4: virtual switches and the VM ports on them, as
-- lmnet means them to be; the switch driver makes Open vSwitch match.

CREATE TABLE switch (
    name            TEXT PRIMARY KEY,
    type            TEXT NOT NULL CHECK (type IN ('external', 'internal', 'private')),
    uplink          TEXT,                -- external: the NIC bound to it
    uplink_vlans    TEXT NOT NULL DEFAULT '[]', -- external: JSON list the uplink trunks ([] = all)
    management_vlan INTEGER,             -- internal: the host port's VLAN
    generation      INTEGER NOT NULL DEFAULT 1,
    created_ms      INTEGER NOT NULL
);

CREATE TABLE port (
    name               TEXT PRIMARY KEY,  -- also the tap / interface name (<= 15)
    switch             TEXT NOT NULL REFERENCES switch (name),
    vm                 TEXT NOT NULL DEFAULT '',
    adapter_type       TEXT NOT NULL CHECK (adapter_type IN ('synthetic', 'legacy')),
    legacy_reason      TEXT,
    mac                INTEGER NOT NULL UNIQUE,
    mac_pool           TEXT,
    mac_source         TEXT NOT NULL CHECK (mac_source IN ('static', 'dynamic', 'given')),
    vlan               TEXT,              -- JSON assignment (agent/vlan.h), NULL: untagged
    spoofing_allowed   INTEGER NOT NULL DEFAULT 0,
    dhcp_guard         INTEGER NOT NULL DEFAULT 0,
    router_guard       INTEGER NOT NULL DEFAULT 0,
    max_bandwidth_kbps INTEGER NOT NULL DEFAULT 0,
    active             INTEGER NOT NULL DEFAULT 1,
    generation         INTEGER NOT NULL DEFAULT 1,
    created_ms         INTEGER NOT NULL
);
CREATE INDEX port_switch ON port (switch);
