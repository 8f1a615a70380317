//! `--mock`: every user of `users.toml` can use the embedded mock at once, with nothing copied
//! by hand. A user without a token (its `token_env` unset, say) gets one from the mock: the
//! token of the mock's own user with the same email address (`alice@example.com`, …), or a new
//! mock user with a token made up here. A user whose token the mock does not know is added to
//! the mock with that token. One line per user says what was done; no token is printed.

use secrecy::{ExposeSecret, SecretString};

use pagerduty_mcp_connect::CredentialProvider;
use pagerduty_mcp_connect_mock::{MockPagerDuty, MockUser};

use crate::token_store::{TokenStore, TokenStoreError};
use crate::users_file::UsersFile;

/// Gives each user of `users` a token the mock accepts, in `store`: the one `store` holds (the
/// users file's tokens are imported into it first), else the token of the mock's user with the
/// same email, else a new one.
pub(crate) async fn give_tokens(
    mock: &MockPagerDuty,
    users: &UsersFile,
    store: &TokenStore,
) -> Result<(), TokenStoreError> {
    let known = MockPagerDuty::default_users();
    let known_tokens = [
        MockPagerDuty::DEMO_TOKEN,
        MockPagerDuty::ALICE_TOKEN,
        MockPagerDuty::BOB_TOKEN,
    ];
    for (index, entry) in users.tokens().iter().enumerate() {
        let id = entry.user.as_str();
        let stored = store.credential(&entry.user).await.ok();
        match stored.as_ref().map(|credential| credential.secret()) {
            Some(token) if known_tokens.contains(&token.expose_secret()) => {
                eprintln!("--mock: user {id}: its token is one of the mock's users' tokens");
            }
            Some(token) => {
                mock.add_user(mock_user(index, id, token.expose_secret()));
                eprintln!(
                    "--mock: user {id}: added to the mock as a new user with its stored token"
                );
            }
            None => {
                let why = entry.missing.as_deref().unwrap_or("it has no token");
                let same_email = known
                    .iter()
                    .zip(known_tokens)
                    .find(|(user, _)| user.email().eq_ignore_ascii_case(id));
                let token = match same_email {
                    Some((user, token)) => {
                        eprintln!(
                            "--mock: user {id}: {why}; using the token of the mock's user {} ({})",
                            user.name(),
                            user.email()
                        );
                        token.to_owned()
                    }
                    None => {
                        let token = format!("u+MockGatewayUser{index:04}");
                        mock.add_user(mock_user(index, id, &token));
                        eprintln!(
                            "--mock: user {id}: {why}; added to the mock as a new user with a token made up for it"
                        );
                        token
                    }
                };
                store
                    .put_if_absent(&entry.user, SecretString::from(token))
                    .await?;
            }
        }
    }
    Ok(())
}

/// A mock user for the users file's user `id` (its email: `id` if it is one).
fn mock_user(index: usize, id: &str, token: &str) -> MockUser {
    let email = if id.contains('@') {
        id.to_owned()
    } else {
        format!(
            "{}@example.com",
            id.replace(|c: char| !c.is_ascii_alphanumeric(), ".")
        )
    };
    MockUser::new(format!("PGWUSER{index:04}"), id, email, "user", token)
}
