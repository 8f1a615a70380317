//! Bounded HTTP to the authorization server: every exchange ends within the fetch timeout and
//! reads at most the maximum document size, so that a hanging or flooding issuer costs a clear
//! error, never a stalled gateway or unbounded memory. No redirects are followed.

use std::time::Duration;

use http::header;
use serde::de::DeserializeOwned;
use url::Url;

use super::error::FetchError;

/// The HTTP client and its bounds.
#[derive(Debug, Clone)]
pub(crate) struct Fetcher {
    client: reqwest::Client,
    pub(crate) timeout: Duration,
    pub(crate) max_bytes: usize,
}

impl Fetcher {
    pub(crate) fn new(timeout: Duration, max_bytes: usize) -> Result<Fetcher, String> {
        let client = client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .user_agent(concat!(
                "pagerduty-mcp-connect-gateway/",
                env!("CARGO_PKG_VERSION")
            ))
            .build()
            .map_err(|err| format!("the HTTP client could not be built: {err}"))?;
        Ok(Fetcher {
            client,
            timeout,
            max_bytes,
        })
    }

    /// GETs `url` and reads its JSON. `Ok(None)` for 404 (a discovery location the issuer does
    /// not serve).
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        url: &Url,
    ) -> Result<Option<T>, FetchError> {
        let request = self
            .client
            .get(url.clone())
            .header(header::ACCEPT, "application/json");
        self.exchange(url, request, true).await
    }

    /// POSTs a form to `url` with HTTP Basic client authentication and reads its JSON.
    pub(crate) async fn post_form<T: DeserializeOwned>(
        &self,
        url: &Url,
        basic: (&str, &str),
        form: String,
    ) -> Result<T, FetchError> {
        let request = self
            .client
            .post(url.clone())
            .header(header::ACCEPT, "application/json")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .basic_auth(basic.0, Some(basic.1))
            .body(form);
        match self.exchange(url, request, false).await? {
            Some(value) => Ok(value),
            None => Err(FetchError::Status {
                url: display(url),
                status: 404,
            }),
        }
    }

    async fn exchange<T: DeserializeOwned>(
        &self,
        url: &Url,
        request: reqwest::RequestBuilder,
        not_found_is_none: bool,
    ) -> Result<Option<T>, FetchError> {
        let shown = display(url);
        let work = async {
            let mut response = request.send().await.map_err(|err| {
                if err.is_timeout() {
                    FetchError::Timeout {
                        url: shown.clone(),
                        timeout: self.timeout,
                    }
                } else {
                    FetchError::Connect {
                        url: shown.clone(),
                        reason: error_chain(&err),
                    }
                }
            })?;
            let status = response.status();
            if status == http::StatusCode::NOT_FOUND && not_found_is_none {
                return Ok(None);
            }
            if !status.is_success() {
                return Err(FetchError::Status {
                    url: shown.clone(),
                    status: status.as_u16(),
                });
            }
            if response
                .content_length()
                .is_some_and(|length| length > self.max_bytes as u64)
            {
                return Err(FetchError::TooLarge {
                    url: shown.clone(),
                    limit: self.max_bytes,
                });
            }
            let mut body = Vec::new();
            loop {
                let chunk = response.chunk().await.map_err(|err| {
                    if err.is_timeout() {
                        FetchError::Timeout {
                            url: shown.clone(),
                            timeout: self.timeout,
                        }
                    } else {
                        FetchError::Connect {
                            url: shown.clone(),
                            reason: error_chain(&err),
                        }
                    }
                })?;
                let Some(chunk) = chunk else { break };
                if body.len() + chunk.len() > self.max_bytes {
                    return Err(FetchError::TooLarge {
                        url: shown.clone(),
                        limit: self.max_bytes,
                    });
                }
                body.extend_from_slice(&chunk);
            }
            serde_json::from_slice::<T>(&body)
                .map(Some)
                .map_err(|err| FetchError::Invalid {
                    url: shown.clone(),
                    // serde_json's message names the position and the expected shape, not
                    // the document's text.
                    reason: format!("not the JSON expected ({})", err.classify_name()),
                })
        };
        match tokio::time::timeout(self.timeout, work).await {
            Ok(result) => result,
            Err(_) => Err(FetchError::Timeout {
                url: shown,
                timeout: self.timeout,
            }),
        }
    }
}

/// A URL as shown in errors and logs: without its query (an introspection or JWKS URL may
/// carry a key in it).
fn display(url: &Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.to_string()
}

/// The error and its sources, for a connection failure (no URL query: reqwest's own message
/// names the URL, which is [`display`]ed by the caller instead).
fn error_chain(err: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if text.is_empty() {
        "connection failed".to_owned()
    } else {
        text
    }
}

trait ClassifyName {
    fn classify_name(&self) -> &'static str;
}

impl ClassifyName for serde_json::Error {
    fn classify_name(&self) -> &'static str {
        match self.classify() {
            serde_json::error::Category::Io => "unreadable",
            serde_json::error::Category::Syntax => "not JSON",
            serde_json::error::Category::Data => "missing or mistyped fields",
            serde_json::error::Category::Eof => "truncated JSON",
        }
    }
}

/// `reqwest::Client::builder()`, after making sure rustls has a crypto provider when the
/// `rustls-ring` feature is the only rustls choice (as the core does for its own clients).
fn client_builder() -> reqwest::ClientBuilder {
    #[cfg(all(feature = "rustls-ring", not(feature = "rustls")))]
    {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Fails only when another thread installed one first: that one is used.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    }
    reqwest::Client::builder()
}
