//! Records and their versions: one append a version for every write, reads of one
//! version, a record's history and the changes feed.

use super::*;

impl SqliteStore {
    /// The current version of a record (a tombstone included).
    pub fn current(
        &self,
        key: RecordKey,
    ) -> Result<Option<Arc<StoredVersion<'static>>>, StoreError> {
        if let Some(known) = self.known_current(key) {
            return Ok(Some(known));
        }
        // A version read inside a batch may be the batch's own, not yet committed.
        let kept = self.sharing.as_ref().filter(|_| !self.in_batch);
        let kept = kept.map(|sharing| &sharing.currents);
        let started = kept.map(|currents| currents.read_start());
        // One statement, the newest row: the read every GET makes.
        let row = self
            .conn
            .prepare_cached(
                "SELECT version, fields, last_modified, modified_by, device_id, device_seq, deleted
                 FROM versions WHERE record_type = ?1 AND record_id = ?2
                 ORDER BY version DESC LIMIT 1",
            )?
            .query_row(params![key.record_type, key.id], raw_version)
            .optional()?;
        let current = row.map(|raw| raw.check(key)).transpose()?.map(Arc::new);
        if let (Some(currents), Some(started), Some(version)) = (kept, started, &current) {
            currents.put_read(key, version, started);
        }
        Ok(current)
    }

    /// Whether a record (or its tombstone) is stored.
    pub fn exists(&self, key: RecordKey) -> Result<bool, StoreError> {
        let found = self
            .conn
            .prepare_cached(
                "SELECT 1 FROM versions WHERE record_type = ?1 AND record_id = ?2 LIMIT 1",
            )?
            .exists(params![key.record_type, key.id])?;
        Ok(found)
    }

    /// Every version of a record, oldest first.
    pub fn history(&self, key: RecordKey) -> Result<Vec<StoredVersion<'static>>, StoreError> {
        versions_from(&self.conn, key, Some(Version::FIRST))
    }

    /// The current versions of the records of a type changed after a change sequence
    /// number, in the order of their last change, with that number: a cursor, not a clock.
    pub fn changed_after(
        &self,
        record_type: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String, StoredVersion<'static>)>, StoreError> {
        let mut statement = self.conn.prepare_cached(FEED_SQL)?;
        let rows: Vec<(i64, String, i64)> = statement
            .query_map(
                params![record_type, signed(after), signed(limit as u64)],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?
            .collect::<Result<_, _>>()?;
        let mut out = Vec::with_capacity(rows.len());
        for (seq, id, version) in rows {
            let key = RecordKey {
                record_type,
                id: &id,
            };
            let version = u64::try_from(version).ok().and_then(Version::new);
            let stored = match version {
                Some(v) => self.version(key, v)?,
                None => None,
            };
            let stored = stored.ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "version {version:?} of {record_type}/{id} vanished"
                ))
            })?;
            out.push((seq as u64, id, stored));
        }
        Ok(out)
    }

    /// One version of a record.
    pub fn version(
        &self,
        key: RecordKey,
        version: Version,
    ) -> Result<Option<StoredVersion<'static>>, StoreError> {
        let versions = versions_from(&self.conn, key, Some(version))?;
        Ok(versions.into_iter().next().filter(|v| v.version == version))
    }

    /// Decides and stores a write in one transaction: `decide` sees the versions from
    /// `from` (or the current one) to the current, and says what to store. With
    /// `remember`, the answer `respond` gives is stored under the key in the same
    /// transaction: a retry finds it, or finds that nothing happened.
    #[allow(clippy::too_many_arguments)]
    pub fn write<T>(
        &mut self,
        key: RecordKey,
        from: Option<Version>,
        author: &Author,
        now: UtcMillis,
        remember: Option<Remember>,
        decide: impl FnOnce(&Known) -> (T, Effect),
        respond: impl FnOnce(&T, &Stored) -> Option<String>,
    ) -> Result<(T, Stored), StoreError> {
        self.forget_expired_answers(remember.as_ref(), now)?;
        let tx = self.unit()?;
        // Most syncs are made on the current version: known, it is not read again. Asked
        // only now, with the write lock held (another process's commit is seen by then).
        let known = self
            .known_current(key)
            .filter(|current| from.is_none_or(|from| from == current.version));
        let mut versions = match known {
            Some(current) => vec![Arc::unwrap_or_clone(current)],
            None => versions_from(&tx, key, from)?,
        };
        if from.is_some_and(|f| versions.first().is_none_or(|v| v.version != f)) {
            // The base is not stored (unknown or newer than current): decide on the current
            // version alone, which the rules refuse with its path.
            versions = versions_from(&tx, key, None)?
                .into_iter()
                .rev()
                .take(1)
                .collect();
        }
        let applied_device_seq = match author.device_id {
            Some(device) => tx.prepare_cached("SELECT MAX(device_seq) FROM versions WHERE record_type = ?1 AND record_id = ?2 AND device_id = ?3")?.query_row(
                params![key.record_type, key.id, device],
                |r| r.get::<_, Option<i64>>(0),
            )?,
            None => None,
        }
        .map(|s| s as u64);
        let parked_conflict = match (author.device_id, author.device_seq) {
            (Some(device), Some(seq)) => tx
                .prepare_cached(
                    "SELECT id, kind, conflicting_paths FROM conflicts
                     WHERE record_type = ?1 AND record_id = ?2 AND device_id = ?3 AND device_seq = ?4",
                )?
                .query_row(
                    params![key.record_type, key.id, device, signed(seq)],
                    |r| Ok((r.get::<_, ConflictId>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
                )
                .optional()?
                .map(|(id, kind, paths)| -> Result<Parked, StoreError> {
                    let unreadable = |_| StoreError::Corrupt(format!("stored conflict {id} is unreadable"));
                    Ok(Parked {
                        id,
                        kind: serde_json::from_value(serde_json::Value::String(kind)).map_err(unreadable)?,
                        paths: serde_json::from_str(&paths).map_err(unreadable)?,
                    })
                })
                .transpose()?,
            _ => None,
        };
        let (answer, effect) = {
            let listed = Listed::new(&tx);
            let holds = |list: &str, id: &str| listed.holds(list, id);
            let known = Known {
                listed: &holds,
                versions: &versions,
                applied_device_seq,
                parked_conflict,
            };
            let decided = decide(&known);
            listed.check()?;
            decided
        };
        let current = versions.last().map(|v| v.version);
        let stored = match effect {
            Effect::Nothing => Stored::Nothing,
            Effect::Append { fields, deleted } => {
                let next = crate::store::next_version(current, author, now, fields, deleted);
                append_version(&tx, key, &next)?;
                Stored::Version(Arc::new(next))
            }
            Effect::Park {
                kind,
                base_version,
                local,
                paths,
            } => {
                let kind = serde_json::to_value(kind)?;
                tx.prepare_cached("INSERT INTO conflicts (kind, record_type, record_id, submitted_by, device_id, device_seq, captured_at,
                         received_at, base_version, server_version, local_fields, conflicting_paths)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")?.execute(
                    params![
                        kind.as_str(),
                        key.record_type,
                        key.id,
                        author.user,
                        author.device_id,
                        author.device_seq.map(signed),
                        author.captured_at,
                        now,
                        base_version.map(signed),
                        current,
                        serde_json::to_string(&local)?,
                        serde_json::to_string(&paths)?,
                    ],
                )?;
                let id = u64::try_from(tx.last_insert_rowid())
                    .map_err(|_| StoreError::Corrupt("a negative conflict id".into()))?;
                self.record_event(&tx, QueueEventKind::ConflictOpened, ConflictId(id), now)?;
                Stored::Conflict(ConflictId(id))
            }
        };
        if let Some(remember) = remember
            && let Some(text) = respond(&answer, &stored)
        {
            self.remember_answer(&remember, now, &text)?;
        }
        tx.commit()?;
        if let Stored::Version(version) = &stored {
            self.appended(key, version);
        }
        Ok((answer, stored))
    }
}

/// The changes feed: the records of type `?1` changed after the cursor `?2`, each once by
/// its last change, in change order, at most `?3`.
pub(super) const FEED_SQL: &str = "SELECT v.seq, v.record_id, v.version FROM versions v
    WHERE v.record_type = ?1 AND v.seq > ?2
      AND v.version = (SELECT MAX(w.version) FROM versions w
                       WHERE w.record_type = v.record_type AND w.record_id = v.record_id)
    ORDER BY v.seq LIMIT ?3";

/// Versions of a record from `from` (or only the current one) on, oldest first.
pub(super) fn versions_from(
    conn: &Connection,
    key: RecordKey,
    from: Option<Version>,
) -> Result<Vec<StoredVersion<'static>>, StoreError> {
    let sql = "SELECT version, fields, last_modified, modified_by, device_id, device_seq, deleted FROM versions
               WHERE record_type = ?1 AND record_id = ?2 AND version >= ?3 ORDER BY version";
    let start = match from {
        Some(v) => signed(v.get()),
        None => conn
            .prepare_cached(
                "SELECT MAX(version) FROM versions WHERE record_type = ?1 AND record_id = ?2",
            )?
            .query_row(params![key.record_type, key.id], |r| {
                r.get::<_, Option<i64>>(0)
            })?
            .unwrap_or(i64::MAX),
    };
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params![key.record_type, key.id, start], raw_version)?;
    rows.map(|row| row.map_err(StoreError::from)?.check(key))
        .collect()
}

/// Appends the next version of a record, in change order (its `seq`, the row id, is the
/// next of all: SQLite gives a row id one past the largest when none is given): the one
/// way a version is written, by a sync, a create, a delete or a resolution.
pub(super) fn append_version(
    conn: &Connection,
    key: RecordKey,
    next: &StoredVersion,
) -> Result<(), StoreError> {
    let text = serde_json::to_string(&next.fields)?;
    conn.prepare_cached(
        "INSERT INTO versions (record_type, record_id, version, fields, last_modified,
                               modified_by, device_id, device_seq, deleted)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
    )?
    .execute(params![
        key.record_type,
        key.id,
        next.version,
        text,
        next.last_modified,
        next.modified_by,
        next.device_id,
        next.device_seq.map(signed),
        next.deleted,
    ])?;
    Ok(())
}

/// A `versions` row as selected by `current` and `versions_from`, unchecked.
fn raw_version(r: &rusqlite::Row) -> rusqlite::Result<RawVersion> {
    Ok(RawVersion {
        version: r.get(0)?,
        fields: r.get(1)?,
        last_modified: r.get(2)?,
        modified_by: r.get(3)?,
        device_id: r.get(4)?,
        device_seq: r.get(5)?,
        deleted: r.get(6)?,
    })
}
