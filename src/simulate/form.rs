//! The simulator's own picture of an inspection form: each leaf path with its value,
//! compared by meaning (numbers by value, datetimes by instant) — written apart from the
//! server's merge engine, so that the simulator checks the server instead of repeating it.

use std::collections::BTreeMap;

use serde_json::{Map, Value as Json, json};

/// The checklist items every simulated form carries, in the order the server keeps.
pub const CHECKLIST: [&str; 4] = ["c1", "c2", "c3", "c4"];

/// Every path of a simulated form.
pub const PATHS: [&str; 9] = [
    "/site_id",
    "/status",
    "/notes",
    "/temperature",
    "/inspected_at",
    "/checklist/c1/ok",
    "/checklist/c2/ok",
    "/checklist/c3/ok",
    "/checklist/c4/ok",
];

/// One leaf's value.
#[derive(Debug, Clone)]
pub enum Value {
    Text(String),
    Number(f64),
    Flag(bool),
    /// A datetime: the instant (ms since the epoch) and the text as written, offset and all.
    Instant {
        at: i64,
        text: String,
    },
}

impl PartialEq for Value {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Self::Text(a), Self::Text(b)) => a == b,
            (Self::Number(a), Self::Number(b)) => a == b,
            (Self::Flag(a), Self::Flag(b)) => a == b,
            (Self::Instant { at: a, .. }, Self::Instant { at: b, .. }) => a == b,
            _ => false,
        }
    }
}

impl Value {
    /// A datetime written as `text` (RFC 3339 with an offset).
    pub fn instant(text: String) -> Result<Self, String> {
        // Read as the server reads one: an offset is required, milliseconds kept.
        let at: crate::model::UtcMillis = text
            .parse()
            .map_err(|e| format!("datetime {text:?}: {e}"))?;
        Ok(Self::Instant {
            at: at.as_millis(),
            text,
        })
    }

    fn to_json(&self) -> Json {
        match self {
            Self::Text(t) => json!(t),
            Self::Number(n) => json!(n),
            Self::Flag(f) => json!(f),
            Self::Instant { text, .. } => json!(text),
        }
    }
}

/// A whole form: path → value (every path of [`PATHS`] in a complete form).
pub type Form = BTreeMap<&'static str, Value>;

/// The `fields` object of a form.
pub fn to_fields(form: &Form) -> Json {
    let mut fields = Map::new();
    let mut checklist = Vec::new();
    for item in CHECKLIST {
        let path = checklist_path(item);
        if let Some(value) = form.get(path) {
            checklist.push(json!({"id": item, "ok": value.to_json()}));
        }
    }
    for (path, value) in form {
        if !path.starts_with("/checklist/") {
            fields.insert(path[1..].to_string(), value.to_json());
        }
    }
    fields.insert("checklist".into(), Json::Array(checklist));
    Json::Object(fields)
}

/// Reads a record's `fields` as the server answered them; names what does not fit.
pub fn from_fields(fields: &Json) -> Result<Form, String> {
    let object = fields.as_object().ok_or("fields is not an object")?;
    let mut form = Form::new();
    for (name, value) in object {
        match (name.as_str(), value) {
            ("site_id" | "status" | "notes", Json::String(s)) => {
                form.insert(path_of(name)?, Value::Text(s.clone()));
            }
            ("temperature", Json::Number(n)) => {
                let n = n.as_f64().ok_or("temperature out of range")?;
                form.insert("/temperature", Value::Number(n));
            }
            ("inspected_at", Json::String(s)) => {
                form.insert("/inspected_at", Value::instant(s.clone())?);
            }
            ("checklist", Json::Array(items)) => {
                for item in items {
                    let id = item.get("id").and_then(Json::as_str);
                    let ok = item.get("ok").and_then(Json::as_bool);
                    let (Some(id), Some(ok)) = (id, ok) else {
                        return Err(format!("checklist item {item} lacks an id or ok"));
                    };
                    let item = CHECKLIST
                        .iter()
                        .find(|c| **c == id)
                        .ok_or_else(|| format!("checklist item {id:?} is not the simulator's"))?;
                    form.insert(checklist_path(item), Value::Flag(ok));
                }
            }
            _ => return Err(format!("field {name:?} = {value} is not the simulator's")),
        }
    }
    Ok(form)
}

fn path_of(name: &str) -> Result<&'static str, String> {
    PATHS
        .iter()
        .find(|p| &p[1..] == name)
        .copied()
        .ok_or_else(|| format!("no path for {name:?}"))
}

/// `/checklist/{item}/ok`.
pub fn checklist_path(item: &str) -> &'static str {
    PATHS
        .iter()
        .find(|p| {
            p.strip_prefix("/checklist/")
                .and_then(|r| r.strip_suffix("/ok"))
                == Some(item)
        })
        .copied()
        .unwrap_or("/checklist/c1/ok")
}

/// A complete form for tests: site S-1, these values, inspected at 08:00 UTC, nothing
/// ticked.
#[cfg(test)]
pub(super) fn test_form(status: &str, notes: &str, temperature: f64) -> Form {
    let mut form = Form::new();
    form.insert("/site_id", Value::Text("S-1".into()));
    form.insert("/status", Value::Text(status.into()));
    form.insert("/notes", Value::Text(notes.into()));
    form.insert("/temperature", Value::Number(temperature));
    if let Ok(at) = Value::instant("2026-03-29T08:00:00Z".into()) {
        form.insert("/inspected_at", at);
    }
    for item in CHECKLIST {
        form.insert(checklist_path(item), Value::Flag(false));
    }
    form
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A form with an offset datetime and one item ticked: what must survive the trip.
    fn sample() -> Form {
        let mut form = test_form("open", "", 21.5);
        form.insert(
            "/inspected_at",
            Value::instant("2026-03-29T03:30:00+02:00".into()).unwrap(),
        );
        form.insert(checklist_path("c2"), Value::Flag(true));
        form
    }

    #[test]
    fn a_form_goes_to_fields_and_back_unchanged() {
        let form = sample();
        let back = from_fields(&to_fields(&form)).unwrap();
        assert_eq!(back, form);
        assert_eq!(back.len(), PATHS.len());
        assert_eq!(
            to_fields(&form)["checklist"][1],
            json!({"id": "c2", "ok": true})
        );
    }

    #[test]
    fn datetimes_compare_by_instant_and_numbers_by_value() {
        let berlin = Value::instant("2026-03-29T03:30:00+02:00".into()).unwrap();
        let utc = Value::instant("2026-03-29T01:30:00Z".into()).unwrap();
        let later = Value::instant("2026-03-29T03:30:00+01:00".into()).unwrap();
        assert_eq!(berlin, utc);
        assert_ne!(berlin, later);
        let fields = json!({"temperature": 21, "checklist": []});
        assert_eq!(
            from_fields(&fields).unwrap()["/temperature"],
            Value::Number(21.0)
        );
    }

    #[test]
    fn fields_that_are_not_the_simulators_are_named() {
        let err = from_fields(&json!({"pressure": 3})).unwrap_err();
        assert!(err.contains("pressure"), "{err}");
        let err = from_fields(&json!({"checklist": [{"id": "c9", "ok": true}]})).unwrap_err();
        assert!(err.contains("c9"), "{err}");
        assert!(Value::instant("2026-03-29T02:30:00".into()).is_err());
    }
}
