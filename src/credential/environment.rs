//! A credential read from an environment variable.

use async_trait::async_trait;

use super::{Credential, CredentialError, CredentialProvider, UserId};

/// The credential in an environment variable, `PAGERDUTY_USER_API_TOKEN` by default, for every
/// user. The variable is read on each call, so a restart is not needed after it changes.
///
/// An unset or empty variable is [`CredentialError::NotFound`], so an [`EnvCredential`] can sit at
/// the front of a [`CredentialChain`](super::CredentialChain).
#[derive(Debug, Clone)]
pub struct EnvCredential {
    variable: String,
}

impl EnvCredential {
    /// The variable PagerDuty's own tools read the User API Token from.
    pub const DEFAULT_VARIABLE: &'static str = "PAGERDUTY_USER_API_TOKEN";

    /// Reads [`EnvCredential::DEFAULT_VARIABLE`].
    pub fn new() -> Self {
        Self::from_variable(Self::DEFAULT_VARIABLE)
    }

    /// Reads the variable `name`.
    pub fn from_variable(name: impl Into<String>) -> Self {
        EnvCredential {
            variable: name.into(),
        }
    }

    /// The name of the variable read.
    pub fn variable(&self) -> &str {
        &self.variable
    }
}

impl Default for EnvCredential {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl CredentialProvider for EnvCredential {
    async fn credential(&self, user: &UserId) -> Result<Credential, CredentialError> {
        match std::env::var(&self.variable) {
            Ok(value) if !value.trim().is_empty() => Ok(Credential::new(value)),
            Ok(_) | Err(std::env::VarError::NotPresent) => {
                Err(CredentialError::NotFound { user: user.clone() })
            }
            Err(std::env::VarError::NotUnicode(_)) => Err(CredentialError::unavailable(format!(
                "the environment variable {} is not valid Unicode",
                self.variable
            ))),
        }
    }
}
