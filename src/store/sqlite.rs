//! The SQLite store: WAL, `synchronous = FULL` (a 2xx means the write survives a crash of
//! the machine), one `BEGIN IMMEDIATE` transaction a write.

use std::path::Path;

use rusqlite::{Connection, OptionalExtension, TransactionBehavior, params};

use super::{
    Author, ConflictId, Effect, Known, MasterList, Parked, RecordKey, Remember, Remembered,
    StoreError, Stored,
};
use super::{ConflictRow, Resolution, Settlement};
use crate::model::json::Json;
use crate::model::{UtcMillis, Version};
use crate::sync::StoredVersion;

/// Schema migrations, applied in order at open; `user_version` counts the applied ones.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE versions (
    record_type   TEXT    NOT NULL,
    record_id     TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    seq           INTEGER NOT NULL UNIQUE,
    fields        TEXT    NOT NULL,
    last_modified TEXT    NOT NULL,
    modified_by   TEXT    NOT NULL,
    device_id     TEXT,
    device_seq    INTEGER,
    deleted       INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (record_type, record_id, version)
) WITHOUT ROWID;
CREATE TABLE conflicts (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    status            TEXT    NOT NULL DEFAULT 'open',
    kind              TEXT    NOT NULL,
    record_type       TEXT    NOT NULL,
    record_id         TEXT    NOT NULL,
    submitted_by      TEXT    NOT NULL,
    device_id         TEXT,
    device_seq        INTEGER,
    captured_at       TEXT,
    received_at       TEXT    NOT NULL,
    base_version      INTEGER,
    server_version    INTEGER,
    local_fields      TEXT    NOT NULL,
    conflicting_paths TEXT    NOT NULL
);
CREATE INDEX conflicts_by_device ON conflicts (record_type, record_id, device_id, device_seq);
"#,
    r#"
CREATE TABLE idempotency (
    user        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint BLOB    NOT NULL,
    created_ms  INTEGER NOT NULL,
    answer      TEXT    NOT NULL,
    PRIMARY KEY (user, key)
) WITHOUT ROWID;
"#,
    r#"
CREATE TABLE master_lists (
    list          TEXT    PRIMARY KEY,
    items         TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    last_modified TEXT    NOT NULL
) WITHOUT ROWID;
CREATE TABLE master_items (
    list TEXT NOT NULL,
    id   TEXT NOT NULL,
    PRIMARY KEY (list, id)
) WITHOUT ROWID;
"#,
    r#"
ALTER TABLE conflicts ADD COLUMN resolved_by TEXT;
ALTER TABLE conflicts ADD COLUMN resolved_at TEXT;
ALTER TABLE conflicts ADD COLUMN choices TEXT;
ALTER TABLE conflicts ADD COLUMN resulting_version INTEGER;
"#,
    r#"
CREATE INDEX idempotency_by_age ON idempotency (created_ms);
"#,
    // Remembered answers in arrival order, found by a small index: a random key then
    // touches one index page, not a page of whole answers (fewer pages a commit writes).
    r#"
CREATE TABLE idempotency_by_arrival (
    user        TEXT    NOT NULL,
    key         TEXT    NOT NULL,
    fingerprint BLOB    NOT NULL,
    created_ms  INTEGER NOT NULL,
    answer      TEXT    NOT NULL
);
INSERT INTO idempotency_by_arrival (user, key, fingerprint, created_ms, answer)
    SELECT user, key, fingerprint, created_ms, answer FROM idempotency ORDER BY created_ms;
DROP TABLE idempotency;
ALTER TABLE idempotency_by_arrival RENAME TO idempotency;
CREATE UNIQUE INDEX idempotency_by_key ON idempotency (user, key);
CREATE INDEX idempotency_by_age ON idempotency (created_ms);
"#,
    // Versions in change order (`seq` is the row id), found by record through an index:
    // a sync appends its version beside the other versions of its commit instead of
    // dirtying a page of whole versions of a random record (same reason as above).
    r#"
CREATE TABLE versions_by_seq (
    seq           INTEGER PRIMARY KEY,
    record_type   TEXT    NOT NULL,
    record_id     TEXT    NOT NULL,
    version       INTEGER NOT NULL,
    fields        TEXT    NOT NULL,
    last_modified TEXT    NOT NULL,
    modified_by   TEXT    NOT NULL,
    device_id     TEXT,
    device_seq    INTEGER,
    deleted       INTEGER NOT NULL DEFAULT 0
);
INSERT INTO versions_by_seq (seq, record_type, record_id, version, fields, last_modified,
                             modified_by, device_id, device_seq, deleted)
    SELECT seq, record_type, record_id, version, fields, last_modified,
           modified_by, device_id, device_seq, deleted FROM versions ORDER BY seq;
DROP TABLE versions;
ALTER TABLE versions_by_seq RENAME TO versions;
CREATE UNIQUE INDEX versions_by_record ON versions (record_type, record_id, version);
CREATE INDEX versions_by_device ON versions (record_type, record_id, device_id, device_seq)
    WHERE device_id IS NOT NULL;
"#,
    // The audit trail of a resolution: whether it kept a deletion, and per decided path
    // the value taken and the values displaced (JSON).
    r#"
ALTER TABLE conflicts ADD COLUMN kept_deleted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conflicts ADD COLUMN decided TEXT;
"#,
    // Items that left a master-data list, as they were, so that a record still naming
    // one can say what it was ("S-3 Old mill substation — removed from sites").
    r#"
CREATE TABLE master_removed (
    list       TEXT NOT NULL,
    id         TEXT NOT NULL,
    item       TEXT NOT NULL,
    removed_at TEXT NOT NULL,
    PRIMARY KEY (list, id)
);
"#,
];

/// Applies the migrations the database lacks, up to the first `upto`; `user_version`
/// counts the applied ones, each applied in a transaction of its own.
fn migrate(conn: &Connection, upto: usize) -> Result<(), StoreError> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(0);
    for (n, migration) in MIGRATIONS.iter().enumerate().take(upto).skip(applied) {
        conn.execute_batch(&format!(
            "BEGIN; {migration}; PRAGMA user_version = {}; COMMIT;",
            n + 1
        ))?;
    }
    Ok(())
}

/// The size the WAL file is cut back to once a burst has been checkpointed.
const WAL_LIMIT_BYTES: i64 = 16 * 1024 * 1024;

/// A store in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    /// Inside `begin_batch`/`end_batch`: writes are savepoints of the batch's transaction.
    in_batch: bool,
}

/// One write's unit of work: a transaction of its own, or a savepoint inside a batch.
/// Dropped without `commit`, either rolls back.
enum Unit<'c> {
    Own(rusqlite::Transaction<'c>),
    InBatch(rusqlite::Savepoint<'c>),
}

impl std::ops::Deref for Unit<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        match self {
            Unit::Own(tx) => tx,
            Unit::InBatch(sp) => sp,
        }
    }
}

impl Unit<'_> {
    fn commit(self) -> rusqlite::Result<()> {
        match self {
            Unit::Own(tx) => tx.commit(),
            Unit::InBatch(sp) => sp.commit(),
        }
    }
}

impl SqliteStore {
    fn unit(&mut self) -> Result<Unit<'_>, StoreError> {
        Ok(if self.in_batch {
            Unit::InBatch(self.conn.savepoint()?)
        } else {
            Unit::Own(
                self.conn
                    .transaction_with_behavior(TransactionBehavior::Immediate)?,
            )
        })
    }

    /// Starts a batch (group commit): the writes until `end_batch` share one transaction
    /// and one fsync. Nothing in it is durable, nor to be answered, before `end_batch`.
    pub fn begin_batch(&mut self) -> Result<(), StoreError> {
        self.conn.execute_batch("BEGIN IMMEDIATE")?;
        self.in_batch = true;
        Ok(())
    }

    /// Commits the batch; on failure rolls all of it back and says so.
    pub fn end_batch(&mut self) -> Result<(), StoreError> {
        self.in_batch = false;
        if let Err(e) = self.conn.execute_batch("COMMIT") {
            let _ = self.conn.execute_batch("ROLLBACK");
            return Err(e.into());
        }
        Ok(())
    }

    /// Leaves checkpoints (copying the WAL into the database file) to another
    /// connection: this one then only appends to the WAL, never waits for a checkpoint.
    pub fn leave_checkpoints(&self) -> Result<(), StoreError> {
        self.conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        Ok(())
    }

    /// Copies what it can of the WAL into the database file without waiting for anyone
    /// (SQLite's PASSIVE checkpoint); the WAL is reused once all of it is copied.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()))?;
        Ok(())
    }

    /// Opens (creating if needed) and migrates the database file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        // After a burst the WAL is cut back to this when it is next reused, so it never
        // stays large; no writer waits for it (the cut happens as the WAL restarts).
        conn.pragma_update(None, "journal_size_limit", WAL_LIMIT_BYTES)?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrate(&conn, MIGRATIONS.len())?;
        Ok(Self {
            conn,
            in_batch: false,
        })
    }

    /// The current version of a record (a tombstone included).
    pub fn current(&self, key: RecordKey) -> Result<Option<StoredVersion<'static>>, StoreError> {
        Ok(versions_from(&self.conn, key, None)?.pop())
    }

    /// One parked submission.
    pub fn conflict(&self, id: ConflictId) -> Result<Option<ConflictRow>, StoreError> {
        let rows = conflicts_where(&self.conn, "id = ?1", params![id.0 as i64])?;
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
        let status = open.map(|o| if o { "open" } else { "resolved" });
        conflicts_where(
            &self.conn,
            "id > ?1 AND (?2 IS NULL OR status = ?2) AND (?3 IS NULL OR record_type = ?3) ORDER BY id LIMIT ?4",
            params![
                after.min(i64::MAX as u64) as i64,
                status,
                record_type,
                limit as i64
            ],
        )
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
        let tx = self.unit()?;
        let Some(conflict) = conflicts_where(&tx, "id = ?1", params![id.0 as i64])?.pop() else {
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
                remember_answer(&tx, &remember, now, &text)?;
                tx.commit()?;
            }
            return Ok(Some((answer, None)));
        };
        let kept_deleted = settlement.write.is_none();
        let stored = match settlement.write {
            Some(fields) => {
                let version = current
                    .as_ref()
                    .map_or(Version::FIRST, |c| c.version.next());
                let seq: i64 = tx
                    .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM versions")?
                    .query_row([], |r| r.get(0))?;
                let text = serde_json::to_string(&fields).map_err(|e| StoreError(e.to_string()))?;
                tx.prepare_cached("INSERT INTO versions (record_type, record_id, version, seq, fields, last_modified, modified_by, deleted)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 0)")?.execute(
                    params![key.record_type, key.id, version.get() as i64, seq, text, now.to_string(), resolver],
                )?;
                StoredVersion {
                    version,
                    last_modified: now,
                    modified_by: resolver.into(),
                    device_id: None,
                    device_seq: None,
                    deleted: false,
                    fields,
                }
            }
            // The deletion stands: the conflict closes at the tombstone's version.
            None => current
                .clone()
                .ok_or_else(|| StoreError("a kept deletion without a tombstone".into()))?,
        };
        let json = |e: serde_json::Error| StoreError(e.to_string());
        let choices = serde_json::to_string(&settlement.choices).map_err(json)?;
        let decided = serde_json::to_string(&settlement.decided).map_err(json)?;
        tx.prepare_cached("UPDATE conflicts SET status = 'resolved', resolved_by = ?2, resolved_at = ?3, choices = ?4,
                 resulting_version = ?5, kept_deleted = ?6, decided = ?7
             WHERE id = ?1")?.execute(
            params![id.0 as i64, resolver, now.to_string(), choices, stored.version.get() as i64,
                    kept_deleted, decided],
        )?;
        if let Some(remember) = remember
            && let Some(text) = respond(&answer, Some(&stored))
        {
            remember_answer(&tx, &remember, now, &text)?;
        }
        tx.commit()?;
        Ok(Some((answer, Some(stored))))
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
        let mut statement = self.conn.prepare_cached(
            "SELECT v.seq, v.record_id, v.version FROM versions v
             WHERE v.record_type = ?1 AND v.seq > ?2
               AND v.version = (SELECT MAX(w.version) FROM versions w
                                WHERE w.record_type = v.record_type AND w.record_id = v.record_id)
             ORDER BY v.seq LIMIT ?3",
        )?;
        let rows: Vec<(i64, String, i64)> = statement
            .query_map(
                params![record_type, after.min(i64::MAX as u64) as i64, limit as i64],
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
                StoreError(format!(
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

    /// Replaces a master-data list; `ids` are its items' ids, `items` the list as sent.
    /// With `remember`, the answer `respond` gives is stored under the key in the same
    /// transaction.
    pub fn put_master(
        &mut self,
        list: &str,
        items: &str,
        ids: &[&str],
        now: UtcMillis,
        remember: Option<Remember>,
        respond: impl FnOnce(&MasterList) -> Option<String>,
    ) -> Result<MasterList, StoreError> {
        let tx = self.unit()?;
        remember_removed(&tx, list, ids, now)?;
        let version: i64 = tx
            .prepare_cached(
                "SELECT COALESCE(MAX(version), 0) + 1 FROM master_lists WHERE list = ?1",
            )?
            .query_row(params![list], |r| r.get(0))?;
        tx.prepare_cached("INSERT OR REPLACE INTO master_lists (list, items, version, last_modified) VALUES (?1, ?2, ?3, ?4)")?.execute(
            params![list, items, version, now.to_string()],
        )?;
        tx.prepare_cached("DELETE FROM master_items WHERE list = ?1")?
            .execute(params![list])?;
        {
            let mut insert =
                tx.prepare_cached("INSERT OR IGNORE INTO master_items (list, id) VALUES (?1, ?2)")?;
            for id in ids {
                insert.execute(params![list, id])?;
            }
        }
        let version = u64::try_from(version)
            .ok()
            .and_then(Version::new)
            .ok_or_else(|| StoreError("bad list version".into()))?;
        let master = MasterList {
            items: items.into(),
            removed: removed_items(&tx, list)?,
            version,
            last_modified: now,
        };
        if let Some(remember) = remember
            && let Some(text) = respond(&master)
        {
            remember_answer(&tx, &remember, now, &text)?;
        }
        tx.commit()?;
        Ok(master)
    }

    /// A master-data list, if it was ever put.
    pub fn master(&self, list: &str) -> Result<Option<MasterList>, StoreError> {
        let row = self
            .conn
            .prepare_cached(
                "SELECT items, version, last_modified FROM master_lists WHERE list = ?1",
            )?
            .query_row(params![list], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                ))
            })
            .optional()?;
        let removed = removed_items(&self.conn, list)?;
        row.map(|(items, version, last_modified)| {
            let corrupt = || StoreError(format!("stored master list {list:?} is unreadable"));
            Ok(MasterList {
                removed,
                items,
                version: u64::try_from(version)
                    .ok()
                    .and_then(Version::new)
                    .ok_or_else(corrupt)?,
                last_modified: last_modified.parse().map_err(|_| corrupt())?,
            })
        })
        .transpose()
    }

    /// The answer remembered under a user's idempotency key, if it is not too old.
    pub fn remembered(
        &self,
        user: &str,
        key: &str,
        ttl_hours: u64,
        now: UtcMillis,
    ) -> Result<Option<Remembered>, StoreError> {
        let oldest = now.as_millis() - (ttl_hours.min(24 * 365 * 100) as i64) * 3_600_000;
        let row = self.conn.prepare_cached("SELECT fingerprint, answer FROM idempotency WHERE user = ?1 AND key = ?2 AND created_ms >= ?3")?.query_row(
                params![user, key, oldest],
                |r| Ok((r.get::<_, Vec<u8>>(0)?, r.get::<_, String>(1)?)),
            )
            .optional()?;
        row.map(|(fingerprint, answer)| {
            let fingerprint = fingerprint
                .try_into()
                .map_err(|_| StoreError("a stored fingerprint is not 32 bytes".into()))?;
            Ok(Remembered {
                fingerprint,
                answer,
            })
        })
        .transpose()
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
        let tx = self.unit()?;
        let mut versions = versions_from(&tx, key, from)?;
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
                .query_row(
                    "SELECT id, kind, conflicting_paths FROM conflicts
                     WHERE record_type = ?1 AND record_id = ?2 AND device_id = ?3 AND device_seq = ?4",
                    params![key.record_type, key.id, device, seq as i64],
                    |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, String>(2)?)),
                )
                .optional()?
                .map(|(id, kind, paths)| -> Result<Parked, StoreError> {
                    let unreadable = |_| StoreError(format!("stored conflict c-{id:06} is unreadable"));
                    Ok(Parked {
                        id: ConflictId(id as u64),
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
                let version = current.map_or(Version::FIRST, Version::next);
                let seq: i64 = tx
                    .prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM versions")?
                    .query_row([], |r| r.get(0))?;
                let text = serde_json::to_string(&fields).map_err(|e| StoreError(e.to_string()))?;
                tx.prepare_cached("INSERT INTO versions (record_type, record_id, version, seq, fields, last_modified, modified_by, device_id, device_seq, deleted)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)")?.execute(
                    params![
                        key.record_type,
                        key.id,
                        version.get() as i64,
                        seq,
                        text,
                        now.to_string(),
                        author.user,
                        author.device_id,
                        author.device_seq.map(|s| s as i64),
                        deleted,
                    ],
                )?;
                Stored::Version(StoredVersion {
                    version,
                    last_modified: now,
                    modified_by: author.user.into(),
                    device_id: author.device_id.map(String::from),
                    device_seq: author.device_seq,
                    deleted,
                    fields,
                })
            }
            Effect::Park {
                kind,
                base_version,
                local,
                paths,
            } => {
                let kind = serde_json::to_value(kind).map_err(|e| StoreError(e.to_string()))?;
                tx.prepare_cached("INSERT INTO conflicts (kind, record_type, record_id, submitted_by, device_id, device_seq, captured_at,
                         received_at, base_version, server_version, local_fields, conflicting_paths)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)")?.execute(
                    params![
                        kind.as_str(),
                        key.record_type,
                        key.id,
                        author.user,
                        author.device_id,
                        author.device_seq.map(|s| s as i64),
                        author.captured_at.map(|t| t.to_string()),
                        now.to_string(),
                        base_version.map(|v| v as i64),
                        current.map(|v| v.get() as i64),
                        serde_json::to_string(&local).map_err(|e| StoreError(e.to_string()))?,
                        serde_json::to_string(&paths).map_err(|e| StoreError(e.to_string()))?,
                    ],
                )?;
                Stored::Conflict(ConflictId(tx.last_insert_rowid() as u64))
            }
        };
        if let Some(remember) = remember
            && let Some(text) = respond(&answer, &stored)
        {
            remember_answer(&tx, &remember, now, &text)?;
        }
        tx.commit()?;
        Ok((answer, stored))
    }
}

/// Stores an answer under its idempotency key (forgetting the expired ones).
fn remember_answer(
    conn: &Connection,
    remember: &Remember,
    now: UtcMillis,
    answer: &str,
) -> Result<(), StoreError> {
    let oldest = now.as_millis() - (remember.ttl_hours.min(24 * 365 * 100) as i64) * 3_600_000;
    conn.prepare_cached("DELETE FROM idempotency WHERE created_ms < ?1")?
        .execute(params![oldest])?;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idempotency (user, key, fingerprint, created_ms, answer) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![remember.user, remember.key, &remember.fingerprint[..], now.as_millis(), answer])?;
    Ok(())
}

/// The items that left a list, each with its `removed_at` (a JSON array).
fn removed_items(conn: &Connection, list: &str) -> Result<String, StoreError> {
    let removed: Vec<String> = conn
        .prepare_cached(
            "SELECT json_set(item, '$.removed_at', removed_at) FROM master_removed
             WHERE list = ?1 ORDER BY id",
        )?
        .query_map(params![list], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(format!("[{}]", removed.join(",")))
}

/// Before a list is replaced: its items that the new `ids` leave out are kept as they
/// were, with when they went; items listed again are no longer removed.
fn remember_removed(
    conn: &Connection,
    list: &str,
    ids: &[&str],
    now: UtcMillis,
) -> Result<(), StoreError> {
    let old: Option<String> = conn
        .prepare_cached("SELECT items FROM master_lists WHERE list = ?1")?
        .query_row(params![list], |r| r.get(0))
        .optional()?;
    let old: Vec<serde_json::Value> = old
        .and_then(|text| serde_json::from_str(&text).ok())
        .unwrap_or_default();
    let mut keep = conn.prepare_cached(
        "INSERT OR REPLACE INTO master_removed (list, id, item, removed_at) VALUES (?1, ?2, ?3, ?4)",
    )?;
    for item in &old {
        let Some(id) = item.get("id").and_then(|v| v.as_str()) else {
            continue;
        };
        if !ids.contains(&id) {
            keep.execute(params![list, id, item.to_string(), now.to_string()])?;
        }
    }
    let mut back = conn.prepare_cached("DELETE FROM master_removed WHERE list = ?1 AND id = ?2")?;
    for id in ids {
        back.execute(params![list, id])?;
    }
    Ok(())
}

/// Whether a master-data list holds an item, as the connection (and its transaction)
/// sees it. A lookup that fails is remembered and fails the write afterwards: a database
/// hiccup must not park a valid write as an invalid reference.
struct Listed<'c> {
    conn: &'c Connection,
    failed: std::cell::RefCell<Option<rusqlite::Error>>,
}

impl<'c> Listed<'c> {
    fn new(conn: &'c Connection) -> Self {
        Self {
            conn,
            failed: std::cell::RefCell::new(None),
        }
    }

    fn holds(&self, list: &str, id: &str) -> bool {
        let found = self
            .conn
            .prepare_cached("SELECT 1 FROM master_items WHERE list = ?1 AND id = ?2")
            .and_then(|mut lookup| lookup.exists(params![list, id]));
        found.unwrap_or_else(|e| {
            self.failed.borrow_mut().get_or_insert(e);
            false
        })
    }

    /// The first failed lookup, if any: the write's answer then cannot stand.
    fn check(self) -> Result<(), StoreError> {
        match self.failed.into_inner() {
            Some(e) => Err(e.into()),
            None => Ok(()),
        }
    }
}

/// Conflict rows matching a condition.
fn conflicts_where(
    conn: &Connection,
    condition: &str,
    values: impl rusqlite::Params,
) -> Result<Vec<ConflictRow>, StoreError> {
    let sql = format!(
        "SELECT id, status, kind, record_type, record_id, submitted_by, device_id, captured_at, received_at,
                base_version, local_fields, conflicting_paths, resolved_by, resolved_at, choices, resulting_version,
                kept_deleted, decided
         FROM conflicts WHERE {condition}"
    );
    let mut statement = conn.prepare_cached(&sql)?;
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
        })
    })?;
    rows.map(|row| row.map_err(StoreError::from).and_then(RawConflict::check))
        .collect()
}

/// A conflict row as read, before its JSON columns are checked.
struct RawConflict {
    id: i64,
    status: String,
    kind: String,
    record_type: String,
    record_id: String,
    submitted_by: String,
    device_id: Option<String>,
    captured_at: Option<String>,
    received_at: String,
    base_version: Option<i64>,
    local_fields: String,
    paths: String,
    resolved_by: Option<String>,
    resolved_at: Option<String>,
    choices: Option<String>,
    resulting_version: Option<i64>,
    kept_deleted: bool,
    decided: Option<String>,
}

impl RawConflict {
    fn check(self) -> Result<ConflictRow, StoreError> {
        let corrupt = || StoreError(format!("stored conflict c-{:06} is unreadable", self.id));
        let local = match Json::parse(&self.local_fields) {
            Ok(Json::Object(o)) => o.into_owned(),
            _ => return Err(corrupt()),
        };
        let time = |t: Option<String>| {
            t.map(|t| t.parse::<UtcMillis>().map_err(|_| corrupt()))
                .transpose()
        };
        let resolution = match (self.resolved_by, time(self.resolved_at)?) {
            (Some(by), Some(at)) => Some(Resolution {
                by,
                at,
                choices: match self.choices {
                    Some(text) => serde_json::from_str(&text).map_err(|_| corrupt())?,
                    None => Default::default(),
                },
                version: self
                    .resulting_version
                    .and_then(|v| u64::try_from(v).ok())
                    .and_then(Version::new),
                kept_deleted: self.kept_deleted,
                decided: match self.decided {
                    Some(text) => serde_json::from_str(&text).map_err(|_| corrupt())?,
                    None => Vec::new(),
                },
            }),
            _ => None,
        };
        Ok(ConflictRow {
            id: ConflictId(self.id as u64),
            open: self.status == "open",
            kind: serde_json::from_value(serde_json::Value::String(self.kind))
                .map_err(|_| corrupt())?,
            record_type: self.record_type,
            record_id: self.record_id,
            submitted_by: self.submitted_by,
            device_id: self.device_id,
            captured_at: time(self.captured_at)?,
            received_at: self.received_at.parse().map_err(|_| corrupt())?,
            base_version: self
                .base_version
                .and_then(|v| u64::try_from(v).ok())
                .and_then(Version::new),
            local,
            paths: serde_json::from_str(&self.paths).map_err(|_| corrupt())?,
            resolution,
        })
    }
}

/// Versions of a record from `from` (or only the current one) on, oldest first.
fn versions_from(
    conn: &Connection,
    key: RecordKey,
    from: Option<Version>,
) -> Result<Vec<StoredVersion<'static>>, StoreError> {
    let sql = "SELECT version, fields, last_modified, modified_by, device_id, device_seq, deleted FROM versions
               WHERE record_type = ?1 AND record_id = ?2 AND version >= ?3 ORDER BY version";
    let start = match from {
        Some(v) => v.get() as i64,
        None => conn
            .query_row(
                "SELECT MAX(version) FROM versions WHERE record_type = ?1 AND record_id = ?2",
                params![key.record_type, key.id],
                |r| r.get::<_, Option<i64>>(0),
            )?
            .unwrap_or(i64::MAX),
    };
    let mut statement = conn.prepare_cached(sql)?;
    let rows = statement.query_map(params![key.record_type, key.id, start], |r| {
        Ok((
            r.get::<_, i64>(0)?,
            r.get::<_, String>(1)?,
            r.get::<_, String>(2)?,
            r.get::<_, String>(3)?,
            r.get::<_, Option<String>>(4)?,
            r.get::<_, Option<i64>>(5)?,
            r.get::<_, bool>(6)?,
        ))
    })?;
    let mut out = Vec::new();
    for row in rows {
        let (version, fields, last_modified, modified_by, device_id, device_seq, deleted) = row?;
        let corrupt = |what: &str| {
            StoreError(format!(
                "stored {what} of {}/{} v{version} is unreadable",
                key.record_type, key.id
            ))
        };
        let fields = match Json::parse(&fields) {
            Ok(Json::Object(o)) => o.into_owned(),
            _ => return Err(corrupt("fields")),
        };
        out.push(StoredVersion {
            version: u64::try_from(version)
                .ok()
                .and_then(Version::new)
                .ok_or_else(|| corrupt("version"))?,
            last_modified: last_modified.parse().map_err(|_| corrupt("time"))?,
            modified_by,
            device_id,
            device_seq: device_seq.map(|s| s as u64),
            deleted,
            fields,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use crate::model::json::Object;

    fn fields(v: Json<'static>) -> Object<'static> {
        match v {
            Json::Object(o) => o,
            _ => panic!(),
        }
    }

    impl SqliteStore {
        /// A write that remembers no answer.
        pub(super) fn write_plain<T>(
            &mut self,
            key: RecordKey,
            from: Option<Version>,
            author: &Author,
            now: UtcMillis,
            decide: impl FnOnce(&Known) -> (T, Effect),
        ) -> Result<(T, Stored), StoreError> {
            self.write(key, from, author, now, None, decide, |_, _| None)
        }
    }

    const KEY: RecordKey = RecordKey {
        record_type: "inspections",
        id: "INS-1",
    };

    /// A store in a fresh temporary folder (kept as long as the guard lives).
    pub(super) fn fresh_store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        (dir, store)
    }

    /// Ana, writing from the device given, if any.
    pub(super) fn author(device: Option<(&'static str, u64)>) -> Author<'static> {
        Author {
            user: "ana",
            device_id: device.map(|d| d.0),
            device_seq: device.map(|d| d.1),
            captured_at: None,
        }
    }

    fn append(
        store: &mut SqliteStore,
        from: Option<u64>,
        value: Json<'static>,
        device: Option<(&'static str, u64)>,
    ) -> Stored {
        let now = UtcMillis::now();
        let (_, stored) = store
            .write_plain(
                KEY,
                from.and_then(Version::new),
                &author(device),
                now,
                |_known| {
                    (
                        (),
                        Effect::Append {
                            fields: fields(value),
                            deleted: false,
                        },
                    )
                },
            )
            .unwrap();
        stored
    }

    #[test]
    fn a_writer_that_leaves_checkpoints_only_appends_and_another_connection_copies() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut store = SqliteStore::open(&path).unwrap();
        store.leave_checkpoints().unwrap();
        let db_size = || std::fs::metadata(&path).unwrap().len();
        let before = db_size();
        let big = crate::json!({"notes": "x".repeat(3000)});
        for _ in 0..400 {
            append(&mut store, None, big.clone(), None);
        }
        // 400 versions of 3 KB (~1,200 pages): past SQLite's own 1,000-page
        // checkpoint, yet the database file has not grown: all of it is in the WAL.
        assert_eq!(db_size(), before);
        let checkpointer = SqliteStore::open(&path).unwrap();
        checkpointer.checkpoint().unwrap();
        assert!(
            db_size() > before + 1_000_000,
            "{} -> {}",
            before,
            db_size()
        );
        assert_eq!(store.history(KEY).unwrap().len(), 400);
    }

    #[test]
    fn after_a_burst_the_wal_is_cut_back_below_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut store = SqliteStore::open(&path).unwrap();
        store.leave_checkpoints().unwrap();
        let wal = || {
            std::fs::metadata(dir.path().join("s.db-wal"))
                .unwrap()
                .len()
        };
        let big = crate::json!({"notes": "x".repeat(1024 * 1024)});
        for _ in 0..70 {
            append(&mut store, None, big.clone(), None);
        }
        assert!(wal() > 64 * 1024 * 1024, "a burst of 70 MB: {}", wal());
        // The checkpoint thread copies it all; the writer's next write reuses the WAL
        // from its start and cuts the file.
        SqliteStore::open(&path).unwrap().checkpoint().unwrap();
        append(&mut store, None, crate::json!({"notes": "small"}), None);
        assert!(wal() <= WAL_LIMIT_BYTES as u64, "{}", wal());
        assert!(wal() < 64 * 1024 * 1024);
        assert_eq!(store.history(KEY).unwrap().len(), 71);
    }

    #[test]
    fn versions_stored_before_the_change_order_migration_are_read_after_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            migrate(&conn, 6).unwrap();
            for (seq, version, device) in [(1, 1, None), (2, 2, Some("tab-1")), (3, 3, None)] {
                conn.execute(
                    "INSERT INTO versions (record_type, record_id, version, seq, fields, last_modified, modified_by, device_id, device_seq)
                     VALUES ('inspections', 'INS-1', ?1, ?2, '{\"a\": 1}', '2026-11-20T10:00:00.000Z', 'ana', ?3, ?4)",
                    params![version, seq, device, device.map(|_| 7)],
                )
                .unwrap();
            }
        }
        let mut store = SqliteStore::open(&path).unwrap();
        let history = store.history(KEY).unwrap();
        let versions: Vec<u64> = history.iter().map(|v| v.version.get()).collect();
        assert_eq!(versions, [1, 2, 3]);
        assert_eq!(history[1].device_id.as_deref(), Some("tab-1"));
        // The next write continues the sequence and the versions.
        let stored = append(
            &mut store,
            Some(3),
            crate::json!({"a": 2}),
            Some(("tab-1", 8)),
        );
        assert!(matches!(stored, Stored::Version(v) if v.version.get() == 4));
        assert_eq!(store.changed_after("inspections", 3, 10).unwrap().len(), 1);
    }

    #[test]
    fn versions_grow_by_one_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut store = SqliteStore::open(&path).unwrap();
        assert!(
            matches!(append(&mut store, None, json!({"a": 1}), None), Stored::Version(v) if v.version == Version::FIRST)
        );
        assert!(
            matches!(append(&mut store, None, json!({"a": 2}), Some(("tab", 3))), Stored::Version(v) if v.version.get() == 2)
        );
        drop(store);
        let store = SqliteStore::open(&path).unwrap();
        let current = store.current(KEY).unwrap().unwrap();
        assert_eq!((current.version.get(), current.device_seq), (2, Some(3)));
        assert_eq!(
            serde_json::to_value(&current.fields).unwrap(),
            serde_json::json!({"a": 2})
        );
        let first = store.version(KEY, Version::FIRST).unwrap().unwrap();
        assert_eq!(
            serde_json::to_value(&first.fields).unwrap(),
            serde_json::json!({"a": 1})
        );
        assert!(
            store
                .version(KEY, Version::new(3).unwrap())
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn a_write_sees_the_versions_since_its_base_and_the_device_history() {
        let (_dir, mut store) = fresh_store();
        for n in 1..=3 {
            append(&mut store, None, json!({"n": n}), Some(("tab", n)));
        }
        let (seen, stored) = store
            .write_plain(
                KEY,
                Version::new(2),
                &author(Some(("tab", 9))),
                UtcMillis::now(),
                |known| {
                    let seen: Vec<u64> = known.versions.iter().map(|v| v.version.get()).collect();
                    ((seen, known.applied_device_seq), Effect::Nothing)
                },
            )
            .unwrap();
        assert_eq!(seen, (vec![2, 3], Some(3)));
        assert_eq!(stored, Stored::Nothing);
        let (seen, _) = store
            .write_plain(
                KEY,
                Version::new(7),
                &author(None),
                UtcMillis::now(),
                |known| {
                    (
                        known
                            .versions
                            .iter()
                            .map(|v| v.version.get())
                            .collect::<Vec<_>>(),
                        Effect::Nothing,
                    )
                },
            )
            .unwrap();
        assert_eq!(seen, [3], "an unknown base shows the current version alone");
    }

    #[test]
    fn a_resolution_stored_unreadable_is_an_error_not_an_empty_one() {
        let (_dir, mut store) = fresh_store();
        append(&mut store, None, json!({"n": 1}), None);
        store
            .write_plain(
                KEY,
                Version::new(1),
                &author(None),
                UtcMillis::now(),
                |_| {
                    let effect = Effect::Park {
                        kind: crate::sync::ParkKind::EditConflict,
                        base_version: Some(1),
                        local: fields(json!({"n": 5})),
                        paths: vec!["/n".into()],
                    };
                    ((), effect)
                },
            )
            .unwrap();
        store
            .conn
            .execute_batch(
                "UPDATE conflicts SET status = 'resolved', resolved_by = 'sue',
                 resolved_at = '2026-11-20T10:00:00.000Z', choices = 'not json'",
            )
            .unwrap();
        assert!(store.conflict(ConflictId(1)).is_err());
    }

    #[test]
    fn a_parked_submission_gets_a_conflict_id_and_is_found_again_by_device() {
        let (_dir, mut store) = fresh_store();
        append(&mut store, None, json!({"n": 1}), None);
        let (before, stored) = store
            .write_plain(
                KEY,
                Version::new(1),
                &author(Some(("tab", 4))),
                UtcMillis::now(),
                |known| {
                    let effect = Effect::Park {
                        kind: crate::sync::ParkKind::EditConflict,
                        base_version: Some(1),
                        local: fields(json!({"n": 5})),
                        paths: vec!["/n".into()],
                    };
                    (known.parked_conflict.clone(), effect)
                },
            )
            .unwrap();
        assert_eq!(before, None);
        assert_eq!(stored, Stored::Conflict(ConflictId(1)));
        assert_eq!(ConflictId(1).to_string(), "c-000001");
        let (again, _) = store
            .write_plain(
                KEY,
                Version::new(1),
                &author(Some(("tab", 4))),
                UtcMillis::now(),
                |known| (known.parked_conflict.clone(), Effect::Nothing),
            )
            .unwrap();
        let expected = Parked {
            id: ConflictId(1),
            kind: crate::sync::ParkKind::EditConflict,
            paths: vec!["/n".into()],
        };
        assert_eq!(again, Some(expected));
    }
}

#[cfg(test)]
mod idempotency_tests {
    use super::*;
    use crate::json;
    use crate::model::json::Object;

    #[test]
    fn answers_remembered_before_the_arrival_order_migration_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.db");
        {
            let conn = Connection::open(&path).unwrap();
            migrate(&conn, 5).unwrap();
            conn.execute(
                "INSERT INTO idempotency (user, key, fingerprint, created_ms, answer) VALUES ('ana', 'k1', ?1, ?2, 'old answer')",
                params![vec![7u8; 32], 1_763_632_800_000i64],
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let now: UtcMillis = "2025-11-20T10:00:00Z".parse().unwrap();
        let found = store.remembered("ana", "k1", 24, now).unwrap().unwrap();
        assert_eq!(found.answer, "old answer");
        let duplicate = store.conn.execute(
            "INSERT INTO idempotency (user, key, fingerprint, created_ms, answer) VALUES ('ana', 'k1', x'00', 0, '')",
            [],
        );
        assert!(duplicate.is_err(), "a key is still unique per user");
    }

    #[test]
    fn an_answer_is_remembered_with_its_write_and_forgotten_after_its_ttl() {
        let (_dir, mut store) = super::tests::fresh_store();
        let key = RecordKey {
            record_type: "t",
            id: "1",
        };
        let author = super::tests::author(None);
        let remember = Remember {
            user: "ana",
            key: "k1",
            fingerprint: [7; 32],
            ttl_hours: 24,
        };
        let now: UtcMillis = "2026-11-20T10:00:00Z".parse().unwrap();
        let Json::Object(fields) = json!({"a": 1}) else {
            panic!()
        };
        let fields: Object<'static> = fields;
        store
            .write(
                key,
                None,
                &author,
                now,
                Some(remember),
                |_| {
                    (
                        7,
                        Effect::Append {
                            fields,
                            deleted: false,
                        },
                    )
                },
                |seven, stored| {
                    assert!(matches!(stored, Stored::Version(_)));
                    Some(format!("answer {seven}"))
                },
            )
            .unwrap();
        let found = store.remembered("ana", "k1", 24, now).unwrap().unwrap();
        assert_eq!(
            found,
            Remembered {
                fingerprint: [7; 32],
                answer: "answer 7".into()
            }
        );
        assert_eq!(
            store.remembered("ben", "k1", 24, now).unwrap(),
            None,
            "keys are scoped per user"
        );
        let later: UtcMillis = "2026-11-21T10:00:01Z".parse().unwrap();
        assert_eq!(store.remembered("ana", "k1", 24, later).unwrap(), None);
        // A write that answers nothing to remember (a 5xx) leaves the key free.
        store
            .write(
                key,
                None,
                &author,
                now,
                Some(Remember {
                    key: "k2",
                    ..remember
                }),
                |_| ((), Effect::Nothing),
                |_, _| None,
            )
            .unwrap();
        assert_eq!(store.remembered("ana", "k2", 24, now).unwrap(), None);
    }
}

#[cfg(test)]
mod master_tests {
    use super::*;

    #[test]
    fn a_master_list_is_replaced_whole_and_checked_inside_writes() {
        let (_dir, mut store) = super::tests::fresh_store();
        let now = UtcMillis::now();
        let first = store
            .put_master("sites", "[a]", &["S-1", "S-4"], now, None, |_| None)
            .unwrap();
        let second = store
            .put_master("sites", "[b]", &["S-4"], now, None, |_| None)
            .unwrap();
        assert_eq!((first.version.get(), second.version.get()), (1, 2));
        assert_eq!(store.master("sites").unwrap().unwrap().items, "[b]");
        assert_eq!(store.master("zones").unwrap(), None);
        let key = RecordKey {
            record_type: "t",
            id: "1",
        };
        let author = super::tests::author(None);
        let (seen, _) = store
            .write_plain(key, None, &author, now, |k| {
                (
                    (
                        (k.listed)("sites", "S-4"),
                        (k.listed)("sites", "S-1"),
                        (k.listed)("zones", "S-4"),
                    ),
                    Effect::Nothing,
                )
            })
            .unwrap();
        assert_eq!(seen, (true, false, false));
    }

    #[test]
    fn a_failed_master_data_lookup_fails_the_write_instead_of_parking_it() {
        let (_dir, mut store) = super::tests::fresh_store();
        store.conn.execute_batch("DROP TABLE master_items").unwrap();
        let key = RecordKey {
            record_type: "t",
            id: "1",
        };
        let author = super::tests::author(None);
        let written = store.write_plain(key, None, &author, UtcMillis::now(), |k| {
            let listed = (k.listed)("sites", "S-4");
            (listed, Effect::Nothing)
        });
        assert!(written.is_err(), "an error, not 'not listed'");
    }
}

#[cfg(test)]
mod feed_tests {
    use super::*;
    use crate::json;

    #[test]
    fn the_feed_lists_each_changed_record_once_by_its_last_change() {
        let (_dir, mut store) = super::tests::fresh_store();
        let author = super::tests::author(None);
        let mut put = |id: &str, n: i64| {
            let Json::Object(fields) = json!({"n": n}) else {
                panic!()
            };
            let key = RecordKey {
                record_type: "t",
                id,
            };
            store
                .write_plain(key, None, &author, UtcMillis::now(), |_| {
                    (
                        (),
                        Effect::Append {
                            fields,
                            deleted: false,
                        },
                    )
                })
                .unwrap();
        };
        put("a", 1); // seq 1
        put("b", 1); // seq 2
        put("a", 2); // seq 3
        let feed = |after, limit| -> Vec<(u64, String, u64)> {
            store
                .changed_after("t", after, limit)
                .unwrap()
                .into_iter()
                .map(|(s, id, v)| (s, id, v.version.get()))
                .collect()
        };
        assert_eq!(feed(0, 10), [(2, "b".into(), 1), (3, "a".into(), 2)]);
        assert_eq!(feed(2, 10), [(3, "a".into(), 2)]);
        assert_eq!(feed(0, 1), [(2, "b".into(), 1)]);
        assert_eq!(feed(3, 10), []);
        assert_eq!(
            store
                .history(RecordKey {
                    record_type: "t",
                    id: "a"
                })
                .unwrap()
                .len(),
            2
        );
    }
}

#[cfg(test)]
mod batch_tests {
    use super::*;
    use crate::json;

    #[test]
    fn a_batch_commits_its_writes_together() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut store = SqliteStore::open(&path).unwrap();
        let reader = SqliteStore::open(&path).unwrap();
        let key = RecordKey {
            record_type: "t",
            id: "1",
        };
        let author = super::tests::author(None);
        store.begin_batch().unwrap();
        for n in 1..=2 {
            let Json::Object(fields) = json!({"n": n}) else {
                panic!()
            };
            let (_, stored) = store
                .write_plain(key, None, &author, UtcMillis::now(), |_| {
                    (
                        (),
                        Effect::Append {
                            fields,
                            deleted: false,
                        },
                    )
                })
                .unwrap();
            assert!(
                matches!(stored, Stored::Version(v) if v.version.get() == n),
                "a batch sees its own writes"
            );
        }
        assert_eq!(
            reader.current(key).unwrap(),
            None,
            "nothing is visible before the batch commits"
        );
        store.end_batch().unwrap();
        assert_eq!(
            reader.current(key).unwrap().map(|v| v.version.get()),
            Some(2)
        );
    }
}
