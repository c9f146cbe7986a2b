//! Records and their versions: one append a version for every write, reads of one
//! version, a record's history and the changes feed.

use super::*;

impl PgStore {
    pub(super) fn changed_after_on(
        &self,
        record_type: &str,
        after: u64,
        limit: usize,
    ) -> Result<Vec<(u64, String, StoredVersion<'static>)>, StoreError> {
        let rows = self.client.borrow_mut().query(
            &format!(
                "SELECT v.seq, v.record_id, {VERSION_COLUMNS} FROM versions v
                 WHERE v.record_type = $1 AND v.seq > $2
                   AND v.version = (SELECT MAX(w.version) FROM versions w
                                    WHERE w.record_type = v.record_type AND w.record_id = v.record_id)
                 ORDER BY v.seq LIMIT $3"
            ),
            &[&record_type, &signed(after), &signed(limit as u64)],
        )?;
        rows.iter()
            .map(|row| {
                let seq: i64 = row.try_get(0)?;
                let id: String = row.try_get(1)?;
                let key = RecordKey {
                    record_type,
                    id: &id,
                };
                let version = RawVersion {
                    version: row.try_get(2)?,
                    fields: row.try_get(3)?,
                    last_modified: row.try_get(4)?,
                    modified_by: row.try_get(5)?,
                    device_id: row.try_get(6)?,
                    device_seq: row.try_get(7)?,
                    deleted: row.try_get(8)?,
                }
                .check(key)?;
                Ok((unsigned(seq, "change number")?, id, version))
            })
            .collect()
    }

    /// Decides and stores a write in one unit of work (see `Store::write`).
    #[allow(clippy::too_many_arguments)]
    pub(super) fn write_on<T>(
        &mut self,
        key: RecordKey,
        from: Option<Version>,
        author: &Author,
        now: UtcMillis,
        remember: Option<Remember>,
        decide: impl FnOnce(&Known) -> (T, Effect),
        respond: impl FnOnce(&T, &Stored) -> Option<String>,
    ) -> Result<(T, Stored), StoreError> {
        let tx = self.unit()?;
        let mut versions = versions_from(tx.client, key, from)?;
        if from.is_some_and(|f| versions.first().is_none_or(|v| v.version != f)) {
            // The base is not stored: decide on the current version alone (refused by the
            // rules with its path).
            versions = versions_from(tx.client, key, None)?;
        }
        let applied_device_seq: Option<i64> = match author.device_id {
            Some(device) => tx
                .client
                .query_one(
                    "SELECT MAX(device_seq) FROM versions
                     WHERE record_type = $1 AND record_id = $2 AND device_id = $3",
                    &[&key.record_type, &key.id, &device],
                )?
                .try_get(0)?,
            None => None,
        };
        let parked_conflict = match (author.device_id, author.device_seq) {
            (Some(device), Some(seq)) => tx
                .client
                .query_opt(
                    "SELECT id, kind, conflicting_paths FROM conflicts
                     WHERE record_type = $1 AND record_id = $2 AND device_id = $3 AND device_seq = $4",
                    &[&key.record_type, &key.id, &device, &signed(seq)],
                )?
                .map(|row| parked_of(&row))
                .transpose()?,
            _ => None,
        };
        let client = RefCell::new(&mut *tx.client);
        let (answer, effect) = {
            let listed = Listed::new(&client);
            let holds = |list: &str, id: &str| listed.holds(list, id);
            let known = Known {
                listed: &holds,
                versions: &versions,
                applied_device_seq: applied_device_seq.map(|s| s as u64),
                parked_conflict,
            };
            let decided = decide(&known);
            listed.check()?;
            decided
        };
        let client = client.into_inner();
        let current = versions.last().map(|v| v.version);
        let stored = match effect {
            Effect::Nothing => Stored::Nothing,
            Effect::Append { fields, deleted } => {
                let next = crate::store::next_version(current, author, now, fields, deleted);
                append_version(client, key, &next)?;
                Stored::Version(next)
            }
            Effect::Park {
                kind,
                base_version,
                local,
                paths,
            } => {
                let kind = serde_json::to_value(kind)?;
                let row = client.query_one(
                    "INSERT INTO conflicts (id, kind, record_type, record_id, submitted_by, device_id,
                         device_seq, captured_at, received_at, base_version, server_version,
                         local_fields, conflicting_paths)
                     SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12
                     FROM conflicts
                     RETURNING id",
                    &[
                        &kind.as_str(),
                        &key.record_type,
                        &key.id,
                        &author.user,
                        &author.device_id,
                        &author.device_seq.map(signed),
                        &author.captured_at,
                        &now,
                        &base_version.map(signed),
                        &current,
                        &serde_json::to_string(&local)?,
                        &serde_json::to_string(&paths)?,
                    ],
                )?;
                let id: ConflictId = row.try_get(0)?;
                super::queue::record_event(client, QueueEventKind::ConflictOpened, id, now)?;
                Stored::Conflict(id)
            }
        };
        if let Some(remember) = remember
            && let Some(text) = respond(&answer, &stored)
        {
            super::master::remember_answer(client, &remember, now, &text)?;
        }
        tx.commit()?;
        Ok((answer, stored))
    }
}

/// A parked submission as a retry's decision needs it.
fn parked_of(row: &Row) -> Result<Parked, StoreError> {
    let id: ConflictId = row.try_get(0)?;
    let kind: String = row.try_get(1)?;
    let paths: String = row.try_get(2)?;
    let unreadable = |_| StoreError::Corrupt(format!("stored conflict {id} is unreadable"));
    Ok(Parked {
        id,
        kind: serde_json::from_value(serde_json::Value::String(kind)).map_err(unreadable)?,
        paths: serde_json::from_str(&paths).map_err(unreadable)?,
    })
}

/// Versions of a record from `from` (or only the current one) on, oldest first.
pub(super) fn versions_from(
    client: &mut Connection,
    key: RecordKey,
    from: Option<Version>,
) -> Result<Vec<StoredVersion<'static>>, StoreError> {
    let rows = match from {
        Some(from) => client.query(
            &format!(
                "SELECT {VERSION_COLUMNS} FROM versions
                 WHERE record_type = $1 AND record_id = $2 AND version >= $3 ORDER BY version"
            ),
            &[&key.record_type, &key.id, &from],
        )?,
        None => client.query(
            &format!(
                "SELECT {VERSION_COLUMNS} FROM versions
                 WHERE record_type = $1 AND record_id = $2 ORDER BY version DESC LIMIT 1"
            ),
            &[&key.record_type, &key.id],
        )?,
    };
    rows.iter().map(|row| version_of(row, key)).collect()
}

/// Appends the next version of a record, its change number the next of all (the write
/// lock makes that commit order): the one way a version is written.
pub(super) fn append_version(
    client: &mut Connection,
    key: RecordKey,
    next: &StoredVersion,
) -> Result<(), StoreError> {
    client.execute(
        "INSERT INTO versions (seq, record_type, record_id, version, fields, last_modified,
                               modified_by, device_id, device_seq, deleted)
         SELECT COALESCE(MAX(seq), 0) + 1, $1, $2, $3, $4, $5, $6, $7, $8, $9 FROM versions",
        &[
            &key.record_type,
            &key.id,
            &next.version,
            &serde_json::to_string(&next.fields)?,
            &next.last_modified,
            &next.modified_by,
            &next.device_id,
            &next.device_seq.map(signed),
            &next.deleted,
        ],
    )?;
    Ok(())
}
