//! The tree's strings. A value is 24 bytes: strings up to 24 bytes (codes, ids, timestamps)
//! inline, so the walk reads them without a trip to the input text, longer ones borrowed
//! from the input when they hold no escapes, else owned. A key is 16 bytes (a `byteyarn`
//! yarn, inline up to 15: nearly every key). So a member is 40 bytes, where it was 56, and
//! a parse writes that much less fresh memory.

use std::cmp::Ordering;
use std::fmt;

use byteyarn::YarnBox;
use compact_str::CompactString;

/// A string value, borrowing from the input `'a` where it can. Two variants, not three:
/// the borrowed one fits beside `CompactString`'s spare tag values, which keeps `Str`, and
/// [`super::json::Json`] around it, at 24 bytes.
#[derive(Clone)]
pub enum Str<'a> {
    /// Inline up to 24 bytes, else on the heap.
    Owned(CompactString),
    /// Longer than 24 bytes and read without escapes.
    Borrowed(&'a str),
}

/// The longest string kept inline.
const INLINE_BYTES: usize = 24;

impl<'a> Str<'a> {
    /// Inline when short, else borrowed. Always inlined: a call returned the value through
    /// memory, and the reader's move of it read wider words than it had just been written
    /// with (a stall); inlined, it is made in registers where it goes.
    #[inline(always)]
    pub fn borrowed(s: &'a str) -> Self {
        if s.len() <= INLINE_BYTES {
            Str::Owned(CompactString::new(s))
        } else {
            Str::Borrowed(s)
        }
    }

    #[inline]
    pub fn as_str(&self) -> &str {
        match self {
            Str::Owned(s) => s,
            Str::Borrowed(s) => s,
        }
    }

    /// A copy that borrows nothing.
    pub fn into_owned(self) -> Str<'static> {
        match self {
            Str::Owned(s) => Str::Owned(s),
            Str::Borrowed(s) => Str::Owned(CompactString::new(s)),
        }
    }

    /// Whether the text lives inside this value, for tests.
    pub fn is_inline(&self) -> bool {
        matches!(self, Str::Owned(s) if !s.is_heap_allocated())
    }
}

impl std::ops::Deref for Str<'_> {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl<'a> From<&'a str> for Str<'a> {
    #[inline(always)]
    fn from(s: &'a str) -> Self {
        Str::borrowed(s)
    }
}

impl From<String> for Str<'_> {
    fn from(s: String) -> Self {
        Str::Owned(CompactString::from(s))
    }
}

impl PartialEq for Str<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl fmt::Debug for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_str().fmt(f)
    }
}

/// An object key: owned, and inline up to 15 bytes (nearly every key), so the walk compares
/// keys without a trip to the input text (which costs a cache miss a key).
#[derive(Clone)]
pub struct Key(YarnBox<'static, str>);

impl Key {
    pub fn new(s: &str) -> Self {
        Key(YarnBox::copy(s))
    }

    pub const fn empty() -> Self {
        Key(YarnBox::from_static(""))
    }

    /// Through `Deref`, which is generic and so inlined here; `YarnBox::as_str` is not.
    #[inline]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Key {
    type Target = str;

    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for Key {
    fn from(s: &str) -> Self {
        Key::new(s)
    }
}

impl From<String> for Key {
    fn from(s: String) -> Self {
        Key(YarnBox::<str>::from_string(s))
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Key {}

impl PartialEq<str> for Key {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Key {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Self) -> Ordering {
        self.as_str().cmp(other.as_str())
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.as_str().fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_member_is_forty_bytes() {
        assert_eq!(size_of::<Str>(), 24);
        assert_eq!(size_of::<Key>(), 16);
        assert_eq!(size_of::<super::super::Json>(), 24);
        assert_eq!(size_of::<(Key, super::super::Json)>(), 40);
    }

    #[test]
    fn short_strings_are_inline_and_long_ones_borrowed() {
        let text = "2026-08-13T05:57:44.359Z and more";
        for n in [0, 1, 15, 24] {
            let s = Str::borrowed(&text[..n]);
            assert!(s.is_inline(), "{n} bytes");
            assert_eq!(s.as_str(), &text[..n]);
        }
        let long = Str::borrowed(&text[..25]);
        assert!(!long.is_inline());
        assert_eq!(
            long.as_str().as_ptr(),
            text.as_ptr(),
            "borrowed, not copied"
        );
        let owned = long.into_owned();
        assert_ne!(owned.as_str().as_ptr(), text.as_ptr());
        assert_eq!(owned.as_str(), &text[..25]);
        assert_eq!(Str::from(text.to_string()).as_str(), text);
    }

    #[test]
    fn keys_order_and_compare_as_their_text() {
        let mut keys: Vec<Key> = ["b", "a\u{0}", "é", "0123456789abcdefg", "a", ""]
            .into_iter()
            .map(Key::from)
            .collect();
        keys.sort();
        let text: Vec<&str> = keys.iter().map(Key::as_str).collect();
        assert_eq!(text, ["", "0123456789abcdefg", "a", "a\u{0}", "b", "é"]);
        assert_eq!(
            Key::from(String::from("long key of many bytes")),
            "long key of many bytes"
        );
        assert_eq!(Key::empty(), "");
    }
}
