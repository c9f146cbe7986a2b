//! The demo's morning: a day's inspections created, then technicians' offline syncs
//! replayed through the real protocol (HTTP, the server's own rules) — clocks in another
//! time zone, a retry after a dropped connection, a site removed from the master data, a
//! record deleted while a tablet still edited it, the same field edited twice. What is a
//! false alarm merges; what is genuine lands in the supervisors' queue.

use serde_json::{Value, json};

use crate::model::UtcMillis;
use crate::server::clock::Clock;

/// The day of the morning; its times are UTC.
const DAY: &str = "2026-11-20";

/// One sync of the morning and how the server answered it.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    /// When it happened, on the server's clock (which the demo sets to the story's time).
    pub at: UtcMillis,
    pub what: &'static str,
    pub status: u16,
    /// The server's answer in a few words (`merged: /checklist/c2/ok`, `parked c-000001`).
    pub outcome: String,
}

/// The demo data: master data and the records the office creates (`assets/demo/`).
const DATA: &str = include_str!("../assets/demo/data.json");

/// The demo's tokens (`assets/demo/syncdesk.toml`).
pub const SUPERVISOR_TOKEN: &str = "demo-sue";

struct Demo {
    http: reqwest::Client,
    base: String,
    steps: Vec<Step>,
    keys: u64,
    clock: Clock,
}

/// When the morning begins: what a server replaying it should show as its time first.
pub fn start() -> UtcMillis {
    at("07:00")
}

/// `08:10` of the morning's day.
fn at(time: &str) -> UtcMillis {
    format!("{DAY}T{time}:00Z")
        .parse()
        .unwrap_or_else(|_| UtcMillis::now())
}

impl Demo {
    /// The story moves on to `time`: what the server writes next is stamped then.
    fn clock_at(&self, time: &str) -> UtcMillis {
        let now = at(time);
        self.clock.set(now);
        now
    }

    /// One request as a demo user; a fresh idempotency key unless `headers` names one.
    async fn call(
        &mut self,
        method: reqwest::Method,
        path: &str,
        user: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<(u16, Value, reqwest::header::HeaderMap), String> {
        self.keys += 1;
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(format!("demo-{user}"));
        if !headers.iter().any(|(name, _)| *name == "Idempotency-Key") {
            request = request.header("Idempotency-Key", format!("demo-{}", self.keys));
        }
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.map_err(|e| format!("{path}: {e}"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.map_err(|e| format!("{path}: {e}"))?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((status, value, headers))
    }

    /// A sync (PUT with `base_version`), recorded as a step of the morning.
    async fn sync(
        &mut self,
        time: &'static str,
        what: &'static str,
        user: &str,
        id: &str,
        body: Value,
        key: Option<&str>,
    ) -> Result<u16, String> {
        let at = self.clock_at(time);
        let path = format!("/v1/inspections/{id}");
        let headers: Vec<(&str, &str)> = key.map(|k| ("Idempotency-Key", k)).into_iter().collect();
        let (status, answer, reply_headers) = self
            .call(reqwest::Method::PUT, &path, user, &headers, Some(body))
            .await?;
        let replayed = reply_headers
            .get("idempotent-replayed")
            .is_some_and(|v| v == "true");
        let outcome = describe(status, &answer, replayed);
        self.steps.push(Step {
            at,
            what,
            status,
            outcome,
        });
        Ok(status)
    }

    async fn expect(
        &mut self,
        method: reqwest::Method,
        path: &str,
        user: &str,
        headers: &[(&str, &str)],
        body: Option<Value>,
        ok: u16,
    ) -> Result<(Value, reqwest::header::HeaderMap), String> {
        let (status, value, headers) = self.call(method, path, user, headers, body).await?;
        if status != ok {
            return Err(format!("{path}: the server answered {status}: {value}"));
        }
        Ok((value, headers))
    }
}

/// The server's answer in a few words.
fn describe(status: u16, answer: &Value, replayed: bool) -> String {
    let list = |v: &Value| {
        v.as_array()
            .map(|a| {
                a.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", ")
            })
            .unwrap_or_default()
    };
    let merged = list(&answer["merge"]["auto_merged"]);
    match status {
        200 if replayed => "the same answer again, applied once (Idempotent-Replayed)".into(),
        200 if !merged.is_empty() => {
            let kept = list(&answer["merge"]["kept_server"]);
            let beside = if kept.is_empty() {
                String::new()
            } else {
                format!(" beside the server's {kept}")
            };
            format!("version {}: merged {merged}{beside}", answer["version"])
        }
        200 => format!("version {}", answer["version"]),
        _ => format!(
            "{}: {} (queued as {})",
            answer["type"]
                .as_str()
                .and_then(|t| t.rsplit('/').next())
                .unwrap_or("refused"),
            list(&answer["conflicting_paths"]),
            answer["conflict_id"].as_str().unwrap_or("-")
        ),
    }
}

/// The fields of a demo record, changed by `edit`.
fn fields_of(data: &Value, id: &str, edit: impl FnOnce(&mut Value)) -> Value {
    let mut fields = data["records"]["inspections"]
        .as_array()
        .and_then(|records| records.iter().find(|r| r["id"] == id))
        .map(|r| r["fields"].clone())
        .unwrap_or(Value::Null);
    edit(&mut fields);
    fields
}

/// Creates the day's records on the server at `base` and replays the morning; returns
/// each sync and its answer. The queue then holds one conflict of each kind. `clock` is
/// the server's: set to each step's time, so that the server's stamps tell the same
/// morning (the system clock is left alone).
pub async fn replay(base: &str, clock: &Clock) -> Result<Vec<Step>, String> {
    let data: Value = serde_json::from_str(DATA).map_err(|e| format!("demo data: {e}"))?;
    let mut demo = Demo {
        http: reqwest::Client::new(),
        base: base.trim_end_matches('/').to_string(),
        steps: Vec::new(),
        keys: 0,
        clock: clock.clone(),
    };
    // 07:00 the office plans the day.
    demo.clock_at("07:00");
    use reqwest::Method;
    let sites = data["master"]["sites"].clone();
    demo.expect(
        Method::PUT,
        "/v1/master/sites",
        "root",
        &[],
        Some(json!({"items": sites})),
        200,
    )
    .await?;
    for record in data["records"]["inspections"]
        .as_array()
        .into_iter()
        .flatten()
    {
        demo.expect(
            Method::POST,
            "/v1/inspections",
            "sue",
            &[],
            Some(record.clone()),
            201,
        )
        .await?;
    }

    // 08:10 ben, at the office, notes on the web what he did at the north plant.
    let ben_notes = fields_of(&data, "INS-1001", |f| {
        f["notes"] = "Pump P2 on the north side: slight leak at the flange. Pressure normal. Access through gate C; gate B is locked.".into();
    });
    demo.sync(
        "08:10",
        "ben edits INS-1001's notes on the web",
        "ben",
        "INS-1001",
        json!({"base_version": 1, "fields": ben_notes}),
        None,
    )
    .await?;
    // 08:40 ben, again on the web, sets INS-1002's status.
    let ben_status = fields_of(&data, "INS-1002", |f| f["status"] = "passed".into());
    demo.sync(
        "08:40",
        "ben passes INS-1002 on the web",
        "ben",
        "INS-1002",
        json!({"base_version": 1, "fields": ben_status}),
        None,
    )
    .await?;

    // 09:05 ana's tablet (clock at +01:00) comes back online with two forms edited offline.
    let ana_1002 = fields_of(&data, "INS-1002", |f| {
        f["checklist"][0]["ok"] = true.into();
        f["checklist"][1]["ok"] = true.into();
        f["inspected_at"] = "2026-11-20T10:00:00+01:00".into();
    });
    let body = json!({"base_version": 1, "device_id": "tab-17", "device_seq": 1,
                      "captured_at": "2026-11-20T09:55:00+01:00", "fields": ana_1002});
    demo.sync(
        "09:05",
        "ana's tablet syncs INS-1002 (clock at +01:00)",
        "ana",
        "INS-1002",
        body.clone(),
        Some("tab-17-seq-1"),
    )
    .await?;
    // The connection dropped before the answer arrived: the tablet sends it again.
    demo.sync(
        "09:05",
        "ana's tablet retries after a dropped connection",
        "ana",
        "INS-1002",
        body,
        Some("tab-17-seq-1"),
    )
    .await?;
    let ana_1001 = fields_of(&data, "INS-1001", |f| {
        f["notes"] =
            "Pump P2 on the north side: heavy leak at the flange, the gasket must be replaced. Pressure normal. Access through gate B."
                .into();
        f["temperature"] = 23.5.into();
        f["checklist"][0]["ok"] = false.into();
        f["inspected_at"] = "2026-11-20T09:30:00+01:00".into();
    });
    demo.sync(
        "09:06",
        "ana's tablet syncs INS-1001: the notes ben also edited",
        "ana",
        "INS-1001",
        json!({"base_version": 1, "device_id": "tab-17", "device_seq": 2,
                     "captured_at": "2026-11-20T09:40:00+01:00", "fields": ana_1001}),
        None,
    )
    .await?;

    // 09:20 the old mill substation closes: S-3 leaves the master data.
    demo.clock_at("09:20");
    let open_sites: Vec<Value> = sites
        .as_array()
        .into_iter()
        .flatten()
        .filter(|s| s["id"] != "S-3")
        .cloned()
        .collect();
    demo.expect(
        Method::PUT,
        "/v1/master/sites",
        "root",
        &[],
        Some(json!({"items": open_sites})),
        200,
    )
    .await?;
    // 09:30 sue deletes INS-1005, planned twice by mistake.
    demo.clock_at("09:30");
    let (_, headers) = demo
        .expect(
            Method::GET,
            "/v1/inspections/INS-1005",
            "sue",
            &[],
            None,
            200,
        )
        .await?;
    let etag = headers
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    demo.expect(
        Method::DELETE,
        "/v1/inspections/INS-1005",
        "sue",
        &[("If-Match", &etag)],
        None,
        200,
    )
    .await?;

    // 10:15 ben's tablet, offline since 07:00, syncs what he did in the field.
    let ben_1003 = fields_of(&data, "INS-1003", |f| {
        f["notes"] = "Transformer oil level checked: fine. Door lock broken.".into();
        f["status"] = "failed".into();
    });
    demo.sync(
        "10:15",
        "ben's tablet syncs INS-1003 at the closed site S-3",
        "ben",
        "INS-1003",
        json!({"base_version": 1, "device_id": "tab-04", "device_seq": 1,
                     "captured_at": "2026-11-20T09:10:00Z", "fields": ben_1003}),
        None,
    )
    .await?;
    let ben_1005 = fields_of(&data, "INS-1005", |f| {
        f["notes"] = "Booster pump vibrates above 2,000 rpm.".into();
        f["temperature"] = 41.into();
    });
    demo.sync(
        "10:16",
        "ben's tablet syncs INS-1005, deleted meanwhile",
        "ben",
        "INS-1005",
        json!({"base_version": 1, "device_id": "tab-04", "device_seq": 2,
                     "captured_at": "2026-11-20T09:45:00Z", "fields": ben_1005}),
        None,
    )
    .await?;
    Ok(demo.steps)
}
