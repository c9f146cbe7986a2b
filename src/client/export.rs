//! An export file worked on offline: its conflicts, and the resolutions file it grows.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{Loaded, SourceError, Submission, SubmitOutcome};
use crate::model::time::UtcMillis;
use crate::model::{FieldType, TypeSchema};
use crate::protocol::{
    ConflictSummary, ExportIndex, FileError, ResolutionEntry, ResolutionInfo, ResolutionsFile,
    Status, choice_names,
};

/// The conflicts of one export and the resolutions made on them so far.
pub struct ExportBook {
    name: String,
    /// The export's text; details are read from it when opened.
    text: String,
    /// Boxed: a source is a server client or this, and the index is the larger part.
    index: Box<ExportIndex>,
    by_id: HashMap<String, usize>,
    out: PathBuf,
    made: Mutex<ResolutionsFile>,
}

impl ExportBook {
    /// Reads `path`; resolutions go to `out` (default: `NAME.resolutions.json` beside it).
    /// Resolutions already in `out` are kept, and their conflicts show as resolved.
    pub fn open(path: &Path, out: Option<&Path>) -> Result<Self, FileError> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| FileError {
            file: name.clone(),
            message: e.to_string(),
        })?;
        let out = out.map_or_else(|| default_out(path), Path::to_path_buf);
        let made = match std::fs::read_to_string(&out) {
            Ok(text) => serde_json::from_str(&text).map_err(|e| FileError {
                file: out.display().to_string(),
                message: e.to_string(),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => ResolutionsFile::new(),
            Err(e) => {
                return Err(FileError {
                    file: out.display().to_string(),
                    message: e.to_string(),
                });
            }
        };
        Self::from_text(&name, text, out, made)
    }

    /// An export from its text (the name says JSON or NDJSON, and names faults).
    pub fn from_text(
        name: &str,
        text: impl Into<String>,
        out: PathBuf,
        made: ResolutionsFile,
    ) -> Result<Self, FileError> {
        let text = text.into();
        let index = Box::new(ExportIndex::parse(name, &text)?);
        let mut by_id = HashMap::with_capacity(index.entries.len());
        for (i, (_, c)) in index.entries.iter().enumerate() {
            if by_id.insert(c.id.clone(), i).is_some() {
                return Err(FileError {
                    file: name.to_string(),
                    message: format!("conflict {} appears twice", c.id),
                });
            }
        }
        Ok(Self {
            name: name.to_string(),
            text,
            index,
            by_id,
            out,
            made: Mutex::new(made),
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Where resolutions are written.
    pub fn out_path(&self) -> &Path {
        &self.out
    }

    /// The queue lines, oldest first; `all` includes resolved ones.
    pub fn summaries(&self, all: bool) -> Vec<ConflictSummary> {
        let made = self.made.lock().unwrap_or_else(|p| p.into_inner());
        let made: HashMap<&str, &ResolutionEntry> = made
            .resolutions
            .iter()
            .map(|r| (r.conflict_id.as_str(), r))
            .collect();
        let mut out: Vec<ConflictSummary> = self
            .index
            .entries
            .iter()
            .map(|(_, c)| {
                let mut s = c.clone();
                if let Some(entry) = made.get(c.id.as_str()) {
                    s.status = Status::Resolved;
                    s.resolution = Some(info(entry));
                }
                s
            })
            .filter(|s| all || s.status == Status::Open)
            .collect();
        out.sort_by(|a, b| a.received_at.cmp(&b.received_at).then(a.id.cmp(&b.id)));
        out
    }

    pub fn load(&self, id: &str) -> Result<Loaded, SourceError> {
        let i = self.by_id.get(id).ok_or_else(|| SourceError::Refused {
            status: 404,
            message: format!("{} holds no conflict {id}", self.name),
        })?;
        let (range, _) = &self.index.entries[*i];
        let mut detail = ExportIndex::detail(&self.name, &self.text, range.clone())
            .map_err(|e| SourceError::File(e.to_string()))?
            .into_owned();
        // Resolved here means: the resolutions file holds it (read at open or made since).
        if let Some(entry) = self
            .made
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .resolutions
            .iter()
            .find(|r| r.conflict_id == id)
        {
            detail.status = Status::Resolved;
            detail.resolution = Some(info(entry));
        }
        // The export's own schema and lists, so that the checks and the picker work
        // offline as they do on the server.
        let schema = self
            .index
            .schemas
            .get(&detail.record_type)
            .and_then(|s| TypeSchema::from_json(&s.to_string()).ok());
        let lists = schema
            .iter()
            .flat_map(|s| s.fields.values())
            .filter_map(|f| match &f.kind {
                FieldType::Reference { list } => self
                    .index
                    .master
                    .get(list)
                    .map(|data| (list.clone(), data.clone())),
                _ => None,
            })
            .collect();
        Ok(Loaded {
            etag: detail.server.as_ref().map(|s| s.etag.clone()),
            detail,
            schema,
            lists,
        })
    }

    /// Records a resolution in the resolutions file (written whole, atomically).
    pub fn resolve(&self, submission: &Submission) -> Result<SubmitOutcome, SourceError> {
        let i = self.by_id.get(&submission.conflict_id).ok_or_else(|| {
            SourceError::File(format!(
                "{} holds no conflict {}",
                self.name, submission.conflict_id
            ))
        })?;
        let (range, _) = &self.index.entries[*i];
        let detail = ExportIndex::detail(&self.name, &self.text, range.clone())
            .map_err(|e| SourceError::File(e.to_string()))?;
        let etag = detail.server.as_ref().map(|s| s.etag.clone());
        if etag != submission.if_match {
            return Ok(SubmitOutcome::Stale);
        }
        let mut made = self.made.lock().unwrap_or_else(|p| p.into_inner());
        let mut next = made.clone();
        next.put(ResolutionEntry {
            conflict_id: submission.conflict_id.clone(),
            record_type: submission.record_type.clone(),
            record_id: submission.record_id.clone(),
            if_match: submission.if_match.clone(),
            fields: submission.fields.clone(),
            choices: choice_names(&submission.choices),
            keep_deleted: submission.keep_deleted,
            resolved_by: submission.resolved_by.clone(),
            resolved_at: UtcMillis::now(),
        });
        let text = serde_json::to_vec_pretty(&next)
            .map_err(|e| SourceError::File(format!("{}: {e}", self.out.display())))?;
        crate::atomic_file::write(&self.out, &text)
            .map_err(|e| SourceError::File(format!("{}: {e}", self.out.display())))?;
        *made = next;
        Ok(SubmitOutcome::Resolved {
            version: None,
            etag,
        })
    }
}

fn info(entry: &ResolutionEntry) -> ResolutionInfo {
    ResolutionInfo {
        by: entry.resolved_by.clone(),
        at: entry.resolved_at,
        resulting_version: None,
        kept_deleted: entry.keep_deleted,
        choices: entry.choices.clone(),
        fields: Vec::new(),
    }
}

/// `queue.json` → `queue.resolutions.json`, beside it.
fn default_out(path: &Path) -> PathBuf {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("conflicts");
    path.with_file_name(format!("{stem}.resolutions.json"))
}
