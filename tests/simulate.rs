//! `syncdesk simulate` as a user runs it: on its embedded server (the CI's small seed,
//! whose five fault counts must be zero), pointed at a running server (whose queue and
//! log it fills), and pointed at a server with a rule that silently overwrites, which it
//! must catch.

mod common;

use common::{Live, run};
use serde_json::Value;

fn simulate(args: &[&str]) -> (i32, String, String) {
    let mut cmd = assert_cmd::Command::cargo_bin("syncdesk").unwrap();
    cmd.arg("simulate").args(args).env_remove("SYNCDESK_TOKEN");
    cmd.env("SYNCDESK_CONFIG", "/nonexistent/syncdesk-test-config.toml");
    run(&mut cmd)
}

fn report(out: &str) -> Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn count(report: &Value, pointer: &str) -> u64 {
    report
        .pointer(pointer)
        .and_then(Value::as_u64)
        .unwrap_or_else(|| panic!("{pointer} missing in {report}"))
}

const FAULTS: [&str; 6] = [
    "/server/false_refusals",
    "/server/missed_conflicts",
    "/wrong_merges",
    "/duplicates",
    "/bad_replays",
    "/other_disagreements",
];

#[test]
fn a_small_seed_on_the_embedded_server_has_every_kind_of_sync_and_no_fault() {
    let (code, out, err) =
        simulate(&["--technicians", "6", "--days", "2", "--seed", "7", "--json"]);
    assert_eq!(code, 0, "{out}{err}");
    let r = report(&out);
    for fault in FAULTS {
        assert_eq!(count(&r, fault), 0, "{fault}: {}", r["examples"]);
    }
    // The stream holds what the field does, or the zeros would prove nothing.
    for kind in [
        "applied",
        "auto-merged",
        "created",
        "no-op",
        "replayed",
        "edit-conflict",
        "invalid-reference",
    ] {
        assert!(
            count(&r, &format!("/truth/{kind}")) > 0,
            "no {kind}: {}",
            r["truth"]
        );
    }
    let syncs = count(&r, "/syncs");
    let genuine =
        count(&r, "/truth/edit-conflict") + r["truth"]["deleted-on-server"].as_u64().unwrap_or(0);
    assert!(count(&r, "/version_check/false_refusals") > 0);
    assert!(count(&r, "/version_and_modifier/missed_conflicts") > 0);
    assert!(count(&r, "/version_check/refused") > count(&r, "/server/refused"));
    // What syncdesk refuses is exactly what needs a person: the genuine conflicts and the
    // faults of the form, resends of them included.
    assert!(count(&r, "/server/refused") >= genuine);
    assert!(count(&r, "/server/refused") < syncs);
    assert_eq!(r["dates"], serde_json::json!(["2026-03-29", "2026-11-01"]));

    let (code, again, _) =
        simulate(&["--technicians", "6", "--days", "2", "--seed", "7", "--json"]);
    assert_eq!(code, 0);
    let mut a = report(&again);
    let mut b = r.clone();
    a["elapsed_ms"] = Value::Null;
    b["elapsed_ms"] = Value::Null;
    assert_eq!(a, b, "one seed, one result");
}

#[test]
fn the_table_names_each_rule_and_the_five_zero_counts() {
    let (code, out, err) = simulate(&["--technicians", "3", "--seed", "2"]);
    assert_eq!(code, 0, "{out}{err}");
    for line in [
        "naive version check",
        "version differs and modified-by differs",
        "timestamps, 300 s grace",
        "syncdesk (this server's answers)",
        "false refusals 0 · missed conflicts 0 · wrong merges 0 · duplicates 0 · bad replays 0",
    ] {
        assert!(out.contains(line), "{line:?} missing:\n{out}");
    }
    assert!(err.is_empty(), "no progress bar without a terminal: {err}");
}

#[test]
fn pointed_at_a_server_it_fills_its_queue_and_log() {
    let live = Live::start_with(syncdesk::server::demo::CONFIG);
    let (code, out, err) = simulate(&[
        "--server",
        &live.base,
        "--token",
        "demo-root",
        "--technicians",
        "4",
        "--seed",
        "3",
        "--json",
    ]);
    assert_eq!(code, 0, "{out}{err}");
    let r = report(&out);
    assert_eq!(r["played_on"], live.base.as_str());
    for fault in FAULTS {
        assert_eq!(count(&r, fault), 0, "{fault}: {}", r["examples"]);
    }
    let (status, queue) =
        live.call_with_token("GET", "/v1/conflicts?status=open", "demo-sue", None);
    assert_eq!(status, 200);
    let open = queue["conflicts"].as_array().unwrap();
    assert!(!open.is_empty(), "the queue stays empty");
    assert!(
        open.iter()
            .all(|c| c["record_id"].as_str().unwrap().starts_with("SIM3-")),
        "the run's records carry its prefix: {open:?}"
    );
    let (_, stats) = live.call_with_token("GET", "/v1/stats", "demo-sue", None);
    let logged: u64 = stats["groups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["writes"].as_u64().unwrap())
        .sum();
    assert!(
        logged >= count(&r, "/syncs"),
        "{logged} logged, {}",
        r["syncs"]
    );
}

#[test]
fn a_server_that_lets_the_same_user_overwrite_is_caught_with_exit_1() {
    // Every simulated person acts through one token here, so a type whose overlaps by the
    // same user take the local value turns each genuine conflict into a silent overwrite.
    let config = syncdesk::server::demo::CONFIG.replace(
        "same_user_overlap = \"conflict\"",
        "same_user_overlap = \"local-wins\"",
    );
    assert_ne!(config, syncdesk::server::demo::CONFIG);
    let live = Live::start_with(&config);
    let (code, out, err) = simulate(&[
        "--server",
        &live.base,
        "--token",
        "demo-root",
        "--technicians",
        "4",
        "--seed",
        "3",
    ]);
    assert_eq!(code, 1, "{out}{err}");
    let ours = out
        .lines()
        .find(|l| l.contains("this server's answers"))
        .unwrap();
    let missed: u64 = ours.split_whitespace().last().unwrap().parse().unwrap();
    assert!(missed > 0, "{out}");
    assert!(
        out.contains("MissedConflict"),
        "an example names the fault:\n{out}"
    );
}

#[test]
fn bad_arguments_are_exit_2_and_a_dead_server_exit_3() {
    let (code, _, err) = simulate(&["--technicians", "0"]);
    assert_eq!(code, 2);
    assert!(err.contains("--technicians 0 is out of range"), "{err}");
    let (code, _, err) = simulate(&["--days", "1000"]);
    assert_eq!(code, 2, "{err}");
    let (code, _, err) = simulate(&["--server", "127.0.0.1:9"]);
    assert_eq!(code, 2);
    assert!(err.contains("no scheme"), "{err}");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (code, _, err) = simulate(&[
        "--server",
        &format!("http://127.0.0.1:{port}"),
        "--token",
        "t",
    ]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains("simulate:") && err.contains(&port.to_string()),
        "{err}"
    );
}
