//! `syncdesk export [--status S] [-o FILE]`: the queue into an export file (JSON, or NDJSON
//! when FILE ends in `.ndjson`), for `syncdesk open` on a machine without the server.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};

use super::conflicts_cmd::print;
use super::remote::{ServerArgs, connect, failure};
use super::{Exit, Failure};
use crate::model::UtcMillis;
use crate::protocol::{EXPORT_FORMAT, MasterData};

#[derive(clap::Args)]
pub struct ExportArgs {
    /// open, resolved or all.
    #[arg(long, default_value = "open", value_parser = ["open", "resolved", "all"])]
    status: String,
    /// Where to write (default: standard output, JSON).
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    output: Option<PathBuf>,
    #[command(flatten)]
    server: ServerArgs,
}

/// Schemas by record type, master-data lists by name.
type References = (BTreeMap<String, Value>, BTreeMap<String, MasterData>);

/// The schemas of the exported conflicts' types and the master-data lists they refer to
/// (with their ETags), so that `open` checks and picks offline as the server would.
fn references(
    remote: &super::remote::Remote,
    summaries: &[crate::protocol::ConflictSummary],
) -> Result<References, Failure> {
    let types: BTreeSet<&str> = summaries.iter().map(|s| s.record_type.as_str()).collect();
    let mut schemas = BTreeMap::new();
    let mut master = BTreeMap::new();
    for record_type in types {
        let Some(schema) = remote
            .wait(remote.client.schema_json(record_type))
            .map_err(failure)?
        else {
            continue;
        };
        let lists: Vec<String> = schema["fields"]
            .as_object()
            .into_iter()
            .flat_map(|fields| fields.values())
            .filter(|f| f["type"] == "reference")
            .filter_map(|f| f["list"].as_str().map(str::to_string))
            .collect();
        for list in lists {
            if let std::collections::btree_map::Entry::Vacant(slot) = master.entry(list) {
                let data = remote
                    .wait(remote.client.master(slot.key()))
                    .map_err(failure)?;
                slot.insert(data);
            }
        }
        schemas.insert(record_type.to_string(), schema);
    }
    Ok((schemas, master))
}

pub fn run(args: &ExportArgs) -> Result<Exit, Failure> {
    // A file that cannot be written is the user's to fix, before anything is fetched.
    if let Some(folder) = args.output.as_deref().and_then(std::path::Path::parent)
        && !folder.as_os_str().is_empty()
        && !folder.is_dir()
    {
        return Err(Failure::input(format!(
            "-o {}: the folder {} does not exist",
            args.output.as_deref().unwrap_or(folder).display(),
            folder.display()
        )));
    }
    let remote = connect(&args.server)?;
    let summaries = remote
        .wait(remote.client.conflicts(&args.status))
        .map_err(failure)?;
    let progress = std::io::stderr().is_terminal() && summaries.len() > 20;
    let mut details = Vec::with_capacity(summaries.len());
    for (n, summary) in summaries.iter().enumerate() {
        let (detail, _) = remote
            .wait(remote.client.detail_json(&summary.id))
            .map_err(failure)?;
        details.push(detail);
        if progress {
            eprint!("\rexporting {} of {}", n + 1, summaries.len());
        }
    }
    if progress {
        eprintln!();
    }
    let ndjson = args
        .output
        .as_ref()
        .and_then(|p| p.extension())
        .is_some_and(|e| e == "ndjson" || e == "jsonl");
    let text = if ndjson {
        details.iter().map(|d| format!("{d}\n")).collect::<String>()
    } else {
        let (schemas, master) = references(&remote, &summaries)?;
        let export = json!({
            "format": EXPORT_FORMAT,
            "exported_at": UtcMillis::now(),
            "server": remote.client.base_url(),
            "schemas": schemas,
            "master": master,
            "conflicts": details,
        });
        format!(
            "{}\n",
            serde_json::to_string_pretty(&export).unwrap_or_default()
        )
    };
    match &args.output {
        None => print(&text),
        Some(path) => {
            crate::atomic_file::write(path, text.as_bytes())
                .map_err(|e| Failure::input(format!("{}: {e}", path.display())))?;
            let _ = writeln!(
                std::io::stderr(),
                "exported {} conflict(s) to {}",
                details.len(),
                path.display()
            );
            Ok(Exit::Ok)
        }
    }
}
