//! The live queue (section 8a) on both engines: advisory claims, and the queue's changes
//! as Server-Sent Events, resumable with `Last-Event-ID`.

mod engines;

use std::time::Duration;

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

[[users]]
name = "tom"
role = "supervisor"
token = "tom-token"

[types.inspections]
[types.inspections.fields]
notes = { type = "text" }
"#;

struct Server {
    base: String,
    client: Client,
}

async fn start(db: &TestDb) -> Server {
    start_with(db, CONFIG, Clock::system()).await
}

/// A server with this configuration, on this clock.
async fn start_with(db: &TestDb, config: &str, clock: Clock) -> Server {
    let (base, _) = engines::serve_on(db, config, clock).await;
    Server {
        base,
        client: Client::new(),
    }
}

static KEY: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl Server {
    async fn call(
        &self,
        method: Method,
        path: &str,
        user: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let n = KEY.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut request = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(format!("{user}-token"))
            .header("Idempotency-Key", format!("k-{n}"));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let answer = request.send().await.unwrap();
        let status = answer.status();
        (status, answer.json().await.unwrap_or(Value::Null))
    }

    /// A genuine conflict on record `id`: its conflict id.
    async fn genuine_conflict(&self, id: &str) -> String {
        let create = json!({"id": id, "fields": {"notes": "a"}});
        assert_eq!(
            self.call(Method::POST, "/v1/inspections", "ana", Some(create))
                .await
                .0,
            StatusCode::CREATED
        );
        let path = format!("/v1/inspections/{id}");
        let ben = json!({"base_version": 1, "fields": {"notes": "ben's"}});
        assert_eq!(
            self.call(Method::PUT, &path, "ben", Some(ben)).await.0,
            StatusCode::OK
        );
        let ana = json!({"base_version": 1, "device_id": "tab-1", "fields": {"notes": "ana's"}});
        let (status, parked) = self.call(Method::PUT, &path, "ana", Some(ana)).await;
        assert_eq!(status, StatusCode::CONFLICT, "{parked}");
        parked["conflict_id"].as_str().unwrap().to_owned()
    }

    async fn events(&self, user: &str, last_event_id: Option<&str>) -> Events {
        let mut request = self
            .client
            .get(format!("{}/v1/events", self.base))
            .bearer_auth(format!("{user}-token"));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()["content-type"], "text/event-stream");
        Events {
            response,
            buffer: String::new(),
        }
    }
}

/// An event stream as a client reads it.
struct Events {
    response: reqwest::Response,
    buffer: String,
}

#[derive(Debug)]
struct Received {
    id: String,
    kind: String,
    data: Value,
}

impl Events {
    /// The next event (comments skipped), within five seconds.
    async fn next(&mut self) -> Received {
        tokio::time::timeout(Duration::from_secs(5), async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    let field = |name: &str| {
                        block
                            .lines()
                            .find_map(|line| line.strip_prefix(name))
                            .map(str::to_owned)
                    };
                    if let Some(kind) = field("event: ") {
                        return Received {
                            id: field("id: ").unwrap_or_default(),
                            kind,
                            data: serde_json::from_str(&field("data: ").unwrap()).unwrap(),
                        };
                    }
                    continue;
                }
                let chunk = self
                    .response
                    .chunk()
                    .await
                    .unwrap()
                    .expect("the stream goes on");
                self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
            }
        })
        .await
        .expect("an event within 5 s")
    }
}

async fn claims_hold_name_their_holder_and_end_with_the_resolution(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start(&db).await;
    let cid = s.genuine_conflict("CL-1").await;
    let claim = format!("/v1/conflicts/{cid}/claim");
    let (status, taken) = s.call(Method::POST, &claim, "sue", None).await;
    assert_eq!(
        (status, taken["claimed_by"].as_str()),
        (StatusCode::OK, Some("sue"))
    );
    let until: syncdesk::model::UtcMillis =
        taken["claimed_until"].as_str().unwrap().parse().unwrap();
    let left = until.as_millis() - syncdesk::model::UtcMillis::now().as_millis();
    assert!(
        (110_000..=120_000).contains(&left),
        "a claim lives 120 s: {left} ms left"
    );
    let (status, refused) = s.call(Method::POST, &claim, "tom", None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(refused["type"], "https://syncdesk.dev/problems/claimed");
    assert_eq!(refused["claimed_by"], "sue");
    let (_, queue) = s.call(Method::GET, "/v1/conflicts", "tom", None).await;
    assert_eq!(
        queue["conflicts"][0]["claimed_by"], "sue",
        "the list says who is on it"
    );
    assert_eq!(
        queue["conflicts"][0]["claimed_until"],
        taken["claimed_until"]
    );
    assert_eq!(
        s.call(Method::DELETE, &claim, "tom", None).await.0,
        StatusCode::CONFLICT,
        "not tom's to release"
    );
    assert_eq!(
        s.call(Method::POST, &claim, "sue", None).await.0,
        StatusCode::OK,
        "renewed"
    );
    assert_eq!(
        s.call(Method::DELETE, &claim, "sue", None).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        s.call(Method::DELETE, &claim, "sue", None).await.0,
        StatusCode::NO_CONTENT,
        "nothing held: still 204"
    );
    let (_, queue) = s.call(Method::GET, "/v1/conflicts", "tom", None).await;
    assert_eq!(queue["conflicts"][0]["claimed_by"], Value::Null);
    assert_eq!(
        s.call(Method::POST, &claim, "tom", None).await.0,
        StatusCode::OK
    );
    // A resolution (by sue: a claim is advisory) releases tom's claim.
    let detail = s
        .client
        .get(format!("{}/v1/conflicts/{cid}", s.base))
        .bearer_auth("sue-token")
        .send()
        .await
        .unwrap();
    let etag = detail.headers()["etag"].to_str().unwrap().to_owned();
    let resolved = s
        .client
        .post(format!("{}/v1/conflicts/{cid}/resolution", s.base))
        .bearer_auth("sue-token")
        .header("Idempotency-Key", "resolve-1")
        .header("If-Match", etag)
        .json(&json!({"fields": {"notes": "both"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(resolved.status(), StatusCode::OK);
    let (_, all) = s
        .call(Method::GET, "/v1/conflicts?status=all", "sue", None)
        .await;
    assert_eq!(
        all["conflicts"][0]["claimed_by"],
        Value::Null,
        "the resolution released it"
    );
    let (status, closed) = s.call(Method::POST, &claim, "tom", None).await;
    assert_eq!(
        (status, closed["type"].as_str()),
        (
            StatusCode::CONFLICT,
            Some("https://syncdesk.dev/problems/conflict-closed")
        )
    );
    assert_eq!(
        s.call(Method::POST, "/v1/conflicts/c-999999/claim", "sue", None)
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}

async fn events_follow_the_queue_and_resume_without_a_gap(engine: Kind) {
    let db = TestDb::new(engine);
    let s = start(&db).await;
    let early = s.genuine_conflict("EV-0").await;
    // A new subscriber hears what happens from now on, not the past.
    let mut events = s.events("sue", None).await;
    let cid = s.genuine_conflict("EV-1").await;
    let opened = events.next().await;
    assert_eq!(
        (opened.kind.as_str(), opened.data["id"].as_str()),
        ("conflict-opened", Some(cid.as_str()))
    );
    assert_eq!(opened.data["record_id"], "EV-1");
    assert_eq!(opened.data["status"], "open");
    let claim = format!("/v1/conflicts/{cid}/claim");
    s.call(Method::POST, &claim, "sue", None).await;
    let claimed = events.next().await;
    assert_eq!(
        (claimed.kind.as_str(), claimed.data["claimed_by"].as_str()),
        ("conflict-claimed", Some("sue"))
    );
    s.call(Method::DELETE, &claim, "sue", None).await;
    let released = events.next().await;
    assert_eq!(released.kind, "conflict-released");
    let seen: Vec<u64> = [&opened, &claimed, &released]
        .iter()
        .map(|e| e.id.parse().unwrap())
        .collect();
    assert!(
        seen.windows(2).all(|w| w[1] == w[0] + 1),
        "numbered in order: {seen:?}"
    );
    // Gone for a while: what happened meanwhile comes on return, in order, none missed.
    drop(events);
    s.call(
        Method::POST,
        &format!("/v1/conflicts/{early}/claim"),
        "tom",
        None,
    )
    .await;
    let third = s.genuine_conflict("EV-2").await;
    let mut events = s.events("sue", Some(&released.id)).await;
    let missed = [events.next().await, events.next().await];
    assert_eq!(
        missed
            .iter()
            .map(|e| (e.kind.as_str(), e.data["id"].as_str().unwrap()))
            .collect::<Vec<_>>(),
        [
            ("conflict-claimed", early.as_str()),
            ("conflict-opened", third.as_str())
        ]
    );
    assert_eq!(missed[0].id.parse::<u64>().unwrap(), seen[2] + 1);
    let bad = s
        .client
        .get(format!("{}/v1/events", s.base))
        .bearer_auth("sue-token")
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
}

async fn events_older_than_the_retention_go_as_new_writes_come(engine: Kind) {
    let db = TestDb::new(engine);
    let clock = Clock::set_to("2026-11-20T08:00:00.000Z".parse().unwrap());
    let s = start_with(&db, &format!("sync_log_days = 1\n{CONFIG}"), clock.clone()).await;
    let old = s.genuine_conflict("OLD").await;
    clock.set("2026-11-22T08:00:00.000Z".parse().unwrap());
    let new = s.genuine_conflict("NEW").await;
    // From the very start: the old conflict's event went with the old log entries.
    let mut events = s.events("sue", Some("0")).await;
    let first = events.next().await;
    assert_eq!(
        (first.kind.as_str(), first.data["id"].as_str()),
        ("conflict-opened", Some(new.as_str())),
        "{old} opened two days ago, beyond the retention"
    );
}

on_both_engines! {
    events_older_than_the_retention_go_as_new_writes_come,
    claims_hold_name_their_holder_and_end_with_the_resolution,
    events_follow_the_queue_and_resume_without_a_gap,
}
