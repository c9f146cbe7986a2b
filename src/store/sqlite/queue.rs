//! The live queue: advisory claims, and the numbered changes `GET /v1/events` sends.

use super::conflicts::conflicts_where;
use super::*;
use crate::store::claims::{may_claim, may_release};
use crate::store::{Claim, Claimed, QueueEvent, Released};

impl SqliteStore {
    pub(super) fn events_after_on(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<QueueEvent>, StoreError> {
        let rows: Vec<(i64, String, ConflictId)> = self
            .conn
            .prepare_cached(
                "SELECT seq, kind, conflict_id FROM events WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?
            .query_map(params![signed(after), signed(limit as u64)], |r| {
                Ok((r.get(0)?, r.get(1)?, r.get(2)?))
            })?
            .collect::<Result<_, _>>()?;
        rows.into_iter()
            .map(|(seq, kind, id)| {
                let corrupt = || StoreError::Corrupt(format!("stored event {seq} is unreadable"));
                Ok(QueueEvent {
                    seq: u64::try_from(seq).map_err(|_| corrupt())?,
                    kind: QueueEventKind::from_name(&kind).ok_or_else(corrupt)?,
                    conflict: self.conflict(id)?.ok_or_else(corrupt)?,
                })
            })
            .collect()
    }

    pub(super) fn last_event_on(&self) -> Result<u64, StoreError> {
        if let Some(Some(known)) = self.newest_event.as_ref().map(Cell::get) {
            return Ok(known);
        }
        let seq: i64 = self
            .conn
            .prepare_cached("SELECT COALESCE(MAX(seq), 0) FROM events")?
            .query_row([], |r| r.get(0))?;
        let seq = u64::try_from(seq).unwrap_or(0);
        if let Some(kept) = &self.newest_event {
            kept.set(Some(seq));
        }
        Ok(seq)
    }

    /// Numbers a change of the queue, in the transaction (`conn`) that makes it.
    pub(super) fn record_event(
        &self,
        conn: &Connection,
        kind: QueueEventKind,
        id: ConflictId,
        now: UtcMillis,
    ) -> Result<(), StoreError> {
        // The kept number is read again next time: this one may yet roll back.
        self.forget_newest_event();
        conn.prepare_cached("INSERT INTO events (kind, conflict_id, at) VALUES (?1, ?2, ?3)")?
            .execute(params![kind.name(), id, now])?;
        Ok(())
    }

    pub(super) fn claim_on(
        &mut self,
        id: ConflictId,
        user: &str,
        now: UtcMillis,
        until: UtcMillis,
    ) -> Result<Option<Claimed>, StoreError> {
        let tx = self.unit()?;
        let Some(row) = conflicts_where(&tx, "id = ?1", params![id])?.pop() else {
            return Ok(None);
        };
        if let Err(refused) = may_claim(&row, user, now) {
            return Ok(Some(refused));
        }
        tx.prepare_cached(
            "UPDATE conflicts SET claimed_by = ?2, claimed_until = ?3 WHERE id = ?1",
        )?
        .execute(params![id, user, until])?;
        self.record_event(&tx, QueueEventKind::ConflictClaimed, id, now)?;
        tx.commit()?;
        Ok(Some(Claimed::Taken(Claim {
            by: user.into(),
            until,
        })))
    }

    pub(super) fn release_on(
        &mut self,
        id: ConflictId,
        user: &str,
        now: UtcMillis,
    ) -> Result<Option<Released>, StoreError> {
        let tx = self.unit()?;
        let Some(row) = conflicts_where(&tx, "id = ?1", params![id])?.pop() else {
            return Ok(None);
        };
        match may_release(&row, user, now) {
            Err(refused) => return Ok(Some(refused)),
            Ok(false) => return Ok(Some(Released::NotHeld)),
            Ok(true) => {}
        }
        tx.prepare_cached(
            "UPDATE conflicts SET claimed_by = NULL, claimed_until = NULL WHERE id = ?1",
        )?
        .execute(params![id])?;
        self.record_event(&tx, QueueEventKind::ConflictReleased, id, now)?;
        tx.commit()?;
        Ok(Some(Released::Released))
    }
}
