//! `syncdesk conflicts list|show|resolve`: the queue from a script.

use std::io::Write;

use serde_json::json;

use super::remote::{Remote, ServerArgs, connect, failure};
use super::{Exit, Failure};
use crate::client::SubmitOutcome;
use crate::merge::Choice;
use crate::protocol::{ConflictSummary, Status};
use crate::sanitize::visible;
use crate::tui::desk::Desk;
use crate::tui::view::show;

#[derive(clap::Subcommand)]
pub enum ConflictsCommand {
    /// The queue: open conflicts, oldest first (--status resolved|all for more).
    List(ListArgs),
    /// One conflict: its three sides, path by path.
    Show(ShowArgs),
    /// Resolves a conflict: a side for every conflicting field, or one per field.
    Resolve(ResolveArgs),
}

#[derive(clap::Args)]
pub struct ListArgs {
    /// open, resolved or all.
    #[arg(long, default_value = "open", value_parser = ["open", "resolved", "all"])]
    status: String,
    /// Print the server's JSON (`{"conflicts": [summary...]}`).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(clap::Args)]
pub struct ShowArgs {
    /// The conflict (c-000042).
    id: String,
    /// Print the detail as the server sends it.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    server: ServerArgs,
}

#[derive(clap::Args)]
pub struct ResolveArgs {
    /// The conflict (c-000042); or --all.
    #[arg(required_unless_present = "all")]
    id: Option<String>,
    /// Every open conflict the filters below let through, with one --take for all
    /// (conflicts the decision does not settle are left open, never forced).
    #[arg(long, conflicts_with_all = ["id", "fields", "restore", "keep_deleted"], requires = "take")]
    pub(super) all: bool,
    /// With --all: only conflicts of this kind.
    #[arg(long, requires = "all", value_parser = ["edit-conflict", "invalid-reference", "deleted-on-server"])]
    pub(super) kind: Option<String>,
    /// With --all: only conflicts on records of this type.
    #[arg(long = "type", value_name = "TYPE", requires = "all")]
    pub(super) record_type: Option<String>,
    /// With --all: only conflicts on this path, and --take decides this path alone.
    #[arg(long, value_name = "PATH", requires = "all")]
    pub(super) path: Option<String>,
    /// With --all: say what would happen to each conflict, send nothing.
    #[arg(long, requires = "all")]
    pub(super) dry_run: bool,
    /// Take this side for every conflicting field not named by --field.
    #[arg(long, value_parser = ["local", "server"])]
    pub(super) take: Option<String>,
    /// PATH=local, PATH=server, or PATH==JSON for a value of your own (repeatable).
    #[arg(long = "field", value_name = "PATH=local|server|=JSON")]
    fields: Vec<String>,
    /// A record deleted on the server: restore it with the fields as decided.
    #[arg(long, conflicts_with = "keep_deleted")]
    restore: bool,
    /// A record deleted on the server: leave it deleted (no --take or --field).
    #[arg(long, conflicts_with_all = ["take", "fields"])]
    keep_deleted: bool,
    /// Print the outcome as JSON.
    #[arg(long)]
    pub(super) json: bool,
    #[command(flatten)]
    pub(super) server: ServerArgs,
}

pub fn run(command: &ConflictsCommand) -> Result<Exit, Failure> {
    match command {
        ConflictsCommand::List(args) => list(args),
        ConflictsCommand::Show(args) => show_one(args),
        ConflictsCommand::Resolve(args) => resolve(args),
    }
}

fn list(args: &ListArgs) -> Result<Exit, Failure> {
    let remote = connect(&args.server)?;
    let conflicts = remote
        .wait(remote.client.conflicts(&args.status))
        .map_err(failure)?;
    if args.json {
        return print(&json!({"conflicts": conflicts}).to_string());
    }
    print(&table(&conflicts))
}

/// The queue as a table a person reads.
fn table(conflicts: &[ConflictSummary]) -> String {
    let mut rows = vec![[
        "ID".to_string(),
        "STATUS".into(),
        "KIND".into(),
        "RECORD".into(),
        "BY".into(),
        "DEVICE".into(),
        "RECEIVED".into(),
        "PATHS".into(),
    ]];
    for c in conflicts {
        let kind = c.kind.name();
        rows.push([
            visible(&c.id).into_owned(),
            match c.status {
                Status::Open => "open".into(),
                Status::Resolved => "resolved".into(),
            },
            kind.to_string(),
            visible(&format!("{}/{}", c.record_type, c.record_id)).into_owned(),
            visible(&c.submitted_by).into_owned(),
            visible(c.device_id.as_deref().unwrap_or("-")).into_owned(),
            c.received_at.to_string(),
            visible(&c.conflicting_paths.join(" ")).into_owned(),
        ]);
    }
    let mut out = super::aligned(&rows);
    let open = conflicts
        .iter()
        .filter(|c| c.status == Status::Open)
        .count();
    out.push_str(&format!("{} conflict(s), {open} open\n", conflicts.len()));
    out
}

fn show_one(args: &ShowArgs) -> Result<Exit, Failure> {
    let remote = connect(&args.server)?;
    if args.json {
        let (detail, _) = remote
            .wait(remote.client.detail_json(&args.id))
            .map_err(failure)?;
        return print(&serde_json::to_string_pretty(&detail).unwrap_or_default());
    }
    let desk = load(&remote, &args.id)?;
    let d = &desk.detail;
    let mut out = format!(
        "{} {}/{} · {} · submitted by {} on {}\n",
        visible(&d.id),
        visible(&d.record_type),
        visible(&d.record_id),
        d.kind.name(),
        visible(&d.submitted_by),
        visible(d.device_id.as_deref().unwrap_or("an unnamed device")),
    );
    match &d.base {
        Some(b) => out.push_str(&format!(
            "base: version {} by {} at {}\n",
            b.version,
            visible(&b.modified_by),
            b.last_modified
        )),
        None => out.push_str("base: none (the technician created the record)\n"),
    }
    match &d.server {
        Some(s) if s.deleted => out.push_str(&format!(
            "server: DELETED by {} at {} (version {}, ETag {}); the values shown are its last live version's\n",
            visible(&s.modified_by),
            s.last_modified,
            s.version,
            visible(&s.etag)
        )),
        Some(s) => out.push_str(&format!(
            "server: version {} by {} at {}, ETag {}\n",
            s.version,
            visible(&s.modified_by),
            s.last_modified,
            visible(&s.etag)
        )),
        None => out.push_str("server: no record yet (a parked create)\n"),
    }
    if let Some(r) = &d.resolution {
        let how = if r.kept_deleted {
            " (kept deleted)".to_string()
        } else {
            r.resulting_version
                .map_or(String::new(), |v| format!(" (version {v})"))
        };
        out.push_str(&format!(
            "resolved by {} at {}{how}\n",
            visible(&r.by),
            r.at
        ));
    }
    for row in &desk.rows {
        let class = row.class.name();
        out.push_str(&format!(
            "{:<10} {}\n  base:   {}\n  local:  {}\n  server: {}\n",
            class,
            visible(&row.path),
            show(row.base.as_ref()),
            show(row.local.as_ref()),
            show(row.server.as_ref()),
        ));
    }
    print(&out)
}

/// A conflict on a desk of its own (merged, with the schema of its type).
pub(super) fn load(remote: &Remote, id: &str) -> Result<Desk, Failure> {
    let loaded = remote.wait(remote.client.load(id)).map_err(failure)?;
    Ok(Desk::new(loaded, None))
}

fn resolve(args: &ResolveArgs) -> Result<Exit, Failure> {
    if args.all {
        return super::bulk_resolve::run(args);
    }
    let id = args.id.as_deref().unwrap_or_default();
    let remote = connect(&args.server)?;
    let mut desk = load(&remote, id)?;
    if desk.detail.status == Status::Resolved {
        let by = desk
            .detail
            .resolution
            .as_ref()
            .map_or("someone".into(), |r| r.by.clone());
        return report(args, &desk, Outcome::Closed(by));
    }
    let deleted = desk.deleted_on_server();
    if deleted && !args.restore && !args.keep_deleted {
        return Err(Failure::input(format!(
            "{}: {} was deleted on the server; give --restore (with the fields as decided) or --keep-deleted",
            id,
            visible(&desk.detail.record_id)
        )));
    }
    if !deleted && (args.restore || args.keep_deleted) {
        let flag = if args.restore {
            "--restore"
        } else {
            "--keep-deleted"
        };
        return Err(Failure::input(format!(
            "{flag}: {} is not deleted on the server ({} is {})",
            visible(&desk.detail.record_id),
            id,
            desk.detail.kind.name()
        )));
    }
    for field in &args.fields {
        let (path, choice) = parse_field(field)?;
        let Some(row) = desk.rows.iter().position(|r| r.path == path) else {
            return Err(Failure::input(format!(
                "--field {field}: {} has no field {path}",
                id
            )));
        };
        let choice = match choice {
            // A text field takes the text as typed (no JSON quotes needed); other fields
            // take JSON. Either is checked against the field's type and master data.
            FieldChoice::Value(text) => {
                // Quoted text is taken as the text inside the quotes, as scripts write it.
                let text = match serde_json::from_str::<String>(&text) {
                    Ok(unquoted) if desk.takes_text(row) => unquoted,
                    _ => text,
                };
                Choice::Manual(
                    desk.manual_value(row, &text)
                        .map_err(|why| Failure::input(format!("--field {field}: {why}")))?,
                )
            }
            FieldChoice::Side(choice) => choice,
        };
        desk.choices.insert(path, choice);
    }
    if let Some(side) = &args.take {
        let choice = if side == "local" {
            Choice::Local
        } else {
            Choice::Server
        };
        for row in desk.rows.iter().filter(|r| r.needs_decision()) {
            desk.choices
                .entry(row.path.clone())
                .or_insert_with(|| choice.clone());
        }
    }
    let user = std::env::var("USER").unwrap_or_else(|_| "cli".into());
    let submission = desk
        .submission(&user, args.keep_deleted)
        .map_err(|undecided| {
            Failure::input(format!(
                "undecided: {} (give --take local|server, or --field PATH=...)",
                visible(&undecided.join(", "))
            ))
        })?;
    let faults = if args.keep_deleted {
        Vec::new()
    } else {
        desk.faults()
    };
    if !faults.is_empty() {
        return report(
            args,
            &desk,
            Outcome::Invalid(faults.into_iter().map(|f| (f.path, f.message)).collect()),
        );
    }
    let outcome = remote
        .wait(remote.client.resolve(&submission))
        .map_err(failure)?;
    let outcome = match outcome {
        SubmitOutcome::Resolved { version, etag } => Outcome::Resolved(version, etag),
        SubmitOutcome::Stale => Outcome::Stale,
        SubmitOutcome::Closed { by } => Outcome::Closed(by),
        SubmitOutcome::Invalid { errors } => {
            Outcome::Invalid(errors.into_iter().map(|e| (e.path, e.message)).collect())
        }
    };
    report(args, &desk, outcome)
}

enum Outcome {
    Resolved(Option<u64>, Option<String>),
    Stale,
    Closed(String),
    Invalid(Vec<(String, String)>),
}

fn report(args: &ResolveArgs, desk: &Desk, outcome: Outcome) -> Result<Exit, Failure> {
    let id = &desk.detail.id;
    let record = visible(&desk.detail.record_id).into_owned();
    let (value, text, exit) = match outcome {
        Outcome::Resolved(version, _) if args.keep_deleted => (
            json!({"conflict_id": id, "status": "resolved", "kept_deleted": true, "version": version}),
            format!(
                "resolved {id}: kept {record} deleted (version {})",
                version.map_or("?".into(), |v| v.to_string())
            ),
            Exit::Ok,
        ),
        Outcome::Resolved(version, etag) => (
            json!({"conflict_id": id, "status": "resolved", "version": version, "etag": etag}),
            format!(
                "resolved {id} {record}: version {}, ETag {}",
                version.map_or("?".into(), |v| v.to_string()),
                visible(etag.as_deref().unwrap_or("?"))
            ),
            Exit::Ok,
        ),
        Outcome::Stale => (
            json!({"conflict_id": id, "status": "stale"}),
            format!(
                "{id}: {record} changed on the server meanwhile; nothing was written, run it again"
            ),
            Exit::Conflict,
        ),
        Outcome::Closed(by) => (
            json!({"conflict_id": id, "status": "closed", "resolved_by": by}),
            format!("{id}: already resolved by {}", visible(&by)),
            Exit::Conflict,
        ),
        Outcome::Invalid(errors) => {
            let list: Vec<String> = errors
                .iter()
                .map(|(p, m)| format!("{}: {}", visible(p), visible(m)))
                .collect();
            let errors: Vec<_> = errors
                .iter()
                .map(|(path, message)| json!({"path": path, "message": message}))
                .collect();
            (
                json!({"conflict_id": id, "status": "invalid", "errors": errors}),
                format!("{id}: the resolved record is invalid: {}", list.join("; ")),
                Exit::Conflict,
            )
        }
    };
    if args.json {
        print(&value.to_string())?;
    } else if exit == Exit::Ok {
        print(&format!("{text}\n"))?;
    } else {
        eprintln!("syncdesk: {text}");
    }
    Ok(exit)
}

/// What `--field` asks for a path: a side, or a value as typed.
#[derive(Debug, PartialEq)]
enum FieldChoice {
    Side(Choice),
    /// Text for a text field, JSON for any other; read against the field's type.
    Value(String),
}

/// `PATH=local`, `PATH=server` or `PATH==VALUE`.
fn parse_field(arg: &str) -> Result<(String, FieldChoice), Failure> {
    let bad = |why: &str| Failure::input(format!("--field {arg}: {why}"));
    let (path, rest) = arg
        .split_once('=')
        .ok_or_else(|| bad("expected PATH=local, PATH=server or PATH==VALUE"))?;
    if !path.starts_with('/') {
        return Err(bad("the path is a JSON Pointer, starting with /"));
    }
    let choice = match rest {
        "local" => FieldChoice::Side(Choice::Local),
        "server" => FieldChoice::Side(Choice::Server),
        _ => match rest.strip_prefix('=') {
            Some(value) => FieldChoice::Value(value.to_string()),
            None => return Err(bad("expected local, server, or =VALUE")),
        },
    };
    Ok((path.to_string(), choice))
}

/// Writes to stdout; a closed pipe (`| head`) is not an error.
pub(super) fn print(text: &str) -> Result<Exit, Failure> {
    let mut out = std::io::stdout().lock();
    let written = out.write_all(text.as_bytes()).and_then(|()| {
        if text.ends_with('\n') {
            Ok(())
        } else {
            writeln!(out)
        }
    });
    match written {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Failure::input(format!("cannot write: {e}")))
        }
        _ => Ok(Exit::Ok),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_arguments_name_a_side_or_a_value() {
        assert_eq!(
            parse_field("/notes=local").unwrap(),
            ("/notes".into(), FieldChoice::Side(Choice::Local))
        );
        assert_eq!(
            parse_field("/a/b=server").unwrap(),
            ("/a/b".into(), FieldChoice::Side(Choice::Server))
        );
        assert_eq!(
            parse_field("/t==21.5").unwrap(),
            ("/t".into(), FieldChoice::Value("21.5".into()))
        );
        assert_eq!(
            parse_field("/n==x=y").unwrap(),
            ("/n".into(), FieldChoice::Value("x=y".into()))
        );
        assert!(
            parse_field("notes=local")
                .unwrap_err()
                .message
                .contains("JSON Pointer")
        );
        assert!(
            parse_field("/notes=mine")
                .unwrap_err()
                .message
                .contains("expected local")
        );
    }
}
