//! The scriptable commands as processes against a real server on 127.0.0.1:
//! `conflicts list|show|resolve`, `export`, `push`, `completions`, and their exit codes.

mod common;

use assert_cmd::Command;
use common::{Live, run, syncdesk};
use serde_json::{Value, json};

#[test]
fn list_and_show_for_people_and_for_scripts() {
    let live = Live::start();
    live.with_conflict();
    let (code, out, _) = run(syncdesk(&live).args(["conflicts", "list"]));
    assert_eq!(code, 0);
    assert!(out.starts_with("ID        STATUS  KIND"), "{out}");
    assert!(
        out.contains("c-000001  open    edit-conflict  inspections/INS-1  ana  tab-17"),
        "{out}"
    );
    assert!(out.ends_with("1 conflict(s), 1 open\n"), "{out}");
    let (code, out, _) = run(syncdesk(&live).args(["conflicts", "list", "--json"]));
    assert_eq!(code, 0);
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list["conflicts"][0]["conflicting_paths"], json!(["/notes"]));
    let (code, out, _) =
        run(syncdesk(&live).args(["conflicts", "list", "--status", "resolved", "--json"]));
    assert_eq!((code, out.trim()), (0, "{\"conflicts\":[]}"));

    let (code, out, _) = run(syncdesk(&live).args(["conflicts", "show", "c-000001"]));
    assert_eq!(code, 0);
    assert!(out.contains("base: version 1 by ana at "), "{out}");
    assert!(out.contains("server: version 2 by ben at "), "{out}");
    assert!(
        out.contains("conflict   /notes\n  base:   a\n  local:  ana's\n  server: ben's"),
        "{out}"
    );
    let (code, out, _) = run(syncdesk(&live).args(["conflicts", "show", "c-000001", "--json"]));
    assert_eq!(code, 0);
    let detail: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(detail["local"]["fields"]["notes"], "ana's");
    assert!(
        detail["fields"].is_array(),
        "the server's detail, every member kept"
    );

    let (code, _, err) = run(syncdesk(&live).args(["conflicts", "show", "c-000099"]));
    assert_eq!(code, 2);
    assert!(err.contains("404") && err.contains("c-000099"), "{err}");
    let (code, _, err) = run(syncdesk(&live).args(["conflicts", "list", "--status", "closed"]));
    assert_eq!(code, 2, "bad flags are usage errors");
    assert!(err.contains("closed"), "{err}");
    let (code, _, err) = run(syncdesk(&live)
        .args(["conflicts", "list"])
        .env("SYNCDESK_TOKEN", "ana-token"));
    assert_eq!(code, 3, "a refused token is the server refusing");
    assert!(err.contains("403"), "{err}");
}

#[test]
fn resolve_takes_sides_and_values_and_refuses_to_guess() {
    let live = Live::start();
    live.with_conflict();
    let (code, _, err) = run(syncdesk(&live).args(["conflicts", "resolve", "c-000001"]));
    assert_eq!(code, 2);
    assert!(err.contains("undecided: /notes"), "{err}");
    let (code, _, err) =
        run(syncdesk(&live).args(["conflicts", "resolve", "c-000001", "--field", "/nope=local"]));
    assert_eq!(code, 2);
    assert!(err.contains("has no field /nope"), "{err}");
    let (code, _, err) = run(syncdesk(&live).args([
        "conflicts",
        "resolve",
        "c-000001",
        "--field",
        "/temperature==\"warm\"",
    ]));
    assert_eq!(code, 2, "/notes is still undecided: {err}");
    // A value of the wrong type is the user's input to fix, named with its path.
    let (code, _, err) = run(syncdesk(&live).args([
        "conflicts",
        "resolve",
        "c-000001",
        "--take",
        "server",
        "--field",
        "/temperature==\"warm\"",
        "--json",
    ]));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("--field /temperature==\"warm\""), "{err}");

    let (code, out, err) = run(syncdesk(&live).args([
        "conflicts",
        "resolve",
        "c-000001",
        "--take",
        "server",
        "--field",
        "/notes==both: ben's and ana's",
        "--json",
    ]));
    assert_eq!(code, 0, "{err}");
    let outcome: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (outcome["status"].as_str(), outcome["version"].as_u64()),
        (Some("resolved"), Some(3))
    );
    let record = live.record("INS-1");
    assert_eq!(record["fields"]["notes"], "both: ben's and ana's");
    assert_eq!(
        record["fields"]["temperature"], 21,
        "the merged local change stays"
    );
    let (code, _, err) =
        run(syncdesk(&live).args(["conflicts", "resolve", "c-000001", "--take", "local"]));
    assert_eq!(code, 1);
    assert!(err.contains("already resolved by sue"), "{err}");
}

#[test]
fn export_then_push_reports_a_stale_item_and_never_overwrites_it() {
    let live = Live::start();
    live.with_conflict();
    // A second conflict, on INS-2.
    let fields = json!({"site_id": "S-1", "notes": "x", "status": "open"});
    live.call(
        "POST",
        "/v1/inspections",
        "ana",
        Some(json!({"id": "INS-2", "fields": fields})),
    );
    let ben =
        json!({"base_version": 1, "fields": {"site_id": "S-1", "notes": "ben", "status": "open"}});
    live.call("PUT", "/v1/inspections/INS-2", "ben", Some(ben));
    let ana =
        json!({"base_version": 1, "fields": {"site_id": "S-1", "notes": "ana", "status": "open"}});
    assert_eq!(
        live.call("PUT", "/v1/inspections/INS-2", "ana", Some(ana))
            .0,
        409
    );

    let work = live.dir.path();
    let file = work.join("queue.json");
    let (code, _, err) = run(syncdesk(&live).arg("export").arg("-o").arg(&file));
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("exported 2 conflict(s)"), "{err}");
    let export: Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(export["format"], "syncdesk.conflicts.v1");
    assert_eq!(export["server"], live.base.as_str());
    assert_eq!(export["conflicts"].as_array().unwrap().len(), 2);
    let ndjson = work.join("queue.ndjson");
    let (code, _, _) = run(syncdesk(&live).arg("export").arg("-o").arg(&ndjson));
    assert_eq!(code, 0);
    let lines = std::fs::read_to_string(&ndjson).unwrap();
    assert_eq!(lines.lines().count(), 2);
    assert!(syncdesk::protocol::ExportIndex::parse("queue.ndjson", &lines).is_ok());

    // Offline, both are resolved (as `syncdesk open` writes them) ...
    let resolution = |cid: &str, record: &str, notes: &str| {
        let detail = export["conflicts"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == cid)
            .unwrap();
        let mut fields = detail["local"]["fields"].clone();
        fields["notes"] = notes.into();
        json!({"conflict_id": cid, "record_type": "inspections", "record_id": record,
               "if_match": detail["server"]["etag"], "fields": fields, "choices": {"/notes": "manual"},
               "resolved_by": "sue", "resolved_at": "2026-11-25T10:00:00.000Z"})
    };
    let resolutions = json!({"format": "syncdesk.resolutions.v1", "resolutions": [
        resolution("c-000001", "INS-1", "decided offline"),
        resolution("c-000002", "INS-2", "also decided offline"),
    ]});
    let pushed = work.join("queue.resolutions.json");
    std::fs::write(&pushed, resolutions.to_string()).unwrap();
    // ... while ben changes INS-2 on the server.
    let newer = json!({"base_version": 2, "fields": {"site_id": "S-1", "notes": "ben, later", "status": "failed"}});
    assert_eq!(
        live.call("PUT", "/v1/inspections/INS-2", "ben", Some(newer))
            .0,
        200
    );

    let (code, out, _) = run(syncdesk(&live).arg("push").arg(&pushed));
    assert_eq!(code, 1, "one item failed: {out}");
    assert!(
        out.contains("c-000001 inspections/INS-1: resolved: version 3"),
        "{out}"
    );
    assert!(out.contains("c-000002 inspections/INS-2: stale: the record changed on the server after the export (412)"), "{out}");
    assert!(
        out.ends_with("2 resolution(s): 1 resolved, 1 not\n"),
        "{out}"
    );
    assert_eq!(live.record("INS-1")["fields"]["notes"], "decided offline");
    assert_eq!(
        live.record("INS-2")["fields"]["notes"],
        "ben, later",
        "the newer change is not overwritten"
    );
    assert_eq!(live.queue("open").len(), 1);

    // Pushed again, the applied one is a replay, not a second write.
    let (code, out, _) = run(syncdesk(&live).arg("push").arg(&pushed).arg("--json"));
    assert_eq!(code, 1);
    let results: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(results["results"][0]["status"], "resolved");
    assert_eq!(results["results"][1]["status"], "stale");
    assert_eq!(live.record("INS-1")["version"], 3);
}

#[test]
fn a_dead_server_is_exit_3_and_a_bad_file_exit_2() {
    let live = Live::start();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let dead = format!("http://{port}");
    for args in [
        vec!["conflicts", "list"],
        vec!["export"],
        vec!["conflicts", "show", "c-000001"],
    ] {
        let (code, _, err) = run(syncdesk(&live).args(&args).env("SYNCDESK_SERVER", &dead));
        assert_eq!(code, 3, "{args:?}: {err}");
        assert!(err.contains("server unreachable"), "{args:?}: {err}");
    }
    let file = live.dir.path().join("r.json");
    std::fs::write(
        &file,
        "{\"format\": \"syncdesk.resolutions.v1\",\n \"resolutions\": [1]}",
    )
    .unwrap();
    let (code, _, err) = run(syncdesk(&live).arg("push").arg(&file));
    assert_eq!(code, 2);
    assert!(err.contains("r.json: line 2, column"), "{err}");
    std::fs::write(
        &file,
        "{\"format\": \"syncdesk.resolutions.v1\", \"resolutions\": []}",
    )
    .unwrap();
    let (code, _, err) = run(syncdesk(&live)
        .arg("push")
        .arg(&file)
        .env("SYNCDESK_SERVER", &dead));
    assert_eq!(
        (code, err.as_str()),
        (0, ""),
        "nothing to send, nothing to reach"
    );
}

#[test]
fn the_token_can_come_from_a_command_and_completions_are_printed() {
    let live = Live::start();
    let config = live.dir.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            "server = \"{}\"\ntoken_command = \"echo sue-token\"\n",
            live.base
        ),
    )
    .unwrap();
    let (code, out, err) = run(Command::cargo_bin("syncdesk")
        .unwrap()
        .env_remove("SYNCDESK_SERVER")
        .env_remove("SYNCDESK_TOKEN")
        .env("SYNCDESK_CONFIG", &config)
        .args(["conflicts", "list", "--json"]));
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "{\"conflicts\":[]}");
    let (code, out, _) = run(Command::cargo_bin("syncdesk")
        .unwrap()
        .args(["completions", "bash"]));
    assert_eq!(code, 0);
    assert!(
        out.contains("_syncdesk()") && out.contains("conflicts"),
        "{}",
        &out[..200.min(out.len())]
    );
    let (code, _, _) = run(Command::cargo_bin("syncdesk")
        .unwrap()
        .args(["completions", "tcsh"]));
    assert_eq!(code, 2);
}

/// A peer on 127.0.0.1 that answers every request with `response`, then hangs up.
fn hostile_peer(response: &'static str) -> String {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut stream = stream;
            let mut buf = [0u8; 4096];
            let _ = stream.read(&mut buf);
            let _ = stream.write_all(response.as_bytes());
        }
    });
    base
}

#[test]
fn a_server_that_answers_garbage_or_hangs_up_is_exit_3_with_what_went_wrong() {
    let live = Live::start();
    let garbage =
        hostile_peer("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nConnection: close\r\n\r\nnot json!");
    let (code, _, err) = run(syncdesk(&live)
        .args(["conflicts", "list"])
        .env("SYNCDESK_SERVER", &garbage));
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("server answered something unreadable"),
        "{err}"
    );
    let wrong_shape = hostile_peer(
        "HTTP/1.1 200 OK\r\nContent-Length: 27\r\nConnection: close\r\n\r\n{\"conflicts\": [{\"id\": 1}]}\n",
    );
    let (code, _, err) = run(syncdesk(&live)
        .args(["conflicts", "list"])
        .env("SYNCDESK_SERVER", &wrong_shape));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("unreadable"), "{err}");
    let hang_up = hostile_peer("");
    let (code, _, err) = run(syncdesk(&live)
        .args(["conflicts", "show", "c-000001"])
        .env("SYNCDESK_SERVER", &hang_up));
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("server unreachable"), "{err}");
}

#[test]
fn syncs_tells_support_what_each_write_came_to() {
    let live = Live::start();
    live.with_conflict();
    let (code, out, err) = run(syncdesk(&live).arg("syncs"));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("AT") && lines[0].contains("OUTCOME"),
        "{out}"
    );
    // Newest first: ana's parked edit, ben's sync, ana's create.
    assert!(
        lines[1].contains("ana") && lines[1].contains("tab-17"),
        "{out}"
    );
    assert!(
        lines[1].contains("edit-conflict") && lines[1].contains("c-000001"),
        "{out}"
    );
    assert!(
        lines[1].contains("409") && lines[1].contains("/notes"),
        "{out}"
    );
    assert!(
        lines[2].contains("ben") && lines[2].contains("applied"),
        "{out}"
    );
    assert!(lines[3].contains("created"), "{out}");
    assert_eq!(lines.last(), Some(&"3 write(s)"));
    let (code, out, _) = run(syncdesk(&live).args(["syncs", "--user", "ben", "--json"]));
    assert_eq!(code, 0);
    let page: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(page["syncs"].as_array().unwrap().len(), 1);
    assert_eq!(page["syncs"][0]["outcome"], "applied");
    let (code, out, err) = run(syncdesk(&live).args(["syncs", "--limit", "1", "--json"]));
    assert_eq!(code, 0, "{err}");
    let newest: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(newest["syncs"].as_array().unwrap().len(), 1);
    assert_eq!(newest["syncs"][0]["outcome"], "edit-conflict");
    let (code, _, err) = run(syncdesk(&live).args(["syncs", "--since", "yesterday"]));
    assert_eq!(
        code, 2,
        "a time the server cannot read is the user's to fix: {err}"
    );
    assert!(err.contains("since"), "{err}");
    let (code, _, err) = run(syncdesk(&live)
        .env("SYNCDESK_TOKEN", "ana-token")
        .arg("syncs"));
    assert_eq!(code, 3, "technicians do not read the log: {err}");
}

#[test]
fn stats_prints_the_share_of_syncs_refused() {
    let live = Live::start();
    live.with_conflict();
    // created, applied, edit-conflict: one refused of three.
    let (code, out, err) = run(syncdesk(&live).args(["stats", "--by", "user"]));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].starts_with("USER") && lines[0].contains("SHARE"),
        "{out}"
    );
    let ana = lines.iter().find(|l| l.starts_with("ana")).unwrap();
    assert!(
        ana.contains("50.0%") && ana.contains("edit-conflict 1"),
        "{out}"
    );
    let all = lines.last().unwrap();
    assert!(all.starts_with("all") && all.contains("33.3%"), "{out}");
    let (code, out, _) = run(syncdesk(&live).args(["stats", "--json"]));
    assert_eq!(code, 0);
    let stats: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (stats["by"].as_str(), stats["writes"].as_u64()),
        (Some("day"), Some(3))
    );
    let (code, _, _) = run(syncdesk(&live).args(["stats", "--by", "weekday"]));
    assert_eq!(code, 2, "clap refuses a grouping it does not know");
}

#[test]
fn audit_says_who_took_which_value_over_which() {
    let live = Live::start();
    live.with_conflict();
    let (code, _, err) =
        run(syncdesk(&live).args(["conflicts", "resolve", "c-000001", "--take", "local"]));
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = run(syncdesk(&live).arg("audit"));
    assert_eq!(code, 0, "{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert!(
        lines[0].contains("sue resolved c-000001 inspections/INS-1 (edit-conflict): version 3"),
        "{out}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.trim() == r#"/notes local: "ana's" over server "ben's""#),
        "{out}"
    );
    assert_eq!(lines.last(), Some(&"1 resolution(s)"));
    let (code, out, _) =
        run(syncdesk(&live).args(["audit", "--json", "--since", "2999-01-01T00:00:00Z"]));
    assert_eq!(code, 0);
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&out).unwrap(),
        json!({"resolutions": []})
    );
}

/// A genuine conflict on `id`: ben changes `ben`, ana's tablet changes `ana` from v1.
fn conflict_on(live: &Live, id: &str, ben: Value, ana: Value) {
    let base = json!({"site_id": "S-4", "notes": "a", "status": "open", "temperature": 20});
    let (s, _) = live.call(
        "POST",
        "/v1/inspections",
        "ana",
        Some(json!({"id": id, "fields": base})),
    );
    assert_eq!(s, reqwest::StatusCode::CREATED);
    let merge = |changes: &Value| {
        let mut fields = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            fields[k] = v.clone();
        }
        fields
    };
    let path = format!("/v1/inspections/{id}");
    let ben = json!({"base_version": 1, "fields": merge(&ben)});
    assert_eq!(
        live.call("PUT", &path, "ben", Some(ben)).0,
        reqwest::StatusCode::OK
    );
    let ana = json!({"base_version": 1, "device_id": "tab-1", "fields": merge(&ana)});
    assert_eq!(
        live.call("PUT", &path, "ana", Some(ana)).0,
        reqwest::StatusCode::CONFLICT
    );
}

#[test]
fn resolve_all_takes_one_side_for_many_and_leaves_what_it_does_not_settle() {
    let live = Live::start();
    conflict_on(
        &live,
        "B-1",
        json!({"notes": "ben 1"}),
        json!({"notes": "ana 1"}),
    );
    conflict_on(
        &live,
        "B-2",
        json!({"notes": "ben 2"}),
        json!({"notes": "ana 2"}),
    );
    // This one conflicts on the status too: --path /notes does not settle it.
    conflict_on(
        &live,
        "B-3",
        json!({"notes": "ben 3", "status": "passed"}),
        json!({"notes": "ana 3", "status": "failed"}),
    );
    let bulk = [
        "conflicts",
        "resolve",
        "--all",
        "--path",
        "/notes",
        "--take",
        "local",
    ];
    let (code, out, err) = run(syncdesk(&live).args(bulk).arg("--dry-run"));
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("c-000001 inspections/B-1: would apply: /notes → local"),
        "{out}"
    );
    assert!(
        out.contains("c-000003 inspections/B-3: left open: the decision does not settle /status"),
        "{out}"
    );
    assert_eq!(live.queue("open").len(), 3, "a dry run changes nothing");
    let (code, out, err) = run(syncdesk(&live).args(bulk).arg("--json"));
    assert_eq!(code, 0, "{err}");
    let report: Value = serde_json::from_str(&out).unwrap();
    let results: Vec<(&str, &str)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["record_id"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [("B-1", "applied"), ("B-2", "applied"), ("B-3", "left-open")]
    );
    assert_eq!(live.record("B-1")["fields"]["notes"], "ana 1");
    assert_eq!(live.record("B-2")["fields"]["notes"], "ana 2");
    let open = live.queue("open");
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["record_id"], "B-3", "never forced");
    // Again: nothing left that the decision settles; B-3 still reported, never forced.
    let (code, out, _) = run(syncdesk(&live).args(bulk));
    assert_eq!(code, 0);
    assert!(
        out.ends_with(
            "1 conflict(s): 0 applied, 0 would apply, 1 left open, 0 stale, 0 closed, 0 refused\n"
        ),
        "{out}"
    );
    let (code, _, err) = run(syncdesk(&live).args(["conflicts", "resolve", "--all"]));
    assert_eq!(code, 2, "--all needs --take: {err}");
}
