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
            Some(ahead) if ahead.holds(tx.client.generation, &WriteAhead { key, from, author }) => {
                ahead.reads
            }
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
                Stored::Version(std::sync::Arc::new(next))
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
    write: OwnedWriteAhead,
    reads: WriteReads,
}

impl ReadAhead {
    /// Whether these are the reads of this write, with nothing run or made since.
    fn holds(&self, generation: u64, write: &WriteAhead) -> bool {
        self.generation == generation && self.write.is(write)
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
        let oldest_kept = crate::store::oldest_kept(now, ttl_hours);
        let (reads, remembered) = match self.batch_read(client, user, key, oldest_kept, write) {
            Some(read) => read,
            None => {
                if client.pending.holds_answer(user, key) || client.pending.holds_record(write.key)
                {
                    client.flush()?;
                }
                let asked = Asked {
                    user,
                    key,
                    oldest_kept,
                };
                what_a_write_reads(client, write.key, write.from, write.author, Some(asked))?
            }
        };
        if remembered.is_none() {
            *self.ahead.borrow_mut() = Some(ReadAhead {
                generation: client.generation,
                write: OwnedWriteAhead::of(write),
                reads,
            });
        }
        Ok(remembered)
    }
}

impl PgStore {
    /// At the start of a batch, reads what each announced write will read — its
    /// versions from the base, its device's figures, its key's answer — in one statement
    /// (two or more writes; one reads as fast with its look-up). A write takes them in
    /// `remembered_before_write_on` while they still hold. Like any statement of a batch,
    /// one that fails aborts the batch (its writes are answered 500 and retried).
    pub(super) fn read_ahead_on(&self, writes: &[Announced]) {
        let batch = &mut *self.batch_ahead.borrow_mut();
        batch.clear();
        if !self.in_batch || writes.len() < 2 {
            return;
        }
        let client = &mut *self.client.borrow_mut();
        match batch_reads(client, writes) {
            Ok(read) => {
                batch.sent = client.sent;
                batch.writes = writes
                    .iter()
                    .zip(read)
                    .map(|(announced, read)| WriteReadAhead {
                        announced: announced.clone(),
                        read: Some(read),
                    })
                    .collect();
            }
            // Each write then reads on its own.
            Err(e) => tracing::warn!("reading a batch's writes ahead: {e}"),
        }
    }

    /// The batch's reads for this look-up and write, if they were read ahead and still
    /// hold: nothing sent since, no unsent row of its record or its key, and the answer
    /// kept as long as asked now.
    fn batch_read(
        &self,
        client: &Connection,
        user: &str,
        key: &str,
        oldest_kept: i64,
        write: &WriteAhead,
    ) -> Option<(WriteReads, Option<Remembered>)> {
        let batch = &mut *self.batch_ahead.borrow_mut();
        if batch.sent != client.sent
            || client.pending.holds_answer(user, key)
            || client.pending.holds_record(write.key)
        {
            return None;
        }
        let ahead = batch
            .writes
            .iter_mut()
            .find(|w| w.read.is_some() && w.announced.is(user, key, write))?;
        if oldest_kept < ahead.announced.oldest_kept {
            // The clock went back since: the batch may have left out an answer kept now.
            return None;
        }
        let (reads, remembered) = ahead.read.take()?;
        let remembered = remembered
            .filter(|(_, created_ms)| *created_ms >= oldest_kept)
            .map(|(answer, _)| answer);
        Some((reads, remembered))
    }
}

/// The reads of each announced write, in their order, in one statement.
fn batch_reads(client: &mut Connection, writes: &[Announced]) -> Result<Vec<ReadFor>, StoreError> {
    let column = |f: fn(&Announced) -> &str| writes.iter().map(f).collect::<Vec<_>>();
    let from: Vec<Option<i64>> = writes
        .iter()
        .map(|w| w.write.from.map(|v| signed(v.get())))
        .collect();
    let device: Vec<Option<&str>> = writes
        .iter()
        .map(|w| w.write.device_id.as_deref())
        .collect();
    let parked_seq: Vec<Option<i64>> = writes
        .iter()
        .map(|w| {
            let write = &w.write;
            write
                .device_seq
                .filter(|_| write.device_id.is_some())
                .map(signed)
        })
        .collect();
    let oldest: Vec<i64> = writes.iter().map(|w| w.oldest_kept).collect();
    let rows = client.query_beside_pending(
        &BATCH_READS,
        &[
            &column(|w| &w.write.record_type),
            &column(|w| &w.write.id),
            &from,
            &device,
            &parked_seq,
            &column(|w| &w.user),
            &column(|w| &w.key),
            &oldest,
        ],
    )?;
    let mut read = Vec::with_capacity(writes.len());
    let mut rest = &rows[..];
    for (n, write) in (1..).zip(writes) {
        let count = rest
            .iter()
            .take_while(|row| row.try_get::<_, i64>(0).is_ok_and(|at| at == n))
            .count();
        let (mine, after) = rest.split_at(count);
        rest = after;
        let mine: Vec<&Row> = mine.iter().collect();
        let key = RecordKey {
            record_type: &write.write.record_type,
            id: &write.write.id,
        };
        read.push(reads_of(&mine, 1, key)?);
    }
    Ok(read)
}

/// An idempotency key to look up with a write's reads.
struct Asked<'a> {
    user: &'a str,
    key: &'a str,
    oldest_kept: i64,
}

/// What a write reads, in one statement (see `what_a_write_reads`): built once, then
/// prepared once a connection.
static WRITE_READS: std::sync::LazyLock<String> =
    std::sync::LazyLock::new(|| write_reads_sql(["$1", "$2", "$3", "$4", "$5", "$6", "$7", "$8"]));

/// What a batch's announced writes read, in one statement: `WRITE_READS` for each of them
/// (one array a parameter, one element a write), each row led by the write's place in
/// the arrays (from 1).
static BATCH_READS: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let one_write = write_reads_sql([
        "w.record_type",
        "w.record_id",
        "w.from_version",
        "w.device_id",
        "w.device_seq",
        "w.user_name",
        "w.idempotency_key",
        "w.oldest_kept",
    ]);
    format!(
        "SELECT w.n, x.* FROM unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[],
                                       $5::BIGINT[], $6::TEXT[], $7::TEXT[], $8::BIGINT[])
             WITH ORDINALITY AS w(record_type, record_id, from_version, device_id, device_seq,
                                  user_name, idempotency_key, oldest_kept, n)
         CROSS JOIN LATERAL ({one_write}) AS x
         ORDER BY w.n, x.version"
    )
});

/// The reads of one write, with its parameters (a record type, its id, the base version,
/// the device, its sequence number for a parked look-up, the key's user, the key, the
/// oldest answer kept) as the SQL expressions given.
fn write_reads_sql(p: [&str; 8]) -> String {
    let [record_type, id, from, device, parked_seq, user, key, oldest] = p;
    let columns: Vec<String> = VERSION_COLUMNS
        .split(", ")
        .map(|c| format!("v.{c}"))
        .collect();
    format!(
        "SELECT x.applied, x.parked_id, x.parked_kind, x.parked_paths,
                    x.fingerprint, x.answer, x.created_ms, {columns}
             FROM (SELECT (SELECT MAX(device_seq) FROM versions
                           WHERE record_type = {record_type} AND record_id = {id}
                             AND device_id = {device}) AS applied,
                          c.id AS parked_id, c.kind AS parked_kind,
                          c.conflicting_paths AS parked_paths, i.fingerprint, i.answer,
                          i.created_ms
                   FROM (SELECT 1) AS one
                   LEFT JOIN LATERAL (
                       SELECT id, kind, conflicting_paths FROM conflicts
                       WHERE record_type = {record_type} AND record_id = {id}
                         AND device_id = {device} AND device_seq = {parked_seq}
                       ORDER BY id DESC LIMIT 1) AS c ON true
                   LEFT JOIN idempotency i
                     ON i.\"user\" = {user} AND i.key = {key} AND i.created_ms >= {oldest}) AS x
             LEFT JOIN versions v
               ON v.record_type = {record_type} AND v.record_id = {id}
              AND v.version >= COALESCE(
                      (SELECT version FROM versions
                       WHERE record_type = {record_type} AND record_id = {id}
                         AND version = {from}),
                      (SELECT MAX(version) FROM versions
                       WHERE record_type = {record_type} AND record_id = {id}))
             ORDER BY v.version",
        columns = columns.join(", ")
    )
}

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
    let rows: Vec<&Row> = rows.iter().collect();
    let (reads, remembered) = reads_of(&rows, 0, key)?;
    Ok((reads, remembered.map(|(answer, _created_ms)| answer)))
}

/// One write's reads from its rows of `WRITE_READS` (its columns from `at` on): at least
/// one row, one a version from the base on. With the remembered answer, its age.
fn reads_of(rows: &[&Row], at: usize, key: RecordKey) -> Result<ReadFor, StoreError> {
    let first = rows
        .first()
        .ok_or_else(|| StoreError::Corrupt("a write's reads came back empty".into()))?;
    let applied: Option<i64> = first.try_get(at)?;
    let parked_id: Option<ConflictId> = first.try_get(at + 1)?;
    let parked_conflict = match parked_id {
        Some(id) => Some(parked_of(
            id,
            first.try_get(at + 2)?,
            first.try_get(at + 3)?,
        )?),
        None => None,
    };
    let remembered = match first.try_get::<_, Option<Vec<u8>>>(at + 4)? {
        Some(fingerprint) => Some((
            remembered_of(fingerprint, first.try_get(at + 5)?)?,
            first.try_get::<_, i64>(at + 6)?,
        )),
        None => None,
    };
    let mut versions = Vec::with_capacity(rows.len());
    for row in rows {
        // No version at all: the one row holds only the device's figures.
        if row.try_get::<_, Option<Version>>(at + 7)?.is_some() {
            versions.push(version_at(row, at + 7, key)?);
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

/// The reads of a batch's announced writes, taken at its start (see `read_ahead_on`).
#[derive(Default)]
pub(super) struct BatchAhead {
    /// The connection's count of what was sent when they were read.
    sent: u64,
    writes: Vec<WriteReadAhead>,
}

/// A write as announced and what it read: its reads and its key's answer with its age
/// (taken out by the write that uses them).
struct WriteReadAhead {
    announced: Announced,
    read: Option<ReadFor>,
}

/// What a write reads with its key's look-up: its reads, and the key's answer with the
/// time it was made (ms).
type ReadFor = (WriteReads, Option<(Remembered, i64)>);

impl BatchAhead {
    pub(super) fn clear(&mut self) {
        self.writes.clear();
    }
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
