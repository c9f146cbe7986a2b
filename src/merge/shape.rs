//! How a path is walked: into an object, item by item through a keyed list, or as one value.

use std::borrow::Cow;

use crate::model::json::{Json, Key, Object, bytes_eq};
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
pub enum Node<'v, 'a, const N: usize> {
    Object([Option<&'v Object<'a>>; N]),
    Keyed([Option<KeyedList<'v, 'a>>; N]),
    Leaf { datetime: bool },
}

/// `Some(datetime)` when the path is a leaf whatever the containers hold: the hint says
/// so, or some side holds a scalar (most values are scalars, and one side's scalar makes
/// the path a leaf). `None`: every side holds an object or a list, for [`node`] to tell.
#[inline]
pub fn plain_leaf<const N: usize>(sides: &[Option<&Json>; N], hint: Hint) -> Option<bool> {
    match hint {
        Hint::Datetime => return Some(true),
        Hint::WholeList => return Some(false),
        Hint::Auto | Hint::Keyed(_) => {}
    }
    let container = |v: &&Json| matches!(v, Json::Object(_) | Json::Array(_));
    (!sides.iter().flatten().all(container)).then_some(false)
}

/// Decides the node kind: a container only when every side that has a value there agrees.
pub fn node<'v, 'a, const N: usize>(
    sides: [Option<&'v Json<'a>>; N],
    hint: Hint,
) -> Node<'v, 'a, N> {
    if let Some(datetime) = plain_leaf(&sides, hint) {
        return Node::Leaf { datetime };
    }
    let mut objects = [None; N];
    let mut lists = [None; N];
    let (mut all_objects, mut all_lists, mut any_items) = (true, true, false);
    for ((side, object), list) in sides.iter().zip(&mut objects).zip(&mut lists) {
        match side {
            None => {}
            Some(Json::Object(o)) => {
                *object = Some(o);
                all_lists = false;
            }
            Some(Json::Array(items)) => {
                *list = Some(&items[..]);
                any_items |= !items.is_empty();
                all_objects = false;
            }
            Some(_) => unreachable!("scalars returned a leaf above"),
        }
    }
    if all_objects {
        return Node::Object(objects);
    }
    let (key, needs_items) = match hint {
        Hint::Keyed(key) => (key, false),
        _ => ("id", true),
    };
    if all_lists && (any_items || !needs_items) {
        let keyed = lists.map(|l| l.map(|items| KeyedList::new(items, key)));
        if keyed.iter().all(|k| !matches!(k, Some(None))) {
            return Node::Keyed(keyed.map(Option::flatten));
        }
    }
    Node::Leaf { datetime: false }
}

/// Lists up to this long are searched item by item, which costs less than an index.
const LINEAR_ITEMS: usize = 16;

/// A list whose items are objects with distinct key values, indexed by that value.
pub struct KeyedList<'v, 'a> {
    items: &'v [Json<'a>],
    /// Segment of each item, in list order.
    segments: Vec<Cow<'v, str>>,
    /// Item indexes sorted by segment, for lookups; empty when the list is short or in
    /// segment order already (then `segments` is searched).
    by_segment: Vec<u32>,
    key: &'v str,
}

impl<'v, 'a> KeyedList<'v, 'a> {
    /// `None` when an item is not an object, lacks the key, or repeats a key value.
    fn new(items: &'v [Json<'a>], key: &str) -> Option<Self> {
        let mut segments = Vec::with_capacity(items.len());
        let mut stored_key = "";
        // Items of one list mostly share their members: the key is looked for first where
        // it was in the item before.
        let mut at = 0;
        for item in items {
            let members = item.as_object()?.entries();
            at = match members.get(at) {
                Some((k, _)) if bytes_eq(k.as_bytes(), key.as_bytes()) => at,
                _ => members
                    .binary_search_by(|(k, _)| k.as_str().cmp(key))
                    .ok()?,
            };
            let (k, v) = &members[at];
            stored_key = k;
            segments.push(segment_of(v)?);
        }
        let mut by_segment = Vec::new();
        if segments.len() <= LINEAR_ITEMS {
            // Short lists (a checklist) are searched item by item: no index to build, and
            // each key once is checked pair by pair.
            let repeated = |(i, s): (usize, &Cow<str>)| {
                segments[i + 1..]
                    .iter()
                    .any(|t| bytes_eq(s.as_bytes(), t.as_bytes()))
            };
            if segments.iter().enumerate().any(repeated) {
                return None;
            }
        // A long list in order (and so each key once), as lists often are: no index either.
        } else if !segments.windows(2).all(|w| w[0] < w[1]) {
            by_segment = (0..items.len() as u32).collect();
            by_segment.sort_unstable_by(|&a, &b| segments[a as usize].cmp(&segments[b as usize]));
            if by_segment
                .windows(2)
                .any(|w| segments[w[0] as usize] == segments[w[1] as usize])
            {
                return None;
            }
        }
        Some(Self {
            items,
            segments,
            by_segment,
            key: stored_key,
        })
    }

    /// The item whose key value has this segment.
    pub fn get(&self, segment: &str) -> Option<&'v Json<'a>> {
        let at = if self.segments.len() <= LINEAR_ITEMS {
            self.segments
                .iter()
                .position(|s| bytes_eq(s.as_bytes(), segment.as_bytes()))?
        } else if self.by_segment.is_empty() {
            self.segments
                .binary_search_by(|s| s.as_ref().cmp(segment))
                .ok()?
        } else {
            let i = self
                .by_segment
                .binary_search_by(|&i| self.segments[i as usize].as_ref().cmp(segment))
                .ok()?;
            self.by_segment[i] as usize
        };
        Some(&self.items[at])
    }

    /// The item with this segment, looked for first at list position `at`: the lists of
    /// one record's versions mostly keep their order, and a hit there costs one compare
    /// where the search costs a dozen.
    pub fn get_near(&self, segment: &str, at: usize) -> Option<&'v Json<'a>> {
        match self.segments.get(at) {
            Some(s) if s.as_ref() == segment => Some(&self.items[at]),
            _ => self.get(segment),
        }
    }

    /// The segments in list order.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.segments.iter().map(|s| s.as_ref())
    }

    /// Whether some item is named by a number, whose segment is its JSON form: sides equal
    /// as values may write it apart (`1`, `1.0`). String names are the same text on all.
    pub fn numbered(&self) -> bool {
        self.segments.iter().any(|s| matches!(s, Cow::Owned(_)))
    }

    /// The member naming each item (as stored).
    pub fn key(&self) -> &'v str {
        self.key
    }
}

/// A key value as a path segment: strings as they are, numbers in their JSON form.
#[inline]
pub(crate) fn segment_of<'v>(v: &'v Json) -> Option<Cow<'v, str>> {
    match v {
        Json::String(s) => Some(Cow::Borrowed(s)),
        Json::Number(n) => Some(Cow::Owned(n.to_string())),
        _ => None,
    }
}

/// Walks the members of up to `N` objects in key order (objects keep their members
/// sorted), each key once with its value on every side: a merge join, no allocation.
pub struct UnionMembers<'v, 'a, const N: usize> {
    rests: [&'v [(Key, Json<'a>)]; N],
    /// Set when every side with members has the same keys, as versions of one record
    /// mostly do: the side the keys are taken from (any side when none has members). The
    /// members then pair up by position, with no key compared on the way.
    paired: Option<usize>,
    /// The next position, when paired.
    at: usize,
}

impl<'v, 'a, const N: usize> UnionMembers<'v, 'a, N> {
    pub fn new(objects: [Option<&'v Object<'a>>; N]) -> Self {
        Self::of_entries(objects.map(|o| o.map_or(&[][..], Object::entries)))
    }

    /// The union of members in key order on each side (an object's, or the rest of one).
    pub fn of_entries(rests: [&'v [(Key, Json<'a>)]; N]) -> Self {
        let mut with_members = rests
            .iter()
            .enumerate()
            .filter(|(_, rest)| !rest.is_empty());
        let paired = match with_members.next() {
            None => Some(0),
            Some((lead, first)) => with_members
                .all(|(_, rest)| {
                    rest.len() == first.len()
                        && rest
                            .iter()
                            .zip(first.iter())
                            .all(|((k, _), (l, _))| bytes_eq(k.as_bytes(), l.as_bytes()))
                })
                .then_some(lead),
        };
        Self {
            rests,
            paired,
            at: 0,
        }
    }
}

impl<'v, 'a, const N: usize> Iterator for UnionMembers<'v, 'a, N> {
    type Item = (&'v Key, [Option<&'v Json<'a>>; N]);

    /// Inlined where it is called: the paired step is a few loads, the merge join a call.
    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        let Some(lead) = self.paired else {
            return self.next_joined();
        };
        let at = self.at;
        let (key, _) = self.rests[lead].get(at)?;
        self.at += 1;
        Some((key, self.rests.map(|rest| rest.get(at).map(|(_, v)| v))))
    }
}

impl<'v, 'a, const N: usize> UnionMembers<'v, 'a, N> {
    #[inline(never)]
    fn next_joined(&mut self) -> Option<(&'v Key, [Option<&'v Json<'a>>; N])> {
        // Versions of one record mostly hold the same keys: when every side's next key is
        // the same, take them all with one comparison each.
        let first = self
            .rests
            .iter()
            .find_map(|rest| rest.first().map(|(k, _)| k))?;
        let aligned = self.rests.iter().all(|rest| {
            rest.first()
                .is_some_and(|(k, _)| bytes_eq(k.as_bytes(), first.as_bytes()))
        });
        let key = if aligned {
            first
        } else {
            self.rests
                .iter()
                .filter_map(|rest| rest.first().map(|(k, _)| k))
                .min()?
        };
        let values = self.rests.each_mut().map(|rest| match rest.split_first() {
            Some(((k, v), tail)) if aligned || bytes_eq(k.as_bytes(), key.as_bytes()) => {
                *rest = tail;
                Some(v)
            }
            _ => None,
        });
        Some((key, values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn union_members_visits_each_key_once_with_all_sides() {
        let (a, b) = (json!({"c": 3, "a": 1}), json!({"b": 2, "c": 4}));
        let seen: Vec<(&str, [Option<&Json>; 2])> =
            UnionMembers::new([a.as_object(), b.as_object()])
                .map(|(k, v)| (k.as_ref(), v))
                .collect();
        let n = |x: serde_json::Value| Json::from(x);
        assert_eq!(
            seen,
            [
                ("a", [Some(&n(1.into())), None]),
                ("b", [None, Some(&n(2.into()))]),
                ("c", [Some(&n(3.into())), Some(&n(4.into()))])
            ]
        );
    }

    #[test]
    fn sides_with_the_same_keys_pair_up_and_a_side_without_members_has_none() {
        let (a, b, empty) = (json!({"x": 1, "y": 2}), json!({"x": 3, "y": 4}), json!({}));
        let n = |x: i32| Json::from(serde_json::Value::from(x));
        for third in [None, empty.as_object()] {
            let seen: Vec<(&str, [Option<&Json>; 3])> =
                UnionMembers::new([a.as_object(), third, b.as_object()])
                    .map(|(k, v)| (k.as_ref(), v))
                    .collect();
            assert_eq!(
                seen,
                [
                    ("x", [Some(&n(1)), None, Some(&n(3))]),
                    ("y", [Some(&n(2)), None, Some(&n(4))])
                ]
            );
        }
        // Same length, one key different: the union, not a pairing by position.
        let c = json!({"x": 5, "z": 6});
        let keys: Vec<&str> = UnionMembers::new([a.as_object(), c.as_object()])
            .map(|(k, _)| k.as_ref())
            .collect();
        assert_eq!(keys, ["x", "y", "z"]);
    }

    fn kind<const N: usize>(sides: [Option<&Json>; N], hint: Hint) -> &'static str {
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
        assert_eq!(list.segments().collect::<Vec<_>>(), ["z", "10", "a/b"]);
        assert_eq!(list.get("10"), Some(&json!({"id": 10})));
        assert_eq!(list.get("y"), None);
        // Looked for near a position first, found anywhere.
        assert_eq!(list.get_near("10", 1), Some(&json!({"id": 10})));
        assert_eq!(list.get_near("z", 2), Some(&json!({"id": "z"})));
        assert_eq!(list.get_near("a/b", 9), Some(&json!({"id": "a/b"})));
        assert_eq!(list.get_near("y", 0), None);
    }

    #[test]
    fn keyed_list_finds_the_key_wherever_an_item_keeps_it() {
        // The key is first among the first item's members, last among the second's.
        let items = json!([{"id": "a", "x": 1}, {"a": 0, "b": 1, "id": "b"}, {"x": 2}]);
        let items = items.as_array().unwrap();
        let list = KeyedList::new(&items[..2], "id").unwrap();
        assert_eq!(list.segments().collect::<Vec<_>>(), ["a", "b"]);
        // A list in key order is searched as it is.
        assert_eq!(list.get("b"), Some(&items[1]));
        assert_eq!(list.get("c"), None);
        let repeated = json!([{"id": "a"}, {"id": "b"}, {"id": "a"}]);
        assert!(KeyedList::new(repeated.as_array().unwrap(), "id").is_none());
        assert!(
            KeyedList::new(items, "id").is_none(),
            "an item without the key"
        );
    }

    #[test]
    fn long_lists_are_found_through_their_index_in_any_order() {
        let n = 3 * LINEAR_ITEMS;
        // Ids in list order (`id-00`, `id-01`, ...) and out of it (`id-0`, `id-1`, ...
        // `id-10` sorts before `id-2`).
        for ids in [
            (0..n).map(|i| format!("id-{i:02}")).collect::<Vec<_>>(),
            (0..n).rev().map(|i| format!("id-{i}")).collect(),
        ] {
            let items: Vec<Json> = ids.iter().map(|id| json!({ "id": id })).collect();
            let list = KeyedList::new(&items, "id").unwrap();
            for (at, id) in ids.iter().enumerate() {
                assert_eq!(list.get(id), Some(&items[at]), "{id}");
                assert_eq!(list.get_near(id, n - 1 - at), Some(&items[at]), "{id}");
            }
            assert_eq!(list.get("id-"), None);
            let mut repeated = items.clone();
            repeated.push(items[n / 2].clone());
            assert!(KeyedList::new(&repeated, "id").is_none());
        }
    }

    #[test]
    fn short_lists_refuse_a_repeated_key_wherever_it_is() {
        let ids =
            |ids: &[&str]| -> Vec<Json> { ids.iter().map(|id| json!({ "id": id })).collect() };
        assert!(KeyedList::new(&ids(&["a", "b", "c", "d"]), "id").is_some());
        for repeated in [
            ["a", "a", "c", "d"],
            ["a", "b", "c", "a"],
            ["a", "b", "c", "c"],
        ] {
            assert!(
                KeyedList::new(&ids(&repeated), "id").is_none(),
                "{repeated:?}"
            );
        }
    }
}
