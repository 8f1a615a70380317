-- Version 1: one sealed token per (server, user).
-- `IF NOT EXISTS` so that a table an older release created by hand (before migrations were
-- tracked) is adopted as it is.
CREATE TABLE IF NOT EXISTS pagerduty_mcp_credentials (
    server         TEXT    NOT NULL,
    user_id        TEXT    NOT NULL,
    key_id         TEXT    NOT NULL,
    nonce          BYTEA   NOT NULL,
    ciphertext     BYTEA   NOT NULL,
    created_at     BIGINT  NOT NULL,
    rotated_at     BIGINT,
    revoked_at     BIGINT,
    revoked_reason TEXT,
    PRIMARY KEY (server, user_id)
);
