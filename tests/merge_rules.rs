//! Section 3 of the contract, one rule a test.

use serde_json::{Value, json};
use syncdesk::merge::{Class, NoPolicy, Policy, Side, diff, merge};
use syncdesk::model::{Json, Object, Schemas, TypeSchema};

fn obj(v: Value) -> Object<'static> {
    match Json::from(v) {
        Json::Object(o) => o,
        other => panic!("not an object: {other}"),
    }
}

struct Outcome {
    merged: Value,
    classes: Vec<(String, Class)>,
    conflicts: Vec<String>,
    overridden: Vec<String>,
}

impl Outcome {
    fn class(&self, path: &str) -> Class {
        self.classes
            .iter()
            .find(|(p, _)| p == path)
            .unwrap_or_else(|| panic!("no path {path}"))
            .1
    }
}

fn run(b: Value, l: Value, s: Value, schema: Option<&TypeSchema>, policy: &dyn Policy) -> Outcome {
    let (b, l, s) = (obj(b), obj(l), obj(s));
    let m = merge(&b, &l, &s, schema, policy);
    Outcome {
        classes: m
            .fields
            .iter()
            .map(|f| (f.path.to_string(), f.class))
            .collect(),
        conflicts: m.conflicts().map(String::from).collect(),
        overridden: m.overridden.clone(),
        merged: serde_json::to_value(&m.merged).unwrap(),
    }
}

fn plain(b: Value, l: Value, s: Value) -> Outcome {
    run(b, l, s, None, &NoPolicy)
}

fn inspections() -> TypeSchema {
    Schemas::from_toml(
        r#"[types.inspections.fields]
inspected_at = { type = "datetime" }
checklist    = { type = "list", key = "code" }
photos       = { type = "list" }
"#,
    )
    .unwrap()
    .0
    .remove("inspections")
    .unwrap()
}

#[test]
fn same_value_on_both_sides_is_kept() {
    let o = plain(
        json!({"a": 1, "b": 1}),
        json!({"a": 1, "b": 2}),
        json!({"a": 1, "b": 2}),
    );
    assert_eq!(o.class("/a"), Class::Unchanged);
    assert_eq!(o.class("/b"), Class::BothSame);
    assert_eq!(o.merged, json!({"a": 1, "b": 2}));
    assert!(o.conflicts.is_empty());
}

#[test]
fn local_unchanged_takes_server() {
    let o = plain(
        json!({"status": "open"}),
        json!({"status": "open"}),
        json!({"status": "passed"}),
    );
    assert_eq!(o.class("/status"), Class::Server);
    assert_eq!(o.merged, json!({"status": "passed"}));
}

#[test]
fn server_unchanged_takes_local() {
    let o = plain(
        json!({"notes": "a"}),
        json!({"notes": "b"}),
        json!({"notes": "a"}),
    );
    assert_eq!(o.class("/notes"), Class::Local);
    assert_eq!(o.merged, json!({"notes": "b"}));
}

#[test]
fn stale_base_with_disjoint_edits_merges() {
    let o = plain(
        json!({"status": "open", "notes": "x", "temp": 20}),
        json!({"status": "open", "notes": "pump leaks", "temp": 20}),
        json!({"status": "passed", "notes": "x", "temp": 20}),
    );
    assert!(o.conflicts.is_empty());
    assert_eq!(
        o.merged,
        json!({"status": "passed", "notes": "pump leaks", "temp": 20})
    );
}

#[test]
fn different_edits_of_one_path_conflict_and_merged_holds_server() {
    let o = plain(
        json!({"notes": "a", "x": 1}),
        json!({"notes": "b", "x": 2}),
        json!({"notes": "c", "x": 1}),
    );
    assert_eq!(o.conflicts, ["/notes"]);
    assert_eq!(o.merged, json!({"notes": "c", "x": 2}));
}

#[test]
fn absent_is_a_value_distinct_from_null() {
    let o = plain(json!({"a": 1}), json!({"a": null}), json!({}));
    assert_eq!(
        o.conflicts,
        ["/a"],
        "local set null, server removed: two different edits"
    );
    let o = plain(json!({"a": 1}), json!({}), json!({"a": 1}));
    assert_eq!(o.class("/a"), Class::Local);
    assert_eq!(o.merged, json!({}), "a local removal is applied");
    let o = plain(json!({}), json!({"a": null}), json!({}));
    assert_eq!(o.merged, json!({"a": null}));
}

#[test]
fn numbers_compare_by_value() {
    let o = plain(json!({"t": 1}), json!({"t": 1.0}), json!({"t": 2}));
    assert_eq!(o.class("/t"), Class::Server);
    assert_eq!(o.merged, json!({"t": 2}));
}

#[test]
fn strings_compare_exactly() {
    let o = plain(json!({"n": "a"}), json!({"n": "a "}), json!({"n": "A"}));
    assert_eq!(o.conflicts, ["/n"]);
}

#[test]
fn datetimes_compare_by_instant_when_the_schema_says_datetime() {
    let schema = inspections();
    let o = run(
        json!({"inspected_at": "2026-03-29T00:30:00.000Z"}),
        json!({"inspected_at": "2026-03-29T01:30:00+01:00"}),
        json!({"inspected_at": "2026-03-29T00:45:00.000Z"}),
        Some(&schema),
        &NoPolicy,
    );
    assert_eq!(
        o.class("/inspected_at"),
        Class::Server,
        "a time zone is not an edit"
    );
    assert_eq!(o.merged["inspected_at"], "2026-03-29T00:45:00.000Z");
    let o = plain(
        json!({"inspected_at": "2026-03-29T00:30:00.000Z"}),
        json!({"inspected_at": "2026-03-29T01:30:00+01:00"}),
        json!({"inspected_at": "2026-03-29T00:45:00.000Z"}),
    );
    assert_eq!(
        o.conflicts,
        ["/inspected_at"],
        "without a schema strings compare exactly"
    );
}

#[test]
fn nested_objects_are_walked_with_pointer_paths() {
    let o = plain(
        json!({"site": {"gps": {"lat": 1, "lon": 2}, "a/b": 0, "m~n": 0}}),
        json!({"site": {"gps": {"lat": 5, "lon": 2}, "a/b": 1, "m~n": 0}}),
        json!({"site": {"gps": {"lat": 1, "lon": 7}, "a/b": 0, "m~n": 1}}),
    );
    assert!(o.conflicts.is_empty());
    assert_eq!(o.class("/site/gps/lat"), Class::Local);
    assert_eq!(o.class("/site/gps/lon"), Class::Server);
    assert_eq!(o.class("/site/a~1b"), Class::Local);
    assert_eq!(o.class("/site/m~0n"), Class::Server);
    assert_eq!(
        o.merged,
        json!({"site": {"gps": {"lat": 5, "lon": 7}, "a/b": 1, "m~n": 1}})
    );
}

#[test]
fn lists_of_objects_with_ids_merge_item_by_item() {
    let base = json!({"checklist": [{"id": "c1", "ok": false}, {"id": "c2", "ok": false}]});
    let local = json!({"checklist": [{"id": "c1", "ok": true}, {"id": "c2", "ok": false}]});
    let server = json!({"checklist": [{"id": "c1", "ok": false}, {"id": "c2", "ok": true}]});
    let o = plain(base, local, server);
    assert!(o.conflicts.is_empty());
    assert_eq!(o.class("/checklist/c1/ok"), Class::Local);
    assert_eq!(o.class("/checklist/c2/ok"), Class::Server);
    assert_eq!(
        o.merged,
        json!({"checklist": [{"id": "c1", "ok": true}, {"id": "c2", "ok": true}]})
    );
}

#[test]
fn keyed_item_conflicts_name_the_item() {
    let o = plain(
        json!({"checklist": [{"id": "c2", "ok": null}]}),
        json!({"checklist": [{"id": "c2", "ok": true}]}),
        json!({"checklist": [{"id": "c2", "ok": false}]}),
    );
    assert_eq!(o.conflicts, ["/checklist/c2/ok"]);
}

#[test]
fn merged_keyed_lists_keep_server_order_then_local_additions() {
    let o = plain(
        json!({"l": [{"id": "a"}, {"id": "b"}]}),
        json!({"l": [{"id": "x"}, {"id": "a"}, {"id": "b"}, {"id": "y"}]}),
        json!({"l": [{"id": "b"}, {"id": "s"}, {"id": "a"}]}),
    );
    assert_eq!(
        o.merged,
        json!({"l": [{"id": "b"}, {"id": "s"}, {"id": "a"}, {"id": "x"}, {"id": "y"}]})
    );
}

#[test]
fn removing_an_item_removes_each_of_its_leaves() {
    let base = json!({"l": [{"id": "a", "ok": false}, {"id": "b", "ok": false}]});
    let o = plain(
        base.clone(),
        json!({"l": [{"id": "b", "ok": false}]}),
        base.clone(),
    );
    assert_eq!(o.class("/l/a/id"), Class::Local);
    assert_eq!(o.class("/l/a/ok"), Class::Local);
    assert_eq!(o.merged, json!({"l": [{"id": "b", "ok": false}]}));
    // Removed locally, edited on the server: the edited leaf conflicts.
    let o = plain(
        base,
        json!({"l": [{"id": "b", "ok": false}]}),
        json!({"l": [{"id": "a", "ok": true}, {"id": "b", "ok": false}]}),
    );
    assert_eq!(o.conflicts, ["/l/a/ok"]);
}

#[test]
fn removing_an_object_removes_each_of_its_leaves() {
    let o = plain(
        json!({"o": {"x": 1, "y": 2}}),
        json!({}),
        json!({"o": {"x": 1, "y": 3}}),
    );
    assert_eq!(o.conflicts, ["/o/y"]);
    assert_eq!(o.class("/o/x"), Class::Local);
}

#[test]
fn the_schema_key_names_the_item_segment() {
    let schema = inspections();
    let o = run(
        json!({"checklist": [{"code": "K1", "ok": false}]}),
        json!({"checklist": [{"code": "K1", "ok": true}]}),
        json!({"checklist": [{"code": "K1", "ok": false}, {"code": "K2", "ok": true}]}),
        Some(&schema),
        &NoPolicy,
    );
    assert_eq!(o.class("/checklist/K1/ok"), Class::Local);
    assert_eq!(o.class("/checklist/K2/ok"), Class::Server);
}

#[test]
fn other_lists_are_one_value() {
    let o = plain(
        json!({"tags": [1, 2]}),
        json!({"tags": [1, 2, 3]}),
        json!({"tags": [0, 1, 2]}),
    );
    assert_eq!(o.conflicts, ["/tags"]);
    let schema = inspections();
    let o = run(
        json!({"photos": [{"id": "p1"}]}),
        json!({"photos": [{"id": "p1"}, {"id": "p2"}]}),
        json!({"photos": [{"id": "p0"}, {"id": "p1"}]}),
        Some(&schema),
        &NoPolicy,
    );
    assert_eq!(
        o.conflicts,
        ["/photos"],
        "a list the schema declares without key is one value"
    );
}

#[test]
fn a_value_that_changes_shape_is_compared_whole() {
    let o = plain(
        json!({"a": {"x": 1}}),
        json!({"a": "flat"}),
        json!({"a": {"x": 2}}),
    );
    assert_eq!(o.conflicts, ["/a"]);
    let o = plain(
        json!({"a": {"x": 1}}),
        json!({"a": "flat"}),
        json!({"a": {"x": 1}}),
    );
    assert_eq!(o.merged, json!({"a": "flat"}));
}

#[test]
fn empty_objects_survive_as_their_side_left_them() {
    assert_eq!(
        plain(json!({}), json!({"o": {}}), json!({})).merged,
        json!({"o": {}})
    );
    assert_eq!(
        plain(json!({"o": {}}), json!({}), json!({"o": {}})).merged,
        json!({})
    );
    assert_eq!(
        plain(
            json!({"o": {"x": 1}}),
            json!({"o": {}}),
            json!({"o": {"x": 1}})
        )
        .merged,
        json!({"o": {}})
    );
}

struct DeviceWins<'a>(&'a [&'a str], Side);

impl Policy for DeviceWins<'_> {
    fn settle(&self, path: &str) -> Option<Side> {
        self.0.contains(&path).then_some(self.1)
    }
}

#[test]
fn device_rule_settles_before_classification_even_when_local_equals_base() {
    // The device saved "b" (now on the server), then undid it back to "a".
    let o = run(
        json!({"n": "a"}),
        json!({"n": "a"}),
        json!({"n": "b"}),
        None,
        &DeviceWins(&["/n"], Side::Local),
    );
    assert_eq!(o.class("/n"), Class::Local);
    assert_eq!(o.merged, json!({"n": "a"}));
    let o = run(
        json!({"n": "a"}),
        json!({"n": "x"}),
        json!({"n": "b"}),
        None,
        &DeviceWins(&["/n"], Side::Local),
    );
    assert!(
        o.conflicts.is_empty(),
        "a device's own saves never conflict"
    );
    let o = run(
        json!({"n": "a"}),
        json!({"n": "x"}),
        json!({"n": "b"}),
        None,
        &DeviceWins(&[], Side::Local),
    );
    assert_eq!(
        o.conflicts,
        ["/n"],
        "paths the policy does not settle classify as usual"
    );
}

struct SameUser(&'static [&'static str]);

impl Policy for SameUser {
    fn local_wins_overlap(&self, path: &str) -> bool {
        self.0.contains(&path)
    }
}

#[test]
fn same_user_overlap_takes_local_and_reports_it() {
    let o = run(
        json!({"n": "a", "m": "a", "k": "a"}),
        json!({"n": "b", "m": "b", "k": "b"}),
        json!({"n": "c", "m": "c", "k": "a"}),
        None,
        &SameUser(&["/n", "/k"]),
    );
    assert_eq!(
        o.overridden,
        ["/n"],
        "only paths actually in conflict are overridden"
    );
    assert_eq!(o.conflicts, ["/m"]);
    assert_eq!(o.merged, json!({"n": "b", "m": "c", "k": "b"}));
}

#[test]
fn the_two_way_diff_uses_merge_paths_and_diffs_text() {
    let old = obj(
        json!({"notes": "the pump was leaking slightly today", "l": [{"id": "a", "ok": false}], "same": 1}),
    );
    let new = obj(
        json!({"notes": "the pump was leaking badly today", "l": [{"id": "a", "ok": true}], "same": 1.0}),
    );
    let changes = diff(&old, &new, None);
    let paths: Vec<&str> = changes.iter().map(|c| c.path.as_str()).collect();
    assert_eq!(paths, ["/l/a/ok", "/notes"]);
    assert!(matches!(
        changes[1].text,
        Some(syncdesk::merge::InlineDiff::Edits(_))
    ));
    assert!(changes[0].text.is_none());
    // The paths alone, as the sync rules ask for them: the same, without diffing text.
    assert_eq!(
        syncdesk::merge::changed_paths(&old, &new, None),
        ["/l/a/ok", "/notes"]
    );
    assert!(syncdesk::merge::changed_paths(&old, &old, None).is_empty());
}
