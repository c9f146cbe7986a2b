//! The three-way merge of a record's fields, path by path.

use super::equal::sides_equal;
use super::shape::{Hint, KeyedList, Node, UnionMembers, member_hint, node};
use super::{Class, PathDiff, Policy, Side};
use crate::model::TypeSchema;
use crate::model::json::{Json, Object};
use crate::model::pointer::push_segment;

/// The outcome of merging local and server edits made from a common base.
#[derive(Debug, Clone)]
pub struct Merge<'a> {
    /// Every leaf path of any side, in path order, with its class.
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
    let mut walk = Walk {
        policy,
        fields: Vec::new(),
        overridden: Vec::new(),
        path: String::new(),
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
}

impl<'a> Walk<'a, '_> {
    fn members<'s>(
        &mut self,
        objects: [Option<&'a Object<'a>>; 3],
        hint_of: impl Fn(&str) -> Hint<'s>,
    ) -> Object<'a> {
        let most = objects.iter().flatten().map(|o| o.len()).max().unwrap_or(0);
        let mut out = Vec::with_capacity(most);
        // The union comes in key order: the merged members are built sorted.
        for (name, sides) in UnionMembers::new(objects) {
            let len = self.path.len();
            push_segment(&mut self.path, name);
            if let Some(value) = self.value(sides, hint_of(name)) {
                out.push((name.clone(), value));
            }
            self.path.truncate(len);
        }
        Object::from_sorted(out)
    }

    fn value(&mut self, sides: Sides<'a>, hint: Hint) -> Option<Json<'a>> {
        match node(sides, hint) {
            Node::Leaf { datetime } => self.leaf(sides, datetime),
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

    fn leaf(&mut self, sides: Sides<'a>, datetime: bool) -> Option<Json<'a>> {
        let [b, l, s] = sides;
        let eq = |x, y| sides_equal(x, y, datetime);
        // Each comparison once: a long text equal on all sides is compared twice, not four
        // times.
        let same = eq(l, s);
        let settled = if same {
            None
        } else {
            self.policy.settle(&self.path)
        };
        let class = match settled {
            Some(Side::Local) => Class::Local,
            Some(Side::Server) => Class::Server,
            None if same && eq(l, b) => Class::Unchanged,
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
        let taken = if class == Class::Local { l } else { s };
        taken.cloned()
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
