//! The session-era handshake (`initialize`, `notifications/initialized`), opening a session in
//! either era, and re-establishing an expired session.

use std::sync::atomic::{AtomicBool, AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, RwLock};
use std::time::Duration;

use bytes::Bytes;
use http::HeaderValue;
use serde_json::{Map, Value, json};

use super::{RequestOptions, Route, Session, SessionInner};
use crate::client::client_state::ClientInner;
use crate::client::endpoint_cache::CacheHints;
use crate::client::jsonrpc::{self, Incoming};
use crate::client::model::ServerDetails;
use crate::client::protocol::ProtocolVersion;
use crate::client::sse::SseParser;
use crate::client::transport::{self, ACCEPT_POST};
use crate::credential::{Credential, UserId};
use crate::error::{Error, Result, decode};
use crate::redaction::Redactor;

impl Session {
    /// A session object that has not talked to the server yet.
    fn unopened(
        client: &Arc<ClientInner>,
        credential: &Credential,
        auth: HeaderValue,
        version: ProtocolVersion,
        user: Option<UserId>,
    ) -> SessionInner {
        SessionInner {
            client: client.clone(),
            credential: credential.clone(),
            auth,
            version,
            session_id: RwLock::new((None, 0)),
            details: RwLock::new(Arc::default()),
            next_id: AtomicU64::new(1),
            notifications: OnceLock::new(),
            log_level: AtomicU8::new(super::NO_LOG_LEVEL),
            closed: AtomicBool::new(false),
            rejected: AtomicBool::new(false),
            reinit: tokio::sync::Mutex::new(()),
            tools: RwLock::new(None),
            listener: std::sync::Mutex::new(None),
            user,
            server_requests: OnceLock::new(),
            progress: std::sync::Mutex::new(Vec::new()),
            stray_responses: std::sync::Mutex::new(Vec::new()),
            stray_arrived: tokio::sync::Notify::new(),
        }
    }

    /// Opens a session speaking `version`. In the session era the server may answer with another
    /// version; `strict` refuses that.
    ///
    /// Every error passes the redaction step for the credential, whichever step of the opening
    /// it comes from.
    pub(crate) async fn open(
        client: &Arc<ClientInner>,
        credential: &Credential,
        auth: HeaderValue,
        version: ProtocolVersion,
        strict: bool,
        user: Option<UserId>,
    ) -> Result<Session> {
        let redactor = opening_redactor(client, credential, &auth);
        Session::open_unredacted(client, credential, auth, version, strict, user)
            .await
            .map_err(|err| err.redact(&redactor))
    }

    async fn open_unredacted(
        client: &Arc<ClientInner>,
        credential: &Credential,
        auth: HeaderValue,
        version: ProtocolVersion,
        strict: bool,
        user: Option<UserId>,
    ) -> Result<Session> {
        if version.is_stateless() {
            // `server/discover` once per endpoint: later sessions reuse its result when its
            // `ttlMs`/`cacheScope` allow, and otherwise start from what is not user-specific
            // (the server's identity and versions) without a round trip.
            let cache = &client.endpoint;
            if let Some(details) = cache
                .discovered_for(credential)
                .or_else(|| cache.endpoint_facts())
            {
                let inner = Self::unopened(client, credential, auth, version, user);
                *inner.details.write().unwrap_or_else(|p| p.into_inner()) = details;
                return Ok(Session {
                    inner: Arc::new(inner),
                });
            }
            return Self::discover_unredacted(client, credential, auth, user)
                .await?
                .ok_or_else(|| {
                    Error::protocol(
                        "the server/discover result does not list protocol version 2026-07-28 in supportedVersions",
                    )
                });
        }
        let mut inner = Self::unopened(client, credential, auth, version, user);
        let (session_id, details, chosen) = inner.handshake(version).await?;
        // From here on, dropping `inner` ends the server's session (DELETE in `Drop`).
        *inner
            .session_id
            .get_mut()
            .unwrap_or_else(|p| p.into_inner()) = (session_id, 1);
        if chosen != version {
            if strict {
                return Err(Error::protocol(format!(
                    "the server chose protocol version {chosen}, but {version} was required"
                )));
            }
            inner.version = chosen;
        }
        *inner.details.get_mut().unwrap_or_else(|p| p.into_inner()) =
            client.endpoint.intern_initialized(details);
        let inner = Arc::new(inner);
        inner.send_initialized().await?;
        if inner.keeps_listening() {
            // Requests the server sends outside any call arrive on the GET stream: have it open
            // before the first call (servers drop such requests while no stream is open).
            let limit = inner.config().idle_timeout.min(Duration::from_secs(2));
            SessionInner::open_listener(&inner, limit).await;
        }
        Ok(Session { inner })
    }

    /// Opens a 2026-07-28 session with `server/discover`. `Ok(None)`: the server answered, but
    /// its result does not prove it speaks 2026-07-28 (a session-era server may answer unknown
    /// methods with an empty result).
    ///
    /// Every error passes the redaction step for the credential.
    pub(crate) async fn discover(
        client: &Arc<ClientInner>,
        credential: &Credential,
        auth: HeaderValue,
        user: Option<UserId>,
    ) -> Result<Option<Session>> {
        let redactor = opening_redactor(client, credential, &auth);
        Session::discover_unredacted(client, credential, auth, user)
            .await
            .map_err(|err| err.redact(&redactor))
    }

    async fn discover_unredacted(
        client: &Arc<ClientInner>,
        credential: &Credential,
        auth: HeaderValue,
        user: Option<UserId>,
    ) -> Result<Option<Session>> {
        let version = ProtocolVersion::V2026_07_28;
        let inner = Arc::new(Self::unopened(client, credential, auth, version, user));
        Ok(inner.discover().await?.map(|_| Session { inner }))
    }
}

/// The outcome of `initialize` if `message` is its response; anything else that arrives before
/// it is dropped.
fn initialize_outcome(message: Incoming) -> Option<Result<Value>> {
    match message {
        Incoming::Response { id, outcome } if id.as_u64() == Some(0) => Some(outcome),
        Incoming::Request { .. } => {
            // The method is the server's text: never logged (it could hold anything, an echoed
            // credential included).
            tracing::debug!("ignoring a server request sent before initialize was answered");
            None
        }
        _ => None,
    }
}

/// The server's details from a `server/discover` result, if the result proves the server
/// speaks `version`: an object whose `supportedVersions` lists it (the field the 2026-07-28
/// specification requires). Anything else (`{}`, no list, a list without it) is `None`.
fn discover_details(result: Value, version: ProtocolVersion) -> Result<Option<ServerDetails>> {
    let lists_version = result
        .get("supportedVersions")
        .and_then(Value::as_array)
        .is_some_and(|list| list.iter().any(|v| v.as_str() == Some(version.as_str())));
    if !lists_version {
        return Ok(None);
    }
    let mut details: ServerDetails = decode(result, "server/discover result")?;
    if details.server_info.name.is_empty() {
        // 2026-07-28 may put serverInfo in the result's `_meta`.
        let info = details
            .extra
            .get("_meta")
            .and_then(|meta| meta.get("io.modelcontextprotocol/serverInfo"))
            .cloned();
        if let Some(info) = info.and_then(|i| serde_json::from_value(i).ok()) {
            details.server_info = info;
        }
    }
    Ok(Some(details))
}

impl SessionInner {
    /// `server/discover` with this session's credential. When the result shows a 2026-07-28
    /// server, keeps it as the session's details and as the endpoint's latest, with its cache
    /// hints; `Ok(None)` otherwise.
    pub(super) async fn discover(self: &Arc<Self>) -> Result<Option<Arc<ServerDetails>>> {
        let discovered = self
            .call("server/discover", Map::new(), &RequestOptions::default())
            .await?;
        let hints = CacheHints::of(&discovered);
        let Some(details) = discover_details(discovered, self.version)? else {
            return Ok(None);
        };
        let details = Arc::new(details);
        self.client
            .endpoint
            .store_discovered(hints, details.clone(), &self.credential);
        *self.details.write().unwrap_or_else(|p| p.into_inner()) = details.clone();
        Ok(Some(details))
    }

    /// The session-era handshake: `initialize` offering `version`. Returns the session id, the
    /// server's details and the version the server chose.
    pub(super) async fn handshake(
        &self,
        version: ProtocolVersion,
    ) -> Result<(Option<HeaderValue>, ServerDetails, ProtocolVersion)> {
        let info = &self.config().client_info;
        let params = json!({
            "protocolVersion": version.as_str(),
            "capabilities": Value::Object(self.config().handlers.capabilities()),
            "clientInfo": {"name": info.name, "version": info.version},
        });
        let body = Bytes::from(jsonrpc::request_bytes(
            0,
            "initialize",
            params.as_object().expect("object"),
        ));
        let headers = self.headers(
            &Route {
                session_id: None,
                generation: 0,
                send_version: false,
            },
            ACCEPT_POST,
        );
        let limit = self.config().request_timeout;
        let exchange = async {
            let response = self.send_post(headers, body).await?;
            let response = self.expect_success(response).await?;
            // Copied out of the response: a cloned `HeaderValue` would share, and so keep alive,
            // the whole read buffer the headers were parsed from (8 KiB or more per session).
            let session_id = response
                .headers()
                .get(transport::SESSION_ID)
                .map(|id| HeaderValue::from_bytes(id.as_bytes()))
                .transpose()
                .map_err(|_| Error::protocol("the server's Mcp-Session-Id is not visible ASCII"))?;
            if let Some(id) = &session_id
                && (id.is_empty() || !id.as_bytes().iter().all(|b| (0x21..0x7f).contains(b)))
            {
                return Err(Error::protocol(
                    "the server's Mcp-Session-Id is not visible ASCII",
                ));
            }
            let result = self.read_initialize_reply(response).await?;
            Ok((session_id, result))
        };
        let (session_id, result) = tokio::time::timeout(limit, exchange)
            .await
            .unwrap_or_else(|_| Err(Error::timeout("no answer to initialize")))
            .map_err(|err| self.scrub(err))?;
        let chosen = result
            .get("protocolVersion")
            .and_then(Value::as_str)
            .ok_or_else(|| Error::protocol("the initialize result has no protocolVersion"))?;
        let chosen = ProtocolVersion::parse(chosen)
            .filter(|v| !v.is_stateless())
            .ok_or_else(|| {
                Error::protocol(format!(
                    "the server chose protocol version {}, which this client does not speak",
                    describe_version(chosen)
                ))
            })?;
        let details: ServerDetails = decode(result, "initialize result")?;
        Ok((session_id, details, chosen))
    }

    /// Reads the reply to `initialize` up to its response. Whatever comes before it on an
    /// event stream is handled as it arrives and never kept (notifications go to the session's
    /// bounded broadcast, requests are not answered before the session exists), so an endless
    /// stream costs at most one event of memory (`max_event_bytes`) until the request timeout.
    pub(super) async fn read_initialize_reply(
        &self,
        mut response: reqwest::Response,
    ) -> Result<Value> {
        let config = self.config();
        if transport::is_event_stream(response.headers()) {
            let mut parser = SseParser::new(config.max_event_bytes);
            let mut events = Vec::new();
            while let Some(chunk) =
                transport::next_chunk(&mut response, config.idle_timeout).await?
            {
                parser.feed(&chunk, &mut events)?;
                for event in events.drain(..) {
                    if event.data.trim().is_empty() {
                        continue;
                    }
                    for message in jsonrpc::parse_event_data(&event.data)? {
                        if let Some(outcome) = initialize_outcome(message) {
                            transport::release_connection(
                                response,
                                &self.client.endpoint.stream_ends,
                            )
                            .await;
                            return outcome;
                        }
                    }
                }
            }
        } else {
            let bytes =
                transport::read_body(&mut response, config.max_body_bytes, config.idle_timeout)
                    .await?;
            let value: Value = serde_json::from_slice(&bytes)
                .map_err(|err| Error::protocol(format!("the reply is not valid JSON: {err}")))?;
            for message in jsonrpc::parse_messages(value)? {
                if let Some(outcome) = initialize_outcome(message) {
                    return outcome;
                }
            }
        }
        Err(Error::protocol("the server sent no response to initialize"))
    }

    pub(super) async fn send_initialized(self: &Arc<Self>) -> Result<()> {
        let body = Bytes::from(jsonrpc::notification_bytes(
            "notifications/initialized",
            None,
        ));
        self.post_message(&self.route(), body)
            .await
            .map_err(|err| self.scrub(err))
    }

    /// Re-runs the handshake after the server forgot the session (at most once per generation,
    /// however many requests noticed).
    pub(super) async fn reestablish(self: &Arc<Self>, seen_generation: u64) -> Result<()> {
        let _guard = self.reinit.lock().await;
        if self.route().generation != seen_generation {
            return Ok(()); // another request already did it
        }
        let (session_id, details, chosen) =
            self.handshake(self.version)
                .await
                .map_err(|err| match err {
                    Error::Unauthorized { .. }
                    | Error::Forbidden { .. }
                    | Error::RateLimited { .. }
                    | Error::Timeout { .. }
                    | Error::Transport { .. } => err,
                    _ => Error::session_expired(false),
                })?;
        if chosen != self.version {
            return Err(Error::session_expired(false));
        }
        // Finish the handshake on the new session before other requests may use it.
        let fresh = Route {
            session_id: session_id.clone(),
            generation: seen_generation + 1,
            send_version: self.route().send_version,
        };
        let initialized = Bytes::from(jsonrpc::notification_bytes(
            "notifications/initialized",
            None,
        ));
        if let Err(err) = self.post_message(&fresh, initialized).await {
            // Do not leave the half-opened session behind on the server.
            let _ =
                tokio::time::timeout(self.config().request_timeout, self.send_delete(&fresh)).await;
            return Err(self.scrub(err));
        }
        if self.closed.load(Ordering::Acquire) {
            // `close()` ran meanwhile and ended the old session: end this one too.
            let _ =
                tokio::time::timeout(self.config().request_timeout, self.send_delete(&fresh)).await;
            return Err(Error::Closed);
        }
        {
            let mut guard = self.session_id.write().unwrap_or_else(|p| p.into_inner());
            *guard = (session_id, seen_generation + 1);
        }
        *self.details.write().unwrap_or_else(|p| p.into_inner()) =
            self.client.endpoint.intern_initialized(details);
        // The GET stream ended with the old session (its listener stops on the 404): follow the
        // new session for those already reading `notifications()`.
        let listening = self
            .listener
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .is_some();
        if listening && self.listeners() > 0 {
            SessionInner::ensure_listener(self);
        }
        Ok(())
    }
}

/// The redaction step for errors of opening a session: knows the credential and the value
/// actually sent after the scheme's prefix.
fn opening_redactor(client: &ClientInner, credential: &Credential, auth: &HeaderValue) -> Redactor {
    let scheme = client.auth_forms.of(auth);
    let sent = String::from_utf8_lossy(
        auth.as_bytes()
            .get(scheme.prefix().len()..)
            .unwrap_or_default(),
    )
    .into_owned();
    Redactor::for_credential(credential.secret(), scheme).with_secret(&sent)
}

/// A protocol version the server named, quoted only when it looks like one (a date); anything
/// else is described, never repeated (it could hold anything, an echoed credential included).
fn describe_version(version: &str) -> String {
    let looks_like_a_date = version.len() == 10
        && version.bytes().enumerate().all(|(i, b)| {
            if i == 4 || i == 7 {
                b == b'-'
            } else {
                b.is_ascii_digit()
            }
        });
    if looks_like_a_date {
        format!("{version:?}")
    } else {
        format!(
            "(a string of {} characters that is not a version)",
            version.chars().count()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discover_results_must_prove_the_new_era() {
        let v = ProtocolVersion::V2026_07_28;
        assert!(discover_details(json!({}), v).unwrap().is_none());
        assert!(
            discover_details(json!({"capabilities": {}}), v)
                .unwrap()
                .is_none()
        );
        assert!(
            discover_details(json!({"supportedVersions": ["2025-11-25"]}), v)
                .unwrap()
                .is_none()
        );
        assert!(
            discover_details(json!({"supportedVersions": "2026-07-28"}), v)
                .unwrap()
                .is_none()
        );
        let details = discover_details(
            json!({"supportedVersions": ["2026-07-28"], "capabilities": {"tools": {}},
                   "serverInfo": {"name": "s", "version": "1"}}),
            v,
        )
        .unwrap()
        .unwrap();
        assert_eq!(details.server_info.name, "s");
        let details = discover_details(
            json!({"supportedVersions": ["2026-07-28"], "capabilities": {},
                   "_meta": {"io.modelcontextprotocol/serverInfo": {"name": "m", "version": "2"}}}),
            v,
        )
        .unwrap()
        .unwrap();
        assert_eq!(details.server_info.name, "m");
    }
}
