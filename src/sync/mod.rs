//! The sync rules of the contract (sections 3 and 5) as pure functions: given what the
//! store holds and what a device sent, the outcome. The server runs them inside its
//! transaction and stores what they decide; nothing here does IO.

mod history;
mod resolution;

pub use history::{HistoryPolicy, StoredVersion};
pub use resolution::{
    ParkedConflict, ResolutionDecision, ResolutionRequest, Settle, decide_resolution,
};

use serde::Serialize;

pub use crate::protocol::ParkKind;

use crate::merge::{Class, changed_paths, merge_changes};
use crate::model::json::{Json, Object};
use crate::model::{
    Etag, FieldError, FieldType, SameUserOverlap, TypeSchema, Version, normalize_datetimes,
    pointer, validate,
};

/// An `If-Match` header as sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IfMatch {
    /// `*`: any current, not deleted record.
    Any,
    Tag(Etag),
    /// Weak or malformed: never matches.
    Unusable,
}

/// A `PUT /v1/{type}/{id}`: an offline edit to sync.
#[derive(Debug, Clone)]
pub struct Put<'a> {
    pub user: &'a str,
    pub base_version: Option<Version>,
    pub if_match: Option<IfMatch>,
    pub fields: Object<'a>,
    pub device_id: Option<&'a str>,
    pub device_seq: Option<u64>,
    pub schema_version: Option<u32>,
    /// Faults of the body outside `fields` (a `captured_at` without offset), reported
    /// with the fields' own.
    pub other_errors: Vec<FieldError>,
}

/// What a merge did, for the `"merge"` member of a 200.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Report {
    /// Paths the submission changed that were applied on a newer server version.
    pub auto_merged: Vec<String>,
    /// Server-side changes since base that the submission had not seen.
    pub kept_server: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub overridden: Vec<String>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub no_op: bool,
}

/// Why a write is refused before anything is merged (statuses 428, 412, 422).
#[derive(Debug, Clone, PartialEq)]
pub enum Refusal {
    PreconditionRequired,
    PreconditionFailed,
    Invalid {
        errors: Vec<FieldError>,
        schema_changed: bool,
    },
}

/// The outcome of a sync.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision<'a> {
    /// Store these fields as the next version.
    Apply {
        fields: Object<'a>,
        report: Report,
    },
    /// The result equals the current record: no new version.
    NoOp {
        report: Report,
    },
    /// This device already sent a later state of the record: nothing to apply.
    Superseded,
    /// This exact submission (device and sequence number) was applied already.
    Repeat,
    /// Nothing is applied; the whole submission goes to the supervisors' queue.
    Park {
        kind: ParkKind,
        paths: Vec<String>,
    },
    Refuse(Refusal),
}

/// Decides a sync. `since_base` holds the stored versions from the submission's base
/// (or, for an `If-Match` write without base, from the current version) to the current
/// one, oldest first. `applied_device_seq` is the highest `device_seq` already applied
/// from the submission's device to this record. `listed(list, id)` tells whether a
/// master-data list holds an item.
pub fn decide_put<'a>(
    put: &'a Put<'a>,
    since_base: &'a [StoredVersion<'a>],
    schema: &TypeSchema,
    applied_device_seq: Option<u64>,
    listed: &dyn Fn(&str, &str) -> bool,
) -> Decision<'a> {
    let Some(current) = since_base.last() else {
        return Decision::Refuse(Refusal::PreconditionFailed);
    };
    if put.base_version.is_none() && put.if_match.is_none() {
        return Decision::Refuse(Refusal::PreconditionRequired);
    }
    if let Some(if_match) = put.if_match
        && !if_match_holds(if_match, current)
    {
        return Decision::Refuse(Refusal::PreconditionFailed);
    }
    let mut errors = validate(schema, &put.fields);
    errors.extend(put.other_errors.iter().cloned());
    if !errors.is_empty() {
        let schema_changed = put
            .schema_version
            .is_some_and(|v| v < schema.schema_version);
        return Decision::Refuse(Refusal::Invalid {
            errors,
            schema_changed,
        });
    }
    match (put.device_seq, applied_device_seq) {
        (Some(seq), Some(applied)) if put.device_id.is_some() && seq == applied => {
            return Decision::Repeat;
        }
        (Some(seq), Some(applied)) if put.device_id.is_some() && seq < applied => {
            return Decision::Superseded;
        }
        _ => {}
    }
    let Some(base_version) = put.base_version else {
        // `If-Match` alone: the fields replace the record.
        return finish(
            put.fields.clone(),
            current,
            Report::default(),
            schema,
            listed,
        );
    };
    let base = &since_base[0];
    if base.version != base_version {
        let message = format!("version {base_version} of this record does not exist");
        let errors = vec![FieldError {
            path: "/base_version".into(),
            message,
        }];
        return Decision::Refuse(Refusal::Invalid {
            errors,
            schema_changed: false,
        });
    }
    if current.deleted {
        let paths = changed_paths(&base.fields, &put.fields, Some(schema));
        return Decision::Park {
            kind: ParkKind::DeletedOnServer,
            paths,
        };
    }
    let device = put.device_id.zip(put.device_seq);
    let local_wins = schema.same_user_overlap == SameUserOverlap::LocalWins;
    let policy = HistoryPolicy::new(since_base, Some(schema), put.user, device, local_wins);
    // Only the changed paths are read here: the unchanged ones get no path built.
    let outcome = merge_changes(
        &base.fields,
        &put.fields,
        &current.fields,
        Some(schema),
        &policy,
    );
    if !outcome.is_clean() {
        let paths = outcome.conflicts().map(String::from).collect();
        return Decision::Park {
            kind: ParkKind::EditConflict,
            paths,
        };
    }
    let newer = current.version != base.version;
    let report = Report {
        auto_merged: if newer {
            outcome.paths_of(Class::Local).map(String::from).collect()
        } else {
            Vec::new()
        },
        kept_server: outcome.paths_of(Class::Server).map(String::from).collect(),
        overridden: outcome.overridden.clone(),
        no_op: false,
    };
    finish(outcome.merged, current, report, schema, listed)
}

/// The outcome of a create (`POST /v1/{type}`).
#[derive(Debug, Clone, PartialEq)]
pub enum Create<'a> {
    /// Store these fields as version 1.
    New(Object<'a>),
    /// The id exists with equal fields: a resent create, answered with the record.
    Resent,
    /// The id exists with other fields: 409 `already-exists`.
    AlreadyExists,
    Park {
        kind: ParkKind,
        paths: Vec<String>,
    },
    Refuse(Refusal),
}

/// Decides a create. `existing` is the current version when the id is taken (checked
/// before validation, so that a resent create is recognised even under a newer schema).
pub fn decide_create<'a>(
    mut fields: Object<'a>,
    existing: Option<&StoredVersion>,
    schema: &TypeSchema,
    schema_version: Option<u32>,
    listed: &dyn Fn(&str, &str) -> bool,
) -> Create<'a> {
    if let Some(current) = existing {
        let same = changed_paths(&current.fields, &fields, Some(schema)).is_empty();
        return if same {
            Create::Resent
        } else {
            Create::AlreadyExists
        };
    }
    let errors = validate(schema, &fields);
    if !errors.is_empty() {
        let schema_changed = schema_version.is_some_and(|v| v < schema.schema_version);
        return Create::Refuse(Refusal::Invalid {
            errors,
            schema_changed,
        });
    }
    normalize_datetimes(schema, &mut fields);
    let unlisted = unlisted_references(schema, &fields, listed);
    if !unlisted.is_empty() {
        return Create::Park {
            kind: ParkKind::InvalidReference,
            paths: unlisted,
        };
    }
    Create::New(fields)
}

/// The last checks of a write whose fields are decided: no-op, references, then apply.
fn finish<'a>(
    mut fields: Object<'a>,
    current: &StoredVersion,
    report: Report,
    schema: &TypeSchema,
    listed: &dyn Fn(&str, &str) -> bool,
) -> Decision<'a> {
    normalize_datetimes(schema, &mut fields);
    if changed_paths(&current.fields, &fields, Some(schema)).is_empty() {
        return Decision::NoOp {
            report: Report {
                no_op: true,
                ..report
            },
        };
    }
    let unlisted = unlisted_references(schema, &fields, listed);
    if !unlisted.is_empty() {
        return Decision::Park {
            kind: ParkKind::InvalidReference,
            paths: unlisted,
        };
    }
    Decision::Apply { fields, report }
}

/// The reference fields whose value names no item of their master-data list.
pub fn unlisted_references(
    schema: &TypeSchema,
    fields: &Object,
    listed: &dyn Fn(&str, &str) -> bool,
) -> Vec<String> {
    // The kind first: only a reference field's value is looked up (this runs on every
    // write, and most fields are no references).
    schema
        .fields
        .iter()
        .filter_map(|(name, spec)| match &spec.kind {
            FieldType::Reference { list } => match fields.get(name) {
                Some(Json::String(id)) if !listed(list, id) => Some(pointer::of_member(name)),
                _ => None,
            },
            _ => None,
        })
        .collect()
}

/// Whether `If-Match` names the current version (strict: never a deleted record).
pub fn if_match_holds(if_match: IfMatch, current: &StoredVersion) -> bool {
    !current.deleted
        && match if_match {
            IfMatch::Any => true,
            IfMatch::Tag(tag) => tag.matches(current.version),
            IfMatch::Unusable => false,
        }
}

#[cfg(test)]
mod tests;
