//! A JSON reader that builds the engine's tree in one pass over the bytes: no serde
//! visitor between the bytes and the tree, strings found sixteen bytes a step (and checked
//! as UTF-8 only when they hold a byte past ASCII, the one place JSON allows one), members
//! collected on one scratch stack and moved once into an exactly sized vector, and an
//! object's sort order reused when the next object lists the same keys in the same order
//! (records of one type do): its keys are guessed from the last object at its depth, and
//! a key spelled as guessed is neither scanned nor built.
//!
//! It reads well-formed JSON and gives up (`None`) on everything else — a fault, a lone
//! surrogate, a number out of range, nesting past serde_json's limit — so that the caller
//! reads the text again with serde_json, whose messages and positions are the ones users
//! see. It never accepts what serde_json refuses nor reads a value differently: the
//! property tests in `tests/read_properties.rs` hold it to both.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Arc;

use super::json::{Json, Key, Num, Object, Str};

/// Reads `text` as one JSON value, or `None` when serde_json has to say what is wrong.
pub fn read(text: &str) -> Option<Json<'_>> {
    read_bytes(text.as_bytes())
}

/// Reads bytes as one JSON value, or `None` when serde_json has to say what is wrong
/// (invalid UTF-8 included). Bytes past ASCII are valid JSON only inside strings, so only
/// a string holding one is checked: no pass over the whole input first.
pub fn read_bytes(bytes: &[u8]) -> Option<Json<'_>> {
    let mut reader = Reader::new(bytes);
    let value = reader.value()?;
    reader.skip_whitespace();
    (reader.at == bytes.len()).then_some(value)
}

/// Where a value is in the text, and for objects and arrays within the depth asked for,
/// where each of their members or items is.
#[derive(Debug, Clone, PartialEq)]
pub struct Outline<'a> {
    pub span: Range<usize>,
    pub inner: Inner<'a>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Inner<'a> {
    /// A scalar, or a container below the depth asked for.
    Whole,
    Items(Vec<Outline<'a>>),
    Members(Vec<(Cow<'a, str>, Outline<'a>)>),
}

impl<'a> Outline<'a> {
    /// The members of an outlined object (`None` for anything else).
    pub fn members(&self) -> Option<&[(Cow<'a, str>, Outline<'a>)]> {
        match &self.inner {
            Inner::Members(members) => Some(members),
            _ => None,
        }
    }

    /// The items of an outlined array (`None` for anything else).
    pub fn items(&self) -> Option<&[Outline<'a>]> {
        match &self.inner {
            Inner::Items(items) => Some(items),
            _ => None,
        }
    }
}

/// Outlines `text` as one JSON value down to `depth` levels of objects and arrays,
/// checking the whole text as [`read`] does but building no tree: an index of a large
/// file in one light pass. `None` when serde_json has to say what is wrong.
pub fn outline(text: &str, depth: usize) -> Option<Outline<'_>> {
    let mut reader = Reader::new(text.as_bytes());
    let value = reader.outline(depth)?;
    reader.skip_whitespace();
    (reader.at == text.len()).then_some(value)
}

/// Outlines a text that is one object like [`outline`] (its members to one level), except
/// that the items of its member `key`, which must be an array, are handed to `item` one at
/// a time, each outlined to `depth`, and not kept: an index of a large file whose items are
/// outlined and let go one by one. `None` when serde_json has to say what is wrong, or
/// when `item` says so.
pub fn outline_items<'a>(
    text: &'a str,
    key: &str,
    depth: usize,
    mut item: impl FnMut(Outline<'a>) -> Option<()>,
) -> Option<Outline<'a>> {
    let mut reader = Reader::new(text.as_bytes());
    reader.skip_whitespace();
    let start = reader.at;
    if reader.next_token()? != b'{' {
        return None;
    }
    let mut members = Vec::new();
    reader.each_member(|reader, name| {
        let place = if name == key {
            reader.skip_whitespace();
            let from = reader.at;
            if reader.next_token()? != b'[' {
                return None;
            }
            reader.each_item(|reader| item(reader.outline(depth)?))?;
            Outline {
                span: from..reader.at,
                inner: Inner::Whole,
            }
        } else {
            reader.outline(0)?
        };
        members.push((name, place));
        Some(())
    })?;
    reader.skip_whitespace();
    (reader.at == text.len()).then_some(Outline {
        span: start..reader.at,
        inner: Inner::Members(members),
    })
}

/// serde_json refuses nesting deeper than this; giving up here leaves the message to it.
const MAX_DEPTH: usize = 127;

/// Every byte it has read past is valid UTF-8: outside strings it takes ASCII only, and
/// it checks each run of a string's bytes holding one past ASCII (`Reader::text`).
struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
    depth: usize,
    /// Members of the objects being read, innermost last.
    members: Vec<(Key, Json<'a>)>,
    /// Items of the arrays being read, innermost last.
    items: Vec<Json<'a>>,
    orders: Orders,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Reader {
            bytes,
            at: 0,
            depth: 0,
            members: Vec::new(),
            items: Vec::new(),
            orders: Orders::default(),
        }
    }

    /// The text of bytes already read.
    ///
    /// # Safety
    /// `range` lies within what was read, or is a run of a string that `plain_run_end`
    /// found free of bytes past ASCII: valid UTF-8 either way (see `Reader`), with both
    /// ends at ASCII bytes or at the ends of the input, so at char boundaries.
    unsafe fn text(&self, range: Range<usize>) -> &'a str {
        // SAFETY: the caller's promise.
        unsafe { std::str::from_utf8_unchecked(self.bytes.get_unchecked(range)) }
    }

    /// The text of a string's run of plain bytes, checked when it holds any past ASCII.
    fn run_text(&self, range: Range<usize>, past_ascii: bool) -> Option<&'a str> {
        if past_ascii {
            return std::str::from_utf8(&self.bytes[range]).ok();
        }
        // SAFETY: a run of ASCII bytes.
        Some(unsafe { self.text(range) })
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.peek() {
            self.at += 1;
        }
    }

    /// The next byte after whitespace, consumed.
    fn next_token(&mut self) -> Option<u8> {
        self.skip_whitespace();
        let b = self.peek()?;
        self.at += 1;
        Some(b)
    }

    fn value(&mut self) -> Option<Json<'a>> {
        let mut read = None;
        self.value_into(&mut read)?;
        read
    }

    /// Reads a value and has `keep` make it where it goes (see [`Keep`]), in the branch
    /// that read it.
    #[inline(always)]
    fn value_into(&mut self, keep: impl Keep<'a>) -> Option<()> {
        match self.next_token()? {
            b'"' => match self.string()? {
                Cow::Borrowed(s) => keep.keep(self, || Json::String(Str::from(s))),
                Cow::Owned(s) => keep.keep(self, || Json::String(Str::from(s))),
            },
            b'{' => {
                let object = self.object()?;
                keep.keep(self, || Json::Object(object));
            }
            b'[' => {
                let items = self.array()?;
                keep.keep(self, || Json::Array(items));
            }
            b't' => {
                self.literal(b"rue")?;
                keep.keep(self, || Json::Bool(true));
            }
            b'f' => {
                self.literal(b"alse")?;
                keep.keep(self, || Json::Bool(false));
            }
            b'n' => {
                self.literal(b"ull")?;
                keep.keep(self, || Json::Null);
            }
            b'-' | b'0'..=b'9' => {
                self.at -= 1;
                let number = self.number()?;
                keep.keep(self, || Json::Number(number));
            }
            _ => return None,
        }
        Some(())
    }

    /// A value's place, and below `depth` levels only checked.
    fn outline(&mut self, depth: usize) -> Option<Outline<'a>> {
        self.skip_whitespace();
        let start = self.at;
        let inner = match (self.peek()?, depth) {
            (b'{', 1..) => {
                self.at += 1;
                let mut members = Vec::new();
                self.each_member(|reader, key| {
                    members.push((key, reader.outline(depth - 1)?));
                    Some(())
                })?;
                Inner::Members(members)
            }
            (b'[', 1..) => {
                self.at += 1;
                let mut items = Vec::new();
                self.each_item(|reader| {
                    items.push(reader.outline(depth - 1)?);
                    Some(())
                })?;
                Inner::Items(items)
            }
            _ => {
                self.skip_value()?;
                Inner::Whole
            }
        };
        Some(Outline {
            span: start..self.at,
            inner,
        })
    }

    /// Checks one value and moves past it, keeping nothing.
    fn skip_value(&mut self) -> Option<()> {
        match self.next_token()? {
            b'"' => self.string().map(drop),
            b'{' => self.each_member(|reader, _| reader.skip_value()),
            b'[' => self.each_item(Self::skip_value),
            b't' => self.literal(b"rue"),
            b'f' => self.literal(b"alse"),
            b'n' => self.literal(b"ull"),
            b'-' | b'0'..=b'9' => {
                self.at -= 1;
                self.number().map(drop)
            }
            _ => None,
        }
    }

    /// The rest of `true`, `false` or `null`, whose first letter was just read.
    fn literal(&mut self, rest: &[u8]) -> Option<()> {
        let end = self.at + rest.len();
        (self.bytes.get(self.at..end)? == rest).then(|| self.at = end)
    }

    /// The members of an object whose `{` was just read: `member` reads each value, given
    /// its key. Nesting deeper than serde_json allows gives up.
    fn each_member(
        &mut self,
        member: impl FnMut(&mut Self, Cow<'a, str>) -> Option<()>,
    ) -> Option<()> {
        self.each_member_keyed(|reader, _| reader.string(), member)
    }

    /// `each_member` with each key read by `key`, given the member's number, with the text
    /// just past the key's opening quote.
    fn each_member_keyed<K>(
        &mut self,
        mut key: impl FnMut(&mut Self, usize) -> Option<K>,
        mut member: impl FnMut(&mut Self, K) -> Option<()>,
    ) -> Option<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        let mut next = self.next_token()?;
        if next != b'}' {
            for n in 0.. {
                if next != b'"' {
                    return None;
                }
                let key = key(self, n)?;
                if self.next_token()? != b':' {
                    return None;
                }
                member(self, key)?;
                match self.next_token()? {
                    b',' => next = self.next_token()?,
                    b'}' => break,
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// The items of an array whose `[` was just read, each read by `item`.
    fn each_item(&mut self, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return None;
        }
        self.skip_whitespace();
        if self.peek() == Some(b']') {
            self.at += 1;
        } else {
            loop {
                item(self)?;
                match self.next_token()? {
                    b',' => {}
                    b']' => break,
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// An object whose `{` was just read. Its keys are first guessed from the last object
    /// read at the same depth (every record of a type, every item of a checklist lists the
    /// same keys): a key the text spells as guessed is taken without scanning or copying
    /// it, and an object guessed whole is placed by that object's order without comparing
    /// its keys again.
    fn object(&mut self) -> Option<Object<'a>> {
        let open = self.at - 1;
        let depth = self.depth + 1;
        let start = self.members.len();
        let mut guess = self.orders.guess(depth);
        self.each_member_keyed(
            |reader, n| {
                let rest = &reader.bytes[reader.at..];
                if let Some(key) = guess.and_then(|g| g.key(&reader.orders, n, rest)) {
                    reader.at += key.len() + 1;
                    return Some(key);
                }
                guess = None;
                Some(match reader.string()? {
                    Cow::Borrowed(s) => Key::new(s),
                    Cow::Owned(s) => Key::from(s),
                })
            },
            |reader, key| reader.value_into(Member(key)),
        )?;
        let whole = guess.filter(|g| g.is_whole(&self.orders, self.members.len() - start));
        // SAFETY: the object's bytes, all read.
        let text = unsafe { self.text(open..self.at) };
        Some(
            self.orders
                .sorted(&mut self.members, start, depth, whole, text),
        )
    }

    fn array(&mut self) -> Option<Arc<[Json<'a>]>> {
        let start = self.items.len();
        self.each_item(|reader| reader.value_into(Item))?;
        // A drain knows its length: the vector is allocated once, at its exact size.
        Some(self.items.drain(start..).collect())
    }

    /// The rest of a string whose opening quote was just read.
    #[inline]
    fn string(&mut self) -> Option<Cow<'a, str>> {
        let start = self.at;
        let (end, past_ascii) = plain_run_end(self.bytes, start)?;
        match self.bytes[end] {
            b'"' => {
                let text = self.run_text(start..end, past_ascii)?;
                self.at = end + 1;
                Some(Cow::Borrowed(text))
            }
            b'\\' => self
                .escaped_string(start, (end, past_ascii))
                .map(Cow::Owned),
            _ => None,
        }
    }

    /// A string holding escapes; `first_run` ends at its first backslash (and whether
    /// it holds a byte past ASCII).
    fn escaped_string(&mut self, start: usize, first_run: (usize, bool)) -> Option<String> {
        let (mut at, past_ascii) = first_run;
        let mut out = String::with_capacity(at - start + 16);
        out.push_str(self.run_text(start..at, past_ascii)?);
        loop {
            let escape = *self.bytes.get(at + 1)?;
            at += 2;
            let c = match escape {
                b'"' => '"',
                b'\\' => '\\',
                b'/' => '/',
                b'b' => '\u{8}',
                b'f' => '\u{c}',
                b'n' => '\n',
                b'r' => '\r',
                b't' => '\t',
                b'u' => {
                    let unit = self.hex4(at)?;
                    at += 4;
                    let code = match unit {
                        0xD800..=0xDBFF => {
                            if self.bytes.get(at..at + 2)? != b"\\u" {
                                return None;
                            }
                            let low = self.hex4(at + 2)?;
                            if !(0xDC00..=0xDFFF).contains(&low) {
                                return None;
                            }
                            at += 6;
                            0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                        }
                        0xDC00..=0xDFFF => return None,
                        _ => unit,
                    };
                    char::from_u32(code)?
                }
                _ => return None,
            };
            out.push(c);
            let (end, past_ascii) = plain_run_end(self.bytes, at)?;
            out.push_str(self.run_text(at..end, past_ascii)?);
            at = end;
            match self.bytes[end] {
                b'"' => {
                    self.at = end + 1;
                    return Some(out);
                }
                b'\\' => {}
                _ => return None,
            }
        }
    }

    fn hex4(&self, at: usize) -> Option<u32> {
        let digits = self.bytes.get(at..at + 4)?;
        digits.iter().try_fold(0, |acc, &d| {
            let nibble = (d as char).to_digit(16)?;
            Some(acc << 4 | nibble)
        })
    }

    /// A number as serde_json reads it: integers as `u64` (negative ones as `i64`), a
    /// negative zero or an integer past those ranges as `f64`, anything with a fraction
    /// or an exponent as the nearest `f64`; out of `f64`'s range it gives up.
    fn number(&mut self) -> Option<Num> {
        let start = self.at;
        let negative = self.peek() == Some(b'-');
        self.at += usize::from(negative);
        let whole_start = self.at;
        match self.peek()? {
            b'0' => self.at += 1,
            b'1'..=b'9' => self.skip_digits(),
            _ => return None,
        }
        let whole_end = self.at;
        let mut fraction = whole_end..whole_end;
        if self.peek() == Some(b'.') {
            self.at += 1;
            fraction = self.at..self.at;
            self.digits_after_mark()?;
            fraction.end = self.at;
        }
        let mut exponent = None;
        if let Some(b'e' | b'E') = self.peek() {
            self.at += 1;
            let negative_exponent = self.peek() == Some(b'-');
            if let Some(b'+' | b'-') = self.peek() {
                self.at += 1;
            }
            let digits = self.at;
            self.digits_after_mark()?;
            // An exponent too long for an i64 is left to the exact reading.
            match integer(&self.bytes[digits..self.at]).and_then(|n| i64::try_from(n).ok()) {
                Some(n) => exponent = Some(if negative_exponent { -n } else { n }),
                None => return self.float_from_text(start),
            }
        }
        let whole = &self.bytes[whole_start..whole_end];
        if fraction.is_empty() && exponent.is_none() {
            if let Some(n) = integer(whole) {
                if !negative {
                    return Some(Num::U(n));
                }
                // serde_json's rule: what does not negate to a negative `i64` (zero, or
                // past its range) is read as a float.
                let negated = (n as i64).wrapping_neg();
                if negated < 0 {
                    return Some(Num::I(negated));
                }
            }
            return self.float_from_text(start);
        }
        // Clinger's fast path: a mantissa of at most 15 digits and a power of ten up to
        // 22 are both exact in an f64, so one multiplication or division rounds once,
        // to the nearest f64 — what reading the text exactly gives.
        let fraction = &self.bytes[fraction];
        let power = exponent.unwrap_or(0).saturating_sub(fraction.len() as i64);
        if whole.len() + fraction.len() <= 15 && (-22..=22).contains(&power) {
            let mantissa = integer(whole)? * 10u64.pow(fraction.len() as u32) + integer(fraction)?;
            let scale = POWERS_OF_TEN[power.unsigned_abs() as usize];
            let x = if power < 0 {
                mantissa as f64 / scale
            } else {
                mantissa as f64 * scale
            };
            return Some(Num::F(if negative { -x } else { x }));
        }
        self.float_from_text(start)
    }

    /// The number from `start` to here, read by the standard library (exact, slower).
    fn float_from_text(&self, start: usize) -> Option<Num> {
        // SAFETY: the number's bytes, all read.
        let x: f64 = unsafe { self.text(start..self.at) }.parse().ok()?;
        x.is_finite().then_some(Num::F(x))
    }

    fn skip_digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.at += 1;
        }
    }

    /// At least one digit, as JSON wants after `.` and `e`.
    fn digits_after_mark(&mut self) -> Option<()> {
        let before = self.at;
        self.skip_digits();
        (self.at > before).then_some(())
    }
}

/// The powers of ten an f64 holds exactly.
const POWERS_OF_TEN: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The decimal digits as a `u64`, or `None` when they overflow it.
fn integer(digits: &[u8]) -> Option<u64> {
    if digits.len() < 20 {
        return Some(digits.iter().fold(0, |n, d| n * 10 + u64::from(d - b'0')));
    }
    digits.iter().try_fold(0u64, |n, d| {
        n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
    })
}

/// Where the plain run of string bytes starting at `from` ends: the index of the first
/// quote, backslash or control character, with whether the run holds a byte past ASCII;
/// or `None` when the text ends first.
fn plain_run_end(bytes: &[u8], from: usize) -> Option<(usize, bool)> {
    let mut at = from;
    let mut past_ascii = false;
    #[cfg(target_arch = "x86_64")]
    while let Some(chunk) = bytes.get(at..at + 16) {
        let (special, high) = special_bytes(chunk.try_into().expect("16 bytes"));
        if special != 0 {
            let end = special.trailing_zeros();
            let before_end = (1u32 << end) - 1;
            return Some((at + end as usize, past_ascii || high & before_end != 0));
        }
        past_ascii |= high != 0;
        at += 16;
    }
    let end = bytes[at..]
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|i| at + i)?;
    Some((end, past_ascii || !bytes[at..end].is_ascii()))
}

/// A bit for each of the sixteen bytes that is a quote, a backslash or a control
/// character, and one for each byte past ASCII, lowest bit first.
#[cfg(target_arch = "x86_64")]
#[inline]
fn special_bytes(chunk: &[u8; 16]) -> (u32, u32) {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8,
    };
    // SAFETY: SSE2 is part of every x86_64 processor; the unaligned load reads exactly the
    // sixteen bytes of `chunk`.
    unsafe {
        let chunk = _mm_loadu_si128(chunk.as_ptr().cast::<__m128i>());
        let quote = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'"' as i8));
        let backslash = _mm_cmpeq_epi8(chunk, _mm_set1_epi8(b'\\' as i8));
        // Bytes at most 0x1f, unsigned: their minimum with 0x1f is themselves.
        let control = _mm_cmpeq_epi8(_mm_min_epu8(chunk, _mm_set1_epi8(0x1f)), chunk);
        let special = _mm_or_si128(_mm_or_si128(quote, backslash), control);
        (
            _mm_movemask_epi8(special) as u32,
            _mm_movemask_epi8(chunk) as u32,
        )
    }
}

/// Sorts objects' members, remembering the order it found for the last few key
/// sequences: when an object lists the same keys as one before, in the same order (every
/// record of a type, every item of a checklist), its members are placed by that order
/// after one comparison a key instead of being sorted again. The order of the last object
/// at each depth is also the next object's guess at its keys (`Reader::object`).
#[derive(Default)]
struct Orders {
    known: Vec<KnownOrder>,
    /// The slot the next new order replaces once `known` is full.
    next_slot: usize,
    /// For each depth, the order of the last object placed by one there.
    last: [Option<Guess>; GUESSED_DEPTHS],
    /// How many orders were learned: each order's number, so that a guess finds out
    /// whether its slot was taken over since.
    learned: u64,
}

struct KnownOrder {
    /// The keys as read.
    keys: Vec<KnownKey>,
    /// Positions in read order of the members to keep, in key order (a repeated key's
    /// last member only).
    sorted: Vec<u32>,
    /// Its number among the orders learned.
    number: u64,
    /// Whether every key is written in the text as it is, without escapes, so that the
    /// text can be compared with it byte for byte.
    plain: bool,
}

/// A key of a known order, with its spelling in the text when short: the key and its
/// closing quote as one little-endian word, and the mask of the word's bytes they fill.
struct KnownKey {
    key: Key,
    quoted: u128,
    /// Zero for a key longer than 15 bytes, compared byte by byte.
    mask: u128,
}

impl KnownKey {
    fn new(key: &Key) -> Self {
        let bytes = key.as_bytes();
        let (quoted, mask) = match bytes.len() {
            len @ 0..=15 => {
                let mut word = [0u8; 16];
                word[..len].copy_from_slice(bytes);
                word[len] = b'"';
                let mask = u128::MAX >> (8 * (15 - len));
                (u128::from_le_bytes(word), mask)
            }
            _ => (0, 0),
        };
        KnownKey {
            key: key.clone(),
            quoted,
            mask,
        }
    }

    /// Whether `rest` starts with the key and its closing quote.
    #[inline]
    fn spells(&self, rest: &[u8]) -> bool {
        match rest.first_chunk::<16>() {
            Some(word) if self.mask != 0 => u128::from_le_bytes(*word) & self.mask == self.quoted,
            _ => {
                let len = self.key.len();
                rest.get(len) == Some(&b'"')
                    && super::json::bytes_eq(&rest[..len], self.key.as_bytes())
            }
        }
    }
}

/// How many key orders are remembered; records have a handful of object shapes.
const KNOWN_ORDERS: usize = 8;
/// Objects nested deeper than this are not guessed.
const GUESSED_DEPTHS: usize = 16;

/// A known order taken as the guess at an object's keys.
#[derive(Clone, Copy)]
struct Guess {
    slot: usize,
    number: u64,
}

impl Guess {
    /// The order guessed, unless its slot was taken over by another since.
    fn order(self, orders: &Orders) -> Option<&KnownOrder> {
        orders
            .known
            .get(self.slot)
            .filter(|o| o.number == self.number)
    }

    /// The guessed `n`th key, if the text at `rest` (past its opening quote) spells it and
    /// closes it.
    #[inline]
    fn key(self, orders: &Orders, n: usize, rest: &[u8]) -> Option<Key> {
        let known = self.order(orders)?.keys.get(n)?;
        known.spells(rest).then(|| known.key.clone())
    }

    /// Whether an object of `n` keys, every one as guessed, is the whole order.
    fn is_whole(self, orders: &Orders, n: usize) -> bool {
        self.order(orders).is_some_and(|o| o.keys.len() == n)
    }
}

impl Orders {
    /// The guess at the keys of an object at `depth`: the order of the last one there.
    fn guess(&self, depth: usize) -> Option<Guess> {
        let guess = (*self.last.get(depth)?)?;
        guess.order(self)?.plain.then_some(guess)
    }

    /// The object read as `text`: its members from `start` on, taken off the stack and
    /// sorted by key, the last of a repeated key kept. `whole`: the order its keys were
    /// all read by. Each way moves the members straight into the object's allocation.
    fn sorted<'a>(
        &mut self,
        stack: &mut Vec<(Key, Json<'a>)>,
        start: usize,
        depth: usize,
        whole: Option<Guess>,
        text: &'a str,
    ) -> Object<'a> {
        let members = &stack[start..];
        let slot = match whole {
            Some(guess) => guess.slot,
            None => {
                if members.windows(2).all(|w| w[0].0 < w[1].0) {
                    return Object::read_as(stack.drain(start..), text);
                }
                let found = self.known.iter().position(|order| {
                    order.keys.len() == members.len()
                        && order.keys.iter().zip(members.iter()).all(|(k, (m, _))| {
                            super::json::bytes_eq(k.key.as_bytes(), m.as_bytes())
                        })
                });
                match found {
                    Some(slot) => slot,
                    None => self.learn(members),
                }
            }
        };
        let order = &self.known[slot];
        if let Some(last) = self.last.get_mut(depth) {
            *last = Some(Guess {
                slot,
                number: order.number,
            });
        }
        if order.sorted.len() < members.len() {
            // A repeated key: the members not kept are dropped with the stack's tail.
            let kept = order
                .sorted
                .iter()
                .map(|&i| take(&mut stack[start + i as usize]));
            let object = Object::read_as(kept, text);
            stack.truncate(start);
            return object;
        }
        // SAFETY: without repeated keys `order.sorted` holds each position of the tail once
        // (it is a sorted permutation of them), so each member is moved out exactly once.
        // The stack forgets its tail before the moves, so nothing drops a member twice, even
        // on a panic; the tail's memory stays as it is (within the capacity, and nothing
        // touches the stack) until the last read. Moving members this way spares writing a
        // placeholder over each and dropping that.
        unsafe {
            let tail = stack.as_ptr().add(start);
            stack.set_len(start);
            let moved = order
                .sorted
                .iter()
                .map(|&i| std::ptr::read(tail.add(i as usize)));
            Object::read_as(moved, text)
        }
    }

    /// Remembers the order of `members`, in the slot it returns.
    fn learn(&mut self, members: &[(Key, Json)]) -> usize {
        let mut positions: Vec<u32> = (0..members.len() as u32).collect();
        // Stable: among repeated keys the one read last ends up last, and is kept below.
        positions.sort_by(|&a, &b| members[a as usize].0.cmp(&members[b as usize].0));
        let mut sorted: Vec<u32> = Vec::with_capacity(positions.len());
        for i in positions {
            match sorted.last_mut() {
                Some(last) if members[*last as usize].0 == members[i as usize].0 => *last = i,
                _ => sorted.push(i),
            }
        }
        // Plain: no byte a string's text stops at (quote, backslash, control character).
        let is_plain = |k: &Key| plain_run_end(k.as_bytes(), 0).is_none();
        self.learned += 1;
        let order = KnownOrder {
            keys: members.iter().map(|(k, _)| KnownKey::new(k)).collect(),
            sorted,
            number: self.learned,
            plain: members.iter().all(|(k, _)| is_plain(k)),
        };
        if self.known.len() < KNOWN_ORDERS {
            self.known.push(order);
            self.known.len() - 1
        } else {
            let slot = self.next_slot;
            self.known[slot] = order;
            self.next_slot = (slot + 1) % KNOWN_ORDERS;
            slot
        }
    }
}

/// Where a value read goes, and `make`, which makes it there. A value made first and then
/// pushed waited in a temporary across the push's check for room (a call, which may
/// unwind); the move out of it read wider words than the value had just been written
/// with, and stalled on them (`perf annotate`: a third of the reader's `object`; inlined
/// into the reader's match, every kind of value went through one temporary). Here the
/// room is made first and the value made straight into it, from registers, in a function
/// of its own for each kind of value.
trait Keep<'a> {
    fn keep(self, reader: &mut Reader<'a>, make: impl FnOnce() -> Json<'a>);
}

/// An object's member, onto the member stack.
struct Member(Key);

/// A list's item, onto the item stack.
struct Item;

impl<'a> Keep<'a> for Member {
    #[inline(never)]
    fn keep(self, reader: &mut Reader<'a>, make: impl FnOnce() -> Json<'a>) {
        push_made(&mut reader.members, || (self.0, make()));
    }
}

impl<'a> Keep<'a> for Item {
    #[inline(never)]
    fn keep(self, reader: &mut Reader<'a>, make: impl FnOnce() -> Json<'a>) {
        push_made(&mut reader.items, make);
    }
}

/// The top-level value.
impl<'a> Keep<'a> for &mut Option<Json<'a>> {
    fn keep(self, _: &mut Reader<'a>, make: impl FnOnce() -> Json<'a>) {
        *self = Some(make());
    }
}

/// Pushes the value `make` makes onto a scratch stack, making room for it first: nothing
/// between making the value and writing it can call out or unwind, so the value is made
/// in its slot instead of in a temporary moved there.
#[inline(always)]
fn push_made<T>(stack: &mut Vec<T>, make: impl FnOnce() -> T) {
    stack.reserve(1);
    let len = stack.len();
    // SAFETY: `reserve(1)` made room past the initialized part; the length grows only
    // once the slot is written.
    unsafe {
        stack.as_mut_ptr().add(len).write(make());
        stack.set_len(len + 1);
    }
}

/// Moves a member out of the scratch stack, leaving an empty one that is truncated away.
fn take<'a>(member: &mut (Key, Json<'a>)) -> (Key, Json<'a>) {
    std::mem::replace(member, (Key::empty(), Json::Null))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn both(text: &str) -> Option<Json<'_>> {
        let ours = read(text);
        let theirs: Result<Json, _> = serde_json::from_str(text);
        if let Some(v) = &ours {
            assert_eq!(Some(v), theirs.as_ref().ok(), "{text:?}");
        }
        ours
    }

    #[test]
    fn reads_what_serde_json_reads() {
        for text in [
            r#"{"b": [1, -2, 2.5, true, false, null], "a": {"c": "x\"y\u00e9\ud83d\ude00"}}"#,
            " [ ] ",
            "{}",
            r#""\/\b\f\n\r\t""#,
            "-0",
            "-9223372036854775808",
            "-9223372036854775809",
            "18446744073709551615",
            "18446744073709551616",
            "1e-400",
            "0.1e1",
            "1E+2",
            r#"{"z": 1, "y": 2, "z": 3}"#,
        ] {
            assert!(both(text).is_some(), "{text}");
        }
    }

    #[test]
    fn numbers_keep_serde_jsons_kinds() {
        assert_eq!(read("-0").unwrap(), Json::Number(Num::F(-0.0)));
        assert!(matches!(read("-0").unwrap(), Json::Number(Num::F(x)) if x.is_sign_negative()));
        assert_eq!(read("-1").unwrap(), Json::Number(Num::I(-1)));
        assert_eq!(read("7").unwrap(), Json::Number(Num::U(7)));
        assert_eq!(
            read("-9223372036854775808").unwrap(),
            Json::Number(Num::I(i64::MIN))
        );
        assert!(matches!(
            read("-9223372036854775809").unwrap(),
            Json::Number(Num::F(_))
        ));
        assert!(matches!(
            read("18446744073709551616").unwrap(),
            Json::Number(Num::F(_))
        ));
        assert_eq!(read("1.0").unwrap(), Json::Number(Num::F(1.0)));
    }

    #[test]
    fn gives_up_on_what_serde_json_refuses() {
        for text in [
            "",
            "[1,]",
            r#"{"a":1,}"#,
            "01",
            "1.",
            "1e",
            "-",
            "1e400",
            "tru",
            "nul",
            "[1] x",
            "\"a\u{1}b\"",
            r#""\ud800""#,
            r#""\udc00""#,
            r#""\ud800\u0041""#,
            r#""\x""#,
            r#""abc"#,
            r#"{"a" 1}"#,
            r#"{1: 2}"#,
        ] {
            assert!(read(text).is_none(), "{text:?}");
            assert!(serde_json::from_str::<Json>(text).is_err(), "{text:?}");
        }
    }

    #[test]
    fn nesting_past_serde_jsons_limit_is_left_to_it() {
        let deep = |n: usize| format!("{}{}", "[".repeat(n), "]".repeat(n));
        assert!(both(&deep(MAX_DEPTH)).is_some());
        assert!(read(&deep(MAX_DEPTH + 1)).is_none());
        assert!(read(&"[".repeat(100_000)).is_none());
    }

    /// The keys of each object of a list, in the tree's order.
    fn keys_of<'j>(items: &'j [Json]) -> Vec<Vec<&'j str>> {
        items
            .iter()
            .map(|o| o.as_object().unwrap().keys().collect())
            .collect()
    }

    #[test]
    fn a_known_key_order_sorts_later_objects_alike() {
        let text =
            r#"[{"b":1,"a":2,"c":3},{"b":4,"a":5,"c":6},{"b":7,"c":8,"a":9},{"b":1,"b":2,"a":0}]"#;
        let Json::Array(items) = both(text).unwrap() else {
            panic!("an array")
        };
        let keys = keys_of(&items);
        assert_eq!(keys[1], ["a", "b", "c"]);
        assert_eq!(keys[2], ["a", "b", "c"]);
        assert_eq!(items[1].get("a"), Some(&Json::Number(Num::U(5))));
        assert_eq!(items[2].get("a"), Some(&Json::Number(Num::U(9))));
        assert_eq!(items[3].get("b"), Some(&Json::Number(Num::U(2))));
    }

    #[test]
    fn a_guess_whose_order_was_taken_over_midway_places_nothing() {
        // The second outer object's first key is guessed from the first object's order;
        // reading its value learns eight more orders, the last taking that order's slot
        // with the same keys after the first, sorted apart ("0" before "a"). Placed by the
        // guess's slot, the object would come out unsorted.
        let nested: Vec<String> = (1..8)
            .map(|n| format!(r#"{{"x{n}":0,"a":0}}"#))
            .chain([r#"{"0":0,"b":0,"a":0}"#.to_string()])
            .collect();
        let text = format!(
            r#"[{{"k":0,"b":1,"a":2}},{{"k":[{}],"b":1,"a":2}}]"#,
            nested.join(",")
        );
        let Json::Array(items) = both(&text).unwrap() else {
            panic!("an array")
        };
        assert_eq!(keys_of(&items)[1], ["a", "b", "k"]);
        assert_eq!(items[1].get("a"), Some(&Json::Number(Num::U(2))));
    }

    #[test]
    fn keys_are_guessed_from_the_last_object_at_their_depth_never_past_the_text() {
        // Each object is a guess for the next: a prefix, a longer key, an escaped spelling
        // and a key cut off by the end of the text must each be read as written.
        let padding = r#","pad":"0123456789abcdefghij""#;
        let text = format!(
            r#"[{{"b":1,"ab":2{padding}}},{{"b":1,"abc":2{padding}}},{{"b":1,"a":2{padding}}},{{"b":1,"a\u0062":2{padding}}},{{"b":1,"ab":2{padding}}}]"#
        );
        let Json::Array(items) = both(&text).unwrap() else {
            panic!("an array")
        };
        let keys = keys_of(&items);
        assert_eq!(keys[1], ["abc", "b", "pad"]);
        assert_eq!(keys[2], ["a", "b", "pad"]);
        assert_eq!(keys[3], ["ab", "b", "pad"]);
        assert_eq!(keys[4], ["ab", "b", "pad"]);
        for cut in 1..text.len() {
            assert!(read(&text[..cut]).is_none(), "{}", &text[..cut]);
        }
        // A key that needs an escape is never guessed: its bytes unescaped are no JSON.
        let escaped = format!(r#"[{{"q\"uote":1,"a":2{padding}}},{{"q"uote":1,"a":2{padding}}}]"#);
        assert!(both(&escaped).is_none());
    }

    #[test]
    fn members_moved_by_a_known_order_own_their_text_once() {
        // Keys past the inline length and escaped strings own heap text: each must end up
        // in its object exactly once, moved and not copied, whichever way it was sorted.
        let long = "a key longer than twenty-four bytes";
        let item = |n: u32| format!(r#"{{"z":"v\n{n}","{long}":"w\t{n}","m":[{n}]}}"#);
        let repeated = format!(r#"{{"z":"x\n","{long}":"y","z":"kept\n"}}"#);
        let text = format!("[{},{},{},{repeated}]", item(1), item(2), item(3));
        let Json::Array(items) = both(&text).unwrap() else {
            panic!("an array")
        };
        for (n, item) in items[..3].iter().enumerate() {
            let n = n + 1;
            let keys: Vec<&str> = item.as_object().unwrap().keys().collect();
            assert_eq!(keys, [long, "m", "z"]);
            assert_eq!(
                item.get("z").unwrap().as_str(),
                Some(format!("v\n{n}").as_str())
            );
            assert_eq!(
                item.get(long).unwrap().as_str(),
                Some(format!("w\t{n}").as_str())
            );
        }
        assert_eq!(items[3].get("z").unwrap().as_str(), Some("kept\n"));
        assert_eq!(items[3].as_object().unwrap().len(), 2);
    }

    #[test]
    fn strings_past_ascii_are_checked_as_utf8_wherever_their_bytes_fall() {
        // "é" (two bytes) and "€" (three) at every offset of the sixteen-byte chunks, in a
        // plain string and in the runs before and after an escape.
        for pad in 0..20 {
            let before = "x".repeat(pad);
            for text in [
                format!(r#"["{before}é€"]"#),
                format!(r#"["{before}€\n{before}é"]"#),
                format!(r#"{{"{before}é": 1}}"#),
            ] {
                let ours = read_bytes(text.as_bytes()).expect(&text);
                let expected: Json = serde_json::from_str(&text).unwrap();
                assert_eq!(ours, expected, "{text}");
            }
        }
        // A byte no UTF-8 holds, or a sequence cut short, in each of those places: refused
        // (serde_json then says where).
        for pad in [0, 5, 14, 15, 16, 17, 30] {
            let before = "x".repeat(pad).into_bytes();
            for bad in [&[0xffu8][..], &[0xc3], &[0xe2, 0x82], &[0x80]] {
                let quoted = |parts: &[&[u8]]| [&b"[\""[..], &parts.concat(), b"\"]"].concat();
                for bytes in [
                    quoted(&[&before, bad]),
                    quoted(&[bad, &before]),
                    quoted(&[&before, b"\\n", bad, &before]),
                    [&b"{\""[..], &before, bad, b"\": 1}"].concat(),
                    [&b"[1,"[..], bad, b"2]"].concat(),
                ] {
                    assert!(read_bytes(&bytes).is_none(), "{bytes:?}");
                    assert!(serde_json::from_slice::<Json>(&bytes).is_err(), "{bytes:?}");
                }
            }
        }
    }

    #[test]
    fn outline_items_hands_out_each_item_of_one_member() {
        let text =
            r#" {"a": {"x": 1}, "list": [ {"k": "v", "n": [1]}, {"k": "w"} ], "z": "\u00e9"} "#;
        let mut seen = Vec::new();
        let place = outline_items(text, "list", 1, |item| {
            let keys: Vec<String> = item.members()?.iter().map(|(k, _)| k.to_string()).collect();
            seen.push((text[item.span].to_string(), keys));
            Some(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                (
                    r#"{"k": "v", "n": [1]}"#.to_string(),
                    vec!["k".to_string(), "n".to_string()]
                ),
                (r#"{"k": "w"}"#.to_string(), vec!["k".to_string()]),
            ]
        );
        let members = place.members().unwrap();
        let names: Vec<&str> = members.iter().map(|(k, _)| k.as_ref()).collect();
        assert_eq!(names, ["a", "list", "z"]);
        assert_eq!(&text[members[0].1.span.clone()], r#"{"x": 1}"#);
        assert_eq!(&text[members[2].1.span.clone()], r#""\u00e9""#);
        // Not an array, a fault after the items, or an item refused: no outline.
        assert!(outline_items(r#"{"list": {}}"#, "list", 1, |_| Some(())).is_none());
        assert!(outline_items(r#"{"list": [1], "b": tru}"#, "list", 1, |_| Some(())).is_none());
        assert!(outline_items(r#"{"list": [1, 2]}"#, "list", 1, |_| None).is_none());
    }

    #[test]
    fn strings_are_found_at_every_offset_of_a_chunk() {
        for n in 0..40 {
            let plain = "x".repeat(n);
            let text = format!("[\"{plain}\", \"{plain}\\n\", \"{plain}\u{1}\"]");
            let good = format!("[\"{plain}\",\"{plain}\\n\"]");
            let Some(Json::Array(items)) = read(&good) else {
                panic!("length {n}")
            };
            assert_eq!(items[0].as_str(), Some(plain.as_str()));
            assert_eq!(items[1].as_str(), Some(format!("{plain}\n").as_str()));
            assert!(read(&text).is_none(), "control character at {n}");
        }
    }
}
