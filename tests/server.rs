//! The sync server for real: on 127.0.0.1, spoken to over HTTP; every test twice, on a
//! SQLite file and on a PostgreSQL database.

mod engines;

use engines::{Kind, TestDb};

use std::sync::Arc;

use reqwest::{Client, RequestBuilder, StatusCode};
use serde_json::{Value, json};
use syncdesk::server::clock::Clock;

const CONFIG: &str = r#"
max_body_bytes = 4096

[[users]]
name = "ana"
role = "technician"
token = "ana-token"

[[users]]
name = "ben"
role = "technician"
token = "ben-token"

[types.inspections]
schema_version = 2
[types.inspections.fields]
site_id      = { type = "string", required = true }
status       = { type = "enum", values = ["open", "passed", "failed"] }
notes        = { type = "text" }
temperature  = { type = "number" }
inspected_at = { type = "datetime" }
checklist    = { type = "list", key = "id" }
"#;

struct Server {
    base: String,
    client: Client,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

async fn start(db: &TestDb) -> Server {
    start_with(db, CONFIG).await
}

/// A real server on 127.0.0.1 with this configuration and a SQLite file.
async fn start_with(db: &TestDb, config: &str) -> Server {
    let (base, task) = engines::serve_on(db, config, Clock::system()).await;
    Server {
        base,
        client: Client::new(),
        task,
    }
}

impl Server {
    fn request(&self, method: reqwest::Method, path: &str, user: &str) -> RequestBuilder {
        self.client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(format!("{user}-token"))
            .header("Idempotency-Key", format!("k-{}", rand_key()))
    }

    async fn create(&self, id: &str, fields: Value) -> reqwest::Response {
        self.request(reqwest::Method::POST, "/v1/inspections", "ana")
            .json(&json!({"id": id, "fields": fields}))
            .send()
            .await
            .unwrap()
    }

    async fn sync(&self, user: &str, id: &str, body: Value) -> reqwest::Response {
        self.request(reqwest::Method::PUT, &format!("/v1/inspections/{id}"), user)
            .json(&body)
            .send()
            .await
            .unwrap()
    }

    async fn get(&self, id: &str) -> (StatusCode, Value) {
        let r = self
            .request(
                reqwest::Method::GET,
                &format!("/v1/inspections/{id}"),
                "ana",
            )
            .send()
            .await
            .unwrap();
        (r.status(), r.json().await.unwrap())
    }
}

fn rand_key() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    N.fetch_add(1, Ordering::Relaxed)
}

async fn problem(r: reqwest::Response) -> (StatusCode, Value) {
    let status = r.status();
    let content_type = r
        .headers()
        .get("content-type")
        .unwrap()
        .to_str()
        .unwrap()
        .to_string();
    assert_eq!(content_type, "application/problem+json", "status {status}");
    (status, r.json().await.unwrap())
}

async fn health_needs_no_token(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start(&db).await;
    let r = s
        .client
        .get(format!("{}/healthz", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    s.task.abort();
}

async fn a_create_is_stored_normalised_and_read_back_with_its_etag(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start(&db).await;
    let r = s
        .create(
            "INS-1",
            json!({"site_id": "S-4", "inspected_at": "2026-11-20T09:30:00+01:00"}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CREATED);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    assert!(etag.starts_with("\"1-") && etag.ends_with("Z\""), "{etag}");
    assert_eq!(r.headers()["location"], "/v1/inspections/INS-1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["fields"]["inspected_at"], "2026-11-20T08:30:00.000Z");
    assert_eq!(
        (body["version"].as_u64(), body["modified_by"].as_str()),
        (Some(1), Some("ana"))
    );
    let (status, read) = s.get("INS-1").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(read["fields"], body["fields"]);
    // A resent create with the same fields (as the merge compares them) is answered again.
    let again = s
        .create(
            "INS-1",
            json!({"site_id": "S-4", "inspected_at": "2026-11-20T08:30:00Z"}),
        )
        .await;
    assert_eq!(again.status(), StatusCode::OK);
    let (status, p) = problem(s.create("INS-1", json!({"site_id": "S-5"})).await).await;
    assert_eq!(
        (status, p["type"].as_str()),
        (
            StatusCode::CONFLICT,
            Some("https://syncdesk.dev/problems/already-exists")
        )
    );
    s.task.abort();
}

async fn requests_are_refused_in_the_contracts_order(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start(&db).await;
    s.create("INS-1", json!({"site_id": "S-4"})).await;
    let url = format!("{}/v1/inspections/INS-1", s.base);
    let r = s.client.put(&url).json(&json!({})).send().await.unwrap();
    assert_eq!(problem(r).await.0, StatusCode::UNAUTHORIZED);
    let r = s
        .client
        .put(&url)
        .bearer_auth("wrong")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.0, StatusCode::UNAUTHORIZED);
    let r = s
        .request(reqwest::Method::PUT, "/v1/audits/INS-1", "ana")
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.0, StatusCode::NOT_FOUND, "unknown type");
    let r = s
        .request(reqwest::Method::PUT, "/v1/inspections/INS-404", "ana")
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(r).await.0,
        StatusCode::NOT_FOUND,
        "404 comes before 415"
    );
    let r = s
        .request(reqwest::Method::PUT, "/v1/inspections/INS-1", "ana")
        .body("x".repeat(5000))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.0, StatusCode::PAYLOAD_TOO_LARGE);
    let r = s
        .request(reqwest::Method::PUT, "/v1/inspections/INS-1", "ana")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = s
        .client
        .put(&url)
        .bearer_auth("ana-token")
        .json(&json!({"fields": {}}))
        .send()
        .await
        .unwrap();
    let (status, p) = problem(r).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(p["detail"].as_str().unwrap().contains("Idempotency-Key"));
    let r = s
        .request(reqwest::Method::PUT, "/v1/inspections/INS-1", "ana")
        .header("content-type", "application/json")
        .body("{\"fields\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(
        problem(r).await.0,
        StatusCode::BAD_REQUEST,
        "malformed JSON"
    );
    let (status, _) = problem(
        s.sync("ana", "INS-1", json!({"fields": {"site_id": "S-4"}}))
            .await,
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_REQUIRED);
    s.task.abort();
}

async fn a_stale_if_match_is_412_with_the_current_etag(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start(&db).await;
    let created = s.create("INS-1", json!({"site_id": "S-4"})).await;
    let etag = created.headers()["etag"].to_str().unwrap().to_string();
    let r = s
        .request(reqwest::Method::PUT, "/v1/inspections/INS-1", "ana")
        .header("If-Match", &etag)
        .json(&json!({"fields": {"site_id": "S-5"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = s
        .request(reqwest::Method::PUT, "/v1/inspections/INS-1", "ana")
        .header("If-Match", &etag)
        .json(&json!({"fields": {"site_id": "S-6"}}))
        .send()
        .await
        .unwrap();
    let current = r.headers()["etag"].to_str().unwrap().to_string();
    let (status, p) = problem(r).await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert!(current.starts_with("\"2-"), "{current}");
    assert_eq!(p["server_etag"], current.as_str());
    assert_eq!(
        s.get("INS-1").await.1["fields"]["site_id"],
        "S-5",
        "nothing was performed"
    );
    s.task.abort();
}

async fn invalid_fields_are_422_with_their_paths_and_the_schema_hint(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start(&db).await;
    s.create("INS-1", json!({"site_id": "S-4"})).await;
    let body = json!({"base_version": 1, "schema_version": 1, "fields": {"site_id": "S-4", "status": "closed", "inspected_at": "2026-03-29T02:30:00"}, "captured_at": "2026-03-29T02:30:00"});
    let (status, p) = problem(s.sync("ana", "INS-1", body).await).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let paths: Vec<&str> = p["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, ["/inspected_at", "/status", "/captured_at"]);
    assert_eq!(p["schema_changed"], true);
    s.task.abort();
}

async fn a_stale_base_with_disjoint_edits_merges_over_http(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start(&db).await;
    s.create(
        "INS-1",
        json!({"site_id": "S-4", "status": "open", "notes": ""}),
    )
    .await;
    let ben = s.sync("ben", "INS-1", json!({"base_version": 1, "fields": {"site_id": "S-4", "status": "passed", "notes": ""}})).await;
    assert_eq!(ben.status(), StatusCode::OK);
    let ana = s.sync("ana", "INS-1", json!({"base_version": 1, "fields": {"site_id": "S-4", "status": "open", "notes": "pump leaks"}})).await;
    assert_eq!(ana.status(), StatusCode::OK);
    assert!(ana.headers()["etag"].to_str().unwrap().starts_with("\"3-"));
    let body: Value = ana.json().await.unwrap();
    assert_eq!(
        body["fields"],
        json!({"site_id": "S-4", "status": "passed", "notes": "pump leaks"})
    );
    assert_eq!(
        body["merge"],
        json!({"auto_merged": ["/notes"], "kept_server": ["/status"]})
    );
    s.task.abort();
}

async fn a_genuine_conflict_is_parked_and_answered_409_once_per_device_submission(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start(&db).await;
    ben_changed_the_notes(&s).await;
    let body = json!({"base_version": 1, "device_id": "tab-17", "device_seq": 5, "fields": {"site_id": "S-4", "notes": "ana's", "status": "open"}});
    let (status, p) = problem(s.sync("ana", "INS-1", body.clone()).await).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(p["type"], "https://syncdesk.dev/problems/edit-conflict");
    assert_eq!(p["conflicting_paths"], json!(["/notes"]));
    assert_eq!(p["conflict_id"], "c-000001");
    assert!(p["server_etag"].as_str().unwrap().starts_with("\"2-"));
    let (_, again) = problem(s.sync("ana", "INS-1", body).await).await;
    assert_eq!(
        again["conflict_id"], "c-000001",
        "the same device submission is not parked twice"
    );
    assert_eq!(
        again["server_etag"], p["server_etag"],
        "and it is answered as the first time"
    );
    let (_, record) = s.get("INS-1").await;
    assert_eq!(
        (
            record["version"].as_u64(),
            record["fields"]["notes"].as_str()
        ),
        (Some(2), Some("ben's"))
    );
    s.task.abort();
}

async fn concurrent_disjoint_syncs_are_all_applied(engine: Kind) {
    let db = TestDb::new(engine);
    let s = Arc::new(start(&db).await);
    let fields: Vec<String> = (0..16).map(|i| format!("c{i}")).collect();
    let checklist: Vec<Value> = fields
        .iter()
        .map(|id| json!({"id": id, "ok": false}))
        .collect();
    s.create(
        "INS-1",
        json!({"site_id": "S-4", "checklist": checklist.clone()}),
    )
    .await;
    let tasks: Vec<_> = (0..16)
        .map(|i| {
            let s = s.clone();
            let mut mine = checklist.clone();
            mine[i]["ok"] = json!(true);
            tokio::spawn(async move {
                s.sync(
                    "ana",
                    "INS-1",
                    json!({"base_version": 1, "fields": {"site_id": "S-4", "checklist": mine}}),
                )
                .await
                .status()
            })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap(), StatusCode::OK);
    }
    let (_, record) = s.get("INS-1").await;
    assert_eq!(record["version"], 17, "every sync made one version");
    assert!(
        record["fields"]["checklist"]
            .as_array()
            .unwrap()
            .iter()
            .all(|item| item["ok"] == true),
        "{record}"
    );
    s.task.abort();
}

/// Syncs to several records at once, then each sent again under its key: the writer's
/// batches then hold writes to different records, to the same record, and a retry beside
/// its first send (on PostgreSQL, reads taken for the whole batch and reads made again).
async fn concurrent_syncs_to_many_records_and_their_retries_each_apply_once(engine: Kind) {
    let db = TestDb::new(engine);
    let s = Arc::new(start(&db).await);
    let records: Vec<String> = (1..=8).map(|r| format!("INS-{r}")).collect();
    let checklist: Vec<Value> = (0..4)
        .map(|i| json!({"id": format!("c{i}"), "ok": false}))
        .collect();
    for id in &records {
        let created = s
            .create(
                id,
                json!({"site_id": "S-4", "checklist": checklist.clone()}),
            )
            .await;
        assert_eq!(created.status(), StatusCode::CREATED);
    }
    for round in ["first", "again"] {
        let mut tasks = Vec::new();
        for id in &records {
            for i in 0..4 {
                let (s, id) = (s.clone(), id.clone());
                let mut mine = checklist.clone();
                mine[i]["ok"] = json!(true);
                let body =
                    json!({"base_version": 1, "fields": {"site_id": "S-4", "checklist": mine}});
                tasks.push(tokio::spawn(async move {
                    let key = format!("many-{id}-{i}");
                    let sent = s.put_with_key("ana", &id, &key, &body.to_string()).send();
                    sent.await.unwrap().status()
                }));
            }
        }
        for task in tasks {
            assert_eq!(task.await.unwrap(), StatusCode::OK, "{round}");
        }
    }
    for id in &records {
        let (_, record) = s.get(id).await;
        assert_eq!(record["version"], 5, "four syncs, each once: {record}");
        let items = record["fields"]["checklist"].as_array().unwrap();
        assert!(items.iter().all(|item| item["ok"] == true), "{record}");
    }
    s.task.abort();
}

async fn versions_the_queue_and_remembered_answers_survive_a_restart(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_supervisor(&db).await;
    s.create("INS-1", json!({"site_id": "S-4"})).await;
    s.sync(
        "ana",
        "INS-1",
        json!({"base_version": 1, "fields": {"site_id": "S-5"}}),
    )
    .await;
    let conflicting = r#"{"base_version": 1, "fields": {"site_id": "S-6"}}"#;
    let (_, before) = problem(
        s.put_with_key("ben", "INS-1", "k-restart", conflicting)
            .send()
            .await
            .unwrap(),
    )
    .await;
    s.task.abort();
    let _ = s.task.await;
    let s = start_with_supervisor(&db).await;
    let (_, detail) = s.detail("c-000001").await;
    assert_eq!(
        (
            detail["status"].as_str(),
            detail["local"]["fields"]["site_id"].as_str()
        ),
        (Some("open"), Some("S-6"))
    );
    let replayed = s
        .put_with_key("ben", "INS-1", "k-restart", conflicting)
        .send()
        .await
        .unwrap();
    assert_eq!(replayed.headers()["idempotent-replayed"], "true");
    assert_eq!(
        problem(replayed).await.1,
        before,
        "the same answer after a restart"
    );
    let (status, record) = s.get("INS-1").await;
    assert_eq!(
        (
            status,
            record["version"].as_u64(),
            record["fields"]["site_id"].as_str()
        ),
        (StatusCode::OK, Some(2), Some("S-5"))
    );
    s.task.abort();
}

impl Server {
    fn put_with_key(&self, user: &str, id: &str, key: &str, body: &str) -> RequestBuilder {
        self.client
            .put(format!("{}/v1/inspections/{id}", self.base))
            .bearer_auth(format!("{user}-token"))
            .header("Idempotency-Key", key)
            .header("content-type", "application/json")
            .body(body.to_string())
    }
}

async fn a_retried_write_gets_the_same_answer_byte_for_byte_and_applies_once(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start(&db).await;
    s.create("INS-1", json!({"site_id": "S-4", "notes": "a"}))
        .await;
    let body = r#"{"base_version": 1, "fields": {"site_id": "S-4", "notes": "b"}}"#;
    let first = s
        .put_with_key("ana", "INS-1", "retry-1", body)
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first_etag = first.headers()["etag"].clone();
    let first_body = first.bytes().await.unwrap();
    // The same request again, written with other whitespace and key order.
    let same = r#"{ "fields": {"notes": "b", "site_id": "S-4"},
                    "base_version": 1 }"#;
    let again = s
        .put_with_key("ana", "INS-1", "retry-1", same)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    assert_eq!(again.headers()["etag"], first_etag);
    assert_eq!(again.bytes().await.unwrap(), first_body);
    assert_eq!(s.get("INS-1").await.1["version"], 2, "applied once");
    let other = r#"{"base_version": 1, "fields": {"site_id": "S-4", "notes": "c"}}"#;
    let (status, p) = problem(
        s.put_with_key("ana", "INS-1", "retry-1", other)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, p["type"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("https://syncdesk.dev/problems/idempotency-key-reuse")
        )
    );
    // Under ben the key is new: his request is decided (a genuine conflict with ana's "b").
    let ben = s
        .put_with_key("ben", "INS-1", "retry-1", other)
        .send()
        .await
        .unwrap();
    assert!(
        ben.headers().get("idempotent-replayed").is_none(),
        "keys are scoped per user"
    );
    assert_eq!(ben.status(), StatusCode::CONFLICT);
    s.task.abort();
}

/// Sends `request` twice under one key; asserts the second answer is the first, byte for
/// byte, headers included, and that the answer remembered under the key names the version
/// it shows instead of holding the record (`marker`, a field value, is not in it).
async fn replayed_the_same(
    db: &TestDb,
    request: impl Fn() -> RequestBuilder,
    key: &str,
    user: &str,
    marker: &str,
) -> reqwest::StatusCode {
    let first = request()
        .header("Idempotency-Key", key)
        .send()
        .await
        .unwrap();
    let again = request()
        .header("Idempotency-Key", key)
        .send()
        .await
        .unwrap();
    assert_eq!(again.headers()["idempotent-replayed"], "true", "{key}");
    for name in ["etag", "location", "content-type"] {
        assert_eq!(
            first.headers().get(name),
            again.headers().get(name),
            "{key}: {name}"
        );
    }
    let status = first.status();
    assert_eq!(again.status(), status, "{key}");
    let first = first.text().await.unwrap();
    assert!(first.contains(marker), "{key}: {first}");
    assert_eq!(again.text().await.unwrap(), first, "{key}");
    // On a blocking thread: PostgreSQL's client may not block an async one.
    let (database, user, stored_key) = (db.database(), user.to_string(), key.to_string());
    let answer = tokio::task::spawn_blocking(move || {
        use syncdesk::store::Store;
        let now = syncdesk::model::UtcMillis::now();
        let remembered = database
            .open()
            .unwrap()
            .remembered(&user, &stored_key, 24, now);
        remembered.unwrap().expect("remembered").answer
    })
    .await
    .unwrap();
    assert!(
        !answer.contains(marker),
        "{key}: the record is kept twice: {answer}"
    );
    status
}

async fn every_record_answer_is_replayed_from_the_version_it_shows(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_supervisor(&db).await;
    let create = || {
        s.client
            .post(format!("{}/v1/inspections", s.base))
            .bearer_auth("ana-token")
            .json(&json!({"id": "INS-1", "fields": {"site_id": "S-4", "status": "open", "notes": "pump leaks"}}))
    };
    let status = replayed_the_same(&db, create, "k-create", "ana", "pump leaks").await;
    assert_eq!(status, StatusCode::CREATED);
    let ben = s.sync("ben", "INS-1", json!({"base_version": 1, "fields": {"site_id": "S-4", "status": "passed", "notes": "pump leaks"}})).await;
    assert_eq!(ben.status(), StatusCode::OK);
    let put = |user: &'static str, body: Value| {
        let s = &s;
        move || {
            s.client
                .put(format!("{}/v1/inspections/INS-1", s.base))
                .bearer_auth(format!("{user}-token"))
                .json(&body)
        }
    };
    // Ana's edit on version 1 merges over ben's: the answer carries a merge report.
    let merge = put(
        "ana",
        json!({"base_version": 1, "fields": {"site_id": "S-4", "status": "open", "notes": "valve replaced"}}),
    );
    let status = replayed_the_same(&db, merge, "k-merge", "ana", "valve replaced").await;
    assert_eq!(status, StatusCode::OK);
    // The same fields again on a newer base: a no-op, answered with the current version.
    let no_op = put(
        "ben",
        json!({"base_version": 2, "fields": {"site_id": "S-4", "status": "passed", "notes": "valve replaced"}}),
    );
    let status = replayed_the_same(&db, no_op, "k-no-op", "ben", "valve replaced").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        s.get("INS-1").await.1["version"],
        3,
        "a no-op stores nothing"
    );
    let current = s
        .request(reqwest::Method::GET, "/v1/inspections/INS-1", "ana")
        .send()
        .await
        .unwrap();
    let etag = current.headers()["etag"].to_str().unwrap().to_string();
    let delete = || {
        s.client
            .delete(format!("{}/v1/inspections/INS-1", s.base))
            .bearer_auth("sue-token")
            .header("If-Match", &etag)
    };
    let status = replayed_the_same(&db, delete, "k-delete", "sue", "valve replaced").await;
    assert_eq!(status, StatusCode::OK);
    s.task.abort();
}

async fn a_retried_conflict_is_parked_once(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start(&db).await;
    ben_changed_the_notes(&s).await;
    let body =
        r#"{"base_version": 1, "fields": {"site_id": "S-4", "notes": "ana's", "status": "open"}}"#;
    let (_, first) = problem(
        s.put_with_key("ana", "INS-1", "k-409", body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    let (status, again) = problem(
        s.put_with_key("ana", "INS-1", "k-409", body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(again, first);
    let (_, next) = problem(
        s.put_with_key("ana", "INS-1", "k-409-b", body)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (first["conflict_id"].as_str(), next["conflict_id"].as_str()),
        (Some("c-000001"), Some("c-000002"))
    );
    s.task.abort();
}

impl Server {
    fn put_master(&self, user: &str, list: &str, items: Value) -> RequestBuilder {
        self.request(reqwest::Method::PUT, &format!("/v1/master/{list}"), user)
            .json(&json!({"items": items}))
    }
}

const ADMIN_CONFIG: &str = r#"
[[users]]
name = "adm"
role = "admin"
token = "adm-token"
"#;

async fn start_with_refs(db: &TestDb) -> Server {
    let text = format!(
        "{ADMIN_CONFIG}\n[[users]]\nname = \"ana\"\nrole = \"technician\"\ntoken = \"ana-token\"\n\
         [types.inspections.fields]\nsite_id = {{ type = \"reference\", list = \"sites\", required = true }}\nnotes = {{ type = \"text\" }}\n"
    );
    start_with(db, &text).await
}

async fn master_data_has_an_etag_and_answers_304(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_refs(&db).await;
    let (status, _) = problem(
        s.put_master("ana", "sites", json!([{"id": "S-1"}]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "only an admin puts master data"
    );
    let r = s
        .put_master(
            "adm",
            "sites",
            json!([{"id": "S-1", "label": "North plant"}, {"id": "S-4"}]),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let etag = r.headers()["etag"].to_str().unwrap().to_string();
    let r = s
        .request(reqwest::Method::GET, "/v1/master/sites", "ana")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["etag"].to_str().unwrap(), etag);
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["items"][0],
        json!({"id": "S-1", "label": "North plant"})
    );
    let r = s
        .request(reqwest::Method::GET, "/v1/master/sites", "ana")
        .header("If-None-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
    let (status, _) = problem(
        s.put_master("adm", "sites", json!([{"label": "no id"}]))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    s.task.abort();
}

async fn an_item_that_leaves_a_list_is_remembered_as_it_was_until_it_comes_back(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_refs(&db).await;
    let put = |items: Value| async {
        let r = s.put_master("adm", "sites", items).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        r.json::<Value>().await.unwrap()
    };
    put(json!([{"id": "S-1", "label": "North plant"}, {"id": "S-3", "label": "Old mill substation"}])).await;
    let body = put(json!([{"id": "S-1", "label": "North plant"}])).await;
    assert_eq!(body["removed"][0]["id"], "S-3");
    assert_eq!(body["removed"][0]["label"], "Old mill substation");
    assert!(
        body["removed"][0]["removed_at"]
            .as_str()
            .unwrap()
            .ends_with('Z')
    );
    let read: Value = s
        .request(reqwest::Method::GET, "/v1/master/sites", "ana")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(read["removed"], body["removed"]);
    let back = put(json!([{"id": "S-1"}, {"id": "S-3", "label": "Old mill substation"}])).await;
    assert_eq!(
        back["removed"],
        json!([]),
        "listed again, no longer removed"
    );
    s.task.abort();
}

async fn a_reference_to_a_removed_site_is_parked_and_answered_422(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_refs(&db).await;
    s.put_master("adm", "sites", json!([{"id": "S-1"}, {"id": "S-4"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        s.create("INS-1", json!({"site_id": "S-4", "notes": "a"}))
            .await
            .status(),
        StatusCode::CREATED
    );
    s.put_master("adm", "sites", json!([{"id": "S-1"}]))
        .send()
        .await
        .unwrap();
    let (status, p) = problem(
        s.sync(
            "ana",
            "INS-1",
            json!({"base_version": 1, "fields": {"site_id": "S-4", "notes": "typed offline"}}),
        )
        .await,
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["type"], "https://syncdesk.dev/problems/invalid-reference");
    assert_eq!(p["conflicting_paths"], json!(["/site_id"]));
    assert_eq!(
        p["conflict_id"], "c-000001",
        "what the technician typed is kept in the queue"
    );
    let (status, p) = problem(s.create("INS-2", json!({"site_id": "S-9"})).await).await;
    assert_eq!(
        (status, p["conflict_id"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("c-000002"))
    );
    s.task.abort();
}

const SUPERVISOR: &str =
    "\n[[users]]\nname = \"sue\"\nrole = \"supervisor\"\ntoken = \"sue-token\"\n";

async fn start_with_supervisor(db: &TestDb) -> Server {
    start_with(db, &format!("{CONFIG}{SUPERVISOR}")).await
}

async fn every_version_is_kept_and_readable(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start(&db).await;
    s.create("INS-1", json!({"site_id": "S-4", "notes": "a"}))
        .await;
    let body = json!({"base_version": 1, "device_id": "tab-17", "fields": {"site_id": "S-4", "notes": "b"}});
    s.sync("ben", "INS-1", body).await;
    let r = s
        .request(
            reqwest::Method::GET,
            "/v1/inspections/INS-1/versions",
            "ana",
        )
        .send()
        .await
        .unwrap();
    let list: Value = r.json().await.unwrap();
    let versions = list["versions"].as_array().unwrap();
    assert_eq!(versions.len(), 2);
    assert_eq!(
        (
            versions[0]["modified_by"].as_str(),
            versions[1]["device_id"].as_str()
        ),
        (Some("ana"), Some("tab-17"))
    );
    let r = s
        .request(
            reqwest::Method::GET,
            "/v1/inspections/INS-1/versions/1",
            "ana",
        )
        .send()
        .await
        .unwrap();
    assert!(r.headers()["etag"].to_str().unwrap().starts_with("\"1-"));
    let first: Value = r.json().await.unwrap();
    assert_eq!(first["fields"]["notes"], "a");
    let r = s
        .request(
            reqwest::Method::GET,
            "/v1/inspections/INS-1/versions/3",
            "ana",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.0, StatusCode::NOT_FOUND);
    s.task.abort();
}

async fn the_changes_feed_is_a_cursor(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start(&db).await;
    for id in ["A", "B", "C"] {
        s.create(id, json!({"site_id": "S-4"})).await;
    }
    s.sync(
        "ana",
        "A",
        json!({"base_version": 1, "fields": {"site_id": "S-5"}}),
    )
    .await;
    let feed = |after: u64| {
        s.request(
            reqwest::Method::GET,
            &format!("/v1/inspections?after={after}&limit=2"),
            "ana",
        )
        .send()
    };
    let page: Value = feed(0).await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = page["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!((ids, page["next"].as_u64()), (vec!["B", "C"], Some(3)));
    let page: Value = feed(3).await.unwrap().json().await.unwrap();
    assert_eq!(
        (
            page["records"][0]["id"].as_str(),
            page["records"][0]["version"].as_u64(),
            page["next"].as_u64()
        ),
        (Some("A"), Some(2), Some(4))
    );
    let page: Value = feed(4).await.unwrap().json().await.unwrap();
    assert_eq!(
        (
            page["records"].as_array().unwrap().len(),
            page["next"].as_u64()
        ),
        (0, Some(4)),
        "nothing newer: next is after itself"
    );
    s.task.abort();
}

async fn a_delete_needs_a_supervisor_and_if_match_and_leaves_a_tombstone(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_supervisor(&db).await;
    let created = s
        .create("INS-1", json!({"site_id": "S-4", "notes": "a"}))
        .await;
    let etag = created.headers()["etag"].to_str().unwrap().to_string();
    let delete = |user: &str| s.request(reqwest::Method::DELETE, "/v1/inspections/INS-1", user);
    assert_eq!(
        problem(
            delete("ana")
                .header("If-Match", &etag)
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        problem(delete("sue").send().await.unwrap()).await.0,
        StatusCode::PRECONDITION_REQUIRED
    );
    assert_eq!(
        problem(
            delete("sue")
                .header("If-Match", "\"9-2026-01-01T00:00:00Z\"")
                .send()
                .await
                .unwrap()
        )
        .await
        .0,
        StatusCode::PRECONDITION_FAILED
    );
    let r = delete("sue")
        .header("If-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let tombstone: Value = r.json().await.unwrap();
    assert_eq!(
        (
            tombstone["version"].as_u64(),
            tombstone["deleted"].as_bool()
        ),
        (Some(2), Some(true))
    );
    let r = s
        .request(reqwest::Method::GET, "/v1/inspections/INS-1", "ana")
        .send()
        .await
        .unwrap();
    assert!(r.headers()["etag"].to_str().unwrap().starts_with("\"2-"));
    assert_eq!(problem(r).await.0, StatusCode::GONE);
    // An offline edit of the deleted record is kept in the queue.
    let (status, p) = problem(
        s.sync(
            "ana",
            "INS-1",
            json!({"base_version": 1, "fields": {"site_id": "S-4", "notes": "typed"}}),
        )
        .await,
    )
    .await;
    assert_eq!(
        (status, p["type"].as_str()),
        (
            StatusCode::CONFLICT,
            Some("https://syncdesk.dev/problems/deleted-on-server")
        )
    );
    assert_eq!(p["conflicting_paths"], json!(["/notes"]));
    s.task.abort();
}

/// INS-1 (version 1) deleted by sue (version 2) while ana edited its notes offline:
/// c-000001, deleted-on-server. Answers the tombstone's tag.
async fn with_deleted_on_server(s: &Server) -> String {
    let created = s
        .create("INS-1", json!({"site_id": "S-4", "notes": "a"}))
        .await;
    let etag = created.headers()["etag"].to_str().unwrap().to_string();
    let r = s
        .request(reqwest::Method::DELETE, "/v1/inspections/INS-1", "sue")
        .header("If-Match", &etag)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = s
        .sync(
            "ana",
            "INS-1",
            json!({"base_version": 1, "fields": {"site_id": "S-4", "notes": "typed"}}),
        )
        .await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
    let (etag, detail) = s.detail("c-000001").await;
    assert_eq!(detail["kind"], "deleted-on-server");
    assert_eq!(
        (
            detail["server"]["deleted"].as_bool(),
            &detail["server"]["fields"]["notes"]
        ),
        (Some(true), &json!("a")),
        "the server side is the tombstone, with the last live fields"
    );
    assert_eq!(detail["server"]["etag"].as_str(), Some(etag.as_str()));
    etag
}

async fn a_deleted_on_server_conflict_is_restored_with_the_tombstones_tag(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_supervisor(&db).await;
    let tombstone = with_deleted_on_server(&s).await;
    let body =
        json!({"fields": {"site_id": "S-4", "notes": "typed"}, "choices": {"/notes": "local"}});
    // A tag of the live version before the deletion is stale.
    let (status, _) = problem(
        s.resolve(
            "sue",
            "c-000001",
            "\"1-2026-01-01T00:00:00Z\"",
            body.clone(),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let r = s
        .resolve("sue", "c-000001", &tombstone, body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let record: Value = r.json().await.unwrap();
    assert_eq!(
        (record["version"].as_u64(), record["deleted"].as_bool()),
        (Some(3), Some(false))
    );
    // Live again: a plain GET reads it.
    let (status, read) = s.get("INS-1").await;
    assert_eq!(
        (status, &read["fields"]["notes"]),
        (StatusCode::OK, &json!("typed"))
    );
    let (_, detail) = s.detail("c-000001").await;
    assert_eq!(detail["status"], "resolved");
    assert_eq!(
        detail["resolution"]["fields"],
        json!([{"path": "/notes", "choice": "local", "value": "typed",
                "discarded": {"server": "a"}}])
    );
    s.task.abort();
}

async fn a_deleted_on_server_conflict_can_keep_the_deletion(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_supervisor(&db).await;
    let tombstone = with_deleted_on_server(&s).await;
    let (status, p) = problem(
        s.resolve(
            "sue",
            "c-000001",
            &tombstone,
            json!({"keep_deleted": true, "fields": {}}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (
            status,
            p["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("keep_deleted")
        ),
        (StatusCode::BAD_REQUEST, true),
        "keep_deleted takes no fields"
    );
    let r = s
        .resolve("sue", "c-000001", &tombstone, json!({"keep_deleted": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let answer: Value = r.json().await.unwrap();
    assert_eq!(
        (answer["version"].as_u64(), answer["deleted"].as_bool()),
        (Some(2), Some(true)),
        "200 with the tombstone"
    );
    let (status, _) = s.get("INS-1").await;
    assert_eq!(status, StatusCode::GONE, "still deleted, nothing written");
    let versions: Value = s
        .request(
            reqwest::Method::GET,
            "/v1/inspections/INS-1/versions",
            "sue",
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(versions["versions"].as_array().map(Vec::len), Some(2));
    let (_, detail) = s.detail("c-000001").await;
    assert_eq!(
        (
            detail["status"].as_str(),
            detail["resolution"]["kept_deleted"].as_bool(),
            detail["resolution"]["resulting_version"].as_u64()
        ),
        (Some("resolved"), Some(true), Some(2))
    );
    assert_eq!(
        detail["local"]["fields"]["notes"], "typed",
        "what the technician typed stays in the conflict"
    );
    s.task.abort();
}

async fn keep_deleted_on_an_edit_conflict_is_422(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_supervisor(&db).await;
    with_conflict(&s).await;
    let (etag, _) = s.detail("c-000001").await;
    let (status, p) = problem(
        s.resolve("sue", "c-000001", &etag, json!({"keep_deleted": true}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(p["errors"][0]["path"], "/keep_deleted");
    s.task.abort();
}

async fn the_schema_of_a_type_is_published_with_its_version(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start(&db).await;
    let r = s
        .request(reqwest::Method::GET, "/v1/schema/inspections", "ana")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["etag"], "\"schema-2\"");
    let schema: Value = r.json().await.unwrap();
    assert_eq!(schema["schema_version"], 2);
    assert_eq!(schema["same_user_overlap"], "conflict");
    assert_eq!(
        schema["fields"]["status"],
        json!({"type": "enum", "values": ["open", "passed", "failed"], "required": false})
    );
    assert_eq!(
        schema["fields"]["checklist"],
        json!({"type": "list", "key": "id", "required": false})
    );
    s.task.abort();
}

impl Server {
    fn resolve(&self, user: &str, cid: &str, if_match: &str, body: Value) -> RequestBuilder {
        let r = self
            .request(
                reqwest::Method::POST,
                &format!("/v1/conflicts/{cid}/resolution"),
                user,
            )
            .json(&body);
        if if_match == "*new*" {
            r.header("If-None-Match", "*")
        } else {
            r.header("If-Match", if_match)
        }
    }

    async fn detail(&self, cid: &str) -> (String, Value) {
        let r = self
            .request(reqwest::Method::GET, &format!("/v1/conflicts/{cid}"), "sue")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let etag = r
            .headers()
            .get("etag")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (etag, r.json().await.unwrap())
    }
}

/// A record INS-1 with a parked edit conflict on /notes (c-000001): ben wrote v2.
async fn with_conflict(s: &Server) {
    ben_changed_the_notes(s).await;
    let r = s.sync("ana", "INS-1", json!({"base_version": 1, "device_id": "tab-17", "fields": {"site_id": "S-4", "notes": "ana's", "status": "open"}})).await;
    assert_eq!(r.status(), StatusCode::CONFLICT);
}

/// INS-1 created with notes "a" (version 1), then ben's sync made them "ben's" (version 2).
async fn ben_changed_the_notes(s: &Server) {
    s.create(
        "INS-1",
        json!({"site_id": "S-4", "notes": "a", "status": "open"}),
    )
    .await;
    let body = json!({"base_version": 1, "fields": {"site_id": "S-4", "notes": "ben's", "status": "open"}});
    assert_eq!(s.sync("ben", "INS-1", body).await.status(), StatusCode::OK);
}

async fn the_queue_lists_open_conflicts_for_supervisors(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_supervisor(&db).await;
    with_conflict(&s).await;
    let r = s
        .request(reqwest::Method::GET, "/v1/conflicts", "ana")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.0, StatusCode::FORBIDDEN);
    let list: Value = s
        .request(reqwest::Method::GET, "/v1/conflicts", "sue")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let summary = &list["conflicts"][0];
    assert_eq!(
        (
            summary["id"].as_str(),
            summary["status"].as_str(),
            summary["kind"].as_str()
        ),
        (Some("c-000001"), Some("open"), Some("edit-conflict"))
    );
    assert_eq!(
        (
            summary["submitted_by"].as_str(),
            summary["device_id"].as_str()
        ),
        (Some("ana"), Some("tab-17"))
    );
    assert_eq!(summary["conflicting_paths"], json!(["/notes"]));
    assert!(
        summary.get("local").is_none() && summary.get("fields").is_none(),
        "a summary has no sides"
    );
    assert_eq!(list["next"], Value::Null);
    let r = s
        .request(reqwest::Method::GET, "/v1/conflicts?status=closed", "sue")
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.0, StatusCode::BAD_REQUEST);
    let none: Value = s
        .request(reqwest::Method::GET, "/v1/conflicts?type=audits", "sue")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(none["conflicts"], json!([]));
    s.task.abort();
}

async fn the_detail_shows_three_sides_and_each_paths_class(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_supervisor(&db).await;
    with_conflict(&s).await;
    let (etag, detail) = s.detail("c-000001").await;
    assert!(etag.starts_with("\"2-"), "{etag}");
    assert_eq!(detail["base"]["version"], 1);
    assert_eq!(detail["local"]["fields"]["notes"], "ana's");
    assert_eq!(
        (
            detail["server"]["version"].as_u64(),
            detail["server"]["etag"].as_str()
        ),
        (Some(2), Some(etag.as_str()))
    );
    let notes = detail["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["path"] == "/notes")
        .unwrap();
    assert_eq!(
        notes,
        &json!({"path": "/notes", "class": "conflict", "base": "a", "local": "ana's", "server": "ben's"})
    );
    assert_eq!(detail["resolution"], Value::Null);
    s.task.abort();
}

async fn a_resolution_needs_the_fresh_etag_and_closes_the_conflict_once(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_supervisor(&db).await;
    with_conflict(&s).await;
    let (etag, _) = s.detail("c-000001").await;
    // Meanwhile someone changes the status on the server.
    s.sync("ben", "INS-1", json!({"base_version": 2, "fields": {"site_id": "S-4", "notes": "ben's", "status": "failed"}})).await;
    let resolved = json!({"fields": {"site_id": "S-4", "notes": "ana's", "status": "open"}, "choices": {"/notes": "local"}});
    let (status, p) = problem(
        s.resolve("sue", "c-000001", &etag, resolved)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    assert!(p["server_etag"].as_str().unwrap().starts_with("\"3-"));
    // The detail now holds the newer server side; the supervisor keeps their choice.
    let (fresh, detail) = s.detail("c-000001").await;
    assert_eq!(detail["server"]["fields"]["status"], "failed");
    let mut fields = detail["server"]["fields"].clone();
    fields["notes"] = detail["local"]["fields"]["notes"].clone();
    let r = s
        .resolve(
            "sue",
            "c-000001",
            &fresh,
            json!({"fields": fields, "choices": {"/notes": "local"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(r.headers()["etag"].to_str().unwrap().starts_with("\"4-"));
    let record: Value = r.json().await.unwrap();
    assert_eq!(
        record["fields"],
        json!({"site_id": "S-4", "notes": "ana's", "status": "failed"}),
        "nothing of either side is lost"
    );
    assert_eq!(record["modified_by"], "sue");
    let (_, detail) = s.detail("c-000001").await;
    assert_eq!(
        (
            detail["status"].as_str(),
            detail["resolution"]["by"].as_str()
        ),
        (Some("resolved"), Some("sue"))
    );
    assert_eq!(
        (
            detail["resolution"]["resulting_version"].as_u64(),
            &detail["resolution"]["choices"],
            detail["resolution"]["kept_deleted"].as_bool()
        ),
        (Some(4), &json!({"/notes": "local"}), Some(false))
    );
    // The audit trail: the value taken and the one it displaced.
    assert_eq!(
        detail["resolution"]["fields"],
        json!([{"path": "/notes", "choice": "local", "value": "ana's",
                "discarded": {"server": "ben's"}}])
    );
    let (status, p) = problem(
        s.resolve("sue", "c-000001", "*", json!({"fields": fields}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, p["resolved_by"].as_str()),
        (StatusCode::CONFLICT, Some("sue"))
    );
    s.task.abort();
}

async fn racing_supervisors_get_exactly_one_200(engine: Kind) {
    let db = TestDb::new(engine);
    let s = Arc::new(start_with_supervisor(&db).await);
    with_conflict(&s).await;
    let (etag, _) = s.detail("c-000001").await;
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let (s, etag) = (s.clone(), etag.clone());
            tokio::spawn(async move {
                let fields =
                    json!({"site_id": "S-4", "notes": format!("take {i}"), "status": "open"});
                s.resolve("sue", "c-000001", &etag, json!({"fields": fields}))
                    .send()
                    .await
                    .unwrap()
                    .status()
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    assert!(
        statuses
            .iter()
            .all(|s| [StatusCode::OK, StatusCode::CONFLICT].contains(s)),
        "{statuses:?}"
    );
    assert_eq!(
        s.get("INS-1").await.1["version"],
        3,
        "one resolution, one version"
    );
    s.task.abort();
}

async fn invalid_resolutions_and_parked_creates(engine: Kind) {
    let db = TestDb::new(engine);
    let text = format!(
        "{ADMIN_CONFIG}{SUPERVISOR}\n[[users]]\nname = \"ana\"\nrole = \"technician\"\ntoken = \"ana-token\"\n[types.inspections.fields]\nsite_id = {{ type = \"reference\", list = \"sites\", required = true }}\n"
    );
    let s = start_with(&db, &text).await;
    s.put_master("adm", "sites", json!([{"id": "S-1"}]))
        .send()
        .await
        .unwrap();
    let (status, p) = problem(s.create("INS-9", json!({"site_id": "S-9"})).await).await;
    assert_eq!(
        (status, p["conflict_id"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("c-000001"))
    );
    let (etag, detail) = s.detail("c-000001").await;
    assert_eq!(
        (etag.as_str(), &detail["server"], &detail["base"]),
        ("", &Value::Null, &Value::Null)
    );
    assert_eq!(detail["fields"][0]["class"], "invalid");
    let (status, _) = problem(
        s.resolve("sue", "c-000001", "*new*", json!({"fields": {"notes": 1}}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = problem(
        s.resolve(
            "sue",
            "c-000001",
            "*new*",
            json!({"fields": {"site_id": "S-1"}, "choices": {"/site_id": "mine"}}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, p) = problem(
        s.resolve(
            "sue",
            "c-000001",
            "*new*",
            json!({"fields": {"site_id": "S-9"}}),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "a resolution may name only listed master data"
    );
    assert_eq!(p["errors"][0]["path"], "/site_id");
    let r = s
        .request(
            reqwest::Method::POST,
            "/v1/conflicts/c-000001/resolution",
            "sue",
        )
        .json(&json!({"fields": {"site_id": "S-1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(problem(r).await.0, StatusCode::PRECONDITION_REQUIRED);
    let r = s
        .resolve(
            "sue",
            "c-000001",
            "*new*",
            json!({"fields": {"site_id": "S-1"}, "choices": {"/site_id": "manual"}}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(
        s.get("INS-9").await.1["version"],
        1,
        "the parked create made the record"
    );
    s.task.abort();
}

async fn a_dry_run_answers_what_a_sync_would_get_and_stores_nothing(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start(&db).await;
    s.create(
        "INS-1",
        json!({"site_id": "S-4", "notes": "a", "status": "open"}),
    )
    .await;
    s.sync(
        "ben",
        "INS-1",
        json!({"base_version": 1, "fields": {"site_id": "S-4", "notes": "a", "status": "passed"}}),
    )
    .await;
    let dry = |body: Value| {
        s.client
            .put(format!("{}/v1/inspections/INS-1?dry_run=true", s.base))
            .bearer_auth("ana-token")
            .json(&body)
            .send()
    };
    let r = dry(
        json!({"base_version": 1, "fields": {"site_id": "S-4", "notes": "b", "status": "open"}}),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::OK, "no Idempotency-Key is needed");
    let body: Value = r.json().await.unwrap();
    assert_eq!(
        body["fields"],
        json!({"site_id": "S-4", "notes": "b", "status": "passed"})
    );
    assert_eq!(body["merge"]["auto_merged"], json!(["/notes"]));
    let r = dry(
        json!({"base_version": 1, "fields": {"site_id": "S-4", "notes": "a", "status": "failed"}}),
    )
    .await
    .unwrap();
    let (status, p) = problem(r).await;
    assert_eq!(
        (status, p["conflicting_paths"].clone()),
        (StatusCode::CONFLICT, json!(["/status"]))
    );
    assert!(p.get("conflict_id").is_none(), "nothing is parked");
    assert!(p["server_etag"].as_str().unwrap().starts_with("\"2-"));
    let r = dry(json!({"base_version": 1, "fields": {"status": "nope"}}))
        .await
        .unwrap();
    assert_eq!(problem(r).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(s.get("INS-1").await.1["version"], 2, "nothing was stored");
    let queue = s
        .client
        .get(format!("{}/v1/inspections/INS-1/versions", s.base))
        .bearer_auth("ana-token")
        .send()
        .await
        .unwrap();
    assert_eq!(
        queue.json::<Value>().await.unwrap()["versions"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let r = s
        .client
        .post(format!("{}/v1/inspections?dry_run=true", s.base))
        .bearer_auth("ana-token")
        .json(&json!({"id": "INS-2", "fields": {"site_id": "S-1"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "a create that would succeed answers 200"
    );
    assert_eq!(s.get("INS-2").await.0, StatusCode::NOT_FOUND);
    s.task.abort();
}

async fn a_retried_resolution_gets_the_same_answer_and_resolves_once(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_supervisor(&db).await;
    with_conflict(&s).await;
    let (etag, _) = s.detail("c-000001").await;
    let send = |key: &str, notes: &str| {
        s.client
            .post(format!("{}/v1/conflicts/c-000001/resolution", s.base))
            .bearer_auth("sue-token")
            .header("Idempotency-Key", key)
            .header("If-Match", &etag)
            .json(&json!({"fields": {"site_id": "S-4", "notes": notes, "status": "open"}, "choices": {"/notes": "manual"}}))
            .send()
    };
    let first = send("res-1", "merged by sue").await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let first_body = first.bytes().await.unwrap();
    let again = send("res-1", "merged by sue").await.unwrap();
    assert_eq!(
        (
            again.status(),
            again.headers()["idempotent-replayed"].to_str().unwrap()
        ),
        (StatusCode::OK, "true")
    );
    assert_eq!(again.bytes().await.unwrap(), first_body);
    assert_eq!(s.get("INS-1").await.1["version"], 3, "resolved once");
    let (status, p) = problem(send("res-1", "something else").await.unwrap()).await;
    assert_eq!(
        (status, p["type"].as_str()),
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            Some("https://syncdesk.dev/problems/idempotency-key-reuse")
        )
    );
    s.task.abort();
}

async fn a_retried_master_data_put_is_applied_once(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_refs(&db).await;
    let send = || {
        s.client
            .put(format!("{}/v1/master/sites", s.base))
            .bearer_auth("adm-token")
            .header("Idempotency-Key", "sites-1")
            .json(&json!({"items": [{"id": "S-1"}]}))
            .send()
    };
    let first = send().await.unwrap();
    let etag = first.headers()["etag"].clone();
    assert!(etag.to_str().unwrap().starts_with("\"1-"));
    let again = send().await.unwrap();
    assert_eq!(
        (
            again.headers()["etag"].clone(),
            again.headers()["idempotent-replayed"].to_str().unwrap()
        ),
        (etag, "true")
    );
    let read = s
        .request(reqwest::Method::GET, "/v1/master/sites", "ana")
        .send()
        .await
        .unwrap();
    assert!(
        read.headers()["etag"].to_str().unwrap().starts_with("\"1-"),
        "no second version of the list"
    );
    s.task.abort();
}

async fn every_error_the_framework_answers_is_problem_json_too(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_supervisor(&db).await;
    let problem_of = |r: reqwest::Response| async move {
        let status = r.status();
        let allow = r
            .headers()
            .get("allow")
            .map(|v| v.to_str().unwrap().to_string());
        let media = r.headers()["content-type"].to_str().unwrap().to_string();
        let body: Value = r.json().await.unwrap();
        (status, allow, media, body)
    };
    let (status, _, media, body) = problem_of(
        s.request(reqwest::Method::GET, "/nowhere", "sue")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, media.as_str()),
        (StatusCode::NOT_FOUND, "application/problem+json")
    );
    assert_eq!(body["status"], 404);
    let (status, allow, media, body) = problem_of(
        s.request(reqwest::Method::PATCH, "/v1/conflicts", "sue")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(media, "application/problem+json");
    assert!(allow.unwrap_or_default().contains("GET"), "405 keeps Allow");
    assert_eq!(
        body["type"],
        "https://syncdesk.dev/problems/method-not-allowed"
    );
    let (status, _, media, body) = problem_of(
        s.request(reqwest::Method::GET, "/v1/conflicts?limit=many", "sue")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, media.as_str()),
        (StatusCode::BAD_REQUEST, "application/problem+json")
    );
    assert!(body["detail"].as_str().unwrap().contains("limit"), "{body}");
    s.task.abort();
}

async fn the_bearer_scheme_is_matched_case_insensitively_and_a_401_says_how_to_sign_in(
    engine: Kind,
) {
    let db = TestDb::new(engine);
    let s = start_with_supervisor(&db).await;
    let get = |auth: &[&str]| {
        let mut r = s.client.get(format!("{}/v1/conflicts", s.base));
        for value in auth {
            r = r.header("Authorization", *value);
        }
        r.send()
    };
    for scheme in ["Bearer", "bearer", "BEARER"] {
        let r = get(&[&format!("{scheme} sue-token")]).await.unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{scheme}");
    }
    for auth in [
        &[][..],
        &["Bearer wrong"][..],
        &["Basic c3VlOng="][..],
        &["Bearer sue-token", "Bearer sue-token"][..],
    ] {
        let r = get(auth).await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{auth:?}");
        assert_eq!(r.headers()["www-authenticate"], "Bearer", "{auth:?}");
    }
    s.task.abort();
}

async fn a_resolution_is_refused_in_the_contracts_order_400_before_428(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start_with_supervisor(&db).await;
    with_conflict(&s).await;
    let post = |body: &'static str| {
        s.request(
            reqwest::Method::POST,
            "/v1/conflicts/c-000001/resolution",
            "sue",
        )
        .header("content-type", "application/json")
        .body(body)
        .send()
    };
    let (status, p) = problem(post("{\"fields\": 3}").await.unwrap()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{p}");
    let (status, _) = problem(post("{\"fields\": {}}").await.unwrap()).await;
    assert_eq!(status, StatusCode::PRECONDITION_REQUIRED);
    s.task.abort();
}

on_both_engines! {
    health_needs_no_token,
    a_create_is_stored_normalised_and_read_back_with_its_etag,
    requests_are_refused_in_the_contracts_order,
    a_stale_if_match_is_412_with_the_current_etag,
    invalid_fields_are_422_with_their_paths_and_the_schema_hint,
    a_stale_base_with_disjoint_edits_merges_over_http,
    a_genuine_conflict_is_parked_and_answered_409_once_per_device_submission,
    concurrent_disjoint_syncs_are_all_applied,
    concurrent_syncs_to_many_records_and_their_retries_each_apply_once,
    versions_the_queue_and_remembered_answers_survive_a_restart,
    a_retried_write_gets_the_same_answer_byte_for_byte_and_applies_once,
    a_retried_conflict_is_parked_once,
    every_record_answer_is_replayed_from_the_version_it_shows,
    master_data_has_an_etag_and_answers_304,
    an_item_that_leaves_a_list_is_remembered_as_it_was_until_it_comes_back,
    a_reference_to_a_removed_site_is_parked_and_answered_422,
    every_version_is_kept_and_readable,
    the_changes_feed_is_a_cursor,
    a_delete_needs_a_supervisor_and_if_match_and_leaves_a_tombstone,
    a_deleted_on_server_conflict_is_restored_with_the_tombstones_tag,
    a_deleted_on_server_conflict_can_keep_the_deletion,
    keep_deleted_on_an_edit_conflict_is_422,
    the_schema_of_a_type_is_published_with_its_version,
    the_queue_lists_open_conflicts_for_supervisors,
    the_detail_shows_three_sides_and_each_paths_class,
    a_resolution_needs_the_fresh_etag_and_closes_the_conflict_once,
    racing_supervisors_get_exactly_one_200,
    invalid_resolutions_and_parked_creates,
    a_dry_run_answers_what_a_sync_would_get_and_stores_nothing,
    a_retried_resolution_gets_the_same_answer_and_resolves_once,
    a_retried_master_data_put_is_applied_once,
    every_error_the_framework_answers_is_problem_json_too,
    the_bearer_scheme_is_matched_case_insensitively_and_a_401_says_how_to_sign_in,
    a_resolution_is_refused_in_the_contracts_order_400_before_428,
}
