//! `syncdesk merge` as a user runs it: exit codes, JSON shape, one-line errors.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use serde_json::{Value, json};
use tempfile::TempDir;

struct Files {
    dir: TempDir,
}

impl Files {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn triple(&self, b: Value, l: Value, s: Value) -> [PathBuf; 3] {
        [
            self.write("base.json", &b.to_string()),
            self.write("local.json", &l.to_string()),
            self.write("server.json", &s.to_string()),
        ]
    }
}

fn syncdesk() -> Command {
    let mut cmd = Command::cargo_bin("syncdesk").unwrap();
    cmd.env("NO_COLOR", "1");
    cmd
}

fn merge_json(paths: &[PathBuf; 3], extra: &[&str]) -> (i32, Value) {
    let out = syncdesk()
        .arg("merge")
        .args(paths)
        .arg("--json")
        .args(extra)
        .output()
        .unwrap();
    let code = out.status.code().unwrap();
    let json = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stdout)
        )
    });
    (code, json)
}

/// Runs a failing merge and returns its exit code and its stderr.
fn merge_error(args: &[&Path], extra: &[&str]) -> (i32, String) {
    let out = syncdesk()
        .arg("merge")
        .args(args)
        .args(extra)
        .output()
        .unwrap();
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        !stderr.contains("panicked") && !stderr.contains("backtrace"),
        "{stderr}"
    );
    assert!(out.stdout.is_empty(), "nothing on stdout for an error");
    (out.status.code().unwrap(), stderr)
}

#[test]
fn clean_merge_exits_zero_with_the_contract_shape() {
    let f = Files::new();
    let paths = f.triple(
        json!({"status": "open", "notes": "a"}),
        json!({"status": "open", "notes": "b"}),
        json!({"status": "passed", "notes": "a"}),
    );
    let (code, out) = merge_json(&paths, &[]);
    assert_eq!(code, 0);
    assert_eq!(out["status"], "clean");
    assert_eq!(out["conflicts"], json!([]));
    assert_eq!(out["merged"], json!({"status": "passed", "notes": "b"}));
    assert_eq!(
        out["fields"],
        json!([
            {"path": "/notes", "class": "local", "base": "a", "local": "b", "server": "a"},
            {"path": "/status", "class": "server", "base": "open", "local": "open", "server": "passed"},
        ])
    );
}

#[test]
fn conflict_exits_one_and_merged_holds_the_server_value() {
    let f = Files::new();
    let paths = f.triple(
        json!({"notes": "a", "gone": 1}),
        json!({"notes": "b"}),
        json!({"notes": "c", "gone": 1}),
    );
    let (code, out) = merge_json(&paths, &[]);
    assert_eq!(code, 1);
    assert_eq!(out["status"], "conflict");
    assert_eq!(out["conflicts"], json!(["/notes"]));
    assert_eq!(out["merged"], json!({"notes": "c"}));
    assert_eq!(
        out["fields"][0],
        json!({"path": "/gone", "class": "local", "base": 1, "server": 1}),
        "absent local has no member"
    );
}

#[test]
fn human_table_is_the_default() {
    let f = Files::new();
    let paths = f.triple(json!({"n": 1}), json!({"n": 2}), json!({"n": 3}));
    let out = syncdesk().arg("merge").args(&paths).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(text.starts_with("PATH"), "{text}");
    assert!(text.contains("/n") && text.contains("conflict"));
    assert!(!text.contains('\x1b'), "no colour when piped");
}

#[test]
fn schema_makes_datetimes_compare_by_instant() {
    let f = Files::new();
    let schema = f.write(
        "syncdesk.toml",
        "[types.inspections.fields]\ninspected_at = { type = \"datetime\" }\n",
    );
    let paths = f.triple(
        json!({"inspected_at": "2026-03-29T00:30:00.000Z"}),
        json!({"inspected_at": "2026-03-29T01:30:00+01:00"}),
        json!({"inspected_at": "2026-03-29T00:30:00Z"}),
    );
    let with = merge_json(
        &paths,
        &[
            "--schema",
            schema.to_str().unwrap(),
            "--type",
            "inspections",
        ],
    );
    assert_eq!(with.0, 0, "{}", with.1);
    assert_eq!(with.1["fields"][0]["class"], "unchanged");
    let without = merge_json(&paths, &[]);
    assert_eq!(without.0, 1);
}

#[test]
fn missing_file_exits_two_naming_it() {
    let f = Files::new();
    let [b, l, _] = f.triple(json!({}), json!({}), json!({}));
    let missing = f.dir.path().join("nope.json");
    let (code, err) = merge_error(&[&b, &l, &missing], &[]);
    assert_eq!(code, 2);
    assert!(err.contains("nope.json: cannot read"), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
}

#[test]
fn invalid_json_exits_two_with_line_and_column() {
    let f = Files::new();
    let [b, _, s] = f.triple(json!({}), json!({}), json!({}));
    let bad = f.write("bad.json", "{\n  \"a\": 1,\n  \"b\" 2\n}\n");
    let (code, err) = merge_error(&[&b, &bad, &s], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("bad.json: invalid JSON") && err.contains("line 3 column 7"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn top_level_that_is_not_an_object_exits_two() {
    let f = Files::new();
    let [b, l, _] = f.triple(json!({}), json!({}), json!({}));
    let list = f.write("list.json", "[1, 2]");
    let (code, err) = merge_error(&[&b, &l, &list], &[]);
    assert_eq!(code, 2);
    assert!(
        err.contains("list.json: the top level is a list; expected an object"),
        "{err}"
    );
}

#[test]
fn broken_schema_exits_two_with_its_line() {
    let f = Files::new();
    let paths = f.triple(json!({}), json!({}), json!({}));
    let schema = f.write(
        "s.toml",
        "[types.t.fields]\na = { type = \"string\" }\nb = { type = \"colour\" }\n",
    );
    let (code, err) = merge_error(
        &paths.each_ref().map(PathBuf::as_path),
        &["--schema", schema.to_str().unwrap(), "--type", "t"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("s.toml: line 3") && err.contains("\"colour\""),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    let (code, err) = merge_error(
        &paths.each_ref().map(PathBuf::as_path),
        &["--schema", schema.to_str().unwrap(), "--type", "x"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("line 3"),
        "the file is checked before the type is looked up: {err}"
    );
}

#[test]
fn unknown_type_exits_two_listing_the_known_ones() {
    let f = Files::new();
    let paths = f.triple(json!({}), json!({}), json!({}));
    let schema = f.write(
        "s.toml",
        "[types.inspections.fields]\na = { type = \"string\" }\n",
    );
    let (code, err) = merge_error(
        &paths.each_ref().map(PathBuf::as_path),
        &["--schema", schema.to_str().unwrap(), "--type", "audits"],
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("no [types.audits]") && err.contains("types here: inspections"),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_two() {
    let f = Files::new();
    let [b, l, s] = f.triple(json!({}), json!({}), json!({}));
    let (code, err) = merge_error(&[&b, &l, &s], &["--schema", "x.toml"]);
    assert_eq!(code, 2, "--schema needs --type");
    assert!(err.contains("--type"), "{err}");
    let (code, _) = merge_error(&[&b, &l], &[]);
    assert_eq!(code, 2, "three files are needed");
}
