//! What a [`rekey`](super::SqlCredentialStore::rekey) did.

use pagerduty_mcp_connect::UserId;

use crate::error::StoreError;

/// The outcome of [`SqlCredentialStore::rekey`](super::SqlCredentialStore::rekey): how many rows
/// were resealed under the store's key, and the users whose rows could not be.
///
/// A row that cannot be opened (sealed under a key the store was not given, or tampered with)
/// costs its user only: the rekey goes on past it and names the user here. Once those users
/// have new tokens (or the missing key is given as a
/// [`previous_key`](super::SqlCredentialStoreBuilder::previous_key)), rekey again: the key
/// change is complete when [`is_complete`](RekeyReport::is_complete) says so.
#[non_exhaustive]
#[derive(Debug, Default)]
pub struct RekeyReport {
    /// How many rows were resealed (under the new key, or under the current seal version).
    pub resealed: usize,
    /// The users whose rows could not be resealed, in user order, with why.
    pub failed: Vec<RekeyFailure>,
}

impl RekeyReport {
    /// Whether every row the rekey looked at is now sealed under the store's key.
    pub fn is_complete(&self) -> bool {
        self.failed.is_empty()
    }
}

/// A user whose row a rekey could not reseal.
#[non_exhaustive]
#[derive(Debug)]
pub struct RekeyFailure {
    /// The user.
    pub user: UserId,
    /// Why: [`StoreError::UnknownKey`] (sealed under a key the store was not given) or
    /// [`StoreError::Unsealable`] (tampered with); never a token.
    pub error: StoreError,
}
