//! One bulk decision for 1,000 conflicts, end to end over loopback (`cargo bench --bench
//! bulk`): `syncdesk conflicts resolve --all --take local` against a server on 127.0.0.1
//! with a SQLite file (`synchronous = FULL`) — each conflict read, decided on its own
//! detail, sent with its own If-Match and key — beside the same conflicts resolved the way
//! a script did before it, one `syncdesk conflicts resolve ID --take local` process each,
//! on a second server set up the same way, same run. `$SYNCDESK_BENCH_CONFLICTS` sets the
//! count (1,000).

use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use syncdesk::server::config::Config;
use syncdesk::server::http::{AppState, serve};

const CONFIG: &str = r#"
[[users]]
name = "ana"
role = "technician"
token = "ana-token"

[[users]]
name = "ben"
role = "technician"
token = "ben-token"

[[users]]
name = "sue"
role = "supervisor"
token = "sue-token"

[types.inspections]
[types.inspections.fields]
notes  = { type = "text" }
status = { type = "enum", values = ["open", "passed", "failed"] }
"#;

/// A server on a free port with its own database; its URL.
fn start(runtime: &tokio::runtime::Runtime, dir: &std::path::Path, name: &str) -> String {
    runtime.block_on(async {
        let config = Config::from_toml(CONFIG).expect("config");
        let state = AppState::open(config, dir.join(name)).expect("database");
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("port");
        let base = format!("http://{}", listener.local_addr().expect("address"));
        tokio::spawn(serve(Arc::new(state), listener));
        base
    })
}

/// `count` records, each with ben's edit of the notes saved and ana's offline edit of the
/// notes from version 1 parked.
async fn park(base: &str, count: usize) {
    let http = reqwest::Client::new();
    let call = |user: &'static str, method: reqwest::Method, path: String, key: String, body| {
        let http = http.clone();
        let url = format!("{base}{path}");
        async move {
            let status = http
                .request(method, url)
                .bearer_auth(format!("{user}-token"))
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
                .expect("request")
                .status();
            status.as_u16()
        }
    };
    let mut batch = Vec::new();
    for i in 0..count {
        let id = format!("INS-{i:05}");
        let call = &call;
        batch.push(async move {
            let create = json!({"id": id, "fields": {"notes": "a", "status": "open"}});
            let s = call(
                "ana",
                reqwest::Method::POST,
                "/v1/inspections".into(),
                format!("c{i}"),
                create,
            )
            .await;
            assert_eq!(s, 201);
            let path = format!("/v1/inspections/{id}");
            let ben = json!({"base_version": 1, "fields": {"notes": "ben's", "status": "open"}});
            assert_eq!(
                call(
                    "ben",
                    reqwest::Method::PUT,
                    path.clone(),
                    format!("b{i}"),
                    ben
                )
                .await,
                200
            );
            let ana = json!({"base_version": 1, "fields": {"notes": "ana's", "status": "passed"}});
            assert_eq!(
                call("ana", reqwest::Method::PUT, path, format!("a{i}"), ana).await,
                409
            );
        });
        if batch.len() == 32 {
            futures_util::future::join_all(batch.drain(..)).await;
        }
    }
    futures_util::future::join_all(batch).await;
}

fn syncdesk(base: &str) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_syncdesk"));
    cmd.env("SYNCDESK_SERVER", base)
        .env("SYNCDESK_TOKEN", "sue-token")
        .env("SYNCDESK_CONFIG", "/nonexistent/syncdesk-bench.toml");
    cmd
}

fn open_conflicts(runtime: &tokio::runtime::Runtime, base: &str) -> usize {
    runtime.block_on(async {
        let answer: serde_json::Value = reqwest::Client::new()
            .get(format!("{base}/v1/conflicts?status=open&limit=1000"))
            .bearer_auth("sue-token")
            .send()
            .await
            .expect("queue")
            .json()
            .await
            .expect("queue JSON");
        answer["conflicts"].as_array().map_or(0, Vec::len)
    })
}

fn main() {
    let count: usize = std::env::var("SYNCDESK_BENCH_CONFLICTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let dir = tempfile::tempdir().expect("temp dir");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let bulk_server = start(&runtime, dir.path(), "bulk.db");
    let one_by_one_server = start(&runtime, dir.path(), "one-by-one.db");
    runtime.block_on(park(&bulk_server, count));
    runtime.block_on(park(&one_by_one_server, count));

    let started = Instant::now();
    let out = syncdesk(&bulk_server)
        .args(["conflicts", "resolve", "--all", "--take", "local"])
        .output()
        .expect("syncdesk");
    let bulk = started.elapsed();
    let summary = String::from_utf8_lossy(&out.stdout);
    let last = summary.lines().last().unwrap_or_default().to_string();
    assert!(out.status.success(), "{last}");
    assert_eq!(open_conflicts(&runtime, &bulk_server), 0, "{last}");

    let ids: Vec<String> = (1..=count).map(|n| format!("c-{n:06}")).collect();
    let started = Instant::now();
    for id in &ids {
        let status = syncdesk(&one_by_one_server)
            .args(["conflicts", "resolve", id, "--take", "local"])
            .output()
            .expect("syncdesk")
            .status;
        assert!(status.success(), "{id}");
    }
    let one_by_one = started.elapsed();
    assert_eq!(open_conflicts(&runtime, &one_by_one_server), 0);

    let per = |d: Duration| d.as_secs_f64() * 1000.0 / count as f64;
    println!("{count} conflicts, each resolved with its own If-Match and key (SQLite, loopback):");
    println!(
        "  one bulk decision (resolve --all --take local)  {:>8.2} s  {:>6.2} ms a conflict  ({last})",
        bulk.as_secs_f64(),
        per(bulk)
    );
    println!(
        "  one command a conflict (resolve ID --take local) {:>8.2} s  {:>6.2} ms a conflict",
        one_by_one.as_secs_f64(),
        per(one_by_one)
    );
    println!(
        "  bulk is {:.1}x faster",
        one_by_one.as_secs_f64() / bulk.as_secs_f64()
    );
}
