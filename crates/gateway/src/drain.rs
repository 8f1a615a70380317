//! Graceful shutdown: count the calls in flight, refuse new ones once shutdown begins, and wait
//! for the others to finish.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::Notify;

#[derive(Debug, Default)]
pub(crate) struct Drain {
    in_flight: AtomicUsize,
    shutting_down: AtomicBool,
    idle: Notify,
}

/// Held while one agent request is being served.
pub(crate) struct InFlight(Arc<Drain>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// A response body that keeps its request counted (as in flight, for the user's limits: the
/// `guard`) until it is sent (or dropped).
pub(crate) struct GuardedBody<G> {
    inner: axum::body::Body,
    _guard: G,
}

impl<G> GuardedBody<G> {
    pub(crate) fn new(inner: axum::body::Body, guard: G) -> Self {
        GuardedBody {
            inner,
            _guard: guard,
        }
    }
}

impl<G: Unpin> http_body::Body for GuardedBody<G> {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        std::pin::Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drain {
    pub(crate) fn enter(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        InFlight(self.clone())
    }

    pub(crate) fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Acquire)
    }

    pub(crate) fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// Refuses new requests from now on and waits up to `grace` for those in flight; returns how
    /// many were still running when the time was up.
    pub(crate) async fn drain(&self, grace: Duration) -> usize {
        self.shutting_down.store(true, Ordering::Release);
        let wait = async {
            loop {
                let idle = self.idle.notified();
                if self.in_flight() == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(grace, wait).await;
        self.in_flight()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_calls_in_flight() {
        let drain = Arc::new(Drain::default());
        let call = drain.enter();
        let releaser = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(50)).await;
            drop(call);
        });
        assert_eq!(drain.drain(Duration::from_secs(5)).await, 0);
        assert!(drain.is_shutting_down());
        releaser.await.unwrap();
        let _stuck = drain.enter();
        assert_eq!(drain.drain(Duration::from_millis(20)).await, 1);
    }
}
