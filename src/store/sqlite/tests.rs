//! The SQLite store, tested on real files in temporary folders.

use super::*;
use crate::model::json::Json;

#[cfg(test)]
mod versions_tests {
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
    pub(in crate::store::sqlite) fn fresh_store() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        (dir, store)
    }

    /// Ana, writing from the device given, if any.
    pub(in crate::store::sqlite) fn author(device: Option<(&'static str, u64)>) -> Author<'static> {
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
        store.leave_checkpoints(&WalLimit::default()).unwrap();
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

    /// The size of the WAL file of `s.db` in `dir` (none yet: 0).
    fn wal_bytes(dir: &tempfile::TempDir) -> u64 {
        std::fs::metadata(dir.path().join("s.db-wal")).map_or(0, |m| m.len())
    }

    /// A store in `s.db` of a new folder that leaves checkpoints, with this WAL limit.
    fn writer_with_wal_limit(limit: i64) -> (tempfile::TempDir, std::path::PathBuf, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let store = SqliteStore::open(&path).unwrap();
        store.leave_checkpoints(&WalLimit::new(limit)).unwrap();
        (dir, path, store)
    }

    /// Writes `megabytes` versions of 1 MB while a reader holds a snapshot from before
    /// them (no checkpoint may copy past it, so the WAL holds all of them), then lets a
    /// checkpoint copy everything: the writer's next write starts the WAL afresh.
    fn burst_then_checkpoint(store: &mut SqliteStore, path: &Path, megabytes: usize) {
        let reader = Connection::open(path).unwrap();
        let snapshot = reader.unchecked_transaction().unwrap();
        let _: i64 = snapshot
            .query_row("SELECT COUNT(*) FROM versions", [], |r| r.get(0))
            .unwrap();
        let big = crate::json!({"notes": "x".repeat(1024 * 1024)});
        for _ in 0..megabytes {
            append(store, None, big.clone(), None);
        }
        drop(snapshot);
        SqliteStore::open(path).unwrap().checkpoint().unwrap();
    }

    #[test]
    fn after_a_burst_the_wal_is_cut_back_to_twice_its_limit() {
        let limit = 4 * 1024 * 1024;
        let (dir, path, mut store) = writer_with_wal_limit(limit);
        burst_then_checkpoint(&mut store, &path, 16);
        let burst = wal_bytes(&dir);
        assert!(burst > 3 * limit as u64, "a burst of 16 MB: {burst}");
        // The writer's next write reuses the WAL from its start and cuts the file.
        append(&mut store, None, crate::json!({"notes": "small"}), None);
        let after = wal_bytes(&dir);
        assert!(after <= 2 * limit as u64, "{burst} -> {after}");
        assert_eq!(store.history(KEY).unwrap().len(), 17);
    }

    #[test]
    fn a_wal_a_little_past_its_limit_is_written_over_in_place_not_cut() {
        // As under steady writes: the WAL restarts somewhat past its limit each time.
        // Cutting it there and growing it again cost the writer milliseconds a restart.
        let limit = 4 * 1024 * 1024;
        let (dir, path, mut store) = writer_with_wal_limit(limit);
        burst_then_checkpoint(&mut store, &path, 6);
        let grown = wal_bytes(&dir);
        assert!(grown > limit as u64 + 1024 * 1024, "{grown}");
        append(&mut store, None, crate::json!({"notes": "small"}), None);
        assert_eq!(wal_bytes(&dir), grown, "the restarted WAL keeps its file");
        // The next burst writes over the same file, from its start.
        burst_then_checkpoint(&mut store, &path, 5);
        assert_eq!(wal_bytes(&dir), grown);
        assert_eq!(store.history(KEY).unwrap().len(), 12);
    }

    #[test]
    fn under_writes_without_a_pause_the_wal_stays_below_twice_its_limit() {
        // As the server runs them: a writer that never pauses, a checkpoint connection
        // beside it. Without the writer's hand (`reuse_wal`), the checkpoints never catch
        // up and the WAL holds all that was written; with SQLite's backstop alone, it
        // reaches twice its limit.
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut store = SqliteStore::open(&path).unwrap();
        let limit = 8 * 1024 * 1024;
        let reuse = std::sync::Arc::new(WalLimit::new(limit));
        store.leave_checkpoints(&reuse).unwrap();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let checkpoints = std::thread::spawn({
            let (checkpointer, reuse, stop) = (
                SqliteStore::open(&path).unwrap(),
                reuse.clone(),
                stop.clone(),
            );
            move || {
                while !stop.load(Ordering::Relaxed) {
                    checkpointer.checkpoint_beside(&reuse).unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            }
        });
        let wal = || wal_bytes(&dir);
        let piece = 256 * 1024;
        let big = crate::json!({"notes": "x".repeat(piece)});
        let writes = 4 * limit as usize / piece;
        let mut largest = 0;
        for _ in 0..writes {
            append(&mut store, None, big.clone(), None);
            store.reuse_wal(&reuse).unwrap();
            largest = largest.max(wal());
        }
        stop.store(true, Ordering::Relaxed);
        checkpoints.join().unwrap();
        assert!(
            largest < 2 * limit as u64,
            "{writes} writes of {piece} bytes: the WAL reached {largest} bytes"
        );
        assert_eq!(store.history(KEY).unwrap().len(), writes);
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
        park(&mut store);
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

    /// Parks a submission on `KEY` (an event: the queue gained a conflict).
    fn park(store: &mut SqliteStore) {
        let result = store.write_plain(
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
        );
        assert!(result.is_ok());
    }

    #[test]
    fn the_writer_keeps_the_newest_event_number_and_follows_every_change_of_it() {
        let (dir, mut writer) = fresh_store();
        writer.keep_newest_event();
        let reader = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        append(&mut writer, None, json!({"n": 1}), None);
        assert_eq!(writer.last_event_on().unwrap(), 0);
        // Its own event, numbered in a batch.
        writer.begin_batch().unwrap();
        park(&mut writer);
        writer.end_batch().unwrap();
        assert_eq!(writer.last_event_on().unwrap(), 1);
        // Another process's event: seen once the next batch starts.
        let mut elsewhere = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        park(&mut elsewhere);
        writer.begin_batch().unwrap();
        writer.end_batch().unwrap();
        assert_eq!(writer.last_event_on().unwrap(), 2);
        // A reader keeps nothing: it sees the writer's next event.
        assert_eq!(reader.last_event_on().unwrap(), 2);
        park(&mut writer);
        assert_eq!(reader.last_event_on().unwrap(), 3);
        assert_eq!(writer.last_event_on().unwrap(), 3);
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
    }

    #[test]
    fn an_answer_is_remembered_with_its_write_and_forgotten_after_its_ttl() {
        let (_dir, mut store) = super::versions_tests::fresh_store();
        let key = RecordKey {
            record_type: "t",
            id: "1",
        };
        let author = super::versions_tests::author(None);
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

    /// Remembers an answer under `key` at `at`, with a write that stores nothing else.
    fn remember(store: &mut SqliteStore, key: &str, at: &str) {
        let remember = Remember {
            user: "ana",
            key,
            fingerprint: [7; 32],
            ttl_hours: 24,
        };
        let record = RecordKey {
            record_type: "t",
            id: "1",
        };
        let author = super::versions_tests::author(None);
        store
            .write(
                record,
                None,
                &author,
                at.parse().unwrap(),
                Some(remember),
                |_| ((), Effect::Nothing),
                |_, _| Some(format!("answer under {key}")),
            )
            .unwrap();
    }

    fn answers_stored(store: &SqliteStore) -> i64 {
        store
            .conn
            .query_row("SELECT COUNT(*) FROM idempotency", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn expired_answers_are_forgotten_oldest_first_a_few_a_write() {
        let (_dir, mut store) = super::versions_tests::fresh_store();
        let expiring = FORGET_AT_ONCE + 4;
        for n in 0..expiring {
            remember(&mut store, &format!("old-{n}"), "2026-11-20T10:00:00Z");
        }
        remember(&mut store, "later", "2026-11-20T11:00:00Z");
        remember(&mut store, "fresh-1", "2026-11-21T10:00:00Z");
        assert_eq!(answers_stored(&store), expiring + 2, "none expired yet");
        assert_eq!(
            found(&store, "later").as_deref(),
            Some("answer under later")
        );
        // A day and a moment on, the first writes take the expired along, a few each.
        remember(&mut store, "fresh-2", "2026-11-21T10:00:01Z");
        assert_eq!(answers_stored(&store), expiring - FORGET_AT_ONCE + 3);
        remember(&mut store, "fresh-3", "2026-11-21T10:00:02Z");
        assert_eq!(answers_stored(&store), 4, "the rest of the expired went");
        remember(&mut store, "fresh-4", "2026-11-21T10:00:03Z");
        assert_eq!(answers_stored(&store), 5, "the answer of 11:00 is not due");
        let now: UtcMillis = "2026-11-21T10:00:03Z".parse().unwrap();
        assert!(store.remembered("ana", "later", 24, now).unwrap().is_some());
        assert_eq!(store.remembered("ana", "old-0", 24, now).unwrap(), None);
        let indexes: Vec<String> = store
            .conn
            .prepare(
                "SELECT name FROM sqlite_schema WHERE tbl_name = 'idempotency' AND type = 'index'",
            )
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert!(
            indexes.is_empty(),
            "no index by age or key to keep up: {indexes:?}"
        );
        assert_eq!(
            answer_rows_noted(&store),
            Some(answers_stored(&store) as usize),
            "the forgotten answers' rows are no longer noted"
        );
    }

    /// How many keys' rows the store has noted, if it has read them.
    fn answer_rows_noted(store: &SqliteStore) -> Option<usize> {
        store.answer_rows.borrow().as_ref().map(|rows| rows.0.len())
    }

    fn found(store: &SqliteStore, key: &str) -> Option<String> {
        let now: UtcMillis = "2026-11-20T10:30:00Z".parse().unwrap();
        let found = store.remembered("ana", key, 24, now).unwrap();
        found.map(|found| found.answer)
    }

    #[test]
    fn an_answer_rolled_back_is_no_answer_even_where_its_row_went_to_another_key() {
        let (_dir, mut store) = super::versions_tests::fresh_store();
        remember(&mut store, "k0", "2026-11-20T10:00:00Z");
        assert_eq!(found(&store, "k1"), None, "the rows are read from here on");
        store.conn.execute_batch("BEGIN").unwrap();
        let k1 = Remember {
            user: "ana",
            key: "k1",
            fingerprint: [1; 32],
            ttl_hours: 24,
        };
        let at = "2026-11-20T10:00:01Z".parse().unwrap();
        store.remember_answer(&k1, at, "answer under k1").unwrap();
        assert_eq!(found(&store, "k1").as_deref(), Some("answer under k1"));
        store.conn.execute_batch("ROLLBACK").unwrap();
        assert_eq!(found(&store, "k1"), None, "rolled back");
        remember(&mut store, "k2", "2026-11-20T10:00:02Z");
        assert_eq!(
            store.answer_row("ana", "k1").unwrap(),
            store.answer_row("ana", "k2").unwrap(),
            "k2's answer took the row k1's had"
        );
        assert_eq!(found(&store, "k1"), None);
        assert_eq!(found(&store, "k2").as_deref(), Some("answer under k2"));
        assert_eq!(found(&store, "k0").as_deref(), Some("answer under k0"));
        assert_eq!(
            store
                .remembered("ben", "k2", 24, "2026-11-20T10:30:00Z".parse().unwrap())
                .unwrap(),
            None,
            "keys are scoped per user"
        );
    }

    #[test]
    fn a_key_s_answer_is_its_user_s_alone_where_user_and_key_run_together() {
        let (_dir, store) = super::versions_tests::fresh_store();
        let at: UtcMillis = "2026-11-20T10:00:00Z".parse().unwrap();
        for (user, key, answer) in [("t", "1k", "t's"), ("t1", "k", "t1's")] {
            let remember = Remember {
                user,
                key,
                fingerprint: [1; 32],
                ttl_hours: 24,
            };
            store.remember_answer(&remember, at, answer).unwrap();
        }
        let now = "2026-11-20T10:30:00Z".parse().unwrap();
        let answer = |user, key| {
            let found = store.remembered(user, key, 24, now).unwrap();
            found.map(|found| found.answer)
        };
        assert_eq!(answer("t", "1k").as_deref(), Some("t's"));
        assert_eq!(answer("t1", "k").as_deref(), Some("t1's"));
        assert_eq!(answer("t1k", ""), None);
        assert_eq!(answer_rows_noted(&store), Some(2), "two slots, not one");
    }

    #[test]
    fn answers_are_found_after_reopening_and_after_another_process_remembered_one() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let mut store = SqliteStore::open(&path).unwrap();
        remember(&mut store, "k1", "2026-11-20T10:00:00Z");
        drop(store);
        let mut store = SqliteStore::open(&path).unwrap();
        assert_eq!(found(&store, "k1").as_deref(), Some("answer under k1"));
        let mut elsewhere = SqliteStore::open(&path).unwrap();
        remember(&mut elsewhere, "k2", "2026-11-20T10:00:01Z");
        assert_eq!(found(&store, "k2"), None, "not noted here yet");
        store.begin_batch().unwrap();
        assert_eq!(
            found(&store, "k2").as_deref(),
            Some("answer under k2"),
            "read again once a batch finds another process's commit"
        );
        store.end_batch().unwrap();
        remember(&mut store, "k3", "2026-11-20T10:00:02Z");
        store.begin_batch().unwrap();
        store.end_batch().unwrap();
        assert_eq!(
            answer_rows_noted(&store),
            Some(3),
            "its own commits are no reason to read them again"
        );
    }
}

#[cfg(test)]
mod master_tests {
    use super::*;

    #[test]
    fn a_master_list_is_replaced_whole_and_checked_inside_writes() {
        let (_dir, mut store) = super::versions_tests::fresh_store();
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
        let author = super::versions_tests::author(None);
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
        let (_dir, mut store) = super::versions_tests::fresh_store();
        store.conn.execute_batch("DROP TABLE master_items").unwrap();
        let key = RecordKey {
            record_type: "t",
            id: "1",
        };
        let author = super::versions_tests::author(None);
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
        let (_dir, mut store) = super::versions_tests::fresh_store();
        let author = super::versions_tests::author(None);
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
        let author = super::versions_tests::author(None);
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

#[cfg(test)]
mod currents_tests {
    use super::versions_tests::{author, fresh_store};
    use super::*;
    use crate::json;

    const KEY: RecordKey = RecordKey {
        record_type: "inspections",
        id: "INS-1",
    };

    /// A writer and a reader on one file, sharing their records' current versions as a
    /// server's connections do, and the `Currents` they share.
    fn server_connections() -> (tempfile::TempDir, SqliteStore, SqliteStore, Arc<Currents>) {
        let (dir, mut writer) = fresh_store();
        let mut reader = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let currents = Arc::new(Currents::default());
        writer.share_currents(currents.clone());
        reader.share_currents(currents.clone());
        (dir, writer, reader, currents)
    }

    /// Writes `{"n": n}` on `from`; the versions the write was shown.
    fn write_n(store: &mut SqliteStore, from: Option<u64>, n: i64) -> Vec<u64> {
        let Json::Object(fields) = json!({ "n": n }) else {
            panic!()
        };
        let (seen, _) = store
            .write_plain(
                KEY,
                from.and_then(Version::new),
                &author(None),
                UtcMillis::now(),
                |known| {
                    let seen = known.versions.iter().map(|v| v.version.get()).collect();
                    (
                        seen,
                        Effect::Append {
                            fields,
                            deleted: false,
                        },
                    )
                },
            )
            .unwrap();
        seen
    }

    fn current_n(store: &SqliteStore) -> (u64, serde_json::Value) {
        let current = store.current(KEY).unwrap().unwrap();
        (
            current.version.get(),
            serde_json::to_value(&current.fields).unwrap()["n"].clone(),
        )
    }

    #[test]
    fn a_reader_sees_a_batch_s_version_from_its_commit_on_and_never_before() {
        let (_dir, mut writer, reader, currents) = server_connections();
        write_n(&mut writer, None, 1);
        assert!(
            currents.get(KEY).is_some(),
            "a write outside a batch is kept at once"
        );
        assert_eq!(current_n(&reader), (1, serde_json::json!(1)));
        writer.begin_batch().unwrap();
        assert_eq!(write_n(&mut writer, Some(1), 2), [1]);
        assert_eq!(
            write_n(&mut writer, Some(2), 3),
            [2],
            "the batch's own write is its current version"
        );
        assert_eq!(current_n(&writer), (3, serde_json::json!(3)));
        assert_eq!(
            current_n(&reader),
            (1, serde_json::json!(1)),
            "not before the commit"
        );
        writer.end_batch().unwrap();
        assert_eq!(current_n(&reader), (3, serde_json::json!(3)));
    }

    #[test]
    fn a_write_on_an_older_base_still_reads_the_versions_since() {
        let (_dir, mut writer, reader, _currents) = server_connections();
        for n in 1..=3 {
            write_n(&mut writer, None, n);
        }
        assert_eq!(current_n(&reader), (3, serde_json::json!(3)));
        assert_eq!(write_n(&mut writer, Some(1), 4), [1, 2, 3]);
        assert_eq!(current_n(&reader), (4, serde_json::json!(4)));
    }

    #[test]
    fn a_write_by_another_process_lets_the_kept_versions_go_before_the_next_batch() {
        let (dir, mut writer, reader, currents) = server_connections();
        write_n(&mut writer, None, 1);
        // Another process on the file: a connection that shares nothing with this server.
        let mut elsewhere = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        write_n(&mut elsewhere, Some(1), 2);
        // The server's own checkpoints are no such write.
        let checkpoints = SqliteStore::open(&dir.path().join("s.db")).unwrap();
        writer.begin_batch().unwrap();
        writer.end_batch().unwrap();
        checkpoints.checkpoint().unwrap();
        assert!(currents.get(KEY).is_none(), "let go at the batch's start");
        assert_eq!(current_n(&reader), (2, serde_json::json!(2)));
        writer.begin_batch().unwrap();
        assert_eq!(
            write_n(&mut writer, Some(1), 3),
            [1, 2],
            "decided on the file's versions, not on a kept one"
        );
        writer.end_batch().unwrap();
        assert_eq!(current_n(&reader), (3, serde_json::json!(3)));
        writer.begin_batch().unwrap();
        writer.end_batch().unwrap();
        assert!(
            currents.get(KEY).is_some(),
            "this server's checkpoints and reads are no other writer"
        );
        // Outside a batch, a write's own transaction looks first.
        write_n(&mut elsewhere, Some(3), 4);
        assert_eq!(write_n(&mut writer, Some(3), 5), [3, 4]);
        assert_eq!(current_n(&reader), (5, serde_json::json!(5)));
    }
}

#[cfg(test)]
mod plan_tests {
    use super::*;
    use crate::store::{StatsBy, SyncFilter};
    use conflicts::{AUDIT_CONDITION, conflicts_sql, queue_condition};
    use sync_log::{stats_sql, sync_log_sql};

    /// How SQLite means to run `sql` on a fresh store (its plans do not depend on bound
    /// values), one step a line.
    fn plan(sql: &str) -> String {
        let (_dir, store) = super::versions_tests::fresh_store();
        let mut explain = store
            .conn
            .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
            .unwrap();
        // Unbound: the plan does not need the values.
        let mut rows = explain.raw_query();
        let mut steps = Vec::new();
        while let Some(row) = rows.next().unwrap() {
            steps.push(row.get::<_, String>(3).unwrap());
        }
        steps.join("\n")
    }

    #[test]
    fn support_look_ups_read_through_their_indexes_not_every_row() {
        let queue = plan(&conflicts_sql(&queue_condition(Some(true))));
        assert!(queue.contains("USING INDEX conflicts_open"), "{queue}");
        let audit = plan(&conflicts_sql(AUDIT_CONDITION));
        assert!(audit.contains("conflicts_by_resolution"), "{audit}");
        assert!(
            !audit.contains("TEMP B-TREE"),
            "no sort of every resolution: {audit}"
        );
        let by = |user: Option<&str>, device: Option<&str>| SyncFilter {
            user: user.map(Into::into),
            device_id: device.map(Into::into),
            ..Default::default()
        };
        let device = plan(&sync_log_sql(&by(None, Some("tab-17"))));
        assert!(device.contains("USING INDEX syncs_by_device"), "{device}");
        let user = plan(&sync_log_sql(&by(Some("ana"), None)));
        assert!(user.contains("USING INDEX syncs_by_user"), "{user}");
        let newest = plan(&sync_log_sql(&by(None, None)));
        assert!(newest.contains("INTEGER PRIMARY KEY"), "{newest}");
    }

    #[test]
    fn the_changes_feed_reads_from_its_cursor_in_change_order() {
        let feed = plan(records::FEED_SQL);
        assert!(
            feed.contains("USING INDEX versions_by_type (record_type=? AND seq>?)"),
            "{feed}"
        );
        assert!(
            !feed.contains("TEMP B-TREE"),
            "no sort of the type's versions: {feed}"
        );
    }

    #[test]
    fn the_numbers_read_the_log_in_its_own_order_not_through_an_index() {
        for by in [StatsBy::Day, StatsBy::User, StatsBy::Device, StatsBy::Type] {
            let stats = plan(&stats_sql(by));
            assert!(!stats.contains("INDEX"), "{by:?}: {stats}");
        }
    }
}

#[cfg(test)]
mod pair_key_tests {
    use super::*;

    #[test]
    fn a_pair_key_keeps_apart_pairs_whose_texts_run_together() {
        assert_eq!(pair_key("items", "a-1"), "5:itemsa-1");
        assert_ne!(pair_key("t1", ""), pair_key("t", "1"));
        let long = "t".repeat(12);
        assert_eq!(pair_key(&long, "x"), format!("12:{long}x"));
    }
}
