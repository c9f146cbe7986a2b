//! Rows a transaction has decided but not yet sent: the versions it appends, the answers it
//! remembers and its sync-log entries. They go to the database together in one statement
//! (one round trip) before anything that could read them — any other statement on the
//! connection, a savepoint, the commit — instead of one round trip each as they are made.
//! The write lock is held all the while, so nobody else could have read them sooner.

use super::*;
use crate::store::SyncEntry;

/// Unsent rows, one array per column: what the flush statement unnests.
#[derive(Default)]
pub(super) struct Pending {
    versions: Versions,
    answers: Answers,
    syncs: Syncs,
    /// The oldest sync-log entries and queue events to drop, and how many at most.
    prune: Option<(UtcMillis, i64)>,
}

#[derive(Default)]
struct Versions {
    record_type: Vec<String>,
    record_id: Vec<String>,
    version: Vec<Version>,
    fields: Vec<String>,
    last_modified: Vec<UtcMillis>,
    modified_by: Vec<String>,
    device_id: Vec<Option<String>>,
    device_seq: Vec<Option<i64>>,
    deleted: Vec<bool>,
}

#[derive(Default)]
struct Answers {
    user: Vec<String>,
    key: Vec<String>,
    fingerprint: Vec<Vec<u8>>,
    created_ms: Vec<i64>,
    answer: Vec<String>,
    /// Answers remembered before this are forgotten as these are stored.
    oldest_kept: i64,
}

#[derive(Default)]
struct Syncs {
    at: Vec<UtcMillis>,
    user: Vec<String>,
    device_id: Vec<Option<String>>,
    method: Vec<String>,
    record_type: Vec<String>,
    record_id: Vec<Option<String>>,
    status: Vec<i32>,
    outcome: Vec<String>,
    problem: Vec<Option<String>>,
    paths: Vec<String>,
    conflict_id: Vec<Option<ConflictId>>,
    body: Vec<Option<String>>,
    base_version: Vec<Option<Version>>,
    version: Vec<Option<Version>>,
    kept: Vec<String>,
}

/// All unsent rows in one statement. Change numbers follow the largest stored one, in the
/// order the rows were made; expired remembered answers go as new ones come (but never
/// one a new answer replaces: one statement may not touch a row twice).
pub(super) const FLUSH: &str = r#"
WITH
  new_versions AS (
    INSERT INTO versions (seq, record_type, record_id, version, fields, last_modified,
                          modified_by, device_id, device_seq, deleted)
    SELECT last.seq + v.n, v.record_type, v.record_id, v.version, v.fields, v.last_modified,
           v.modified_by, v.device_id, v.device_seq, v.deleted
    FROM (SELECT COALESCE(MAX(seq), 0) AS seq FROM versions) last,
         unnest($1::TEXT[], $2::TEXT[], $3::BIGINT[], $4::TEXT[], $5::TEXT[], $6::TEXT[],
                $7::TEXT[], $8::BIGINT[], $9::BOOLEAN[])
           WITH ORDINALITY AS v(record_type, record_id, version, fields, last_modified,
                                modified_by, device_id, device_seq, deleted, n)),
  forgotten AS (
    DELETE FROM idempotency
    WHERE created_ms < $10
      AND ("user", key) NOT IN (SELECT * FROM unnest($11::TEXT[], $12::TEXT[]))),
  answers AS (
    INSERT INTO idempotency ("user", key, fingerprint, created_ms, answer)
    SELECT * FROM unnest($11::TEXT[], $12::TEXT[], $13::BYTEA[], $14::BIGINT[], $15::TEXT[])
    ON CONFLICT ("user", key) DO UPDATE
        SET fingerprint = EXCLUDED.fingerprint, created_ms = EXCLUDED.created_ms,
            answer = EXCLUDED.answer),
  logged AS (
    INSERT INTO syncs (seq, at, "user", device_id, method, record_type, record_id, status,
                       outcome, problem, paths, conflict_id, body, base_version, version, kept)
    SELECT last.seq + s.n, s.at, s.u, s.device_id, s.method, s.record_type, s.record_id,
           s.status, s.outcome, s.problem, s.paths, s.conflict_id, s.body, s.base_version,
           s.version, s.kept
    FROM (SELECT COALESCE(MAX(seq), 0) AS seq FROM syncs) last,
         unnest($16::TEXT[], $17::TEXT[], $18::TEXT[], $19::TEXT[], $20::TEXT[], $21::TEXT[],
                $22::INTEGER[], $23::TEXT[], $24::TEXT[], $25::TEXT[], $26::BIGINT[],
                $27::TEXT[], $28::BIGINT[], $29::BIGINT[], $30::TEXT[])
           WITH ORDINALITY AS s(at, u, device_id, method, record_type, record_id, status,
                                outcome, problem, paths, conflict_id, body, base_version,
                                version, kept, n)),
  -- The oldest entries by number are the oldest by time (see the SQLite store): the first
  -- few by number, those of them past their time, each found by its number. As
  -- `seq IN (…) AND at < $31`, the plan PostgreSQL keeps for this prepared statement (its
  -- generic plan) read the whole log on every flush.
  pruned_syncs AS (
    DELETE FROM syncs WHERE seq = ANY (ARRAY(
      SELECT seq FROM (SELECT seq, at FROM syncs ORDER BY seq LIMIT $32) AS oldest
      WHERE at < $31))),
  pruned_events AS (
    DELETE FROM events WHERE seq = ANY (ARRAY(
      SELECT seq FROM (SELECT seq, at FROM events ORDER BY seq LIMIT $32) AS oldest
      WHERE at < $31)))
SELECT COALESCE(MAX(seq), 0) FROM events"#;

impl Pending {
    pub(super) fn is_empty(&self) -> bool {
        self.versions.version.is_empty()
            && self.answers.key.is_empty()
            && self.syncs.status.is_empty()
            && self.prune.is_none()
    }

    /// Whether a version of this record waits to be sent (a read of it must send it first).
    pub(super) fn holds_record(&self, key: RecordKey) -> bool {
        let v = &self.versions;
        (0..v.version.len())
            .any(|i| v.record_id[i] == key.id && v.record_type[i] == key.record_type)
    }

    /// Whether an answer under this key waits to be sent.
    pub(super) fn holds_answer(&self, user: &str, key: &str) -> bool {
        let a = &self.answers;
        (0..a.key.len()).any(|i| a.key[i] == key && a.user[i] == user)
    }

    pub(super) fn append_version(
        &mut self,
        key: RecordKey,
        next: &StoredVersion,
    ) -> Result<(), StoreError> {
        let fields = serde_json::to_string(&next.fields)?;
        let v = &mut self.versions;
        v.record_type.push(key.record_type.to_owned());
        v.record_id.push(key.id.to_owned());
        v.version.push(next.version);
        v.fields.push(fields);
        v.last_modified.push(next.last_modified);
        v.modified_by.push(next.modified_by.clone());
        v.device_id.push(next.device_id.clone());
        v.device_seq.push(next.device_seq.map(signed));
        v.deleted.push(next.deleted);
        Ok(())
    }

    /// An answer to keep under its idempotency key; one kept before under the same key is
    /// replaced (in the database, or here if it was not sent yet).
    pub(super) fn remember(&mut self, remember: &Remember, now: UtcMillis, answer: &str) {
        let a = &mut self.answers;
        let same =
            (0..a.key.len()).find(|&i| a.key[i] == remember.key && a.user[i] == remember.user);
        if let Some(i) = same {
            a.user.remove(i);
            a.key.remove(i);
            a.fingerprint.remove(i);
            a.created_ms.remove(i);
            a.answer.remove(i);
        }
        a.user.push(remember.user.to_owned());
        a.key.push(remember.key.to_owned());
        a.fingerprint.push(remember.fingerprint.to_vec());
        a.created_ms.push(now.as_millis());
        a.answer.push(answer.to_owned());
        a.oldest_kept = a
            .oldest_kept
            .max(crate::store::oldest_kept(now, remember.ttl_hours));
    }

    pub(super) fn log_sync(&mut self, entry: &SyncEntry) -> Result<(), StoreError> {
        let paths = serde_json::to_string(&entry.paths)?;
        let kept = serde_json::to_string(&entry.kept)?;
        let s = &mut self.syncs;
        s.at.push(entry.at);
        s.user.push(entry.user.clone());
        s.device_id.push(entry.device_id.clone());
        s.method.push(entry.method.clone());
        s.record_type.push(entry.record_type.clone());
        s.record_id.push(entry.record_id.clone());
        s.status.push(i32::from(entry.status));
        s.outcome.push(entry.outcome.clone());
        s.problem.push(entry.problem.clone());
        s.paths.push(paths);
        s.conflict_id.push(entry.conflict_id);
        s.body.push(entry.body.clone());
        s.base_version.push(entry.base_version);
        s.version.push(entry.version);
        s.kept.push(kept);
        Ok(())
    }

    /// Drops up to `at_most` of the oldest log entries and as many queue events from
    /// before `older_than` (several asked in one transaction add up).
    pub(super) fn prune(&mut self, older_than: UtcMillis, at_most: usize) {
        let at_most = signed(at_most as u64);
        self.prune = Some(match self.prune {
            Some((before, n)) => (before.max(older_than), n.saturating_add(at_most)),
            None => (older_than, at_most),
        });
    }

    /// Forgets the unsent rows (their transaction or savepoint rolled back).
    pub(super) fn clear(&mut self) {
        *self = Pending::default();
    }

    /// Sends every unsent row, in one statement on `client`, and gives back the newest
    /// queue event; on failure the rows are gone with the transaction that fails with them.
    pub(super) fn flush(
        &mut self,
        client: &mut Client,
        flush: &postgres::Statement,
    ) -> Result<Option<i64>, postgres::Error> {
        if self.is_empty() {
            return Ok(None);
        }
        let Pending {
            versions: v,
            answers: a,
            syncs: s,
            prune,
        } = std::mem::take(self);
        let (prune_before, prune_at_most) = prune.unzip();
        // Nothing to store: nothing expires either.
        let oldest_kept = if a.key.is_empty() {
            i64::MIN
        } else {
            a.oldest_kept
        };
        let row = client.query_one(
            flush,
            &[
                &v.record_type,
                &v.record_id,
                &v.version,
                &v.fields,
                &v.last_modified,
                &v.modified_by,
                &v.device_id,
                &v.device_seq,
                &v.deleted,
                &oldest_kept,
                &a.user,
                &a.key,
                &a.fingerprint,
                &a.created_ms,
                &a.answer,
                &s.at,
                &s.user,
                &s.device_id,
                &s.method,
                &s.record_type,
                &s.record_id,
                &s.status,
                &s.outcome,
                &s.problem,
                &s.paths,
                &s.conflict_id,
                &s.body,
                &s.base_version,
                &s.version,
                &s.kept,
                &prune_before,
                &prune_at_most.unwrap_or(0),
            ],
        )?;
        Ok(Some(row.try_get(0)?))
    }
}
