//! `decide_put`, one rule of sections 3 and 5 a test.

use super::*;
use crate::json;
use crate::model::{Json, Schemas, UtcMillis};

pub(crate) fn version(
    n: u64,
    by: &str,
    device: Option<(&str, u64)>,
    fields: Json<'static>,
) -> StoredVersion<'static> {
    let Json::Object(fields) = fields else {
        panic!("fields must be an object")
    };
    StoredVersion {
        version: Version::new(n).unwrap(),
        last_modified: "2026-11-20T10:00:00Z".parse().unwrap(),
        modified_by: by.into(),
        device_id: device.map(|d| d.0.into()),
        device_seq: device.map(|d| d.1),
        deleted: false,
        fields,
    }
}

pub(super) fn schema() -> TypeSchema {
    Schemas::from_toml(
        r#"[types.inspections]
schema_version = 3
[types.inspections.fields]
site_id      = { type = "reference", list = "sites", required = true }
status       = { type = "enum", values = ["open", "passed", "failed"] }
notes        = { type = "text" }
inspected_at = { type = "datetime" }
checklist    = { type = "list", key = "id" }
"#,
    )
    .unwrap()
    .0
    .remove("inspections")
    .unwrap()
}

pub(super) fn sites(list: &str, id: &str) -> bool {
    list == "sites" && ["S-1", "S-4"].contains(&id)
}

fn put(base: Option<u64>, fields: Json<'static>) -> Put<'static> {
    let Json::Object(fields) = fields else {
        panic!()
    };
    Put {
        user: "ana",
        base_version: base.and_then(Version::new),
        if_match: None,
        fields,
        device_id: None,
        device_seq: None,
        schema_version: None,
        other_errors: Vec::new(),
    }
}

fn decide<'a>(put: &'a Put<'a>, history: &'a [StoredVersion<'a>]) -> Decision<'a> {
    decide_put(put, history, &schema(), None, &sites)
}

fn applied(decision: Decision) -> (serde_json::Value, Report) {
    match decision {
        Decision::Apply { fields, report } => (serde_json::to_value(&fields).unwrap(), report),
        other => panic!("expected Apply, got {other:?}"),
    }
}

#[test]
fn a_write_without_base_or_if_match_is_refused_428() {
    let history = [version(1, "ben", None, json!({"site_id": "S-1"}))];
    let p = put(None, json!({"site_id": "S-4"}));
    assert_eq!(
        decide(&p, &history),
        Decision::Refuse(Refusal::PreconditionRequired)
    );
}

#[test]
fn if_match_is_strict_and_compares_versions_only() {
    let history = [version(
        7,
        "ben",
        None,
        json!({"site_id": "S-1", "notes": "x"}),
    )];
    let tag = |t: &str| IfMatch::Tag(t.parse().unwrap());
    let mut p = put(None, json!({"site_id": "S-4"}));
    p.if_match = Some(tag("\"6-2026-11-20T10:00:00.000Z\""));
    assert_eq!(
        decide(&p, &history),
        Decision::Refuse(Refusal::PreconditionFailed)
    );
    p.if_match = Some(IfMatch::Unusable);
    assert_eq!(
        decide(&p, &history),
        Decision::Refuse(Refusal::PreconditionFailed)
    );
    // Another offset and precision of the same version: it matches, and replaces the fields.
    p.if_match = Some(tag("\"7-2026-11-20T11:00:00+01:00\""));
    let (fields, report) = applied(decide(&p, &history));
    assert_eq!(fields, serde_json::json!({"site_id": "S-4"}));
    assert_eq!(report, Report::default());
    p.if_match = Some(IfMatch::Any);
    assert!(matches!(decide(&p, &history), Decision::Apply { .. }));
}

#[test]
fn if_match_never_matches_a_deleted_record() {
    let mut history = [version(7, "ben", None, json!({"site_id": "S-1"}))];
    history[0].deleted = true;
    let mut p = put(None, json!({"site_id": "S-4"}));
    p.if_match = Some(IfMatch::Any);
    assert_eq!(
        decide(&p, &history),
        Decision::Refuse(Refusal::PreconditionFailed)
    );
}

#[test]
fn invalid_fields_are_refused_422_before_any_merge() {
    let history = [version(1, "ben", None, json!({"site_id": "S-1"}))];
    let mut p = put(
        Some(1),
        json!({"site_id": "S-1", "status": "closed", "inspected_at": "2026-03-29T02:30:00"}),
    );
    p.schema_version = Some(2);
    let Decision::Refuse(Refusal::Invalid {
        errors,
        schema_changed,
    }) = decide(&p, &history)
    else {
        panic!()
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/inspected_at", "/status"]);
    assert!(schema_changed, "the device's form is older than the schema");
}

#[test]
fn faults_outside_the_fields_are_reported_with_theirs() {
    let history = [version(1, "ben", None, json!({"site_id": "S-1"}))];
    let mut p = put(Some(1), json!({"site_id": "S-1", "status": "closed"}));
    p.other_errors.push(FieldError {
        path: "/captured_at".into(),
        message: "no offset".into(),
    });
    let Decision::Refuse(Refusal::Invalid { errors, .. }) = decide(&p, &history) else {
        panic!()
    };
    let paths: Vec<&str> = errors.iter().map(|e| e.path.as_str()).collect();
    assert_eq!(paths, ["/status", "/captured_at"]);
}

#[test]
fn a_current_base_applies_the_edit_without_auto_merge() {
    let history = [version(
        1,
        "ben",
        None,
        json!({"site_id": "S-1", "notes": "a"}),
    )];
    let p = put(Some(1), json!({"site_id": "S-1", "notes": "b"}));
    let (fields, report) = applied(decide(&p, &history));
    assert_eq!(fields["notes"], "b");
    assert_eq!(report, Report::default());
}

#[test]
fn a_stale_base_with_disjoint_edits_merges_and_reports_both_sides() {
    let history = [
        version(
            4,
            "ana",
            None,
            json!({"site_id": "S-1", "status": "open", "notes": "a"}),
        ),
        version(
            5,
            "ben",
            None,
            json!({"site_id": "S-1", "status": "passed", "notes": "a"}),
        ),
    ];
    let p = put(
        Some(4),
        json!({"site_id": "S-1", "status": "open", "notes": "pump leaks"}),
    );
    let (fields, report) = applied(decide(&p, &history));
    assert_eq!(
        fields,
        serde_json::json!({"site_id": "S-1", "status": "passed", "notes": "pump leaks"})
    );
    assert_eq!(report.auto_merged, ["/notes"]);
    assert_eq!(report.kept_server, ["/status"]);
}

#[test]
fn another_users_edit_of_the_same_field_parks_an_edit_conflict() {
    let history = [
        version(4, "ana", None, json!({"site_id": "S-1", "notes": "a"})),
        version(5, "ben", None, json!({"site_id": "S-1", "notes": "ben's"})),
    ];
    let p = put(Some(4), json!({"site_id": "S-1", "notes": "ana's"}));
    assert_eq!(
        decide(&p, &history),
        Decision::Park {
            kind: ParkKind::EditConflict,
            paths: vec!["/notes".into()]
        }
    );
}

#[test]
fn a_clock_in_another_time_zone_is_not_a_conflict_and_is_stored_in_utc() {
    let history = [
        version(
            4,
            "ana",
            None,
            json!({"site_id": "S-1", "inspected_at": "2026-11-20T08:30:00.000Z", "status": "open"}),
        ),
        version(
            5,
            "ben",
            None,
            json!({"site_id": "S-1", "inspected_at": "2026-11-20T08:30:00.000Z", "status": "failed"}),
        ),
    ];
    let p = put(
        Some(4),
        json!({"site_id": "S-1", "inspected_at": "2026-11-20T09:30:00+01:00", "status": "open", "notes": "n"}),
    );
    let (fields, _) = applied(decide(&p, &history));
    assert_eq!(fields["inspected_at"], "2026-11-20T08:30:00.000Z");
    assert_eq!(fields["status"], "failed");
    let p = put(
        Some(5),
        json!({"site_id": "S-1", "inspected_at": "2026-11-20T10:45:00+01:00", "status": "failed"}),
    );
    let (fields, _) = applied(decide(&p, &history[1..]));
    assert_eq!(
        fields["inspected_at"], "2026-11-20T09:45:00.000Z",
        "datetimes are normalised on write"
    );
}

#[test]
fn a_result_equal_to_the_current_record_is_a_no_op() {
    let history = [
        version(4, "ana", None, json!({"site_id": "S-1", "notes": "a"})),
        version(5, "ana", None, json!({"site_id": "S-1", "notes": "b"})),
    ];
    let p = put(Some(4), json!({"site_id": "S-1", "notes": "b"}));
    let Decision::NoOp { report } = decide(&p, &history) else {
        panic!()
    };
    assert!(report.no_op);
}

#[test]
fn a_record_deleted_since_base_parks_the_changed_paths() {
    let mut history = [
        version(
            4,
            "ana",
            None,
            json!({"site_id": "S-1", "notes": "a", "status": "open"}),
        ),
        version(
            5,
            "sup",
            None,
            json!({"site_id": "S-1", "notes": "a", "status": "open"}),
        ),
    ];
    history[1].deleted = true;
    let p = put(
        Some(4),
        json!({"site_id": "S-1", "notes": "typed offline", "status": "open"}),
    );
    assert_eq!(
        decide(&p, &history),
        Decision::Park {
            kind: ParkKind::DeletedOnServer,
            paths: vec!["/notes".into()]
        }
    );
}

#[test]
fn a_reference_to_a_removed_site_parks_an_invalid_reference() {
    let history = [version(
        4,
        "ana",
        None,
        json!({"site_id": "S-1", "notes": "a"}),
    )];
    let p = put(Some(4), json!({"site_id": "S-9", "notes": "typed"}));
    assert_eq!(
        decide(&p, &history),
        Decision::Park {
            kind: ParkKind::InvalidReference,
            paths: vec!["/site_id".into()]
        }
    );
}

#[test]
fn a_second_offline_save_of_the_same_form_is_ordered_not_parked() {
    let history = [
        version(4, "ana", None, json!({"site_id": "S-1", "notes": "a"})),
        version(
            5,
            "ana",
            Some(("tab-17", 8)),
            json!({"site_id": "S-1", "notes": "first save"}),
        ),
    ];
    let mut p = put(Some(4), json!({"site_id": "S-1", "notes": "second save"}));
    (p.device_id, p.device_seq) = (Some("tab-17"), Some(9));
    let (fields, report) = applied(decide_put(&p, &history, &schema(), Some(8), &sites));
    assert_eq!(fields["notes"], "second save");
    assert_eq!(report.auto_merged, ["/notes"]);
}

#[test]
fn a_repeated_or_older_device_submission_applies_nothing() {
    let history = [version(
        5,
        "ana",
        Some(("tab-17", 8)),
        json!({"site_id": "S-1"}),
    )];
    let mut p = put(Some(5), json!({"site_id": "S-4"}));
    (p.device_id, p.device_seq) = (Some("tab-17"), Some(8));
    assert_eq!(
        decide_put(&p, &history, &schema(), Some(8), &sites),
        Decision::Repeat
    );
    p.device_seq = Some(7);
    assert_eq!(
        decide_put(&p, &history, &schema(), Some(8), &sites),
        Decision::Superseded
    );
    p.device_seq = Some(9);
    assert!(matches!(
        decide_put(&p, &history, &schema(), Some(8), &sites),
        Decision::Apply { .. }
    ));
}

#[test]
fn an_unknown_base_version_is_refused_with_its_path() {
    let history = [version(5, "ana", None, json!({"site_id": "S-1"}))];
    let p = put(Some(3), json!({"site_id": "S-1"}));
    let Decision::Refuse(Refusal::Invalid { errors, .. }) = decide(&p, &history) else {
        panic!()
    };
    assert_eq!(errors[0].path, "/base_version");
}

#[test]
fn same_user_overlap_local_wins_is_taken_from_the_schema() {
    let mut local_wins = schema();
    local_wins.same_user_overlap = SameUserOverlap::LocalWins;
    let history = [
        version(4, "ana", None, json!({"site_id": "S-1", "notes": "a"})),
        version(
            5,
            "ana",
            Some(("web", 1)),
            json!({"site_id": "S-1", "notes": "from the web"}),
        ),
    ];
    let p = put(
        Some(4),
        json!({"site_id": "S-1", "notes": "from the tablet"}),
    );
    let (fields, report) = applied(decide_put(&p, &history, &local_wins, None, &sites));
    assert_eq!(fields["notes"], "from the tablet");
    assert_eq!(report.overridden, ["/notes"]);
    assert!(matches!(
        decide(&p, &history),
        Decision::Park {
            kind: ParkKind::EditConflict,
            ..
        }
    ));
}

#[test]
fn stored_versions_carry_utc_times() {
    let v = version(1, "ana", None, json!({}));
    assert_eq!(
        v.last_modified,
        "2026-11-20T11:00:00+01:00".parse::<UtcMillis>().unwrap()
    );
}

fn create(fields: Json<'static>, existing: Option<&StoredVersion>) -> Create<'static> {
    let Json::Object(fields) = fields else {
        panic!()
    };
    decide_create(fields, existing, &schema(), Some(3), &sites)
}

#[test]
fn a_create_stores_normalised_fields() {
    let Create::New(fields) = create(
        json!({"site_id": "S-4", "inspected_at": "2026-11-20T09:30:00+01:00"}),
        None,
    ) else {
        panic!()
    };
    assert_eq!(
        fields.get("inspected_at").and_then(Json::as_str),
        Some("2026-11-20T08:30:00.000Z")
    );
}

#[test]
fn a_resent_create_is_recognised_by_value_before_validation() {
    let existing = version(
        1,
        "ana",
        None,
        json!({"site_id": "S-4", "inspected_at": "2026-11-20T08:30:00.000Z", "x": 1}),
    );
    let same = json!({"site_id": "S-4", "inspected_at": "2026-11-20T09:30:00+01:00", "x": 1.0});
    assert_eq!(
        create(same, Some(&existing)),
        Create::Resent,
        "an unknown field does not matter: the id is checked first"
    );
    assert_eq!(
        create(json!({"site_id": "S-1"}), Some(&existing)),
        Create::AlreadyExists
    );
}

#[test]
fn an_invalid_create_is_refused_and_a_bad_reference_parked() {
    let Create::Refuse(Refusal::Invalid {
        errors,
        schema_changed,
    }) = create(json!({"status": "open"}), None)
    else {
        panic!()
    };
    assert_eq!(errors[0].path, "/site_id");
    assert!(!schema_changed);
    assert_eq!(
        create(json!({"site_id": "S-9"}), None),
        Create::Park {
            kind: ParkKind::InvalidReference,
            paths: vec!["/site_id".into()]
        }
    );
}

#[test]
fn park_kind_names_are_their_wire_names() {
    for kind in [
        ParkKind::EditConflict,
        ParkKind::InvalidReference,
        ParkKind::DeletedOnServer,
    ] {
        assert_eq!(serde_json::to_value(kind).unwrap(), kind.name());
    }
}
