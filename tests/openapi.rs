//! `assets/openapi.yaml` and the real router agree: every documented route answers, and
//! the documented routes are exactly the served ones.

mod engines;

use engines::{Kind, TestDb};
use std::collections::BTreeSet;
use std::sync::Arc;

use syncdesk::server::config::Config;
use syncdesk::server::http::{AppState, routes, serve};

/// (method, path) pairs of the `paths:` section: paths at two spaces, methods at four.
fn documented() -> BTreeSet<(String, String)> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/openapi.yaml"))
        .unwrap();
    let mut in_paths = false;
    let mut path = String::new();
    let mut out = BTreeSet::new();
    for line in text.lines() {
        if !line.starts_with(' ') {
            in_paths = line == "paths:";
            continue;
        }
        if !in_paths {
            continue;
        }
        if let Some(p) = line.strip_prefix("  ").filter(|l| l.starts_with('/')) {
            path = p.trim_end_matches(':').to_string();
        } else if let Some(m) = line.strip_prefix("    ").and_then(|l| l.strip_suffix(':'))
            && ["get", "put", "post", "delete", "patch"].contains(&m)
        {
            out.insert((m.to_uppercase(), path.clone()));
        }
    }
    out
}

#[test]
fn the_documented_routes_are_exactly_the_served_ones() {
    let served: BTreeSet<(String, String)> = routes()
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented(), served);
}

#[tokio::test]
async fn every_documented_route_is_answered_by_the_router() {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::from_toml(
        "[[users]]\nname = \"root\"\nrole = \"admin\"\ntoken = \"root-token\"\n[types.inspections.fields]\nnotes = { type = \"text\" }\n",
    )
    .unwrap();
    let state = Arc::new(AppState::open(config, dir.path().join("s.db")).unwrap());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(serve(state, listener));
    let client = reqwest::Client::new();
    for (method, path) in documented() {
        let concrete = path
            .replace("{record_type}", "inspections")
            .replace("{id}", "INS-1")
            .replace("{n}", "1")
            .replace("{cid}", "c-000001")
            .replace("{list}", "sites");
        let response = client
            .request(method.parse().unwrap(), format!("{base}{concrete}"))
            .bearer_auth("root-token")
            .header("Idempotency-Key", "k")
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        let status = response.status();
        // The event stream never ends: its answer is routed if it is a stream at all.
        let streaming = response.headers().get("content-type")
            == Some(&reqwest::header::HeaderValue::from_static(
                "text/event-stream",
            ));
        let body: serde_json::Value = if streaming {
            serde_json::Value::Null
        } else {
            response.json().await.unwrap_or_default()
        };
        // The router's own misses say "no route" (404) or 405; a handler answers otherwise.
        assert_ne!(
            status,
            reqwest::StatusCode::METHOD_NOT_ALLOWED,
            "{method} {path}"
        );
        assert!(
            !body["detail"]
                .as_str()
                .unwrap_or_default()
                .starts_with("no route for"),
            "{method} {path}: not routed"
        );
    }
    task.abort();
}

/// The statuses each documented operation lists, by (METHOD, path).
fn documented_statuses() -> std::collections::BTreeMap<(String, String), BTreeSet<u16>> {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/assets/openapi.yaml"))
        .unwrap();
    let mut out = std::collections::BTreeMap::new();
    let (mut path, mut method) = (String::new(), String::new());
    for line in text.lines() {
        if let Some(p) = line.strip_prefix("  /") {
            path = format!("/{}", p.trim_end_matches(':'));
        } else if let Some(m) = line.strip_prefix("    ").and_then(|l| l.strip_suffix(':'))
            && ["get", "put", "post", "delete"].contains(&m)
        {
            method = m.to_uppercase();
        } else if let Some(code) = line
            .strip_prefix("        \"")
            .and_then(|l| l.get(..3))
            .and_then(|c| c.parse::<u16>().ok())
        {
            out.entry((method.clone(), path.clone()))
                .or_insert_with(BTreeSet::new)
                .insert(code);
        }
    }
    out
}

/// A request of the battery: what to send to a route.
struct Probe {
    token: Option<&'static str>,
    record_type: &'static str,
    body: Option<(&'static str, &'static str)>,
    key: bool,
    query: &'static str,
    if_match: Option<&'static str>,
}

async fn every_status_a_route_answers_to_hostile_requests_is_documented(engine: Kind) {
    let db = TestDb::new(engine);
    let config = "max_body_bytes = 256\n[[users]]\nname = \"ana\"\nrole = \"technician\"\ntoken = \"ana-token\"\n\
         [[users]]\nname = \"root\"\nrole = \"admin\"\ntoken = \"root-token\"\n\
         [types.inspections.fields]\nnotes = { type = \"text\" }\n";
    let (base, task) =
        engines::serve_on(&db, config, syncdesk::server::clock::Clock::system()).await;
    let client = reqwest::Client::new();
    let huge: &'static str = Box::leak(
        format!("{{\"fields\": {{\"notes\": \"{}\"}}}}", "x".repeat(400)).into_boxed_str(),
    );
    let json = "application/json";
    let probes = [
        Probe {
            token: None,
            record_type: "inspections",
            body: Some(("{}", json)),
            key: true,
            query: "",
            if_match: None,
        },
        Probe {
            token: Some("nobody"),
            record_type: "inspections",
            body: Some(("{}", json)),
            key: true,
            query: "",
            if_match: None,
        },
        Probe {
            token: Some("ana-token"),
            record_type: "inspections",
            body: Some(("{}", json)),
            key: true,
            query: "",
            if_match: None,
        },
        Probe {
            token: Some("root-token"),
            record_type: "nope",
            body: Some(("{}", json)),
            key: true,
            query: "",
            if_match: None,
        },
        Probe {
            token: Some("root-token"),
            record_type: "inspections",
            body: Some(("{", json)),
            key: true,
            query: "",
            if_match: None,
        },
        Probe {
            token: Some("root-token"),
            record_type: "inspections",
            body: Some(("{}", "text/plain")),
            key: true,
            query: "",
            if_match: None,
        },
        Probe {
            token: Some("root-token"),
            record_type: "inspections",
            body: Some((huge, json)),
            key: true,
            query: "",
            if_match: None,
        },
        Probe {
            token: Some("root-token"),
            record_type: "inspections",
            body: Some(("{\"fields\": {}}", json)),
            key: false,
            query: "",
            if_match: None,
        },
        Probe {
            token: Some("root-token"),
            record_type: "inspections",
            body: Some(("{\"fields\": {}}", json)),
            key: true,
            query: "?limit=many&after=-1&status=x",
            if_match: None,
        },
        Probe {
            token: Some("root-token"),
            record_type: "inspections",
            body: Some(("{\"fields\": {\"x\": 1}}", json)),
            key: true,
            query: "",
            if_match: Some("W/\"1\""),
        },
        Probe {
            token: Some("root-token"),
            record_type: "inspections",
            body: Some((
                "{\"fields\": {\"notes\": \"a\"}, \"base_version\": 1}",
                json,
            )),
            key: true,
            query: "",
            if_match: Some("*"),
        },
        Probe {
            token: Some("root-token"),
            record_type: "inspections",
            body: None,
            key: true,
            query: "",
            if_match: None,
        },
    ];
    let documented = documented_statuses();
    let mut seen = BTreeSet::new();
    for (method, path) in routes() {
        let listed = &documented[&(method.to_string(), path.to_string())];
        for (n, probe) in probes.iter().enumerate() {
            let concrete = path
                .replace("{record_type}", probe.record_type)
                .replace("{id}", "INS-1")
                .replace("{n}", "1")
                .replace("{cid}", "c-000001")
                .replace("{list}", "sites");
            let mut request = client.request(
                method.parse().unwrap(),
                format!("{base}{concrete}{}", probe.query),
            );
            if let Some(token) = probe.token {
                request = request.bearer_auth(token);
            }
            if probe.key {
                request = request.header("Idempotency-Key", format!("probe-{n}-{method}-{path}"));
            }
            if let Some(tag) = probe.if_match {
                request = request.header("If-Match", tag);
            }
            if let Some((body, media)) = probe.body {
                request = request.header("content-type", media).body(body);
            }
            let status = request.send().await.unwrap().status().as_u16();
            seen.insert(status);
            assert!(
                listed.contains(&status),
                "{method} {path} answered {status} to probe {n}, which assets/openapi.yaml does not list ({listed:?})"
            );
        }
    }
    // The battery reaches the refusals it is meant to: a check on the test itself.
    for status in [400, 401, 403, 404, 413, 415] {
        assert!(seen.contains(&status), "no probe got {status}: {seen:?}");
    }
    task.abort();
}

on_both_engines! {
    every_status_a_route_answers_to_hostile_requests_is_documented,
}
