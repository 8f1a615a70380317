//! Per-request options: progress (token or callback), time limit and the caller's context.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;

use crate::client::model::LoggingLevel;
use crate::client::progress::{Progress, ProgressCallback};
use crate::client::server_request::CallContext;

/// Per-request options.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use pagerduty_mcp_connect::RequestOptions;
///
/// let options = RequestOptions::default()
///     .timeout(Duration::from_secs(120))
///     .on_progress(|p| println!("{} of {:?}: {:?}", p.progress(), p.total(), p.message()))
///     .context(Arc::new("agent-42"));
/// # let _ = options;
/// ```
#[derive(Clone, Default)]
#[non_exhaustive]
pub struct RequestOptions {
    /// Sent as `_meta.progressToken`; the server's `notifications/progress` for this request
    /// carry it and arrive on [`Session::notifications`](super::Session::notifications) (and on
    /// the [`RequestOptions::on_progress`] callback, if set).
    pub progress_token: Option<Value>,
    /// Overrides the client's request timeout for this request.
    pub timeout: Option<Duration>,
    pub(crate) on_progress: Option<ProgressCallback>,
    pub(crate) context: Option<CallContext>,
    pub(crate) client_capabilities: Option<Value>,
    pub(crate) return_input_required: bool,
    pub(crate) log_level: Option<LoggingLevel>,
}

impl fmt::Debug for RequestOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestOptions")
            .field("progress_token", &self.progress_token)
            .field("timeout", &self.timeout)
            .field("on_progress", &self.on_progress.is_some())
            .field("context", &self.context.is_some())
            .field("client_capabilities", &self.client_capabilities)
            .field("return_input_required", &self.return_input_required)
            .field("log_level", &self.log_level)
            .finish()
    }
}

impl RequestOptions {
    /// Options with a progress token.
    pub fn with_progress_token(token: impl Into<Value>) -> Self {
        RequestOptions {
            progress_token: Some(token.into()),
            ..RequestOptions::default()
        }
    }

    /// Sets the timeout of this request.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// Calls `callback` with each progress notification of this request, in order, from
    /// whichever stream carries it. A progress token is generated unless one is set. The
    /// callback runs on the task reading the reply: keep it short (hand the value to a channel
    /// for anything slow).
    #[must_use]
    pub fn on_progress(mut self, callback: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.on_progress = Some(ProgressCallback(Arc::new(callback)));
        self
    }

    /// 2026-07-28: the client capabilities this request declares
    /// (`_meta["io.modelcontextprotocol/clientCapabilities"]`) in place of the client's own. A
    /// gateway declares its agent's, so that the server asks the agent only for what the agent
    /// can answer (and refuses with -32021 what needs more). No effect in the session era, whose
    /// capabilities are the session's.
    #[must_use]
    pub fn with_client_capabilities(mut self, capabilities: Value) -> Self {
        self.client_capabilities = Some(capabilities);
        self
    }

    /// 2026-07-28: the lowest level of log message the server may send while it works on this
    /// request (`_meta["io.modelcontextprotocol/logLevel"]`), in place of the session's
    /// ([`Session::set_logging_level`](super::Session::set_logging_level)). A gateway passes its
    /// agent's on. No effect in the session era, where `logging/setLevel` sets it.
    #[must_use]
    pub fn with_log_level(mut self, level: LoggingLevel) -> Self {
        self.log_level = Some(level);
        self
    }

    /// 2026-07-28: an `input_required` result comes back as it is (`resultType:
    /// "input_required"`, the server's own `inputRequests` keys and `requestState`) instead of
    /// being answered through the client's handlers. A gateway passes the round on to its agent
    /// this way; the agent's answers go back to the server in the next request's
    /// `inputResponses` with the `requestState`.
    #[must_use]
    pub fn return_input_required(mut self) -> Self {
        self.return_input_required = true;
        self
    }

    /// Attaches an opaque value to this request. Every server request its reply carries (and
    /// every `input_required` round) reaches the handler with it, as
    /// [`ServerRequest::call_context`](crate::ServerRequest::call_context).
    #[must_use]
    pub fn context(mut self, context: CallContext) -> Self {
        self.context = Some(context);
        self
    }
}
