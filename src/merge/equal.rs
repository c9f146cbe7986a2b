//! Equality as the merge sees it: numbers by value, datetimes by instant, strings exactly.

use crate::model::UtcMillis;
use crate::model::json::{Json, Object, bytes_eq};

/// Equal as values: `1 == 1.0`; with `datetime`, two timestamps that name the same instant.
/// Inlined where it is called: most values are scalars, settled without a call.
#[inline]
pub fn values_equal(a: &Json, b: &Json, datetime: bool) -> bool {
    match (a, b) {
        (Json::Number(x), Json::Number(y)) => x.same_value(*y),
        (Json::String(x), Json::String(y)) => {
            bytes_eq(x.as_bytes(), y.as_bytes()) || (datetime && same_instant(x, y))
        }
        (Json::Bool(x), Json::Bool(y)) => x == y,
        (Json::Null, Json::Null) => true,
        (Json::Array(x), Json::Array(y)) => lists_equal(x, y),
        (Json::Object(x), Json::Object(y)) => objects_equal(x, y),
        _ => false,
    }
}

#[inline(never)]
fn lists_equal(x: &[Json], y: &[Json]) -> bool {
    // Most lists are lists of objects (checklists): straight to the objects' check.
    x.len() == y.len()
        && x.iter().zip(y).all(|pair| match pair {
            (Json::Object(a), Json::Object(b)) => objects_equal(a, b),
            (x, y) => values_equal(x, y, false),
        })
}

#[inline(never)]
fn objects_equal(x: &Object, y: &Object) -> bool {
    // Read as the same text: equal, however deep (most unchanged objects of a record).
    if x.same_text(y) {
        return true;
    }
    // Members are sorted, so equal objects line up member by member.
    x.len() == y.len()
        && x.iter().zip(y.iter()).all(|((k, v), (l, w))| {
            bytes_eq(k.as_bytes(), l.as_bytes()) && values_equal(v, w, false)
        })
}

/// Equal as optional values: absent equals only absent, never `null`.
#[inline]
pub fn sides_equal(a: Option<&Json>, b: Option<&Json>, datetime: bool) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => values_equal(a, b, datetime),
        _ => false,
    }
}

#[cold]
fn same_instant(a: &str, b: &str) -> bool {
    match (a.parse::<UtcMillis>(), b.parse::<UtcMillis>()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn numbers_compare_by_value() {
        assert!(values_equal(&json!(1), &json!(1.0), false));
        assert!(values_equal(&json!(-3), &json!(-3.0), false));
        assert!(!values_equal(&json!(1), &json!(1.5), false));
        assert!(values_equal(&json!(u64::MAX), &json!(u64::MAX), false));
        assert!(!values_equal(&json!(-1), &json!(u64::MAX), false));
        assert!(values_equal(
            &json!([1, {"a": 2}]),
            &json!([1.0, {"a": 2.0}]),
            false
        ));
    }

    #[test]
    fn datetimes_compare_by_instant_only_when_declared() {
        let (a, b) = (
            json!("2026-03-29T01:30:00+01:00"),
            json!("2026-03-29T00:30:00Z"),
        );
        assert!(values_equal(&a, &b, true));
        assert!(!values_equal(&a, &b, false));
        assert!(!values_equal(
            &json!("not a time"),
            &json!("also not"),
            true
        ));
    }

    #[test]
    fn strings_compare_exactly() {
        assert!(!values_equal(&json!("Café"), &json!("Cafe\u{301}"), false));
        assert!(!values_equal(&json!("a "), &json!("a"), false));
    }

    #[test]
    fn objects_read_as_one_text_are_equal_and_a_change_is_seen() {
        let text = r#"{"list": [{"id": "a", "v": 1}], "o": {"p": "q"}}"#;
        let (a, b) = (Json::parse(text).unwrap(), Json::parse(text).unwrap());
        assert!(values_equal(&a, &b, false));
        // Other text, same values: equal, found member by member.
        let respelled =
            Json::parse(r#"{ "o": {"p": "q"}, "list": [{"v": 1.0, "id": "a"}] }"#).unwrap();
        assert!(values_equal(&a, &respelled, false));
        // Read as the same text, then changed deep inside: not equal.
        let mut changed = b.clone();
        let Json::Object(o) = &mut changed else {
            unreachable!()
        };
        let Some(Json::Object(inner)) = o.get_mut("o") else {
            unreachable!()
        };
        inner.insert("p", Json::from(serde_json::json!("r")));
        assert!(!values_equal(&a, &changed, false));
        assert!(!values_equal(
            &Json::parse(r#"{"a": "x"}"#).unwrap(),
            &Json::parse(r#"{"a": "y"}"#).unwrap(),
            false
        ));
    }

    #[test]
    fn absent_is_not_null_and_types_never_mix() {
        assert!(!sides_equal(None, Some(&Json::Null), false));
        assert!(sides_equal(None, None, false));
        assert!(!values_equal(&json!("1"), &json!(1), false));
        assert!(!values_equal(&json!(false), &Json::Null, false));
        assert!(!values_equal(
            &json!({"a": 1}),
            &json!({"a": 1, "b": 2}),
            false
        ));
    }
}
