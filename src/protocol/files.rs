//! The two files of offline work: an export of the queue, and the resolutions made on it.

use std::ops::Range;

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use std::collections::BTreeMap;

use super::conflict::{ConflictDetail, ConflictSummary};
use super::master::MasterData;
use crate::merge::Choices;
use crate::model::json::Object;
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
