//! `syncdesk demo`: the morning replayed through the real protocol fills the queue with
//! genuine conflicts of every kind, and the desk starts on them.

mod common;

use assert_cmd::Command;
use common::{Live, desk_with, press, screen};
use syncdesk::client::{ConflictSource, ServerClient};

#[test]
fn the_morning_parks_one_conflict_of_each_kind_and_merges_the_false_alarms() {
    let live = Live::start_with(syncdesk::server::demo::CONFIG);
    let steps = live
        .rt
        .block_on(syncdesk::demo::replay(&live.base, &live.clock))
        .unwrap();
    let status_of = |what: &str| steps.iter().find(|s| s.what.contains(what)).unwrap();
    let tz = status_of("clock at +01:00");
    assert_eq!(tz.status, 200, "another time zone is no conflict: {tz:?}");
    assert!(tz.outcome.contains("merged /checklist/c1/ok"), "{tz:?}");
    let retry = status_of("retries");
    assert_eq!(retry.status, 200);
    assert!(retry.outcome.contains("Idempotent-Replayed"), "{retry:?}");

    let (_, queue) = live.call("GET", "/v1/conflicts", "demo-sue-is-not-a-user", None);
    assert_eq!(queue["status"], 401, "the demo's tokens are its own");
    let client = ServerClient::new(&live.base, syncdesk::demo::SUPERVISOR_TOKEN).unwrap();
    let open = live.rt.block_on(client.conflicts("open")).unwrap();
    let kinds: Vec<String> = open
        .iter()
        .map(|c| {
            serde_json::to_value(c.kind)
                .unwrap()
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        kinds,
        ["edit-conflict", "invalid-reference", "deleted-on-server"]
    );
    assert_eq!(open[0].conflicting_paths, ["/notes"]);
    // The server ran on the morning's clock: its stamps tell the story's times.
    let stamp = |what: &str| status_of(what).at.to_string();
    assert_eq!(
        open[2].received_at.to_string()[..16],
        stamp("INS-1005, deleted meanwhile")[..16]
    );
    assert_eq!(
        stamp("INS-1005, deleted meanwhile"),
        "2026-11-20T10:16:00.000Z"
    );
    let (_, deleted) = live.call_with_token(
        "GET",
        "/v1/conflicts/c-000003",
        syncdesk::demo::SUPERVISOR_TOKEN,
        None,
    );
    assert_eq!(
        deleted["server"]["last_modified"]
            .as_str()
            .map(|t| &t[..16]),
        Some("2026-11-20T09:30"),
        "sue deleted it at 09:30, as the story says"
    );

    // The desk starts on them.
    let mut desk = desk_with(ConflictSource::Server(client), None);
    let text = screen(&mut desk);
    assert!(text.contains("3 open · row 1 of 3 shown"), "{text}");
    for kind in ["edit-conflict", "invalid-reference", "deleted-on-server"] {
        assert!(text.contains(kind), "{kind}: {text}");
    }
    // The deleted record is decided as a whole: the technician's edits are marked as
    // theirs, nothing is "both changed".
    press(&mut desk, &["G", "Enter"]);
    let opened = desk.app.desk.as_ref().unwrap();
    assert_eq!(opened.detail.record_id, "INS-1005");
    assert_eq!(opened.progress(), (0, 0));
    let text = screen(&mut desk);
    assert!(text.contains("Server: DELETED by sue"), "{text}");
    assert!(text.contains("R restores it"), "{text}");
    assert!(text.contains("✎ /notes"), "{text}");
    assert!(text.contains("technician's edit"), "{text}");
}

/// The demo's morning with the desk open on INS-1005, deleted on the server (c-000003).
fn demo_on_the_deleted_record() -> (
    Live,
    syncdesk::tui::session::Session<ratatui::backend::TestBackend>,
) {
    let live = Live::start_with(syncdesk::server::demo::CONFIG);
    live.rt
        .block_on(syncdesk::demo::replay(&live.base, &live.clock))
        .unwrap();
    let client = ServerClient::new(&live.base, syncdesk::demo::SUPERVISOR_TOKEN).unwrap();
    let mut desk = desk_with(ConflictSource::Server(client), None);
    press(&mut desk, &["G", "Enter"]);
    assert_eq!(desk.app.desk.as_ref().unwrap().detail.id, "c-000003");
    (live, desk)
}

#[test]
fn the_desk_restores_a_record_deleted_on_the_server() {
    let (live, mut desk) = demo_on_the_deleted_record();
    press(&mut desk, &["R"]);
    let text = screen(&mut desk);
    assert!(
        text.contains("Restores INS-1005, deleted by sue, as version 3"),
        "{text}"
    );
    press(&mut desk, &["y"]);
    let said = desk
        .app
        .message
        .as_ref()
        .map(|m| m.text.clone())
        .unwrap_or_default();
    assert!(
        said.contains("Resolved c-000003 INS-1005: version 3"),
        "{said}"
    );
    let token = syncdesk::demo::SUPERVISOR_TOKEN;
    let (status, record) = live.call_with_token("GET", "/v1/inspections/INS-1005", token, None);
    assert_eq!(status, 200, "live again: {record}");
    assert_eq!(
        (&record["fields"]["notes"], &record["fields"]["temperature"]),
        (
            &serde_json::json!("Booster pump vibrates above 2,000 rpm."),
            &serde_json::json!(41)
        ),
        "with the technician's edits"
    );
}

#[test]
fn the_desk_keeps_a_record_deleted_on_the_server_deleted() {
    let (live, mut desk) = demo_on_the_deleted_record();
    press(&mut desk, &["K"]);
    let text = screen(&mut desk);
    assert!(
        text.contains("Keeps INS-1005 deleted (version 2)"),
        "{text}"
    );
    press(&mut desk, &["y"]);
    let token = syncdesk::demo::SUPERVISOR_TOKEN;
    let (status, _) = live.call_with_token("GET", "/v1/inspections/INS-1005", token, None);
    assert_eq!(status, 410, "still deleted");
    let (_, detail) = live.call_with_token("GET", "/v1/conflicts/c-000003", token, None);
    assert_eq!(detail["status"], "resolved");
    assert_eq!(detail["resolution"]["kept_deleted"], true);
}

#[test]
fn demo_without_a_terminal_reports_the_morning_and_the_queue() {
    let out = Command::cargo_bin("syncdesk")
        .unwrap()
        .arg("demo")
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.contains("The queue: 3 open conflict(s)"), "{text}");
    assert!(
        text.contains("409 edit-conflict: /notes (queued as c-000001)"),
        "{text}"
    );
    assert!(
        text.contains("422 invalid-reference: /site_id (queued as c-000002)"),
        "{text}"
    );
    assert!(text.contains("409 deleted-on-server"), "{text}");
    assert!(text.contains("Ready in "), "{text}");
}

#[test]
fn an_invalid_reference_is_fixed_with_an_item_of_its_list() {
    let live = Live::start_with(syncdesk::server::demo::CONFIG);
    live.rt
        .block_on(syncdesk::demo::replay(&live.base, &live.clock))
        .unwrap();
    let client = ServerClient::new(&live.base, syncdesk::demo::SUPERVISOR_TOKEN).unwrap();
    let mut desk = desk_with(ConflictSource::Server(client), None);
    press(&mut desk, &["j", "Enter"]);
    assert_eq!(desk.app.desk.as_ref().unwrap().detail.record_id, "INS-1003");
    assert_eq!(
        desk.app.desk.as_ref().unwrap().current().unwrap().path,
        "/site_id"
    );

    // The detail says what the reference named and that the list lost it.
    let text = screen(&mut desk);
    assert!(
        text.contains("→ S-3 Old mill substation — removed from sites"),
        "{text}"
    );
    // Taking a side that keeps the removed site is refused at once.
    press(&mut desk, &["s"]);
    let said = desk.app.message.as_ref().unwrap().text.clone();
    assert!(
        said.contains("Not taken: S-3 Old mill substation — removed from sites"),
        "{said}"
    );
    assert!(
        said.contains("one of: S-1 Harbour pumping station"),
        "{said}"
    );
    assert!(desk.app.desk.as_ref().unwrap().choices.is_empty());

    // The picker offers the list's items (not the removed one) and filters as typed.
    press(&mut desk, &["m"]);
    let text = screen(&mut desk);
    assert!(text.contains("sites for /site_id"), "{text}");
    assert!(text.contains("S-2  East reservoir"), "{text}");
    assert!(
        !text.contains("S-3  Old mill"),
        "the removed site is not offered: {text}"
    );
    press(&mut desk, &["e", "a", "s", "t", "Enter", "w", "y"]);
    let record = live.rt.block_on(async {
        reqwest::Client::new()
            .get(format!("{}/v1/inspections/INS-1003", live.base))
            .bearer_auth("demo-sue")
            .send()
            .await
            .unwrap()
            .json::<serde_json::Value>()
            .await
            .unwrap()
    });
    assert_eq!(record["fields"]["site_id"], "S-2");
    assert_eq!(
        record["fields"]["status"], "failed",
        "ben's merged change stays"
    );
}

#[test]
fn an_export_carries_its_lists_and_schemas_and_push_checks_before_sending() {
    let live = Live::start_with(syncdesk::server::demo::CONFIG);
    live.rt
        .block_on(syncdesk::demo::replay(&live.base, &live.clock))
        .unwrap();
    let export = live.dir.path().join("queue.json");
    let syncdesk = || {
        let mut cmd = assert_cmd::Command::cargo_bin("syncdesk").unwrap();
        cmd.env("SYNCDESK_SERVER", &live.base)
            .env("SYNCDESK_TOKEN", syncdesk::demo::SUPERVISOR_TOKEN)
            .env("SYNCDESK_CONFIG", live.dir.path().join("none.toml"));
        cmd
    };
    let out = syncdesk()
        .arg("export")
        .arg("-o")
        .arg(&export)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let file: serde_json::Value = serde_json::from_slice(&std::fs::read(&export).unwrap()).unwrap();
    assert_eq!(
        file["schemas"]["inspections"]["fields"]["site_id"]["list"],
        "sites"
    );
    assert_eq!(file["master"]["sites"]["removed"][0]["id"], "S-3");
    assert!(file["master"]["sites"]["etag"].is_string());

    // Offline, the invalid reference is explained and checked as on the server.
    let book = syncdesk::client::ExportBook::open(&export, None).unwrap();
    let loaded = book.load("c-000002").unwrap();
    let desk = syncdesk::tui::desk::Desk::new(loaded, None);
    let why = desk
        .unlisted_choice("/site_id", &syncdesk::merge::Choice::Local)
        .unwrap();
    assert!(
        why.contains("S-3 Old mill substation — removed from sites"),
        "{why}"
    );

    // A resolution that keeps the removed site is not sent; push names the valid sites.
    let (_, detail) = live.call_with_token(
        "GET",
        "/v1/conflicts/c-000002",
        syncdesk::demo::SUPERVISOR_TOKEN,
        None,
    );
    let entry = serde_json::json!({"conflict_id": "c-000002", "record_type": "inspections",
        "record_id": "INS-1003", "if_match": detail["server"]["etag"],
        "fields": detail["local"]["fields"], "choices": {"/site_id": "local"},
        "resolved_by": "sue", "resolved_at": "2026-11-20T11:00:00.000Z"});
    let resolutions = live.dir.path().join("r.json");
    std::fs::write(
        &resolutions,
        serde_json::json!({"format": "syncdesk.resolutions.v1", "resolutions": [entry]})
            .to_string(),
    )
    .unwrap();
    let out = syncdesk().arg("push").arg(&resolutions).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("invalid (not sent)"), "{text}");
    assert!(text.contains("removed from sites"), "{text}");
    assert!(text.contains("S-1 Harbour pumping station"), "{text}");
    let (_, after) = live.call_with_token(
        "GET",
        "/v1/conflicts/c-000002",
        syncdesk::demo::SUPERVISOR_TOKEN,
        None,
    );
    assert_eq!(after["status"], "open", "nothing was sent");
}

#[cfg(unix)]
#[test]
fn demo_keep_leaves_the_server_running_for_the_command_line_until_ctrl_c() {
    use std::io::BufRead;
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("syncdesk"))
        .args(["demo", "--keep"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let base = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|line| {
            line.strip_prefix("The demo server keeps running on ")
                .and_then(|rest| rest.split(';').next())
                .map(str::to_string)
        })
        .expect("the URL is printed");
    let tokens = lines.next().unwrap().unwrap();
    assert!(tokens.contains("demo-sue (supervisor)"), "{tokens}");
    let out = assert_cmd::Command::cargo_bin("syncdesk")
        .unwrap()
        .args(["conflicts", "list", "--json"])
        .env("SYNCDESK_SERVER", &base)
        .env("SYNCDESK_TOKEN", syncdesk::demo::SUPERVISOR_TOKEN)
        .env("SYNCDESK_CONFIG", "/nonexistent/config.toml")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let queue: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(queue["conflicts"].as_array().map(Vec::len), Some(3));
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(0));
    assert!(
        std::net::TcpStream::connect(base.trim_start_matches("http://")).is_err(),
        "the server is gone"
    );
}
