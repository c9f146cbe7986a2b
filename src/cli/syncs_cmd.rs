//! `syncdesk syncs`: the sync log for the people who answer the phone — what each write
//! came to, newest first, narrowed by outcome, user, device, type and time.

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
