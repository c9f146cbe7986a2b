//! The two files of offline work: an export of the queue, and the resolutions made on it.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use super::conflict::{ConflictDetail, ConflictSummary};
use super::master::MasterData;
use crate::merge::Choices;
use crate::model::json::Object;
use crate::model::read::{Outline, outline, outline_items};
use crate::model::time::UtcMillis;

/// The `format` of an export file.
pub const EXPORT_FORMAT: &str = "syncdesk.conflicts.v1";
/// The `format` of a resolutions file.
pub const RESOLUTIONS_FORMAT: &str = "syncdesk.resolutions.v1";

/// A file that could not be read as what it should be, with the place of the fault.
#[derive(Debug, thiserror::Error)]
#[error("{file}: {message}")]
pub struct FileError {
    pub file: String,
    pub message: String,
}

/// The queue written by `syncdesk export`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportFile<'a> {
    pub format: String,
    #[serde(default)]
    pub exported_at: Option<UtcMillis>,
    #[serde(default)]
    pub server: Option<String>,
    #[serde(borrow)]
    pub conflicts: Vec<ConflictDetail<'a>>,
}

impl<'a> ExportFile<'a> {
    /// Reads a whole export named `name` (NDJSON when named `.ndjson`/`.jsonl`): its
    /// index, then every detail. A fault names the file, its line and column.
    pub fn parse(name: &str, text: &'a str) -> Result<Self, FileError> {
        let index = ExportIndex::parse(name, text)?;
        let conflicts = index
            .entries
            .iter()
            .map(|(range, _)| ExportIndex::detail(name, text, range.clone()))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            format: EXPORT_FORMAT.into(),
            exported_at: index.exported_at,
            server: index.server,
            conflicts,
        })
    }
}

/// An export read for its queue only: every conflict's summary and the place of its
/// detail in the text. Details are parsed when a conflict is opened, so a large export
/// shows its first screen after one light pass.
#[derive(Debug, Clone)]
pub struct ExportIndex {
    pub exported_at: Option<UtcMillis>,
    pub server: Option<String>,
    /// The master-data lists the conflicts' types refer to, as exported (JSON exports).
    pub master: BTreeMap<String, MasterData>,
    /// The schemas of the conflicts' types, as `GET /v1/schema/{type}` gave them.
    pub schemas: BTreeMap<String, serde_json::Value>,
    pub entries: Vec<(Range<usize>, ConflictSummary)>,
}

impl ExportIndex {
    /// Indexes an export named `name` (NDJSON when named `.ndjson`/`.jsonl`). A fault
    /// names the file, its line and column; the sides of a detail are checked when it
    /// is opened.
    pub fn parse(name: &str, text: &str) -> Result<Self, FileError> {
        // One light pass of our own reader; a text it cannot take is read again the way
        // below, for serde_json's message and position (or a result it alone accepts).
        if let Some(index) = Self::outlined(name, text) {
            return Ok(index);
        }
        Self::parse_with_serde(name, text)
    }

    /// The index from an outline of the text, or `None` when it needs a closer look.
    fn outlined(name: &str, text: &str) -> Option<Self> {
        let mut index = Self {
            exported_at: None,
            server: None,
            master: BTreeMap::new(),
            schemas: BTreeMap::new(),
            entries: Vec::new(),
        };
        if is_ndjson(name) {
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let start = line.as_ptr() as usize - text.as_ptr() as usize;
                let conflict = outline(line, 1)?;
                let summary = summary(line, conflict.members()?)?;
                index.entries.push((start..start + line.len(), summary));
            }
            return Some(index);
        }
        // Each conflict is outlined, summarised and let go in the one pass.
        let mut entries = Vec::new();
        let envelope = outline_items(text, "conflicts", 1, |conflict| {
            entries.push((conflict.span.clone(), summary(text, conflict.members()?)?));
            Some(())
        })?;
        let mut format = None;
        let mut seen = BTreeSet::new();
        for (key, value) in envelope.members()? {
            let raw = &text[value.span.clone()];
            // A repeated field is an error serde_json words.
            if !seen.insert(key.as_ref()) {
                return None;
            }
            match key.as_ref() {
                "format" => format = Some(serde_json::from_str::<&str>(raw).ok()?),
                "exported_at" => index.exported_at = serde_json::from_str(raw).ok()?,
                "server" => index.server = serde_json::from_str(raw).ok()?,
                "master" => index.master = serde_json::from_str(raw).ok()?,
                "schemas" => index.schemas = serde_json::from_str(raw).ok()?,
                _ => {}
            }
        }
        if format? != EXPORT_FORMAT || !seen.contains("conflicts") {
            return None;
        }
        index.entries = entries;
        Some(index)
    }

    fn parse_with_serde(name: &str, text: &str) -> Result<Self, FileError> {
        #[derive(Deserialize)]
        struct Envelope<'a> {
            format: String,
            #[serde(default)]
            exported_at: Option<UtcMillis>,
            #[serde(default)]
            server: Option<String>,
            #[serde(default)]
            master: BTreeMap<String, MasterData>,
            #[serde(default)]
            schemas: BTreeMap<String, serde_json::Value>,
            #[serde(borrow)]
            conflicts: Vec<&'a RawValue>,
        }
        let fault = |message: String| FileError {
            file: name.to_string(),
            message,
        };
        let (mut exported_at, mut server) = (None, None);
        let (mut master, mut schemas) = (BTreeMap::new(), BTreeMap::new());
        let raws: Vec<&str> = if is_ndjson(name) {
            text.lines().filter(|l| !l.trim().is_empty()).collect()
        } else {
            let envelope: Envelope = serde_json::from_str(text).map_err(|e| {
                fault(format!(
                    "line {}, column {}: {}",
                    e.line(),
                    e.column(),
                    strip_position(&e)
                ))
            })?;
            if envelope.format != EXPORT_FORMAT {
                return Err(fault(format!(
                    "format is {:?}, expected {EXPORT_FORMAT:?}",
                    envelope.format
                )));
            }
            (exported_at, server) = (envelope.exported_at, envelope.server);
            (master, schemas) = (envelope.master, envelope.schemas);
            envelope.conflicts.into_iter().map(RawValue::get).collect()
        };
        let mut entries = Vec::with_capacity(raws.len());
        for raw in raws {
            let start = raw.as_ptr() as usize - text.as_ptr() as usize;
            let range = start..start + raw.len();
            let summary = serde_json::from_str(raw).map_err(|e| fault(at(text, start, &e)))?;
            entries.push((range, summary));
        }
        Ok(Self {
            exported_at,
            server,
            master,
            schemas,
            entries,
        })
    }

    /// The detail at `range` of the indexed text.
    pub fn detail<'a>(
        name: &str,
        text: &'a str,
        range: Range<usize>,
    ) -> Result<ConflictDetail<'a>, FileError> {
        let start = range.start;
        let raw = text.get(range).unwrap_or_default();
        serde_json::from_str(raw).map_err(|e| FileError {
            file: name.to_string(),
            message: at(text, start, &e),
        })
    }
}

/// The members of a conflict that hold its sides: the queue does not need them.
const DETAIL_MEMBERS: [&str; 4] = ["base", "local", "server", "fields"];

/// A conflict's summary from its outlined members: its other members written out as a
/// small object (a few hundred bytes instead of the whole conflict) and read by serde.
fn summary(text: &str, members: &[(Cow<str>, Outline)]) -> Option<ConflictSummary> {
    let mut small = String::with_capacity(512);
    small.push('{');
    for (key, value) in members {
        if DETAIL_MEMBERS.contains(&key.as_ref()) {
            continue;
        }
        if small.len() > 1 {
            small.push(',');
        }
        match key {
            // Read without escapes, so it needs none written back.
            Cow::Borrowed(plain) => {
                small.push('"');
                small.push_str(plain);
                small.push('"');
            }
            Cow::Owned(unescaped) => small.push_str(&serde_json::to_string(unescaped).ok()?),
        }
        small.push(':');
        small.push_str(&text[value.span.clone()]);
    }
    small.push('}');
    serde_json::from_str(&small).ok()
}

/// A fault inside a part of `text` that starts at byte `start`, placed in the whole text.
fn at(text: &str, start: usize, e: &serde_json::Error) -> String {
    let before = &text[..start];
    let line = before.matches('\n').count() + e.line();
    let column = if e.line() == 1 {
        before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + e.column()
    } else {
        e.column()
    };
    format!("line {line}, column {column}: {}", strip_position(e))
}

fn is_ndjson(name: &str) -> bool {
    name.ends_with(".ndjson") || name.ends_with(".jsonl")
}

/// serde_json's message without its trailing " at line L column C" (we say it first).
pub fn strip_position(e: &serde_json::Error) -> String {
    let text = e.to_string();
    match text.rfind(" at line ") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// One resolution made offline, to be submitted by `syncdesk push`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolutionEntry {
    pub conflict_id: String,
    pub record_type: String,
    pub record_id: String,
    /// The server ETag the decisions were made against; `None` for a parked create.
    pub if_match: Option<String>,
    /// The resolved record; empty when the deletion is kept.
    #[serde(default, deserialize_with = "crate::model::json::owned_object")]
    pub fields: Object<'static>,
    #[serde(default)]
    pub choices: std::collections::BTreeMap<String, String>,
    /// A deleted-on-server conflict closed by keeping the deletion.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub keep_deleted: bool,
    pub resolved_by: String,
    pub resolved_at: UtcMillis,
}

/// The file `syncdesk open` writes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResolutionsFile {
    pub format: String,
    pub resolutions: Vec<ResolutionEntry>,
}

impl ResolutionsFile {
    pub fn new() -> Self {
        Self {
            format: RESOLUTIONS_FORMAT.into(),
            resolutions: Vec::new(),
        }
    }

    /// Adds a resolution, replacing an earlier one of the same conflict.
    pub fn put(&mut self, entry: ResolutionEntry) {
        self.resolutions
            .retain(|r| r.conflict_id != entry.conflict_id);
        self.resolutions.push(entry);
    }
}

impl Default for ResolutionsFile {
    fn default() -> Self {
        Self::new()
    }
}

/// The choice words of a resolution body from the desk's decisions.
pub fn choice_names(choices: &Choices) -> std::collections::BTreeMap<String, String> {
    choices
        .iter()
        .map(|(path, c)| (path.clone(), c.name().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn conflict(i: usize, resolved: bool) -> Value {
        json!({
            "id": format!("c-{i:06}"), "status": if resolved { "resolved" } else { "open" },
            "kind": "edit-conflict", "record_type": "inspections", "record_id": format!("INS-{i}"),
            "submitted_by": "ana", "device_id": "tab-17",
            "captured_at": "2026-11-20T09:12:00.000Z", "received_at": "2026-11-20T10:00:00+01:00",
            "base": {"version": 4, "last_modified": "2026-11-19T08:00:00.000Z", "modified_by": "ana",
                     "fields": {"notes": "Pump \"leaks\"\n\u{e9}", "n": [1, 2.5, -3e2]}},
            "local": {"fields": {"notes": "local"}},
            "server": {"version": 7, "last_modified": "2026-11-20T16:05:00.000Z", "modified_by": "ben",
                       "deleted": false, "fields": {"notes": "server"}, "etag": "\"7-x\""},
            "fields": [{"path": "/notes", "class": "conflict"}],
            "conflicting_paths": ["/notes"],
            "resolution": if resolved {
                json!({"by": "sue", "at": "2026-11-21T08:00:00.000Z", "resulting_version": 8,
                       "choices": {"/notes": "local"}})
            } else { Value::Null },
            "claimed_by": null
        })
    }

    fn export() -> Value {
        json!({
            "format": EXPORT_FORMAT, "exported_at": "2026-11-25T10:00:00.000Z",
            "server": "http://127.0.0.1:8080", "extra": {"ignored": [1, {"a": null}]},
            "master": {"sites": {"items": [{"id": "S-1", "label": "Plant"}], "etag": "\"1\""}},
            "schemas": {"inspections": {"fields": {"notes": {"type": "text"}}}},
            "conflicts": (0..5).map(|i| conflict(i, i == 3)).collect::<Vec<_>>(),
        })
    }

    fn same(a: &ExportIndex, b: &ExportIndex) {
        assert_eq!(a.entries, b.entries);
        assert_eq!(
            (&a.exported_at, &a.server, &a.master, &a.schemas),
            (&b.exported_at, &b.server, &b.master, &b.schemas)
        );
    }

    #[test]
    fn the_outline_indexes_as_serde_json_does() {
        let compact = export().to_string();
        let pretty = serde_json::to_string_pretty(&export()).unwrap();
        let ndjson: String = (0..4)
            .map(|i| format!("{}\n\n", conflict(i, i == 2)))
            .collect();
        for (name, text) in [
            ("q.json", &compact),
            ("q.json", &pretty),
            ("q.ndjson", &ndjson),
        ] {
            let slow = ExportIndex::parse_with_serde(name, text).unwrap();
            let fast = ExportIndex::outlined(name, text).expect("outlined");
            same(&fast, &slow);
            assert!(!fast.entries.is_empty());
            for (range, summary) in &fast.entries {
                let detail = ExportIndex::detail(name, text, range.clone()).unwrap();
                assert_eq!(&detail.summary(), summary, "{name}");
            }
        }
    }

    #[test]
    fn a_text_the_outline_cannot_take_is_read_by_serde_json_with_its_place() {
        let mut bad_type = export();
        bad_type["conflicts"][2]["received_at"] = json!(5);
        let mut wrong_format = export();
        wrong_format["format"] = json!("other.v1");
        let repeated = export().to_string().replacen(
            "\"format\"",
            &format!("\"format\":\"{EXPORT_FORMAT}\",\"format\""),
            1,
        );
        let cut = export().to_string()[..900].to_string();
        for text in [
            bad_type.to_string(),
            wrong_format.to_string(),
            repeated,
            cut,
        ] {
            assert!(ExportIndex::outlined("q.json", &text).is_none());
            let err = ExportIndex::parse("q.json", &text).unwrap_err();
            let slow = ExportIndex::parse_with_serde("q.json", &text).unwrap_err();
            assert_eq!(err.message, slow.message);
        }
        let mut bad_line = String::new();
        for i in 0..3 {
            bad_line.push_str(&conflict(i, false).to_string());
            bad_line.push('\n');
        }
        bad_line.push_str("{\"id\": \n");
        let err = ExportIndex::parse("q.ndjson", &bad_line).unwrap_err();
        assert!(err.message.starts_with("line 4, column"), "{}", err.message);
    }
}
