//! Remembered answers: an idempotency key's answer, kept with its write.

use rustc_hash::FxHashMap;
use sha2::{Digest, Sha256};

use super::*;
use crate::store::oldest_kept;
use crate::store::rows::remembered_of;

/// Expired answers forgotten at most this many a write: more than one a write, so that
/// the forgetting keeps up with the remembering, and few, so that no write waits for it.
pub(super) const FORGET_AT_ONCE: i64 = 16;

/// Where each idempotency key's newest answer is: its row in `idempotency`, by user and
/// key (`AnswerSlot`). Kept in memory by the connection that writes, read from the table
/// on first use, instead of an index in the file: a key is random, so its index entry
/// dirtied a page of its own in every commit (a third of the pages a sync wrote). Only a
/// guide: a look-up reads the row it names and takes it only if it is that user's key, so
/// a row rolled back, forgotten or given to another key since is no answer.
#[derive(Default)]
pub(super) struct AnswerRows(pub(super) FxHashMap<AnswerSlot, i64>);

/// A user's idempotency key as `AnswerRows` holds it: the first 16 bytes of the SHA-256
/// of both, rather than their text. The map then holds no text of its own (a key's text
/// was an allocation a write, and growing the map hashed every key's text again, a pause
/// on the writer that every write waited out). A hash clients cannot steer: two keys of
/// one slot would hide the older key's answer from its retry.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) struct AnswerSlot([u8; 16]);

impl AnswerSlot {
    pub(super) fn of(user: &str, key: &str) -> Self {
        let mut hasher = Sha256::new();
        // The user's length first, so that no two pairs meet (`t1` + `` and `t` + `1`).
        hasher.update((user.len() as u64).to_le_bytes());
        hasher.update(user.as_bytes());
        hasher.update(key.as_bytes());
        let digest = hasher.finalize();
        let mut slot = [0; 16];
        slot.copy_from_slice(&digest[..16]);
        Self(slot)
    }
}

/// `AnswerSlot` of a row of `rowid, user, key`.
fn row_slot(row: &rusqlite::Row) -> rusqlite::Result<AnswerSlot> {
    Ok(AnswerSlot::of(
        row.get_ref(1)?.as_str()?,
        row.get_ref(2)?.as_str()?,
    ))
}

impl SqliteStore {
    /// The answer remembered under a user's idempotency key, if it is not too old.
    pub fn remembered(
        &self,
        user: &str,
        key: &str,
        ttl_hours: u64,
        now: UtcMillis,
    ) -> Result<Option<Remembered>, StoreError> {
        let Some(row) = self.answer_row(user, key)? else {
            return Ok(None);
        };
        let oldest = oldest_kept(now, ttl_hours);
        let found = self
            .conn
            .prepare_cached(
                "SELECT fingerprint, answer FROM idempotency
                 WHERE rowid = ?1 AND user = ?2 AND key = ?3 AND created_ms >= ?4",
            )?
            .query_row(params![row, user, key, oldest], |r| {
                Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?;
        found
            .map(|(fingerprint, answer)| remembered_of(fingerprint, answer))
            .transpose()
    }

    /// The row of the newest answer under a user's key, as `AnswerRows` has it (read
    /// from the table, oldest first, the first time).
    pub(super) fn answer_row(&self, user: &str, key: &str) -> Result<Option<i64>, StoreError> {
        let mut rows = self.answer_rows.borrow_mut();
        let rows = match &mut *rows {
            Some(rows) => rows,
            None => {
                let mut read = AnswerRows::default();
                let mut statement = self
                    .conn
                    .prepare("SELECT rowid, user, key FROM idempotency ORDER BY rowid")?;
                let mut stored = statement.query([])?;
                while let Some(r) = stored.next()? {
                    read.0.insert(row_slot(r)?, r.get(0)?);
                }
                rows.insert(read)
            }
        };
        Ok(rows.0.get(&AnswerSlot::of(user, key)).copied())
    }

    /// Stores an answer under its idempotency key, in the open unit of work. A reused
    /// expired key's answer is the newer row; the older goes with the expired.
    pub(super) fn remember_answer(
        &self,
        remember: &Remember,
        now: UtcMillis,
        answer: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO idempotency (user, key, fingerprint, created_ms, answer)
                 VALUES (?1, ?2, ?3, ?4, ?5)",
            )?
            .execute(params![
                remember.user,
                remember.key,
                &remember.fingerprint[..],
                now.as_millis(),
                answer
            ])?;
        // Noted at once, committed or not: a row that is not is no answer (see
        // `AnswerRows`), where an answer committed and not noted would be a retry applied
        // twice. Not yet read: the first look-up reads it from the table.
        if let Some(rows) = self.answer_rows.borrow_mut().as_mut() {
            let slot = AnswerSlot::of(remember.user, remember.key);
            rows.0.insert(slot, self.conn.last_insert_rowid());
        }
        Ok(())
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
        let rows = &self.answer_rows;
        delete_due(
            &self.conn,
            &mut self.first_answer_ms,
            [
                "SELECT created_ms FROM idempotency ORDER BY rowid LIMIT 1",
                "DELETE FROM idempotency WHERE rowid IN
                   (SELECT rowid FROM idempotency ORDER BY rowid LIMIT ?1) AND created_ms < ?2
                 RETURNING rowid, user, key",
            ],
            oldest_kept(now, remember.ttl_hours),
            FORGET_AT_ONCE,
            |forgotten| {
                if let Some(rows) = rows.borrow_mut().as_mut() {
                    let slot = row_slot(forgotten)?;
                    if rows.0.get(&slot) == Some(&forgotten.get(0)?) {
                        rows.0.remove(&slot);
                    }
                }
                Ok(())
            },
        )
    }
}
