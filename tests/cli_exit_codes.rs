//! Every exit code of the scriptable commands, in human and `--json` form: `--json`
//! changes the output, never the exit code (contract, section 9).

mod common;

use common::{Live, run, syncdesk};
use serde_json::{Value, json};

/// The same command without and with `--json`: both exit codes.
fn both_forms(live: &Live, args: &[&str]) -> [(i32, String, String); 2] {
    let mut json_args = args.to_vec();
    json_args.push("--json");
    [
        run(syncdesk(live).args(args)),
        run(syncdesk(live).args(&json_args)),
    ]
}

#[test]
fn a_deleted_record_is_restored_or_kept_deleted_from_the_command_line() {
    let live = Live::start();
    live.with_deleted_on_server();
    // Refuses to guess which way.
    let (code, _, err) = run(syncdesk(&live).args(["conflicts", "resolve", "c-000001"]));
    assert_eq!(code, 2);
    assert!(
        err.contains("--restore") && err.contains("--keep-deleted"),
        "{err}"
    );
    let (code, out, _) = run(syncdesk(&live).args(["conflicts", "show", "c-000001"]));
    assert_eq!(code, 0);
    assert!(out.contains("server: DELETED by sue at "), "{out}");
    assert!(
        out.contains("local      /notes\n  base:   a\n  local:  typed\n  server: a"),
        "class names as in --json: {out}"
    );
    let (code, out, err) =
        run(syncdesk(&live).args(["conflicts", "resolve", "c-000001", "--restore", "--json"]));
    assert_eq!(code, 0, "{err}");
    let outcome: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (outcome["status"].as_str(), outcome["version"].as_u64()),
        (Some("resolved"), Some(3))
    );
    let (status, record) = live.read("INS-9");
    assert_eq!(
        (status.as_u16(), &record["fields"]["notes"]),
        (200, &json!("typed"))
    );

    // A second deleted record, kept deleted.
    let live = Live::start();
    live.with_deleted_on_server();
    let (code, out, err) =
        run(syncdesk(&live).args(["conflicts", "resolve", "c-000001", "--keep-deleted"]));
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("kept INS-9 deleted"), "{out}");
    assert_eq!(live.read("INS-9").0.as_u16(), 410);
    // Either flag on another kind is the user's mistake.
    live.with_conflict();
    let (code, _, err) =
        run(syncdesk(&live).args(["conflicts", "resolve", "c-000002", "--keep-deleted"]));
    assert_eq!(code, 2);
    assert!(err.contains("not deleted on the server"), "{err}");
}

#[test]
fn stale_and_closed_resolutions_exit_1_in_both_forms() {
    let live = Live::start();
    live.with_conflict();
    let args = ["conflicts", "resolve", "c-000001", "--take", "local"];
    let [(human, _, _), (json_code, out, _)] = {
        let (code, _, err) = run(syncdesk(&live).args(args));
        assert_eq!(code, 0, "{err}");
        both_forms(&live, &args)
    };
    assert_eq!((human, json_code), (1, 1), "closed: {out}");
    let outcome: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(outcome["status"], "closed");
}

#[test]
fn a_push_with_a_stale_or_closed_item_exits_1_in_both_forms() {
    let live = Live::start();
    live.with_conflict();
    let (_, detail) = live.call("GET", "/v1/conflicts/c-000001", "sue", None);
    let entry = json!({"conflict_id": "c-000001", "record_type": "inspections", "record_id": "INS-1",
        "if_match": detail["server"]["etag"], "fields": detail["server"]["fields"],
        "choices": {"/notes": "server"}, "resolved_by": "sue", "resolved_at": "2026-11-25T10:00:00.000Z"});
    let file = live.dir.path().join("r.json");
    let resolutions = json!({"format": "syncdesk.resolutions.v1", "resolutions": [entry]});
    std::fs::write(&file, resolutions.to_string()).unwrap();
    let path = file.to_str().unwrap();
    // ben changes the record after the export: the entry is stale.
    let newer = json!({"base_version": 2, "fields": {"site_id": "S-4", "notes": "ben's", "status": "failed", "temperature": 20}});
    assert_eq!(
        live.call("PUT", "/v1/inspections/INS-1", "ben", Some(newer))
            .0,
        200
    );
    let [(human, out, _), (json_code, json_out, _)] = both_forms(&live, &["push", path]);
    assert_eq!((human, json_code), (1, 1), "{out}");
    assert!(out.contains("stale"), "{out}");
    let results: Value = serde_json::from_str(&json_out).unwrap();
    assert_eq!(results["results"][0]["status"], "stale");
}

#[test]
fn a_kept_deletion_goes_through_the_resolutions_file() {
    let live = Live::start();
    live.with_deleted_on_server();
    let (_, detail) = live.call("GET", "/v1/conflicts/c-000001", "sue", None);
    let entry = json!({"conflict_id": "c-000001", "record_type": "inspections", "record_id": "INS-9",
        "if_match": detail["server"]["etag"], "keep_deleted": true,
        "resolved_by": "sue", "resolved_at": "2026-11-25T10:00:00.000Z"});
    let file = live.dir.path().join("r.json");
    let resolutions = json!({"format": "syncdesk.resolutions.v1", "resolutions": [entry]});
    std::fs::write(&file, resolutions.to_string()).unwrap();
    let (code, out, err) = run(syncdesk(&live).args(["push", file.to_str().unwrap()]));
    assert_eq!(code, 0, "{out}{err}");
    let (_, detail) = live.call("GET", "/v1/conflicts/c-000001", "sue", None);
    assert_eq!(detail["resolution"]["kept_deleted"], true);
    assert_eq!(live.read("INS-9").0.as_u16(), 410);
}

#[test]
fn what_the_user_typed_wrong_is_exit_2_with_the_fix() {
    let live = Live::start();
    let host = live.base.trim_start_matches("http://").to_string();
    for json in [false, true] {
        let mut cmd = syncdesk(&live);
        cmd.args(["conflicts", "list"])
            .env("SYNCDESK_SERVER", &host);
        if json {
            cmd.arg("--json");
        }
        let (code, _, err) = run(&mut cmd);
        assert_eq!(code, 2, "a URL without a scheme: {err}");
        assert!(err.contains(&format!("http://{host}")), "{err}");
    }
    let missing = live.dir.path().join("no-such-folder").join("q.json");
    let (code, _, err) = run(syncdesk(&live).arg("export").arg("-o").arg(&missing));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert!(
        !missing.parent().unwrap().exists(),
        "no folder made behind the user's back"
    );
    // A malformed resolutions file names its place once.
    let bad = live.dir.path().join("bad.json");
    std::fs::write(&bad, "{\"format\": ").unwrap();
    let (code, _, err) = run(syncdesk(&live).arg("push").arg(&bad));
    assert_eq!(code, 2);
    assert_eq!(err.matches("line 1").count(), 1, "{err}");
}

#[test]
fn a_refused_token_says_so_and_exits_3() {
    let live = Live::start();
    for json in [false, true] {
        let mut cmd = syncdesk(&live);
        cmd.args(["conflicts", "list"])
            .env("SYNCDESK_TOKEN", "wrong");
        if json {
            cmd.arg("--json");
        }
        let (code, _, err) = run(&mut cmd);
        assert_eq!(code, 3);
        assert!(err.contains("refused the token"), "{err}");
    }
}

#[cfg(unix)]
#[test]
fn ctrl_c_during_a_command_exits_130() {
    // A peer that accepts and never answers: the command waits until interrupted.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let _held = std::thread::spawn(move || {
        let _open: Vec<_> = listener.incoming().take(4).collect();
        std::thread::sleep(std::time::Duration::from_secs(30));
    });
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("syncdesk"))
        .args([
            "conflicts",
            "list",
            "--json",
            "--server",
            &base,
            "--token",
            "t",
        ])
        .env("SYNCDESK_CONFIG", "/nonexistent/config.toml")
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(500));
    let killed = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(130));
}
