//! The core's integration tests, one binary: each module is a scenario a user would recognise.
//! `soak`, `python_peer_smoke` and `server_requests_memory` stay binaries of their own: they
//! measure the whole process (sockets, tasks, memory) or must fail alone when a peer is missing.

mod common;
#[path = "../support/loopback.rs"]
mod loopback;

mod audit_log;
mod connection_reuse;
mod connector_policies;
mod credential_cache;
mod credential_lifecycle;
mod credential_providers;
mod credential_time_limit;
mod endpoint_cache;
mod faults;
mod header_forms;
mod hosted_like_peer;
mod hostile_echo;
mod hostile_servers;
mod log_capture;
mod per_user_isolation;
mod protocol_negotiation;
mod python_interop;
mod retries_and_limits;
mod revoked_tokens_under_load;
mod server_requests;
mod servers_without_credentials;
mod session_expiry;
mod sse_streams;
mod token_check;
mod token_never_leaks;
mod tool_catalogue;
mod user_budgets;
