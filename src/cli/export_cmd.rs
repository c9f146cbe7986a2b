//! `syncdesk export [--status S] [-o FILE]`: the queue into an export file (JSON, or NDJSON
//! when FILE ends in `.ndjson`), for `syncdesk open` on a machine without the server.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use serde_json::json;

use super::conflicts_cmd::print;
use super::remote::{ServerArgs, connect, failure};
use super::{Exit, Failure};
use crate::model::UtcMillis;
use crate::protocol::EXPORT_FORMAT;

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
        let export = json!({
            "format": EXPORT_FORMAT,
            "exported_at": UtcMillis::now(),
            "server": remote.client.base_url(),
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
