//! Remembered answers: an idempotency key's answer, kept with its write.

use super::*;
use crate::store::oldest_kept;
use crate::store::rows::remembered_of;

/// Expired answers forgotten at most this many a write: more than one a write, so that
/// the forgetting keeps up with the remembering, and few, so that no write waits for it.
pub(super) const FORGET_AT_ONCE: i64 = 16;

impl SqliteStore {
    /// The answer remembered under a user's idempotency key, if it is not too old.
    pub fn remembered(
        &self,
        user: &str,
        key: &str,
        ttl_hours: u64,
        now: UtcMillis,
    ) -> Result<Option<Remembered>, StoreError> {
        let oldest = oldest_kept(now, ttl_hours);
        let row = self.conn.prepare_cached("SELECT fingerprint, answer FROM idempotency WHERE user = ?1 AND key = ?2 AND created_ms >= ?3")?.query_row(
                params![user, key, oldest],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?;
        row.map(|(fingerprint, answer)| remembered_of(fingerprint, answer))
            .transpose()
    }

    /// Before a write that remembers its answer: forgets answers past their time, oldest
    /// first (answers are stored in arrival order, so the first is the oldest; most writes
    /// ask nothing, see `delete_due`). A clock set back can keep an answer past its time by
    /// as much, never serve it: the look-up checks its age.
    pub(super) fn forget_expired_answers(
        &mut self,
        remember: Option<&Remember>,
        now: UtcMillis,
    ) -> Result<(), StoreError> {
        let Some(remember) = remember else {
            return Ok(());
        };
        delete_due(
            &self.conn,
            &mut self.first_answer_ms,
            [
                "SELECT created_ms FROM idempotency ORDER BY rowid LIMIT 1",
                "DELETE FROM idempotency WHERE rowid IN
                   (SELECT rowid FROM idempotency ORDER BY rowid LIMIT ?1) AND created_ms < ?2",
            ],
            oldest_kept(now, remember.ttl_hours),
            FORGET_AT_ONCE,
        )
    }
}

/// Stores an answer under its idempotency key (a reused expired key's answer replaced).
pub(super) fn remember_answer(
    conn: &Connection,
    remember: &Remember,
    now: UtcMillis,
    answer: &str,
) -> Result<(), StoreError> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idempotency (user, key, fingerprint, created_ms, answer) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![remember.user, remember.key, &remember.fingerprint[..], now.as_millis(), answer])?;
    Ok(())
}
