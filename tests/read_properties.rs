//! The tree reader and the outline (`model::read`) against serde_json, on arbitrary text
//! (proptest): they read every well-formed text (to the same tree; every outlined place
//! holding the value the tree has there), never accept what serde_json refuses, and a
//! refused text keeps serde_json's message and position.

use proptest::prelude::*;
use serde_json::Value;
use syncdesk::model::read::{Inner, Outline, outline, read, read_bytes};
use syncdesk::model::{Json, Num};

fn serde_tree(text: &str) -> Result<Json<'_>, serde_json::Error> {
    serde_json::from_str(text)
}

/// Equal trees, floats compared bit for bit (so `-0.0` is not `0.0`).
fn same(a: &Json, b: &Json) -> bool {
    match (a, b) {
        (Json::Number(Num::F(x)), Json::Number(Num::F(y))) => x.to_bits() == y.to_bits(),
        (Json::Array(x), Json::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y.iter()).all(|(a, b)| same(a, b))
        }
        (Json::Object(x), Json::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y.iter())
                    .all(|((ka, a), (kb, b))| ka == kb && same(a, b))
        }
        _ => a == b,
    }
}

fn string() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z ]{0,40}",
        any::<String>(),
        prop::collection::vec(any::<char>(), 0..30).prop_map(|c| c.into_iter().collect()),
        Just("x".repeat(100)),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<u64>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |x| x.is_finite())
            .prop_map(Value::from),
        string().prop_map(Value::String),
    ]
}

fn value() -> impl Strategy<Value = Value> {
    leaf().prop_recursive(5, 60, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
            prop::collection::vec((string(), inner), 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// JSON text of `v` as others write it: spaced or not, and with some characters written
/// as `\u` escapes (surrogate pairs beyond the first plane) or `\/`.
fn write(v: &Value, spaced: bool, escape_every: usize, out: &mut String, n: &mut usize) {
    let gap = if spaced { " \n\t" } else { "" };
    match v {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(gap);
                write(item, spaced, escape_every, out, n);
            }
            out.push_str(gap);
            out.push(']');
        }
        Value::Object(members) => {
            out.push('{');
            for (i, (k, item)) in members.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(gap);
                write_string(k, escape_every, out, n);
                out.push_str(gap);
                out.push(':');
                write(item, spaced, escape_every, out, n);
            }
            out.push('}');
        }
        Value::String(s) => write_string(s, escape_every, out, n),
        other => out.push_str(&other.to_string()),
    }
}

fn write_string(s: &str, escape_every: usize, out: &mut String, n: &mut usize) {
    out.push('"');
    for c in s.chars() {
        *n += 1;
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' if n.is_multiple_of(2) => out.push_str("\\/"),
            c if (c as u32) < 0x20 || n.is_multiple_of(escape_every) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Texts near JSON: valid ones cut, with a byte dropped, or with a character put in.
fn damaged() -> impl Strategy<Value = String> {
    (
        value(),
        any::<prop::sample::Index>(),
        prop::sample::select(vec![
            "", ",", "]", "}", "\"", "\\", "\\u", "\\ud800", "\\udc00", "-", ".", "e", "0",
            "1e999", "\u{1}", "tru", " ",
        ]),
        0u8..3,
    )
        .prop_map(|(v, at, insert, how)| {
            let text = v.to_string();
            let mut cut = at.index(text.len() + 1);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            let (head, tail) = text.split_at(cut);
            match how {
                0 => head.to_string(),
                1 => format!("{head}{}", tail.chars().skip(1).collect::<String>()),
                _ => format!("{head}{insert}{tail}"),
            }
        })
}

/// Bytes near JSON: a valid text with one byte put in or written over, mostly a byte past
/// ASCII (a lead or continuation byte of UTF-8, or one no UTF-8 holds).
fn damaged_bytes() -> impl Strategy<Value = Vec<u8>> {
    (
        value(),
        any::<prop::sample::Index>(),
        prop_oneof![
            prop::sample::select(vec![0x80u8, 0xbf, 0xc3, 0xe2, 0xf0, 0xf8, 0xff]),
            any::<u8>(),
        ],
        any::<bool>(),
    )
        .prop_map(|(v, at, byte, insert)| {
            let mut bytes = v.to_string().into_bytes();
            let at = at.index(bytes.len() + 1);
            if insert || at == bytes.len() {
                bytes.insert(at, byte);
            } else {
                bytes[at] = byte;
            }
            bytes
        })
}

/// Every outlined place holds the value the tree has there.
fn outline_matches(text: &str, place: &Outline, tree: &Json) -> bool {
    let here = read(&text[place.span.clone()]);
    if !here.is_some_and(|v| same(&v, tree)) {
        return false;
    }
    match (&place.inner, tree) {
        (Inner::Whole, _) => true,
        (Inner::Items(items), Json::Array(values)) => {
            items.len() == values.len()
                && items
                    .iter()
                    .zip(values.iter())
                    .all(|(p, v)| outline_matches(text, p, v))
        }
        // Members in the text's order, a repeated key each time: look each up by key,
        // the last one read being the one the tree keeps.
        (Inner::Members(members), Json::Object(object)) => {
            members.iter().enumerate().all(|(i, (key, p))| {
                let last = !members[i + 1..].iter().any(|(k, _)| k == key);
                !last || object.get(key).is_some_and(|v| outline_matches(text, p, v))
            })
        }
        _ => false,
    }
}

/// Objects of one shape, each a little off it, as their members in the text's order: the
/// reader guesses an object's keys from the last object at its depth, so these walk every
/// way a guess can go wrong: a key dropped, cut to its prefix or made longer, repeated or
/// moved, and nested objects of other shapes in between (which take over the remembered
/// orders). Written with escapes, the keys are spelled apart from the guess too.
fn objects_of_one_shape() -> impl Strategy<Value = Vec<Vec<(String, Value)>>> {
    let key = prop::sample::select(vec![
        "a",
        "ab",
        "abc",
        "id",
        "label",
        "é",
        "key of length15",
        "a key of sixteen",
        "a key longer than sixteen bytes",
        "q\"uote",
        "back\\slash",
        "",
    ]);
    let shape = prop::collection::vec(key, 1..7);
    let change = (0u8..6, any::<prop::sample::Index>());
    let object = (prop::collection::vec(change, 0..3), value());
    (shape, prop::collection::vec(object, 1..12)).prop_map(|(shape, objects)| {
        objects
            .into_iter()
            .map(|(changes, nested)| {
                let mut keys: Vec<String> = shape.iter().map(|k| k.to_string()).collect();
                for (how, at) in changes {
                    let i = at.index(keys.len());
                    match how {
                        0 if keys.len() > 1 => drop(keys.remove(i)),
                        1 => drop(keys[i].pop()),
                        2 => keys[i].push('x'),
                        3 => keys.push(keys[i].clone()),
                        4 => keys.swap(i, 0),
                        _ => {}
                    }
                }
                let value = |n: usize| {
                    if n == 0 {
                        nested.clone()
                    } else {
                        Value::from(n)
                    }
                };
                keys.into_iter()
                    .enumerate()
                    .map(|(n, k)| (k, value(n)))
                    .collect()
            })
            .collect()
    })
}

/// The text of a list of objects given as their members, keys written by `write_string`.
fn list_text(objects: &[Vec<(String, Value)>], escape_every: usize) -> String {
    let mut text = String::from("[");
    let mut n = 0;
    for (i, members) in objects.iter().enumerate() {
        text.push_str(if i > 0 { ",{" } else { "{" });
        for (j, (key, value)) in members.iter().enumerate() {
            if j > 0 {
                text.push(',');
            }
            write_string(key, escape_every, &mut text, &mut n);
            text.push(':');
            write(value, false, usize::MAX, &mut text, &mut 0);
        }
        text.push('}');
    }
    text.push(']');
    text
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn objects_of_one_shape_read_as_serde_json_reads_them(
        objects in objects_of_one_shape(),
        escape_every in prop_oneof![Just(usize::MAX), 2usize..40],
        cut in any::<prop::sample::Index>(),
    ) {
        let text = list_text(&objects, escape_every);
        let expected = serde_tree(&text).expect("serde_json reads what we wrote");
        let ours = read(&text);
        prop_assert!(ours.is_some(), "the reader gave up on {text:?}");
        prop_assert!(same(ours.as_ref().unwrap(), &expected), "{text:?}");
        // Cut short: refused, as serde_json refuses it, wherever the cut falls in a key.
        let mut end = cut.index(text.len());
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        prop_assert!(read(&text[..end]).is_none(), "{:?}", &text[..end]);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn well_formed_text_reads_to_serde_jsons_tree(
        v in value(),
        spaced in any::<bool>(),
        escape_every in 2usize..9,
    ) {
        let mut text = String::new();
        write(&v, spaced, escape_every, &mut text, &mut 0);
        let expected = serde_tree(&text).expect("serde_json reads what we wrote");
        let ours = read(&text);
        prop_assert!(ours.is_some(), "the reader gave up on {text:?}");
        prop_assert!(same(ours.as_ref().unwrap(), &expected), "{text:?}");
        let place = outline(&text, 2);
        prop_assert!(place.is_some(), "the outline gave up on {text:?}");
        prop_assert!(outline_matches(&text, place.as_ref().unwrap(), &expected), "{text:?}");
    }

    #[test]
    fn damaged_text_is_refused_as_serde_json_refuses_it(text in damaged()) {
        match serde_tree(&text) {
            Ok(expected) => {
                let ours = read(&text);
                prop_assert!(ours.is_some(), "the reader gave up on {text:?}");
                prop_assert!(same(ours.as_ref().unwrap(), &expected), "{text:?}");
                prop_assert!(outline(&text, 2).is_some(), "the outline gave up on {text:?}");
            }
            Err(e) => {
                prop_assert!(read(&text).is_none(), "the reader accepted {text:?}");
                prop_assert!(outline(&text, 2).is_none(), "the outline accepted {text:?}");
                // The message users see is serde_json's, position included.
                prop_assert_eq!(Json::parse(&text).unwrap_err().to_string(), e.to_string());
            }
        }
    }

    #[test]
    fn bytes_are_read_or_refused_as_serde_json_reads_or_refuses_them(bytes in damaged_bytes()) {
        match serde_json::from_slice::<Json>(&bytes) {
            Ok(expected) => {
                let ours = read_bytes(&bytes);
                prop_assert!(ours.is_some(), "the reader gave up on {bytes:?}");
                prop_assert!(same(ours.as_ref().unwrap(), &expected), "{bytes:?}");
            }
            Err(e) => {
                prop_assert!(read_bytes(&bytes).is_none(), "the reader accepted {bytes:?}");
                // Invalid UTF-8 included: serde_json's message, position included.
                prop_assert_eq!(Json::parse_slice(&bytes).unwrap_err().to_string(), e.to_string());
            }
        }
    }

    #[test]
    fn numbers_read_bit_for_bit_as_serde_json_reads_them(
        text in r"-?(0|[1-9][0-9]{0,24})(\.[0-9]{1,22})?([eE][+-]?[0-9]{1,3})?"
    ) {
        match serde_tree(&text) {
            Ok(expected) => {
                let ours = read(&text);
                prop_assert!(ours.is_some(), "the reader gave up on {text}");
                prop_assert!(same(ours.as_ref().unwrap(), &expected), "{text}: {ours:?} vs {expected:?}");
            }
            Err(_) => prop_assert!(read(&text).is_none(), "{text}"),
        }
    }
}
