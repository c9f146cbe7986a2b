//! The desk end to end: a real server on 127.0.0.1, the app's event loop driven with key
//! events, the server's state checked afterwards.

mod common;

use common::{Live, desk_on, press, screen};
use reqwest::StatusCode;
use serde_json::json;
use syncdesk::merge::Choice;
use syncdesk::tui::app::Screen;

#[test]
fn a_supervisor_keeps_local_and_a_change_made_meanwhile_survives_the_412() {
    let live = Live::start();
    live.with_conflict();
    let drafts = tempfile::tempdir().unwrap();
    let mut desk = desk_on(&live.base, drafts.path());
    let text = screen(&mut desk);
    assert!(
        text.contains("c-000001") && text.contains("1 open · row 1 of 1 shown"),
        "{text}"
    );

    press(&mut desk, &["Enter"]);
    assert_eq!(desk.app.screen, Screen::Detail);
    let opened = desk.app.desk.as_ref().unwrap();
    assert_eq!(
        opened.current().unwrap().path,
        "/notes",
        "the cursor starts on the conflict"
    );
    press(&mut desk, &["l"]);

    // While sue decides, ben fails the inspection on the server.
    let ben = json!({"base_version": 2, "fields": {"site_id": "S-4", "notes": "ben's", "status": "failed", "temperature": 20}});
    assert_eq!(
        live.call("PUT", "/v1/inspections/INS-1", "ben", Some(ben))
            .0,
        StatusCode::OK
    );

    press(&mut desk, &["w", "y"]);
    let message = desk.app.message.clone().unwrap();
    assert!(
        message.error && message.text.contains("changed on the server meanwhile"),
        "{message:?}"
    );
    let refetched = desk.app.desk.as_ref().unwrap();
    assert!(refetched.changed_meanwhile.contains("/status"));
    assert_eq!(
        refetched.choices.get("/notes"),
        Some(&Choice::Local),
        "the choice is kept"
    );
    assert!(screen(&mut desk).contains("★"));
    assert!(
        live.queue("open").len() == 1,
        "nothing was resolved by the stale attempt"
    );

    press(&mut desk, &["w", "y"]);
    let message = desk.app.message.clone().unwrap();
    assert!(
        message
            .text
            .starts_with("Resolved c-000001 INS-1: version 4"),
        "{message:?}"
    );
    assert_eq!(desk.app.screen, Screen::List, "no open conflict is left");

    let record = live.record("INS-1");
    assert_eq!(record["version"], 4);
    assert_eq!(record["fields"]["notes"], "ana's", "sue kept local");
    assert_eq!(
        record["fields"]["status"], "failed",
        "ben's change made meanwhile is kept"
    );
    assert_eq!(
        record["fields"]["temperature"], 21,
        "ana's one-sided change merged"
    );
    assert!(live.queue("open").is_empty());
    let all = live.queue("all");
    assert_eq!(all[0]["resolution"]["by"], "sue");
    assert_eq!(all[0]["resolution"]["choices"], json!({"/notes": "local"}));
}

#[test]
fn a_draft_comes_back_after_the_desk_is_dropped_and_started_again() {
    let live = Live::start();
    live.with_conflict();
    let drafts = tempfile::tempdir().unwrap();
    let mut desk = desk_on(&live.base, drafts.path());
    press(&mut desk, &["Enter", "s"]);
    drop(desk.finish());

    let mut again = desk_on(&live.base, drafts.path());
    press(&mut again, &["Enter"]);
    let desk = again.app.desk.as_ref().unwrap();
    assert_eq!(desk.choices.get("/notes"), Some(&Choice::Server));
    assert!(
        again
            .app
            .message
            .as_ref()
            .unwrap()
            .text
            .contains("Draft restored: 1")
    );
    press(&mut again, &["w", "y"]);
    assert_eq!(live.record("INS-1")["fields"]["notes"], "ben's");
    assert!(live.queue("open").is_empty());
}

#[test]
fn a_conflict_resolved_by_someone_else_is_reported_with_their_name() {
    let live = Live::start();
    live.with_conflict();
    let drafts = tempfile::tempdir().unwrap();
    let mut desk = desk_on(&live.base, drafts.path());
    press(&mut desk, &["Enter", "L"]);
    let etag = desk.app.desk.as_ref().unwrap().etag.clone().unwrap();
    let body = json!({"fields": {"site_id": "S-4", "notes": "x", "status": "open", "temperature": 20}, "choices": {"/notes": "manual"}});
    let (status, _) = live.rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/conflicts/c-000001/resolution", live.base))
            .bearer_auth("sue-token")
            .header("If-Match", etag)
            .header("Idempotency-Key", "other-desk")
            .json(&body)
            .send()
            .await
            .unwrap();
        (r.status(), ())
    });
    assert_eq!(status, StatusCode::OK);
    press(&mut desk, &["w", "y"]);
    let message = desk.app.message.clone().unwrap();
    assert!(
        message.text.contains("already resolved by sue"),
        "{message:?}"
    );
    assert_eq!(
        live.record("INS-1")["fields"]["notes"],
        "x",
        "nothing overwritten"
    );
}

#[test]
fn the_mouse_wheel_moves_like_j_and_k() {
    use ratatui::crossterm::event::{Event, KeyModifiers, MouseEvent, MouseEventKind};
    let live = Live::start();
    live.with_conflict();
    let drafts = tempfile::tempdir().unwrap();
    let mut desk = desk_on(&live.base, drafts.path());
    press(&mut desk, &["Enter"]);
    let wheel = |kind| {
        Event::Mouse(MouseEvent {
            kind,
            column: 10,
            row: 10,
            modifiers: KeyModifiers::NONE,
        })
    };
    let path = |desk: &syncdesk::tui::Session<_>| {
        desk.app
            .desk
            .as_ref()
            .unwrap()
            .current()
            .unwrap()
            .path
            .clone()
    };
    assert_eq!(path(&desk), "/notes");
    desk.event(&wheel(MouseEventKind::ScrollDown));
    assert_eq!(path(&desk), "/site_id");
    desk.event(&wheel(MouseEventKind::ScrollUp));
    assert_eq!(path(&desk), "/notes");
    desk.event(&wheel(MouseEventKind::Moved));
    assert_eq!(path(&desk), "/notes", "only the wheel means something");
}

#[test]
fn a_dead_server_is_an_error_on_screen_not_a_frozen_desk() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let drafts = tempfile::tempdir().unwrap();
    let mut desk = desk_on(&format!("http://{port}"), drafts.path());
    let text = screen(&mut desk);
    assert!(
        text.contains("Could not read the queue: server unreachable"),
        "{text}"
    );
    press(&mut desk, &["q"]);
    assert!(desk.app.quit);
}

#[test]
fn long_text_is_edited_in_the_editor_and_short_values_inline_with_a_type_check() {
    let live = Live::start();
    live.with_conflict();
    let drafts = tempfile::tempdir().unwrap();
    let script = drafts.path().join("editor.sh");
    std::fs::write(&script, "#!/bin/sh\nprintf 'merged by hand\\n' > \"$1\"\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let mut desk = desk_on(&live.base, drafts.path()).with_editor(script.to_str());
    press(&mut desk, &["Enter", "m"]);
    let opened = desk.app.desk.as_ref().unwrap();
    assert_eq!(
        opened.choices.get("/notes"),
        Some(&Choice::Manual(syncdesk::json!("merged by hand"))),
        "the editor's trailing newline is not part of the value"
    );
    // The temperature is a number: text is refused, a number accepted.
    let row = opened
        .rows
        .iter()
        .position(|r| r.path == "/temperature")
        .unwrap();
    desk.app.desk.as_mut().unwrap().cursor = row;
    press(&mut desk, &["m"]);
    for _ in 0..4 {
        press(&mut desk, &["Backspace"]);
    }
    press(&mut desk, &["w", "a", "r", "m", "Enter"]);
    let text = screen(&mut desk);
    assert!(text.contains("not a JSON value"), "{text}");
    for _ in 0..4 {
        press(&mut desk, &["Backspace"]);
    }
    press(&mut desk, &["2", "2", ".", "5", "Enter"]);
    let opened = desk.app.desk.as_ref().unwrap();
    assert_eq!(
        opened.choices.get("/temperature"),
        Some(&Choice::Manual(syncdesk::json!(22.5)))
    );
    press(&mut desk, &["w", "y"]);
    let record = live.record("INS-1");
    assert_eq!(record["fields"]["notes"], "merged by hand");
    assert_eq!(record["fields"]["temperature"], 22.5);
    let all = live.queue("all");
    assert_eq!(
        all[0]["resolution"]["choices"],
        json!({"/notes": "manual", "/temperature": "manual"})
    );
}

/// An export file of the server's open queue, written the way `syncdesk export` writes it.
fn export_of(live: &Live, path: &std::path::Path) -> serde_json::Value {
    let (_, detail) = live.call("GET", "/v1/conflicts/c-000001", "sue", None);
    let export = json!({"format": "syncdesk.conflicts.v1", "exported_at": "2026-11-25T10:00:00.000Z",
                        "server": live.base, "conflicts": [detail.clone()]});
    std::fs::write(path, serde_json::to_vec_pretty(&export).unwrap()).unwrap();
    detail
}

fn offline_desk(
    file: &std::path::Path,
    drafts: &std::path::Path,
) -> syncdesk::tui::Session<ratatui::backend::TestBackend> {
    use syncdesk::client::{ConflictSource, ExportBook};
    let book = ExportBook::open(file, None).unwrap();
    common::desk_with(ConflictSource::Export(book), Some(drafts))
}

#[test]
fn an_export_is_resolved_offline_into_a_resolutions_file_the_server_accepts() {
    let live = Live::start();
    live.with_conflict();
    let work = tempfile::tempdir().unwrap();
    let file = work.path().join("queue.json");
    let detail = export_of(&live, &file);
    let mut desk = offline_desk(&file, work.path());
    assert!(screen(&mut desk).contains("queue.json"));
    press(&mut desk, &["Enter", "L", "w", "y"]);
    let message = desk.app.message.clone().unwrap();
    assert!(
        message
            .text
            .contains("Resolved c-000001 INS-1 (written to the resolutions file)"),
        "{message:?}"
    );
    drop(desk.finish());

    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(work.path().join("queue.resolutions.json")).unwrap())
            .unwrap();
    assert_eq!(written["format"], "syncdesk.resolutions.v1");
    let entry = &written["resolutions"][0];
    assert_eq!(
        (
            &entry["conflict_id"],
            &entry["record_type"],
            &entry["record_id"],
            &entry["resolved_by"]
        ),
        (
            &json!("c-000001"),
            &json!("inspections"),
            &json!("INS-1"),
            &json!("sue")
        )
    );
    assert_eq!(entry["if_match"], detail["server"]["etag"]);
    assert_eq!(entry["choices"], json!({"/notes": "local"}));
    assert_eq!(entry["fields"]["notes"], "ana's");
    assert_eq!(
        entry["fields"]["temperature"], 21,
        "the one-sided local change merged"
    );

    // Opened again, the conflict shows as resolved; nothing is left open.
    let again = offline_desk(&file, work.path());
    assert!(again.app.queue.visible.is_empty() && again.app.queue.items.is_empty());
    drop(again.finish());

    // What the file holds is a resolution the server takes as it is.
    let (status, record) = live.rt.block_on(async {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/conflicts/c-000001/resolution", live.base))
            .bearer_auth("sue-token")
            .header("If-Match", entry["if_match"].as_str().unwrap())
            .header("Idempotency-Key", "push-1")
            .json(&json!({"fields": entry["fields"], "choices": entry["choices"]}))
            .send()
            .await
            .unwrap();
        (r.status(), r.json::<serde_json::Value>().await.unwrap())
    });
    assert_eq!(status, StatusCode::OK, "{record}");
    assert_eq!(live.record("INS-1")["fields"]["notes"], "ana's");
}

#[test]
fn ndjson_exports_and_faults_name_their_line() {
    use syncdesk::protocol::ExportFile;
    let live = Live::start();
    live.with_conflict();
    let (_, detail) = live.call("GET", "/v1/conflicts/c-000001", "sue", None);
    let mut second = detail.clone();
    second["id"] = "c-000002".into();
    let text = format!("{detail}\n\n{second}\n");
    let file = ExportFile::parse("q.ndjson", &text).unwrap();
    assert_eq!(file.conflicts.len(), 2);
    assert_eq!(file.conflicts[1].id, "c-000002");

    let broken = format!("{detail}\n{{\"id\": \"c-9\", \"status\": \"open\"}}\n");
    let e = ExportFile::parse("q.ndjson", &broken)
        .unwrap_err()
        .to_string();
    assert!(e.starts_with("q.ndjson: line 2, column "), "{e}");
    assert!(e.contains("missing field"), "{e}");
    let e = ExportFile::parse(
        "q.json",
        "{\"format\": \"syncdesk.conflicts.v1\",\n \"conflicts\": [}",
    )
    .unwrap_err()
    .to_string();
    assert!(e.starts_with("q.json: line 2, column 16"), "{e}");
    // The queue reads only summaries; a detail's sides are checked when it is opened.
    let mut bad_sides = second.clone();
    bad_sides["local"] = json!("not an object");
    let text = format!("{detail}\n{bad_sides}\n");
    let book = syncdesk::client::ExportBook::from_text(
        "q.ndjson",
        text,
        std::path::PathBuf::from("unused.json"),
        Default::default(),
    )
    .unwrap();
    assert_eq!(book.summaries(false).len(), 2);
    assert!(book.load("c-000001").is_ok());
    let e = book.load("c-000002").unwrap_err().to_string();
    assert!(e.starts_with("q.ndjson: line 2, column "), "{e}");
    let e = ExportFile::parse("q.json", "{\"format\": \"other\", \"conflicts\": []}")
        .unwrap_err()
        .to_string();
    assert!(e.contains("expected \"syncdesk.conflicts.v1\""), "{e}");
}

#[test]
fn an_answer_lost_mid_submit_is_sent_again_and_applied_once() {
    let live = Live::start();
    live.with_conflict();
    let proxy = common::Proxy::start(&live.base);
    let drafts = tempfile::tempdir().unwrap();
    let mut desk = desk_on(&proxy.base, drafts.path());
    press(&mut desk, &["Enter", "l"]);
    proxy
        .drop_next_post_answer
        .store(true, std::sync::atomic::Ordering::SeqCst);
    press(&mut desk, &["w", "y"]);
    let message = desk.app.message.clone().unwrap();
    assert!(
        message.error && message.text.starts_with("Not sent: server unreachable"),
        "{message:?}"
    );
    assert!(message.text.contains("w to try again"), "{message:?}");
    // The server did apply it; the desk cannot know. The same decisions resend the same key.
    assert_eq!(live.record("INS-1")["version"], 3);
    press(&mut desk, &["w", "y"]);
    let message = desk.app.message.clone().unwrap();
    assert!(
        message
            .text
            .starts_with("Resolved c-000001 INS-1: version 3"),
        "{message:?}"
    );
    let record = live.record("INS-1");
    assert_eq!(
        (
            record["version"].as_u64(),
            record["fields"]["notes"].as_str()
        ),
        (Some(3), Some("ana's"))
    );
    let (_, versions) = live.call("GET", "/v1/inspections/INS-1/versions", "sue", None);
    assert_eq!(
        versions["versions"].as_array().unwrap().len(),
        3,
        "applied once"
    );
}

/// Applies the runner's answers until `done` holds (at most five seconds).
fn wait_for(
    desk: &mut syncdesk::tui::Session<ratatui::backend::TestBackend>,
    what: &str,
    mut done: impl FnMut(&mut syncdesk::tui::Session<ratatui::backend::TestBackend>) -> bool,
) {
    let until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !done(desk) {
        assert!(
            std::time::Instant::now() < until,
            "never: {what}\n{}",
            screen(desk)
        );
        desk.drain();
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

#[test]
fn the_queue_moves_on_screen_without_a_key_and_claims_show_who_is_on_what() {
    let tom = "\n[[users]]\nname = \"tom\"\nrole = \"supervisor\"\ntoken = \"tom-token\"\n";
    let live = Live::start_with(&format!("{}{tom}", common::CONFIG));
    let drafts = tempfile::tempdir().unwrap();
    let mut desk = desk_on(&live.base, drafts.path());
    assert!(screen(&mut desk).contains("No open conflicts"));
    // A sync parks a conflict: it appears, announced, with no key pressed.
    live.with_conflict();
    wait_for(&mut desk, "the new conflict listed", |d| {
        screen(d).contains("c-000001")
    });
    assert!(
        screen(&mut desk).contains("New: c-000001"),
        "{}",
        screen(&mut desk)
    );
    // Another supervisor takes it: the list says so.
    let (status, _) = live.call("POST", "/v1/conflicts/c-000001/claim", "tom", None);
    assert_eq!(status, StatusCode::OK);
    wait_for(&mut desk, "tom on it", |d| {
        let text = screen(d);
        text.contains("On it") && text.contains("tom")
    });
    // Opening it asks first, naming him; any other key leaves it to him.
    press(&mut desk, &["Enter"]);
    assert!(
        screen(&mut desk).contains("tom is on c-000001"),
        "{}",
        screen(&mut desk)
    );
    press(&mut desk, &["n"]);
    assert_eq!(desk.app.screen, Screen::List);
    // He lets go; sue opens it and is on it for everyone, until she leaves it.
    assert_eq!(
        live.call("DELETE", "/v1/conflicts/c-000001/claim", "tom", None)
            .0,
        StatusCode::NO_CONTENT
    );
    wait_for(&mut desk, "the claim gone from the list", |d| {
        !screen(d).contains("On it")
    });
    press(&mut desk, &["Enter"]);
    assert_eq!(desk.app.screen, Screen::Detail);
    let claimed_by = |live: &Live| live.queue("open")[0]["claimed_by"].clone();
    wait_for(&mut desk, "sue's claim on the server", |_| {
        claimed_by(&live) == "sue"
    });
    press(&mut desk, &["q"]);
    wait_for(&mut desk, "sue's claim released", |_| {
        claimed_by(&live).is_null()
    });
}

#[test]
fn tab_shows_the_sync_log_and_enter_opens_the_conflict_a_write_parked() {
    let live = Live::start();
    live.with_conflict();
    // A write the rules refuse: its body is kept and shown.
    let bad = json!({"base_version": 2, "fields": {"site_id": "S-4", "status": "maybe"}});
    let (status, _) = live.call("PUT", "/v1/inspections/INS-1", "ana", Some(bad));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let drafts = tempfile::tempdir().unwrap();
    let mut desk = desk_on(&live.base, drafts.path());
    press(&mut desk, &["Tab"]);
    assert_eq!(desk.app.screen, Screen::Syncs);
    let log = screen(&mut desk);
    assert!(
        log.contains("Sync log") && log.contains("row 1 of 4"),
        "{log}"
    );
    assert!(
        log.contains("invalid") && log.contains("Sent: ") && log.contains("maybe"),
        "{log}"
    );
    assert!(log.contains("Problem: validation at /status"), "{log}");
    press(&mut desk, &["Enter"]);
    assert!(
        desk.app
            .message
            .as_ref()
            .unwrap()
            .text
            .contains("parked no conflict: invalid (422)"),
        "{:?}",
        desk.app.message
    );
    assert!(
        log.contains("Why: The form failed the type's rules at /status"),
        "{log}"
    );
    press(&mut desk, &["j"]);
    assert!(screen(&mut desk).contains("edit-conflict"));
    // Its explanation names what happened on the server since ana's base, read from the
    // record's history.
    wait_for(&mut desk, "the conflict explained", |desk| {
        screen(desk).contains("Since then version 2 by ben at ")
    });
    let why = screen(&mut desk);
    assert!(why.contains("Why: Based on version 1."), "{why}");
    assert!(
        why.contains("a genuine conflict, parked as c-000001"),
        "{why}"
    );
    press(&mut desk, &["j"]);
    wait_for(&mut desk, "the merge-free write explained", |desk| {
        screen(desk).contains("Why: Based on version 1 — the current one.")
    });
    press(&mut desk, &["k"]);
    press(&mut desk, &["Enter"]);
    assert_eq!(desk.app.screen, Screen::Detail);
    assert_eq!(desk.app.desk.as_ref().unwrap().detail.id, "c-000001");
    // Resolved from there (local for all); then Tab in turn: the log, its numbers (5
    // writes, the 409 and the 422 refused), the audit trail.
    press(&mut desk, &["L", "w", "y"]);
    assert_eq!(desk.app.screen, Screen::List, "{:?}", desk.app.message);
    press(&mut desk, &["Tab", "Tab"]);
    assert_eq!(desk.app.screen, Screen::Stats);
    let numbers = screen(&mut desk);
    assert!(numbers.contains("Refused: 40.0% of 5 writes"), "{numbers}");
    assert!(
        numbers.contains("saved 3 · saved with a merge notice 0 · needs attention 2"),
        "{numbers}"
    );
    press(&mut desk, &["Tab"]);
    assert_eq!(desk.app.screen, Screen::Audit);
    let trail = screen(&mut desk);
    assert!(
        trail.contains("Audit trail") && trail.contains("c-000001"),
        "{trail}"
    );
    assert!(
        trail.contains(r#"/notes local: "ana's" over server "ben's""#),
        "{trail}"
    );
    press(&mut desk, &["Tab"]);
    assert_eq!(desk.app.screen, Screen::List, "Tab goes back to the queue");
}

#[test]
fn one_decision_for_many_is_sent_one_request_each_and_reports_what_went_stale_or_closed() {
    let live = Live::start();
    live.with_three_conflicts();
    let drafts = tempfile::tempdir().unwrap();
    let mut desk = desk_on(&live.base, drafts.path());
    wait_for(&mut desk, "the queue", |desk| {
        desk.app.queue.items.len() == 3
    });
    press(&mut desk, &["a", "b"]);
    wait_for(&mut desk, "the marked conflicts read", |desk| {
        screen(desk).contains("3 marked conflict(s). Decide for:")
    });
    assert!(screen(&mut desk).contains("/notes"));
    press(&mut desk, &["l"]);
    let preview = screen(&mut desk);
    assert!(
        preview.contains("Decision: take local for every conflicting field"),
        "{preview}"
    );
    assert_eq!(
        preview.matches("would apply: /notes → local").count(),
        3,
        "{preview}"
    );
    assert!(preview.contains("y sends 3, one request each"), "{preview}");
    // Meanwhile: another supervisor resolves c-000002, and ben changes INS-3 again.
    let (_, detail) = live.call("GET", "/v1/conflicts/c-000002", "sue", None);
    let tag = detail["server"]["etag"].as_str().unwrap().to_string();
    let resolved = live.rt.block_on(async {
        reqwest::Client::new()
            .post(format!("{}/v1/conflicts/c-000002/resolution", live.base))
            .bearer_auth("sue-token")
            .header("If-Match", tag)
            .header("Idempotency-Key", "elsewhere-1")
            .json(&json!({"fields": {"site_id": "S-4", "notes": "ben's", "status": "open", "temperature": 20}}))
            .send()
            .await
            .unwrap()
            .status()
    });
    assert_eq!(resolved, StatusCode::OK);
    let ben = json!({"base_version": 2, "fields": {"site_id": "S-4", "notes": "ben's", "status": "passed", "temperature": 20}});
    assert_eq!(
        live.call("PUT", "/v1/inspections/INS-3", "ben", Some(ben))
            .0,
        StatusCode::OK
    );
    press(&mut desk, &["y"]);
    wait_for(&mut desk, "the results", |desk| {
        screen(desk).contains("What each came to")
    });
    let results = screen(&mut desk);
    assert!(
        results.contains("c-000001   applied: version 3"),
        "{results}"
    );
    assert!(
        results.contains("c-000002   closed: sue resolved it first"),
        "{results}"
    );
    // Changed after the preview: each conflict is read afresh just before its request and
    // decided on that, so ben's later change is kept, never overwritten.
    assert!(
        results.contains("c-000003   applied: version 4"),
        "{results}"
    );
    let notes = |id: &str| live.record(id)["fields"]["notes"].clone();
    assert_eq!(notes("INS-1"), "ana's");
    assert_eq!(
        notes("INS-2"),
        "ben's",
        "the other supervisor's resolution stands"
    );
    let ins3 = live.record("INS-3");
    assert_eq!(ins3["fields"]["notes"], "ana's");
    assert_eq!(
        ins3["fields"]["status"], "passed",
        "ben's later change kept"
    );
    assert_eq!(ins3["version"], 4, "applied once");
    press(&mut desk, &["Esc"]);
    wait_for(&mut desk, "the queue read again", |desk| {
        desk.app.queue.items.iter().all(|c| c.id != "c-000001")
    });
    assert!(
        !desk.app.queue.marked.contains("c-000001"),
        "applied: unmarked"
    );
    assert!(
        !desk.app.queue.marked.contains("c-000003"),
        "applied: unmarked"
    );
}

#[test]
fn a_conflict_that_goes_stale_under_a_bulk_request_is_read_again_and_applied_once() {
    let live = Live::start();
    live.with_three_conflicts();
    let proxy = common::Proxy::start(&live.base);
    // Just before the first resolution reaches the server, ben changes INS-1's status:
    // that request's If-Match is then stale (412).
    let base = live.base.clone();
    *proxy.before_next_post.lock().unwrap() = Some(Box::new(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let status = rt.block_on(async {
            reqwest::Client::new()
                .put(format!("{base}/v1/inspections/INS-1"))
                .bearer_auth("ben-token")
                .header("Idempotency-Key", "ben-slips-in")
                .json(&json!({"base_version": 2, "fields": {"site_id": "S-4", "notes": "ben's", "status": "passed", "temperature": 20}}))
                .send()
                .await
                .unwrap()
                .status()
        });
        assert_eq!(status, StatusCode::OK);
    }));
    let drafts = tempfile::tempdir().unwrap();
    let mut desk = desk_on(&proxy.base, drafts.path());
    wait_for(&mut desk, "the queue", |desk| {
        desk.app.queue.items.len() == 3
    });
    press(&mut desk, &[" ", "b"]);
    wait_for(&mut desk, "the marked conflict read", |desk| {
        screen(desk).contains("1 marked conflict(s). Decide for:")
    });
    press(&mut desk, &["l", "y"]);
    wait_for(&mut desk, "the results", |desk| {
        screen(desk).contains("What each came to")
    });
    let results = screen(&mut desk);
    assert!(
        results.contains("c-000001   applied: version 4"),
        "{results}"
    );
    let ins1 = live.record("INS-1");
    assert_eq!(ins1["fields"]["notes"], "ana's");
    assert_eq!(
        ins1["fields"]["status"], "passed",
        "ben's change, made in between, kept"
    );
    let (_, versions) = live.call("GET", "/v1/inspections/INS-1/versions", "sue", None);
    assert_eq!(
        versions["versions"].as_array().unwrap().len(),
        4,
        "one resolution, applied once"
    );
}

#[test]
fn the_sync_log_filtered_on_the_server_shows_only_what_the_filter_names() {
    let live = Live::start();
    live.with_conflict();
    let drafts = tempfile::tempdir().unwrap();
    let mut desk = desk_on(&live.base, drafts.path());
    press(&mut desk, &["2"]);
    wait_for(&mut desk, "the log", |desk| {
        screen(desk).contains("row 1 of 3")
    });
    press(&mut desk, &["/"]);
    let typed: Vec<String> = "user:ben".chars().map(String::from).collect();
    press(
        &mut desk,
        &typed.iter().map(String::as_str).collect::<Vec<_>>(),
    );
    press(&mut desk, &["Enter"]);
    wait_for(&mut desk, "the filtered log", |desk| {
        screen(desk).contains("row 1 of 1")
    });
    let log = screen(&mut desk);
    assert!(log.contains("filter: user:ben"), "{log}");
    assert!(
        log.contains("applied") && !log.contains("edit-conflict"),
        "{log}"
    );
}
