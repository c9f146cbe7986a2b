//! Properties of the three-way merge over arbitrary JSON (proptest).

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Value, json};
use syncdesk::merge::{Class, NoPolicy, diff, merge, values_equal};
use syncdesk::model::{Json, Object};

type Map = Object<'static>;

fn to_value(o: &Object) -> Value {
    serde_json::to_value(o).unwrap()
}

/// Small domains, so that sides often agree and lists often qualify as keyed.
fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        (-3i64..3).prop_map(Value::from),
        prop_oneof![Just(1.0), Just(-0.5), Just(2.0)].prop_map(Value::from),
        prop::sample::select(vec!["", "x", "y", "a b", "é", "\u{1b}[31m"]).prop_map(Value::from),
    ]
}

fn key() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c", "id", "a/b", "~0"]).prop_map(String::from)
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(4, 40, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner.clone(), 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            // Lists of objects with ids, often keyed.
            prop::collection::vec((prop::sample::select(vec!["i1", "i2", "i3"]), inner), 0..4)
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

fn fields() -> impl Strategy<Value = Map> {
    prop::collection::btree_map(key(), value(), 0..5).prop_map(|m| {
        let Json::Object(o) = Json::from(Value::Object(m.into_iter().collect())) else {
            unreachable!()
        };
        o
    })
}

/// Base, and local and server that are each either the base, a small edit of it, or new.
fn triple() -> impl Strategy<Value = (Map, Map, Map)> {
    (fields(), fields(), fields(), 0u8..4, 0u8..4).prop_map(|(b, x, y, lk, sk)| {
        let derive = |other: Map, kind: u8| match kind {
            0 => b.clone(),
            1 => b.clone().into_iter().chain(other).collect(),
            2 => other
                .into_iter()
                .take(2)
                .chain(b.clone().into_iter().skip(1))
                .collect(),
            _ => other,
        };
        let l = derive(x, lk);
        let s = derive(y, sk);
        (b, l, s)
    })
}

/// Keyed lists sorted by id, since a merge keeps the server's order of items.
fn canonical(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            Value::Object(m.iter().map(|(k, v)| (k.clone(), canonical(v))).collect())
        }
        Value::Array(items) => {
            let mut items: Vec<Value> = items.iter().map(canonical).collect();
            let ids: Option<BTreeSet<String>> = items
                .iter()
                .map(|i| i.get("id").and_then(Value::as_str).map(String::from))
                .collect();
            if ids.is_some_and(|ids| ids.len() == items.len() && !items.is_empty()) {
                items.sort_by_key(|i| i["id"].as_str().unwrap_or_default().to_string());
            }
            Value::Array(items)
        }
        other => other.clone(),
    }
}

/// Leaf paths of one value alone, walked with the merge's rules for a single side.
fn leaf_paths(v: &Value, path: String, out: &mut Vec<String>) {
    let seg = |s: &str| s.replace('~', "~0").replace('/', "~1");
    match v {
        Value::Object(m) => m
            .iter()
            .for_each(|(k, v)| leaf_paths(v, format!("{path}/{}", seg(k)), out)),
        Value::Array(items) if is_keyed(items) => {
            for item in items {
                let id = match &item["id"] {
                    Value::String(s) => s.clone(),
                    n => n.to_string(),
                };
                leaf_paths(item, format!("{path}/{}", seg(&id)), out);
            }
        }
        _ => out.push(path),
    }
}

fn is_keyed(items: &[Value]) -> bool {
    let ids: Option<Vec<String>> = items
        .iter()
        .map(|i| match i.get("id")? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            _ => None,
        })
        .collect();
    ids.is_some_and(|ids| !ids.is_empty() && ids.iter().collect::<BTreeSet<_>>().len() == ids.len())
}

fn below(path: &str, ancestor: &str) -> bool {
    path.starts_with(ancestor) && path.as_bytes().get(ancestor.len()) == Some(&b'/')
}

/// Reported itself or through an ancestor; an empty list holds no leaf, so a path below it
/// (items of the other sides) covers it too.
fn covered(reported: &BTreeSet<&str>, path: &str, empty_list: bool) -> bool {
    reported.contains(path)
        || reported
            .iter()
            .any(|r| below(path, r) || (empty_list && below(r, path)))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn local_unchanged_gives_the_server((b, _l, s) in triple()) {
        let m = merge(&b, &b, &s, None, &NoPolicy);
        prop_assert!(m.is_clean());
        prop_assert_eq!(to_value(&m.merged), to_value(&s));
    }

    #[test]
    fn server_unchanged_gives_local((b, l, _s) in triple()) {
        let m = merge(&b, &l, &b, None, &NoPolicy);
        prop_assert!(m.is_clean());
        let (merged, local) = (canonical(&to_value(&m.merged)), canonical(&to_value(&l)));
        prop_assert!(values_equal(&Json::from(merged.clone()), &Json::from(local.clone()), false), "{} != {}", merged, local);
    }

    #[test]
    fn swapping_local_and_server_gives_the_same_conflicts((b, l, s) in triple()) {
        let one: BTreeSet<String> = merge(&b, &l, &s, None, &NoPolicy).conflicts().map(String::from).collect();
        let two: BTreeSet<String> = merge(&b, &s, &l, None, &NoPolicy).conflicts().map(String::from).collect();
        prop_assert_eq!(one, two);
    }

    #[test]
    fn no_path_of_any_input_is_dropped((b, l, s) in triple()) {
        let m = merge(&b, &l, &s, None, &NoPolicy);
        let reported: BTreeSet<&str> = m.fields.iter().map(|f| f.path.as_str()).collect();
        for side in [&b, &l, &s] {
            let mut paths = Vec::new();
            let side = to_value(side);
            leaf_paths(&side, String::new(), &mut paths);
            for p in paths.iter().filter(|p| !p.is_empty()) {
                let empty_list = pointer(&Json::from(side.clone()), p).is_some_and(|v| v.as_array().is_some_and(<[Json]>::is_empty));
                prop_assert!(covered(&reported, p, empty_list), "path {} of an input is not reported in {:?}", p, reported);
            }
        }
    }

    #[test]
    fn clean_merges_take_each_changed_side((b, l, s) in triple()) {
        let m = merge(&b, &l, &s, None, &NoPolicy);
        let merged = Json::Object(m.merged.clone());
        for f in &m.fields {
            match f.class {
                Class::Local => prop_assert_eq!(f.local, pointer(&merged, &f.path)),
                // An unchanged path keeps the server's current value, even as `1.0` for `1`.
                Class::Unchanged | Class::BothSame | Class::Server | Class::Conflict => {
                    prop_assert_eq!(f.server, pointer(&merged, &f.path))
                }
                Class::Invalid => prop_assert!(false, "merge never says invalid"),
            }
        }
    }

    #[test]
    fn the_diff_lists_exactly_the_paths_a_merge_takes_from_local((b, l, _s) in triple()) {
        let from_diff: BTreeSet<String> = diff(&b, &l, None).into_iter().map(|c| c.path).collect();
        let from_merge: BTreeSet<String> = merge(&b, &l, &b, None, &NoPolicy).paths_of(Class::Local).map(String::from).collect();
        prop_assert_eq!(from_diff, from_merge);
    }

    #[test]
    fn merging_arbitrary_json_never_panics(b in fields(), l in fields(), s in fields()) {
        let m = merge(&b, &l, &s, None, &NoPolicy);
        let _ = serde_json::to_string(&m.fields).unwrap();
        let _ = serde_json::to_string(&m.merged).unwrap();
    }
}

/// The merged value at a reported path, found the way the merge names items.
fn pointer<'v, 'a>(root: &'v Json<'a>, path: &str) -> Option<&'v Json<'a>> {
    let mut here = root;
    for seg in path.split('/').skip(1).map(unescape) {
        here = match here {
            Json::Object(m) => m.get(&seg)?,
            Json::Array(items) => items.iter().find(|i| match i.get("id") {
                Some(Json::String(s)) => s.as_str() == seg,
                Some(Json::Number(n)) => n.to_string() == seg,
                _ => false,
            })?,
            _ => return None,
        };
    }
    Some(here)
}

fn unescape(s: &str) -> String {
    s.replace("~1", "/").replace("~0", "~")
}
