//! The audit trail's view of a resolution: per decided path, the value taken and the
//! values it displaced.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{NoPolicy, merge, sides_equal};
use crate::model::json::{Json, Object};
use crate::model::{FieldType, TypeSchema};

/// One decided path of a resolution, as the audit trail keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decided {
    pub path: String,
    /// `local`, `server` or `manual`.
    pub choice: String,
    /// The value taken; absent when the decision removed the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<serde_json::Value>,
    /// The sides' values it displaced, by side (`local`, `server`); a side equal to the
    /// value taken is not listed, an absent side is `{"absent": true}`.
    #[serde(default)]
    pub discarded: BTreeMap<String, serde_json::Value>,
}

/// What each decided path took and displaced. `server` is `None` for a parked create.
pub fn decided(
    base: &Object,
    local: &Object,
    server: Option<&Object>,
    resolved: &Object,
    choices: &BTreeMap<String, String>,
    schema: Option<&TypeSchema>,
) -> Vec<Decided> {
    let empty = Object::new();
    let server_fields = server.unwrap_or(&empty);
    let sides = merge(base, local, server_fields, schema, &NoPolicy);
    let taken = merge(base, resolved, server_fields, schema, &NoPolicy);
    let find = |m: &super::Merge, path: &str| m.fields.iter().position(|f| f.path == path);
    choices
        .iter()
        .map(|(path, choice)| {
            let datetime = is_datetime(schema, path);
            let value = find(&taken, path).and_then(|i| taken.fields[i].local);
            let at = find(&sides, path);
            let local_value = at.and_then(|i| sides.fields[i].local);
            let server_value = at.and_then(|i| sides.fields[i].server);
            let mut discarded = BTreeMap::new();
            let mut displaced = |side: &str, v: Option<&Json>, present: bool| {
                if present && !sides_equal(v, value, datetime) {
                    discarded.insert(side.to_string(), wire(v));
                }
            };
            displaced("local", local_value, true);
            displaced("server", server_value, server.is_some());
            Decided {
                path: path.clone(),
                choice: choice.clone(),
                value: value.map(|v| wire(Some(v))),
                discarded,
            }
        })
        .collect()
}

/// A value on the wire; an absent one as `{"absent": true}`.
fn wire(value: Option<&Json>) -> serde_json::Value {
    match value {
        Some(v) => serde_json::to_value(v).unwrap_or(serde_json::Value::Null),
        None => serde_json::json!({"absent": true}),
    }
}

/// Whether a path is a top-level field the schema declares a datetime.
fn is_datetime(schema: Option<&TypeSchema>, path: &str) -> bool {
    let Some([name]) =
        crate::model::pointer::segments(path).and_then(|s| <[String; 1]>::try_from(s).ok())
    else {
        return false;
    };
    schema
        .and_then(|s| s.fields.get(&name))
        .is_some_and(|f| matches!(f.kind, FieldType::Datetime))
}

#[cfg(test)]
mod tests {
    use super::decided;
    use crate::model::json::{Json, Object};
    use std::collections::BTreeMap;

    fn object(text: &'static str) -> Object<'static> {
        match Json::parse(text).unwrap() {
            Json::Object(o) => o,
            _ => unreachable!(),
        }
    }

    fn choices(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(p, c)| (p.to_string(), c.to_string()))
            .collect()
    }

    #[test]
    fn a_taken_side_displaces_the_other_and_a_manual_value_both() {
        let base = object(r#"{"notes": "a", "status": "open"}"#);
        let local = object(r#"{"notes": "local", "status": "open"}"#);
        let server = object(r#"{"notes": "server", "status": "passed"}"#);
        let resolved = object(r#"{"notes": "typed", "status": "passed"}"#);
        let trail = decided(
            &base,
            &local,
            Some(&server),
            &resolved,
            &choices(&[("/notes", "manual"), ("/status", "server")]),
            None,
        );
        assert_eq!(trail.len(), 2);
        assert_eq!(trail[0].path, "/notes");
        assert_eq!(trail[0].value, Some(serde_json::json!("typed")));
        assert_eq!(
            serde_json::to_value(&trail[0].discarded).unwrap(),
            serde_json::json!({"local": "local", "server": "server"})
        );
        // The server's value was taken; the local one (equal to base) is displaced.
        assert_eq!(trail[1].value, Some(serde_json::json!("passed")));
        assert_eq!(
            serde_json::to_value(&trail[1].discarded).unwrap(),
            serde_json::json!({"local": "open"})
        );
    }

    #[test]
    fn an_absent_side_is_marked_and_a_create_has_no_server_side() {
        let empty = Object::new();
        let local = object(r#"{"notes": "x"}"#);
        let resolved = object(r#"{}"#);
        let trail = decided(
            &empty,
            &local,
            None,
            &resolved,
            &choices(&[("/notes", "manual")]),
            None,
        );
        assert_eq!(trail[0].value, None);
        assert_eq!(
            serde_json::to_value(&trail[0].discarded).unwrap(),
            serde_json::json!({"local": "x"})
        );
        let server = object(r#"{}"#);
        let kept = object(r#"{"notes": "x"}"#);
        let trail = decided(
            &empty,
            &local,
            Some(&server),
            &kept,
            &choices(&[("/notes", "local")]),
            None,
        );
        assert_eq!(
            serde_json::to_value(&trail[0].discarded).unwrap(),
            serde_json::json!({"server": {"absent": true}})
        );
    }
}
