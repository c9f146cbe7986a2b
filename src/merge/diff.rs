//! The two-way, field-level diff of two versions of a record's fields.

use super::equal::{sides_equal, values_equal};
use super::shape::{Hint, KeyedList, Node, UnionMembers, member_hint, node};
use super::text::{InlineDiff, text_diff};
use crate::model::TypeSchema;
use crate::model::json::{Json, Object, bytes_eq};
use crate::model::pointer::push_segment;

/// One leaf path whose value differs between the old and the new version.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Change<'a> {
    pub path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub old: Option<&'a Json<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub new: Option<&'a Json<'a>>,
    /// For two strings (not datetimes): what changed inside the text.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<InlineDiff>,
}

/// Every leaf path that differs from `old` to `new`, with inline diffs of changed text.
/// Walked as the merge walks (same paths, same equality), so its paths are merge paths.
pub fn diff<'a>(
    old: &'a Object<'a>,
    new: &'a Object<'a>,
    schema: Option<&TypeSchema>,
) -> Vec<Change<'a>> {
    walk(old, new, schema, true)
}

/// The leaf paths that differ from `old` to `new`, as `diff` finds them but without the
/// inline diffs of text, which a sync's rules (a no-op, the paths a version changed) never
/// read.
pub fn changed_paths(old: &Object, new: &Object, schema: Option<&TypeSchema>) -> Vec<String> {
    walk(old, new, schema, false)
        .into_iter()
        .map(|c| c.path)
        .collect()
}

fn walk<'a>(
    old: &'a Object<'a>,
    new: &'a Object<'a>,
    schema: Option<&TypeSchema>,
    inline: bool,
) -> Vec<Change<'a>> {
    let mut walk = Walk {
        changes: Vec::with_capacity(8),
        path: String::new(),
        inline,
    };
    walk.members([Some(old), Some(new)], |name| member_hint(schema, name));
    walk.changes
}

struct Walk<'a> {
    changes: Vec<Change<'a>>,
    path: String,
    /// Whether changed text gets its word-level diff.
    inline: bool,
}

impl<'a> Walk<'a> {
    fn members<'s>(
        &mut self,
        objects: [Option<&'a Object<'a>>; 2],
        hint_of: impl Fn(&str) -> Hint<'s>,
    ) {
        let [old, new] = objects.map(|o| o.map_or(&[][..], Object::entries));
        // Versions of a record mostly hold the same keys in the same places: while they
        // do, the pairs are compared in a tight loop, and only a changed one is given its
        // hint, its sides and a call. From the first key that differs, the rest are joined
        // by key (all of them sort after the ones paired).
        let mut paired = 0;
        for ((name, old), (other, new)) in old.iter().zip(new) {
            if !bytes_eq(name.as_bytes(), other.as_bytes()) {
                break;
            }
            if !values_equal(old, new, false) {
                self.changed(name, [Some(old), Some(new)], hint_of(name));
            }
            paired += 1;
        }
        for (name, sides) in UnionMembers::of_entries([&old[paired..], &new[paired..]]) {
            self.child(name, sides, hint_of(name));
        }
    }

    /// Walks one member or item. Most of a record is unchanged: an equal subtree (exactly
    /// equal, so also equal as numbers and instants) is skipped before its path is built.
    fn child(&mut self, segment: &str, sides: [Option<&'a Json<'a>>; 2], hint: Hint) {
        if let [Some(old), Some(new)] = sides
            && values_equal(old, new, false)
        {
            return;
        }
        self.changed(segment, sides, hint);
    }

    /// Walks a member or item whose sides are not equal.
    fn changed(&mut self, segment: &str, sides: [Option<&'a Json<'a>>; 2], hint: Hint) {
        let len = self.path.len();
        push_segment(&mut self.path, segment);
        self.value(sides, hint);
        self.path.truncate(len);
    }

    fn value(&mut self, sides: [Option<&'a Json<'a>>; 2], hint: Hint) {
        match node(sides, hint) {
            Node::Leaf { datetime } => self.leaf(sides, datetime),
            Node::Object(objects) => self.members(objects, |_| Hint::Auto),
            Node::Keyed(lists) => self.keyed_items(&lists),
        }
    }

    fn keyed_items(&mut self, [old, new]: &[Option<KeyedList<'a, 'a>>; 2]) {
        // `at`: where the segment is in the list it came from, where the other likely has
        // it too.
        let get = |list: &Option<KeyedList<'a, 'a>>, segment: &str, at: usize| {
            list.as_ref().and_then(|l| l.get_near(segment, at))
        };
        let visit = |walk: &mut Self, segment: &str, at: usize| {
            let sides = [get(old, segment, at), get(new, segment, at)];
            walk.child(segment, sides, Hint::Auto);
        };
        if let Some(old_list) = old {
            for (at, s) in old_list.segments().enumerate() {
                visit(self, s, at);
            }
        }
        if let Some(new_list) = new {
            for (at, s) in new_list.segments().enumerate() {
                if get(old, s, at).is_none() {
                    visit(self, s, at);
                }
            }
        }
    }

    fn leaf(&mut self, [old, new]: [Option<&'a Json<'a>>; 2], datetime: bool) {
        if sides_equal(old, new, datetime) {
            return;
        }
        let text = match (old, new) {
            (Some(Json::String(a)), Some(Json::String(b))) if !datetime && self.inline => {
                Some(text_diff(a, b))
            }
            _ => None,
        };
        self.changes.push(Change {
            path: self.path.clone(),
            old,
            new,
            text,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;
    use crate::merge::{Class, NoPolicy, merge};

    /// The diff's paths, checked against the paths a merge takes from the new side.
    fn paths(old: Json<'static>, new: Json<'static>) -> Vec<String> {
        let [old, new] = [old, new].map(|v| v.as_object().expect("an object").clone());
        let found: Vec<String> = diff(&old, &new, None).into_iter().map(|c| c.path).collect();
        let mut sorted = found.clone();
        sorted.sort();
        let mut merged: Vec<String> = merge(&old, &new, &old, None, &NoPolicy)
            .paths_of(Class::Local)
            .map(String::from)
            .collect();
        merged.sort();
        assert_eq!(sorted, merged, "the diff walks as the merge does");
        found
    }

    #[test]
    fn changes_after_equal_members_and_items_are_all_found() {
        let old = json!({"a": 1, "b": {"c": 1, "d": [{"id": "x", "v": 1}, {"id": "y", "v": 2}, {"id": "z", "v": 3}]}, "e": "t"});
        let new = json!({"a": 1, "b": {"c": 1, "d": [{"id": "x", "v": 1}, {"id": "y", "v": 5}, {"id": "w", "v": 4}]}, "e": "u"});
        assert_eq!(
            paths(old, new),
            [
                "/b/d/y/v",
                "/b/d/z/id",
                "/b/d/z/v",
                "/b/d/w/id",
                "/b/d/w/v",
                "/e"
            ]
        );
    }

    #[test]
    fn members_after_the_first_key_apart_are_joined_by_key() {
        // "a" pairs up; from "b"/"c" on, keys are joined: one gone, one come, one changed,
        // one only on the longer side, and equal values after the keys part are skipped.
        let old = json!({"a": 1, "b": 2, "d": 4, "e": 5});
        let new = json!({"a": 0, "c": 3, "d": 5, "e": 5, "f": 6});
        assert_eq!(paths(old, new), ["/a", "/b", "/c", "/d", "/f"]);
        // One side without members: every key of the other.
        assert_eq!(paths(json!({}), json!({"x": 1, "y": 2})), ["/x", "/y"]);
        assert_eq!(paths(json!({"x": {"y": 1}}), json!({"x": {}})), ["/x/y"]);
    }

    #[test]
    fn items_named_by_numbers_written_apart_are_two_items() {
        // 1 and 1.0 are equal values but name the item apart: as the merge does, the
        // walk sees one item gone and one come beside the change, though the two compare
        // equal.
        let old = json!({"l": [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}]});
        let new = json!({"l": [{"id": 1.0, "v": "a"}, {"id": 2, "v": "c"}]});
        assert_eq!(
            paths(old, new),
            ["/l/1/id", "/l/1/v", "/l/2/v", "/l/1.0/id", "/l/1.0/v"]
        );
    }
}
