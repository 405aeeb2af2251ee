-- lmnet schema, version 5: VMs, their adapters, migrations and the
-- migration journal.  A VM adapter is a switch port (ports carry the MAC,
-- VLAN and guards) plus the emulated model QEMU shows the guest.

CREATE TABLE vm (
    uuid        TEXT PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    memory_mib  INTEGER NOT NULL CHECK (memory_mib BETWEEN 16 AND 4194304),
    vcpus       INTEGER NOT NULL CHECK (vcpus BETWEEN 1 AND 512),
    kernel      TEXT,
    initrd      TEXT,
    append      TEXT,
    disk        TEXT,
    state       TEXT NOT NULL,           -- enum vm_state
    host        TEXT NOT NULL,           -- node uuid that runs (or holds) it
    generation  INTEGER NOT NULL DEFAULT 1,
    created_ms  INTEGER NOT NULL,
    updated_ms  INTEGER NOT NULL,
    CHECK (kernel IS NOT NULL OR disk IS NOT NULL)
);

CREATE TABLE vm_adapter (
    vm     TEXT NOT NULL REFERENCES vm (uuid) ON DELETE CASCADE,
    idx    INTEGER NOT NULL CHECK (idx BETWEEN 0 AND 31),
    port   TEXT NOT NULL,                -- the switch port (its tap) this adapter uses
    model  TEXT NOT NULL,                -- virtio-net-pci, or a legacy card
    PRIMARY KEY (vm, idx)
);
CREATE UNIQUE INDEX vm_adapter_port ON vm_adapter (port);

CREATE TABLE migration (
    uuid                TEXT PRIMARY KEY,
    vm                  TEXT NOT NULL,   -- vm uuid (no foreign key: the VM row moves hosts)
    vm_name             TEXT NOT NULL,
    role                TEXT NOT NULL CHECK (role IN ('source', 'destination')),
    source              TEXT NOT NULL,   -- node uuids
    destination         TEXT NOT NULL,
    destination_url     TEXT NOT NULL,
    mode                TEXT NOT NULL CHECK (mode IN ('live', 'quick')),
    options             TEXT NOT NULL,   -- JSON
    phase               TEXT NOT NULL,   -- enum migration_phase
    network             TEXT,            -- cluster network id used
    source_address      TEXT,
    destination_address TEXT,
    progress            TEXT,            -- JSON: bytes, pages, dirty rate, remaining, ...
    timings             TEXT,            -- JSON: milliseconds per phase
    downtime_ms         INTEGER,
    switchover_gap_ms   INTEGER,
    error               TEXT,
    created_ms          INTEGER NOT NULL,
    updated_ms          INTEGER NOT NULL,
    finished_ms         INTEGER
);
CREATE INDEX migration_vm ON migration (vm, created_ms);
CREATE INDEX migration_phase ON migration (phase);

-- Every step a migration takes, in order, so an agent that restarts in the
-- middle knows what it had done and can finish or undo it.
CREATE TABLE migration_step (
    migration  TEXT NOT NULL REFERENCES migration (uuid) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    step       TEXT NOT NULL,            -- enum migration_step_kind
    status     TEXT NOT NULL CHECK (status IN ('begun', 'done', 'undone', 'failed')),
    time_ms    INTEGER NOT NULL,
    detail     TEXT,                     -- JSON
    PRIMARY KEY (migration, seq)
);
