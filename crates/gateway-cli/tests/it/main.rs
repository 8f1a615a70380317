//! The `pagerduty-mcp-gateway` command line, run as a process: one test binary.

#[cfg(feature = "mock")]
mod mock_quickstart;
#[cfg(feature = "mock")]
mod refused_tools;
#[cfg(all(feature = "mock", feature = "postgres"))]
mod replicas;
mod support;
#[cfg(feature = "mock")]
mod token_store;
