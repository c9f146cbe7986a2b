//! The live queue: advisory claims, and the numbered changes `GET /v1/events` sends. Each
//! change is announced on `EVENTS_CHANNEL` as it commits, so every instance's listeners
//! wake (`NOTIFY` is delivered at commit, never for a rolled-back change).

use super::conflicts::conflicts_where;
use super::*;
use crate::store::claims::{may_claim, may_release};
use crate::store::{Claim, Claimed, QueueEvent, Released};

impl PgStore {
    pub(super) fn events_after_on(
        &self,
        after: u64,
        limit: usize,
    ) -> Result<Vec<QueueEvent>, StoreError> {
        let client = &mut *self.client.borrow_mut();
        let rows = client.query(
            "SELECT seq, kind, conflict_id FROM events WHERE seq > $1 ORDER BY seq LIMIT $2",
            &[&signed(after), &signed(limit as u64)],
        )?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.try_get(0)?;
                let kind: String = row.try_get(1)?;
                let id: ConflictId = row.try_get(2)?;
                let corrupt = || StoreError::Corrupt(format!("stored event {seq} is unreadable"));
                Ok(QueueEvent {
                    seq: unsigned(seq, "event number")?,
                    kind: QueueEventKind::from_name(&kind).ok_or_else(corrupt)?,
                    conflict: conflicts_where(client, "id = $1", &[&id])?
                        .pop()
                        .ok_or_else(corrupt)?,
                })
            })
            .collect()
    }

    pub(super) fn last_event_on(&self) -> Result<u64, StoreError> {
        if let Some(seq) = self.last_committed_event.take() {
            return unsigned(seq, "event number");
        }
        let seq: i64 = self
            .client
            .borrow_mut()
            .query_one("SELECT COALESCE(MAX(seq), 0) FROM events", &[])?
            .try_get(0)?;
        unsigned(seq, "event number")
    }

    pub(super) fn claim_on(
        &mut self,
        id: ConflictId,
        user: &str,
        now: UtcMillis,
        until: UtcMillis,
    ) -> Result<Option<Claimed>, StoreError> {
        let tx = self.unit()?;
        let client = &mut *tx.client;
        let Some(row) = conflicts_where(client, "id = $1", &[&id])?.pop() else {
            return Ok(None);
        };
        if let Err(refused) = may_claim(&row, user, now) {
            return Ok(Some(refused));
        }
        client.execute(
            "UPDATE conflicts SET claimed_by = $2, claimed_until = $3 WHERE id = $1",
            &[&id, &user, &until],
        )?;
        record_event(client, QueueEventKind::ConflictClaimed, id, now)?;
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
        let client = &mut *tx.client;
        let Some(row) = conflicts_where(client, "id = $1", &[&id])?.pop() else {
            return Ok(None);
        };
        match may_release(&row, user, now) {
            Err(refused) => return Ok(Some(refused)),
            Ok(false) => return Ok(Some(Released::NotHeld)),
            Ok(true) => {}
        }
        client.execute(
            "UPDATE conflicts SET claimed_by = NULL, claimed_until = NULL WHERE id = $1",
            &[&id],
        )?;
        record_event(client, QueueEventKind::ConflictReleased, id, now)?;
        tx.commit()?;
        Ok(Some(Released::Released))
    }
}

/// Numbers a change of the queue (the write lock makes the numbers commit order) and
/// announces it to every instance once it commits.
pub(super) fn record_event(
    client: &mut Connection,
    kind: QueueEventKind,
    id: ConflictId,
    now: UtcMillis,
) -> Result<(), StoreError> {
    let seq: i64 = client
        .query_one(
            "INSERT INTO events (seq, kind, conflict_id, at)
             SELECT COALESCE(MAX(seq), 0) + 1, $1, $2, $3 FROM events
             RETURNING seq",
            &[&kind.name(), &id, &now],
        )?
        .try_get(0)?;
    client.execute(
        "SELECT pg_notify($1, $2)",
        &[&EVENTS_CHANNEL, &seq.to_string()],
    )?;
    Ok(())
}

/// Hears the queue's changes committed by any instance: calls `heard` with each change
/// number until it returns `false`; between changes it is also called with 0 every second
/// so that it can stop. Returns on a lost connection (the caller may listen again).
pub fn listen(url: &str, mut heard: impl FnMut(u64) -> bool) -> Result<(), StoreError> {
    let mut client = Client::connect(url, NoTls)?;
    client.batch_execute(&format!("LISTEN {EVENTS_CHANNEL}"))?;
    loop {
        let mut notifications = client.notifications();
        let mut waiting = notifications.timeout_iter(std::time::Duration::from_secs(1));
        let seq = match postgres::fallible_iterator::FallibleIterator::next(&mut waiting)? {
            Some(notification) => notification.payload().parse().unwrap_or(0),
            None => 0,
        };
        if !heard(seq) {
            return Ok(());
        }
    }
}
