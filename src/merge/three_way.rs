//! The three-way merge of a record's fields, path by path.

use super::equal::{sides_equal, values_equal};
use super::shape::{
    Hint, KeyedList, Node, UnionMembers, member_hint, node, plain_leaf, segment_of,
};
use super::{Class, PathDiff, Policy, Side};
use crate::model::TypeSchema;
use crate::model::json::{Json, Key, Object, bytes_eq};
use crate::model::pointer::push_segment;

/// The outcome of merging local and server edits made from a common base.
#[derive(Debug, Clone)]
pub struct Merge<'a> {
    /// Every leaf path of any side, in path order, with its class (from `merge_changes`:
    /// every one whose class is not `Unchanged`).
    pub fields: Vec<PathDiff<'a>>,
    /// The merged fields; a conflicting path holds the server's value.
    pub merged: Object<'a>,
    /// Paths that were in conflict and took the local value under `same_user_overlap`.
    pub overridden: Vec<String>,
}

impl Merge<'_> {
    /// True when no path is in conflict.
    pub fn is_clean(&self) -> bool {
        self.conflicts().next().is_none()
    }

    /// The paths in conflict.
    pub fn conflicts(&self) -> impl Iterator<Item = &str> {
        self.paths_of(Class::Conflict)
    }

    /// The paths of one class.
    pub fn paths_of(&self, class: Class) -> impl Iterator<Item = &str> {
        self.fields
            .iter()
            .filter(move |f| f.class == class)
            .map(|f| f.path.as_str())
    }
}

/// Merges `local` and `server`, both edited from `base`. The schema, when given, says
/// which top-level fields are datetimes and keyed lists; `policy` may settle paths first.
pub fn merge<'a>(
    base: &'a Object<'a>,
    local: &'a Object<'a>,
    server: &'a Object<'a>,
    schema: Option<&TypeSchema>,
    policy: &dyn Policy,
) -> Merge<'a> {
    merge_walking(base, local, server, schema, policy, true, true)
}

/// The merge as a sync decides on it: the same merged fields, classes and overrides, but
/// `fields` lists only the leaves some side changed (every class but `Unchanged`), so no
/// path is built for the many leaves nobody changed.
pub fn merge_changes<'a>(
    base: &'a Object<'a>,
    local: &'a Object<'a>,
    server: &'a Object<'a>,
    schema: Option<&TypeSchema>,
    policy: &dyn Policy,
) -> Merge<'a> {
    merge_walking(base, local, server, schema, policy, true, false)
}

/// The merge, with or without skipping subtrees equal on all sides (tests compare both),
/// with or without listing the unchanged leaves.
fn merge_walking<'a>(
    base: &'a Object<'a>,
    local: &'a Object<'a>,
    server: &'a Object<'a>,
    schema: Option<&TypeSchema>,
    policy: &dyn Policy,
    skip_unchanged: bool,
    list_unchanged: bool,
) -> Merge<'a> {
    // A record's leaves are a few times its top-level members (lists of objects below):
    // room for them at once spares the list's doublings, each a copy.
    let most = [base, local, server]
        .iter()
        .map(|o| o.len())
        .max()
        .unwrap_or(0);
    let mut walk = Walk {
        policy,
        fields: Vec::with_capacity(4 * most),
        overridden: Vec::new(),
        path: String::new(),
        skip_unchanged,
        list_unchanged,
    };
    let merged = walk.members([Some(base), Some(local), Some(server)], |name| {
        member_hint(schema, name)
    });
    Merge {
        fields: walk.fields,
        merged,
        overridden: walk.overridden,
    }
}

type Sides<'a> = [Option<&'a Json<'a>>; 3];
const BASE: usize = 0;
const LOCAL: usize = 1;
const SERVER: usize = 2;

struct Walk<'a, 'p> {
    policy: &'p dyn Policy,
    fields: Vec<PathDiff<'a>>,
    overridden: Vec<String>,
    /// The current path, grown and cut back as the walk goes down and up.
    path: String,
    /// Whether subtrees equal on all three sides take the short way (`unchanged`).
    skip_unchanged: bool,
    /// Whether `fields` lists unchanged leaves. Without them, the short way takes only
    /// subtrees read as one text on all sides (`read_alike`), with nothing to record.
    list_unchanged: bool,
}

impl<'a> Walk<'a, '_> {
    fn members<'s>(
        &mut self,
        objects: [Option<&'a Object<'a>>; 3],
        hint_of: impl Fn(&str) -> Hint<'s>,
    ) -> Object<'a> {
        let most = objects.iter().flatten().map(|o| o.len()).max().unwrap_or(0);
        let mut out = Object::members_vec(most);
        // The union comes in key order: the merged members are built sorted.
        for (name, sides) in UnionMembers::new(objects) {
            let hint = hint_of(name);
            // A leaf grows the path itself, only when it needs it.
            let value = if let Some(datetime) = plain_leaf(&sides, hint) {
                self.leaf(Some(name), sides, datetime)
            } else {
                let len = self.path.len();
                push_segment(&mut self.path, name);
                let value = self.value(sides, hint);
                self.path.truncate(len);
                value
            };
            if let Some(value) = value {
                out.push((name.clone(), value));
            }
        }
        Object::from_sorted(out)
    }

    fn value(&mut self, sides: Sides<'a>, hint: Hint) -> Option<Json<'a>> {
        // Most of a record's objects and lists are the same on all three sides: their leaves
        // are all unchanged and the server's subtree is the merge, so nothing is merged.
        if let [Some(b), Some(l), Some(s)] = sides
            && self.skip_unchanged
            && matches!(s, Json::Object(_) | Json::Array(_))
        {
            if !self.list_unchanged {
                // Nothing to record: sides read as one text are the merge as they are.
                if read_alike([b, l, s]) {
                    return Some(s.clone());
                }
            } else {
                let first_leaf = self.fields.len();
                if self.unchanged([b, l, s], hint, false).is_some() {
                    return Some(s.clone());
                }
                // Some side differs after all (or keyed items' ids are written apart): the
                // leaves recorded up to there go, and the full walk takes it.
                self.fields.truncate(first_leaf);
            }
        }
        match node(sides, hint) {
            Node::Leaf { datetime } => self.leaf(None, sides, datetime),
            Node::Object(objects) => {
                let out = self.members(objects, |_| Hint::Auto);
                keep_container(out.is_empty(), sides).then_some(Json::Object(out))
            }
            Node::Keyed(lists) => {
                let items = self.keyed_items(&lists);
                keep_container(items.is_empty(), sides).then_some(Json::Array(items.into()))
            }
        }
    }

    /// Items in the server's order, then local additions in local order, then base leftovers.
    fn keyed_items(&mut self, lists: &[Option<KeyedList<'a, 'a>>; 3]) -> Vec<Json<'a>> {
        let mut items = Vec::new();
        let get = |i: usize, segment: &str, at: usize| {
            lists[i].as_ref().and_then(|l| l.get_near(segment, at))
        };
        // `at`: where the segment is in the list it came from, where the others likely
        // have it too.
        let mut visit = |walk: &mut Self, segment: &str, at: usize| {
            let sides = [BASE, LOCAL, SERVER].map(|i| get(i, segment, at));
            let len = walk.path.len();
            push_segment(&mut walk.path, segment);
            let first_leaf = walk.fields.len();
            if let Some(Json::Object(mut item)) = walk.value(sides, Hint::Auto) {
                let key = lists.iter().flatten().next().map(KeyedList::key);
                let key_member = key.and_then(|key| {
                    sides
                        .iter()
                        .flatten()
                        .find_map(|side| side.as_object()?.get_key_value(key))
                });
                if let Some((k, v)) = key_member
                    && !item.contains_key(k)
                {
                    item.insert(k.as_str(), v.clone());
                    walk.key_kept(first_leaf, k);
                }
                items.push(Json::Object(item));
            }
            walk.path.truncate(len);
        };
        if let Some(server) = &lists[SERVER] {
            for (at, s) in server.segments().enumerate() {
                visit(self, s, at);
            }
        }
        if let Some(local) = &lists[LOCAL] {
            for (at, s) in local.segments().enumerate() {
                if get(SERVER, s, at).is_none() {
                    visit(self, s, at);
                }
            }
        }
        if let Some(base) = &lists[BASE] {
            for (at, s) in base.segments().enumerate() {
                if get(SERVER, s, at).is_none() && get(LOCAL, s, at).is_none() {
                    visit(self, s, at);
                }
            }
        }
        items
    }

    /// Records the leaves of a subtree as unchanged, checking on the way that it is equal on
    /// all three sides. Equal sides line up member by member and item by item, so they are
    /// walked in lockstep as the server's side alone says, and nothing is searched. `None`
    /// (leaves half recorded, the path restored) at the first difference, and when keyed
    /// items' ids, equal as numbers, are written apart (`1`, `1.0`) and so name the item
    /// apart.
    /// `known_equal`: the sides are already known equal (read as one text), so nothing is
    /// compared on the way down.
    fn unchanged(&mut self, sides: [&'a Json<'a>; 3], hint: Hint, known_equal: bool) -> Option<()> {
        let [b, l, s] = sides;
        let kind = if matches!(s, Json::Object(_) | Json::Array(_)) {
            node([Some(s)], hint)
        } else {
            Node::Leaf { datetime: false }
        };
        match kind {
            Node::Leaf { .. } => {
                if !(known_equal || values_equal(l, s, false) && values_equal(l, b, false)) {
                    return None;
                }
                self.record_unchanged(sides);
            }
            Node::Object([server]) => {
                let (Json::Object(base), Json::Object(local), Some(server)) = (b, l, server) else {
                    return None;
                };
                // Read as one text on all three sides: equal, however deep.
                let known_equal = known_equal || local.same_text(server) && base.same_text(server);
                let (b, l, s) = (base.entries(), local.entries(), server.entries());
                if b.len() != s.len() || l.len() != s.len() {
                    return None;
                }
                for (((name, b), (local_name, l)), (server_name, s)) in b.iter().zip(l).zip(s) {
                    let same_name = |other: &Key| bytes_eq(other.as_bytes(), name.as_bytes());
                    if !(known_equal || same_name(local_name) && same_name(server_name)) {
                        return None;
                    }
                    if known_equal && !matches!(s, Json::Object(_) | Json::Array(_)) {
                        self.unchanged_leaf(name, [b, l, s]);
                        continue;
                    }
                    self.unchanged_child(name, [b, l, s], known_equal)?;
                }
            }
            Node::Keyed([list]) => {
                let list = list?;
                let (Json::Array(base), Json::Array(local), Json::Array(server)) = (b, l, s) else {
                    return None;
                };
                if base.len() != server.len() || local.len() != server.len() {
                    return None;
                }
                let items = [base, local, server];
                let numbered = list.numbered();
                for (at, segment) in list.segments().enumerate() {
                    let named_alike = known_equal
                        || !numbered
                        || [BASE, LOCAL].into_iter().all(|side| {
                            let id = items[side][at].get(list.key());
                            id.and_then(segment_of)
                                .is_some_and(|other| other == segment)
                        });
                    if !named_alike {
                        return None;
                    }
                    self.unchanged_child(segment, items.map(|list| &list[at]), known_equal)?;
                }
            }
        }
        Some(())
    }

    fn unchanged_child(
        &mut self,
        segment: &str,
        sides: [&'a Json<'a>; 3],
        known_equal: bool,
    ) -> Option<()> {
        let len = self.path.len();
        push_segment(&mut self.path, segment);
        let done = self.unchanged(sides, Hint::Auto, known_equal);
        self.path.truncate(len);
        done
    }

    /// Records a member known to be a leaf equal on all three sides: without the walk's
    /// call and kind check for each of an unchanged item's fields.
    fn unchanged_leaf(&mut self, segment: &str, sides: [&'a Json<'a>; 3]) {
        let len = self.path.len();
        push_segment(&mut self.path, segment);
        self.record_unchanged(sides);
        self.path.truncate(len);
    }

    /// Records the leaf at the current path as unchanged.
    fn record_unchanged(&mut self, [b, l, s]: [&'a Json<'a>; 3]) {
        self.fields.push(PathDiff {
            path: self.path.as_str().into(),
            class: Class::Unchanged,
            base: Some(b),
            local: Some(l),
            server: Some(s),
        });
    }

    /// An item survives (one side removed it, the other changed a member) but its key leaf
    /// was taken from the side without it: the key stays, so its class names the side
    /// that has it.
    fn key_kept(&mut self, first_leaf: usize, key: &str) {
        let mut key_path = self.path.clone();
        push_segment(&mut key_path, key);
        if let Some(f) = self.fields[first_leaf..]
            .iter_mut()
            .find(|f| f.path == key_path)
        {
            f.class = match f.class {
                Class::Local => Class::Server,
                Class::Server => Class::Local,
                other => other,
            };
        }
    }

    /// A leaf's class, recorded, and its merged value. `segment`: the leaf's own segment when
    /// the path does not hold it yet; it is added only when the leaf is recorded or a policy
    /// is asked, so a leaf nobody changed costs no path unless unchanged leaves are listed.
    fn leaf(
        &mut self,
        segment: Option<&str>,
        sides: Sides<'a>,
        datetime: bool,
    ) -> Option<Json<'a>> {
        let [b, l, s] = sides;
        let eq = |x, y| sides_equal(x, y, datetime);
        // Each comparison once: a long text equal on all sides is compared twice, not four
        // times.
        let same = eq(l, s);
        let unchanged = same && eq(l, b);
        if unchanged && !self.list_unchanged {
            return s.cloned();
        }
        let len = self.path.len();
        if let Some(segment) = segment {
            push_segment(&mut self.path, segment);
        }
        let settled = if same {
            None
        } else {
            self.policy.settle(&self.path)
        };
        let class = match settled {
            Some(Side::Local) => Class::Local,
            Some(Side::Server) => Class::Server,
            None if unchanged => Class::Unchanged,
            None if same => Class::BothSame,
            None if eq(l, b) => Class::Server,
            None if eq(s, b) => Class::Local,
            None if self.policy.local_wins_overlap(&self.path) => {
                self.overridden.push(self.path.clone());
                Class::Local
            }
            None => Class::Conflict,
        };
        self.fields.push(PathDiff {
            path: self.path.as_str().into(),
            class,
            base: b,
            local: l,
            server: s,
        });
        self.path.truncate(len);
        let taken = if class == Class::Local { l } else { s };
        taken.cloned()
    }
}

/// Whether three values are equal, and written alike wherever the merge could tell them
/// apart: objects read as one text, lists item by item. A keyed item's id is its name, and
/// ids equal only as numbers (`1`, `1.0`) name items apart, so `values_equal` would not do.
/// `false` also when an object has no text to compare: the caller then walks it.
fn read_alike([b, l, s]: [&Json; 3]) -> bool {
    match (b, l, s) {
        (Json::Object(b), Json::Object(l), Json::Object(s)) => l.same_text(s) && b.same_text(s),
        (Json::Array(b), Json::Array(l), Json::Array(s)) => {
            b.len() == s.len()
                && l.len() == s.len()
                && (0..s.len()).all(|at| read_alike([&b[at], &l[at], &s[at]]))
        }
        _ if [b, l, s]
            .iter()
            .any(|v| matches!(v, Json::Object(_) | Json::Array(_))) =>
        {
            false
        }
        _ => values_equal(l, s, false) && values_equal(l, b, false),
    }
}

/// Whether a container that ended up with no members still exists: its presence merges
/// like a value, so an empty object one side added stays and one side removed goes.
fn keep_container(empty: bool, [b, l, s]: Sides) -> bool {
    if !empty {
        return true;
    }
    let (b, l, s) = (b.is_some(), l.is_some(), s.is_some());
    if l == s || s == b { l } else { s }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::merge::NoPolicy;

    fn object(v: Value) -> Object<'static> {
        match Json::from(v) {
            Json::Object(o) => o,
            _ => unreachable!("an object"),
        }
    }

    /// Settles and overrides by path, so that a policy given a wrong path changes the merge.
    struct ByPath;

    impl Policy for ByPath {
        fn settle(&self, path: &str) -> Option<Side> {
            path.ends_with("/a").then_some(Side::Local)
        }

        fn local_wins_overlap(&self, path: &str) -> bool {
            path.starts_with("/b")
        }
    }

    /// Every way to merge agrees, with and without a policy: the short way for subtrees
    /// equal on all sides and the full walk list the same leaves, and the merge without
    /// unchanged leaves lists the others and merges the same.
    fn both_ways(b: &Object, l: &Object, s: &Object) {
        for policy in [&NoPolicy as &dyn Policy, &ByPath] {
            let short = merge_walking(b, l, s, None, policy, true, true);
            let full = merge_walking(b, l, s, None, policy, false, true);
            assert_eq!(short.fields, full.fields);
            assert_eq!(short.merged, full.merged);
            assert_eq!(short.overridden, full.overridden);
            let changes = merge_walking(b, l, s, None, policy, true, false);
            let changed: Vec<_> = full
                .fields
                .iter()
                .filter(|f| f.class != Class::Unchanged)
                .cloned()
                .collect();
            assert_eq!(changes.fields, changed);
            assert_eq!(changes.merged, full.merged);
            assert_eq!(changes.overridden, full.overridden);
        }
    }

    #[test]
    fn an_unchanged_subtree_records_each_leaf_with_all_three_sides() {
        let b = object(json!({"list": [{"id": "a", "x": {"y": 1}}], "o": {"p": [1, 2], "q": {}}}));
        let (l, s) = (b.clone(), b.clone());
        let m = merge(&b, &l, &s, None, &NoPolicy);
        let paths: Vec<&str> = m.fields.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["/list/a/id", "/list/a/x/y", "/o/p"]);
        assert!(m.fields.iter().all(|f| f.class == Class::Unchanged
            && f.base.is_some()
            && f.local == f.base
            && f.server == f.base));
        assert_eq!(m.merged, b);
        both_ways(&b, &l, &s);
    }

    #[test]
    fn keyed_items_whose_ids_are_equal_only_as_numbers_take_the_full_walk() {
        let b = object(json!({"list": [{"id": 1, "v": "x"}]}));
        let l = object(json!({"list": [{"id": 1.0, "v": "x"}]}));
        both_ways(&b, &l, &b.clone());
        both_ways(&b, &b.clone(), &l);
    }

    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            prop::sample::select(vec![json!(1), json!(1.0), json!(-0.0), json!("x")]),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop::sample::select(vec!["a", "b", "id"]),
                    inner.clone(),
                    0..3
                )
                .prop_map(|m| json!(m)),
                prop::collection::vec(
                    (
                        prop::sample::select(vec![json!(1), json!(1.0), json!("i")]),
                        inner
                    ),
                    0..3
                )
                .prop_map(|items| {
                    Value::Array(
                        items
                            .into_iter()
                            .map(|(id, v)| json!({"id": id, "v": v}))
                            .collect(),
                    )
                }),
            ]
        })
    }

    /// Every 1 written 1.0: the same values, other JSON.
    fn respell(v: Value) -> Value {
        match v {
            Value::Number(n) if n.as_u64() == Some(1) => json!(1.0),
            Value::Array(items) => Value::Array(items.into_iter().map(respell).collect()),
            Value::Object(m) => {
                Value::Object(m.into_iter().map(|(k, v)| (k, respell(v))).collect())
            }
            other => other,
        }
    }

    /// The value with its `n`th node (in pre-order) changed a little: a leaf replaced, an
    /// object's member renamed or added, a list's last item dropped or one added. Returns
    /// whether the node was reached (else `n` is left counting down past this value).
    fn tweak(v: &mut Value, n: &mut usize, how: bool) -> bool {
        if *n == 0 {
            match v {
                Value::Object(m) => match m.keys().next().cloned() {
                    Some(first) if how => {
                        let moved = m.remove(&first).expect("present");
                        m.insert("renamed".into(), moved);
                    }
                    _ => drop(m.insert("added".into(), json!(2))),
                },
                Value::Array(items) if how && !items.is_empty() => drop(items.pop()),
                Value::Array(items) => items.push(Value::Null),
                leaf => *leaf = json!("changed"),
            }
            return true;
        }
        *n -= 1;
        match v {
            Value::Object(m) => m.values_mut().any(|v| tweak(v, n, how)),
            Value::Array(items) => items.iter_mut().any(|v| tweak(v, n, how)),
            _ => false,
        }
    }

    proptest! {
        /// Sides are the base, the base with its 1s written 1.0, the base with one member
        /// replaced, or the base changed a little somewhere deep inside: most subtrees are
        /// equal on all three sides, some only as numbers, some all but one node, some on
        /// two sides only.
        ///
        /// Each side is also read from its JSON text (now and then spaced out), so that
        /// objects read as one text take the short way without comparing their leaves: the
        /// merge is the one of the same values built without text.
        #[test]
        fn the_short_way_merges_as_the_full_walk_does(
            base in prop::collection::btree_map(prop::sample::select(vec!["a", "b", "c"]), value(), 0..4),
            edits in prop::collection::vec(
                (0u8..6, prop::sample::select(vec!["a", "b", "c"]), value(), any::<prop::sample::Index>()),
                2,
            ),
            same in any::<bool>(),
            spaced in any::<[bool; 3]>(),
        ) {
            let b = json!(base);
            let edit = |(kind, key, v, at): &(u8, &str, Value, prop::sample::Index)| match kind {
                0 => b.clone(),
                1 => respell(b.clone()),
                2 | 3 => {
                    let mut o = b.clone();
                    o[*key] = v.clone();
                    o
                }
                _ => {
                    let mut tweaked = b.clone();
                    let mut n = at.index(64);
                    tweak(&mut tweaked, &mut n, *kind == 4);
                    tweaked
                }
            };
            let l = edit(&edits[0]);
            // Both sides made the same change, now and then.
            let s = if same { l.clone() } else { edit(&edits[1]) };
            let built = [&b, &l, &s].map(|v| object(v.clone()));
            both_ways(&built[0], &built[1], &built[2]);
            let texts = [&b, &l, &s].into_iter().zip(spaced).map(|(v, spaced)| {
                if spaced { serde_json::to_string_pretty(v) } else { serde_json::to_string(v) }
                    .expect("JSON text")
            });
            let texts: Vec<String> = texts.collect();
            let read: Vec<Object> = texts
                .iter()
                .map(|t| Json::parse(t).expect("JSON").as_object().expect("an object").clone())
                .collect();
            both_ways(&read[0], &read[1], &read[2]);
            let [from_text, from_values] = [&read[..], &built[..]]
                .map(|o| merge(&o[0], &o[1], &o[2], None, &NoPolicy));
            prop_assert_eq!(from_text.fields, from_values.fields);
            prop_assert_eq!(from_text.merged, from_values.merged);
        }
    }
}
