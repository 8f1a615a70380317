//! The connect flow's configuration errors and the registry's refusals.

/// A connect configuration that cannot work.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConnectConfigError {
    /// The public base URL is not an `https://` origin (`http://` on loopback) without a path.
    #[error("the connect page's public base URL {base:?} is not usable: {reason}")]
    InvalidBase {
        /// The base as given.
        base: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The connect page has no way to tell who opens a link.
    #[error(
        "the connect page needs a way to sign people in: an OAuth sign-in (ConnectPageBuilder::oauth) or the gateway keys (ConnectPageBuilder::gateway_keys)"
    )]
    NoSignIn,
    /// The OAuth sign-in's configuration is wrong.
    #[error("the connect page's OAuth sign-in is misconfigured: {0}")]
    SignIn(String),
    /// A key for `requestState`s of the wrong length.
    #[error("a requestState key is 32 bytes")]
    StateKeyLength,
    /// The operating system's random source failed.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

/// Why [`ConnectRegistry::start`](super::ConnectRegistry::start) made no link.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StartError {
    /// As many links as [`RegistryLimits::total`](super::RegistryLimits::total) allows are
    /// waiting; try again when some have completed or expired.
    #[error(
        "too many people are connecting their PagerDuty accounts right now ({limit} links waiting); try again in a minute"
    )]
    Full {
        /// The limit.
        limit: usize,
    },
    /// The operating system's random source failed.
    #[error("the operating system's random source failed: {0}")]
    Random(String),
}

impl StartError {
    /// Whether trying again later may succeed (always, for now).
    pub fn is_retryable(&self) -> bool {
        true
    }
}
