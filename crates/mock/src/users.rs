//! The users the mock knows, their tokens, and the check of a request's credential.

use std::fmt;
use std::sync::{Arc, RwLock};

use http::HeaderMap;
use secrecy::{ExposeSecret, SecretString};

use pagerduty_mcp_connect::AuthScheme;

/// A PagerDuty user the mock knows, with the User API Token(s) that authenticate as them.
///
/// Tokens are kept in [`SecretString`]s; `Debug` never prints them.
///
/// ```
/// use pagerduty_mcp_connect_mock::MockUser;
///
/// let carol = MockUser::new("PCAROL1", "Carol Example", "carol@example.com", "user", "u+carol-token");
/// assert_eq!(carol.id(), "PCAROL1");
/// assert!(!format!("{carol:?}").contains("u+carol-token"));
/// ```
#[derive(Clone)]
pub struct MockUser {
    profile: Arc<UserProfile>,
    tokens: Vec<SecretString>,
}

/// A user's public facts, shared by the data set and the request context.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserProfile {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) email: String,
    pub(crate) role: String,
}

impl MockUser {
    /// A user with PagerDuty id `id` (for example `"PABC123"`), display name, email, role
    /// (`admin`, `user`, `limited_user`, `observer`, `read_only_user` …) and one token.
    ///
    /// Users whose role starts with `read_only` or is `observer` may call read tools only: write
    /// tools answer them with an `isError` result ("Access denied", PagerDuty code 2010).
    pub fn new(
        id: impl Into<String>,
        name: impl Into<String>,
        email: impl Into<String>,
        role: impl Into<String>,
        token: impl Into<String>,
    ) -> Self {
        MockUser {
            profile: Arc::new(UserProfile {
                id: id.into(),
                name: name.into(),
                email: email.into(),
                role: role.into(),
            }),
            tokens: vec![SecretString::from(token.into())],
        }
    }

    /// Adds another token that authenticates as this user.
    #[must_use]
    pub fn with_token(mut self, token: impl Into<String>) -> Self {
        self.tokens.push(SecretString::from(token.into()));
        self
    }

    /// The user's PagerDuty id.
    pub fn id(&self) -> &str {
        &self.profile.id
    }

    /// The user's display name.
    pub fn name(&self) -> &str {
        &self.profile.name
    }

    /// The user's email address.
    pub fn email(&self) -> &str {
        &self.profile.email
    }

    /// The user's PagerDuty role.
    pub fn role(&self) -> &str {
        &self.profile.role
    }
}

impl fmt::Debug for MockUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockUser")
            .field("id", &self.profile.id)
            .field("name", &self.profile.name)
            .field("email", &self.profile.email)
            .field("role", &self.profile.role)
            .field("tokens", &format_args!("[{} redacted]", self.tokens.len()))
            .finish()
    }
}

impl UserProfile {
    /// Whether the role may call write tools.
    pub(crate) fn can_write(&self) -> bool {
        !(self.role.starts_with("read_only") || self.role == "observer")
    }
}

/// The outcome of checking a request's credential.
#[derive(Debug, Clone)]
pub(crate) struct AuthOutcome {
    /// Whether the configured auth header was present at all.
    pub(crate) present: bool,
    /// The user the credential belongs to, when it matched.
    pub(crate) user: Option<Arc<UserProfile>>,
}

/// The set of users, changeable while the mock runs.
pub(crate) struct Directory {
    scheme: AuthScheme,
    users: RwLock<Vec<MockUser>>,
}

impl Directory {
    pub(crate) fn new(scheme: AuthScheme, users: Vec<MockUser>) -> Self {
        Directory {
            scheme,
            users: RwLock::new(users),
        }
    }

    pub(crate) fn scheme(&self) -> &AuthScheme {
        &self.scheme
    }

    /// Checks the configured header: exactly one value, `<prefix><token>` (the prefix's scheme
    /// word compared without regard to case), the token one of a known user's.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> AuthOutcome {
        if !self.scheme.sends_credential() {
            // A server that needs no credential: everyone is its first user.
            let users = self.users.read().unwrap_or_else(|e| e.into_inner());
            return AuthOutcome {
                present: false,
                user: users.first().map(|u| u.profile.clone()),
            };
        }
        let mut values = headers.get_all(self.scheme.header_name()).iter();
        let Some(value) = values.next() else {
            return AuthOutcome {
                present: false,
                user: None,
            };
        };
        let rejected = AuthOutcome {
            present: true,
            user: None,
        };
        if values.next().is_some() {
            return rejected;
        }
        let Ok(value) = value.to_str() else {
            return rejected;
        };
        let prefix = self.scheme.prefix();
        let Some(head) = value.get(..prefix.len()) else {
            return rejected;
        };
        if !head.eq_ignore_ascii_case(prefix) {
            return rejected;
        }
        let token = &value[prefix.len()..];
        if token.is_empty() {
            return rejected;
        }
        AuthOutcome {
            present: true,
            user: self.user_by_token(token),
        }
    }

    /// The user one of whose tokens is `token`.
    pub(crate) fn user_by_token(&self, token: &str) -> Option<Arc<UserProfile>> {
        if token.is_empty() {
            return None;
        }
        let users = self.users.read().unwrap_or_else(|e| e.into_inner());
        users
            .iter()
            .find(|u| u.tokens.iter().any(|t| t.expose_secret() == token))
            .map(|u| u.profile.clone())
    }

    pub(crate) fn add_user(&self, user: MockUser) {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        if let Some(existing) = users.iter_mut().find(|u| u.id() == user.id()) {
            *existing = user;
        } else {
            users.push(user);
        }
    }

    pub(crate) fn add_token(&self, user_id: &str, token: String) -> bool {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        match users.iter_mut().find(|u| u.id() == user_id) {
            Some(user) => {
                user.tokens.push(SecretString::from(token));
                true
            }
            None => false,
        }
    }

    pub(crate) fn revoke_token(&self, token: &str) -> bool {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        let mut revoked = false;
        for user in users.iter_mut() {
            let before = user.tokens.len();
            user.tokens.retain(|t| t.expose_secret() != token);
            revoked |= user.tokens.len() != before;
        }
        revoked
    }

    pub(crate) fn remove_user(&self, user_id: &str) -> bool {
        let mut users = self.users.write().unwrap_or_else(|e| e.into_inner());
        let before = users.len();
        users.retain(|u| u.id() != user_id);
        users.len() != before
    }

    pub(crate) fn profiles(&self) -> Vec<Arc<UserProfile>> {
        let users = self.users.read().unwrap_or_else(|e| e.into_inner());
        users.iter().map(|u| u.profile.clone()).collect()
    }

    pub(crate) fn user_ids(&self) -> Vec<String> {
        let users = self.users.read().unwrap_or_else(|e| e.into_inner());
        users.iter().map(|u| u.id().to_owned()).collect()
    }
}
