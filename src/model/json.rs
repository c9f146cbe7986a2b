//! The JSON tree the merge engine walks: objects as one sorted vector (no map nodes), keys
//! and short strings inline, longer strings borrowed from the input when they hold no
//! escapes. Objects' members and lists' items are shared between copies (`Arc`), so the
//! merge takes the many subtrees nobody changed by count, not by copy.

use std::fmt;
use std::mem::MaybeUninit;
use std::sync::Arc;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};

pub use super::text::{Key, Str};

/// A JSON value; `'a` is the input it borrows from (`'static` when it owns everything).
#[derive(Debug, Clone, PartialEq)]
pub enum Json<'a> {
    Null,
    Bool(bool),
    Number(Num),
    String(Str<'a>),
    /// Items in a shared slice (16 bytes), not a `Vec` (24): that keeps a value at 24 bytes.
    /// Shared, so that a copy of a list (the merge takes most of a record as it is) is a
    /// count, not a copy of the tree; changing a shared list copies its items first.
    Array(Arc<[Json<'a>]>),
    Object(Object<'a>),
}

/// A JSON number as parsed: unsigned and negative integers exactly, others as `f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Num {
    U(u64),
    I(i64),
    F(f64),
}

/// A JSON object: members sorted by key, each key once (the last one read wins).
#[derive(Clone, Default)]
pub struct Object<'a> {
    /// The members in key order, then one slot more (none in the empty default): the
    /// object's text as it was read, while the object is unchanged since, as a
    /// `Json::String` borrowing it; else `Json::Null`. Two objects read as the same text
    /// are equal, so equality settles most unchanged objects with one `memcmp`; the text
    /// rides in the members' allocation so that a value stays at 24 bytes. Shared like a
    /// list's items (see `Json::Array`).
    slots: Arc<[(Key, Json<'a>)]>,
}

impl<'a> Json<'a> {
    /// Parses JSON text, borrowing its strings where it can. Well-formed text is read by
    /// [`super::read`]; anything else by serde_json, for its message and position.
    pub fn parse(text: &'a str) -> Result<Self, serde_json::Error> {
        super::read::read(text).map_or_else(|| serde_json::from_str(text), Ok)
    }

    /// Parses JSON bytes, borrowing its strings where it can.
    pub fn parse_slice(bytes: &'a [u8]) -> Result<Self, serde_json::Error> {
        // Invalid input (invalid UTF-8 included) goes the slow way, for serde_json's
        // message with its line and column.
        super::read::read_bytes(bytes).map_or_else(|| serde_json::from_slice(bytes), Ok)
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Json<'static> {
        match self {
            Json::Null => Json::Null,
            Json::Bool(b) => Json::Bool(b),
            Json::Number(n) => Json::Number(n),
            Json::String(s) => Json::String(s.into_owned()),
            // Items moved out when nothing else shares them, else copied.
            Json::Array(mut items) => Json::Array(match Arc::get_mut(&mut items) {
                Some(own) => own.iter_mut().map(|item| take(item).into_owned()).collect(),
                None => items.iter().map(|item| item.clone().into_owned()).collect(),
            }),
            Json::Object(o) => Json::Object(o.into_owned()),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Json::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_object(&self) -> Option<&Object<'a>> {
        match self {
            Json::Object(o) => Some(o),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Json<'a>]> {
        match self {
            Json::Array(items) => Some(items),
            _ => None,
        }
    }

    pub fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }

    /// The member of an object.
    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.as_object()?.get(key)
    }

    /// A word for the kind of value, for messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "a boolean",
            Json::Number(_) => "a number",
            Json::String(_) => "a string",
            Json::Array(_) => "a list",
            Json::Object(_) => "an object",
        }
    }
}

impl Num {
    /// Equal as numbers: `1 == 1.0`.
    pub fn same_value(self, other: Num) -> bool {
        match (self, other) {
            (Num::U(a), Num::U(b)) => a == b,
            (Num::I(a), Num::I(b)) => a == b,
            (Num::U(_), Num::I(_)) | (Num::I(_), Num::U(_)) => false,
            (a, b) => a.as_f64() == b.as_f64(),
        }
    }

    pub fn as_f64(self) -> f64 {
        match self {
            Num::U(n) => n as f64,
            Num::I(n) => n as f64,
            Num::F(f) => f,
        }
    }

    /// True for a whole number, however it was written.
    pub fn is_integral(self) -> bool {
        match self {
            Num::U(_) | Num::I(_) => true,
            Num::F(f) => f.fract() == 0.0,
        }
    }
}

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Num::U(n) => n.fmt(f),
            Num::I(n) => n.fmt(f),
            Num::F(x) => f.write_str(
                &serde_json::Number::from_f64(x).map_or_else(|| "null".into(), |n| n.to_string()),
            ),
        }
    }
}

impl<'a> Object<'a> {
    pub fn new() -> Self {
        Self::default()
    }

    /// Members in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &Json<'a>)> + Clone {
        self.entries().iter().map(|(k, v)| (k.as_ref(), v))
    }

    /// Members in key order, keys as stored.
    #[inline]
    pub fn entries(&self) -> &[(Key, Json<'a>)] {
        self.slots.split_last().map_or(&[], |(_, members)| members)
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries().iter().map(|(k, _)| k.as_ref())
    }

    pub fn len(&self) -> usize {
        self.entries().len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries().is_empty()
    }

    /// Whether both were read as the same text, and so are equal (other texts may still
    /// be equal values: `1` and `1.0`, spaces, key order).
    #[inline]
    pub fn same_text(&self, other: &Object) -> bool {
        matches!((self.text(), other.text()), (Some(a), Some(b)) if a == b)
    }

    /// The object's text as it was read, if it was read and has not changed since.
    #[inline]
    pub fn text(&self) -> Option<&'a str> {
        match self.slots.last() {
            Some((_, Json::String(Str::Borrowed(text)))) => Some(text),
            _ => None,
        }
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.entries()
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&Json<'a>> {
        self.position(key).ok().map(|i| &self.slots[i].1)
    }

    /// The member with this key, key as stored.
    pub fn get_key_value(&self, key: &str) -> Option<(&Key, &Json<'a>)> {
        self.position(key).ok().map(|i| {
            let (k, v) = &self.slots[i];
            (k, v)
        })
    }

    /// A member to change in place: the object no longer is the text it was read as.
    pub fn get_mut(&mut self, key: &str) -> Option<&mut Json<'a>> {
        let i = self.position(key).ok()?;
        self.forget_text();
        Some(&mut self.slots_mut()[i].1)
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Sets a member, replacing one with the same key. A new key costs a copy of the
    /// members: objects are read and walked far more often than they are edited.
    pub fn insert(&mut self, key: impl Into<Key>, value: Json<'a>) {
        let key = key.into();
        match self.position(&key) {
            Ok(i) => {
                self.forget_text();
                self.slots_mut()[i].1 = value;
            }
            Err(i) => self.edit(|members| members.insert(i, (key, value))),
        }
    }

    pub fn remove(&mut self, key: &str) -> Option<Json<'a>> {
        let i = self.position(key).ok()?;
        Some(self.edit(|members| members.remove(i).1))
    }

    fn forget_text(&mut self) {
        if self.text().is_some()
            && let Some((_, text)) = self.slots_mut().last_mut()
        {
            *text = Json::Null;
        }
    }

    /// The slots to change: this object's own, copied first if another value shares them.
    fn slots_mut(&mut self) -> &mut [(Key, Json<'a>)] {
        Arc::make_mut(&mut self.slots)
    }

    fn edit<T>(&mut self, change: impl FnOnce(&mut Vec<(Key, Json<'a>)>) -> T) -> T {
        let mut members = std::mem::take(self).into_members();
        let out = change(&mut members);
        *self = Self::from_sorted(members);
        out
    }

    /// The members, moved out when nothing else shares them, else copied.
    fn into_members(mut self) -> Vec<(Key, Json<'a>)> {
        let n = self.len();
        let mut members = Self::members_vec(n);
        match Arc::get_mut(&mut self.slots) {
            Some(own) => members.extend(own[..n].iter_mut().map(|(k, v)| (take_key(k), take(v)))),
            None => members.extend_from_slice(self.entries()),
        }
        members
    }

    pub fn into_owned(self) -> Object<'static> {
        let members = self.into_iter().map(|(k, v)| (k, v.into_owned()));
        Object::with_text_slot(members, Json::Null)
    }

    /// Room for `n` members, to collect before `from_sorted`.
    #[inline]
    pub(crate) fn members_vec(n: usize) -> Vec<(Key, Json<'a>)> {
        Vec::with_capacity(n)
    }

    /// An object of members already in key order, each key once.
    pub(crate) fn from_sorted(members: Vec<(Key, Json<'a>)>) -> Self {
        Self::with_text_slot(members.into_iter(), Json::Null)
    }

    /// [`Self::from_sorted`] for an object read as `text`, its members moved from wherever
    /// the reader has them.
    pub(crate) fn read_as(
        members: impl ExactSizeIterator<Item = (Key, Json<'a>)>,
        text: &'a str,
    ) -> Self {
        Self::with_text_slot(members, Json::String(Str::Borrowed(text)))
    }

    /// The members and then the text slot, moved straight into one allocation.
    fn with_text_slot(
        members: impl ExactSizeIterator<Item = (Key, Json<'a>)>,
        text: Json<'a>,
    ) -> Self {
        let n = members.len();
        let slots = Arc::<[(Key, Json<'a>)]>::new_uninit_slice(n + 1);
        // SAFETY: the allocation was just made and nothing else points into it, so its
        // slots may be written through the Arc's own pointer (`Arc::get_mut` would say as
        // much, with a locked instruction on every object read: a few per cent of the
        // parse). `as_ptr` keeps the pointer's right to write (see its source).
        let uninit = unsafe {
            std::slice::from_raw_parts_mut(
                Arc::as_ptr(&slots) as *mut MaybeUninit<(Key, Json<'a>)>,
                n + 1,
            )
        };
        let mut written = 0;
        for (slot, member) in uninit[..n].iter_mut().zip(members) {
            slot.write(member);
            written += 1;
        }
        // A short iterator leaves slots unwritten: stop (leaking what was written) before
        // anything reads them.
        assert_eq!(
            written, n,
            "an iterator yielded fewer members than its length"
        );
        uninit[n].write((Key::empty(), text));
        // SAFETY: all `n + 1` slots were written above.
        let slots = unsafe { slots.assume_init() };
        debug_assert!(slots[..n].windows(2).all(|w| w[0].0 < w[1].0));
        Self { slots }
    }

    /// Builds an object from members in any order; a repeated key keeps its last value.
    fn from_unsorted(members: Vec<(Key, Json<'a>)>) -> Self {
        let ordered = |w: &[(Key, Json)]| w[0].0 < w[1].0;
        if members.windows(2).all(ordered) {
            return Self::from_sorted(members);
        }
        // Sorting moves 40-byte members and compares keys through `memcmp`; sorting small
        // (prefix, index) pairs instead settles most comparisons on one integer.
        let mut order: Vec<(u64, u32)> = members
            .iter()
            .enumerate()
            .map(|(i, (k, _))| (prefix8(k.as_bytes()), i as u32))
            .collect();
        order.sort_unstable_by(|a, b| {
            let by_key =
                a.0.cmp(&b.0)
                    .then_with(|| members[a.1 as usize].0.cmp(&members[b.1 as usize].0));
            // Among repeated keys the one read last must end up last, to win below.
            by_key.then(a.1.cmp(&b.1))
        });
        let mut slots: Vec<Option<(Key, Json<'a>)>> = members.into_iter().map(Some).collect();
        let mut sorted = Self::members_vec(slots.len());
        for (_, i) in order {
            let member = slots[i as usize].take().expect("each index once");
            match sorted.last_mut() {
                Some(last) if last.0 == member.0 => *last = member,
                _ => sorted.push(member),
            }
        }
        Self::from_sorted(sorted)
    }
}

/// A value moved out of a tree that is taken apart, `null` left in its place.
fn take<'a>(value: &mut Json<'a>) -> Json<'a> {
    std::mem::replace(value, Json::Null)
}

/// A key moved out likewise, the empty key left in its place.
fn take_key(key: &mut Key) -> Key {
    std::mem::replace(key, Key::empty())
}

/// The first eight bytes, zero-padded, as a big-endian integer: its order is the order
/// of the byte strings wherever they differ within eight bytes.
fn prefix8(bytes: &[u8]) -> u64 {
    match bytes.get(..8) {
        Some(head) => u64::from_be_bytes(head.try_into().expect("8 bytes")),
        None => bytes
            .iter()
            .enumerate()
            .fold(0, |acc, (i, &b)| acc | (b as u64) << (56 - 8 * i)),
    }
}

/// Byte equality that settles short strings (keys, codes, timestamps) with a few
/// overlapping integer loads instead of a call to `memcmp`; the walk compares many.
#[inline]
pub fn bytes_eq(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let load16 =
        |s: &[u8], at: usize| u128::from_ne_bytes(s[at..at + 16].try_into().expect("16 bytes"));
    let load8 =
        |s: &[u8], at: usize| u64::from_ne_bytes(s[at..at + 8].try_into().expect("8 bytes"));
    let load4 =
        |s: &[u8], at: usize| u32::from_ne_bytes(s[at..at + 4].try_into().expect("4 bytes"));
    match n {
        0 => true,
        1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => load4(a, 0) == load4(b, 0) && load4(a, n - 4) == load4(b, n - 4),
        8..=16 => load8(a, 0) == load8(b, 0) && load8(a, n - 8) == load8(b, n - 8),
        17..=32 => load16(a, 0) == load16(b, 0) && load16(a, n - 16) == load16(b, n - 16),
        _ => a == b,
    }
}

impl<'a, K: Into<Key>> FromIterator<(K, Json<'a>)> for Object<'a> {
    fn from_iter<I: IntoIterator<Item = (K, Json<'a>)>>(iter: I) -> Self {
        Self::from_unsorted(iter.into_iter().map(|(k, v)| (k.into(), v)).collect())
    }
}

impl<'a> IntoIterator for Object<'a> {
    type Item = (Key, Json<'a>);
    type IntoIter = std::vec::IntoIter<Self::Item>;

    fn into_iter(self) -> Self::IntoIter {
        self.into_members().into_iter()
    }
}

impl PartialEq for Object<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.entries() == other.entries()
    }
}

impl fmt::Debug for Object<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Object")
            .field("members", &self.entries())
            .finish()
    }
}

impl From<serde_json::Value> for Json<'static> {
    fn from(value: serde_json::Value) -> Self {
        use serde_json::Value;
        match value {
            Value::Null => Json::Null,
            Value::Bool(b) => Json::Bool(b),
            Value::Number(n) => Json::Number(if let Some(u) = n.as_u64() {
                Num::U(u)
            } else if let Some(i) = n.as_i64() {
                Num::I(i)
            } else {
                Num::F(n.as_f64().unwrap_or(f64::NAN))
            }),
            Value::String(s) => Json::String(Str::from(s)),
            Value::Array(items) => Json::Array(items.into_iter().map(Json::from).collect()),
            Value::Object(map) => {
                Json::Object(map.into_iter().map(|(k, v)| (k, Json::from(v))).collect())
            }
        }
    }
}

impl fmt::Display for Json<'_> {
    /// Compact JSON text.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = serde_json::to_string(self).map_err(|_| fmt::Error)?;
        f.write_str(&text)
    }
}

impl Serialize for Json<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Number(Num::U(n)) => s.serialize_u64(*n),
            Json::Number(Num::I(n)) => s.serialize_i64(*n),
            Json::Number(Num::F(x)) => s.serialize_f64(*x),
            Json::String(text) => s.serialize_str(text),
            Json::Array(items) => {
                let mut seq = s.serialize_seq(Some(items.len()))?;
                for item in items.iter() {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Json::Object(object) => object.serialize(s),
        }
    }
}

impl Serialize for Object<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.len()))?;
        for (k, v) in self.iter() {
            map.serialize_entry(k, v)?;
        }
        map.end()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Json<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(JsonVisitor)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Object<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Json::deserialize(d)? {
            Json::Object(o) => Ok(o),
            other => Err(de::Error::custom(format_args!(
                "expected an object, found {}",
                other.kind()
            ))),
        }
    }
}

/// Reads a value that outlives its input, for small values kept long (choices, drafts):
/// through `serde_json::Value`, a detour too slow for records.
pub fn owned_json<'de, D: Deserializer<'de>>(d: D) -> Result<Json<'static>, D::Error> {
    serde_json::Value::deserialize(d).map(Json::from)
}

/// [`owned_json`] for an object.
pub fn owned_object<'de, D: Deserializer<'de>>(d: D) -> Result<Object<'static>, D::Error> {
    match owned_json(d)? {
        Json::Object(o) => Ok(o),
        other => Err(de::Error::custom(format_args!(
            "expected an object, found {}",
            other.kind()
        ))),
    }
}

struct JsonVisitor;

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(if n >= 0 {
            Num::U(n as u64)
        } else {
            Num::I(n)
        }))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(Num::U(n)))
    }

    fn visit_f64<E>(self, x: f64) -> Result<Json<'de>, E> {
        Ok(Json::Number(Num::F(x)))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Str::from(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Str::from(s).into_owned()))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Str::from(s)))
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_none<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Json<'de>, D::Error> {
        Json::deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        // Parsed trees are held and read many times: exact sizes keep them small and dense.
        Ok(Json::Array(items.into()))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut members = Object::members_vec(map.size_hint().unwrap_or(0).min(4096));
        while let Some(ReadKey(k)) = map.next_key()? {
            members.push((k, map.next_value()?));
        }
        Ok(Json::Object(Object::from_unsorted(members)))
    }
}

/// An object key read straight into its inline form.
struct ReadKey(Key);

impl<'de> Deserialize<'de> for ReadKey {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl Visitor<'_> for KeyVisitor {
            type Value = ReadKey;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_str<E>(self, s: &str) -> Result<ReadKey, E> {
                Ok(ReadKey(Key::from(s)))
            }
            fn visit_string<E>(self, s: String) -> Result<ReadKey, E> {
                Ok(ReadKey(Key::from(s)))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::json;

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let text = r#"{"a": "plain", "b": "esc\"aped"}"#;
        let v = Json::parse(text).unwrap();
        assert!(matches!(v.get("a"), Some(Json::String(s)) if s.is_inline()));
        assert!(matches!(v.get("b"), Some(Json::String(s)) if s.as_str() == "esc\"aped"));
        let long = format!("{{\"a\": \"{}\"}}", "x".repeat(100));
        let v = Json::parse(&long).unwrap();
        let Some(Json::String(s)) = v.get("a") else {
            panic!("a string")
        };
        assert_eq!(
            s.as_str().as_ptr(),
            long[7..].as_ptr(),
            "borrowed from the text"
        );
    }

    #[test]
    fn invalid_utf8_is_an_error_with_its_place() {
        let err = Json::parse_slice(b"{\n\"a\": \"\xff\"}").unwrap_err();
        assert_eq!(err.line(), 2, "{err}");
    }

    #[test]
    fn members_are_sorted_and_the_last_duplicate_wins() {
        let v = Json::parse(r#"{"b": 1, "a": 2, "b": 3}"#).unwrap();
        let keys: Vec<&str> = v.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["a", "b"]);
        assert_eq!(v.get("b"), Some(&Json::Number(Num::U(3))));
    }

    #[test]
    fn round_trips_through_text() {
        let text = r#"{"a":[1,-2,2.5,true,null,"x\u001b"],"b":{"c":{}},"d":18446744073709551615}"#;
        let v = Json::parse(text).unwrap();
        assert_eq!(serde_json::to_string(&v).unwrap(), text);
        assert_eq!(
            Json::from(serde_json::from_str::<serde_json::Value>(text).unwrap()),
            v
        );
    }

    #[test]
    fn numbers_compare_by_value() {
        assert!(Num::U(1).same_value(Num::F(1.0)));
        assert!(Num::I(-3).same_value(Num::F(-3.0)));
        assert!(!Num::U(1).same_value(Num::F(1.5)));
        assert!(!Num::I(-1).same_value(Num::U(u64::MAX)));
        assert!(Num::F(2.0).is_integral() && !Num::F(2.5).is_integral());
    }

    #[test]
    fn bytes_eq_is_equality_at_every_length() {
        let text = "abcdefghijklmnopqrstuvwxyz0123456789";
        for n in 0..text.len() {
            let a = &text.as_bytes()[..n];
            assert!(bytes_eq(a, a));
            for i in 0..n {
                let mut b = a.to_vec();
                b[i] ^= 1;
                assert!(!bytes_eq(a, &b), "length {n}, byte {i}");
            }
            assert!(!bytes_eq(a, &text.as_bytes()[..n + 1]));
        }
    }

    #[test]
    fn unsorted_members_sort_in_byte_order() {
        let keys = [
            "abcdefghi",
            "b",
            "",
            "abcdefgh",
            "a",
            "é",
            "abcdefgh\u{0}",
            "ab",
            "a\u{0}",
        ];
        let object: Object = keys.iter().map(|k| (*k, Json::Null)).collect();
        let mut expected = keys.to_vec();
        expected.sort();
        assert_eq!(object.keys().collect::<Vec<_>>(), expected);
    }

    #[test]
    fn insert_keeps_order_and_replaces() {
        let mut o = Object::new();
        o.insert("b", Json::Null);
        o.insert("a", Json::Bool(true));
        o.insert("c", Json::Null);
        o.insert("a", Json::Bool(false));
        assert_eq!(o.keys().collect::<Vec<_>>(), ["a", "b", "c"]);
        assert_eq!(o.get("a"), Some(&Json::Bool(false)));
        assert_eq!(o.remove("b"), Some(Json::Null));
        assert_eq!(o.len(), 2);
    }

    #[test]
    fn an_object_read_keeps_its_text_until_it_changes() {
        let text = r#"[{"b": {"c": [1, {"d": 2}]}, "a": "x"}, {}]"#;
        let v = Json::parse(text).unwrap();
        let outer = v.as_array().unwrap()[0].as_object().unwrap();
        assert_eq!(
            outer.text(),
            Some(r#"{"b": {"c": [1, {"d": 2}]}, "a": "x"}"#)
        );
        assert_eq!(
            outer.get("b").unwrap().as_object().unwrap().text(),
            Some(r#"{"c": [1, {"d": 2}]}"#)
        );
        let inner = &outer
            .get("b")
            .unwrap()
            .get("c")
            .unwrap()
            .as_array()
            .unwrap()[1];
        assert_eq!(inner.as_object().unwrap().text(), Some(r#"{"d": 2}"#));
        assert_eq!(
            v.as_array().unwrap()[1].as_object().unwrap().text(),
            Some("{}")
        );
        // A copy is still that text; a change, or a copy that outlives it, is not.
        assert_eq!(outer.clone().text(), outer.text());
        assert_eq!(outer.clone().into_owned().text(), None);
        let changes: [fn(&mut Object); 4] = [
            |o| {
                o.get_mut("a");
            },
            |o| o.insert("a", Json::Null),
            |o| o.insert("z", Json::Null),
            |o| drop(o.remove("a")),
        ];
        let as_read = Json::parse(text).unwrap();
        for change in changes {
            let mut o = outer.clone();
            change(&mut o);
            assert_eq!(o.text(), None);
            // The copy shared the members until the change: the original is as it was read.
            assert_eq!(
                outer.text(),
                as_read.as_array().unwrap()[0].as_object().unwrap().text()
            );
            assert_eq!(outer, as_read.as_array().unwrap()[0].as_object().unwrap());
        }
        // Built, not read: no text.
        assert_eq!(
            Json::from(serde_json::json!({"a": 1}))
                .as_object()
                .unwrap()
                .text(),
            None
        );
    }

    /// Copies share members; whichever copy changes, or is taken apart, the other keeps
    /// what it had.
    #[test]
    fn copies_share_members_until_one_changes() {
        let read = Json::parse(r#"{"a": [1, {"b": 2}], "c": "x"}"#).unwrap();
        let original = read.as_object().unwrap().clone();
        let mut copy = original.clone();
        copy.insert("c", Json::Bool(true));
        let Some(Json::Array(list)) = copy.get_mut("a") else {
            unreachable!("a list")
        };
        std::sync::Arc::make_mut(list)[0] = Json::Null;
        assert_eq!(original, *read.as_object().unwrap());
        assert_eq!(original.text(), read.as_object().unwrap().text());
        assert_eq!(copy.get("a"), Some(&json!([null, {"b": 2}])));
        assert_eq!(copy.get("c"), Some(&Json::Bool(true)));
        // Taken apart while shared, then alone: the same members either way.
        let shared: Vec<_> = original.clone().into_iter().collect();
        let alone: Vec<_> = original.into_iter().collect();
        assert_eq!(shared, alone);
        assert_eq!(shared.len(), 2);
        assert_eq!(alone[1], (Key::new("c"), json!("x")));
        // Made owned while shared (copied), then alone (moved): the same value either way.
        let text = r#"[{"a": "a string longer than twenty-four bytes"}, [1, "x"]]"#;
        let list = Json::parse(text).unwrap();
        let copied = list.clone().into_owned();
        let moved = list.into_owned();
        assert_eq!(copied, moved);
        assert_eq!(moved, Json::parse(text).unwrap());
    }

    /// An iterator shorter than it said stops the build before a slot is read unwritten.
    #[test]
    #[should_panic(expected = "fewer members than its length")]
    fn a_short_member_iterator_is_refused() {
        struct Lying(std::vec::IntoIter<(Key, Json<'static>)>);
        impl Iterator for Lying {
            type Item = (Key, Json<'static>);
            fn next(&mut self) -> Option<Self::Item> {
                self.0.next()
            }
        }
        impl ExactSizeIterator for Lying {
            fn len(&self) -> usize {
                self.0.len() + 1
            }
        }
        let members = vec![(Key::new("a"), Json::Null)];
        Object::with_text_slot(Lying(members.into_iter()), Json::Null);
    }

    #[test]
    fn objects_equal_whatever_text_they_were_read_as() {
        let (a, b) = (
            Json::parse(r#"{"a": 1, "b": [2]}"#).unwrap(),
            Json::parse(r#"{"b":[2],"a":1}"#).unwrap(),
        );
        assert_eq!(a, b);
        assert_eq!(format!("{a:?}"), format!("{b:?}"));
        assert_eq!(a.as_object().unwrap().len(), 2);
        assert_eq!(
            a.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["a", "b"]
        );
        let pairs: Vec<(Key, Json)> = a.as_object().unwrap().clone().into_iter().collect();
        assert_eq!(pairs.len(), 2, "the text slot is not a member");
    }

    #[test]
    fn deep_nesting_is_refused_not_a_stack_overflow() {
        let deep = "[".repeat(100_000);
        assert!(Json::parse(&deep).is_err());
    }
}
