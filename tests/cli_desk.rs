//! `syncdesk tui`, `syncdesk open` and a bare `syncdesk` as a process: the faults they
//! report before any screen is drawn.

use assert_cmd::Command;

/// Runs it, expecting exit code 2 (usage or input error); its stderr.
fn input_error(cmd: &mut Command) -> String {
    let out = cmd.assert().code(2);
    String::from_utf8_lossy(&out.get_output().stderr).into_owned()
}

fn syncdesk(config: &std::path::Path) -> Command {
    let mut cmd = Command::cargo_bin("syncdesk").unwrap();
    cmd.env_remove("SYNCDESK_SERVER")
        .env_remove("SYNCDESK_TOKEN")
        .env("SYNCDESK_CONFIG", config);
    cmd
}

#[test]
fn tui_without_a_server_says_where_to_give_one() {
    let dir = tempfile::tempdir().unwrap();
    let err = input_error(syncdesk(&dir.path().join("none.toml")).arg("tui"));
    assert!(
        err.contains("no server: give --server URL, set SYNCDESK_SERVER"),
        "{err}"
    );
    let err = input_error(syncdesk(&dir.path().join("none.toml")).args([
        "tui",
        "--server",
        "http://127.0.0.1:9",
    ]));
    assert!(err.contains("no token"), "{err}");
}

#[test]
fn a_bare_syncdesk_without_a_server_prints_help() {
    let dir = tempfile::tempdir().unwrap();
    let out = syncdesk(&dir.path().join("none.toml")).assert().code(2);
    let stdout = String::from_utf8_lossy(&out.get_output().stdout).into_owned();
    assert!(
        stdout.contains("Usage: syncdesk") && stdout.contains("open"),
        "{stdout}"
    );
}

#[test]
fn a_malformed_user_config_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "server = \"http://x\"\ntheme = \"neon\"\n").unwrap();
    let err = input_error(syncdesk(&config).arg("tui"));
    assert!(err.contains("config.toml: line 2, column 9"), "{err}");
    std::fs::write(
        &config,
        "server = \"http://x\"\ntoken = \"t\"\n[keys]\nfly = \"x\"\n",
    )
    .unwrap();
    let err = input_error(syncdesk(&config).arg("tui"));
    assert!(err.contains("keys.fly: no such command"), "{err}");
}

#[test]
fn open_reports_a_malformed_export_with_its_position() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("queue.json");
    std::fs::write(
        &file,
        "{\"format\": \"syncdesk.conflicts.v1\",\n\"conflicts\": [\n  {\"id\": 5}\n]}",
    )
    .unwrap();
    let err = input_error(
        syncdesk(&dir.path().join("none.toml"))
            .arg("open")
            .arg(&file),
    );
    assert!(err.contains("queue.json: line 3, column"), "{err}");
    let err = input_error(
        syncdesk(&dir.path().join("none.toml"))
            .arg("open")
            .arg(dir.path().join("missing.json")),
    );
    assert!(err.contains("missing.json"), "{err}");
}

#[test]
fn the_desk_refuses_to_start_without_a_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("queue.json");
    std::fs::write(
        &file,
        "{\"format\": \"syncdesk.conflicts.v1\", \"conflicts\": []}",
    )
    .unwrap();
    let err = input_error(
        syncdesk(&dir.path().join("none.toml"))
            .arg("open")
            .arg(&file),
    );
    assert!(err.contains("needs a terminal"), "{err}");
}
