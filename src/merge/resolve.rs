//! A supervisor's decisions applied to a three-way merge: the resolved record.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::shape::{Hint, member_hint, segment_of};
use super::{Policy, Side, merge};
use crate::model::TypeSchema;
use crate::model::json::{Json, Object};
use crate::model::pointer;

/// What a supervisor decided for one path.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", tag = "take", content = "value")]
pub enum Choice {
    /// Accept the server's value.
    Server,
    /// Keep the technician's value.
    Local,
    /// A value the supervisor typed.
    Manual(#[serde(deserialize_with = "crate::model::json::owned_json")] Json<'static>),
}

impl Choice {
    /// The word a resolution's `choices` member uses.
    pub fn name(&self) -> &'static str {
        match self {
            Choice::Server => "server",
            Choice::Local => "local",
            Choice::Manual(_) => "manual",
        }
    }
}

/// Decisions by path (JSON Pointer, as `merge` reports them).
pub type Choices = BTreeMap<String, Choice>;

/// The record the decisions make: paths without a decision merge by the plain rules
/// (an undecided conflict keeps the server's value), decided paths take the chosen side
/// or the typed value.
pub fn resolve<'a>(
    base: &'a Object<'a>,
    local: &'a Object<'a>,
    server: &'a Object<'a>,
    schema: Option<&TypeSchema>,
    choices: &Choices,
) -> Object<'a> {
    let mut merged = merge(base, local, server, schema, &Decided(choices)).merged;
    for (path, choice) in choices {
        if let Choice::Manual(value) = choice {
            set(&mut merged, path, value.clone(), schema);
        }
    }
    merged
}

struct Decided<'c>(&'c Choices);

impl Policy for Decided<'_> {
    fn settle(&self, path: &str) -> Option<Side> {
        match self.0.get(path)? {
            Choice::Server => Some(Side::Server),
            Choice::Local => Some(Side::Local),
            Choice::Manual(_) => None,
        }
    }
}

/// Puts `value` at `path`, through objects (created where missing) and keyed-list items
/// (found by their key, as `merge` names them). A path through an item no side has, or
/// through a value that is not a container, changes nothing.
fn set<'a>(fields: &mut Object<'a>, path: &str, value: Json<'a>, schema: Option<&TypeSchema>) {
    let Some(segments) = pointer::segments(path) else {
        return;
    };
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    if rest.is_empty() {
        fields.insert(first.as_str(), value);
        return;
    }
    let key = match member_hint(schema, first) {
        Hint::Keyed(key) => key,
        _ => "id",
    };
    if fields.get(first).is_none() {
        fields.insert(first.as_str(), Json::Object(Object::new()));
    }
    if let Some(child) = fields.get_mut(first) {
        set_within(child, rest, key, value);
    }
}

fn set_within<'a>(target: &mut Json<'a>, segments: &[String], key: &str, value: Json<'a>) {
    let Some((first, rest)) = segments.split_first() else {
        return;
    };
    let child = match target {
        Json::Object(object) => {
            if rest.is_empty() {
                object.insert(first.as_str(), value);
                return;
            }
            if object.get(first).is_none() {
                object.insert(first.as_str(), Json::Object(Object::new()));
            }
            match object.get_mut(first) {
                Some(child) => child,
                None => return,
            }
        }
        Json::Array(items) => {
            let named = |item: &Json| {
                let id = item.as_object().and_then(|o| o.get(key));
                id.and_then(segment_of).is_some_and(|s| s == first.as_str())
            };
            let Some(at) = items.iter().position(named) else {
                return;
            };
            // The list's own items, copied first if the merge shares them with a side.
            let item = &mut std::sync::Arc::make_mut(items)[at];
            if rest.is_empty() {
                *item = value;
                return;
            }
            item
        }
        _ => return,
    };
    set_within(child, rest, "id", value);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    fn obj(v: Json<'static>) -> Object<'static> {
        match v {
            Json::Object(o) => o,
            _ => unreachable!("test literal is an object"),
        }
    }

    #[test]
    fn undecided_conflict_keeps_server_and_decisions_take_their_side() {
        let base = obj(json!({"notes": "a", "status": "open", "t": 1}));
        let local = obj(json!({"notes": "local", "status": "passed", "t": 1}));
        let server = obj(json!({"notes": "server", "status": "failed", "t": 2}));
        let mut choices = Choices::new();
        choices.insert("/notes".into(), Choice::Local);
        let out = resolve(&base, &local, &server, None, &choices);
        assert_eq!(
            out,
            obj(json!({"notes": "local", "status": "failed", "t": 2}))
        );
        // A one-sided change can be overridden too: base's value comes back.
        choices.insert("/t".into(), Choice::Local);
        let out = resolve(&base, &local, &server, None, &choices);
        assert_eq!(out.get("t"), Some(&json!(1)));
    }

    #[test]
    fn keep_local_of_a_removed_field_removes_it() {
        let base = obj(json!({"a": 1, "b": 1}));
        let local = obj(json!({"b": 1}));
        let server = obj(json!({"a": 2, "b": 1}));
        let choices = Choices::from([("/a".to_string(), Choice::Local)]);
        assert_eq!(
            resolve(&base, &local, &server, None, &choices),
            obj(json!({"b": 1}))
        );
    }

    #[test]
    fn manual_values_land_in_keyed_list_items_and_nested_objects() {
        let base = obj(json!({"checklist": [{"id": "c1", "ok": null}], "m": {"x": 1}}));
        let local = obj(json!({"checklist": [{"id": "c1", "ok": true}], "m": {"x": 2}}));
        let server = obj(json!({"checklist": [{"id": "c1", "ok": false}], "m": {"x": 3}}));
        let choices = Choices::from([
            ("/checklist/c1/ok".to_string(), Choice::Manual(json!("n/a"))),
            ("/m/x".to_string(), Choice::Manual(json!(9))),
            ("/gone/c9/ok".to_string(), Choice::Manual(json!(1))),
        ]);
        let out = resolve(&base, &local, &server, None, &choices);
        assert_eq!(
            out.get("checklist"),
            Some(&json!([{"id": "c1", "ok": "n/a"}]))
        );
        assert_eq!(out.get("m"), Some(&json!({"x": 9})));
        assert_eq!(out.get("gone"), Some(&json!({"c9": {"ok": 1}})));
    }

    /// The merge shares subtrees equal on all sides with the server's record: a typed value
    /// put inside one changes the resolved record's copy, never a side.
    #[test]
    fn a_value_typed_into_a_shared_list_changes_the_resolution_only() {
        let text = r#"{"checklist": [{"id": "c1", "ok": null}, {"id": "c2", "ok": true}],
                       "m": {"x": 1}, "n": 1}"#;
        let side = || match Json::parse(text) {
            Ok(Json::Object(o)) => o,
            other => unreachable!("an object: {other:?}"),
        };
        let (base, local, server) = (side(), side(), side());
        let choices = Choices::from([
            ("/checklist/c2/ok".to_string(), Choice::Manual(json!("n/a"))),
            ("/m/x".to_string(), Choice::Manual(json!(9))),
        ]);
        let out = resolve(&base, &local, &server, None, &choices);
        assert_eq!(
            out.get("checklist"),
            Some(&json!([{"id": "c1", "ok": null}, {"id": "c2", "ok": "n/a"}]))
        );
        assert_eq!(out.get("m"), Some(&json!({"x": 9})));
        for (name, unchanged) in [("base", &base), ("local", &local), ("server", &server)] {
            assert_eq!(unchanged, &side(), "{name} changed");
            assert_eq!(unchanged.text(), side().text(), "{name} lost its text");
        }
    }

    #[test]
    fn choices_round_trip_as_json() {
        let choices = Choices::from([
            ("/a".to_string(), Choice::Server),
            ("/b".to_string(), Choice::Manual(json!({"x": [1, "two"]}))),
        ]);
        let text = serde_json::to_string(&choices).unwrap();
        assert_eq!(
            text,
            r#"{"/a":{"take":"server"},"/b":{"take":"manual","value":{"x":[1,"two"]}}}"#
        );
        let back: Choices = serde_json::from_str(&text).unwrap();
        assert_eq!(back, choices);
    }
}
