//! The agents' session-era sessions as the gateway sees them: which user opened each (so that
//! another user's agent cannot use or listen to it), what the agent declared in `initialize`
//! (for the [direct path](super::direct)), and when it was last used (the gateway ends idle
//! sessions itself, because requests on the direct path never reach rmcp's session).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use pagerduty_mcp_connect::UserId;

/// How long a session may go without a request before the gateway ends it (rmcp's own default
/// keep-alive, which the gateway turns off in favour of this).
pub(crate) const SESSION_IDLE_LIMIT: Duration = Duration::from_secs(300);

/// What a session-era agent declared in its `initialize`, recorded once it is initialized.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Declared {
    /// The protocol version the session negotiated.
    pub(crate) version: String,
    pub(crate) elicitation: bool,
    pub(crate) sampling: bool,
}

#[derive(Debug)]
struct AgentSession {
    user: UserId,
    declared: Option<Declared>,
    last_used: Instant,
}

/// The agents' sessions, by `Mcp-Session-Id`.
#[derive(Debug, Default)]
pub(crate) struct AgentSessions {
    sessions: Mutex<HashMap<String, AgentSession>>,
}

impl AgentSessions {
    /// The user who opened `session`.
    pub(crate) fn owner(&self, session: &str) -> Option<UserId> {
        self.lock().get(session).map(|entry| entry.user.clone())
    }

    /// Records a use of `session` (a request of its own user, or the end of one).
    pub(crate) fn touch(&self, session: &str) {
        if let Some(entry) = self.lock().get_mut(session) {
            entry.last_used = Instant::now();
        }
    }

    /// Whether the gateway knows `session`.
    pub(crate) fn knows(&self, session: &str) -> bool {
        self.lock().contains_key(session)
    }

    /// Records that `user` opened `session`.
    pub(crate) fn bind(&self, session: String, user: UserId) {
        self.lock().insert(
            session,
            AgentSession {
                user,
                declared: None,
                last_used: Instant::now(),
            },
        );
    }

    /// Forgets `session` (ended by its agent or by the gateway).
    pub(crate) fn unbind(&self, session: &str) {
        self.lock().remove(session);
    }

    /// Records what the agent of `user`'s `session` declared; ignored for a session `user` did
    /// not open.
    pub(crate) fn declare(&self, session: &str, user: &UserId, declared: Declared) {
        if let Some(entry) = self.lock().get_mut(session)
            && &entry.user == user
        {
            entry.declared = Some(declared);
        }
    }

    /// What the agent of `user`'s initialized `session` declared.
    pub(crate) fn declared(&self, session: &str, user: &UserId) -> Option<Declared> {
        let sessions = self.lock();
        let entry = sessions.get(session)?;
        (&entry.user == user).then(|| entry.declared.clone())?
    }

    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Keeps only the sessions `alive` says exist.
    pub(crate) fn retain(&self, alive: impl Fn(&str) -> bool) {
        self.lock().retain(|id, _| alive(id));
    }

    /// The sessions unused for `limit` or longer.
    pub(crate) fn idle(&self, limit: Duration) -> Vec<String> {
        let now = Instant::now();
        self.lock()
            .iter()
            .filter(|(_, entry)| now.duration_since(entry.last_used) >= limit)
            .map(|(id, _)| id.clone())
            .collect()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, AgentSession>> {
        self.sessions.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn declared() -> Declared {
        Declared {
            version: "2025-11-25".into(),
            elicitation: false,
            sampling: false,
        }
    }

    #[test]
    fn only_the_owner_declares_and_reads() {
        let sessions = AgentSessions::default();
        let (alice, bob) = (UserId::from("alice"), UserId::from("bob"));
        sessions.bind("s1".into(), alice.clone());
        assert_eq!(sessions.declared("s1", &alice), None, "not initialized yet");
        sessions.declare("s1", &bob, declared());
        assert_eq!(sessions.declared("s1", &alice), None, "bob cannot declare");
        sessions.declare("s1", &alice, declared());
        assert_eq!(sessions.declared("s1", &alice), Some(declared()));
        assert_eq!(sessions.declared("s1", &bob), None);
        assert_eq!(sessions.owner("s1"), Some(alice));
        sessions.unbind("s1");
        assert_eq!(sessions.owner("s1"), None);
    }

    #[test]
    fn idle_sessions_are_listed_and_use_refreshes() {
        let sessions = AgentSessions::default();
        sessions.bind("old".into(), UserId::from("a"));
        std::thread::sleep(Duration::from_millis(30));
        sessions.bind("new".into(), UserId::from("b"));
        assert_eq!(
            sessions.idle(Duration::from_millis(20)),
            vec!["old".to_owned()]
        );
        sessions.owner("old");
        assert_eq!(
            sessions.idle(Duration::from_millis(20)),
            vec!["old".to_owned()],
            "asking who owns it is no use"
        );
        sessions.touch("old");
        assert!(sessions.idle(Duration::from_millis(20)).is_empty());
        assert!(sessions.knows("new") && !sessions.knows("gone"));
    }
}
