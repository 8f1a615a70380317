//! The gateway's integration tests, one binary. `gateway_operations` stays a binary of its own:
//! it captures every log line of its process with a global subscriber.

mod gateway;
mod gateway_direct_path;
mod gateway_server_requests;
