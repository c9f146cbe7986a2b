//! The conflict queue: parked submissions, and their resolution in one transaction.

use super::*;

impl SqliteStore {
    /// One parked submission.
    pub fn conflict(&self, id: ConflictId) -> Result<Option<ConflictRow>, StoreError> {
        let rows = conflicts_where(&self.conn, "id = ?1", params![id])?;
        Ok(rows.into_iter().next())
    }

    /// Parked submissions, oldest first: `open` tells which (`None`: all), after a cursor.
    pub fn conflicts(
        &self,
        open: Option<bool>,
        record_type: Option<&str>,
        after: u64,
        limit: usize,
    ) -> Result<Vec<ConflictRow>, StoreError> {
        conflicts_where(
            &self.conn,
            &queue_condition(open),
            params![signed(after), record_type, signed(limit as u64)],
        )
    }

    /// How many conflicts wait in the queue.
    pub fn open_conflicts(&self) -> Result<u64, StoreError> {
        let n: i64 = self
            .conn
            .prepare_cached("SELECT COUNT(*) FROM conflicts WHERE status = 'open'")?
            .query_row([], |r| r.get(0))?;
        Ok(u64::try_from(n).unwrap_or(0))
    }

    /// Resolves an open conflict in one transaction: `decide` sees the conflict and the
    /// record's current version, and says what to store (a version, or nothing).
    #[allow(clippy::too_many_arguments)]
    pub fn resolve<T>(
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
        self.forget_expired_answers(remember.as_ref(), now)?;
        let tx = self.unit()?;
        let Some(conflict) = conflicts_where(&tx, "id = ?1", params![id])?.pop() else {
            return Ok(None);
        };
        let key = RecordKey {
            record_type: &conflict.record_type,
            id: &conflict.record_id,
        };
        let base = match conflict.base_version {
            Some(v) => versions_from(&tx, key, Some(v))?
                .into_iter()
                .next()
                .filter(|b| b.version == v),
            None => None,
        };
        let current = versions_from(&tx, key, None)?.pop();
        let listed = Listed::new(&tx);
        let (answer, settlement) =
            decide(&conflict, base.as_ref(), current.as_ref(), &|list, id| {
                listed.holds(list, id)
            });
        listed.check()?;
        let Some(settlement) = settlement else {
            if let Some(remember) = remember
                && let Some(text) = respond(&answer, None)
            {
                self.remember_answer(&remember, now, &text)?;
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
                append_version(&tx, key, &next)?;
                next
            }
            // The deletion stands: the conflict closes at the tombstone's version.
            None => current
                .clone()
                .ok_or_else(|| StoreError::Corrupt("a kept deletion without a tombstone".into()))?,
        };
        let choices = serde_json::to_string(&settlement.choices)?;
        let decided = serde_json::to_string(&settlement.decided)?;
        tx.prepare_cached("UPDATE conflicts SET status = 'resolved', resolved_by = ?2, resolved_at = ?3, choices = ?4,
                 resulting_version = ?5, kept_deleted = ?6, decided = ?7, claimed_by = NULL, claimed_until = NULL
             WHERE id = ?1")?.execute(
            params![id, resolver, now, choices, stored.version,
                    kept_deleted, decided],
        )?;
        self.record_event(&tx, QueueEventKind::ConflictResolved, id, now)?;
        if let Some(remember) = remember
            && let Some(text) = respond(&answer, Some(&stored))
        {
            self.remember_answer(&remember, now, &text)?;
        }
        tx.commit()?;
        if !kept_deleted {
            self.appended(key, &Arc::new(stored.clone()));
        }
        Ok(Some((answer, Some(stored))))
    }
}

impl SqliteStore {
    /// The audit trail, newest resolution first (see `Store::resolutions`).
    pub(super) fn resolutions_on(
        &self,
        filter: &crate::store::AuditFilter,
        limit: usize,
    ) -> Result<Vec<ConflictRow>, StoreError> {
        let (before_at, before_id) = filter.before.unzip();
        conflicts_where(
            &self.conn,
            AUDIT_CONDITION,
            params![
                filter.since,
                filter.until,
                filter.by,
                filter.record_type,
                before_at,
                before_id,
                signed(limit as u64)
            ],
        )
    }
}

/// The resolutions the audit trail wants, newest first: since `?1`, until `?2`, by `?3`,
/// of type `?4`, before the cursor (`?5`, `?6`), at most `?7`.
pub(super) const AUDIT_CONDITION: &str = "status = 'resolved'
    AND (?1 IS NULL OR resolved_at >= ?1) AND (?2 IS NULL OR resolved_at < ?2)
    AND (?3 IS NULL OR resolved_by = ?3) AND (?4 IS NULL OR record_type = ?4)
    AND (?5 IS NULL OR (resolved_at, id) < (?5, ?6))
    ORDER BY resolved_at DESC, id DESC LIMIT ?7";

/// Which conflicts a queue listing wants, after a cursor (`?1`), of a type (`?2`), at most
/// `?3`. The status is written out, not bound: only then may SQLite read the open ones
/// through their own index (its plans do not depend on bound values).
pub(super) fn queue_condition(open: Option<bool>) -> String {
    let status = match open {
        Some(true) => "status = 'open' AND ",
        Some(false) => "status = 'resolved' AND ",
        None => "",
    };
    format!("{status}id > ?1 AND (?2 IS NULL OR record_type = ?2) ORDER BY id LIMIT ?3")
}

/// The query of the conflict rows matching a condition.
pub(super) fn conflicts_sql(condition: &str) -> String {
    format!(
        "SELECT id, status, kind, record_type, record_id, submitted_by, device_id, captured_at, received_at,
                base_version, local_fields, conflicting_paths, resolved_by, resolved_at, choices, resulting_version,
                kept_deleted, decided, claimed_by, claimed_until
         FROM conflicts WHERE {condition}"
    )
}

/// Conflict rows matching a condition.
pub(super) fn conflicts_where(
    conn: &Connection,
    condition: &str,
    values: impl rusqlite::Params,
) -> Result<Vec<ConflictRow>, StoreError> {
    let mut statement = conn.prepare_cached(&conflicts_sql(condition))?;
    let rows = statement.query_map(values, |r| {
        Ok(RawConflict {
            id: r.get(0)?,
            status: r.get(1)?,
            kind: r.get(2)?,
            record_type: r.get(3)?,
            record_id: r.get(4)?,
            submitted_by: r.get(5)?,
            device_id: r.get(6)?,
            captured_at: r.get(7)?,
            received_at: r.get(8)?,
            base_version: r.get(9)?,
            local_fields: r.get(10)?,
            paths: r.get(11)?,
            resolved_by: r.get(12)?,
            resolved_at: r.get(13)?,
            choices: r.get(14)?,
            resulting_version: r.get(15)?,
            kept_deleted: r.get(16)?,
            decided: r.get(17)?,
            claimed_by: r.get(18)?,
            claimed_until: r.get(19)?,
        })
    })?;
    rows.map(|row| row.map_err(StoreError::from).and_then(RawConflict::check))
        .collect()
}
