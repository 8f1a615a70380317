//! The connect page's own sessions: a random cookie naming server-side state (who signed in,
//! the CSRF token of the session's forms, OAuth sign-ins under way), short-lived and bounded.
//! They are the connect page's only: an agent's credential never makes one, and one never
//! works at `/mcp`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use http::HeaderMap;
use http::header::COOKIE;

use super::ids;
use super::onboarding::SignedInUser;

/// The session cookie's name.
pub(crate) const COOKIE_NAME: &str = "pdmcp_connect";

/// The settings of the page's sessions.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SessionLimits {
    /// A session unused this long ends.
    pub(crate) idle: Duration,
    /// A session ends this long after it began, used or not.
    pub(crate) absolute: Duration,
    /// The most sessions kept (the oldest give way).
    pub(crate) max_sessions: usize,
    /// How long an OAuth sign-in may take.
    pub(crate) sign_in: Duration,
    /// The most sign-ins under way at once (the oldest give way).
    pub(crate) max_sign_ins: usize,
}

impl Default for SessionLimits {
    fn default() -> Self {
        SessionLimits {
            idle: Duration::from_secs(10 * 60),
            absolute: Duration::from_secs(30 * 60),
            max_sessions: 20_000,
            sign_in: Duration::from_secs(10 * 60),
            max_sign_ins: 20_000,
        }
    }
}

/// One session.
#[derive(Debug, Clone)]
pub(crate) struct Session {
    /// Who signed in, if anyone yet.
    pub(crate) user: Option<SignedInUser>,
    /// The synchronizer token every form of the session carries.
    pub(crate) csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// An OAuth sign-in under way, under its `state`.
#[derive(Debug)]
pub(crate) struct SignIn {
    /// The digest of the session cookie that began it: only that browser may finish it.
    pub(crate) session: [u8; 32],
    pub(crate) pkce_verifier: String,
    pub(crate) nonce: String,
    /// Where to go afterwards (an elicitation id, or `None` for the account page).
    pub(crate) back_to: Option<String>,
    started: Instant,
}

impl SignIn {
    pub(crate) fn new(
        session: [u8; 32],
        pkce_verifier: String,
        nonce: String,
        back_to: Option<String>,
    ) -> Self {
        SignIn {
            session,
            pkce_verifier,
            nonce,
            back_to,
            started: Instant::now(),
        }
    }
}

/// The sessions and sign-ins of one connect page.
#[derive(Debug)]
pub(crate) struct PageSessions {
    limits: SessionLimits,
    sessions: Mutex<HashMap<[u8; 32], Session>>,
    sign_ins: Mutex<HashMap<[u8; 32], SignIn>>,
}

impl PageSessions {
    pub(crate) fn new(limits: SessionLimits) -> Self {
        PageSessions {
            limits,
            sessions: Mutex::new(HashMap::new()),
            sign_ins: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn limits(&self) -> SessionLimits {
        self.limits
    }

    /// The session named by the request's cookie, if it is alive (its use is recorded).
    pub(crate) fn get(&self, headers: &HeaderMap) -> Option<(String, Session)> {
        let id = cookie(headers, COOKIE_NAME)?;
        let now = Instant::now();
        let mut sessions = self.lock_sessions();
        let key = ids::digest(&id);
        let alive = match sessions.get_mut(&key) {
            Some(session) if self.alive(session, now) => {
                session.last_seen = now;
                Some(session.clone())
            }
            Some(_) => {
                sessions.remove(&key);
                None
            }
            None => None,
        };
        alive.map(|session| (id, session))
    }

    /// A new session (no one signed in yet, or `user`): its cookie value and state.
    pub(crate) fn create(&self, user: Option<SignedInUser>) -> Option<(String, Session)> {
        let id = ids::random_id().ok()?;
        let now = Instant::now();
        let session = Session {
            user,
            csrf: ids::random_id().ok()?,
            created: now,
            last_seen: now,
        };
        let mut sessions = self.lock_sessions();
        if sessions.len() >= self.limits.max_sessions {
            sessions.retain(|_, s| self.alive(s, now));
        }
        while sessions.len() >= self.limits.max_sessions {
            // Sessions nobody signed in to give way first (anyone can make those), the least
            // recently used first.
            let Some(oldest) = sessions
                .iter()
                .min_by_key(|(_, s)| (s.user.is_some(), s.last_seen))
                .map(|(k, _)| *k)
            else {
                break;
            };
            sessions.remove(&oldest);
        }
        sessions.insert(ids::digest(&id), session.clone());
        Some((id, session))
    }

    /// Signs `user` in: the session `old` (if any) ends and a new one, with a new id and CSRF
    /// token, begins (no session fixation).
    pub(crate) fn sign_in(
        &self,
        old: Option<&str>,
        user: SignedInUser,
    ) -> Option<(String, Session)> {
        if let Some(old) = old {
            self.end(old);
        }
        self.create(Some(user))
    }

    /// Ends the session `id`.
    pub(crate) fn end(&self, id: &str) {
        self.lock_sessions().remove(&ids::digest(id));
    }

    /// How many sessions are kept.
    pub(crate) fn len(&self) -> usize {
        self.lock_sessions().len()
    }

    /// Records a sign-in under its OAuth `state`.
    pub(crate) fn begin_sign_in(&self, state: &str, sign_in: SignIn) {
        let now = Instant::now();
        let mut sign_ins = self.lock_sign_ins();
        sign_ins.retain(|_, s| now.duration_since(s.started) < self.limits.sign_in);
        while sign_ins.len() >= self.limits.max_sign_ins {
            let Some(oldest) = sign_ins
                .iter()
                .min_by_key(|(_, s)| s.started)
                .map(|(k, _)| *k)
            else {
                break;
            };
            sign_ins.remove(&oldest);
        }
        sign_ins.insert(ids::digest(state), sign_in);
    }

    /// Takes the sign-in of `state` (once: a replayed callback finds nothing).
    pub(crate) fn take_sign_in(&self, state: &str) -> Option<SignIn> {
        let sign_in = self.lock_sign_ins().remove(&ids::digest(state))?;
        (sign_in.started.elapsed() < self.limits.sign_in).then_some(sign_in)
    }

    /// Looks at the sign-in of `state` without taking it.
    pub(crate) fn has_sign_in(&self, state: &str) -> bool {
        self.lock_sign_ins().contains_key(&ids::digest(state))
    }

    /// How many sign-ins are under way.
    pub(crate) fn sign_ins(&self) -> usize {
        self.lock_sign_ins().len()
    }

    fn alive(&self, session: &Session, now: Instant) -> bool {
        now.duration_since(session.last_seen) < self.limits.idle
            && now.duration_since(session.created) < self.limits.absolute
    }

    fn lock_sessions(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn lock_sign_ins(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], SignIn>> {
        self.sign_ins.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The value of cookie `name` in the request, when it has the shape of one of our ids.
pub(crate) fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, value)| *key == name && ids::is_id(value))
        .map(|(_, value)| value.to_owned())
}

/// The `Set-Cookie` value of the session cookie: `HttpOnly`, `SameSite=Strict`, path
/// `/connect`, `Secure` unless the page is served on loopback over plain HTTP.
pub(crate) fn set_cookie(id: &str, max_age: Duration, secure: bool) -> String {
    format!(
        "{COOKIE_NAME}={id}; Path=/connect; Max-Age={}; HttpOnly; SameSite=Strict{}",
        max_age.as_secs(),
        if secure { "; Secure" } else { "" }
    )
}

/// The `Set-Cookie` value that removes the session cookie.
pub(crate) fn clear_cookie(secure: bool) -> String {
    format!(
        "{COOKIE_NAME}=; Path=/connect; Max-Age=0; HttpOnly; SameSite=Strict{}",
        if secure { "; Secure" } else { "" }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn sessions_rotate_on_sign_in_and_are_bounded() {
        let sessions = PageSessions::new(SessionLimits {
            max_sessions: 2,
            ..SessionLimits::default()
        });
        let (anon, state) = sessions.create(None).unwrap();
        assert!(state.user.is_none());
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("other=1; {COOKIE_NAME}={anon}")).unwrap(),
        );
        assert_eq!(sessions.get(&headers).unwrap().0, anon);
        let (signed, state) = sessions
            .sign_in(Some(&anon), SignedInUser::new("alice@example.com"))
            .unwrap();
        assert_ne!(signed, anon);
        assert!(sessions.get(&headers).is_none(), "the old id is dead");
        assert_eq!(state.user.unwrap().user.as_str(), "alice@example.com");
        // A flood of anonymous sessions evicts anonymous ones, never the signed-in one.
        for _ in 0..10 {
            sessions.create(None).unwrap();
        }
        assert_eq!(sessions.len(), 2);
        let mut signed_headers = HeaderMap::new();
        signed_headers.insert(
            COOKIE,
            HeaderValue::from_str(&format!("{COOKIE_NAME}={signed}")).unwrap(),
        );
        assert!(sessions.get(&signed_headers).is_some());
        assert!(
            set_cookie(&signed, Duration::from_secs(60), true)
                .contains("HttpOnly; SameSite=Strict; Secure")
        );
        assert!(!set_cookie(&signed, Duration::from_secs(60), false).contains("Secure"));
    }
}
