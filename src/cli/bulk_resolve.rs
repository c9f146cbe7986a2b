//! `syncdesk conflicts resolve --all [--kind K] [--type T] [--path P] --take local|server
//! [--dry-run]`: one decision for many conflicts after a bad morning. Each conflict is
//! decided on its own detail and sent with its own `If-Match` and key; one the decision
//! does not settle is left open, never forced; one that went stale is read again and
//! tried once more.

use serde_json::json;

use super::conflicts_cmd::{ResolveArgs, print};
use super::remote::{connect, failure};
use super::{Exit, Failure};
use crate::client::ConflictSource;
use crate::protocol::ConflictSummary;
use crate::sanitize::visible;
use crate::tui::bulk::{BulkDecision, settle};

pub(super) fn run(args: &ResolveArgs) -> Result<Exit, Failure> {
    let remote = connect(&args.server)?;
    let queue = remote
        .wait(remote.client.conflicts("open"))
        .map_err(failure)?;
    let chosen: Vec<&ConflictSummary> = queue.iter().filter(|c| wanted(args, c)).collect();
    let decision = BulkDecision::Take {
        local: args.take.as_deref() == Some("local"),
        path: args.path.clone(),
    };
    let user = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    let source = ConflictSource::Server(remote.client.clone());
    let mut results = Vec::with_capacity(chosen.len());
    for conflict in chosen {
        let settling = settle(&source, &conflict.id, &decision, &user, args.dry_run);
        let result = remote.wait(settling).map_err(failure)?;
        results.push((conflict, result));
    }
    let failed = results.iter().any(|(_, r)| r.failed());
    if args.json {
        let items: Vec<serde_json::Value> = results
            .iter()
            .map(|(c, r)| json!({"conflict_id": c.id, "record_id": c.record_id, "result": r.name(), "detail": r.said()}))
            .collect();
        print(&json!({"results": items}).to_string())?;
    } else {
        let mut out = String::new();
        for (c, r) in &results {
            out.push_str(&format!(
                "{} {}/{}: {}\n",
                visible(&c.id),
                visible(&c.record_type),
                visible(&c.record_id),
                visible(&r.said())
            ));
        }
        let count = |name: &str| results.iter().filter(|(_, r)| r.name() == name).count();
        out.push_str(&format!(
            "{} conflict(s): {} applied, {} would apply, {} left open, {} stale, {} closed, {} refused\n",
            results.len(),
            count("applied"),
            count("would-apply"),
            count("left-open"),
            count("stale"),
            count("closed"),
            count("invalid"),
        ));
        print(&out)?;
    }
    Ok(if failed { Exit::Conflict } else { Exit::Ok })
}

/// Whether the filters let a conflict through.
fn wanted(args: &ResolveArgs, conflict: &ConflictSummary) -> bool {
    args.kind
        .as_deref()
        .is_none_or(|k| conflict.kind.name() == k)
        && args
            .record_type
            .as_deref()
            .is_none_or(|t| conflict.record_type == t)
        && args
            .path
            .as_deref()
            .is_none_or(|p| conflict.conflicting_paths.iter().any(|c| c == p))
}
