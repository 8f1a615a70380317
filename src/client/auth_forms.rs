//! The forms of the auth header an endpoint may accept, and which one it does, learnt once per
//! client (per endpoint) and then used for every user.
//!
//! A server may document several forms of the same credential (PagerDuty's MCP API schema
//! documents `Token token=<token>` and `Bearer <token>`; a widely used gateway guide sends
//! `Token <token>`), and answer 401 to the others as it would to a bad token. While no form has
//! been accepted, a connection refused with 401 is tried once more in another form: the one the
//! server's `WWW-Authenticate` challenge names (a Bearer server must send one), else the first
//! alternative. (Not the next one after a second 401: that 401 may be a revoked token's, and
//! would turn every later connection away from a form that works.) The first form that
//! opens a session is kept for every later connection (logged once at INFO), so a token that
//! is really revoked costs at most two requests while the endpoint is being learnt and one
//! afterwards (two when the server's challenge names another form), and never a loop.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use http::HeaderValue;

use crate::auth::AuthScheme;

/// No form accepted yet.
const UNSETTLED: usize = usize::MAX;

/// The forms, in order of preference (the server's configured scheme first), and what was
/// learnt of them.
#[derive(Debug)]
pub(crate) struct AuthForms {
    forms: Vec<AuthScheme>,
    /// The index of the form the endpoint accepted, or [`UNSETTLED`].
    settled: AtomicUsize,
    /// The form named by the latest 401's `WWW-Authenticate`, or [`UNSETTLED`].
    challenged: AtomicUsize,
    logged: AtomicBool,
}

impl AuthForms {
    /// `scheme` first, then the `fallbacks` that put the credential in the same header.
    pub(crate) fn new(scheme: &AuthScheme, fallbacks: &[AuthScheme]) -> Self {
        let mut forms = vec![scheme.clone()];
        for fallback in fallbacks {
            if fallback.sends_credential()
                && fallback.header_name() == scheme.header_name()
                && !forms.contains(fallback)
            {
                forms.push(fallback.clone());
            }
        }
        if !scheme.sends_credential() {
            forms.truncate(1);
        }
        AuthForms {
            forms,
            settled: AtomicUsize::new(UNSETTLED),
            challenged: AtomicUsize::new(UNSETTLED),
            logged: AtomicBool::new(false),
        }
    }

    /// The form at `index` (0: the configured scheme).
    pub(crate) fn get(&self, index: usize) -> &AuthScheme {
        &self.forms[index.min(self.forms.len() - 1)]
    }

    /// The form a connection starts with: the accepted one, else the configured scheme.
    pub(crate) fn first(&self) -> usize {
        match self.settled.load(Ordering::Acquire) {
            UNSETTLED => 0,
            index => index,
        }
    }

    /// The form to try after `tried` was refused with 401: the one the server's challenge
    /// named, else (while the endpoint is still being learnt) the first alternative. Once a form
    /// is accepted, only a challenge naming another form is tried (a server may take tokens of
    /// different kinds in different forms), so a revoked token still costs one request there.
    pub(crate) fn retry_after_401(&self, tried: usize) -> Option<usize> {
        if self.forms.len() < 2 {
            return None;
        }
        let challenged = self.challenged.swap(UNSETTLED, Ordering::AcqRel);
        let candidate = match (challenged, self.settled.load(Ordering::Acquire)) {
            (UNSETTLED, UNSETTLED) => 1,
            (UNSETTLED, _) => return None,
            (challenged, _) => challenged,
        };
        (candidate != tried).then_some(candidate)
    }

    /// The form at `index` opened a session: every later connection uses it.
    pub(crate) fn accepted(&self, index: usize, server: &str) {
        if self
            .settled
            .compare_exchange(UNSETTLED, index, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
            && index != 0
            && !self.logged.swap(true, Ordering::AcqRel)
        {
            tracing::info!(
                server,
                refused = %self.forms[0],
                accepted = %self.forms[index],
                "the server refused the configured auth header form and accepted another; using it for every user of this endpoint"
            );
        }
    }

    /// Notes a 401's `WWW-Authenticate` challenge: the form whose prefix starts with the
    /// challenge's scheme name (`Bearer`, `Token`), if one does.
    pub(crate) fn note_challenge(&self, challenge: Option<&HeaderValue>) {
        let Some(scheme) = challenge
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split_whitespace().next())
        else {
            return;
        };
        let named = self.forms.iter().position(|form| {
            form.prefix()
                .split_whitespace()
                .next()
                .is_some_and(|word| word.eq_ignore_ascii_case(scheme))
        });
        if let Some(index) = named {
            self.challenged.store(index, Ordering::Release);
        }
    }

    /// The form an auth header value was made with (the longest prefix that starts it).
    pub(crate) fn of(&self, value: &HeaderValue) -> &AuthScheme {
        let bytes = value.as_bytes();
        self.forms
            .iter()
            .filter(|form| bytes.starts_with(form.prefix().as_bytes()))
            .max_by_key(|form| form.prefix().len())
            .unwrap_or(&self.forms[0])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forms() -> AuthForms {
        AuthForms::new(
            &AuthScheme::token(),
            &[AuthScheme::token_equals(), AuthScheme::bearer()],
        )
    }

    #[test]
    fn a_challenge_picks_the_retry_else_the_first_alternative() {
        let forms = forms();
        assert_eq!(forms.first(), 0);
        forms.note_challenge(Some(&HeaderValue::from_static("Bearer realm=\"x\"")));
        assert_eq!(forms.retry_after_401(0), Some(2));
        // The challenge was for that 401 only.
        assert_eq!(forms.retry_after_401(0), Some(1));
        // A challenge for the form just refused names nothing new.
        forms.note_challenge(Some(&HeaderValue::from_static("Token")));
        assert_eq!(forms.retry_after_401(0), None);
    }

    #[test]
    fn once_a_form_is_accepted_it_is_used_and_nothing_is_retried() {
        let forms = forms();
        forms.accepted(1, "test");
        assert_eq!(forms.first(), 1);
        assert_eq!(forms.retry_after_401(1), None);
        // Settled, a challenge naming another form is still tried (another kind of token).
        forms.note_challenge(Some(&HeaderValue::from_static("Bearer")));
        assert_eq!(forms.retry_after_401(1), Some(2));
        forms.accepted(2, "test");
        assert_eq!(forms.first(), 1, "the first accepted form stays");
    }

    #[test]
    fn the_form_of_a_header_is_its_longest_prefix() {
        let forms = forms();
        let value = HeaderValue::from_static("Token token=abc");
        assert_eq!(forms.of(&value), &AuthScheme::token_equals());
        let value = HeaderValue::from_static("Token abc");
        assert_eq!(forms.of(&value), &AuthScheme::token());
    }

    #[test]
    fn a_single_form_or_another_header_never_retries() {
        let single = AuthForms::new(&AuthScheme::token(), &[]);
        assert_eq!(single.retry_after_401(0), None);
        let custom = AuthScheme::custom("X-Api-Key", "").unwrap();
        let other_header = AuthForms::new(&custom, &[AuthScheme::bearer()]);
        assert_eq!(other_header.retry_after_401(0), None);
    }
}
