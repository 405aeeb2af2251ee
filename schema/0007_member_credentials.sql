-- lmnet schema, version 7: how members prove who they are (issue 14).
-- A member joins with a one-time join token an admin asked the registry
-- for, and gets its own credential; the registry keeps only SHA-256 hashes
-- of both (agent/credential.h).

-- The member's credential; NULL for the registry itself and in the copies
-- of the member list that other agents keep.
ALTER TABLE member ADD COLUMN credential_hash TEXT;
CREATE UNIQUE INDEX member_credential ON member (credential_hash);

CREATE TABLE join_token (
    hash        TEXT PRIMARY KEY,        -- SHA-256 of the token, hex
    created_ms  INTEGER NOT NULL,
    expires_ms  INTEGER NOT NULL,
    created_by  TEXT NOT NULL            -- the admin token's name
);
