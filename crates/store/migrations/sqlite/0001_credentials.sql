-- Version 1: one sealed token per (server, user).
-- `IF NOT EXISTS` so that a table an older release created by hand (before migrations were
-- tracked) is adopted as it is.
CREATE TABLE IF NOT EXISTS pagerduty_mcp_credentials (
    server         TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    key_id         TEXT    NOT NULL,
    nonce          BLOB    NOT NULL,
    ciphertext     BLOB    NOT NULL,
    created_at     INTEGER NOT NULL,
    rotated_at     INTEGER,
    revoked_at     INTEGER,
    revoked_reason TEXT,
    PRIMARY KEY (server, user_id)
);
