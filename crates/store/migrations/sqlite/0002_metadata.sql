-- Version 2: who revoked, a revision counter, last use, and what the PagerDuty token check found.
ALTER TABLE pagerduty_mcp_credentials ADD COLUMN revoked_by TEXT;
ALTER TABLE pagerduty_mcp_credentials ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;
ALTER TABLE pagerduty_mcp_credentials ADD COLUMN last_used_at INTEGER;
ALTER TABLE pagerduty_mcp_credentials ADD COLUMN region TEXT;
ALTER TABLE pagerduty_mcp_credentials ADD COLUMN last_verified_at INTEGER;
ALTER TABLE pagerduty_mcp_credentials ADD COLUMN pagerduty_user_id TEXT;
ALTER TABLE pagerduty_mcp_credentials ADD COLUMN pagerduty_name TEXT;
ALTER TABLE pagerduty_mcp_credentials ADD COLUMN pagerduty_email TEXT;
ALTER TABLE pagerduty_mcp_credentials ADD COLUMN pagerduty_role TEXT;
UPDATE pagerduty_mcp_credentials SET revoked_by = 'admin' WHERE revoked_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS pagerduty_mcp_credentials_key_id ON pagerduty_mcp_credentials (server, key_id);
