//! What a client learns about its endpoint once and shares between its sessions: the protocol
//! era the endpoint speaks (optionally shared with every client on the same endpoint in the
//! process), and the latest `server/discover` result, reused only as its `ttlMs`/`cacheScope`
//! allow.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::model::ServerDetails;
use super::protocol::ProtocolVersion;
use super::transport::StreamEnds;
use crate::credential::Credential;
use crate::error::Error;

/// The longest a `server/discover` result is reused, whatever `ttlMs` says (as the official
/// Python SDK caps its cache).
const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// How many endpoints the process-wide era table remembers (it starts over when full).
const MAX_SHARED_ENDPOINTS: usize = 1024;

/// Who may reuse a cached result (`cacheScope`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    /// The server said nothing: the result describes the endpoint, for every user.
    Unspecified,
    /// `"public"`: any user.
    Public,
    /// `"private"`: only the credential whose request got it.
    Private,
}

/// The cache hints of a 2026-07-28 result (`ttlMs`, `cacheScope`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct CacheHints {
    scope: Scope,
    ttl: Option<Duration>,
}

impl CacheHints {
    /// The hints `result` carries.
    pub(crate) fn of(result: &Value) -> Self {
        let scope = match result.get("cacheScope").and_then(Value::as_str) {
            Some("public") => Scope::Public,
            Some(_) => Scope::Private, // "private", or a value we do not know: the safe reading
            None => Scope::Unspecified,
        };
        let ttl = result
            .get("ttlMs")
            .map(|ttl| Duration::from_millis(ttl.as_u64().unwrap_or(0)).min(MAX_TTL));
        CacheHints { scope, ttl }
    }
}

/// One `server/discover` result and the terms of its reuse.
struct Discovered {
    details: Arc<ServerDetails>,
    /// The part of `details` that is not user-specific, shared by the sessions that may not
    /// reuse the whole.
    facts: Arc<ServerDetails>,
    scope: Scope,
    /// When it goes stale (`ttlMs`); `None` when the server gave no `ttlMs`.
    stale_at: Option<Instant>,
    /// The credential of the request that got it (checked for `private` results only).
    owner: Credential,
}

/// The per-client cache of endpoint facts.
pub(crate) struct EndpointCache {
    /// The endpoint's URL when the application opted into sharing the era within the process.
    shared_key: Option<String>,
    negotiated: Mutex<Option<ProtocolVersion>>,
    discovered: Mutex<Option<Discovered>>,
    /// The last session-era `initialize` details: equal details of later sessions share it.
    initialized: Mutex<Option<Arc<ServerDetails>>>,
    /// Whether the endpoint ends its SSE replies soon after their response.
    pub(crate) stream_ends: Arc<StreamEnds>,
}

/// Whether a stateless request's error says the endpoint does not speak that era (any more): an
/// unsupported version, or an answer only an older server gives.
pub(crate) fn era_refused(err: &Error) -> bool {
    matches!(
        err,
        Error::Server { code: -32022, .. }
            | Error::HttpStatus {
                status: 400 | 404 | 405 | 415 | 422,
                ..
            }
    )
}

/// What clients that share it found about an endpoint: its era, and (2026-07-28) the part of
/// its discover result that is not user-specific.
#[derive(Clone)]
struct SharedEndpoint {
    version: ProtocolVersion,
    facts: Option<Arc<ServerDetails>>,
}

/// The endpoints found by clients that share them, by endpoint URL.
fn shared_eras() -> &'static Mutex<HashMap<String, SharedEndpoint>> {
    static ERAS: OnceLock<Mutex<HashMap<String, SharedEndpoint>>> = OnceLock::new();
    ERAS.get_or_init(|| Mutex::new(HashMap::new()))
}

impl EndpointCache {
    /// A cache for the endpoint at `url`; `share` publishes and reads the negotiated era in the
    /// process-wide table.
    pub(crate) fn new(url: &url::Url, share: bool) -> Self {
        EndpointCache {
            shared_key: share.then(|| url.as_str().to_owned()),
            negotiated: Mutex::new(None),
            discovered: Mutex::new(None),
            initialized: Mutex::new(None),
            stream_ends: Arc::default(),
        }
    }

    /// The era negotiated with this endpoint before, by this client or (when shared) by another.
    pub(crate) fn negotiated(&self) -> Option<ProtocolVersion> {
        let local = *self.negotiated.lock().unwrap_or_else(|p| p.into_inner());
        local.or_else(|| {
            let key = self.shared_key.as_ref()?;
            let version = shared_eras()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(key)
                .map(|shared| shared.version)?;
            *self.negotiated.lock().unwrap_or_else(|p| p.into_inner()) = Some(version);
            Some(version)
        })
    }

    /// Remembers the negotiated era (and publishes it when shared).
    pub(crate) fn set_negotiated(&self, version: ProtocolVersion) {
        *self.negotiated.lock().unwrap_or_else(|p| p.into_inner()) = Some(version);
        if let Some(key) = &self.shared_key {
            let local = self
                .discovered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .as_ref()
                .map(|entry| entry.facts.clone());
            let mut eras = shared_eras().lock().unwrap_or_else(|p| p.into_inner());
            if eras.len() >= MAX_SHARED_ENDPOINTS && !eras.contains_key(key) {
                eras.clear();
            }
            let facts = local.or_else(|| eras.get(key).and_then(|shared| shared.facts.clone()));
            eras.insert(key.clone(), SharedEndpoint { version, facts });
        }
    }

    /// Forgets what was learnt (the endpoint refused the remembered era): the next connection
    /// negotiates and discovers again.
    pub(crate) fn forget(&self) {
        *self.negotiated.lock().unwrap_or_else(|p| p.into_inner()) = None;
        *self.discovered.lock().unwrap_or_else(|p| p.into_inner()) = None;
        if let Some(key) = &self.shared_key {
            shared_eras()
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(key);
        }
    }

    /// Keeps a `server/discover` result got with `credential`, and its cache hints.
    pub(crate) fn store_discovered(
        &self,
        hints: CacheHints,
        details: Arc<ServerDetails>,
        credential: &Credential,
    ) {
        let mut facts = ServerDetails {
            server_info: details.server_info.clone(),
            ..ServerDetails::default()
        };
        if let Some(versions) = details.extra.get("supportedVersions") {
            facts
                .extra
                .insert("supportedVersions".to_owned(), versions.clone());
        }
        let facts = Arc::new(facts);
        if let Some(key) = &self.shared_key {
            let mut eras = shared_eras().lock().unwrap_or_else(|p| p.into_inner());
            if let Some(shared) = eras.get_mut(key) {
                shared.facts = Some(facts.clone());
            }
        }
        *self.discovered.lock().unwrap_or_else(|p| p.into_inner()) = Some(Discovered {
            details,
            facts,
            scope: hints.scope,
            stale_at: hints.ttl.map(|ttl| Instant::now() + ttl),
            owner: credential.clone(),
        });
    }

    /// The whole discover result, if `credential` may reuse it now: not stale, and `public` (or
    /// without a `cacheScope`), or `private` and got with this very credential.
    pub(crate) fn discovered_for(&self, credential: &Credential) -> Option<Arc<ServerDetails>> {
        let guard = self.discovered.lock().unwrap_or_else(|p| p.into_inner());
        let entry = guard.as_ref()?;
        if entry.stale_at.is_some_and(|at| Instant::now() >= at) {
            return None;
        }
        match entry.scope {
            Scope::Unspecified | Scope::Public => Some(entry.details.clone()),
            Scope::Private => entry
                .owner
                .same_secret(credential)
                .then(|| entry.details.clone()),
        }
    }

    /// What any user may know of the endpoint even when the discover result itself may not be
    /// reused: who the server is and which versions it speaks (every 2026-07-28 result names the
    /// server). Capabilities and instructions are left out.
    pub(crate) fn endpoint_facts(&self) -> Option<Arc<ServerDetails>> {
        let guard = self.discovered.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = guard.as_ref() {
            return Some(entry.facts.clone());
        }
        drop(guard);
        // Another client on this endpoint discovered it (when shared, and the era still holds).
        let key = self.shared_key.as_ref()?;
        let shared = shared_eras()
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(key)
            .cloned()?;
        shared.facts.filter(|_| shared.version.is_stateless())
    }

    /// `details` of a new session-era session, sharing one allocation with the sessions before
    /// it when the server said the same.
    pub(crate) fn intern_initialized(&self, details: ServerDetails) -> Arc<ServerDetails> {
        let mut last = self.initialized.lock().unwrap_or_else(|p| p.into_inner());
        match last.as_ref() {
            Some(known) if **known == details => known.clone(),
            _ => {
                let details = Arc::new(details);
                *last = Some(details.clone());
                details
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn cache() -> EndpointCache {
        EndpointCache::new(&url::Url::parse("http://127.0.0.1:1/mcp").unwrap(), false)
    }

    fn details() -> Arc<ServerDetails> {
        Arc::new(ServerDetails::default())
    }

    #[test]
    fn discover_results_are_reused_as_their_hints_allow() {
        let (alice, bob) = (Credential::new("alice-token"), Credential::new("bob-token"));
        let cache = cache();
        assert!(cache.discovered_for(&alice).is_none());

        cache.store_discovered(CacheHints::of(&json!({})), details(), &alice);
        assert!(
            cache.discovered_for(&bob).is_some(),
            "no hints: the endpoint's"
        );

        cache.store_discovered(
            CacheHints::of(&json!({"cacheScope": "public", "ttlMs": 60000})),
            details(),
            &alice,
        );
        assert!(cache.discovered_for(&bob).is_some());

        cache.store_discovered(
            CacheHints::of(&json!({"cacheScope": "private", "ttlMs": 60000})),
            details(),
            &alice,
        );
        assert!(cache.discovered_for(&alice).is_some());
        assert!(
            cache.discovered_for(&bob).is_none(),
            "private: not for another user"
        );

        cache.store_discovered(
            CacheHints::of(&json!({"cacheScope": "public", "ttlMs": 0})),
            details(),
            &alice,
        );
        assert!(
            cache.discovered_for(&alice).is_none(),
            "ttlMs 0: stale at once"
        );
        assert!(cache.endpoint_facts().is_some());

        cache.store_discovered(
            CacheHints::of(&json!({"cacheScope": "shared?"})),
            details(),
            &alice,
        );
        assert!(
            cache.discovered_for(&bob).is_none(),
            "unknown scope: private"
        );

        cache.forget();
        assert!(cache.discovered_for(&alice).is_none());
        assert!(cache.endpoint_facts().is_none());
    }

    #[test]
    fn the_era_is_shared_only_when_asked() {
        let url = url::Url::parse("http://127.0.0.1:2/era-test").unwrap();
        let (first, alone) = (
            EndpointCache::new(&url, true),
            EndpointCache::new(&url, false),
        );
        first.set_negotiated(ProtocolVersion::V2025_11_25);
        assert_eq!(alone.negotiated(), None);
        let second = EndpointCache::new(&url, true);
        assert_eq!(second.negotiated(), Some(ProtocolVersion::V2025_11_25));
        second.forget();
        assert_eq!(EndpointCache::new(&url, true).negotiated(), None);
    }

    #[test]
    fn equal_initialize_details_share_one_allocation() {
        let cache = cache();
        let a = cache.intern_initialized(ServerDetails::default());
        let b = cache.intern_initialized(ServerDetails::default());
        assert!(Arc::ptr_eq(&a, &b));
    }
}
