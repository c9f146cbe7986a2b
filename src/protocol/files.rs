//! The two files of offline work: an export of the queue, and the resolutions made on it.

use serde::{Deserialize, Serialize};

use super::conflict::ConflictDetail;
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
    /// Reads an export named `name`: NDJSON (one detail a line) when the name ends in
    /// `.ndjson` or `.jsonl`, else the JSON document of section 9. A fault names its line.
    pub fn parse(name: &str, text: &'a str) -> Result<Self, FileError> {
        let fault = |message: String| FileError {
            file: name.to_string(),
            message,
        };
        let ndjson = name.ends_with(".ndjson") || name.ends_with(".jsonl");
        if !ndjson {
            let file: Self = serde_json::from_str(text).map_err(|e| {
                fault(format!(
                    "line {}, column {}: {}",
                    e.line(),
                    e.column(),
                    strip_position(&e)
                ))
            })?;
            if file.format != EXPORT_FORMAT {
                return Err(fault(format!(
                    "format is {:?}, expected {EXPORT_FORMAT:?}",
                    file.format
                )));
            }
            return Ok(file);
        }
        let mut conflicts = Vec::new();
        for (n, line) in text.lines().enumerate() {
            if line.trim().is_empty() {
                continue;
            }
            let detail = serde_json::from_str(line).map_err(|e| {
                fault(format!(
                    "line {}, column {}: {}",
                    n + 1,
                    e.column(),
                    strip_position(&e)
                ))
            })?;
            conflicts.push(detail);
        }
        Ok(Self {
            format: EXPORT_FORMAT.into(),
            exported_at: None,
            server: None,
            conflicts,
        })
    }
}

/// serde_json's message without its trailing " at line L column C" (we say it first).
fn strip_position(e: &serde_json::Error) -> String {
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
    #[serde(deserialize_with = "crate::model::json::owned_object")]
    pub fields: Object<'static>,
    pub choices: std::collections::BTreeMap<String, String>,
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
