//! The PostgreSQL schema, as migrations applied in order at start, under a session
//! advisory lock so that two instances starting at once do not both apply one.

use super::*;

/// The lock migrations run under (any number; ours).
const MIGRATION_LOCK: i64 = 0x5359_4e43_4d49_4752; // "SYNCMIGR"

/// Applied in order; `syncdesk_schema.version` counts the applied ones.
const MIGRATIONS: &[&str] = &[
    r#"
CREATE TABLE versions (
    seq           BIGINT  PRIMARY KEY,
    record_type   TEXT    NOT NULL,
    record_id     TEXT    NOT NULL,
    version       BIGINT  NOT NULL,
    fields        TEXT    NOT NULL,
    last_modified TEXT    NOT NULL,
    modified_by   TEXT    NOT NULL,
    device_id     TEXT,
    device_seq    BIGINT,
    deleted       BOOLEAN NOT NULL DEFAULT false,
    UNIQUE (record_type, record_id, version)
);
CREATE INDEX versions_by_device ON versions (record_type, record_id, device_id, device_seq)
    WHERE device_id IS NOT NULL;
CREATE INDEX versions_by_type ON versions (record_type, seq);
CREATE TABLE conflicts (
    id                BIGINT  PRIMARY KEY,
    status            TEXT    NOT NULL DEFAULT 'open',
    kind              TEXT    NOT NULL,
    record_type       TEXT    NOT NULL,
    record_id         TEXT    NOT NULL,
    submitted_by      TEXT    NOT NULL,
    device_id         TEXT,
    device_seq        BIGINT,
    captured_at       TEXT,
    received_at       TEXT    NOT NULL,
    base_version      BIGINT,
    server_version    BIGINT,
    local_fields      TEXT    NOT NULL,
    conflicting_paths TEXT    NOT NULL,
    resolved_by       TEXT,
    resolved_at       TEXT,
    choices           TEXT,
    resulting_version BIGINT,
    kept_deleted      BOOLEAN NOT NULL DEFAULT false,
    decided           TEXT
);
CREATE INDEX conflicts_by_device ON conflicts (record_type, record_id, device_id, device_seq);
CREATE INDEX conflicts_open ON conflicts (id) WHERE status = 'open';
CREATE TABLE idempotency (
    "user"      TEXT   NOT NULL,
    key         TEXT   NOT NULL,
    fingerprint BYTEA  NOT NULL,
    created_ms  BIGINT NOT NULL,
    answer      TEXT   NOT NULL,
    PRIMARY KEY ("user", key)
);
CREATE INDEX idempotency_by_age ON idempotency (created_ms);
CREATE TABLE master_lists (
    list          TEXT   PRIMARY KEY,
    items         TEXT   NOT NULL,
    version       BIGINT NOT NULL,
    last_modified TEXT   NOT NULL
);
CREATE TABLE master_items (
    list TEXT NOT NULL,
    id   TEXT NOT NULL,
    PRIMARY KEY (list, id)
);
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
    seq         BIGINT PRIMARY KEY,
    kind        TEXT   NOT NULL,
    conflict_id BIGINT NOT NULL,
    at          TEXT   NOT NULL
);
"#,
    // The sync log: every write to a record and what it came to, newest by `seq`.
    r#"
CREATE TABLE syncs (
    seq         BIGINT  PRIMARY KEY,
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
    conflict_id BIGINT,
    body        TEXT
);
"#,
    // What a sync was based on and came to, and the server's changes it kept.
    r#"
ALTER TABLE syncs ADD COLUMN base_version BIGINT;
ALTER TABLE syncs ADD COLUMN version BIGINT;
ALTER TABLE syncs ADD COLUMN kept TEXT;
"#,
    // Support's look-ups through indexes of their own, not a scan of every row: the
    // resolved conflicts newest first (with the audit's filters in the index), and the
    // log by device and by user (the open conflicts have theirs since the first).
    r#"
CREATE INDEX conflicts_by_resolution ON conflicts (resolved_at, id, resolved_by, record_type)
    WHERE status = 'resolved';
CREATE INDEX syncs_by_device ON syncs (device_id, seq) WHERE device_id IS NOT NULL;
CREATE INDEX syncs_by_user ON syncs ("user", seq);
"#,
];

/// Applies the migrations the database lacks; refuses a database migrated further than
/// this build knows (a newer syncdesk wrote it).
pub(super) fn migrate(client: &mut Client) -> Result<(), StoreError> {
    client.execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])?;
    let result = migrate_locked(client);
    let unlocked = client.execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK]);
    result?;
    unlocked?;
    Ok(())
}

fn migrate_locked(client: &mut Client) -> Result<(), StoreError> {
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS syncdesk_schema (version BIGINT NOT NULL);
         INSERT INTO syncdesk_schema SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM syncdesk_schema)",
    )?;
    let applied: i64 = client
        .query_one("SELECT version FROM syncdesk_schema", &[])?
        .try_get(0)?;
    let applied = unsigned(applied, "schema version")? as usize;
    if applied > MIGRATIONS.len() {
        return Err(StoreError::NewerSchema {
            found: applied,
            known: MIGRATIONS.len(),
        });
    }
    for (n, migration) in MIGRATIONS.iter().enumerate().skip(applied) {
        let mut tx = client.transaction()?;
        tx.batch_execute(migration)?;
        tx.execute(
            "UPDATE syncdesk_schema SET version = $1",
            &[&(n as i64 + 1)],
        )?;
        tx.commit()?;
    }
    Ok(())
}
