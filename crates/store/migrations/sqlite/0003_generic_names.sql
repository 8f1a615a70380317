-- Version 3: names that say what the data is, not which vendor it came from. The table, the route
-- (which of a connector's servers the token belongs to: for PagerDuty its region, `us` or `eu`)
-- and the identity a token check found. Data is kept as it is: renames only.
ALTER TABLE pagerduty_mcp_credentials RENAME TO mcp_credentials;
ALTER TABLE mcp_credentials RENAME COLUMN region TO route;
ALTER TABLE mcp_credentials RENAME COLUMN pagerduty_user_id TO identity_id;
ALTER TABLE mcp_credentials RENAME COLUMN pagerduty_name TO identity_name;
ALTER TABLE mcp_credentials RENAME COLUMN pagerduty_email TO identity_email;
ALTER TABLE mcp_credentials RENAME COLUMN pagerduty_role TO identity_role;
DROP INDEX IF EXISTS pagerduty_mcp_credentials_key_id;
CREATE INDEX IF NOT EXISTS mcp_credentials_key_id ON mcp_credentials (server, key_id);
