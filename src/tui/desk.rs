//! One open conflict on the desk: its rows, the decisions made, undo and redo, and the
//! resolved record they make. Pure state; built off the UI thread (merge and text diffs
//! are computed here once, never while drawing).

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};

use crate::client::{Loaded, MasterData, Submission};
use crate::merge::{Choice, Choices, Class, InlineDiff, resolve, text_diff};
use crate::model::json::{Json, Object};
use crate::model::validate::validate;
use crate::model::{FieldType, TypeSchema};
use crate::protocol::ConflictDetail;
use crate::protocol::ParkKind;

/// One leaf path of the record.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub path: String,
    pub class: Class,
    pub base: Option<Json<'static>>,
    pub local: Option<Json<'static>>,
    pub server: Option<Json<'static>>,
    /// What the server side changed in the base's text (word by word), when both are text.
    pub server_change: Option<InlineDiff>,
    /// What the technician changed in the base's text.
    pub local_change: Option<InlineDiff>,
}

impl Row {
    /// Whether the server side differs from the base here.
    pub fn server_changed(&self) -> bool {
        matches!(
            self.class,
            Class::Server | Class::Conflict | Class::BothSame | Class::Invalid
        ) && self.server != self.base
    }

    /// Whether the technician's side differs from the base here.
    pub fn local_changed(&self) -> bool {
        !matches!(self.class, Class::Unchanged | Class::Server) && self.local != self.base
    }

    /// Conflicting and invalid paths need a decision; the rest merged already.
    pub fn needs_decision(&self) -> bool {
        matches!(self.class, Class::Conflict | Class::Invalid)
    }
}

/// The conflict being decided.
#[derive(Debug, Clone)]
pub struct Desk {
    pub detail: ConflictDetail<'static>,
    /// The server's ETag the resolution must match (`None`: a parked create).
    pub etag: Option<String>,
    pub schema: Option<TypeSchema>,
    /// Master-data lists by name, for reference fields (from the server, or the export).
    pub lists: BTreeMap<String, MasterData>,
    pub rows: Vec<Row>,
    pub choices: Choices,
    undo: Vec<Choices>,
    redo: Vec<Choices>,
    pub cursor: usize,
    /// Paths whose server value changed since the supervisor began (after a 412).
    pub changed_meanwhile: BTreeSet<String>,
    /// Text an editor gave back that could not be taken yet (markers left), by path: the
    /// next edit of that path starts from it, so nothing typed is lost.
    pub unfinished: BTreeMap<String, String>,
}

impl Desk {
    /// Merges the three sides and prepares every row; a draft's choices come back for
    /// the paths that still exist.
    pub fn new(loaded: Loaded, draft: Option<Choices>) -> Self {
        let Loaded {
            detail,
            etag,
            schema,
            lists,
        } = loaded;
        let rows = rows_of(&detail, schema.as_ref());
        let mut desk = Self {
            detail,
            etag,
            schema,
            lists,
            rows,
            choices: Choices::new(),
            undo: Vec::new(),
            redo: Vec::new(),
            cursor: 0,
            changed_meanwhile: BTreeSet::new(),
            unfinished: BTreeMap::new(),
        };
        if let Some(draft) = draft {
            desk.choices = desk.applicable(draft);
        }
        desk.cursor = desk.first_undecided().unwrap_or(0);
        desk
    }

    /// The decisions that name a path this record still has.
    fn applicable(&self, choices: Choices) -> Choices {
        choices
            .into_iter()
            .filter(|(path, _)| self.rows.iter().any(|r| &r.path == path))
            .collect()
    }

    /// This desk after the server side was fetched again (a 412): every decision that
    /// still applies is kept, and the paths the server changed meanwhile are marked.
    pub fn carry_over(mut self, before: &Desk) -> Self {
        let server_of = |desk: &Desk, path: &str| {
            desk.rows
                .iter()
                .find(|r| r.path == path)
                .and_then(|r| r.server.clone())
        };
        let mut changed: BTreeSet<String> = self
            .rows
            .iter()
            .filter(|r| server_of(before, &r.path) != r.server)
            .map(|r| r.path.clone())
            .collect();
        changed.extend(
            before
                .rows
                .iter()
                .filter(|r| r.server.is_some() && !self.rows.iter().any(|n| n.path == r.path))
                .map(|r| r.path.clone()),
        );
        self.choices = self.applicable(before.choices.clone());
        self.undo = before.undo.clone();
        self.cursor = before.cursor.min(self.rows.len().saturating_sub(1));
        self.changed_meanwhile = changed;
        self
    }

    /// The rows shown: every one, or (`=`) those somebody changed.
    pub fn shown(&self, hide_unchanged: bool) -> Vec<usize> {
        (0..self.rows.len())
            .filter(|&i| !hide_unchanged || self.rows[i].class != Class::Unchanged)
            .collect()
    }

    /// Moves the cursor `delta` shown rows (clamped); 0 puts it on a shown row.
    pub fn step(&mut self, delta: isize, hide_unchanged: bool) {
        let shown = self.shown(hide_unchanged);
        let Some(&last) = shown.last() else {
            return;
        };
        let Some(at) = shown.iter().position(|&i| i >= self.cursor) else {
            self.cursor = last;
            return;
        };
        // From a hidden row, the next shown row is already one step down.
        let delta = if shown[at] != self.cursor && delta > 0 {
            delta - 1
        } else {
            delta
        };
        let target = (at as isize + delta).clamp(0, shown.len() as isize - 1);
        self.cursor = shown[target as usize];
    }

    pub fn current(&self) -> Option<&Row> {
        self.rows.get(self.cursor)
    }

    /// (decided, to decide) over the paths that need a decision.
    pub fn progress(&self) -> (usize, usize) {
        let needing = self.rows.iter().filter(|r| r.needs_decision());
        let total = needing.clone().count();
        let decided = needing
            .filter(|r| self.choices.contains_key(&r.path))
            .count();
        (decided, total)
    }

    /// Paths that still need a decision.
    pub fn undecided(&self) -> Vec<&str> {
        self.rows
            .iter()
            .filter(|r| r.needs_decision() && !self.choices.contains_key(&r.path))
            .map(|r| r.path.as_str())
            .collect()
    }

    fn first_undecided(&self) -> Option<usize> {
        self.rows
            .iter()
            .position(|r| r.needs_decision() && !self.choices.contains_key(&r.path))
    }

    /// The next (or previous) undecided row from the cursor, wrapping around.
    pub fn next_undecided(&self, forward: bool) -> Option<usize> {
        let n = self.rows.len();
        (1..=n)
            .map(|step| {
                if forward {
                    (self.cursor + step) % n
                } else {
                    (self.cursor + n - step % n) % n
                }
            })
            .find(|&i| {
                let r = &self.rows[i];
                r.needs_decision() && !self.choices.contains_key(&r.path)
            })
    }

    /// Decides the row under the cursor; false when nothing changed.
    pub fn choose(&mut self, choice: Choice) -> bool {
        let Some(path) = self.current().map(|r| r.path.clone()) else {
            return false;
        };
        if self.choices.get(&path) == Some(&choice) {
            return false;
        }
        self.remember();
        self.choices.insert(path, choice);
        true
    }

    /// Takes one side for every path that needs a decision (one undo step), except where
    /// that side names an item its list no longer holds; those paths come back.
    pub fn choose_all(&mut self, choice: Choice) -> (bool, Vec<String>) {
        let mut next = self.choices.clone();
        let mut refused = Vec::new();
        for row in self.rows.iter().filter(|r| r.needs_decision()) {
            if self.unlisted_choice(&row.path, &choice).is_some() {
                refused.push(row.path.clone());
                continue;
            }
            next.insert(row.path.clone(), choice.clone());
        }
        if next == self.choices {
            return (false, refused);
        }
        self.remember();
        self.choices = next;
        (true, refused)
    }

    fn remember(&mut self) {
        self.undo.push(self.choices.clone());
        self.redo.clear();
    }

    pub fn undo(&mut self) -> bool {
        let Some(previous) = self.undo.pop() else {
            return false;
        };
        self.redo
            .push(std::mem::replace(&mut self.choices, previous));
        true
    }

    pub fn redo(&mut self) -> bool {
        let Some(next) = self.redo.pop() else {
            return false;
        };
        self.undo.push(std::mem::replace(&mut self.choices, next));
        true
    }

    fn sides(&self) -> (&Object<'static>, &Object<'static>, &Object<'static>) {
        static EMPTY: std::sync::OnceLock<Object<'static>> = std::sync::OnceLock::new();
        let empty = EMPTY.get_or_init(Object::new);
        (
            self.detail.base.as_ref().map_or(empty, |b| &b.fields),
            &self.detail.local.fields,
            self.detail.server.as_ref().map_or(empty, |s| &s.fields),
        )
    }

    /// The record the decisions make.
    pub fn resolved(&self) -> Object<'static> {
        self.resolved_with(&self.choices)
    }

    fn resolved_with(&self, choices: &Choices) -> Object<'static> {
        let (base, local, server) = self.sides();
        resolve(base, local, server, self.schema.as_ref(), choices).into_owned()
    }

    /// Faults of the resolved record against the schema and the master data it names
    /// (none without a schema).
    pub fn faults(&self) -> Vec<crate::model::validate::FieldError> {
        let Some(schema) = &self.schema else {
            return Vec::new();
        };
        let resolved = self.resolved();
        let mut faults = validate(schema, &resolved);
        if faults.is_empty() {
            // The server's own check; a list the source did not give counts as unknown.
            let listed =
                |list: &str, id: &str| self.lists.get(list).is_none_or(|data| data.lists(id));
            for path in crate::sync::unlisted_references(schema, &resolved, &listed) {
                let name =
                    crate::model::pointer::segments(&path).and_then(|s| s.into_iter().next());
                let id = name
                    .as_deref()
                    .and_then(|n| resolved.get(n))
                    .and_then(Json::as_str);
                let message = match self.list_of(&path) {
                    Some((list, data)) => format!(
                        "{}{}",
                        data.describe(list, id.unwrap_or_default()),
                        data.one_of()
                    ),
                    None => format!("{:?} names no item of its list", id.unwrap_or_default()),
                };
                faults.push(crate::model::validate::FieldError { message, path });
            }
        }
        faults
    }

    /// The master-data list a top-level reference path names, when the source gave it.
    pub fn list_of(&self, path: &str) -> Option<(&str, &MasterData)> {
        match self.field_type(path)? {
            FieldType::Reference { list } => self.lists.get(list).map(|data| (list.as_str(), data)),
            _ => None,
        }
    }

    /// Why taking `choice` for a reference row would name an item its list no longer
    /// holds (`S-3 Old mill substation — removed from sites`), checked when the choice
    /// is made rather than at the preview.
    pub fn unlisted_choice(&self, path: &str, choice: &Choice) -> Option<String> {
        let row = self.rows.iter().find(|r| r.path == path)?;
        let value = match choice {
            Choice::Server => row.server.as_ref(),
            Choice::Local => row.local.as_ref(),
            Choice::Manual(v) => Some(v),
        }?;
        let id = value.as_str()?;
        let (list, data) = self.list_of(path)?;
        (!data.lists(id)).then(|| format!("{}{}", data.describe(list, id), data.one_of()))
    }

    /// The text a manual edit of the row starts from: the value the decisions give it.
    pub fn edit_text(&self, index: usize) -> String {
        let Some(row) = self.rows.get(index) else {
            return String::new();
        };
        let value = match self.choices.get(&row.path) {
            Some(Choice::Manual(v)) => Some(v.clone()),
            Some(Choice::Local) => row.local.clone(),
            _ => row.server.clone().or_else(|| row.local.clone()),
        };
        match value {
            Some(Json::String(s)) => s.as_str().to_string(),
            Some(v) => v.to_string(),
            None => String::new(),
        }
    }

    /// Whether a row's value is text a person edits (strings), not JSON.
    fn is_text(&self, row: &Row) -> bool {
        match self.field_type(&row.path) {
            Some(
                FieldType::String
                | FieldType::Text
                | FieldType::Enum { .. }
                | FieldType::Reference { .. }
                | FieldType::Datetime,
            ) => true,
            Some(_) => false,
            None => [&row.server, &row.local, &row.base]
                .into_iter()
                .flatten()
                .any(|v| matches!(v, Json::String(_))),
        }
    }

    /// The text a manual edit of a text row opens on: what was left unfinished, else the
    /// manual value, else for two texts that both changed, their three-way merge with
    /// the overlapping edits between git's markers; else the value as decided.
    pub fn start_text(&self, index: usize) -> String {
        let Some(row) = self.rows.get(index) else {
            return String::new();
        };
        if let Some(text) = self.unfinished.get(&row.path) {
            return text.clone();
        }
        let manual = matches!(self.choices.get(&row.path), Some(Choice::Manual(_)));
        // Prose merges; a value from a fixed set (enum, reference) or an instant does not.
        let prose = !matches!(
            self.field_type(&row.path),
            Some(FieldType::Enum { .. } | FieldType::Reference { .. } | FieldType::Datetime)
        );
        match (&row.base, &row.local, &row.server) {
            (Some(Json::String(b)), Some(Json::String(l)), Some(Json::String(s)))
                if prose && !manual && row.class == Class::Conflict =>
            {
                crate::merge::merge_text(b, l, s).text
            }
            _ => self.edit_text(index),
        }
    }

    /// Whether a row's manual value is text as typed (else JSON).
    pub fn takes_text(&self, index: usize) -> bool {
        self.rows.get(index).is_some_and(|row| self.is_text(row))
    }

    /// Long or multi-line text is edited in `$EDITOR`, the rest inline.
    pub fn wants_editor(&self, index: usize) -> bool {
        let Some(row) = self.rows.get(index) else {
            return false;
        };
        let text = self.edit_text(index);
        self.is_text(row)
            && (text.contains('\n')
                || text.len() > 80
                || matches!(self.field_type(&row.path), Some(FieldType::Text)))
    }

    /// The declared type of a top-level path.
    fn field_type(&self, path: &str) -> Option<&FieldType> {
        let [name] = crate::model::pointer::segments(path)?.try_into().ok()?;
        self.schema.as_ref()?.fields.get(&name).map(|f| &f.kind)
    }

    /// Reads what a person typed for a row into a value, checked against the schema
    /// type (or, without a schema, against the kind of value the sides hold).
    pub fn manual_value(&self, index: usize, text: &str) -> Result<Json<'static>, String> {
        let row = self.rows.get(index).ok_or("no such field")?;
        let value = if self.is_text(row) {
            Json::from(serde_json::Value::String(text.to_string()))
        } else {
            let parsed: serde_json::Value =
                serde_json::from_str(text.trim()).map_err(|e| format!("not a JSON value: {e}"))?;
            Json::from(parsed)
        };
        if let Some(schema) = &self.schema {
            let mut choices = self.choices.clone();
            choices.insert(row.path.clone(), Choice::Manual(value.clone()));
            let candidate = self.resolved_with(&choices);
            if let Some(fault) = validate(schema, &candidate)
                .into_iter()
                .find(|f| within(&row.path, &f.path) || within(&f.path, &row.path))
            {
                return Err(fault.message);
            }
            if let (Some((list, data)), Some(id)) = (self.list_of(&row.path), value.as_str())
                && !data.lists(id)
            {
                return Err(format!("{id:?} is not in {list}{}", data.one_of()));
            }
        } else {
            let kinds: Vec<&str> = [&row.server, &row.local]
                .into_iter()
                .flatten()
                .filter(|v| !v.is_null())
                .map(Json::kind)
                .collect();
            if !kinds.is_empty() && !value.is_null() && !kinds.contains(&value.kind()) {
                return Err(format!("expected {}, found {}", kinds[0], value.kind()));
            }
        }
        Ok(value)
    }

    /// What a submission would send and change, for the preview; `keep_deleted` previews
    /// leaving a deleted record deleted.
    pub fn preview(&self, keep_deleted: bool) -> super::app::Preview {
        let record = crate::sanitize::visible(&self.detail.record_id).into_owned();
        let precondition = match &self.etag {
            Some(etag) => format!("If-Match: {etag}"),
            None => "If-None-Match: * (creates the record)".into(),
        };
        if keep_deleted {
            let at = self.detail.server.as_ref().map_or(0, |s| s.version);
            return super::app::Preview {
                headline: format!(
                    "Keeps {record} deleted (version {at}): nothing is written to the record; \
                     the technician's submission stays in this conflict."
                ),
                keep_deleted: true,
                precondition,
                ..Default::default()
            };
        }
        let resolved = self.resolved();
        let empty = Object::new();
        let server = self.detail.server.as_ref().map_or(&empty, |s| &s.fields);
        let show = |v: Option<&Json>| v.map_or_else(|| "(absent)".to_string(), |v| v.to_string());
        let changes: Vec<String> = crate::merge::diff(server, &resolved, self.schema.as_ref())
            .into_iter()
            .map(|c| format!("{}: {} → {}", c.path, show(c.old), show(c.new)))
            .collect();
        let headline = match &self.detail.server {
            None => format!("Creates {record} as version 1."),
            Some(s) if s.deleted => format!(
                "Restores {record}, deleted by {}, as version {}: {} field(s) differ from its last live version.",
                crate::sanitize::visible(&s.modified_by),
                s.version + 1,
                changes.len()
            ),
            Some(s) if changes.is_empty() => format!(
                "Writes version {} of {record} with no field changed (the server's record as it is).",
                s.version + 1
            ),
            Some(s) => format!(
                "Writes version {} of {record}: {} field(s) change on the server.",
                s.version + 1,
                changes.len()
            ),
        };
        let record = serde_json::to_string_pretty(&resolved)
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        super::app::Preview {
            headline,
            keep_deleted: false,
            precondition,
            changes,
            undecided: self.undecided().into_iter().map(str::to_string).collect(),
            faults: self
                .faults()
                .into_iter()
                .map(|f| format!("{}: {}", f.path, f.message))
                .collect(),
            record,
        }
    }

    /// Whether the record was deleted on the server: it is restored (`R`) or its deletion
    /// kept (`K`).
    pub fn deleted_on_server(&self) -> bool {
        self.detail.server.as_ref().is_some_and(|s| s.deleted)
    }

    /// The resolution to send, or the paths still undecided. `keep_deleted` closes a
    /// deleted-on-server conflict leaving the record deleted: nothing else is sent.
    pub fn submission(
        &self,
        resolved_by: &str,
        keep_deleted: bool,
    ) -> Result<Submission, Vec<String>> {
        let undecided = self.undecided();
        if !undecided.is_empty() && !keep_deleted {
            return Err(undecided.into_iter().map(str::to_string).collect());
        }
        let (fields, choices) = if keep_deleted {
            (Object::new(), Choices::new())
        } else {
            (self.resolved(), self.choices.clone())
        };
        let mut hash = Sha256::new();
        hash.update(self.detail.id.as_bytes());
        hash.update([0]);
        hash.update(self.etag.as_deref().unwrap_or("*").as_bytes());
        hash.update([0]);
        hash.update(serde_json::to_vec(&fields).unwrap_or_default());
        hash.update(serde_json::to_vec(&choices).unwrap_or_default());
        hash.update([u8::from(keep_deleted)]);
        let digest = hash.finalize();
        let key: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        Ok(Submission {
            conflict_id: self.detail.id.clone(),
            record_type: self.detail.record_type.clone(),
            record_id: self.detail.record_id.clone(),
            if_match: self.etag.clone(),
            fields,
            choices,
            keep_deleted,
            resolved_by: resolved_by.to_string(),
            idempotency_key: format!("desk-{key}"),
        })
    }
}

/// Whether `path` is `outer` or lies below it (`/a/b` is within `/a`, `/ab` is not).
fn within(path: &str, outer: &str) -> bool {
    path.strip_prefix(outer)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Every leaf path of the three sides, classed; invalid references marked as such.
fn rows_of(detail: &ConflictDetail<'static>, schema: Option<&TypeSchema>) -> Vec<Row> {
    let empty = Object::new();
    let base = detail.base.as_ref().map_or(&empty, |b| &b.fields);
    let server = detail.server.as_ref().map_or(&empty, |s| &s.fields);
    let merged = crate::merge::merge(
        base,
        &detail.local.fields,
        server,
        schema,
        &crate::merge::NoPolicy,
    );
    // The server names the paths a parked submission is held for; an invalid reference
    // merges cleanly, yet those paths need a decision. An edit of a deleted record is
    // decided as a whole (restore or keep deleted): its paths keep their classes.
    let flagged = match detail.kind {
        ParkKind::InvalidReference => Some(Class::Invalid),
        ParkKind::DeletedOnServer | ParkKind::EditConflict => None,
    };
    merged
        .fields
        .into_iter()
        .map(|f| {
            let class = match flagged {
                Some(class) if detail.conflicting_paths.iter().any(|p| *p == f.path) => class,
                _ => f.class,
            };
            // Each side against the base, as a three-pane merge tool shows them: what the
            // server changed and what the technician changed, not one against the other.
            let change = |side: Option<&Json>| match (f.base, side) {
                (Some(Json::String(b)), Some(Json::String(s))) if b.as_str() != s.as_str() => {
                    Some(text_diff(b, s))
                }
                _ => None,
            };
            Row {
                server_change: change(f.server),
                local_change: change(f.local),
                path: f.path.into(),
                class,
                base: f.base.cloned().map(Json::into_owned),
                local: f.local.cloned().map(Json::into_owned),
                server: f.server.cloned().map(Json::into_owned),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_path_is_within_itself_and_its_parents_only() {
        assert!(super::within("/a/b", "/a"));
        assert!(super::within("/a", "/a"));
        assert!(!super::within("/ab", "/a"));
        assert!(!super::within("/a", "/a/b"));
    }
}
