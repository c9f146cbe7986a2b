//! `syncdesk demo`: the merge engine on a realistic inspection, from bundled data.
//! (The server and the conflict desk will join it here as they land.)

use std::io::Write;

use super::merge_cmd::{use_colour, write_table};
use super::{Exit, Failure};
use crate::merge::{Class, InlineDiff, NoPolicy, merge, text_diff};
use crate::model::Schemas;
use crate::model::json::{Json, Object};
use crate::sanitize::visible;

const SCHEMA: &str = include_str!("../../assets/demo/syncdesk.toml");
const BASE: &str = include_str!("../../assets/demo/base.json");
const LOCAL: &str = include_str!("../../assets/demo/local.json");
const SERVER: &str = include_str!("../../assets/demo/server.json");

pub fn run() -> Result<Exit, Failure> {
    let bundled =
        |e: &dyn std::fmt::Display| Failure::input(format!("bundled demo data is broken: {e}"));
    let schemas = Schemas::from_toml(SCHEMA).map_err(|e| bundled(&e))?;
    let schema = schemas
        .get("inspections")
        .ok_or_else(|| bundled(&"no [types.inspections]"))?;
    let fields = |text| match Json::parse(text) {
        Ok(Json::Object(o)) => Ok(o),
        Ok(_) => Err(bundled(&"not an object")),
        Err(e) => Err(bundled(&e)),
    };
    let (base, local, server): (Object, Object, Object) =
        (fields(BASE)?, fields(LOCAL)?, fields(SERVER)?);
    let outcome = merge(&base, &local, &server, Some(schema), &NoPolicy);
    let colour = use_colour();

    let mut out = std::io::stdout().lock();
    let mut show = || -> std::io::Result<()> {
        writeln!(
            out,
            "A technician edited inspection INS-1001 offline (clock at +01:00) while the office"
        )?;
        writeln!(
            out,
            "edited it on the web. A version-based three-way merge, field by field:\n"
        )?;
        write_table(&mut out, &outcome, colour)?;
        writeln!(out)?;
        // Said only when the engine saw it so: the demo never claims what did not happen.
        let same = [
            (
                "/inspected_at",
                "the same instant, written in two time zones",
            ),
            ("/temperature", "21 and 21.0, the same number"),
        ];
        for (path, why) in same {
            if outcome
                .fields
                .iter()
                .any(|f| f.path == path && f.class == Class::Unchanged)
            {
                writeln!(out, "{path}: {why}: not a conflict.")?;
            }
        }
        for f in outcome.fields.iter().filter(|f| f.class == Class::Conflict) {
            writeln!(
                out,
                "\n{} is a genuine conflict (a supervisor decides):",
                visible(&f.path)
            )?;
            for (side, value) in [("local ", f.local), ("server", f.server)] {
                if let (Some(Json::String(old)), Some(Json::String(new))) = (f.base, value) {
                    writeln!(out, "  base → {side}: {}", inline(old, new, colour))?;
                }
            }
        }
        Ok(())
    };
    // A closed pipe (`| head`) is not an error of the demo.
    match show() {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            return Err(Failure::input(format!("cannot write: {e}")));
        }
        _ => {}
    }
    Ok(Exit::Ok)
}

/// Old → new with deletions as `[-…-]` and insertions as `{+…+}` (coloured on a terminal).
pub(super) fn inline(old: &str, new: &str, colour: bool) -> String {
    let (del, ins, off) = if colour {
        ("\x1b[31m[-", "\x1b[32m{+", "\x1b[0m")
    } else {
        ("[-", "{+", "")
    };
    let deleted = |t: &str| format!("{del}{}-]{off}", visible(t));
    let inserted = |t: &str| format!("{ins}{}+}}{off}", visible(t));
    match text_diff(old, new) {
        InlineDiff::Replaced => format!("{}{}", deleted(old), inserted(new)),
        InlineDiff::Edits(edits) => edits
            .into_iter()
            .map(|e| match e.op {
                crate::merge::EditOp::Equal => visible(&old[e.old]).into_owned(),
                crate::merge::EditOp::Delete => deleted(&old[e.old]),
                crate::merge::EditOp::Insert => inserted(&new[e.new]),
                crate::merge::EditOp::Replace => {
                    format!("{}{}", deleted(&old[e.old]), inserted(&new[e.new]))
                }
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_marks_words_and_makes_escapes_visible() {
        assert_eq!(
            inline(
                "the pump leaks slightly today",
                "the pump leaks badly today",
                false
            ),
            "the pump leaks [-slightly-]{+badly+} today"
        );
        assert_eq!(inline("open", "failed", false), "[-open-]{+failed+}");
        assert_eq!(
            inline("a \x1b[2J b c d e", "a \x1b[2J b c d f", false),
            "a ^[[2J b c d [-e-]{+f+}"
        );
    }
}
