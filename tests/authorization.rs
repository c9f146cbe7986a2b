//! Who may call what: every route of the router × no token, a malformed header, an
//! unknown token, and each role — against a real server on 127.0.0.1. The roles below
//! are the contract's, written down here apart from the server's code.

mod engines;

use engines::{Kind, TestDb};

use reqwest::StatusCode;
use syncdesk::server::clock::Clock;
use syncdesk::server::http::routes;

const CONFIG: &str = r#"
[[users]]
name = "ana"
role = "technician"
token = "ana-token"

[[users]]
name = "sue"
role = "supervisor"
token = "sue-token"

[[users]]
name = "root"
role = "admin"
token = "root-token"

[types.inspections.fields]
notes = { type = "text" }
"#;

/// The least role a route needs (0 none, 1 technician, 2 supervisor, 3 admin).
fn needs(method: &str, path: &str) -> u8 {
    match (method, path) {
        (_, "/healthz") => 0,
        ("PUT", "/v1/master/{list}") => 3,
        (_, "/v1/events" | "/v1/syncs" | "/v1/stats" | "/v1/audit") => 2,
        (_, p) if p.starts_with("/v1/conflicts") => 2,
        ("DELETE", _) => 2,
        _ => 1,
    }
}

async fn every_route_by_every_kind_of_caller(engine: Kind) {
    let db = TestDb::new(engine);
    let (base, server) = engines::serve_on(&db, CONFIG, Clock::system()).await;
    let client = reqwest::Client::new();
    let callers: [(&str, Option<&str>, u8); 6] = [
        ("no token", None, 0),
        ("malformed header", Some("Bearer"), 0),
        ("unknown token", Some("Bearer nobody"), 0),
        ("technician", Some("Bearer ana-token"), 1),
        ("supervisor", Some("bearer sue-token"), 2),
        ("admin", Some("BEARER root-token"), 3),
    ];
    for (method, path) in routes() {
        let concrete = path
            .replace("{record_type}", "inspections")
            .replace("{id}", "INS-1")
            .replace("{n}", "1")
            .replace("{cid}", "c-000001")
            .replace("{list}", "sites");
        let needed = needs(method, path);
        for (who, authorization, role) in callers {
            let mut request = client
                .request(method.parse().unwrap(), format!("{base}{concrete}"))
                .header("Idempotency-Key", format!("{who}-{method}-{path}"))
                .json(&serde_json::json!({}));
            if let Some(value) = authorization {
                request = request.header("Authorization", value);
            }
            let response = request.send().await.unwrap();
            let status = response.status();
            let challenge = response.headers().get("www-authenticate").cloned();
            let signed_in = authorization.is_some() && role > 0;
            let expected = if needed == 0 {
                None
            } else if !signed_in {
                Some(StatusCode::UNAUTHORIZED)
            } else if role < needed {
                Some(StatusCode::FORBIDDEN)
            } else {
                None
            };
            match expected {
                Some(code) => assert_eq!(status, code, "{method} {path} as {who}"),
                None => assert!(
                    status != StatusCode::UNAUTHORIZED && status != StatusCode::FORBIDDEN,
                    "{method} {path} as {who}: {status}"
                ),
            }
            assert_eq!(
                challenge.is_some(),
                status == StatusCode::UNAUTHORIZED,
                "{method} {path} as {who}: WWW-Authenticate with every 401 only"
            );
        }
    }
    server.abort();
}

on_both_engines! {
    every_route_by_every_kind_of_caller,
}
