//! A supervisor's resolution of a parked submission (section 6 of the contract) as a pure
//! decision over the conflict and the record's current version.

use std::collections::BTreeMap;

use super::{IfMatch, ParkKind, StoredVersion, if_match_holds, unlisted_references};
use crate::merge::{Decided, decided};
use crate::model::json::Object;
use crate::model::{FieldError, TypeSchema, normalize_datetimes, validate};

/// What the supervisor asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Settle<'a> {
    /// Write these fields as the record's next version (live again if it was deleted).
    Write {
        fields: Object<'a>,
        choices: BTreeMap<String, String>,
    },
    /// Leave a deleted record deleted (`deleted-on-server` only).
    KeepDeleted,
}

impl Settle<'_> {
    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Settle<'static> {
        match self {
            Settle::Write { fields, choices } => Settle::Write {
                fields: fields.into_owned(),
                choices,
            },
            Settle::KeepDeleted => Settle::KeepDeleted,
        }
    }
}

/// A resolution request: its preconditions and what it settles.
#[derive(Debug, Clone, PartialEq)]
pub struct ResolutionRequest<'a> {
    pub if_match: Option<IfMatch>,
    /// `If-None-Match: *`: the resolution of a parked create.
    pub creating: bool,
    pub settle: Settle<'a>,
}

/// The conflict as the decision needs it.
#[derive(Debug, Clone, Copy)]
pub struct ParkedConflict<'c> {
    pub open: bool,
    pub kind: ParkKind,
    /// The version the technician started from (empty for a parked create).
    pub base: &'c Object<'c>,
    /// What the technician sent.
    pub local: &'c Object<'c>,
}

/// How a resolution ends.
#[derive(Debug, Clone, PartialEq)]
pub enum ResolutionDecision<'a> {
    /// Someone resolved it first (409 `conflict-closed`).
    Closed,
    /// The record is not the one the supervisor decided on (412).
    Stale,
    /// The resolved fields, or the request, fail the rules (422).
    Invalid(Vec<FieldError>),
    /// Store these fields as the next, live version; `decided` is the audit trail's part.
    Write {
        fields: Object<'a>,
        decided: Vec<Decided>,
    },
    /// The deletion stands: nothing is written, the conflict closes at the tombstone.
    KeepDeleted,
}

/// Decides a resolution, in the contract's order: closed, then the precondition (a
/// tombstone's tag holds only for a `deleted-on-server` conflict), then the rules of
/// what is written.
pub fn decide_resolution<'a>(
    conflict: ParkedConflict<'_>,
    current: Option<&StoredVersion>,
    request: ResolutionRequest<'a>,
    schema: Option<&TypeSchema>,
    listed: &dyn Fn(&str, &str) -> bool,
) -> ResolutionDecision<'a> {
    if !conflict.open {
        return ResolutionDecision::Closed;
    }
    let fresh = match (request.if_match, current) {
        (Some(IfMatch::Tag(tag)), Some(c)) if c.deleted => {
            conflict.kind == ParkKind::DeletedOnServer && tag.matches(c.version)
        }
        (Some(if_match), Some(c)) => if_match_holds(if_match, c),
        (None, None) => request.creating,
        _ => false,
    };
    if !fresh {
        return ResolutionDecision::Stale;
    }
    let refuse = |path: &str, message: &str| {
        ResolutionDecision::Invalid(vec![FieldError {
            path: path.into(),
            message: message.into(),
        }])
    };
    let (mut fields, choices) = match request.settle {
        Settle::KeepDeleted if conflict.kind != ParkKind::DeletedOnServer => {
            return refuse(
                "/keep_deleted",
                "only a deleted-on-server conflict can keep the deletion",
            );
        }
        Settle::KeepDeleted if !current.is_some_and(|c| c.deleted) => {
            return refuse("/keep_deleted", "the record is not deleted");
        }
        Settle::KeepDeleted => return ResolutionDecision::KeepDeleted,
        Settle::Write { fields, choices } => (fields, choices),
    };
    let mut errors = schema.map(|s| validate(s, &fields)).unwrap_or_default();
    // A resolution, like a sync, may name only listed master data.
    if let (true, Some(schema)) = (errors.is_empty(), schema) {
        errors.extend(
            unlisted_references(schema, &fields, listed)
                .into_iter()
                .map(|path| FieldError {
                    path,
                    message: "names no item of its master-data list".into(),
                }),
        );
    }
    if !errors.is_empty() {
        return ResolutionDecision::Invalid(errors);
    }
    if let Some(schema) = schema {
        normalize_datetimes(schema, &mut fields);
    }
    let decided = decided(
        conflict.base,
        conflict.local,
        current.map(|c| &c.fields),
        &fields,
        &choices,
        schema,
    );
    ResolutionDecision::Write { fields, decided }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use crate::model::json::Json;
    use crate::model::{Etag, UtcMillis, Version};
    use crate::sync::tests::{schema, sites, version};

    fn object(value: Json<'static>) -> Object<'static> {
        match value {
            Json::Object(o) => o,
            _ => panic!("an object"),
        }
    }

    fn tag(n: u64) -> Option<IfMatch> {
        let at: UtcMillis = "2026-11-20T10:00:00Z".parse().unwrap();
        Some(IfMatch::Tag(Etag::new(Version::new(n).unwrap(), at)))
    }

    fn tombstone(n: u64) -> StoredVersion<'static> {
        StoredVersion {
            deleted: true,
            ..version(
                n,
                "ben",
                None,
                json!({"site_id": "S-1", "notes": "last live"}),
            )
        }
    }

    fn restore(if_match: Option<IfMatch>, notes: &str) -> ResolutionRequest<'static> {
        ResolutionRequest {
            if_match,
            creating: false,
            settle: Settle::Write {
                fields: object(json!({"site_id": "S-1", "notes": (notes)})),
                choices: [("/notes".to_string(), "local".to_string())].into(),
            },
        }
    }

    fn keep_deleted(if_match: Option<IfMatch>) -> ResolutionRequest<'static> {
        ResolutionRequest {
            if_match,
            creating: false,
            settle: Settle::KeepDeleted,
        }
    }

    fn decide(
        kind: ParkKind,
        current: Option<&StoredVersion>,
        request: ResolutionRequest<'static>,
    ) -> ResolutionDecision<'static> {
        let base = object(json!({"site_id": "S-1", "notes": "base"}));
        let local = object(json!({"site_id": "S-1", "notes": "typed on the tablet"}));
        let conflict = ParkedConflict {
            open: true,
            kind,
            base: &base,
            local: &local,
        };
        decide_resolution(conflict, current, request, Some(&schema()), &sites)
    }

    #[test]
    fn a_deleted_on_server_conflict_is_restored_with_the_tombstones_tag() {
        let current = tombstone(3);
        let decision = decide(
            ParkKind::DeletedOnServer,
            Some(&current),
            restore(tag(3), "typed on the tablet"),
        );
        let ResolutionDecision::Write { fields, decided } = decision else {
            panic!("expected a write, got {decision:?}");
        };
        assert_eq!(
            fields.get("notes").and_then(Json::as_str),
            Some("typed on the tablet")
        );
        assert_eq!(decided[0].path, "/notes");
        assert_eq!(
            serde_json::to_value(&decided[0].discarded).unwrap(),
            serde_json::json!({"server": "last live"})
        );
    }

    #[test]
    fn a_deleted_on_server_conflict_keeps_the_deletion_with_the_tombstones_tag() {
        let current = tombstone(3);
        assert_eq!(
            decide(
                ParkKind::DeletedOnServer,
                Some(&current),
                keep_deleted(tag(3))
            ),
            ResolutionDecision::KeepDeleted
        );
    }

    #[test]
    fn a_tombstones_tag_is_stale_for_any_other_kind_and_an_older_tag_always() {
        let current = tombstone(3);
        assert_eq!(
            decide(ParkKind::EditConflict, Some(&current), restore(tag(3), "x")),
            ResolutionDecision::Stale
        );
        assert_eq!(
            decide(
                ParkKind::DeletedOnServer,
                Some(&current),
                restore(tag(2), "x")
            ),
            ResolutionDecision::Stale
        );
        // `*` matches a live record only.
        assert_eq!(
            decide(
                ParkKind::DeletedOnServer,
                Some(&current),
                keep_deleted(Some(IfMatch::Any))
            ),
            ResolutionDecision::Stale
        );
    }

    #[test]
    fn a_record_restored_meanwhile_makes_the_tombstones_tag_stale() {
        let restored = version(4, "ben", None, json!({"site_id": "S-1"}));
        assert_eq!(
            decide(
                ParkKind::DeletedOnServer,
                Some(&restored),
                keep_deleted(tag(3))
            ),
            ResolutionDecision::Stale
        );
        // With the live record's own tag, the deletion is gone: nothing to keep.
        assert!(matches!(
            decide(ParkKind::DeletedOnServer, Some(&restored), keep_deleted(tag(4))),
            ResolutionDecision::Invalid(e) if e[0].path == "/keep_deleted"
        ));
    }

    #[test]
    fn keep_deleted_on_another_kind_is_invalid() {
        let current = version(3, "ben", None, json!({"site_id": "S-1"}));
        assert!(matches!(
            decide(ParkKind::EditConflict, Some(&current), keep_deleted(tag(3))),
            ResolutionDecision::Invalid(e) if e[0].path == "/keep_deleted"
        ));
    }

    #[test]
    fn a_closed_conflict_answers_closed_before_any_precondition() {
        let base = Object::new();
        let conflict = ParkedConflict {
            open: false,
            kind: ParkKind::EditConflict,
            base: &base,
            local: &base,
        };
        assert_eq!(
            decide_resolution(conflict, None, keep_deleted(tag(9)), None, &sites),
            ResolutionDecision::Closed
        );
    }

    #[test]
    fn a_restore_is_validated_and_checked_against_master_data() {
        let current = tombstone(3);
        let mut request = restore(tag(3), "x");
        if let Settle::Write { fields, .. } = &mut request.settle {
            fields.insert("site_id", Json::from(serde_json::json!("S-3")));
        }
        assert!(matches!(
            decide(ParkKind::DeletedOnServer, Some(&current), request),
            ResolutionDecision::Invalid(e) if e[0].path == "/site_id"
        ));
    }

    #[test]
    fn a_parked_create_is_resolved_only_while_the_record_does_not_exist() {
        let create = ResolutionRequest {
            if_match: None,
            creating: true,
            settle: Settle::Write {
                fields: object(json!({"site_id": "S-1"})),
                choices: BTreeMap::new(),
            },
        };
        assert!(matches!(
            decide(ParkKind::InvalidReference, None, create.clone()),
            ResolutionDecision::Write { .. }
        ));
        let exists = version(1, "ben", None, json!({"site_id": "S-1"}));
        assert_eq!(
            decide(ParkKind::InvalidReference, Some(&exists), create),
            ResolutionDecision::Stale
        );
    }
}
