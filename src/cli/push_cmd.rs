//! `syncdesk push FILE`: sends the resolutions `syncdesk open` wrote, one by one, and says
//! how each ended. A resolution made on a server state that has moved on is reported
//! (412), never forced.

use std::io::IsTerminal;
use std::path::PathBuf;

use serde_json::json;
use sha2::{Digest, Sha256};

use super::conflicts_cmd::print;
use std::collections::BTreeMap;

use super::remote::{Remote, ServerArgs, connect, failure};
use super::{Exit, Failure};
use crate::client::SubmitOutcome;
use crate::model::validate::validate;
use crate::model::{FieldType, TypeSchema};
use crate::protocol::MasterData;
use crate::protocol::{RESOLUTIONS_FORMAT, ResolutionEntry, ResolutionsFile};
use crate::sanitize::visible;
use crate::sync::unlisted_references;

#[derive(clap::Args)]
pub struct PushArgs {
    /// A resolutions file (`syncdesk.resolutions.v1`).
    file: PathBuf,
    /// Print the results as JSON (`{"results": [...]}`).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

pub fn run(args: &PushArgs) -> Result<Exit, Failure> {
    let name = args.file.display();
    let text =
        std::fs::read_to_string(&args.file).map_err(|e| Failure::input(format!("{name}: {e}")))?;
    let file: ResolutionsFile = serde_json::from_str(&text).map_err(|e| {
        Failure::input(format!(
            "{name}: line {}, column {}: {}",
            e.line(),
            e.column(),
            crate::protocol::strip_position(&e)
        ))
    })?;
    if file.format != RESOLUTIONS_FORMAT {
        return Err(Failure::input(format!(
            "{name}: format is {:?}, expected {RESOLUTIONS_FORMAT:?}",
            file.format
        )));
    }
    let remote = connect(&args.server)?;
    let progress = std::io::stderr().is_terminal() && file.resolutions.len() > 20;
    let mut results = Vec::new();
    let mut lines = String::new();
    let mut failed = 0;
    let mut checks = Checks::default();
    for (n, entry) in file.resolutions.iter().enumerate() {
        // Checked before it is sent: a fault is named here, with the valid items.
        let faults = if entry.keep_deleted {
            Vec::new()
        } else {
            checks.faults(&remote, entry)?
        };
        if !faults.is_empty() {
            failed += 1;
            let detail = faults.join("; ");
            lines.push_str(&format!(
                "{} {}/{}: invalid (not sent): {}\n",
                visible(&entry.conflict_id),
                visible(&entry.record_type),
                visible(&entry.record_id),
                visible(&detail)
            ));
            results.push(
                json!({"conflict_id": entry.conflict_id, "record_id": entry.record_id,
                                "status": "invalid", "detail": detail}),
            );
            continue;
        }
        let body = if entry.keep_deleted {
            json!({"keep_deleted": true})
        } else {
            json!({"fields": entry.fields, "choices": entry.choices})
        };
        let sent = remote.wait(remote.client.post_resolution(
            &entry.conflict_id,
            entry.if_match.as_deref(),
            &key_of(entry),
            &body,
        ));
        let (status, detail) = match sent {
            Ok(SubmitOutcome::Resolved { version, .. }) => (
                "resolved",
                format!("version {}", version.map_or("?".into(), |v| v.to_string())),
            ),
            Ok(SubmitOutcome::Stale) => (
                "stale",
                "the record changed on the server after the export (412): nothing was written; export it again and decide anew".into(),
            ),
            Ok(SubmitOutcome::Closed { by }) => ("closed", format!("already resolved by {by}")),
            Ok(SubmitOutcome::Invalid { errors }) => (
                "invalid",
                errors
                    .iter()
                    .map(|e| format!("{}: {}", e.path, e.message))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
            // Unreachable or refused: the rest would fail alike; stop here.
            Err(e) => return Err(failure(e)),
        };
        if status != "resolved" {
            failed += 1;
        }
        lines.push_str(&format!(
            "{} {}/{}: {status}: {}\n",
            visible(&entry.conflict_id),
            visible(&entry.record_type),
            visible(&entry.record_id),
            visible(&detail)
        ));
        results.push(
            json!({"conflict_id": entry.conflict_id, "record_id": entry.record_id,
                            "status": status, "detail": detail}),
        );
        if progress {
            eprint!("\rpushing {} of {}", n + 1, file.resolutions.len());
        }
    }
    if progress {
        eprintln!();
    }
    if args.json {
        print(&json!({"results": results}).to_string())?;
    } else {
        lines.push_str(&format!(
            "{} resolution(s): {} resolved, {failed} not\n",
            file.resolutions.len(),
            file.resolutions.len() - failed
        ));
        print(&lines)?;
    }
    Ok(if failed > 0 { Exit::Conflict } else { Exit::Ok })
}

/// The server's schemas and master-data lists, fetched once each, to check entries with.
#[derive(Default)]
struct Checks {
    schemas: BTreeMap<String, Option<TypeSchema>>,
    lists: BTreeMap<String, MasterData>,
}

impl Checks {
    /// What is wrong with an entry's fields by the server's schema and lists, a line
    /// each (`/site_id: S-3 Old mill substation — removed from sites (one of: ...)`).
    fn faults(&mut self, remote: &Remote, entry: &ResolutionEntry) -> Result<Vec<String>, Failure> {
        if !self.schemas.contains_key(&entry.record_type) {
            let schema = remote
                .wait(remote.client.schema(&entry.record_type))
                .map_err(failure)?;
            self.schemas.insert(entry.record_type.clone(), schema);
        }
        let Some(Some(schema)) = self.schemas.get(&entry.record_type) else {
            return Ok(Vec::new());
        };
        let mut faults: Vec<String> = validate(schema, &entry.fields)
            .into_iter()
            .map(|f| format!("{}: {}", f.path, f.message))
            .collect();
        for spec in schema.fields.values() {
            if let FieldType::Reference { list } = &spec.kind
                && !self.lists.contains_key(list)
            {
                let data = remote.wait(remote.client.master(list)).map_err(failure)?;
                self.lists.insert(list.clone(), data);
            }
        }
        let listed = |list: &str, id: &str| self.lists.get(list).is_none_or(|d| d.lists(id));
        for path in unlisted_references(schema, &entry.fields, &listed) {
            let name = path.trim_start_matches('/');
            let id = entry
                .fields
                .get(name)
                .and_then(|v| v.as_str())
                .unwrap_or("");
            let list = match schema.fields.get(name).map(|f| &f.kind) {
                Some(FieldType::Reference { list }) => list.as_str(),
                _ => "",
            };
            let data = self.lists.get(list).cloned().unwrap_or_default();
            faults.push(format!(
                "{path}: {}{}",
                data.describe(list, id),
                data.one_of()
            ));
        }
        Ok(faults)
    }
}

/// The same resolution pushed twice is one write: its key comes from what it sends.
fn key_of(entry: &ResolutionEntry) -> String {
    let mut hash = Sha256::new();
    hash.update(entry.conflict_id.as_bytes());
    hash.update([0]);
    hash.update(entry.if_match.as_deref().unwrap_or("*").as_bytes());
    hash.update([0]);
    hash.update(serde_json::to_vec(&entry.fields).unwrap_or_default());
    hash.update(serde_json::to_vec(&entry.choices).unwrap_or_default());
    hash.update([u8::from(entry.keep_deleted)]);
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("push-{hex}")
}
