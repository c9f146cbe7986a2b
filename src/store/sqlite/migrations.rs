//! The schema, as migrations applied in order at open.

use super::*;

/// Schema migrations, applied in order at open; `user_version` counts the applied ones.
pub(super) const MIGRATIONS: &[&str] = &[
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
    // The live queue: advisory claims, and every change of the queue numbered in commit
    // order (what `GET /v1/events` sends and resumes from).
    r#"
ALTER TABLE conflicts ADD COLUMN claimed_by TEXT;
ALTER TABLE conflicts ADD COLUMN claimed_until TEXT;
CREATE TABLE events (
    seq         INTEGER PRIMARY KEY,
    kind        TEXT    NOT NULL,
    conflict_id INTEGER NOT NULL,
    at          TEXT    NOT NULL
);
"#,
    // The sync log: every write to a record and what it came to, newest by `seq`.
    r#"
CREATE TABLE syncs (
    seq         INTEGER PRIMARY KEY,
    at          TEXT    NOT NULL,
    "user"      TEXT    NOT NULL,
    device_id   TEXT,
    method      TEXT    NOT NULL,
    record_type TEXT    NOT NULL,
    record_id   TEXT,
    status      INTEGER NOT NULL,
    outcome     TEXT    NOT NULL,
    problem     TEXT,
    paths       TEXT    NOT NULL,
    conflict_id INTEGER,
    body        TEXT
);
"#,
    // What a sync was based on and came to, and the server's changes it kept: each entry
    // explains itself.
    r#"
ALTER TABLE syncs ADD COLUMN base_version INTEGER;
ALTER TABLE syncs ADD COLUMN version INTEGER;
ALTER TABLE syncs ADD COLUMN kept TEXT;
"#,
    // Support's look-ups through indexes of their own, not a scan of every row (a
    // month's log of a million syncs and 200,000 conflicts took 0.05-0.5 s warm and
    // 16 s from disk): the open conflicts, the resolved ones newest first (with the
    // audit's filters, checked without reading the row), and the log by device and by
    // user. The log's two cost each sync a row in an index; nothing else writes them.
    r#"
CREATE INDEX conflicts_open ON conflicts (id) WHERE status = 'open';
CREATE INDEX conflicts_by_resolution ON conflicts (resolved_at, id, resolved_by, record_type)
    WHERE status = 'resolved';
CREATE INDEX syncs_by_device ON syncs (device_id, seq) WHERE device_id IS NOT NULL;
CREATE INDEX syncs_by_user ON syncs ("user", seq);
"#,
    // The changes feed walks a type's versions from its cursor in change order, instead
    // of every version of the type for each page (and sorting them): a tablet's pull
    // after its last one read the whole history. Its entries are appended at the end of
    // their type, so a write adds no page of its own.
    r#"
CREATE INDEX versions_by_type ON versions (record_type, seq);
"#,
    // Expired answers are forgotten in arrival order (the table's), when the first is
    // due: the index by age cost every remembered answer an entry, and every write a
    // look for expired ones, to find what the first row says.
    r#"
DROP INDEX idempotency_by_age;
"#,
    // An answer is found through the writer's own index in memory (`AnswerRows`): a key's
    // entry here dirtied a page of its own, at random, in every commit.
    r#"
DROP INDEX idempotency_by_key;
"#,
];

/// Applies the migrations the database lacks, up to the first `upto`; `user_version`
/// counts the applied ones, each applied in a transaction of its own. A database migrated
/// further than this build knows is refused.
pub(super) fn migrate(conn: &Connection, upto: usize) -> Result<(), StoreError> {
    let applied: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
    let applied = usize::try_from(applied).unwrap_or(0);
    if applied > MIGRATIONS.len() {
        // A newer syncdesk migrated it: this one would misread what it does not know.
        return Err(StoreError::NewerSchema {
            found: applied,
            known: MIGRATIONS.len(),
        });
    }
    for (n, migration) in MIGRATIONS.iter().enumerate().take(upto).skip(applied) {
        conn.execute_batch(&format!(
            "BEGIN; {migration}; PRAGMA user_version = {}; COMMIT;",
            n + 1
        ))?;
    }
    Ok(())
}
