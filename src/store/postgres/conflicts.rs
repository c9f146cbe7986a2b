//! The conflict queue: parked submissions, and their resolution in one unit of work.

use super::records::{append_version, versions_from};
use super::*;

const CONFLICT_COLUMNS: &str = "id, status, kind, record_type, record_id, submitted_by, device_id,
    captured_at, received_at, base_version, local_fields, conflicting_paths, resolved_by,
    resolved_at, choices, resulting_version, kept_deleted, decided, claimed_by, claimed_until";

impl PgStore {
    pub(super) fn conflicts_on(
        &self,
        open: Option<bool>,
        record_type: Option<&str>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ConflictRow>, StoreError> {
        let status = open.map(|o| if o { "open" } else { "resolved" });
        conflicts_where(
            &mut self.client.borrow_mut(),
            QUEUE_CONDITION,
            &[&signed(after), &status, &record_type, &signed(limit as u64)],
        )
    }

    /// Resolves an open conflict in one unit of work (see `Store::resolve`).
    #[allow(clippy::type_complexity)]
    pub(super) fn resolve_on<T>(
        &mut self,
        id: ConflictId,
        resolver: &str,
        now: UtcMillis,
        remember: Option<Remember>,
        respond: impl FnOnce(&T, Option<&StoredVersion<'static>>) -> Option<String>,
        decide: impl FnOnce(
            &ConflictRow,
            Option<&StoredVersion<'static>>,
            Option<&StoredVersion<'static>>,
            &dyn Fn(&str, &str) -> bool,
        ) -> (T, Option<Settlement>),
    ) -> Result<Option<(T, Option<StoredVersion<'static>>)>, StoreError> {
        let tx = self.unit()?;
        let client = &mut *tx.client;
        let Some(conflict) = conflicts_where(client, "id = $1", &[&id])?.pop() else {
            return Ok(None);
        };
        let key = RecordKey {
            record_type: &conflict.record_type,
            id: &conflict.record_id,
        };
        let base = match conflict.base_version {
            Some(v) => versions_from(client, key, Some(v))?
                .into_iter()
                .next()
                .filter(|b| b.version == v),
            None => None,
        };
        let current = versions_from(client, key, None)?.pop();
        let shared = RefCell::new(&mut *client);
        let (answer, settlement) = {
            let listed = Listed::new(&shared);
            let decided = decide(&conflict, base.as_ref(), current.as_ref(), &|list, id| {
                listed.holds(list, id)
            });
            listed.check()?;
            decided
        };
        let client = shared.into_inner();
        let Some(settlement) = settlement else {
            if let Some(remember) = remember
                && let Some(text) = respond(&answer, None)
            {
                super::master::remember_answer(client, &remember, now, &text)?;
                tx.commit()?;
            }
            return Ok(Some((answer, None)));
        };
        let kept_deleted = settlement.write.is_none();
        let stored = match settlement.write {
            Some(fields) => {
                let after = current.as_ref().map(|c| c.version);
                let by = crate::store::resolver(resolver);
                let next = crate::store::next_version(after, &by, now, fields, false);
                append_version(client, key, &next)?;
                next
            }
            // The deletion stands: the conflict closes at the tombstone's version.
            None => current
                .clone()
                .ok_or_else(|| StoreError::Corrupt("a kept deletion without a tombstone".into()))?,
        };
        client.execute(
            "UPDATE conflicts SET status = 'resolved', resolved_by = $2, resolved_at = $3,
                 choices = $4, resulting_version = $5, kept_deleted = $6, decided = $7,
                 claimed_by = NULL, claimed_until = NULL
             WHERE id = $1",
            &[
                &id,
                &resolver,
                &now,
                &serde_json::to_string(&settlement.choices)?,
                &stored.version,
                &kept_deleted,
                &serde_json::to_string(&settlement.decided)?,
            ],
        )?;
        super::queue::record_event(client, QueueEventKind::ConflictResolved, id, now)?;
        if let Some(remember) = remember
            && let Some(text) = respond(&answer, Some(&stored))
        {
            super::master::remember_answer(client, &remember, now, &text)?;
        }
        tx.commit()?;
        Ok(Some((answer, Some(stored))))
    }
}

impl PgStore {
    /// The audit trail, newest resolution first (see `Store::resolutions`).
    pub(super) fn resolutions_on(
        &self,
        filter: &crate::store::AuditFilter,
        limit: usize,
    ) -> Result<Vec<ConflictRow>, StoreError> {
        let (before_at, before_id) = filter.before.unzip();
        conflicts_where(
            &mut self.client.borrow_mut(),
            AUDIT_CONDITION,
            &[
                &filter.since,
                &filter.until,
                &filter.by,
                &filter.record_type,
                &before_at,
                &before_id,
                &signed(limit as u64),
            ],
        )
    }
}

/// A queue listing: after the cursor `$1`, of status `$2` (all when null), of type `$3`,
/// at most `$4`. PostgreSQL plans it with the values bound: the open ones are read
/// through their index.
pub(super) const QUEUE_CONDITION: &str = "id > $1 AND ($2::TEXT IS NULL OR status = $2)
    AND ($3::TEXT IS NULL OR record_type = $3) ORDER BY id LIMIT $4";

/// The audit trail, newest first: since `$1`, until `$2`, by `$3`, of type `$4`, before
/// the cursor (`$5`, `$6`), at most `$7`.
pub(super) const AUDIT_CONDITION: &str = "status = 'resolved'
    AND ($1::TEXT IS NULL OR resolved_at >= $1) AND ($2::TEXT IS NULL OR resolved_at < $2)
    AND ($3::TEXT IS NULL OR resolved_by = $3) AND ($4::TEXT IS NULL OR record_type = $4)
    AND ($5::TEXT IS NULL OR (resolved_at, id) < ($5, $6::BIGINT))
    ORDER BY resolved_at DESC, id DESC LIMIT $7";

/// The query of the conflict rows matching a condition.
pub(super) fn conflicts_sql(condition: &str) -> String {
    format!("SELECT {CONFLICT_COLUMNS} FROM conflicts WHERE {condition}")
}

/// Conflict rows matching a condition.
pub(super) fn conflicts_where(
    client: &mut Connection,
    condition: &str,
    values: &[&(dyn postgres::types::ToSql + Sync)],
) -> Result<Vec<ConflictRow>, StoreError> {
    let rows = client.query(&conflicts_sql(condition), values)?;
    rows.iter()
        .map(|r| {
            RawConflict {
                id: r.try_get(0)?,
                status: r.try_get(1)?,
                kind: r.try_get(2)?,
                record_type: r.try_get(3)?,
                record_id: r.try_get(4)?,
                submitted_by: r.try_get(5)?,
                device_id: r.try_get(6)?,
                captured_at: r.try_get(7)?,
                received_at: r.try_get(8)?,
                base_version: r.try_get(9)?,
                local_fields: r.try_get(10)?,
                paths: r.try_get(11)?,
                resolved_by: r.try_get(12)?,
                resolved_at: r.try_get(13)?,
                choices: r.try_get(14)?,
                resulting_version: r.try_get(15)?,
                kept_deleted: r.try_get(16)?,
                decided: r.try_get(17)?,
                claimed_by: r.try_get(18)?,
                claimed_until: r.try_get(19)?,
            }
            .check()
        })
        .collect()
}
