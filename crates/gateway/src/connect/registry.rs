//! [`ConnectRegistry`]: the pending connections (one per URL-mode elicitation), their links,
//! expiry and bounds, and how the code that made one learns that it completed.

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use tokio::sync::watch;
use url::Url;

use pagerduty_mcp_connect::UserId;

use super::error::{ConnectConfigError, StartError};
use super::ids;
use super::request_state::RequestStateKey;

/// How long a connect link stays valid, unless [`RegistryLimits::ttl`] says otherwise.
pub const DEFAULT_LINK_TTL: Duration = Duration::from_secs(15 * 60);

/// The message an agent shows beside the link, unless
/// [`ConnectRegistry::with_message`] sets another.
pub const DEFAULT_MESSAGE: &str = "Connect your PagerDuty account: open this link, sign in, and paste your PagerDuty User API Token (PagerDuty: My Profile > User Settings > API Access > Create API User Token). The token goes to the gateway only, never through this chat.";

/// The bounds of a [`ConnectRegistry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RegistryLimits {
    /// How long a link stays valid after [`ConnectRegistry::start`] (15 minutes by default).
    pub ttl: Duration,
    /// The most links one user may have waiting at once (4 by default): a further
    /// [`start`](ConnectRegistry::start) retires that user's oldest one.
    pub per_user: usize,
    /// The most links kept at once, all users together (10,000 by default): beyond it
    /// [`start`](ConnectRegistry::start) fails with [`StartError::Full`] until some expire or
    /// complete.
    pub total: usize,
}

impl Default for RegistryLimits {
    fn default() -> Self {
        RegistryLimits {
            ttl: DEFAULT_LINK_TTL,
            per_user: 4,
            total: 10_000,
        }
    }
}

impl RegistryLimits {
    /// The same limits with links valid for `ttl`.
    #[must_use]
    pub fn with_ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// The same limits with at most `n` waiting links per user (at least 1).
    #[must_use]
    pub fn with_per_user(mut self, n: usize) -> Self {
        self.per_user = n.max(1);
        self
    }

    /// The same limits with at most `n` links in all (at least 1).
    #[must_use]
    pub fn with_total(mut self, n: usize) -> Self {
        self.total = n.max(1);
        self
    }
}

/// Where a pending connection stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ConnectionStatus {
    /// Nobody has connected an account through the link yet.
    Pending,
    /// The user stored a checked token (through this link, or through another of theirs, or
    /// on the account page): the call that needed it can be tried again.
    Connected,
    /// The link expired unused.
    Expired,
    /// The link was retired: the user started more connections than
    /// [`RegistryLimits::per_user`] allows, or the gateway cancelled it.
    Cancelled,
}

impl ConnectionStatus {
    /// Whether the status is final (anything but [`Pending`](ConnectionStatus::Pending)).
    pub fn is_final(self) -> bool {
        self != ConnectionStatus::Pending
    }
}

/// One URL-mode elicitation asking a user to connect their PagerDuty account: what
/// [`ConnectRegistry::start`] returns, and what the payload builders
/// ([`url_elicitation`](PendingConnection::url_elicitation) and its neighbours) turn into
/// the message each protocol era expects.
///
/// The URL is `<public base>/connect/<elicitation_id>`: it holds no credential and signs
/// nobody in; whoever opens it must prove to be [`user`](PendingConnection::user) first.
#[derive(Clone)]
pub struct PendingConnection {
    /// The elicitation's id: 256 random bits (43 characters of base64url), unique and
    /// single-use.
    pub elicitation_id: String,
    /// The link to give the person: the gateway's connect page for this elicitation.
    pub url: Url,
    /// The message to show beside the link.
    pub message: String,
    pub(crate) user: UserId,
    pub(crate) expires_at: SystemTime,
    pub(crate) expires: Instant,
    pub(crate) status: watch::Receiver<ConnectionStatus>,
}

impl fmt::Debug for PendingConnection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingConnection")
            .field("elicitation_id", &self.elicitation_id)
            .field("url", &self.url.as_str())
            .field("user", &self.user)
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

impl PendingConnection {
    /// The user the elicitation was made for: only this user may complete it.
    pub fn user(&self) -> &UserId {
        &self.user
    }

    /// When the link stops working.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// Where the connection stands now.
    pub fn status(&self) -> ConnectionStatus {
        current(&self.status, self.expires)
    }

    /// A handle that waits for the connection to complete (for example to send
    /// `notifications/elicitation/complete` to the agent, then let it retry).
    pub fn completion(&self) -> ConnectionWatch {
        ConnectionWatch {
            status: self.status.clone(),
            expires: self.expires,
        }
    }
}

/// Waits for a pending connection to reach a final [`ConnectionStatus`]. Cheap to clone; many
/// may wait on one connection.
#[derive(Debug, Clone)]
pub struct ConnectionWatch {
    status: watch::Receiver<ConnectionStatus>,
    expires: Instant,
}

impl ConnectionWatch {
    /// Where the connection stands now.
    pub fn status(&self) -> ConnectionStatus {
        current(&self.status, self.expires)
    }

    /// Waits until the connection is no longer [`Pending`](ConnectionStatus::Pending): it is
    /// [`Connected`](ConnectionStatus::Connected), or it was retired, or the link expired
    /// (then [`Expired`](ConnectionStatus::Expired), at the expiry time at the latest).
    pub async fn wait(mut self) -> ConnectionStatus {
        let deadline = tokio::time::Instant::from_std(self.expires);
        let reached = {
            let outcome =
                tokio::time::timeout_at(deadline, self.status.wait_for(|status| status.is_final()))
                    .await;
            match outcome {
                Ok(Ok(status)) => Some(*status),
                // The registry is gone, or time is up.
                Ok(Err(_)) | Err(_) => None,
            }
        };
        match reached.unwrap_or_else(|| *self.status.borrow()) {
            ConnectionStatus::Pending => ConnectionStatus::Expired,
            done => done,
        }
    }
}

fn current(status: &watch::Receiver<ConnectionStatus>, expires: Instant) -> ConnectionStatus {
    match *status.borrow() {
        ConnectionStatus::Pending if Instant::now() >= expires => ConnectionStatus::Expired,
        other => other,
    }
}

/// Why a link cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkError {
    /// Unknown, expired, retired or already used: the same answer for each.
    Gone,
    /// Made for another user.
    OtherUser,
}

/// One link, as the registry keeps it.
struct Entry {
    user: UserId,
    created: Instant,
    expires: Instant,
    status: watch::Sender<ConnectionStatus>,
}

impl Entry {
    fn status(&self) -> ConnectionStatus {
        current(&self.status.subscribe(), self.expires)
    }

    fn set(&self, status: ConnectionStatus) {
        self.status.send_replace(status);
    }
}

/// The registry of pending connections ("connect your PagerDuty account" links), shared by the
/// gateway's MCP handler, which [starts](ConnectRegistry::start) one when a user has no
/// usable token, and the [connect page](super::ConnectPage), which completes it.
///
/// Links are random (256 bits from the operating system), single-use, expire
/// ([`RegistryLimits::ttl`], 15 minutes by default) and are bounded in number per user and in
/// total, so that agents hammering the gateway cannot grow its memory. State is kept in this
/// process: with several replicas, route `/connect/…` to the replica that made the link, or
/// let each replica make its own (a user's retried call gets a fresh link from whichever
/// replica serves it).
///
/// Cheap to clone (an `Arc` inside).
///
/// ```
/// use pagerduty_mcp_connect::UserId;
/// use pagerduty_mcp_connect_gateway::{ConnectRegistry, ConnectionStatus};
///
/// let registry = ConnectRegistry::new("https://gw.example.com")?;
/// let pending = registry.start(&UserId::from("alice@example.com"))?;
/// assert!(pending.url.as_str().starts_with("https://gw.example.com/connect/"));
/// assert!(pending.url.as_str().ends_with(&pending.elicitation_id));
/// assert_eq!(pending.status(), ConnectionStatus::Pending);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct ConnectRegistry {
    inner: Arc<Inner>,
}

struct Inner {
    base: Url,
    message: String,
    limits: RegistryLimits,
    state_key: RequestStateKey,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
}

impl fmt::Debug for ConnectRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectRegistry")
            .field("base", &self.inner.base.as_str())
            .field("limits", &self.inner.limits)
            .field("links", &self.len())
            .finish_non_exhaustive()
    }
}

impl ConnectRegistry {
    /// A registry whose links are `<public_base>/connect/<elicitation id>`: `public_base` is
    /// the origin people reach the gateway at (`https://gw.example.com`; `http://` only on
    /// loopback), without a path, query or fragment.
    ///
    /// # Errors
    ///
    /// [`ConnectConfigError::InvalidBase`] saying what is wrong with `public_base`;
    /// [`ConnectConfigError::Random`] when the operating system's random source failed (for the
    /// [state key](ConnectRegistry::state_key)).
    pub fn new(public_base: &str) -> Result<Self, ConnectConfigError> {
        let base = parse_base(public_base)?;
        Ok(ConnectRegistry {
            inner: Arc::new(Inner {
                base,
                message: DEFAULT_MESSAGE.to_owned(),
                limits: RegistryLimits::default(),
                state_key: RequestStateKey::generate()?,
                entries: Mutex::new(HashMap::new()),
            }),
        })
    }

    /// The same registry configuration with other limits (call before any link is made: the
    /// registry returned is a new, empty one).
    #[must_use]
    pub fn with_limits(self, limits: RegistryLimits) -> Self {
        self.rebuilt(|inner| inner.limits = limits)
    }

    /// The same registry configuration with another message beside the links (a new, empty
    /// registry).
    #[must_use]
    pub fn with_message(self, message: impl Into<String>) -> Self {
        let message = message.into();
        self.rebuilt(|inner| inner.message = message)
    }

    /// The same registry configuration whose links' 2026-07-28 `requestState`s are sealed
    /// with `key` (replicas share one; by default each registry makes its own at random), a
    /// new, empty registry.
    #[must_use]
    pub fn with_state_key(self, key: RequestStateKey) -> Self {
        self.rebuilt(|inner| inner.state_key = key)
    }

    /// The key that seals and opens the `requestState` of this registry's links
    /// ([`PendingConnection::input_required`], [`RequestStateKey::open`]).
    pub fn state_key(&self) -> &RequestStateKey {
        &self.inner.state_key
    }

    fn rebuilt(self, change: impl FnOnce(&mut Inner)) -> Self {
        let mut inner = Inner {
            base: self.inner.base.clone(),
            message: self.inner.message.clone(),
            limits: self.inner.limits,
            state_key: self.inner.state_key.clone(),
            entries: Mutex::new(HashMap::new()),
        };
        change(&mut inner);
        ConnectRegistry {
            inner: Arc::new(inner),
        }
    }

    /// The public base, as configured (`https://gw.example.com/`).
    pub fn public_base(&self) -> &Url {
        &self.inner.base
    }

    /// The limits.
    pub fn limits(&self) -> RegistryLimits {
        self.inner.limits
    }

    /// Makes a new link asking `user` to connect their PagerDuty account.
    ///
    /// When `user` already has [`RegistryLimits::per_user`] links waiting, the oldest is
    /// retired ([`ConnectionStatus::Cancelled`]): an agent that retries makes no garbage.
    ///
    /// # Errors
    ///
    /// [`StartError::Full`] when [`RegistryLimits::total`] links are waiting;
    /// [`StartError::Random`] when the operating system's random source failed.
    pub fn start(&self, user: &UserId) -> Result<PendingConnection, StartError> {
        let id = ids::random_id().map_err(|err| StartError::Random(err.to_string()))?;
        let now = Instant::now();
        let expires = now + self.inner.limits.ttl;
        let expires_at = SystemTime::now() + self.inner.limits.ttl;
        let url = self
            .inner
            .base
            .join(&format!("connect/{id}"))
            .map_err(|err| StartError::Random(err.to_string()))?;
        let (sender, receiver) = watch::channel(ConnectionStatus::Pending);
        let mut entries = self.lock();
        sweep(&mut entries, now);
        // The user's oldest waiting links give way to the new one.
        let mut waiting: Vec<(Instant, [u8; 32])> = entries
            .iter()
            .filter(|(_, e)| &e.user == user && e.status() == ConnectionStatus::Pending)
            .map(|(key, e)| (e.created, *key))
            .collect();
        if waiting.len() >= self.inner.limits.per_user {
            waiting.sort();
            let retire = waiting.len() + 1 - self.inner.limits.per_user;
            for (_, key) in waiting.into_iter().take(retire) {
                if let Some(old) = entries.remove(&key) {
                    old.set(ConnectionStatus::Cancelled);
                }
            }
        }
        if entries.len() >= self.inner.limits.total {
            return Err(StartError::Full {
                limit: self.inner.limits.total,
            });
        }
        entries.insert(
            ids::digest(&id),
            Entry {
                user: user.clone(),
                created: now,
                expires,
                status: sender,
            },
        );
        drop(entries);
        tracing::debug!(target: "mcp_gateway::connect", user = %user, "connect link made");
        Ok(PendingConnection {
            elicitation_id: id,
            url,
            message: self.inner.message.clone(),
            user: user.clone(),
            expires_at,
            expires,
            status: receiver,
        })
    }

    /// Where the connection with `elicitation_id` stands; `None` when the registry does not
    /// know it (never made here, or forgotten some time after it ended).
    pub fn status(&self, elicitation_id: &str) -> Option<ConnectionStatus> {
        if !ids::is_id(elicitation_id) {
            return None;
        }
        self.lock()
            .get(&ids::digest(elicitation_id))
            .map(Entry::status)
    }

    /// A handle waiting for the connection with `elicitation_id` to complete (for a retried
    /// request that carries the id, for example in a 2026-07-28 `requestState`).
    pub fn watch(&self, elicitation_id: &str) -> Option<ConnectionWatch> {
        if !ids::is_id(elicitation_id) {
            return None;
        }
        self.lock()
            .get(&ids::digest(elicitation_id))
            .map(|entry| ConnectionWatch {
                status: entry.status.subscribe(),
                expires: entry.expires,
            })
    }

    /// The link `elicitation_id` again, while it is waiting and was made for `user` (a
    /// 2026-07-28 agent retried with its `requestState` before the person finished: it is
    /// asked again with the same link); `None` otherwise.
    pub fn pending(&self, elicitation_id: &str, user: &UserId) -> Option<PendingConnection> {
        if !ids::is_id(elicitation_id) {
            return None;
        }
        let url = self
            .inner
            .base
            .join(&format!("connect/{elicitation_id}"))
            .ok()?;
        let entries = self.lock();
        let entry = entries.get(&ids::digest(elicitation_id))?;
        if &entry.user != user || entry.status() != ConnectionStatus::Pending {
            return None;
        }
        let left = entry.expires.saturating_duration_since(Instant::now());
        Some(PendingConnection {
            elicitation_id: elicitation_id.to_owned(),
            url,
            message: self.inner.message.clone(),
            user: entry.user.clone(),
            expires_at: SystemTime::now() + left,
            expires: entry.expires,
            status: entry.status.subscribe(),
        })
    }

    /// Marks every waiting link of `user` [`Connected`](ConnectionStatus::Connected) (the user
    /// stored a token, through one of them or on the account page); returns how many.
    pub fn connected(&self, user: &UserId) -> usize {
        let entries = self.lock();
        let mut count = 0;
        for entry in entries.values() {
            if &entry.user == user && entry.status() == ConnectionStatus::Pending {
                entry.set(ConnectionStatus::Connected);
                count += 1;
            }
        }
        count
    }

    /// Retires the link `elicitation_id` ([`Cancelled`](ConnectionStatus::Cancelled)); returns
    /// whether it was waiting.
    pub fn cancel(&self, elicitation_id: &str) -> bool {
        if !ids::is_id(elicitation_id) {
            return false;
        }
        let entries = self.lock();
        match entries.get(&ids::digest(elicitation_id)) {
            Some(entry) if entry.status() == ConnectionStatus::Pending => {
                entry.set(ConnectionStatus::Cancelled);
                true
            }
            _ => false,
        }
    }

    /// How many links the registry holds (waiting, and ended ones not yet forgotten).
    pub fn len(&self) -> usize {
        let mut entries = self.lock();
        sweep(&mut entries, Instant::now());
        entries.len()
    }

    /// Whether the registry holds no link.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many links are waiting for `user`.
    pub fn waiting_for(&self, user: &UserId) -> usize {
        self.lock()
            .values()
            .filter(|e| &e.user == user && e.status() == ConnectionStatus::Pending)
            .count()
    }

    /// Checks that the link `id` is waiting and was made for `user` (`None`: anyone, to know
    /// whether to ask for a sign-in at all).
    pub(crate) fn check(&self, id: &str, user: Option<&UserId>) -> Result<UserId, LinkError> {
        if !ids::is_id(id) {
            return Err(LinkError::Gone);
        }
        let entries = self.lock();
        let entry = entries.get(&ids::digest(id)).ok_or(LinkError::Gone)?;
        if entry.status() != ConnectionStatus::Pending {
            return Err(LinkError::Gone);
        }
        match user {
            Some(user) if user != &entry.user => Err(LinkError::OtherUser),
            _ => Ok(entry.user.clone()),
        }
    }

    /// Uses the link `id` up for `user`: marks it (and the user's other waiting links)
    /// [`Connected`](ConnectionStatus::Connected). Fails when it is no longer waiting or is
    /// another user's.
    pub(crate) fn complete(&self, id: &str, user: &UserId) -> Result<(), LinkError> {
        self.check(id, Some(user))?;
        self.connected(user);
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Entry>> {
        self.inner.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Forgets links that expired, and ended ones after a while.
fn sweep(entries: &mut HashMap<[u8; 32], Entry>, now: Instant) {
    entries.retain(|_, entry| {
        let status = *entry.status.borrow();
        match status {
            ConnectionStatus::Pending if now >= entry.expires => {
                entry.set(ConnectionStatus::Expired);
                false
            }
            ConnectionStatus::Pending => true,
            // Ended links are remembered until they would have expired (a retry can still
            // learn the outcome); they count towards the total meanwhile.
            _ => now < entry.expires,
        }
    });
}

/// Checks a public base: an absolute `https://` origin (`http://` on loopback), no path.
pub(crate) fn parse_base(public_base: &str) -> Result<Url, ConnectConfigError> {
    let invalid = |reason: &str| ConnectConfigError::InvalidBase {
        base: public_base.to_owned(),
        reason: reason.to_owned(),
    };
    let url = Url::parse(public_base.trim()).map_err(|err| invalid(&err.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if is_loopback(&url) => {}
        "http" => return Err(invalid("plain http:// only on a loopback host")),
        _ => return Err(invalid("the scheme must be https")),
    }
    if url.host().is_none() || !url.username().is_empty() || url.password().is_some() {
        return Err(invalid("a host, without user name or password"));
    }
    if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
        return Err(invalid(
            "an origin only (scheme, host, port): no path, query or fragment",
        ));
    }
    Ok(url)
}

/// Whether `url`'s host is a loopback address or `localhost`.
pub(crate) fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(name)) => name.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> UserId {
        UserId::from("alice@example.com")
    }

    #[test]
    fn bases_are_checked() {
        assert!(ConnectRegistry::new("https://gw.example.com").is_ok());
        assert!(ConnectRegistry::new("http://127.0.0.1:8080").is_ok());
        for bad in [
            "http://gw.example.com",
            "https://gw.example.com/mcp",
            "https://user:pw@gw.example.com",
            "ftp://gw.example.com",
            "not a url",
        ] {
            assert!(ConnectRegistry::new(bad).is_err(), "{bad}");
        }
    }

    #[tokio::test]
    async fn links_are_bounded_per_user_and_in_total() {
        let registry = ConnectRegistry::new("https://gw.example.com")
            .unwrap()
            .with_limits(RegistryLimits::default().with_per_user(2).with_total(3));
        let first = registry.start(&alice()).unwrap();
        let _second = registry.start(&alice()).unwrap();
        let third = registry.start(&alice()).unwrap();
        assert_eq!(first.status(), ConnectionStatus::Cancelled);
        assert_eq!(registry.waiting_for(&alice()), 2);
        registry.start(&UserId::from("bob")).unwrap();
        assert!(matches!(
            registry.start(&UserId::from("carol")),
            Err(StartError::Full { limit: 3 })
        ));
        // Completing a link completes the user's others and wakes the waiters.
        let waiter = third.completion();
        registry.complete(&third.elicitation_id, &alice()).unwrap();
        assert_eq!(waiter.wait().await, ConnectionStatus::Connected);
        assert_eq!(
            registry.check(&third.elicitation_id, Some(&alice())),
            Err(LinkError::Gone),
            "single use"
        );
    }

    #[tokio::test]
    async fn links_expire() {
        let registry = ConnectRegistry::new("https://gw.example.com")
            .unwrap()
            .with_limits(RegistryLimits::default().with_ttl(Duration::from_millis(50)));
        let pending = registry.start(&alice()).unwrap();
        assert_eq!(
            registry.check(&pending.elicitation_id, Some(&UserId::from("bob"))),
            Err(LinkError::OtherUser)
        );
        assert_eq!(pending.completion().wait().await, ConnectionStatus::Expired);
        assert_eq!(
            registry.check(&pending.elicitation_id, Some(&alice())),
            Err(LinkError::Gone)
        );
        assert_eq!(registry.len(), 0, "expired links are forgotten");
    }
}
