//! `assets/openapi.yaml` and the real router agree: every documented route answers, and
//! the documented routes are exactly the served ones.

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
    let state = Arc::new(AppState::open(config, &dir.path().join("s.db")).unwrap());
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
        let body: serde_json::Value = response.json().await.unwrap_or_default();
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
