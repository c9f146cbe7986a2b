//! The sync log (section 8a) and the audit trail (section 6) on both engines: a scripted
//! morning whose every write's outcome is known, then `GET /v1/syncs`, `/v1/stats` and
//! `/v1/audit` read back, filtered and paged.

mod engines;

use engines::{Kind, TestDb};
use reqwest::{Client, Method, StatusCode};
use serde_json::{Value, json};
use syncdesk::server::clock::Clock;

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
status = { type = "enum", values = ["open", "passed"] }
"#;

struct Server {
    base: String,
    client: Client,
}

static KEY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Server {
    async fn start(db: &TestDb) -> Self {
        Self::start_with(db, CONFIG, Clock::system()).await
    }

    /// A server with this configuration, on this clock.
    async fn start_with(db: &TestDb, config: &str, clock: Clock) -> Self {
        let (base, _) = engines::serve_on(db, config, clock).await;
        Self {
            base,
            client: Client::new(),
        }
    }

    /// One write as `user` (`key`: its Idempotency-Key, fresh when `None`).
    async fn send(
        &self,
        method: Method,
        path: &str,
        user: &str,
        key: Option<&str>,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> (StatusCode, Option<String>, Value) {
        let fresh = format!(
            "k-{}",
            KEY.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(format!("{user}-token"))
            .header("Idempotency-Key", key.unwrap_or(&fresh));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.unwrap();
        let etag = answer
            .headers()
            .get("etag")
            .map(|e| e.to_str().unwrap().to_owned());
        (
            answer.status(),
            etag,
            answer.json().await.unwrap_or(Value::Null),
        )
    }

    async fn syncs(&self, query: &str) -> Value {
        let (status, _, body) = self
            .send(
                Method::GET,
                &format!("/v1/syncs{query}"),
                "sue",
                None,
                &[],
                None,
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        body
    }
}

fn outcomes(page: &Value) -> Vec<String> {
    page["syncs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["outcome"].as_str().unwrap().to_owned())
        .collect()
}

async fn every_write_is_logged_with_what_it_came_to(engine: Kind) {
    let db = TestDb::new(engine);
    let s = Server::start(&db).await;
    let put = Method::PUT;
    let r1 = "/v1/inspections/R1";
    let create = json!({"id": "R1", "fields": {"notes": "a", "status": "open"}});
    let (status, first_tag, _) = s
        .send(
            Method::POST,
            "/v1/inspections",
            "ana",
            None,
            &[],
            Some(create),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    // Refused before the writer: a token nobody has, a technician deleting.
    let (status, _, _) = s
        .send(put.clone(), r1, "nobody", None, &[], Some(json!({})))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _, _) = s.send(Method::DELETE, r1, "ana", None, &[], None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let ben = json!({"base_version": 1, "fields": {"notes": "a", "status": "passed"}});
    assert_eq!(
        s.send(put.clone(), r1, "ben", None, &[], Some(ben)).await.0,
        StatusCode::OK
    );
    let ana = json!({"base_version": 1, "device_id": "tab-1", "fields": {"notes": "ana", "status": "open"}});
    let (status, _, merged) = s
        .send(
            put.clone(),
            r1,
            "ana",
            Some("ana-1"),
            &[],
            Some(ana.clone()),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{merged}");
    // The same submission again after a dropped answer.
    assert_eq!(
        s.send(put.clone(), r1, "ana", Some("ana-1"), &[], Some(ana))
            .await
            .0,
        StatusCode::OK
    );
    let web = json!({"base_version": 1, "device_id": "web", "fields": {"notes": "ben", "status": "passed"}});
    let (status, _, parked) = s.send(put.clone(), r1, "ben", None, &[], Some(web)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{parked}");
    let stale = json!({"fields": {"notes": "x", "status": "open"}});
    let if_match = first_tag.unwrap();
    let (status, _, _) = s
        .send(
            put.clone(),
            r1,
            "ana",
            None,
            &[("If-Match", &if_match)],
            Some(stale),
        )
        .await;
    assert_eq!(status, StatusCode::PRECONDITION_FAILED);
    let invalid = json!({"base_version": 3, "fields": {"notes": "ana", "status": "maybe"}});
    assert_eq!(
        s.send(put.clone(), r1, "ana", None, &[], Some(invalid))
            .await
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    // A dry run is a question, not a write: not logged.
    let ask = json!({"base_version": 3, "fields": {"notes": "asked", "status": "open"}});
    assert_eq!(
        s.send(
            put.clone(),
            &format!("{r1}?dry_run=true"),
            "ana",
            None,
            &[],
            Some(ask)
        )
        .await
        .0,
        StatusCode::OK
    );
    let cid = parked["conflict_id"].as_str().unwrap();
    let detail = s
        .client
        .get(format!("{}/v1/conflicts/{cid}", s.base))
        .bearer_auth("sue-token")
        .send()
        .await
        .unwrap();
    let tag = detail.headers()["etag"].to_str().unwrap().to_owned();
    let resolution = json!({"fields": {"notes": "both", "status": "passed"}});
    let path = format!("/v1/conflicts/{cid}/resolution");
    let (status, current, _) = s
        .send(
            Method::POST,
            &path,
            "sue",
            None,
            &[("If-Match", &tag)],
            Some(resolution),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let current = current.unwrap();
    assert_eq!(
        s.send(
            Method::DELETE,
            r1,
            "sue",
            None,
            &[("If-Match", &current)],
            None
        )
        .await
        .0,
        StatusCode::OK
    );

    let all = s.syncs("").await;
    assert_eq!(
        outcomes(&all),
        [
            "deleted",
            "resolved",
            "invalid",
            "stale",
            "edit-conflict",
            "replayed",
            "auto-merged",
            "applied",
            "refused",
            "refused",
            "created"
        ],
        "newest first, one entry a write, the dry run left out"
    );
    let entries = all["syncs"].as_array().unwrap();
    let conflict = &entries[4];
    assert_eq!(
        (
            conflict["status"].as_u64(),
            conflict["conflict_id"].as_str(),
            conflict["device_id"].as_str(),
            conflict["user"].as_str()
        ),
        (Some(409), Some(cid), Some("web"), Some("ben"))
    );
    assert_eq!(conflict["paths"], json!(["/notes"]));
    assert_eq!(conflict["problem"], "edit-conflict");
    // What each sync was based on and came to, so that it can explain itself.
    assert_eq!(
        (
            conflict["base_version"].as_u64(),
            conflict["version"].as_u64()
        ),
        (Some(1), Some(3)),
        "based on 1, met the server's 3"
    );
    let merge = &entries[6];
    assert_eq!(
        (merge["base_version"].as_u64(), merge["version"].as_u64()),
        (Some(1), Some(3))
    );
    assert_eq!(
        merge["paths"],
        json!(["/notes"]),
        "ana's own change, applied"
    );
    assert_eq!(merge["kept"], json!(["/status"]), "ben's change, kept");
    assert_eq!(
        (
            entries[7]["base_version"].as_u64(),
            entries[7]["version"].as_u64()
        ),
        (Some(1), Some(2))
    );
    assert_eq!(entries[7]["kept"], json!([]));
    assert_eq!(
        entries[10]["version"].as_u64(),
        Some(1),
        "the create made version 1"
    );
    let refused = &entries[2];
    assert_eq!(refused["paths"], json!(["/status"]));
    assert!(
        refused["body"].as_str().unwrap().contains("maybe"),
        "what the device sent is kept: {refused}"
    );
    assert_eq!(entries[3]["problem"], "precondition-failed");
    let forbidden = &entries[8];
    assert_eq!(
        (
            forbidden["user"].as_str(),
            forbidden["method"].as_str(),
            forbidden["status"].as_u64()
        ),
        (Some("ana"), Some("DELETE"), Some(403))
    );
    assert_eq!(forbidden["record_id"], "R1");
    assert_eq!(
        entries[9]["user"], "(unknown)",
        "a token nobody has names nobody"
    );
    assert_eq!(entries[9]["status"], 401);
    assert_eq!(
        entries[10]["body"],
        Value::Null,
        "an accepted write's body is its record, not kept twice"
    );
    assert_eq!(
        (
            entries[1]["method"].as_str(),
            entries[1]["record_id"].as_str()
        ),
        (Some("RESOLVE"), Some("R1"))
    );
    let seqs: Vec<u64> = entries.iter().map(|e| e["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] > w[1]), "{seqs:?}");

    // Filters, and pages that neither lose nor repeat an entry.
    assert_eq!(
        outcomes(&s.syncs("?user=ben").await),
        ["edit-conflict", "applied"]
    );
    assert_eq!(outcomes(&s.syncs("?outcome=stale").await), ["stale"]);
    assert_eq!(
        outcomes(&s.syncs("?device=tab-1").await),
        ["replayed", "auto-merged"]
    );
    let mut paged = Vec::new();
    let mut query = "?limit=4".to_string();
    loop {
        let page = s.syncs(&query).await;
        paged.extend(outcomes(&page));
        match page["next"].as_str() {
            Some(next) => query = format!("?limit=4&cursor={next}"),
            None => break,
        }
    }
    assert_eq!(paged, outcomes(&all));
    let (status, _, _) = s
        .send(Method::GET, "/v1/syncs", "ana", None, &[], None)
        .await;
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "technicians do not read the log"
    );
    let (status, _, _) = s
        .send(
            Method::GET,
            "/v1/syncs?outcome=lucky",
            "sue",
            None,
            &[],
            None,
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The numbers behind "a third of syncs fail", counted by hand from the morning above:
    // 11 writes, of which 409 + 412 + 422 = 3.
    let (status, _, by_user) = stats(&s, "?by=user").await;
    assert_eq!(status, StatusCode::OK, "{by_user}");
    assert_eq!(
        (by_user["writes"].as_u64(), by_user["refused"].as_u64()),
        (Some(11), Some(3))
    );
    assert!((by_user["refused_share"].as_f64().unwrap() - 3.0 / 11.0).abs() < 1e-9);
    let group = |name: &str| {
        by_user["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["group"] == name)
            .unwrap_or_else(|| panic!("no group {name}: {by_user}"))
            .clone()
    };
    let ana = group("ana");
    assert_eq!(
        (ana["writes"].as_u64(), ana["refused"].as_u64()),
        (Some(6), Some(2))
    );
    assert_eq!(
        ana["outcomes"],
        json!({"created": 1, "refused": 1, "auto-merged": 1, "replayed": 1, "stale": 1, "invalid": 1})
    );
    assert_eq!(
        group("ben")["outcomes"],
        json!({"applied": 1, "edit-conflict": 1})
    );
    assert_eq!(
        group("(unknown)")["refused"],
        0,
        "a 401 is refused, not a failed sync"
    );
    let (_, _, by_day) = stats(&s, "?by=day").await;
    assert_eq!(by_day["groups"].as_array().unwrap().len(), 1);
    assert_eq!(by_day["groups"][0]["writes"], 11);
    let (_, _, future) = stats(&s, "?since=2999-01-01T00:00:00Z").await;
    assert_eq!(
        (future["writes"].as_u64(), future["refused_share"].as_f64()),
        (Some(0), Some(0.0))
    );
    assert_eq!(stats(&s, "?by=weekday").await.0, StatusCode::BAD_REQUEST);
    let (status, _, _) = s
        .send(Method::GET, "/v1/stats", "ana", None, &[], None)
        .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

/// `GET /v1/stats` as sue.
async fn stats(s: &Server, query: &str) -> (StatusCode, Option<String>, Value) {
    let path = format!("/v1/stats{query}");
    s.send(Method::GET, &path, "sue", None, &[], None).await
}

/// A genuine conflict on `id`: ben's web edit of the notes, then ana's tablet's; its id.
async fn conflict_on(s: &Server, id: &str) -> String {
    let create = json!({"id": id, "fields": {"notes": "a", "status": "open"}});
    let (status, _, _) = s
        .send(
            Method::POST,
            "/v1/inspections",
            "ana",
            None,
            &[],
            Some(create),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let path = format!("/v1/inspections/{id}");
    let ben = json!({"base_version": 1, "fields": {"notes": "ben's", "status": "open"}});
    assert_eq!(
        s.send(Method::PUT, &path, "ben", None, &[], Some(ben))
            .await
            .0,
        StatusCode::OK
    );
    let ana = json!({"base_version": 1, "device_id": "tab-1", "fields": {"notes": "ana's", "status": "open"}});
    let (status, _, parked) = s
        .send(Method::PUT, &path, "ana", None, &[], Some(ana))
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    parked["conflict_id"].as_str().unwrap().to_owned()
}

async fn the_audit_trail_says_who_chose_what_newest_first(engine: Kind) {
    let db = TestDb::new(engine);
    let s = Server::start(&db).await;
    let first = conflict_on(&s, "A1").await;
    let second = conflict_on(&s, "A2").await;
    for (cid, notes, choice) in [(&first, "ana's", "local"), (&second, "ben's", "server")] {
        let detail = s
            .client
            .get(format!("{}/v1/conflicts/{cid}", s.base))
            .bearer_auth("sue-token")
            .send()
            .await
            .unwrap();
        let tag = detail.headers()["etag"].to_str().unwrap().to_owned();
        let body =
            json!({"fields": {"notes": notes, "status": "open"}, "choices": {"/notes": choice}});
        let path = format!("/v1/conflicts/{cid}/resolution");
        let (status, _, _) = s
            .send(
                Method::POST,
                &path,
                "sue",
                None,
                &[("If-Match", &tag)],
                Some(body),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let audit = |query: &str| {
        let path = format!("/v1/audit{query}");
        let s = &s;
        async move { s.send(Method::GET, &path, "sue", None, &[], None).await }
    };
    let (status, _, trail) = audit("").await;
    assert_eq!(status, StatusCode::OK, "{trail}");
    let resolutions = trail["resolutions"].as_array().unwrap();
    let ids: Vec<&str> = resolutions
        .iter()
        .map(|r| r["conflict_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [second.as_str(), first.as_str()], "newest first");
    let older = &resolutions[1];
    assert_eq!(
        (
            older["by"].as_str(),
            older["record_id"].as_str(),
            older["kind"].as_str()
        ),
        (Some("sue"), Some("A1"), Some("edit-conflict"))
    );
    assert_eq!(older["resulting_version"], 3);
    assert_eq!(
        older["fields"],
        json!([{"path": "/notes", "choice": "local", "value": "ana's", "discarded": {"server": "ben's"}}])
    );
    assert_eq!(
        resolutions[0]["fields"][0]["discarded"],
        json!({"local": "ana's"})
    );
    assert_eq!(audit("?by=tom").await.2["resolutions"], json!([]));
    // A page at a time: no resolution lost or repeated.
    let (_, _, page) = audit("?limit=1").await;
    assert_eq!(page["resolutions"][0]["conflict_id"], second.as_str());
    let next = page["next"].as_str().unwrap().to_owned();
    let (_, _, page) = audit(&format!("?limit=1&cursor={next}")).await;
    assert_eq!(page["resolutions"][0]["conflict_id"], first.as_str());
    let next = page["next"].as_str().unwrap().to_owned();
    let (_, _, page) = audit(&format!("?limit=1&cursor={next}")).await;
    assert_eq!(
        (page["resolutions"].as_array().unwrap().len(), &page["next"]),
        (0, &Value::Null)
    );
    assert_eq!(audit("?cursor=yesterday").await.0, StatusCode::BAD_REQUEST);
}

async fn entries_older_than_the_retention_go_as_new_ones_come(engine: Kind) {
    let db = TestDb::new(engine);
    let clock = Clock::set_to("2026-11-20T08:00:00.000Z".parse().unwrap());
    let config = format!("sync_log_days = 1\n{CONFIG}");
    let s = Server::start_with(&db, &config, clock.clone()).await;
    let create = |id: String| {
        let body = json!({"id": id, "fields": {"notes": "n", "status": "open"}});
        let s = &s;
        async move {
            let answer = s
                .send(
                    Method::POST,
                    "/v1/inspections",
                    "ana",
                    None,
                    &[],
                    Some(body),
                )
                .await;
            assert_eq!(answer.0, StatusCode::CREATED);
        }
    };
    for i in 0..6 {
        create(format!("OLD-{i}")).await;
    }
    // Two days on, each new entry takes a few of the expired with it.
    clock.set("2026-11-22T08:00:00.000Z".parse().unwrap());
    create("NEW-1".into()).await;
    let ids = |page: &Value| -> Vec<String> {
        page["syncs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["record_id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&s.syncs("").await), ["NEW-1", "OLD-5", "OLD-4"]);
    create("NEW-2".into()).await;
    assert_eq!(
        ids(&s.syncs("").await),
        ["NEW-2", "NEW-1"],
        "the log is back within its day"
    );
}

/// A create that names no id gets one from the server; its entry names that id and the
/// version made, and so does the entry of its retry.
async fn a_create_without_an_id_is_logged_under_the_id_it_was_given(engine: Kind) {
    let db = TestDb::new(engine);
    let s = Server::start(&db).await;
    let create = json!({"fields": {"notes": "a", "status": "open"}});
    let mut given = Vec::new();
    for _ in 0..2 {
        let (status, _, record) = s
            .send(
                Method::POST,
                "/v1/inspections",
                "ana",
                Some("no-id"),
                &[],
                Some(create.clone()),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{record}");
        given.push(record["id"].as_str().unwrap().to_owned());
    }
    assert_eq!(given[0], given[1], "the retry is answered as before");
    let page = s.syncs("").await;
    let entries = page["syncs"].as_array().unwrap();
    let logged: Vec<_> = entries
        .iter()
        .map(|e| {
            (
                e["outcome"].as_str().unwrap(),
                e["record_id"].as_str().unwrap(),
                e["version"].as_u64(),
            )
        })
        .collect();
    assert_eq!(
        logged,
        [
            ("replayed", given[0].as_str(), Some(1)),
            ("created", given[0].as_str(), Some(1))
        ]
    );
}

on_both_engines! {
    a_create_without_an_id_is_logged_under_the_id_it_was_given,
    entries_older_than_the_retention_go_as_new_ones_come,
    every_write_is_logged_with_what_it_came_to,
    the_audit_trail_says_who_chose_what_newest_first,
}
