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
                let version = version_at(row, 2, key)?;
                Ok((unsigned(seq, "change number")?, id, version))
            })
            .collect()
    }

    /// Decides and stores a write in one unit of work (see `Store::write`). In a batch that
    /// is one round trip — its reads — with what it stores sent beside the batch's other
    /// rows before the commit; parking a conflict adds one.
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
        // Read with the key's look-up, if nothing ran since (in a batch: the lock is held).
        let ahead = self.ahead.get_mut().take();
        let tx = self.write_unit()?;
        let found = match ahead {
            Some(ahead) if ahead.holds(tx.client.generation, key, from, author) => ahead.reads,
            _ => {
                if tx.client.pending.holds_record(key) {
                    tx.client.flush()?;
                }
                what_a_write_reads(tx.client, key, from, author, None)?.0
            }
        };
        let client = RefCell::new(&mut *tx.client);
        let (answer, effect) = {
            let listed = Listed::new(&client);
            let holds = |list: &str, id: &str| listed.holds(list, id);
            let known = Known {
                listed: &holds,
                versions: &found.versions,
                applied_device_seq: found.applied_device_seq,
                parked_conflict: found.parked_conflict,
            };
            let decided = decide(&known);
            listed.check()?;
            decided
        };
        let client = client.into_inner();
        let current = found.versions.last().map(|v| v.version);
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
                // The conflict and its queue event in one statement: atomic without a
                // savepoint of its own.
                let row = client.query_one(
                    "WITH parked AS (
                         INSERT INTO conflicts (id, kind, record_type, record_id, submitted_by,
                             device_id, device_seq, captured_at, received_at, base_version,
                             server_version, local_fields, conflicting_paths)
                         SELECT COALESCE(MAX(id), 0) + 1, $1, $2, $3, $4, $5, $6, $7, $8, $9, $10,
                                $11, $12
                         FROM conflicts
                         RETURNING id),
                     opened AS (
                         INSERT INTO events (seq, kind, conflict_id, at)
                         SELECT COALESCE(MAX(seq), 0) + 1, $13, (SELECT id FROM parked), $8
                         FROM events
                         RETURNING seq)
                     SELECT (SELECT id FROM parked),
                            pg_notify($14, (SELECT seq FROM opened)::TEXT)::TEXT",
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
                        &QueueEventKind::ConflictOpened.name(),
                        &EVENTS_CHANNEL,
                    ],
                )?;
                Stored::Conflict(row.try_get(0)?)
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

/// What a write decides on, read in one statement: the record's versions from the base
/// on (or only the current one, when the base is not stored or not given), the device's
/// last sequence number applied to it, and its submission parked under that number.
struct WriteReads {
    versions: Vec<StoredVersion<'static>>,
    applied_device_seq: Option<u64>,
    parked_conflict: Option<Parked>,
}

/// A write's reads taken with the look-up of its idempotency key, and what they were
/// taken for.
pub(super) struct ReadAhead {
    generation: u64,
    record_type: String,
    id: String,
    from: Option<Version>,
    device_id: Option<String>,
    device_seq: Option<u64>,
    reads: WriteReads,
}

impl ReadAhead {
    /// Whether these are the reads of this write, with nothing run or made since.
    fn holds(
        &self,
        generation: u64,
        key: RecordKey,
        from: Option<Version>,
        author: &Author,
    ) -> bool {
        self.generation == generation
            && self.record_type == key.record_type
            && self.id == key.id
            && self.from == from
            && self.device_id.as_deref() == author.device_id
            && self.device_seq == author.device_seq
    }
}

impl PgStore {
    /// The answer under an idempotency key and what the write after it reads, in one
    /// statement; the reads wait for that write (see `Store::remembered_before_write`).
    pub(super) fn remembered_before_write_on(
        &self,
        user: &str,
        key: &str,
        ttl_hours: u64,
        now: UtcMillis,
        write: &WriteAhead,
    ) -> Result<Option<Remembered>, StoreError> {
        let client = &mut *self.client.borrow_mut();
        if client.pending.holds_answer(user, key) || client.pending.holds_record(write.key) {
            client.flush()?;
        }
        let asked = Asked {
            user,
            key,
            oldest_kept: crate::store::oldest_kept(now, ttl_hours),
        };
        let (reads, remembered) =
            what_a_write_reads(client, write.key, write.from, write.author, Some(asked))?;
        if remembered.is_none() {
            *self.ahead.borrow_mut() = Some(ReadAhead {
                generation: client.generation,
                record_type: write.key.record_type.to_owned(),
                id: write.key.id.to_owned(),
                from: write.from,
                device_id: write.author.device_id.map(String::from),
                device_seq: write.author.device_seq,
                reads,
            });
        }
        Ok(remembered)
    }
}

/// An idempotency key to look up with a write's reads.
struct Asked<'a> {
    user: &'a str,
    key: &'a str,
    oldest_kept: i64,
}

/// What a write reads, in one statement (see `what_a_write_reads`): built once, then
/// prepared once a connection.
static WRITE_READS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let columns: Vec<String> = VERSION_COLUMNS
        .split(", ")
        .map(|c| format!("v.{c}"))
        .collect();
    format!(
        "SELECT x.applied, x.parked_id, x.parked_kind, x.parked_paths,
                    x.fingerprint, x.answer, {columns}
             FROM (SELECT (SELECT MAX(device_seq) FROM versions
                           WHERE record_type = $1 AND record_id = $2 AND device_id = $4) AS applied,
                          c.id AS parked_id, c.kind AS parked_kind,
                          c.conflicting_paths AS parked_paths, i.fingerprint, i.answer
                   FROM (SELECT 1) AS one
                   LEFT JOIN LATERAL (
                       SELECT id, kind, conflicting_paths FROM conflicts
                       WHERE record_type = $1 AND record_id = $2 AND device_id = $4
                         AND device_seq = $5
                       ORDER BY id DESC LIMIT 1) AS c ON true
                   LEFT JOIN idempotency i
                     ON i.\"user\" = $6 AND i.key = $7 AND i.created_ms >= $8) AS x
             LEFT JOIN versions v
               ON v.record_type = $1 AND v.record_id = $2
              AND v.version >= COALESCE(
                      (SELECT version FROM versions
                       WHERE record_type = $1 AND record_id = $2 AND version = $3),
                      (SELECT MAX(version) FROM versions
                       WHERE record_type = $1 AND record_id = $2))
             ORDER BY v.version",
        columns = columns.join(", ")
    )
});

fn what_a_write_reads(
    client: &mut Connection,
    key: RecordKey,
    from: Option<Version>,
    author: &Author,
    asked: Option<Asked>,
) -> Result<(WriteReads, Option<Remembered>), StoreError> {
    let parked_seq = author.device_seq.filter(|_| author.device_id.is_some());
    let rows = client.query_beside_pending(
        &WRITE_READS,
        &[
            &key.record_type,
            &key.id,
            &from,
            &author.device_id,
            &parked_seq.map(signed),
            &asked.as_ref().map(|a| a.user),
            &asked.as_ref().map(|a| a.key),
            &asked.as_ref().map(|a| a.oldest_kept),
        ],
    )?;
    let first = rows
        .first()
        .ok_or_else(|| StoreError::Corrupt("a write's reads came back empty".into()))?;
    let applied: Option<i64> = first.try_get(0)?;
    let parked_id: Option<ConflictId> = first.try_get(1)?;
    let parked_conflict = match parked_id {
        Some(id) => Some(parked_of(id, first.try_get(2)?, first.try_get(3)?)?),
        None => None,
    };
    let remembered = match first.try_get::<_, Option<Vec<u8>>>(4)? {
        Some(fingerprint) => Some(remembered_of(fingerprint, first.try_get(5)?)?),
        None => None,
    };
    let mut versions = Vec::with_capacity(rows.len());
    for row in &rows {
        // No version at all: the one row holds only the device's figures.
        if row.try_get::<_, Option<Version>>(6)?.is_some() {
            versions.push(version_at(row, 6, key)?);
        }
    }
    let reads = WriteReads {
        versions,
        applied_device_seq: applied
            .map(|s| unsigned(s, "device sequence number"))
            .transpose()?,
        parked_conflict,
    };
    Ok((reads, remembered))
}

/// A parked submission as a retry's decision needs it.
fn parked_of(id: ConflictId, kind: String, paths: String) -> Result<Parked, StoreError> {
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
/// lock makes that commit order): the one way a version is written. It is sent with the
/// transaction's other unsent rows.
pub(super) fn append_version(
    client: &mut Connection,
    key: RecordKey,
    next: &StoredVersion,
) -> Result<(), StoreError> {
    client.pending_mut().append_version(key, next)
}
