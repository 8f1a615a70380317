-- Version 4: which associated data each sealed token is bound to. 1: server and user (rows written
-- before this version); 2: server, user, creation time, revision, route and revocation. Rows keep
-- version 1 until the store reseals them (when first read, and by a rekey).
ALTER TABLE mcp_credentials ADD COLUMN seal_version BIGINT NOT NULL DEFAULT 1;
