//! Two `syncdesk serve` processes on one PostgreSQL database, as behind a load balancer:
//! every guarantee of one server holds across both.

mod engines;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use engines::{Kind, TestDb};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};

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

[[users]]
name = "tom"
role = "supervisor"
token = "tom-token"

[types.inspections]
[types.inspections.fields]
notes = { type = "text" }
f0 = { type = "integer" }
f1 = { type = "integer" }
f2 = { type = "integer" }
f3 = { type = "integer" }
f4 = { type = "integer" }
f5 = { type = "integer" }
"#;

struct Instance {
    child: Child,
    base: String,
}

impl Drop for Instance {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Two server processes on the same database, once both answer.
async fn two_instances(db: &TestDb) -> (tempfile::TempDir, [Instance; 2]) {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("syncdesk.toml");
    std::fs::write(&config, CONFIG).unwrap();
    let start = || {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let child = Command::new(env!("CARGO_BIN_EXE_syncdesk"))
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .args(["--db", &db.setting()])
            .arg("--config")
            .arg(&config)
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Instance {
            child,
            base: format!("http://127.0.0.1:{port}"),
        }
    };
    // Started at once: they migrate the new database one after the other.
    let instances = [start(), start()];
    for instance in &instances {
        let started = Instant::now();
        while reqwest::get(format!("{}/healthz", instance.base))
            .await
            .is_err()
        {
            assert!(started.elapsed() < Duration::from_secs(20), "no start");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    (dir, instances)
}

static KEY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

fn fresh_key() -> String {
    let n = KEY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("k-{}-{n}", std::process::id())
}

async fn call(
    client: &Client,
    method: reqwest::Method,
    url: String,
    user: &str,
    key: impl Into<String>,
    body: Option<Value>,
) -> Result<(StatusCode, Value), reqwest::Error> {
    let key: String = key.into();
    let mut request = client
        .request(method, url)
        .bearer_auth(format!("{user}-token"))
        .header("Idempotency-Key", key.as_str());
    if let Some(body) = body {
        request = request.json(&body);
    }
    let answer = request.send().await?;
    let status = answer.status();
    let body = answer.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

async fn create(client: &Client, base: &str, id: &str, fields: Value) -> StatusCode {
    let body = json!({"id": id, "fields": fields});
    let url = format!("{base}/v1/inspections");
    call(
        client,
        reqwest::Method::POST,
        url,
        "ana",
        fresh_key(),
        Some(body),
    )
    .await
    .unwrap()
    .0
}

async fn history(client: &Client, base: &str, id: &str) -> Vec<Value> {
    let url = format!("{base}/v1/inspections/{id}/versions");
    let (status, body) = call(client, reqwest::Method::GET, url, "ana", "-", None)
        .await
        .unwrap();
    assert_eq!(status, StatusCode::OK, "{body}");
    body["versions"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_syncs_through_both_keep_every_acknowledged_write_and_gapless_versions() {
    let db = TestDb::new(Kind::Postgres);
    let (_dir, instances) = two_instances(&db).await;
    let client = Client::new();
    let bases: Vec<String> = instances.iter().map(|i| i.base.clone()).collect();
    for r in 0..3 {
        let status = create(&client, &bases[0], &format!("R-{r}"), json!({"notes": "x"})).await;
        assert_eq!(status, StatusCode::CREATED);
    }
    // Six writers, each owning one field of every record, through alternate instances:
    // their edits never overlap, so each stale base merges.
    let writers: Vec<_> = (0..6)
        .map(|w| {
            let (client, bases) = (client.clone(), bases.clone());
            tokio::spawn(async move {
                let mut last_acknowledged = vec![None; 3];
                for round in 0..8 {
                    for r in 0..3 {
                        let base = &bases[(w + round + r) % 2];
                        let url = format!("{base}/v1/inspections/R-{r}");
                        let get = reqwest::Method::GET;
                        let (_, record) = call(&client, get, url.clone(), "ana", "-", None)
                            .await
                            .unwrap();
                        let mut fields = record["fields"].clone();
                        fields[format!("f{w}")] = json!(round);
                        let body = json!({"base_version": record["version"], "fields": fields});
                        let put = reqwest::Method::PUT;
                        let (status, answer) =
                            call(&client, put, url, "ana", fresh_key(), Some(body))
                                .await
                                .unwrap();
                        assert!(status.is_success(), "writer {w}: {status} {answer}");
                        last_acknowledged[r] = Some(round);
                    }
                }
                last_acknowledged
            })
        })
        .collect();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.push(writer.await.unwrap());
    }
    for r in 0..3 {
        let versions = history(&client, &bases[1], &format!("R-{r}")).await;
        let numbers: Vec<u64> = versions
            .iter()
            .map(|v| v["version"].as_u64().unwrap())
            .collect();
        let expected: Vec<u64> = (1..=1 + 6 * 8).collect();
        assert_eq!(numbers, expected, "R-{r}: one version a write, no gap");
        let url = format!("{}/v1/inspections/R-{r}", bases[0]);
        let (_, record) = call(&client, reqwest::Method::GET, url, "ana", "-", None)
            .await
            .unwrap();
        let last = &record["fields"];
        for (w, seen) in acknowledged.iter().enumerate() {
            assert_eq!(last[format!("f{w}")], json!(seen[r]), "R-{r} f{w}: {last}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_key_sent_to_both_at_once_is_applied_once() {
    let db = TestDb::new(Kind::Postgres);
    let (_dir, instances) = two_instances(&db).await;
    let client = Client::new();
    for round in 0..10 {
        let id = format!("K-{round}");
        assert_eq!(
            create(&client, &instances[0].base, &id, json!({"notes": "a"})).await,
            StatusCode::CREATED
        );
        let key = fresh_key();
        let body = json!({"base_version": 1, "fields": {"notes": format!("once {round}")}});
        let sends: Vec<_> = instances
            .iter()
            .map(|instance| {
                let url = format!("{}/v1/inspections/{id}", instance.base);
                let (client, key, body) = (client.clone(), key.clone(), body.clone());
                tokio::spawn(async move {
                    call(&client, reqwest::Method::PUT, url, "ana", key, Some(body))
                        .await
                        .unwrap()
                })
            })
            .collect();
        let mut answers = Vec::new();
        for send in sends {
            answers.push(send.await.unwrap());
        }
        for (status, body) in &answers {
            // The second waits for the first and gets its answer (or hears it is in flight).
            assert!(
                status.is_success() || *status == StatusCode::CONFLICT,
                "{status} {body}"
            );
        }
        let versions = history(&client, &instances[1].base, &id).await;
        assert_eq!(versions.len(), 2, "applied once: {versions:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sixteen_racing_resolutions_through_both_have_one_winner() {
    let db = TestDb::new(Kind::Postgres);
    let (_dir, instances) = two_instances(&db).await;
    let client = Client::new();
    let base0 = &instances[0].base;
    assert_eq!(
        create(&client, base0, "C-1", json!({"notes": "a"})).await,
        StatusCode::CREATED
    );
    let put = |user: &'static str, notes: &'static str, device: &'static str| {
        let url = format!("{base0}/v1/inspections/C-1");
        let body = json!({"base_version": 1, "device_id": device, "fields": {"notes": notes}});
        call(
            &client,
            reqwest::Method::PUT,
            url,
            user,
            fresh_key(),
            Some(body),
        )
    };
    assert_eq!(put("ben", "ben's", "web").await.unwrap().0, StatusCode::OK);
    let (status, parked) = put("ana", "ana's", "tab-1").await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{parked}");
    let cid = parked["conflict_id"].as_str().unwrap().to_owned();
    let detail = client
        .get(format!("{base0}/v1/conflicts/{cid}"))
        .bearer_auth("sue-token")
        .send()
        .await
        .unwrap();
    let etag = detail.headers()["etag"].to_str().unwrap().to_owned();
    let racers: Vec<_> = (0..16)
        .map(|i| {
            let url = format!("{}/v1/conflicts/{cid}/resolution", instances[i % 2].base);
            let (client, etag) = (client.clone(), etag.clone());
            tokio::spawn(async move {
                client
                    .post(url)
                    .bearer_auth("sue-token")
                    .header("Idempotency-Key", fresh_key())
                    .header("If-Match", etag)
                    .json(&json!({"fields": {"notes": format!("take {i}")}}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for racer in racers {
        statuses.push(racer.await.unwrap());
    }
    let winners = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(winners, 1, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| [StatusCode::OK, StatusCode::CONFLICT].contains(s)),
        "{statuses:?}"
    );
    let versions = history(&client, &instances[1].base, "C-1").await;
    assert_eq!(versions.len(), 3, "one resolution, one version");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_of_one_instance_under_load_loses_nothing_and_the_other_serves_on() {
    let db = TestDb::new(Kind::Postgres);
    let (_dir, mut instances) = two_instances(&db).await;
    let client = Client::new();
    let bases: Vec<String> = instances.iter().map(|i| i.base.clone()).collect();
    let first_answer = Arc::new(tokio::sync::Notify::new());
    let writers: Vec<_> = (0..4)
        .map(|w| {
            let (client, bases, first_answer) =
                (client.clone(), bases.clone(), first_answer.clone());
            tokio::spawn(async move {
                let mut acknowledged = Vec::new();
                for i in 0..60 {
                    let id = format!("W{w}-{i}");
                    let base = &bases[i % 2];
                    let body = json!({"id": id, "fields": {"notes": format!("typed {id}")}});
                    let url = format!("{base}/v1/inspections");
                    let sent = call(
                        &client,
                        reqwest::Method::POST,
                        url,
                        "ana",
                        fresh_key(),
                        Some(body),
                    )
                    .await;
                    if let Ok((StatusCode::CREATED, _)) = sent {
                        acknowledged.push((id, i % 2));
                        first_answer.notify_one();
                    }
                }
                acknowledged
            })
        })
        .collect();
    first_answer.notified().await;
    let killed = &mut instances[0].child;
    killed.kill().unwrap();
    killed.wait().unwrap();
    let mut acknowledged = Vec::new();
    for writer in writers {
        acknowledged.extend(writer.await.unwrap());
    }
    let through_survivor = acknowledged.iter().filter(|(_, i)| *i == 1).count();
    assert_eq!(
        through_survivor,
        4 * 30,
        "the other instance answered every write it got"
    );
    for (id, _) in &acknowledged {
        let url = format!("{}/v1/inspections/{id}", bases[1]);
        let (status, record) = call(&client, reqwest::Method::GET, url, "ana", "-", None)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK, "{id} was acknowledged");
        assert_eq!(record["fields"]["notes"], format!("typed {id}"));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_through_one_reaches_the_other_within_a_second_and_a_claim_holds_on_both() {
    let db = TestDb::new(Kind::Postgres);
    let (_dir, instances) = two_instances(&db).await;
    let client = Client::new();
    let (one, other) = (&instances[0].base, &instances[1].base);
    let mut stream = client
        .get(format!("{other}/v1/events"))
        .bearer_auth("sue-token")
        .send()
        .await
        .unwrap();
    assert_eq!(stream.status(), StatusCode::OK);
    assert_eq!(
        create(&client, one, "X-1", json!({"notes": "a"})).await,
        StatusCode::CREATED
    );
    let put = |user: &'static str, notes: &'static str| {
        let url = format!("{one}/v1/inspections/X-1");
        let body = json!({"base_version": 1, "device_id": user, "fields": {"notes": notes}});
        call(
            &client,
            reqwest::Method::PUT,
            url,
            user,
            fresh_key(),
            Some(body),
        )
    };
    assert_eq!(put("ben", "ben's").await.unwrap().0, StatusCode::OK);
    let parked_at = Instant::now();
    let (status, parked) = put("ana", "ana's").await.unwrap();
    assert_eq!(status, StatusCode::CONFLICT, "{parked}");
    let cid = parked["conflict_id"].as_str().unwrap().to_owned();
    let mut seen = String::new();
    while !seen.contains("event: conflict-opened") {
        let chunk = tokio::time::timeout(Duration::from_secs(1), stream.chunk())
            .await
            .expect("the other instance tells within a second")
            .unwrap()
            .unwrap();
        seen.push_str(std::str::from_utf8(&chunk).unwrap());
    }
    assert!(parked_at.elapsed() < Duration::from_secs(1));
    assert!(seen.contains(&cid), "{seen}");
    let claim = |base: &str, token: &'static str| {
        client
            .post(format!("{base}/v1/conflicts/{cid}/claim"))
            .bearer_auth(token)
            .send()
    };
    assert_eq!(
        claim(one, "sue-token").await.unwrap().status(),
        StatusCode::OK
    );
    let refused = claim(other, "tom-token").await.unwrap();
    assert_eq!(refused.status(), StatusCode::CONFLICT);
    let problem: Value = refused.json().await.unwrap();
    assert_eq!(problem["claimed_by"], "sue", "{problem}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_database_ends_are_made_again_and_nothing_acknowledged_is_lost() {
    let db = TestDb::new(Kind::Postgres);
    let (_dir, instances) = two_instances(&db).await;
    let client = Client::new();
    let base = &instances[0].base;
    assert_eq!(
        create(&client, base, "L-0", json!({"notes": "before"})).await,
        StatusCode::CREATED
    );
    // The database ends every session of the instances (as a restart or a failover would).
    let url = db.setting();
    std::thread::spawn(move || {
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).unwrap();
        admin
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                 WHERE datname = current_database() AND pid <> pg_backend_pid()",
                &[],
            )
            .unwrap();
    })
    .join()
    .unwrap();
    // A request or two may fail while the loss is found out; then all goes on.
    let mut acknowledged = Vec::new();
    let mut failed = 0;
    for i in 1..=20 {
        let id = format!("L-{i}");
        match create(&client, base, &id, json!({"notes": format!("after {i}")})).await {
            StatusCode::CREATED => acknowledged.push(id),
            _ => failed += 1,
        }
    }
    assert!(
        failed <= 2,
        "{failed} writes failed after the connections were made again"
    );
    assert!(acknowledged.len() >= 18);
    for id in acknowledged.iter().chain([&"L-0".to_string()]) {
        let url = format!("{base}/v1/inspections/{id}");
        let (status, _) = call(&client, reqwest::Method::GET, url, "ana", "-", None)
            .await
            .unwrap();
        assert_eq!(status, StatusCode::OK, "{id} was acknowledged");
    }
}
