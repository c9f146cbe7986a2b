//! `syncdesk merge BASE LOCAL SERVER [--schema FILE --type T] [--json]`.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use super::{Exit, Failure};
use crate::merge::{Class, Merge, NoPolicy, PathDiff, merge};
use crate::model::json::{Json, Object};
use crate::model::{Schemas, TypeSchema};
use crate::sanitize::visible;

#[derive(clap::Args)]
pub struct MergeArgs {
    /// The fields as the form was loaded (JSON object).
    base: PathBuf,
    /// The fields as edited on the device (JSON object).
    local: PathBuf,
    /// The fields as they are on the server now (JSON object).
    server: PathBuf,
    /// A TOML configuration whose [types.T] tells how to compare (datetimes, keyed lists).
    #[arg(long, requires = "record_type")]
    schema: Option<PathBuf>,
    /// The record type in the schema file.
    #[arg(long = "type", value_name = "T", requires = "schema")]
    record_type: Option<String>,
    /// Print the result as JSON.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &MergeArgs) -> Result<Exit, Failure> {
    let schema = match (&args.schema, &args.record_type) {
        (Some(file), Some(name)) => Some(read_schema(file, name)?),
        _ => None,
    };
    let texts = [read(&args.base)?, read(&args.local)?, read(&args.server)?];
    let base = parse_fields(&args.base, &texts[0])?;
    let local = parse_fields(&args.local, &texts[1])?;
    let server = parse_fields(&args.server, &texts[2])?;
    let outcome = merge(&base, &local, &server, schema.as_ref(), &NoPolicy);
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        serde_json::to_writer_pretty(&mut out, &as_json(&outcome))
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_table(&mut out, &outcome, use_colour())
    };
    // A closed pipe (`| head`) is not an error of the merge.
    if let Err(e) = written
        && e.kind() != std::io::ErrorKind::BrokenPipe
    {
        return Err(Failure::input(format!("cannot write the result: {e}")));
    }
    Ok(if outcome.is_clean() {
        Exit::Ok
    } else {
        Exit::Conflict
    })
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::input(format!("{}: cannot read: {e}", path.display())))
}

fn parse_fields<'t>(path: &Path, bytes: &'t [u8]) -> Result<Object<'t>, Failure> {
    let name = path.display();
    match Json::parse_slice(bytes) {
        Ok(Json::Object(fields)) => Ok(fields),
        Ok(other) => Err(Failure::input(format!(
            "{name}: the top level is {}; expected an object (a record's fields)",
            other.kind()
        ))),
        Err(e) => Err(Failure::input(format!("{name}: invalid JSON: {e}"))),
    }
}

fn read_schema(path: &Path, record_type: &str) -> Result<TypeSchema, Failure> {
    let name = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| Failure::input(format!("{name}: cannot read: {e}")))?;
    let mut schemas =
        Schemas::from_toml(&text).map_err(|e| Failure::input(format!("{name}: {e}")))?;
    schemas.0.remove(record_type).ok_or_else(|| {
        let known: Vec<&str> = schemas.0.keys().map(String::as_str).collect();
        let known = if known.is_empty() {
            "none".to_string()
        } else {
            known.join(", ")
        };
        Failure::input(format!(
            "{name}: no [types.{record_type}] in this file (types here: {known})"
        ))
    })
}

fn as_json(outcome: &Merge) -> serde_json::Value {
    let conflicts: Vec<&str> = outcome.conflicts().collect();
    json!({
        "status": if conflicts.is_empty() { "clean" } else { "conflict" },
        "conflicts": conflicts,
        "merged": outcome.merged,
        "fields": outcome.fields,
    })
}

pub(super) fn use_colour() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// Widest a value column gets before it is cut with `…`.
const VALUE_WIDTH: usize = 32;

pub(super) fn write_table(
    out: &mut impl Write,
    outcome: &Merge,
    colour: bool,
) -> std::io::Result<()> {
    let rows: Vec<&PathDiff> = outcome
        .fields
        .iter()
        .filter(|f| f.class != Class::Unchanged)
        .collect();
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|f| {
            [
                visible(&f.path).into_owned(),
                f.class.name().into(),
                cell(f.base),
                cell(f.local),
                cell(f.server),
            ]
        })
        .collect();
    let header = ["PATH", "CLASS", "BASE", "LOCAL", "SERVER"].map(String::from);
    let mut widths = header.each_ref().map(|h| h.chars().count());
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    if !cells.is_empty() {
        write_row(out, &header, &widths, None)?;
        for (row, f) in cells.iter().zip(&rows) {
            write_row(out, row, &widths, colour.then_some(f.class))?;
        }
    }
    let count = |c: Class| outcome.paths_of(c).count();
    let conflicts = count(Class::Conflict);
    let verdict = if conflicts == 0 {
        "clean".to_string()
    } else {
        format!("{conflicts} in conflict")
    };
    writeln!(
        out,
        "{verdict}: {} paths, {} local, {} server, {} both the same, {} unchanged",
        outcome.fields.len(),
        count(Class::Local),
        count(Class::Server),
        count(Class::BothSame),
        count(Class::Unchanged)
    )
}

fn write_row(
    out: &mut impl Write,
    cells: &[String; 5],
    widths: &[usize; 5],
    class: Option<Class>,
) -> std::io::Result<()> {
    let (on, off) = match class.map(ansi_colour) {
        Some(code) => (code, "\x1b[0m"),
        None => ("", ""),
    };
    let mut line = String::new();
    for (i, (c, w)) in cells.iter().zip(widths).enumerate() {
        let pad = w - c.chars().count();
        if i == 1 {
            line.push_str(&format!("{on}{c}{off}{}  ", " ".repeat(pad)));
        } else {
            line.push_str(&format!("{c}{}  ", " ".repeat(pad)));
        }
    }
    writeln!(out, "{}", line.trim_end())
}

fn ansi_colour(class: Class) -> &'static str {
    match class {
        Class::Conflict | Class::Invalid => "\x1b[1;31m",
        Class::Local => "\x1b[32m",
        Class::Server => "\x1b[36m",
        Class::BothSame | Class::Unchanged => "\x1b[2m",
    }
}

/// A value as compact JSON, made visible, cut to the column width; `—` for absent.
fn cell(value: Option<&Json>) -> String {
    let Some(value) = value else {
        return "—".into();
    };
    let text = value.to_string();
    let text = visible(&text);
    if text.chars().count() <= VALUE_WIDTH {
        return text.into_owned();
    }
    let mut cut: String = text.chars().take(VALUE_WIDTH - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(
        b: serde_json::Value,
        l: serde_json::Value,
        s: serde_json::Value,
        colour: bool,
    ) -> String {
        let obj = |v: serde_json::Value| Json::from(v).as_object().unwrap().clone();
        let (b, l, s) = (obj(b), obj(l), obj(s));
        let m = merge(&b, &l, &s, None, &NoPolicy);
        let mut out = Vec::new();
        write_table(&mut out, &m, colour).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn table_lists_changed_paths_and_a_summary() {
        let t = table(
            json!({"a": 1, "n": "x", "k": 0}),
            json!({"a": 2, "n": "y", "k": 0}),
            json!({"a": 1, "n": "z", "k": 0}),
            false,
        );
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0].split_whitespace().collect::<Vec<_>>(),
            ["PATH", "CLASS", "BASE", "LOCAL", "SERVER"]
        );
        assert_eq!(
            lines[1].split_whitespace().collect::<Vec<_>>(),
            ["/a", "local", "1", "2", "1"]
        );
        assert_eq!(
            lines[2].split_whitespace().collect::<Vec<_>>(),
            ["/n", "conflict", "\"x\"", "\"y\"", "\"z\""]
        );
        assert_eq!(
            lines[3],
            "1 in conflict: 3 paths, 1 local, 0 server, 0 both the same, 1 unchanged"
        );
        assert!(!t.contains('\x1b'));
    }

    #[test]
    fn values_are_sanitized_cut_and_absent_shown() {
        let t = table(
            json!({}),
            json!({"n": format!("\u{9b}2J{}", "x".repeat(50))}),
            json!({}),
            true,
        );
        assert!(t.contains("<U+009B>2J"), "{t}");
        assert!(t.contains('…'));
        assert!(t.contains('—'));
        assert!(
            t.contains("\x1b[32mlocal\x1b[0m"),
            "colour marks the class: {t:?}"
        );
        assert!(!t.contains('\u{9b}'));
    }
}
