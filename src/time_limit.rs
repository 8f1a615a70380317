//! A time limit that arms its timer only when it is needed.

use std::future::Future;
use std::task::Poll;
use std::time::Duration;

/// Runs `future` for at most `limit`; `None` when the time ran out.
///
/// The timer is armed only if the future is not ready at its first poll. Most of the futures
/// this crate bounds are (a credential from an in-memory store or cache, the next chunk of a
/// body hyper has already buffered), and arming and cancelling a timer takes the runtime's
/// timer lock twice per call, which many concurrent callers contend for.
pub(crate) async fn within<F: Future>(limit: Duration, future: F) -> Option<F::Output> {
    let mut future = std::pin::pin!(future);
    let first = std::future::poll_fn(|cx| Poll::Ready(future.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(output) => Some(output),
        Poll::Pending => tokio::time::timeout(limit, future).await.ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ready_futures_need_no_timer_and_slow_ones_are_cut_off() {
        assert_eq!(within(Duration::ZERO, async { 7 }).await, Some(7));
        let slow = tokio::time::sleep(Duration::from_secs(5));
        assert_eq!(within(Duration::from_millis(20), slow).await, None);
        let later = async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            8
        };
        assert_eq!(within(Duration::from_secs(5), later).await, Some(8));
    }
}
