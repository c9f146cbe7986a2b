//! Checks a record's `fields` against its type schema, and normalises datetimes.

use super::json::{Json, Object};
use super::pointer;
use super::schema::{FieldType, TypeSchema};
use super::time::{TimeError, UtcMillis};

/// One fault in submitted fields, at a JSON Pointer path.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

/// Every fault of `fields` against `schema`; empty when the fields are valid.
/// `null` counts as "no value": allowed for optional fields, missing for required ones.
pub fn validate(schema: &TypeSchema, fields: &Object) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for (name, value) in fields.iter() {
        let Some(spec) = schema.fields.get(name) else {
            errors.push(FieldError {
                path: pointer::of_member(name),
                message: format!("unknown field (type {} has no field {name:?})", schema.name),
            });
            continue;
        };
        if value.is_null() {
            continue;
        }
        if let Some(message) = check_value(&spec.kind, value) {
            errors.push(FieldError {
                path: pointer::of_member(name),
                message,
            });
        }
    }
    for (name, spec) in &schema.fields {
        if spec.required && fields.get(name).is_none_or(Json::is_null) {
            errors.push(FieldError {
                path: pointer::of_member(name),
                message: "required field is missing".into(),
            });
        }
    }
    errors.sort_by(|a, b| a.path.cmp(&b.path));
    errors
}

fn check_value(kind: &FieldType, value: &Json) -> Option<String> {
    let expected = |what: &str| Some(format!("expected {what}, found {}", value.kind()));
    match kind {
        FieldType::String | FieldType::Text | FieldType::Reference { .. } => match value {
            Json::String(_) => None,
            _ => expected("a string"),
        },
        FieldType::Number => match value {
            Json::Number(_) => None,
            _ => expected("a number"),
        },
        FieldType::Integer => match value {
            Json::Number(n) if n.is_integral() => None,
            _ => expected("an integer"),
        },
        FieldType::Boolean => match value {
            Json::Bool(_) => None,
            _ => expected("true or false"),
        },
        FieldType::Object => match value {
            Json::Object(_) => None,
            _ => expected("an object"),
        },
        FieldType::Datetime => match value.as_str() {
            None => expected("an RFC 3339 timestamp string"),
            Some(text) => match text.parse::<UtcMillis>() {
                Ok(_) => None,
                Err(e @ TimeError::NoOffset(_)) => Some(e.to_string()),
                Err(e @ TimeError::Malformed(_)) => Some(e.to_string()),
            },
        },
        FieldType::Enum { values } => match value.as_str() {
            None => expected("a string"),
            Some(v) if values.iter().any(|allowed| allowed == v) => None,
            Some(v) => Some(format!("{v:?} is not one of {}", values.join(", "))),
        },
        FieldType::List { key } => match (value.as_array(), key) {
            (None, _) => expected("a list"),
            (Some(_), None) => None,
            (Some(items), Some(key)) => check_keyed_items(items, key),
        },
    }
}

fn check_keyed_items(items: &[Json], key: &str) -> Option<String> {
    let mut seen = std::collections::HashSet::new();
    for (i, item) in items.iter().enumerate() {
        let id = match item.get(key) {
            Some(Json::String(s)) => s.to_string(),
            Some(Json::Number(n)) => n.to_string(),
            Some(_) => return Some(format!("item {i}: '{key}' must be a string or a number")),
            None => return Some(format!("item {i}: every item needs '{key}'")),
        };
        if !seen.insert(id.clone()) {
            return Some(format!("item {i}: '{key}' {id:?} appears twice"));
        }
    }
    None
}

/// Rewrites every valid `datetime` field as UTC with milliseconds and `Z`.
pub fn normalize_datetimes(schema: &TypeSchema, fields: &mut Object) {
    // Through the schema's datetime fields (few), not every field of the record: this
    // runs on every write.
    let datetimes = schema
        .fields
        .iter()
        .filter(|(_, spec)| spec.kind == FieldType::Datetime);
    for (name, _) in datetimes {
        let Some(value) = fields.get_mut(name) else {
            continue;
        };
        if let Some(text) = value.as_str()
            && let Ok(instant) = text.parse::<UtcMillis>()
        {
            *value = Json::String(instant.to_string().into());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use crate::model::schema::Schemas;

    fn schema() -> TypeSchema {
        Schemas::from_toml(
            r#"[types.inspections.fields]
site_id      = { type = "reference", list = "sites", required = true }
status       = { type = "enum", values = ["open", "passed", "failed"] }
notes        = { type = "text" }
temperature  = { type = "number" }
count        = { type = "integer" }
done         = { type = "boolean" }
inspected_at = { type = "datetime" }
checklist    = { type = "list", key = "id" }
photos       = { type = "list" }
extra        = { type = "object" }
"#,
        )
        .unwrap()
        .0
        .remove("inspections")
        .unwrap()
    }

    fn errors(fields: Json) -> Vec<(String, String)> {
        let Json::Object(map) = fields else { panic!() };
        validate(&schema(), &map)
            .into_iter()
            .map(|e| (e.path, e.message))
            .collect()
    }

    #[test]
    fn valid_fields_pass() {
        let e = errors(json!({
            "site_id": "S-4", "status": "open", "notes": "ok", "temperature": 21.5, "count": 3,
            "done": false, "inspected_at": "2026-03-29T01:30:00+01:00",
            "checklist": [{"id": "c1", "ok": true}, {"id": 2}], "photos": [1, 1], "extra": {},
        }));
        assert_eq!(e, vec![]);
    }

    #[test]
    fn each_fault_is_reported_at_its_path() {
        let e = errors(json!({
            "status": "closed", "temperature": "hot", "count": 1.5, "done": "yes",
            "inspected_at": "2026-03-29T02:30:00", "colour": "red", "checklist": [{"id": "a"}, {"id": "a"}],
        }));
        let paths: Vec<&str> = e.iter().map(|(p, _)| p.as_str()).collect();
        assert_eq!(
            paths,
            [
                "/checklist",
                "/colour",
                "/count",
                "/done",
                "/inspected_at",
                "/site_id",
                "/status",
                "/temperature"
            ]
        );
        let message = |p: &str| e.iter().find(|(path, _)| path == p).unwrap().1.clone();
        assert!(message("/status").contains("not one of open, passed, failed"));
        assert!(message("/inspected_at").contains("no UTC offset"));
        assert!(message("/site_id").contains("required"));
        assert!(message("/colour").contains("unknown field"));
        assert!(message("/temperature").contains("found a string"));
        assert!(message("/checklist").contains("twice"));
    }

    #[test]
    fn null_is_no_value() {
        assert_eq!(errors(json!({"site_id": "S-1", "notes": null})), vec![]);
        assert_eq!(errors(json!({"site_id": null}))[0].0, "/site_id");
    }

    #[test]
    fn keyed_list_items_need_their_key() {
        let e = errors(json!({"site_id": "S", "checklist": [{"id": "a"}, {"ok": true}]}));
        assert_eq!(e[0].0, "/checklist");
        assert!(e[0].1.contains("item 1"));
    }

    #[test]
    fn datetimes_are_normalised_to_utc_millis() {
        let Json::Object(mut map) = json!({"inspected_at": "2026-03-29T01:30:00+01:00", "notes": "2026-03-29T01:30:00+01:00"})
        else {
            panic!()
        };
        normalize_datetimes(&schema(), &mut map);
        assert_eq!(
            map.get("inspected_at").and_then(Json::as_str),
            Some("2026-03-29T00:30:00.000Z")
        );
        assert_eq!(
            map.get("notes").and_then(Json::as_str),
            Some("2026-03-29T01:30:00+01:00")
        );
        // Without the datetime field, or with one the schema does not name, nothing moves.
        let Json::Object(mut other) =
            json!({"unknown_at": "2026-03-29T01:30:00+01:00", "count": 2})
        else {
            panic!()
        };
        let before = other.clone();
        normalize_datetimes(&schema(), &mut other);
        assert_eq!(other, before);
    }
}
