//! The stream of server notifications a session hands out.

use std::fmt;

use tokio::sync::broadcast;

use crate::client::model::ServerNotification;

/// The stream [`Session::notifications`](super::Session::notifications) returns.
pub struct NotificationStream {
    inner: futures_util::stream::BoxStream<'static, ServerNotification>,
}

impl NotificationStream {
    pub(super) fn new(receiver: broadcast::Receiver<ServerNotification>) -> Self {
        let stream = futures_util::stream::unfold(receiver, |mut receiver| async move {
            loop {
                match receiver.recv().await {
                    Ok(notification) => return Some((notification, receiver)),
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => return None,
                }
            }
        });
        NotificationStream {
            inner: Box::pin(stream),
        }
    }
}

impl fmt::Debug for NotificationStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("NotificationStream")
    }
}

impl futures_util::Stream for NotificationStream {
    type Item = ServerNotification;

    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.inner.as_mut().poll_next(cx)
    }
}
