//! Remembered answers: an idempotency key's answer, kept with its write.

use super::*;
use crate::store::oldest_kept;
use crate::store::rows::remembered_of;

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
}

/// Stores an answer under its idempotency key (forgetting the expired ones).
pub(super) fn remember_answer(
    conn: &Connection,
    remember: &Remember,
    now: UtcMillis,
    answer: &str,
) -> Result<(), StoreError> {
    let oldest = oldest_kept(now, remember.ttl_hours);
    conn.prepare_cached("DELETE FROM idempotency WHERE created_ms < ?1")?
        .execute(params![oldest])?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idempotency (user, key, fingerprint, created_ms, answer) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![remember.user, remember.key, &remember.fingerprint[..], now.as_millis(), answer])?;
    Ok(())
}
