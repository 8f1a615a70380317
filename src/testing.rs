//! The embedded mock PagerDuty MCP server (feature `testing`).
