//! The PostgreSQL store's write path on a real database (`SYNCDESK_TEST_POSTGRES`, an
//! admin URL; default the local server): what a batch holds back until its commit must
//! still be seen by every read that comes after it in the batch.

use super::*;
use crate::json;
use crate::model::Json;
use crate::protocol::ParkKind;
use crate::store::{Announced, OwnedWriteAhead, Store, SyncEntry, SyncFilter, WriteAhead};

/// A new, empty database; dropped with the guard.
struct Fresh {
    url: String,
    name: String,
    admin: String,
}

impl Fresh {
    fn new(tag: &str) -> Self {
        let admin = std::env::var("SYNCDESK_TEST_POSTGRES")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("syncdesk_unit_{tag}_{}", std::process::id());
        let mut client = Client::connect(&admin, NoTls).unwrap_or_else(|e| {
            panic!("no PostgreSQL at {admin} (set SYNCDESK_TEST_POSTGRES): {e}")
        });
        for statement in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!("CREATE DATABASE {name}"),
        ] {
            client.batch_execute(&statement).unwrap();
        }
        let server = admin.rsplit_once('/').map_or(admin.as_str(), |(s, _)| s);
        Self {
            url: format!("{server}/{name}"),
            name,
            admin,
        }
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if let Ok(mut client) = Client::connect(&self.admin, NoTls) {
            let _ = client.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

const KEY: RecordKey = RecordKey {
    record_type: "inspections",
    id: "INS-1",
};

fn author(device: Option<(&'static str, u64)>) -> Author<'static> {
    Author {
        user: "ana",
        device_id: device.map(|d| d.0),
        device_seq: device.map(|d| d.1),
        captured_at: None,
    }
}

fn at(text: &str) -> UtcMillis {
    text.parse().unwrap()
}

fn object(value: Json<'static>) -> crate::model::Object<'static> {
    let Json::Object(fields) = value else {
        panic!("an object")
    };
    fields
}

/// What a write was decided on: the versions it met, the device's last number applied,
/// its parked submission.
type Seen = (Vec<u64>, Option<u64>, Option<ConflictId>);

/// Appends from `from`, remembering the answer "ok V" (V the current version it met)
/// under `remember` if given;
/// gives back the store's figures the write was decided on and what it stored.
fn append(
    store: &mut PgStore,
    from: Option<u64>,
    device: Option<(&'static str, u64)>,
    remember: Option<&str>,
    now: UtcMillis,
) -> (Seen, Stored) {
    let remember = remember.map(|key| Remember {
        user: "ana",
        key,
        fingerprint: [7; 32],
        ttl_hours: 1,
    });
    store
        .write_on(
            KEY,
            from.and_then(Version::new),
            &author(device),
            now,
            remember,
            |known| {
                let seen = (
                    known
                        .versions
                        .iter()
                        .map(|v| v.version.get())
                        .collect::<Vec<_>>(),
                    known.applied_device_seq,
                    known.parked_conflict.as_ref().map(|p| p.id),
                );
                let effect = Effect::Append {
                    fields: object(json!({"n": known.versions.len()})),
                    deleted: false,
                };
                (seen, effect)
            },
            |seen, _| Some(format!("ok {}", seen.0.last().unwrap_or(&0))),
        )
        .unwrap()
}

fn entry(n: u16) -> SyncEntry {
    SyncEntry {
        seq: 0,
        at: at("2026-12-06T10:00:00Z"),
        user: "ana".into(),
        device_id: Some("tab-1".into()),
        method: "PUT".into(),
        record_type: KEY.record_type.into(),
        record_id: Some(KEY.id.into()),
        status: n,
        outcome: "applied".into(),
        problem: None,
        paths: vec![format!("/f{n}")],
        conflict_id: None,
        body: None,
        base_version: None,
        version: None,
        kept: vec![],
    }
}

#[test]
fn a_batch_reads_what_it_has_not_sent_yet_and_commits_it_in_order() {
    let db = Fresh::new("batch");
    let mut store = PgStore::open(&db.url).unwrap();
    let reader = PgStore::open(&db.url).unwrap();
    let now = at("2026-12-06T10:00:00Z");
    store.begin_batch().unwrap();
    let (_, first) = append(&mut store, None, Some(("tab-1", 4)), Some("k1"), now);
    assert!(matches!(first, Stored::Version(ref v) if v.version.get() == 1));
    store.log_sync(&entry(200)).unwrap();
    // The same record again in the same batch: its first version is unsent, yet seen.
    let (seen, second) = append(&mut store, Some(1), Some(("tab-1", 5)), Some("k2"), now);
    assert_eq!(
        seen,
        (vec![1], Some(4), None),
        "versions from the base, the device's last"
    );
    assert!(matches!(second, Stored::Version(ref v) if v.version.get() == 2));
    store.log_sync(&entry(201)).unwrap();
    let remembered = store.remembered("ana", "k2", 1, now).unwrap();
    assert_eq!(
        remembered.map(|r| r.answer),
        Some("ok 1".into()),
        "an unsent answer is found"
    );
    assert_eq!(
        reader.current(KEY).unwrap(),
        None,
        "nothing shows before the commit"
    );
    assert!(reader.remembered("ana", "k1", 1, now).unwrap().is_none());
    store.end_batch().unwrap();

    let history: Vec<u64> = reader
        .history(KEY)
        .unwrap()
        .iter()
        .map(|v| v.version.get())
        .collect();
    assert_eq!(history, [1, 2]);
    let changed: Vec<u64> = reader
        .changed_after(KEY.record_type, 0, 10)
        .unwrap()
        .iter()
        .map(|(seq, _, v)| seq * 10 + v.version.get())
        .collect();
    assert_eq!(
        changed,
        [22],
        "the current version under the newer change number"
    );
    for (key, answer) in [("k1", "ok 0"), ("k2", "ok 1")] {
        let found = reader.remembered("ana", key, 1, now).unwrap().unwrap();
        assert_eq!(
            (found.answer.as_str(), found.fingerprint),
            (answer, [7; 32])
        );
    }
    let logged: Vec<(u64, u16)> = reader
        .syncs(&SyncFilter::default(), None, 10)
        .unwrap()
        .iter()
        .map(|e| (e.seq, e.status))
        .collect();
    assert_eq!(
        logged,
        [(2, 201), (1, 200)],
        "numbered in the order made, newest first"
    );
}

#[test]
fn a_write_reads_its_base_its_device_and_its_parked_submission_in_one_go() {
    let db = Fresh::new("reads");
    let mut store = PgStore::open(&db.url).unwrap();
    let now = at("2026-12-06T10:00:00Z");
    let (seen, _) = append(&mut store, None, None, None, now);
    assert_eq!(seen, (vec![], None, None), "a new record");
    append(&mut store, Some(1), Some(("tab-1", 9)), None, now);
    append(&mut store, Some(2), Some(("tab-2", 3)), None, now);
    let (seen, _) = append(&mut store, Some(1), Some(("tab-1", 2)), None, now);
    assert_eq!(
        seen,
        (vec![1, 2, 3], Some(9), None),
        "from the base on; tab-1's last is 9"
    );
    let (seen, _) = append(&mut store, Some(99), None, None, now);
    assert_eq!(seen.0, [4], "a base never stored: only the current version");
    let (seen, _) = append(&mut store, None, Some(("tab-3", 1)), None, now);
    assert_eq!(
        seen,
        (vec![5], None, None),
        "no base: the current; a device never seen"
    );

    // A parked submission is found again by its device and sequence number, in the same
    // batch; the batch's commit reports the queue event that parking made.
    store.begin_batch().unwrap();
    let parked = store
        .write_on(
            KEY,
            Version::new(1),
            &author(Some(("tab-1", 12))),
            now,
            None,
            |_| {
                let effect = Effect::Park {
                    kind: ParkKind::EditConflict,
                    base_version: Some(1),
                    local: object(json!({"n": "mine"})),
                    paths: vec!["/n".into()],
                };
                ((), effect)
            },
            |_, _| None,
        )
        .unwrap()
        .1;
    let Stored::Conflict(id) = parked else {
        panic!("parked: {parked:?}")
    };
    let (seen, _) = append(&mut store, Some(1), Some(("tab-1", 12)), None, now);
    assert_eq!(seen.2, Some(id));
    store.end_batch().unwrap();
    assert_eq!(store.last_event().unwrap(), 1, "as the commit said");
    assert_eq!(store.last_event().unwrap(), 1, "as the database says");
}

#[test]
fn expired_answers_go_as_new_ones_are_stored_but_a_key_used_again_is_kept() {
    let db = Fresh::new("expiry");
    let mut store = PgStore::open(&db.url).unwrap();
    let morning = at("2026-12-06T08:00:00Z");
    append(&mut store, None, None, Some("old"), morning);
    append(&mut store, Some(1), None, Some("again"), morning);
    // Two hours on (the answers are kept one): "again" is used again, "new" is new.
    let later = at("2026-12-06T10:00:00Z");
    store.begin_batch().unwrap();
    append(&mut store, Some(2), None, Some("again"), later);
    append(&mut store, Some(3), None, Some("new"), later);
    store.end_batch().unwrap();
    let kept = |key: &str| {
        // Looked up as of the morning, so that age alone would not hide it.
        store
            .remembered("ana", key, 1, morning)
            .unwrap()
            .map(|r| r.answer)
    };
    assert_eq!(kept("old"), None, "expired, and gone from the table");
    assert_eq!(
        kept("again"),
        Some("ok 2".into()),
        "stored again under its key"
    );
    assert_eq!(kept("new"), Some("ok 3".into()));
}

#[test]
fn a_write_takes_the_reads_made_with_its_key_only_if_nothing_changed_since() {
    let db = Fresh::new("ahead");
    let mut store = PgStore::open(&db.url).unwrap();
    let now = at("2026-12-06T10:00:00Z");
    append(&mut store, None, None, Some("k1"), now);
    let writer = author(Some(("tab-1", 1)));
    let ahead = |from| WriteAhead {
        key: KEY,
        from: Version::new(from),
        author: &writer,
    };
    store.begin_batch().unwrap();
    let replay = store
        .remembered_before_write("ana", "k1", 1, now, &ahead(1))
        .unwrap();
    assert_eq!(
        replay.map(|r| r.answer),
        Some("ok 0".into()),
        "a known key: its answer"
    );
    assert!(
        store
            .remembered_before_write("ana", "k2", 1, now, &ahead(1))
            .unwrap()
            .is_none()
    );
    // Between the look-up and the write a version of the record is made (unsent): the
    // reads taken with the key are stale, and the write reads again.
    let mut second = store.history(KEY).unwrap().pop().unwrap();
    second.version = Version::new(2).unwrap();
    store
        .client
        .get_mut()
        .pending_mut()
        .append_version(KEY, &second)
        .unwrap();
    let seen = |store: &mut PgStore| {
        store
            .write_on(
                KEY,
                Version::new(1),
                &writer,
                now,
                None,
                |known| {
                    let seen: Vec<u64> = known.versions.iter().map(|v| v.version.get()).collect();
                    (seen, Effect::Nothing)
                },
                |_, _| None,
            )
            .unwrap()
            .0
    };
    assert_eq!(seen(&mut store), [1, 2]);
    // With nothing between, the reads taken with the key stand (and are what a read says).
    assert!(
        store
            .remembered_before_write("ana", "k3", 1, now, &ahead(1))
            .unwrap()
            .is_none()
    );
    assert_eq!(seen(&mut store), [1, 2]);
    store.end_batch().unwrap();
}

#[test]
fn a_batch_whose_statement_failed_is_refused_at_its_commit_not_answered_as_stored() {
    let db = Fresh::new("aborted");
    let mut store = PgStore::open(&db.url).unwrap();
    let reader = PgStore::open(&db.url).unwrap();
    let now = at("2026-12-06T10:00:00Z");
    store.begin_batch().unwrap();
    append(&mut store, None, None, Some("k1"), now);
    // A statement that fails (PostgreSQL then aborts the transaction, and would answer
    // its COMMIT with a silent rollback).
    let failed = store.client.get_mut().query("SELECT 1 / 0", &[]);
    assert!(failed.is_err());
    let committed = store.end_batch();
    assert!(
        matches!(committed, Err(StoreError::Aborted)),
        "{committed:?}"
    );
    assert_eq!(
        reader.current(KEY).unwrap(),
        None,
        "nothing of the batch was stored"
    );
    assert!(reader.remembered("ana", "k1", 1, now).unwrap().is_none());
    // The connection goes on: the next batch stores.
    store.begin_batch().unwrap();
    append(&mut store, None, None, Some("k1"), now);
    store.end_batch().unwrap();
    assert_eq!(
        reader.current(KEY).unwrap().map(|v| v.version.get()),
        Some(1)
    );
}

/// A fresh database, migrated, with `sql` run on it through a plain client, which is kept
/// to ask the planner (the client goes before the guard that drops the database).
fn migrated_with(tag: &str, sql: &str) -> (Fresh, Client) {
    let db = Fresh::new(tag);
    drop(PgStore::open(&db.url).unwrap());
    let mut client = Client::connect(&db.url, NoTls).unwrap();
    client.batch_execute(sql).unwrap();
    (db, client)
}

/// How PostgreSQL means to run `sql` with these values on the table sizes at hand.
fn plan(client: &mut Client, sql: &str, values: &[&(dyn postgres::types::ToSql + Sync)]) -> String {
    let rows = client.query(&format!("EXPLAIN {sql}"), values).unwrap();
    let steps: Vec<String> = rows.iter().map(|r| r.get(0)).collect();
    steps.join("\n")
}

#[test]
fn support_look_ups_read_through_their_indexes_not_every_row() {
    // Enough rows, one in a thousand conflicts open, for the planner to weigh a scan.
    let (_db, mut client) = migrated_with(
        "plans",
        "INSERT INTO syncs (seq, at, \"user\", device_id, method, record_type, record_id,
                                status, outcome, paths, body)
             SELECT i, '2026-11-01T00:00:00.000Z', 'user' || (i % 50), 'tab-' || (i % 100),
                    'PUT', 'items', 'R-' || i, 200, 'applied', '[]', repeat('x', 500)
             FROM generate_series(1, 20000) i;
             INSERT INTO conflicts (id, status, kind, record_type, record_id, submitted_by,
                                    received_at, local_fields, conflicting_paths, resolved_by,
                                    resolved_at)
             SELECT i, CASE WHEN i % 1000 = 0 THEN 'open' ELSE 'resolved' END, 'edit-conflict',
                    'items', 'R-' || i, 'ana', '2026-11-01T00:00:00.000Z', repeat('x', 500), '[]',
                    'sue', '2026-11-02T00:00:00.000Z'
             FROM generate_series(1, 20000) i;
             ANALYZE;",
    );
    let none = None::<&str>;
    let queue = plan(
        &mut client,
        &conflicts::conflicts_sql(conflicts::QUEUE_CONDITION),
        &[&0i64, &Some("open"), &none, &100i64],
    );
    assert!(queue.contains("conflicts_open"), "{queue}");
    let audit = plan(
        &mut client,
        &conflicts::conflicts_sql(conflicts::AUDIT_CONDITION),
        &[
            &none,
            &none,
            &Some("nobody"),
            &none,
            &none,
            &None::<i64>,
            &20i64,
        ],
    );
    assert!(audit.contains("conflicts_by_resolution"), "{audit}");
    let log = |client: &mut Client, user: Option<&str>, device: Option<&str>| {
        plan(
            client,
            &sync_log::sync_log_sql(),
            &[
                &i64::MAX,
                &none,
                &user,
                &device,
                &none,
                &none,
                &none,
                &50i64,
            ],
        )
    };
    let device = log(&mut client, None, Some("tab-rare"));
    assert!(device.contains("syncs_by_device"), "{device}");
    let user = log(&mut client, Some("nobody"), None);
    assert!(user.contains("syncs_by_user"), "{user}");
}

#[test]
fn the_flush_prunes_the_log_by_its_first_entries_in_the_plan_it_keeps() {
    let (_db, mut client) = migrated_with(
        "flush_plan",
        "INSERT INTO syncs (seq, at, \"user\", method, record_type, record_id, status,
                                outcome, paths)
             SELECT i, '2026-11-01T00:00:00.000Z', 'ana', 'PUT', 'items', 'R-' || i, 200,
                    'applied', '[]'
             FROM generate_series(1, 20000) i;
             ANALYZE;
             SET plan_cache_mode = force_generic_plan;",
    );
    // The plan a prepared statement settles on after a few runs (its generic plan: the
    // parameters' values unknown), asked with empty arrays of the parameters' types.
    client
        .batch_execute(&format!("PREPARE flush AS {}", pending::FLUSH))
        .unwrap();
    let empty = |types: &[&str]| -> Vec<String> {
        types.iter().map(|t| format!("'{{}}'::{t}[]")).collect()
    };
    let mut values = empty(&["TEXT", "TEXT", "BIGINT", "TEXT", "TEXT", "TEXT", "TEXT"]);
    values.extend(empty(&["BIGINT", "BOOLEAN"]));
    values.push("0".into());
    values.extend(empty(&["TEXT", "TEXT", "BYTEA", "BIGINT", "TEXT"]));
    values.extend(empty(&[
        "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "TEXT", "INTEGER",
    ]));
    values.extend(empty(&[
        "TEXT", "TEXT", "TEXT", "BIGINT", "TEXT", "BIGINT", "BIGINT",
    ]));
    values.extend(empty(&["TEXT"]));
    values.extend(["'2026-12-01'".into(), "16".into()]);
    assert_eq!(values.len(), 32);
    let steps: Vec<String> = client
        .simple_query(&format!("EXPLAIN EXECUTE flush({})", values.join(", ")))
        .unwrap()
        .into_iter()
        .filter_map(|m| match m {
            postgres::SimpleQueryMessage::Row(row) => row.get(0).map(String::from),
            _ => None,
        })
        .collect();
    let flush = steps.join("\n");
    assert!(flush.contains("pruned_syncs"), "{flush}");
    assert!(!flush.contains("Seq Scan on syncs"), "{flush}");
}

#[test]
fn a_batch_reads_its_announced_writes_ahead_and_each_takes_them_only_while_they_hold() {
    let db = Fresh::new("batch_ahead");
    let mut store = PgStore::open(&db.url).unwrap();
    let now = at("2026-12-06T10:00:00Z");
    let other = RecordKey {
        record_type: "inspections",
        id: "INS-2",
    };
    append(&mut store, None, None, Some("old"), now);
    let create_other = |store: &mut PgStore| {
        let fields = object(json!({"n": 0}));
        let effect = || Effect::Append {
            fields,
            deleted: false,
        };
        store
            .write_on(
                other,
                None,
                &author(None),
                now,
                None,
                |_| ((), effect()),
                |_, _| None,
            )
            .unwrap();
    };
    create_other(&mut store);
    let writer = author(None);
    let announce = |key: &str, record: RecordKey| Announced {
        user: "ana".into(),
        key: key.into(),
        oldest_kept: crate::store::oldest_kept(now, 1),
        write: OwnedWriteAhead {
            record_type: record.record_type.into(),
            id: record.id.into(),
            from: Version::new(1),
            device_id: None,
            device_seq: None,
        },
    };
    let sent = |store: &mut PgStore| store.client.get_mut().sent;
    // One write: what the look-up and the write would do, from the batch's reads or not.
    let write = |store: &mut PgStore, key: &str, record: RecordKey| {
        let ahead = WriteAhead {
            key: record,
            from: Version::new(1),
            author: &writer,
        };
        if let Some(found) = store
            .remembered_before_write("ana", key, 1, now, &ahead)
            .unwrap()
        {
            return (found.answer, vec![]);
        }
        let remember = Remember {
            user: "ana",
            key,
            fingerprint: [7; 32],
            ttl_hours: 1,
        };
        let (seen, _) = store
            .write_on(
                record,
                Version::new(1),
                &writer,
                now,
                Some(remember),
                |known| {
                    let seen: Vec<u64> = known.versions.iter().map(|v| v.version.get()).collect();
                    let effect = Effect::Append {
                        fields: object(json!({"n": seen.len()})),
                        deleted: false,
                    };
                    (seen, effect)
                },
                |seen, _| Some(format!("ok {}", seen.last().unwrap())),
            )
            .unwrap();
        ("new".to_string(), seen)
    };
    store.begin_batch().unwrap();
    store.read_ahead(&[
        announce("a", KEY),
        announce("b", other),
        announce("c", KEY),
        announce("old", KEY),
    ]);
    let before = sent(&mut store);
    assert_eq!(write(&mut store, "a", KEY), ("new".into(), vec![1]));
    assert_eq!(write(&mut store, "b", other), ("new".into(), vec![1]));
    assert_eq!(
        sent(&mut store),
        before,
        "both wrote on the batch's reads: nothing was sent for them"
    );
    // "a" made a version of INS-1 (not sent yet): "c"'s reads ahead are stale, and it reads
    // again, after that version.
    assert_eq!(write(&mut store, "c", KEY), ("new".into(), vec![1, 2]));
    assert!(sent(&mut store) > before);
    // A key known before the batch: its answer (read again: something was sent since).
    assert_eq!(write(&mut store, "old", KEY), ("ok 0".into(), vec![]));
    store.end_batch().unwrap();
    assert_eq!(
        store.current(KEY).unwrap().map(|v| v.version.get()),
        Some(3)
    );
    assert_eq!(
        store.current(other).unwrap().map(|v| v.version.get()),
        Some(2)
    );

    // A key announced twice in one batch (a retry beside its first send): the second
    // finds the first's answer, not the reads taken before it.
    store.begin_batch().unwrap();
    store.read_ahead(&[announce("twice", other), announce("twice", other)]);
    let before = sent(&mut store);
    assert_eq!(write(&mut store, "twice", other).0, "new");
    assert_eq!(sent(&mut store), before);
    assert_eq!(write(&mut store, "twice", other).0, "ok 2");
    store.end_batch().unwrap();
    assert_eq!(
        store.current(other).unwrap().map(|v| v.version.get()),
        Some(3)
    );

    // One key sent for two records in one batch: the second finds the first's answer
    // (unsent, and not of its record), as it would on its own.
    store.begin_batch().unwrap();
    store.read_ahead(&[announce("shared", KEY), announce("shared", other)]);
    assert_eq!(write(&mut store, "shared", KEY).0, "new");
    assert_eq!(write(&mut store, "shared", other).0, "ok 3");
    store.end_batch().unwrap();
}
