//! `users.toml`: the gateway's users and their gateway keys (the file format belongs to this
//! command line, not to the gateway library). Tokens belong in the credential store; a file that
//! still holds them is imported into it (see `token_store`).

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use toml::Spanned;

use pagerduty_mcp_connect::AuthScheme;
use pagerduty_mcp_connect::UserId;
use pagerduty_mcp_connect_gateway::{GatewayKeys, KeyError, check_key};

/// The users of a gateway, read from a `users.toml` file.
///
/// One `[[user]]` table per user: `id` (the gateway's name for the user), `key` (the gateway key
/// the user's agent sends as `Authorization: Bearer <key>`, at least
/// [`MIN_KEY_LENGTH`](pagerduty_mcp_connect_gateway::MIN_KEY_LENGTH) characters). A user may
/// have several keys with `keys = [...]` instead of `key`. `key_sha256` (or `keys_sha256`) gives
/// a key by its SHA-256 digest instead (`printf %s "$KEY" | sha256sum`), so that the file never
/// holds the key itself. The older `token` (the user's
/// PagerDuty User API Token) or `token_env` (an environment variable holding it) are still read,
/// to be imported into the credential store once.
///
/// A mistake names the line and never shows a token (see the tests below).
#[derive(Debug, Clone, Default)]
pub struct UsersFile {
    keys: GatewayKeys,
    path: String,
    user_ids: Vec<UserId>,
    /// Each user's token, and why there is none (for `--mock`, which fills the gaps).
    tokens: Vec<UserToken>,
}

/// A user's token as the file gives it (to import into the store, and for `--mock`).
#[derive(Debug, Clone)]
pub struct UserToken {
    /// The user.
    pub user: UserId,
    /// The token (`None`: missing, and `missing` says why).
    pub token: Option<SecretString>,
    /// Why there is no token (`token_env` unset, …).
    #[cfg_attr(not(feature = "mock"), allow(dead_code))]
    pub missing: Option<String>,
}

/// Why a `users.toml` file cannot be used. The message names the file and line and never holds a
/// token or a gateway key.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum UsersFileError {
    /// The file cannot be read.
    #[error("cannot read {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is not valid, or a user entry is wrong.
    #[error("{file}:{line}: {message}")]
    Invalid {
        /// The file's name, as given.
        file: String,
        /// The 1-based line the problem is on.
        line: usize,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[serde(default)]
    user: Vec<Spanned<RawUser>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUser {
    id: Option<Spanned<String>>,
    key: Option<Spanned<SecretString>>,
    keys: Option<Vec<Spanned<SecretString>>>,
    key_sha256: Option<Spanned<String>>,
    keys_sha256: Option<Vec<Spanned<String>>>,
    token: Option<Spanned<SecretString>>,
    token_env: Option<Spanned<String>>,
}

impl UsersFile {
    /// Reads `path`, taking `token_env` values from the process environment. A user without a
    /// token (neither `token` nor `token_env`, or `token_env` unset or empty) is not an error:
    /// the credential store holds the user's token, and [`UsersFile::tokens`] says why the file
    /// has none.
    pub fn load(path: impl AsRef<Path>) -> Result<UsersFile, UsersFileError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| UsersFileError::Read {
            path: path.to_owned(),
            source,
        })?;
        Self::parse_with_env(&text, &path.display().to_string(), |name| {
            std::env::var(name).ok()
        })
    }

    /// Parses `text` (named `file` in messages), looking `token_env` names up with `env`.
    pub fn parse_with_env(
        text: &str,
        file: &str,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<UsersFile, UsersFileError> {
        let fail = |span: Range<usize>, message: String| UsersFileError::Invalid {
            file: file.to_owned(),
            line: line_of(text, span.start),
            message,
        };
        let raw: RawFile = toml::from_str(text).map_err(|err| {
            let span = err.span().unwrap_or(0..0);
            fail(
                span.clone(),
                describe_parse_error(text, span, err.message()),
            )
        })?;
        if raw.user.is_empty() {
            return Err(fail(
                0..0,
                "no users: add one `[[user]]` table per user with its `id` and `key`".to_owned(),
            ));
        }
        let keys = GatewayKeys::new();
        let mut user_ids: Vec<UserId> = Vec::new();
        let mut tokens: Vec<UserToken> = Vec::new();
        for entry in raw.user {
            let table = entry.span();
            let user = entry.into_inner();
            let Some(id) = user.id else {
                return Err(fail(table, "a user has no `id`".to_owned()));
            };
            let id_span = id.span();
            let id = id.into_inner();
            if id.trim().is_empty() || id.chars().any(char::is_control) {
                return Err(fail(
                    id_span,
                    "`id` must be a non-empty name without control characters".to_owned(),
                ));
            }
            let user_id = UserId::from(id.as_str());
            if user_ids.contains(&user_id) {
                return Err(fail(id_span, format!("user {id} is listed twice")));
            }
            let mut user_keys: Vec<Spanned<SecretString>> = user.keys.unwrap_or_default();
            user_keys.extend(user.key);
            let mut user_digests: Vec<Spanned<String>> = user.keys_sha256.unwrap_or_default();
            user_digests.extend(user.key_sha256);
            if user_keys.is_empty() && user_digests.is_empty() {
                return Err(fail(
                    table,
                    format!(
                        "user {id} has no `key` (the gateway key their agent sends as `Authorization: Bearer <key>`) nor `key_sha256` (its SHA-256 digest)"
                    ),
                ));
            }
            for key in &user_keys {
                let span = key.span();
                let secret = key.get_ref();
                check_key(secret.expose_secret())
                    .map_err(|err| fail(span.clone(), format!("user {id}: {err}")))?;
                match keys.insert(secret.clone(), user_id.clone()) {
                    Ok(()) => {}
                    Err(KeyError::Duplicate(owner)) => {
                        return Err(fail(
                            span,
                            format!(
                                "user {id}: this gateway key is already given to user {owner}; every key must be unique"
                            ),
                        ));
                    }
                    Err(err) => return Err(fail(span, format!("user {id}: {err}"))),
                }
            }
            for digest in &user_digests {
                let span = digest.span();
                match keys.insert_sha256(digest.get_ref(), user_id.clone()) {
                    Ok(()) => {}
                    Err(KeyError::Duplicate(owner)) => {
                        return Err(fail(
                            span,
                            format!(
                                "user {id}: this gateway key is already given to user {owner}; every key must be unique"
                            ),
                        ));
                    }
                    Err(err) => return Err(fail(span, format!("user {id}: {err}"))),
                }
            }
            let (token, span) = match (user.token, user.token_env) {
                (Some(_), Some(env_name)) => {
                    return Err(fail(
                        env_name.span(),
                        format!("user {id} has both `token` and `token_env`: keep one"),
                    ));
                }
                (None, None) => {
                    tokens.push(UserToken {
                        user: user_id.clone(),
                        token: None,
                        missing: Some("it has neither `token` nor `token_env`".to_owned()),
                    });
                    user_ids.push(user_id);
                    continue;
                }
                (Some(token), None) => {
                    let span = token.span();
                    (token.into_inner(), span)
                }
                (None, Some(env_name)) => {
                    let span = env_name.span();
                    let name = env_name.into_inner();
                    match env(&name).filter(|v| !v.trim().is_empty()) {
                        Some(value) => (SecretString::from(value), span),
                        None if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') => {
                            tokens.push(UserToken {
                                user: user_id.clone(),
                                token: None,
                                missing: Some(format!("its token_env {name} is not set or empty")),
                            });
                            user_ids.push(user_id);
                            continue;
                        }
                        None => {
                            // Not a variable name: perhaps the token itself, never repeated.
                            return Err(fail(
                                span,
                                format!(
                                    "user {id}: token_env must name an environment variable (letters, digits, _); its value is not shown"
                                ),
                            ));
                        }
                    }
                }
            };
            if token.expose_secret().trim().is_empty() {
                return Err(fail(span, format!("user {id}: the token is empty")));
            }
            if let Err(err) = AuthScheme::token().header_value(&token) {
                return Err(fail(span, format!("user {id}: {err}")));
            }
            tokens.push(UserToken {
                user: user_id.clone(),
                token: Some(token),
                missing: None,
            });
            user_ids.push(user_id);
        }
        Ok(UsersFile {
            keys,
            path: file.to_owned(),
            user_ids,
            tokens,
        })
    }

    /// Each user's token as the file gives it (or why it has none), in the file's order.
    pub fn tokens(&self) -> &[UserToken] {
        &self.tokens
    }

    /// The gateway keys and their users.
    pub fn keys(&self) -> &GatewayKeys {
        &self.keys
    }

    /// The file's name, as given.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The users, in the file's order.
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn user_ids(&self) -> &[UserId] {
        &self.user_ids
    }
}

impl fmt::Display for UsersFile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} users, {} gateway keys",
            self.user_ids.len(),
            self.keys.len()
        )
    }
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    let offset = offset.min(text.len());
    text.as_bytes()[..offset]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// The parser's message, unless the line it is about may hold a secret: then a message that does
/// not repeat the value.
fn describe_parse_error(text: &str, span: Range<usize>, message: &str) -> String {
    let line_start = text[..span.start.min(text.len())]
        .rfind('\n')
        .map_or(0, |i| i + 1);
    let line = text[line_start..].lines().next().unwrap_or("");
    // Any mention of a secret field on the line (bare or quoted key, inline table), or a parser
    // message that may quote the offending value (serde's "invalid type: string \"…\""), and
    // nothing of the value is repeated.
    let secret_line = ["token", "key", "keys"].iter().any(|name| {
        line.match_indices(name).any(|(at, _)| {
            line[at + name.len()..]
                .trim_start_matches(['"', '\''])
                .trim_start()
                .starts_with('=')
        })
    });
    let quotes_a_value = message.contains("invalid type") || message.contains("invalid value");
    if secret_line || quotes_a_value {
        "this line cannot be read (its value is not shown because it may be a secret): write it as name = \"value\"".to_owned()
    } else {
        message.trim().to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<UsersFile, UsersFileError> {
        UsersFile::parse_with_env(text, "users.toml", |name| match name {
            "SET" => Some("u+from-env".to_owned()),
            "EMPTY" => Some(String::new()),
            _ => None,
        })
    }

    fn error(text: &str) -> (usize, String) {
        match parse(text).unwrap_err() {
            UsersFileError::Invalid { line, message, .. } => (line, message),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn the_documented_example() {
        let text = r#"
        [[user]]
        id = "alice@example.com"
        key = "gk_alice_0123456789abcdef"
        token_env = "ALICE_PAGERDUTY_TOKEN"

        [[user]]
        id = "bob@example.com"
        key = "gk_bob_0123456789abcdef00"
        token = "u+bob-token"
        "#;
        let env =
            |name: &str| (name == "ALICE_PAGERDUTY_TOKEN").then(|| "u+alice-token".to_owned());
        let users = UsersFile::parse_with_env(text, "users.toml", env).unwrap();
        assert_eq!(users.user_ids().len(), 2);
        assert_eq!(
            users
                .keys()
                .user_for("gk_bob_0123456789abcdef00")
                .unwrap()
                .as_str(),
            "bob@example.com"
        );

        // The tokens are read (to import into the store), never required.
        let tokens = users.tokens();
        assert!(tokens.iter().all(|t| t.token.is_some()));
        let users = UsersFile::parse_with_env(
            "[[user]]\nid = \"carol\"\nkey = \"gk_carol_0123456789abc\"\n",
            "users.toml",
            env,
        )
        .unwrap();
        assert!(users.tokens()[0].token.is_none());
    }

    const KEY_A: &str = "gk_a_0123456789abcdef";
    const KEY_B: &str = "gk_b_0123456789abcdef";

    #[test]
    fn reads_users() {
        let text = format!(
            "[[user]]\nid = \"a\"\nkey = \"{KEY_A}\"\ntoken = \"u+a\"\n\n[[user]]\nid = \"b\"\nkeys = [\"{KEY_B}\"]\ntoken_env = \"SET\"\n"
        );
        let users = parse(&text).unwrap();
        assert_eq!(users.user_ids(), &[UserId::from("a"), UserId::from("b")]);
        assert_eq!(users.keys().user_for(KEY_B), Some(UserId::from("b")));
        assert!(users.tokens().iter().all(|t| t.token.is_some()));
    }

    #[test]
    fn a_key_may_be_given_by_its_sha256_digest() {
        // printf %s gk_a_0123456789abcdef | sha256sum
        let real = "a88898b18bc2c54cf156bb157d5f5ba2005381327fc4b3e07471e4c04c534a36";
        let text = format!("[[user]]\nid = \"a\"\nkey_sha256 = \"{real}\"\n");
        let users = parse(&text).unwrap();
        assert_eq!(users.keys().user_for(KEY_A), Some(UserId::from("a")));
        let (line, message) = error("[[user]]\nid = \"a\"\nkey_sha256 = \"abc\"\n");
        assert_eq!(line, 3);
        assert!(message.contains("64 hexadecimal digits"), "{message}");
    }

    #[test]
    fn a_user_without_a_token_in_the_file_says_why() {
        let text = format!(
            "[[user]]\nid = \"a\"\nkey = \"{KEY_A}\"\n\n[[user]]\nid = \"b\"\nkey = \"{KEY_B}\"\ntoken_env = \"MISSING\"\n"
        );
        let users = parse(&text).unwrap();
        let why: Vec<_> = users
            .tokens()
            .iter()
            .map(|t| (t.token.is_none(), t.missing.clone().unwrap_or_default()))
            .collect();
        assert!(why[0].0 && why[0].1.contains("neither"), "{why:?}");
        assert!(why[1].0 && why[1].1.contains("MISSING"), "{why:?}");
    }

    #[test]
    fn mistakes_name_the_line_and_never_the_secret() {
        let secret = "u+very-secret-token";
        let cases: Vec<(String, usize, &str)> = vec![
            (String::new(), 1, "no users"),
            (
                format!(
                    "[[user]]\nid = \"a\"\nkey = \"{KEY_A}\"\ntoken = \"{secret}\"\ntoken_env = \"SET\"\n"
                ),
                5,
                "both",
            ),
            (
                format!("[[user]]\nid = \"a\"\nkey = \"short\"\ntoken = \"{secret}\"\n"),
                3,
                "too short",
            ),
            (
                format!("[[user]]\nid = \"a\"\nkey = \"{KEY_A}\"\ntoken = \"{secret}\\r\\nX\"\n"),
                4,
                "invalid credential",
            ),
            (
                format!("[[user]]\nid = \"a\"\nkey = \"{KEY_A}\"\ntoken = {secret}\n"),
                4,
                "may be a secret",
            ),
            (
                format!(
                    "[[user]]\nid = \"a\"\nkey = \"{KEY_A}\"\ntoken = \"{secret}\"\ncolour = \"red\"\n"
                ),
                5,
                "colour",
            ),
            (
                format!(
                    "[[user]]\nid = \"a\"\nkey = \"{KEY_A}\"\ntoken = \"{secret}\"\n[[user]]\nid = \"a\"\nkey = \"{KEY_B}\"\ntoken = \"{secret}\"\n"
                ),
                6,
                "twice",
            ),
            (
                format!(
                    "[[user]]\nid = \"a\"\nkey = \"{KEY_A}\"\ntoken = \"{secret}\"\n[[user]]\nid = \"b\"\nkey = \"{KEY_A}\"\ntoken = \"{secret}\"\n"
                ),
                7,
                "already given to user a",
            ),
            (
                format!("[[user]]\nkey = \"{KEY_A}\"\ntoken = \"{secret}\"\n"),
                1,
                "no `id`",
            ),
            // A quoted field name, an inline table, a type error quoting the value, a token
            // pasted where the variable's name belongs: the value is never repeated.
            (
                format!("[[user]]\nid = \"a\"\n\"keys\" = \"{KEY_A}\"\ntoken = \"{secret}\"\n"),
                3,
                "not shown",
            ),
            (
                format!("user = [{{ id = \"a\", keys = \"{KEY_A}\", token = \"{secret}\" }}]\n"),
                1,
                "not shown",
            ),
            (
                format!("[[user]]\nid = \"a\"\nkey = \"{KEY_A}\"\ntoken_env = \"{secret}\"\n"),
                4,
                "not shown",
            ),
        ];
        for (text, line, needle) in cases {
            let (got_line, message) = error(&text);
            assert_eq!(got_line, line, "line for {text:?}: {message}");
            assert!(
                message.contains(needle),
                "{message:?} should mention {needle:?}"
            );
            assert!(!message.contains(secret), "{message:?} leaks the token");
            assert!(!message.contains(KEY_A), "{message:?} leaks a key");
        }
    }
}
