//! How a path is walked: into an object, item by item through a keyed list, or as one value.

use std::borrow::Cow;
use std::iter::Peekable;

use serde_json::{Map, Value};

use crate::model::{FieldType, TypeSchema};

/// What the schema says about a top-level field; nested paths are always `Auto`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint<'s> {
    /// Objects are walked, lists of objects with distinct `id`s are keyed.
    Auto,
    /// A leaf whose strings compare as instants.
    Datetime,
    /// A list keyed by the named member.
    Keyed(&'s str),
    /// A list that is one value, whatever it holds.
    WholeList,
}

/// The hint for a top-level member under an optional schema.
pub fn member_hint<'s>(schema: Option<&'s TypeSchema>, name: &str) -> Hint<'s> {
    match schema.and_then(|s| s.fields.get(name)).map(|f| &f.kind) {
        Some(FieldType::Datetime) => Hint::Datetime,
        Some(FieldType::List { key: Some(key) }) => Hint::Keyed(key),
        Some(FieldType::List { key: None }) => Hint::WholeList,
        _ => Hint::Auto,
    }
}

/// How the values present at one path are walked.
pub enum Node<'a, const N: usize> {
    Object([Option<&'a Map<String, Value>>; N]),
    Keyed([Option<KeyedList<'a>>; N]),
    Leaf { datetime: bool },
}

/// Decides the node kind: a container only when every side that has a value there agrees.
pub fn node<'a, const N: usize>(sides: [Option<&'a Value>; N], hint: Hint) -> Node<'a, N> {
    match hint {
        Hint::Datetime => return Node::Leaf { datetime: true },
        Hint::WholeList => return Node::Leaf { datetime: false },
        Hint::Auto | Hint::Keyed(_) => {}
    }
    if sides.iter().flatten().all(|v| v.is_object()) {
        return Node::Object(sides.map(|v| v.and_then(Value::as_object)));
    }
    let (key, needs_items) = match hint {
        Hint::Keyed(key) => (key, false),
        _ => ("id", true),
    };
    let lists = sides.map(|v| v.and_then(Value::as_array));
    let all_lists = sides
        .iter()
        .zip(&lists)
        .all(|(v, l)| v.is_none() || l.is_some());
    let any_items = lists.iter().flatten().any(|l| !l.is_empty());
    if all_lists && (any_items || !needs_items) {
        let keyed = lists.map(|l| l.map(|items| KeyedList::new(items, key)));
        if keyed.iter().all(|k| !matches!(k, Some(None))) {
            return Node::Keyed(keyed.map(Option::flatten));
        }
    }
    Node::Leaf { datetime: false }
}

/// A list whose items are objects with distinct key values, indexed by that value.
pub struct KeyedList<'a> {
    items: &'a [Value],
    key: &'a str,
    by_segment: Vec<(Cow<'a, str>, usize)>,
}

impl<'a> KeyedList<'a> {
    /// `None` when an item is not an object, lacks the key, or repeats a key value.
    fn new(items: &'a [Value], key: &str) -> Option<Self> {
        let mut by_segment = Vec::with_capacity(items.len());
        let mut stored_key = None;
        for (i, item) in items.iter().enumerate() {
            let (k, v) = item.as_object()?.get_key_value(key)?;
            stored_key.get_or_insert(k.as_str());
            by_segment.push((segment_of(v)?, i));
        }
        by_segment.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if by_segment.windows(2).any(|w| w[0].0 == w[1].0) {
            return None;
        }
        Some(Self {
            items,
            key: stored_key.unwrap_or(""),
            by_segment,
        })
    }

    /// The item whose key value has this segment.
    pub fn get(&self, segment: &str) -> Option<&'a Value> {
        let i = self
            .by_segment
            .binary_search_by(|(s, _)| s.as_ref().cmp(segment))
            .ok()?;
        Some(&self.items[self.by_segment[i].1])
    }

    /// The segments in list order.
    pub fn segments(&self) -> impl Iterator<Item = Cow<'a, str>> + '_ {
        let key = self.key;
        self.items
            .iter()
            .filter_map(move |item| item.get(key).and_then(segment_of))
    }

    /// The key member and its value in the item with this segment.
    pub fn key_member(&self, segment: &str) -> Option<(&'a String, &'a Value)> {
        self.get(segment)?.as_object()?.get_key_value(self.key)
    }
}

/// A key value as a path segment: strings as they are, numbers in their JSON form.
fn segment_of(v: &Value) -> Option<Cow<'_, str>> {
    match v {
        Value::String(s) => Some(Cow::Borrowed(s)),
        Value::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// Walks the members of up to `N` objects in key order, each key once with its value on
/// every side. `serde_json::Map` iterates sorted (the `preserve_order` feature is off; a
/// test guards it), which makes this a merge join without allocation.
pub struct UnionMembers<'a, const N: usize> {
    iters: [Option<Peekable<serde_json::map::Iter<'a>>>; N],
}

impl<'a, const N: usize> UnionMembers<'a, N> {
    pub fn new(maps: [Option<&'a Map<String, Value>>; N]) -> Self {
        Self {
            iters: maps.map(|m| m.map(|m| m.iter().peekable())),
        }
    }
}

impl<'a, const N: usize> Iterator for UnionMembers<'a, N> {
    type Item = (&'a str, [Option<&'a Value>; N]);

    fn next(&mut self) -> Option<Self::Item> {
        let mut min: Option<&'a str> = None;
        for it in self.iters.iter_mut().flatten() {
            if let Some((k, _)) = it.peek() {
                let k: &'a str = k.as_str();
                if min.is_none_or(|m| k < m) {
                    min = Some(k);
                }
            }
        }
        let key = min?;
        let values = self.iters.each_mut().map(|it| {
            let it = it.as_mut()?;
            it.next_if(|(k, _)| k.as_str() == key).map(|(_, v)| v)
        });
        Some((key, values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_maps_iterate_in_key_order() {
        // UnionMembers relies on it; a dependency that turns on preserve_order breaks it.
        let v = json!({"b": 1, "a": 2, "c": 3, "aa": 4});
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(keys, ["a", "aa", "b", "c"]);
    }

    #[test]
    fn union_members_visits_each_key_once_with_all_sides() {
        let (a, b) = (json!({"a": 1, "c": 3}), json!({"b": 2, "c": 4}));
        let seen: Vec<(&str, [Option<i64>; 2])> = UnionMembers::new([a.as_object(), b.as_object()])
            .map(|(k, v)| (k, v.map(|v| v.and_then(Value::as_i64))))
            .collect();
        assert_eq!(
            seen,
            [
                ("a", [Some(1), None]),
                ("b", [None, Some(2)]),
                ("c", [Some(3), Some(4)])
            ]
        );
    }

    fn kind<const N: usize>(sides: [Option<&Value>; N], hint: Hint) -> &'static str {
        match node(sides, hint) {
            Node::Object(_) => "object",
            Node::Keyed(_) => "keyed",
            Node::Leaf { datetime: true } => "datetime",
            Node::Leaf { datetime: false } => "leaf",
        }
    }

    #[test]
    fn lists_of_objects_with_distinct_ids_are_keyed_without_a_schema() {
        let keyed = json!([{"id": "a"}, {"id": 2}]);
        assert_eq!(kind([Some(&keyed), None], Hint::Auto), "keyed");
        assert_eq!(kind([Some(&keyed), Some(&json!([]))], Hint::Auto), "keyed");
        assert_eq!(
            kind([Some(&json!([])), Some(&json!([]))], Hint::Auto),
            "leaf"
        );
        assert_eq!(
            kind([Some(&json!([{"id": "a"}, {"id": "a"}]))], Hint::Auto),
            "leaf"
        );
        assert_eq!(
            kind([Some(&json!([{"id": 1}, {"id": "1"}]))], Hint::Auto),
            "leaf"
        );
        assert_eq!(kind([Some(&json!([{"id": "a"}, 3]))], Hint::Auto), "leaf");
        assert_eq!(kind([Some(&json!([{"key": "a"}]))], Hint::Auto), "leaf");
        assert_eq!(kind([Some(&keyed), Some(&json!("x"))], Hint::Auto), "leaf");
    }

    #[test]
    fn schema_decides_keys_datetimes_and_whole_lists() {
        let by_code = json!([{"code": "a"}]);
        assert_eq!(kind([Some(&by_code)], Hint::Keyed("code")), "keyed");
        assert_eq!(kind([Some(&json!([]))], Hint::Keyed("code")), "keyed");
        assert_eq!(kind([Some(&json!([{"id": "a"}]))], Hint::WholeList), "leaf");
        assert_eq!(
            kind([Some(&json!("2026-01-01T00:00:00Z"))], Hint::Datetime),
            "datetime"
        );
        assert_eq!(kind([Some(&json!({})), None], Hint::Auto), "object");
    }

    #[test]
    fn keyed_list_finds_items_and_keeps_order() {
        let items = json!([{"id": "z"}, {"id": 10}, {"id": "a/b"}]);
        let list = KeyedList::new(items.as_array().unwrap(), "id").unwrap();
        let order: Vec<String> = list.segments().map(Cow::into_owned).collect();
        assert_eq!(order, ["z", "10", "a/b"]);
        assert_eq!(list.get("10"), Some(&json!({"id": 10})));
        assert_eq!(list.get("y"), None);
    }
}
