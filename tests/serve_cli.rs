//! `syncdesk serve` as a process: its configuration errors, and `--demo` for real.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::Notify;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn a_broken_configuration_exits_two_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    std::fs::write(
        &config,
        "listen = \"x\"\n[[users]]\nname = \"a\"\nrole = \"boss\"\ntoken = \"t\"\n",
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_syncdesk"))
        .arg("serve")
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(
        err.contains("bad.toml: line") && err.contains("boss"),
        "{err}"
    );
}

#[tokio::test]
async fn serve_demo_loads_users_master_data_and_records() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("syncdesk.toml");
    std::fs::write(&config, "# nothing but the demo\n").unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_syncdesk"))
        .args(["serve", "--demo", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--config")
        .arg(&config)
        .arg("--db")
        .arg(dir.path().join("demo.db"))
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _server = Killed(child);
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let started = Instant::now();
    while client.get(format!("{base}/healthz")).send().await.is_err() {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the server did not start"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let record: Value = client
        .get(format!("{base}/v1/inspections/INS-1001"))
        .bearer_auth("demo-ana")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        (
            record["version"].as_u64(),
            record["fields"]["site_id"].as_str()
        ),
        (Some(1), Some("S-4"))
    );
    let sites: Value = client
        .get(format!("{base}/v1/master/sites"))
        .bearer_auth("demo-ben")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sites["items"].as_array().unwrap().len(), 5);
    let queue = client
        .get(format!("{base}/v1/conflicts"))
        .bearer_auth("demo-sue")
        .send()
        .await
        .unwrap();
    assert_eq!(
        queue.status(),
        reqwest::StatusCode::OK,
        "sue is a supervisor"
    );
}

const CONFIG: &str = r#"
[[users]]
name = "ana"
role = "technician"
token = "ana-token"

[[users]]
name = "sue"
role = "supervisor"
token = "sue-token"

[types.inspections]
[types.inspections.fields]
notes = { type = "text" }
"#;

/// `syncdesk serve` on a free port with `CONFIG` and the database `db`, once it answers.
async fn start_serve(dir: &std::path::Path, db: &std::path::Path) -> (Child, String) {
    start_serve_with(dir, db, "", Stdio::null()).await
}

/// The same with `extra` lines ahead of `CONFIG`, its stderr to `log`.
async fn start_serve_with(
    dir: &std::path::Path,
    db: &std::path::Path,
    extra: &str,
    log: Stdio,
) -> (Child, String) {
    let config = dir.join("syncdesk.toml");
    std::fs::write(&config, format!("{extra}\n{CONFIG}")).unwrap();
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_syncdesk"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .arg("--config")
        .arg(&config)
        .arg("--db")
        .arg(db)
        .stderr(log)
        .spawn()
        .unwrap();
    let base = format!("http://127.0.0.1:{port}");
    let started = Instant::now();
    while reqwest::get(format!("{base}/healthz")).await.is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "no start");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, base)
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_answers_what_it_has_exits_0_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let (mut child, base) = start_serve(dir.path(), &db).await;
    let client = reqwest::Client::new();
    // The signal goes as soon as the first write is answered: mid-load, on any machine.
    let first_answer = Arc::new(Notify::new());
    let writing = tokio::spawn({
        let (base, first_answer) = (base.clone(), first_answer.clone());
        async move { create_all(&base, 9, 300, &first_answer).await }
    });
    first_answer.notified().await;
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let acknowledged: Vec<usize> = writing
        .await
        .unwrap()
        .into_iter()
        .filter(|(_, status, _)| *status == 201)
        .map(|(i, _, _)| i)
        .collect();
    let status = tokio::task::spawn_blocking(move || child.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0), "a stop is not a failure");
    assert!(!acknowledged.is_empty(), "some writes were answered");
    // Started again on the same file: every acknowledged write is there, as sent.
    let (child, base) = start_serve(dir.path(), &db).await;
    let _server = Killed(child);
    for i in acknowledged {
        let record: Value = client
            .get(format!("{base}/v1/inspections/R9-{i}"))
            .bearer_auth("ana-token")
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(record["fields"]["notes"], format!("n{i}"));
    }
}

/// `n` creates of records `R{round}-{i}`, each under its own key, sent at once; the index,
/// status (0: no answer) and whether it was replayed, of each. `first_answer` is told of
/// every 201 as it comes.
async fn create_all(
    base: &str,
    round: usize,
    n: usize,
    first_answer: &Arc<Notify>,
) -> Vec<(usize, u16, bool)> {
    let client = reqwest::Client::new();
    let writes: Vec<_> = (0..n)
        .map(|i| {
            let client = client.clone();
            let base = base.to_string();
            let first_answer = first_answer.clone();
            tokio::spawn(async move {
                let answer = client
                    .post(format!("{base}/v1/inspections"))
                    .bearer_auth("ana-token")
                    .header("Idempotency-Key", format!("r{round}-k{i}"))
                    .json(&serde_json::json!({"id": format!("R{round}-{i}"), "fields": {"notes": format!("n{i}")}}))
                    .send()
                    .await;
                match answer {
                    Ok(r) => {
                        let replayed = r.headers().get("idempotent-replayed").is_some();
                        if r.status() == 201 {
                            first_answer.notify_one();
                        }
                        (i, r.status().as_u16(), replayed)
                    }
                    Err(_) => (i, 0, false),
                }
            })
        })
        .collect();
    let mut out = Vec::new();
    for write in writes {
        out.push(write.await.unwrap());
    }
    out
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_under_load_loses_no_acknowledged_write_and_applies_no_key_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    for round in 0..2 {
        let (child, base) = start_serve(dir.path(), &db).await;
        let pid = child.id();
        let writing = tokio::spawn({
            let base = base.clone();
            async move { create_all(&base, round, 200, &Arc::new(Notify::new())).await }
        });
        tokio::time::sleep(Duration::from_millis(40)).await;
        Command::new("kill")
            .args(["-9", &pid.to_string()])
            .status()
            .unwrap();
        let first = writing.await.unwrap();
        drop(Killed(child));
        let acknowledged: Vec<usize> = first
            .iter()
            .filter(|(_, status, _)| *status == 201)
            .map(|(i, _, _)| *i)
            .collect();
        // Started again on the same file, every write is sent again under its key.
        let (child, base) = start_serve(dir.path(), &db).await;
        let _server = Killed(child);
        let again = create_all(&base, round, 200, &Arc::new(Notify::new())).await;
        for (i, status, replayed) in again {
            assert_eq!(status, 201, "R{round}-{i}: applied once, or now");
            if acknowledged.contains(&i) {
                assert!(
                    replayed,
                    "R{round}-{i} was acknowledged: the same answer, replayed"
                );
            }
            let versions: Value = reqwest::Client::new()
                .get(format!("{base}/v1/inspections/R{round}-{i}/versions"))
                .bearer_auth("ana-token")
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            assert_eq!(
                versions["versions"].as_array().map(Vec::len),
                Some(1),
                "R{round}-{i}: no key applied twice"
            );
        }
    }
}

#[tokio::test]
async fn metrics_count_requests_outcomes_batches_and_the_queue() {
    let dir = tempfile::tempdir().unwrap();
    let metrics = free_port();
    let extra = format!("metrics_listen = \"127.0.0.1:{metrics}\"");
    let (child, base) =
        start_serve_with(dir.path(), &dir.path().join("s.db"), &extra, Stdio::null()).await;
    let _server = Killed(child);
    let client = reqwest::Client::new();
    let post = |key: &str, notes: &str| {
        client
            .post(format!("{base}/v1/inspections"))
            .bearer_auth("ana-token")
            .header("Idempotency-Key", key)
            .json(&serde_json::json!({"id": "INS-1", "fields": {"notes": notes}}))
            .send()
    };
    assert_eq!(post("k1", "a").await.unwrap().status(), 201);
    assert_eq!(post("k1", "a").await.unwrap().status(), 201, "replayed");
    assert_eq!(post("k2", "b").await.unwrap().status(), 409);
    // Two offline edits of the same notes from version 1: the second is parked.
    for (key, notes, status) in [("k3", "ben's", 200), ("k4", "ana's", 409)] {
        let r = client
            .put(format!("{base}/v1/inspections/INS-1"))
            .bearer_auth("ana-token")
            .header("Idempotency-Key", key)
            .json(&serde_json::json!({"base_version": 1, "device_id": key, "fields": {"notes": notes}}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), status);
    }
    let text = client
        .get(format!("http://127.0.0.1:{metrics}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for line in [
        "syncdesk_requests_total{method=\"POST\",route=\"/v1/{record_type}\",status=\"201\"} 2",
        "syncdesk_requests_total{method=\"POST\",route=\"/v1/{record_type}\",status=\"409\"} 1",
        "syncdesk_write_outcomes_total{outcome=\"created\"} 1",
        "syncdesk_write_outcomes_total{outcome=\"replayed\"} 1",
        "syncdesk_write_outcomes_total{outcome=\"already-exists\"} 1",
        "syncdesk_write_outcomes_total{outcome=\"edit-conflict\"} 1",
        "syncdesk_queue_open 1",
    ] {
        assert!(text.contains(line), "{line}\n{text}");
    }
    assert!(text.contains("syncdesk_writer_batch_size_count"), "{text}");
    assert!(text.contains("syncdesk_commit_seconds_bucket"), "{text}");
    assert!(!text.contains("ana-token"), "never a token");
}

#[cfg(unix)]
#[tokio::test]
async fn json_log_has_a_line_a_request_with_its_id_and_never_the_token_or_query() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let (child, base) = start_serve_with(dir.path(), &db, "log = \"json\"", Stdio::piped()).await;
    let mut server = Killed(child);
    let mut stderr = server.0.stderr.take().unwrap();
    let answer = reqwest::Client::new()
        .put(format!("{base}/v1/inspections/LOG-1?secret=q-value"))
        .bearer_auth("ana-token")
        .header("x-request-id", "req-from-proxy")
        .json(&serde_json::json!({"fields": {"notes": "body-text"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        answer.status(),
        404,
        "no such record: a refusal gets its line too"
    );
    assert_eq!(answer.headers()["x-request-id"], "req-from-proxy");
    let made_up = reqwest::get(format!("{base}/nowhere")).await.unwrap();
    let made_up_id = made_up.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(made_up_id.len() >= 16, "a made-up id: {made_up_id}");
    Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    let log = tokio::task::spawn_blocking(move || {
        let mut log = String::new();
        std::io::Read::read_to_string(&mut stderr, &mut log).unwrap();
        log
    })
    .await
    .unwrap();
    let lines: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let request_line = |id: &str| {
        lines
            .iter()
            .find(|line| line["span"]["id"] == id)
            .unwrap_or_else(|| panic!("no line for {id} in {log}"))
    };
    let put = request_line("req-from-proxy");
    assert_eq!(put["span"]["method"], "PUT");
    assert_eq!(put["span"]["path"], "/v1/inspections/LOG-1");
    assert_eq!(put["fields"]["status"], 404);
    assert!(put["fields"]["latency"].is_string());
    assert_eq!(request_line(&made_up_id)["fields"]["status"], 404);
    assert!(log.contains("listening on http://"), "{log}");
    for secret in ["ana-token", "q-value", "body-text"] {
        assert!(!log.contains(secret), "{secret} leaked into the log: {log}");
    }
}

mod engines;

/// `syncdesk serve` on `db`, expected to stop at once: its exit code and its stderr.
fn serve_refusing(db: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("syncdesk.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_syncdesk"))
        .args(["serve", "--listen", "127.0.0.1:0", "--db", db])
        .arg("--config")
        .arg(&config)
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8(out.stderr).unwrap())
}

#[test]
fn a_database_it_cannot_reach_is_refused_on_one_line_with_exit_3() {
    let (code, err) = serve_refusing("postgres://sd:pw-secret@127.0.0.1:1/nowhere");
    assert_eq!(code, Some(3), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "one line: {err}");
    assert!(
        err.contains("127.0.0.1:1/nowhere") && err.contains("refused"),
        "{err}"
    );
    assert!(
        !err.contains("pw-secret"),
        "the password is not shown: {err}"
    );
}

#[test]
fn a_database_of_a_newer_schema_is_refused_with_exit_3_on_both_engines() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("newer.db");
    rusqlite::Connection::open(&file)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    let postgres = engines::TestDb::new(engines::Kind::Postgres);
    let url = postgres.setting();
    std::thread::spawn(move || {
        let mut client = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        client
            .batch_execute(
                "CREATE TABLE syncdesk_schema (version BIGINT NOT NULL);
                 INSERT INTO syncdesk_schema VALUES (99)",
            )
            .unwrap();
    })
    .join()
    .unwrap();
    for db in [file.display().to_string(), postgres.setting()] {
        let (code, err) = serve_refusing(&db);
        assert_eq!(code, Some(3), "{db}: {err}");
        assert!(err.contains("newer") && err.contains("99"), "{db}: {err}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_ends_open_event_streams_instead_of_waiting_for_them() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("s.db");
    let (child, base) = start_serve(dir.path(), &db).await;
    let mut server = Killed(child);
    let mut stream = reqwest::Client::new()
        .get(format!("{base}/v1/events"))
        .bearer_auth("sue-token")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), 200);
    let signalled = Instant::now();
    Command::new("kill")
        .args(["-TERM", &server.0.id().to_string()])
        .status()
        .unwrap();
    // The stream ends (rather than holding the stop for request_timeout_s, 30 s).
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        while let Ok(Some(_)) = stream.chunk().await {}
    })
    .await;
    assert!(ended.is_ok(), "the stream outlived the stop");
    let status = tokio::task::spawn_blocking(move || server.0.wait().unwrap())
        .await
        .unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        signalled.elapsed() < Duration::from_secs(5),
        "{:?}",
        signalled.elapsed()
    );
}
