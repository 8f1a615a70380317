//! The agents' connections as [`Gateway::serve`](super::Gateway::serve) accepts them: at most
//! [`max_connections`](super::GatewayBuilder::max_connections) at once (the next waits in the
//! listen queue until one closes), each closed when it does not send a request's headers within
//! the [header-read timeout](super::GatewayBuilder::header_read_timeout) (a new connection, or
//! one idle between requests), `TCP_NODELAY` on, and a graceful shutdown.
//!
//! Without a timeout and a cap (`axum::serve` has neither), idle connections that never send a
//! request hold a file descriptor each until the process runs out, and then nobody's requests
//! are accepted. hyper's HTTP/1 server does the timing (with hyper-util's tokio timer), a
//! semaphore the counting.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The default header-read timeout.
pub(crate) const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// The most connections a default cap allows.
const MAX_DEFAULT_CONNECTIONS: usize = 4096;
/// The fewest connections a default cap allows.
const MIN_DEFAULT_CONNECTIONS: usize = 64;
/// How long shutdown waits for connections to close once their requests are answered.
const CLOSE_WAIT: Duration = Duration::from_secs(5);

/// The default connection cap: half the process's open-file limit (the rest is for the
/// upstream connections and everything else), between 64 and 4096; 1024 where the limit is
/// unknown.
pub(crate) fn default_max_connections() -> usize {
    #[cfg(unix)]
    {
        let limit = rustix::process::getrlimit(rustix::process::Resource::Nofile);
        if let Some(current) = limit.current {
            let half = usize::try_from(current / 2).unwrap_or(usize::MAX);
            return half.clamp(MIN_DEFAULT_CONNECTIONS, MAX_DEFAULT_CONNECTIONS);
        }
    }
    1024
}

/// How connections are accepted.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    pub(crate) header_read_timeout: Duration,
    pub(crate) max_connections: usize,
}

/// Serves `router` on `listener` until `shutdown` resolves, then stops accepting, lets each
/// connection finish the request it is serving and closes it.
pub(crate) async fn serve(
    listener: TcpListener,
    router: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let permits = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    let mut shutdown = std::pin::pin!(shutdown);
    let mut warned_full = false;
    loop {
        let permit = match permits.clone().try_acquire_owned() {
            Ok(permit) => permit,
            Err(_) => {
                if !warned_full {
                    warned_full = true;
                    tracing::warn!(
                        max_connections = limits.max_connections,
                        "agent connections at the cap: new ones wait until one closes"
                    );
                }
                tokio::select! {
                    permit = permits.clone().acquire_owned() => match permit {
                        Ok(permit) => permit,
                        Err(_) => break,
                    },
                    () = &mut shutdown => break,
                }
            }
        };
        if permits.available_permits() > limits.max_connections / 2 {
            warned_full = false;
        }
        let tcp = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((tcp, _)) => tcp,
                Err(error) => {
                    accept_error(error).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Without TCP_NODELAY, a reply written in pieces (an SSE stream's priming event, then
        // the message) waits for the agent's delayed ACK: tens of milliseconds per call.
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY on an agent connection");
        }
        let connection =
            http.serve_connection(TokioIo::new(tcp), TowerToHyperService::new(router.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "an agent connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(CLOSE_WAIT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::debug!("some agent connections were still open when the gateway stopped");
    }
    Ok(())
}

/// After a failed `accept`: nothing for a connection the peer gave up on; otherwise (out of
/// file descriptors, …) a log line and a pause, as `axum::serve` does.
async fn accept_error(error: std::io::Error) {
    use std::io::ErrorKind;
    if matches!(
        error.kind(),
        ErrorKind::ConnectionRefused | ErrorKind::ConnectionAborted | ErrorKind::ConnectionReset
    ) {
        return;
    }
    tracing::error!(%error, "accepting an agent connection failed; retrying in 1 s");
    tokio::time::sleep(Duration::from_secs(1)).await;
}
