//! The gateway's integration tests, one binary. `gateway_operations` stays a binary of its own:
//! it captures every log line of its process with a global subscriber.

#[path = "../support/asking_upstream.rs"]
mod asking_upstream;
#[path = "../support/gateway.rs"]
mod gateway_support;

mod agent_errors;
mod forbidden;
mod gateway;
mod gateway_direct_path;
mod gateway_server_requests;
mod hostile_agents;
mod raw_http;
mod real_clients;
