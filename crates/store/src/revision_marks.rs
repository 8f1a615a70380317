//! The newest revision of each user's entry this process has seen: a whole earlier row put back
//! (for example from a backup, to bring back a token since rotated or revoked) carries an older
//! revision of the same entry, and is refused.
//!
//! An entry is told from a later one of the same user by its creation time (bound into each
//! seal): a user deleted and added again starts a new entry, at revision 1, and is not mistaken
//! for a rollback. A mark is only held against a row read after the mark was known, so that a
//! lookup that started before a newer revision was seen (and read the older one legitimately)
//! is not refused. Marks hold no secret (a user id and two integers) and live as long as the
//! process: one per user seen.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

use pagerduty_mcp_connect::UserId;

#[derive(Default)]
pub(crate) struct RevisionMarks {
    marks: Mutex<HashMap<UserId, Mark>>,
}

#[derive(Clone, Copy)]
struct Mark {
    created_at: i64,
    revision: i64,
    /// When this process learned of the revision.
    known_at: Instant,
}

impl RevisionMarks {
    fn lock(&self) -> MutexGuard<'_, HashMap<UserId, Mark>> {
        self.marks.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Whether a row of `user`'s entry `created_at` at `revision`, read by a lookup that
    /// started at `read_started`, is older than a revision known before that: `Err` with the
    /// newest revision seen.
    pub(crate) fn check(
        &self,
        user: &UserId,
        created_at: i64,
        revision: i64,
        read_started: Instant,
    ) -> Result<(), i64> {
        match self.lock().get(user) {
            Some(mark)
                if mark.created_at == created_at
                    && revision < mark.revision
                    && mark.known_at <= read_started =>
            {
                Err(mark.revision)
            }
            _ => Ok(()),
        }
    }

    /// Notes that `user`'s entry `created_at` is at `revision` (known now).
    pub(crate) fn observe(&self, user: &UserId, created_at: i64, revision: i64) {
        let now = Instant::now();
        let mut marks = self.lock();
        match marks.get_mut(user) {
            Some(mark) if mark.created_at == created_at => {
                if revision > mark.revision {
                    mark.revision = revision;
                    mark.known_at = now;
                }
            }
            _ => {
                marks.insert(
                    user.clone(),
                    Mark {
                        created_at,
                        revision,
                        known_at: now,
                    },
                );
            }
        }
    }

    /// The user's entry was deleted through this process.
    pub(crate) fn forget(&self, user: &UserId) {
        self.lock().remove(user);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_revision_of_the_same_entry_is_refused_once_a_newer_one_was_known() {
        let marks = RevisionMarks::default();
        let alice = UserId::from("alice");
        let before = Instant::now();
        marks.observe(&alice, 100, 3);
        let after = Instant::now();
        assert_eq!(marks.check(&alice, 100, 2, after), Err(3));
        assert_eq!(marks.check(&alice, 100, 3, after), Ok(()));
        // A read that started before revision 3 was known may have seen revision 2.
        assert_eq!(marks.check(&alice, 100, 2, before), Ok(()));
        // A new entry (deleted and added again) starts over.
        assert_eq!(marks.check(&alice, 200, 1, after), Ok(()));
        marks.observe(&alice, 200, 1);
        assert_eq!(marks.check(&alice, 200, 1, Instant::now()), Ok(()));
        // Marks never go backwards.
        marks.observe(&alice, 200, 5);
        marks.observe(&alice, 200, 4);
        assert_eq!(marks.check(&alice, 200, 4, Instant::now()), Err(5));
    }
}
