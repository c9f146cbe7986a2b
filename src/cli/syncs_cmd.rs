//! `syncdesk syncs`, `stats` and `audit`: for the people who answer the phone — what each
//! write came to, newest first; the numbers behind "a third of syncs fail"; and who
//! resolved what, choosing which value over which.

use serde_json::{Value, json};

use super::conflicts_cmd::print;
use super::remote::{ServerArgs, connect, failure};
use super::{Exit, Failure};
use crate::sanitize::visible;

#[derive(clap::Args)]
pub struct SyncsArgs {
    /// Only this outcome (created, applied, auto-merged, no-op, replayed, superseded,
    /// edit-conflict, deleted-on-server, invalid-reference, invalid, stale, refused,
    /// resolved, deleted).
    #[arg(long)]
    outcome: Option<String>,
    /// Only this user's writes.
    #[arg(long)]
    user: Option<String>,
    /// Only this device's writes.
    #[arg(long)]
    device: Option<String>,
    /// Only this record type.
    #[arg(long = "type", value_name = "TYPE")]
    record_type: Option<String>,
    /// From this instant on (RFC 3339, with its offset: 2026-11-20T08:00:00Z).
    #[arg(long, value_name = "T")]
    since: Option<String>,
    /// At most this many entries, newest first.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print `{"syncs": [entry...]}` as the server sends the entries.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

pub fn run(args: &SyncsArgs) -> Result<Exit, Failure> {
    let remote = connect(&args.server)?;
    let filters: Vec<(&str, String)> = [
        ("outcome", &args.outcome),
        ("user", &args.user),
        ("device", &args.device),
        ("type", &args.record_type),
        ("since", &args.since),
    ]
    .into_iter()
    .filter_map(|(name, value)| value.clone().map(|v| (name, v)))
    .collect();
    let entries = remote
        .wait(remote.client.syncs(&filters, args.limit.max(1)))
        .map_err(failure)?;
    if args.json {
        return print(&json!({ "syncs": entries }).to_string());
    }
    print(&table(&entries))
}

/// The log as a table a person reads.
fn table(entries: &[Value]) -> String {
    let text = |v: &Value| visible(v.as_str().unwrap_or("-")).into_owned();
    let mut rows = vec![
        [
            "AT", "USER", "DEVICE", "WRITE", "RECORD", "STATUS", "OUTCOME", "PATHS", "CONFLICT",
        ]
        .map(String::from)
        .to_vec(),
    ];
    for e in entries {
        let paths: Vec<String> = e["paths"]
            .as_array()
            .into_iter()
            .flatten()
            .map(text)
            .collect();
        rows.push(vec![
            text(&e["at"]),
            text(&e["user"]),
            text(&e["device_id"]),
            text(&e["method"]),
            format!("{}/{}", text(&e["record_type"]), text(&e["record_id"])),
            e["status"].to_string(),
            text(&e["outcome"]),
            if paths.is_empty() {
                "-".into()
            } else {
                paths.join(" ")
            },
            text(&e["conflict_id"]),
        ]);
    }
    let mut out = super::aligned(&rows);
    out.push_str(&format!("{} write(s)\n", entries.len()));
    out
}

#[derive(clap::Args)]
pub struct StatsArgs {
    /// Group by day, user, device or type.
    #[arg(long, default_value = "day", value_parser = ["day", "user", "device", "type"])]
    by: String,
    /// From this instant on (RFC 3339, with its offset).
    #[arg(long, value_name = "T")]
    since: Option<String>,
    /// Print the server's JSON.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

pub fn stats(args: &StatsArgs) -> Result<Exit, Failure> {
    let remote = connect(&args.server)?;
    let mut query = vec![("by", args.by.clone())];
    if let Some(since) = &args.since {
        query.push(("since", since.clone()));
    }
    let stats = remote.wait(remote.client.stats(&query)).map_err(failure)?;
    if args.json {
        return print(&stats.to_string());
    }
    print(&stats_table(&args.by, &stats))
}

/// One line a group: its writes, how many were refused (409, 412, 422) and their share,
/// then its outcomes; the whole at the end.
fn stats_table(by: &str, stats: &Value) -> String {
    let share = |v: &Value| format!("{:.1}%", v.as_f64().unwrap_or(0.0) * 100.0);
    let mut rows = vec![
        [
            by.to_uppercase(),
            "WRITES".into(),
            "REFUSED".into(),
            "SHARE".into(),
            "OUTCOMES".into(),
        ]
        .to_vec(),
    ];
    for group in stats["groups"].as_array().into_iter().flatten() {
        let outcomes: Vec<String> = group["outcomes"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(name, n)| format!("{} {n}", visible(name)))
            .collect();
        rows.push(vec![
            visible(group["group"].as_str().unwrap_or("-")).into_owned(),
            group["writes"].to_string(),
            group["refused"].to_string(),
            share(&group["refused_share"]),
            outcomes.join(", "),
        ]);
    }
    rows.push(vec![
        "all".into(),
        stats["writes"].to_string(),
        stats["refused"].to_string(),
        share(&stats["refused_share"]),
        String::new(),
    ]);
    super::aligned(&rows)
}

#[derive(clap::Args)]
pub struct AuditArgs {
    /// Resolutions from this instant on (RFC 3339, with its offset).
    #[arg(long, value_name = "T")]
    since: Option<String>,
    /// At most this many resolutions, newest first.
    #[arg(long, default_value_t = 50)]
    limit: usize,
    /// Print `{"resolutions": [...]}` as the server sends them.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

pub fn audit(args: &AuditArgs) -> Result<Exit, Failure> {
    let remote = connect(&args.server)?;
    let filters: Vec<(&str, String)> = args.since.iter().map(|t| ("since", t.clone())).collect();
    let resolutions = remote
        .wait(remote.client.audit(&filters, args.limit.max(1)))
        .map_err(failure)?;
    if args.json {
        return print(&json!({ "resolutions": resolutions }).to_string());
    }
    print(&audit_table(&resolutions))
}

/// One line a resolution, then a line a decided path: what was taken over what.
fn audit_table(resolutions: &[Value]) -> String {
    let text = |v: &Value| visible(v.as_str().unwrap_or("-")).into_owned();
    let mut out = String::new();
    for r in resolutions {
        let made = if r["kept_deleted"] == true {
            "kept deleted".to_string()
        } else {
            format!("version {}", r["resulting_version"])
        };
        out.push_str(&format!(
            "{}  {} resolved {} {}/{} ({}): {made}\n",
            text(&r["at"]),
            text(&r["by"]),
            text(&r["conflict_id"]),
            text(&r["record_type"]),
            text(&r["record_id"]),
            text(&r["kind"]),
        ));
        for field in r["fields"].as_array().into_iter().flatten() {
            let taken = visible(&field["value"].to_string()).into_owned();
            let over: Vec<String> = field["discarded"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(side, v)| format!("{side} {}", visible(&v.to_string())))
                .collect();
            let over = if over.is_empty() {
                String::new()
            } else {
                format!(" over {}", over.join(", "))
            };
            out.push_str(&format!(
                "    {} {}: {taken}{over}\n",
                text(&field["path"]),
                text(&field["choice"]),
            ));
        }
    }
    out.push_str(&format!("{} resolution(s)\n", resolutions.len()));
    out
}
