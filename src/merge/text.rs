//! Inline text diffs for people: word level for prose, characters for short values,
//! always under a deadline, and "replaced" when a diff would be noise.

use std::ops::Range;
use std::time::Duration;

use std::hash::BuildHasher;
use std::time::Instant;

use rustc_hash::FxBuildHasher;
use similar::{Algorithm, DiffOp, DiffTag, TextDiffConfig, capture_diff_deadline};

/// Above this many bytes on either side a value is shown as replaced, not diffed.
pub const MAX_DIFF_BYTES: usize = 64 * 1024;
/// Values this short on both sides, without spaces (codes, ids, times), are diffed by
/// character; anything with words in it by word.
const CHAR_DIFF_BYTES: usize = 32;
/// Below this similarity an inline diff is a confetti of edits: show "replaced".
const MIN_RATIO: f32 = 0.3;
/// The diff gives up refining after this long and returns what it has (still correct).
const DEADLINE: Duration = Duration::from_millis(20);
/// Token lists this long together are diffed without watching the clock.
const UNTIMED_TOKENS: usize = 256;

/// What kind of edit a span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EditOp {
    Equal,
    Delete,
    Insert,
    Replace,
}

impl From<DiffTag> for EditOp {
    fn from(tag: DiffTag) -> Self {
        match tag {
            DiffTag::Equal => EditOp::Equal,
            DiffTag::Delete => EditOp::Delete,
            DiffTag::Insert => EditOp::Insert,
            DiffTag::Replace => EditOp::Replace,
        }
    }
}

/// One span: bytes `old` of the old text became bytes `new` of the new text.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Edit {
    pub op: EditOp,
    pub old: Range<usize>,
    pub new: Range<usize>,
}

/// An inline diff of two texts.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum InlineDiff {
    /// Spans covering both texts from start to end, in order.
    Edits(Vec<Edit>),
    /// Too large or too different to show as edits.
    Replaced,
}

/// Diffs two texts for display.
pub fn text_diff(old: &str, new: &str) -> InlineDiff {
    if old.len() > MAX_DIFF_BYTES || new.len() > MAX_DIFF_BYTES {
        return InlineDiff::Replaced;
    }
    let is_code = |t: &str| t.len() <= CHAR_DIFF_BYTES && !t.bytes().any(is_space);
    let short = is_code(old) && is_code(new);
    // The equal ends are cut off first: edits are usually local, and only the middle then
    // needs tokenizing. Prose is cut at word boundaries so no word is split.
    let (prefix, suffix) = common_ends(old, new, !short);
    let (old_mid, new_mid) = (prefix..old.len() - suffix, prefix..new.len() - suffix);
    let mut edits = Vec::new();
    if prefix > 0 {
        edits.push(Edit {
            op: EditOp::Equal,
            old: 0..prefix,
            new: 0..prefix,
        });
    }
    if short {
        // One highlighted change reads better than scattered letters in a short value.
        if let Some(op) = change_op(old_mid.is_empty(), new_mid.is_empty()) {
            edits.push(Edit {
                op,
                old: old_mid,
                new: new_mid,
            });
        }
    } else {
        let deadline = Instant::now() + DEADLINE;
        word_edits(&old[old_mid], &new[new_mid], prefix, deadline, &mut edits);
    }
    if suffix > 0 {
        edits.push(Edit {
            op: EditOp::Equal,
            old: old.len() - suffix..old.len(),
            new: new.len() - suffix..new.len(),
        });
    }
    if old != new && similarity(old, new, &edits) < MIN_RATIO {
        return InlineDiff::Replaced;
    }
    InlineDiff::Edits(edits)
}

fn change_op(old_empty: bool, new_empty: bool) -> Option<EditOp> {
    match (old_empty, new_empty) {
        (true, true) => None,
        (true, false) => Some(EditOp::Insert),
        (false, true) => Some(EditOp::Delete),
        (false, false) => Some(EditOp::Replace),
    }
}

/// Word-level edits of two middles, with byte offsets shifted by `at`. Prose is first
/// matched sentence by sentence, and only the sentences that differ are diffed by word:
/// most of a long text is equal, and its words need not all be hashed and compared.
fn word_edits(old: &str, new: &str, at: usize, deadline: Instant, edits: &mut Vec<Edit>) {
    if old.is_empty() || new.is_empty() {
        return token_edits(old, new, [at, at], deadline, edits);
    }
    let (old_sentences, new_sentences) = (Tokens::sentences(old), Tokens::sentences(new));
    if old_sentences.len() < 3 && new_sentences.len() < 3 {
        return token_edits(old, new, [at, at], deadline, edits);
    }
    let first = edits.len();
    for (tag, o, n) in diff_hashes(&old_sentences, &new_sentences, deadline) {
        if tag == DiffTag::Equal && old[o.clone()] != new[n.clone()] {
            edits.truncate(first);
            return exact_token_edits(old, new, [at, at], deadline, edits);
        }
        if tag == DiffTag::Replace {
            token_edits(
                &old[o.clone()],
                &new[n.clone()],
                [at + o.start, at + n.start],
                deadline,
                edits,
            );
        } else {
            edits.push(Edit {
                op: tag.into(),
                old: at + o.start..at + o.end,
                new: at + n.start..at + n.end,
            });
        }
    }
}

/// Word-level edits of two texts, at byte offsets `at` in the old and the new text.
fn token_edits(old: &str, new: &str, at: [usize; 2], deadline: Instant, edits: &mut Vec<Edit>) {
    if old.is_empty() || new.is_empty() {
        if let Some(op) = change_op(old.is_empty(), new.is_empty()) {
            edits.push(Edit {
                op,
                old: at[0]..at[0] + old.len(),
                new: at[1]..at[1] + new.len(),
            });
        }
        return;
    }
    let first = edits.len();
    for (tag, o, n) in diff_hashes(&Tokens::words(old), &Tokens::words(new), deadline) {
        if tag == DiffTag::Equal && old[o.clone()] != new[n.clone()] {
            edits.truncate(first);
            return exact_token_edits(old, new, at, deadline, edits);
        }
        edits.push(Edit {
            op: tag.into(),
            old: at[0] + o.start..at[0] + o.end,
            new: at[1] + n.start..at[1] + n.end,
        });
    }
}

/// Diffs two token lists by their hashes (similar's own word diff first maps every token
/// through a SipHash table, which costs more than the diff itself), under the deadline.
/// Equal hashes of different tokens would only show a wrong edit: callers check Equal
/// spans and fall back to the exact diff.
fn diff_hashes(
    old: &Tokens,
    new: &Tokens,
    deadline: Instant,
) -> Vec<(DiffTag, Range<usize>, Range<usize>)> {
    // Myers' diff takes at most (n + m)² steps: below this many tokens that is well under
    // a millisecond, and reading the clock at every step would cost more than the diff.
    let deadline = (old.len() + new.len() > UNTIMED_TOKENS).then_some(deadline);
    let (old_hashes, new_hashes) = (&old.hashes[..], &new.hashes[..]);
    let spans = replaced_in_place(old_hashes, new_hashes).unwrap_or_else(|| {
        capture_diff_deadline(
            Algorithm::Myers,
            old_hashes,
            0..old.len(),
            new_hashes,
            0..new.len(),
            deadline,
        )
        .iter()
        .map(DiffOp::as_tag_tuple)
        .collect()
    });
    spans
        .into_iter()
        .map(|(tag, o, n)| (tag, old.bytes(o), new.bytes(n)))
        .collect()
}

/// Most edits replace a word (or a sentence) by another: the lists keep their length,
/// and the tokens that differ in place appear nowhere in the other list. Then pairing the
/// lists in place is their only longest common subsequence, and these spans (equal runs,
/// and runs replaced token for token) are the ones Myers' diff would find, without its
/// search. `None` for any other edit, or too many (each token that differs is looked for
/// in the whole other list).
fn replaced_in_place(old: &[u64], new: &[u64]) -> Option<Vec<TokenSpan>> {
    const MOST_DIFFERING: usize = 16;
    if old.len() != new.len() {
        return None;
    }
    let mut spans: Vec<TokenSpan> = Vec::new();
    let mut differing = 0;
    for (at, (a, b)) in old.iter().zip(new).enumerate() {
        let tag = if a == b {
            DiffTag::Equal
        } else {
            differing += 1;
            if differing > MOST_DIFFERING || new.contains(a) || old.contains(b) {
                return None;
            }
            DiffTag::Replace
        };
        match spans.last_mut() {
            Some((last, o, n)) if *last == tag => (o.end, n.end) = (at + 1, at + 1),
            _ => spans.push((tag, at..at + 1, at..at + 1)),
        }
    }
    Some(spans)
}

/// A span of a diff of token lists: what it is, and the tokens it covers on each side.
type TokenSpan = (DiffTag, Range<usize>, Range<usize>);

/// The word diff without hashes, for the (astronomically rare) hash collision.
fn exact_token_edits(
    old: &str,
    new: &str,
    at: [usize; 2],
    deadline: Instant,
    edits: &mut Vec<Edit>,
) {
    let mut config = TextDiffConfig::default();
    config.deadline(deadline);
    let diff = config.diff_words(old, new);
    let old_at = |i: usize| at[0] + byte_offset(old, diff.old_slice(i));
    let new_at = |i: usize| at[1] + byte_offset(new, diff.new_slice(i));
    edits.extend(diff.ops().iter().map(|op| {
        let (tag, o, n) = op.as_tag_tuple();
        Edit {
            op: tag.into(),
            old: old_at(o.start)..old_at(o.end),
            new: new_at(n.start)..new_at(n.end),
        }
    }));
}

/// A text cut into tokens, each with its start and its hash.
struct Tokens {
    /// Byte offset where each token starts, and the text's length last.
    starts: Vec<usize>,
    hashes: Vec<u64>,
}

impl Tokens {
    /// Runs of whitespace and runs of other characters (as similar's words). Read eight
    /// bytes at a time: a token starts where the whitespace mask changes.
    fn words(text: &str) -> Self {
        let bytes = text.as_bytes();
        // Prose alternates words of a few letters and single spaces: room for a token every
        // two bytes spares the list's doublings, each a copy.
        let mut starts = Vec::with_capacity(bytes.len() / 2 + 2);
        starts.push(0);
        let mut was_space = bytes.first().is_some_and(|&b| is_space(b));
        let mut cuts_in = |at: usize, eight: [u8; 8], valid: u64| {
            let spaces = space_mask(u64::from_le_bytes(eight));
            let before = (spaces << 8) | if was_space { 0x80 } else { 0 };
            let mut changes = (spaces ^ before) & valid;
            while changes != 0 {
                starts.push(at + changes.trailing_zeros() as usize / 8);
                changes &= changes - 1;
            }
            was_space = spaces >> 63 != 0;
        };
        let mut chunks = bytes.chunks_exact(8);
        for (n, chunk) in chunks.by_ref().enumerate() {
            cuts_in(n * 8, chunk.try_into().expect("eight bytes"), u64::MAX);
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut eight = [0; 8];
            eight[..rest.len()].copy_from_slice(rest);
            cuts_in(bytes.len() - rest.len(), eight, (1 << (rest.len() * 8)) - 1);
        }
        starts.push(bytes.len());
        Self::hashed(text, starts)
    }

    /// Sentences: a token ends after the whitespace that follows `.`, `!` or `?`, or
    /// after whitespace holding a newline. Found with memchr: prose has few of them.
    fn sentences(text: &str) -> Self {
        let bytes = text.as_bytes();
        let mut ends: Vec<usize> = memchr::memchr3_iter(b'.', b'!', b'?', bytes)
            .chain(memchr::memchr_iter(b'\n', bytes))
            .collect();
        ends.sort_unstable();
        // A token at most a mark: no doublings.
        let mut starts = Vec::with_capacity(ends.len() + 2);
        starts.push(0);
        let cuts = ends.iter().filter_map(|&end| {
            let mut i = end + 1;
            if bytes[end] != b'\n' && !bytes.get(i).is_some_and(|&b| is_space(b)) {
                return None;
            }
            while bytes.get(i).is_some_and(|&b| is_space(b)) {
                i += 1;
            }
            (i < bytes.len()).then_some(i)
        });
        starts.extend(cuts);
        starts.dedup();
        starts.push(bytes.len());
        Self::hashed(text, starts)
    }

    /// The tokens that start at each of `starts` (0 first, then ascending inside the text,
    /// then the text's length). Cuts look at ASCII bytes only, so they never fall inside
    /// a character.
    fn hashed(text: &str, starts: Vec<usize>) -> Self {
        let bytes = text.as_bytes();
        let hashes = starts
            .windows(2)
            .map(|w| FxBuildHasher.hash_one(&bytes[w[0]..w[1]]))
            .collect();
        Self { starts, hashes }
    }

    fn len(&self) -> usize {
        self.hashes.len()
    }

    /// The bytes a range of tokens covers.
    fn bytes(&self, tokens: Range<usize>) -> Range<usize> {
        self.starts[tokens.start]..self.starts[tokens.end]
    }
}

/// Whitespace as word separator; bytes of multi-byte characters are never ASCII, so the
/// token boundaries fall on character boundaries.
fn is_space(b: u8) -> bool {
    b.is_ascii_whitespace()
}

/// Bit 7 of each of the eight bytes (little-endian) set where that byte `is_space`: space,
/// tab, newline, form feed or carriage return. Each test is exact per byte (no carry
/// crosses into the next).
fn space_mask(x: u64) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    const LOW: u64 = ONES * 0x7f;
    let zero = |y: u64| !(((y & LOW) + LOW) | y) & HIGH;
    let below = |n: u64| !(((x & LOW) + ONES * (0x80 - n)) | x) & HIGH;
    let spaces = zero(x ^ (ONES * u64::from(b' ')));
    // Text mostly holds no other byte below the space: then the spaces are all of it.
    let controls = below(0x20);
    if controls == 0 {
        return spaces;
    }
    spaces | (controls & below(0x0e) & !below(0x09) & !zero(x ^ (ONES * 0x0b)))
}

/// Lengths in bytes of the longest common prefix and suffix (not overlapping), on char
/// boundaries; with `words`, shortened to word boundaries.
fn common_ends(old: &str, new: &str, words: bool) -> (usize, usize) {
    let (a, b) = (old.as_bytes(), new.as_bytes());
    let mut prefix = common_prefix(a, b);
    while !(old.is_char_boundary(prefix) && new.is_char_boundary(prefix))
        || (words && !(at_word_boundary(old, prefix) && at_word_boundary(new, prefix)))
    {
        prefix -= 1;
    }
    let room = a.len().min(b.len()) - prefix;
    let mut suffix = common_suffix(&a[a.len() - room..], &b[b.len() - room..]);
    while !(old.is_char_boundary(a.len() - suffix) && new.is_char_boundary(b.len() - suffix))
        || (words
            && !(at_word_boundary(old, a.len() - suffix)
                && at_word_boundary(new, b.len() - suffix)))
    {
        suffix -= 1;
    }
    (prefix, suffix)
}

/// Length of the common prefix, eight bytes at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n && word(&a[i..]) == word(&b[i..]) {
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// Length of the common suffix, eight bytes at a time.
fn common_suffix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let (a, b) = (&a[a.len() - n..], &b[b.len() - n..]);
    let mut i = 0;
    while i + 8 <= n && word(&a[n - i - 8..]) == word(&b[n - i - 8..]) {
        i += 8;
    }
    while i < n && a[n - i - 1] == b[n - i - 1] {
        i += 1;
    }
    i
}

/// The first eight bytes as one integer.
fn word(bytes: &[u8]) -> u64 {
    u64::from_ne_bytes(bytes[..8].try_into().expect("eight bytes"))
}

/// True at the ends of the text and next to whitespace.
fn at_word_boundary(text: &str, at: usize) -> bool {
    let bytes = text.as_bytes();
    at == 0
        || at == bytes.len()
        || bytes[at - 1].is_ascii_whitespace()
        || bytes[at].is_ascii_whitespace()
}

/// Share of the text that stayed equal. Equal runs of whitespace alone do not count:
/// the spaces between words always match, and would make unrelated sentences look alike.
fn similarity(old: &str, new: &str, edits: &[Edit]) -> f32 {
    let total = old.len() + new.len();
    if total == 0 {
        return 1.0;
    }
    let kept: usize = edits
        .iter()
        .filter(|e| {
            e.op == EditOp::Equal && !old.as_bytes()[e.old.clone()].iter().all(|&b| is_space(b))
        })
        .map(|e| e.old.len())
        .sum();
    (2 * kept) as f32 / total as f32
}

/// Where a token starts in its text; one past the last token is the text's end.
fn byte_offset(text: &str, token: Option<&str>) -> usize {
    token.map_or(text.len(), |t| t.as_ptr() as usize - text.as_ptr() as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The spans that are not equal.
    fn changed(old: &str, new: &str) -> Vec<(EditOp, String, String)> {
        spans(old, new)
            .into_iter()
            .filter(|s| s.0 != EditOp::Equal)
            .collect()
    }

    fn spans(old: &str, new: &str) -> Vec<(EditOp, String, String)> {
        match text_diff(old, new) {
            InlineDiff::Edits(edits) => edits
                .into_iter()
                .map(|e| (e.op, old[e.old].to_string(), new[e.new].to_string()))
                .collect(),
            InlineDiff::Replaced => panic!("replaced"),
        }
    }

    /// Words as the plain definition has them: a token starts wherever whitespace starts
    /// or stops.
    fn plain_word_starts(text: &str) -> Vec<usize> {
        let bytes = text.as_bytes();
        let mut starts = vec![0];
        starts.extend((1..bytes.len()).filter(|&i| is_space(bytes[i - 1]) != is_space(bytes[i])));
        starts.push(bytes.len());
        starts
    }

    #[test]
    fn words_are_cut_eight_bytes_at_a_time_as_byte_by_byte() {
        // Every byte below 0x80 (each whitespace and control beside letters), on both
        // sides of each eight-byte boundary, and the lengths around it.
        for b in 0u8..0x80 {
            for at in 0..18 {
                for len in at + 1..at + 10 {
                    let mut text = vec![b'a'; len];
                    text[at] = b;
                    let text = String::from_utf8(text).unwrap();
                    assert_eq!(
                        Tokens::words(&text).starts,
                        plain_word_starts(&text),
                        "byte {b:#04x} at {at} of {len}"
                    );
                }
            }
        }
        for text in [
            "",
            " ",
            "a",
            "  a b\tc\r\n\x0b\x0cd  ",
            "héllo wörld  ünïcode\u{a0}x",
            "\n\n\n\n\n\n\n\n\na",
        ] {
            assert_eq!(
                Tokens::words(text).starts,
                plain_word_starts(text),
                "{text:?}"
            );
        }
    }

    #[test]
    fn prose_is_diffed_by_word() {
        let old = "The pump on the north side was leaking slightly at the flange.";
        let new = "The pump on the north side was leaking badly at the flange.";
        let changed: Vec<_> = changed(old, new);
        assert_eq!(
            changed,
            [(EditOp::Replace, "slightly".into(), "badly".into())]
        );
    }

    #[test]
    fn spans_cover_both_texts_in_order() {
        let old = "alpha beta gamma delta epsilon zeta eta theta";
        let new = "alpha gamma delta DELTA epsilon zeta eta theta iota";
        let s = spans(old, new);
        let rebuilt_old: String = s.iter().map(|x| x.1.as_str()).collect();
        let rebuilt_new: String = s.iter().map(|x| x.2.as_str()).collect();
        assert_eq!((rebuilt_old.as_str(), rebuilt_new.as_str()), (old, new));
    }

    #[test]
    fn short_values_are_diffed_by_character() {
        let changed: Vec<_> = changed("S-14", "S-15");
        assert_eq!(changed, [(EditOp::Replace, "4".into(), "5".into())]);
    }

    #[test]
    fn short_sentences_are_still_diffed_by_word() {
        let changed: Vec<_> = changed("it leaks slightly", "it leaks badly");
        assert_eq!(
            changed,
            [(EditOp::Replace, "slightly".into(), "badly".into())]
        );
    }

    #[test]
    fn unrelated_values_are_replaced() {
        assert_eq!(text_diff("open", "failed"), InlineDiff::Replaced);
        let old = "one two three four five six seven eight nine ten eleven twelve";
        let new = "uno dos tres cuatro cinco seis siete ocho nueve diez once doce";
        assert_eq!(text_diff(old, new), InlineDiff::Replaced);
    }

    #[test]
    fn huge_values_are_replaced_without_diffing() {
        let big = "word ".repeat(MAX_DIFF_BYTES / 5 + 1);
        assert_eq!(text_diff(&big, "word"), InlineDiff::Replaced);
    }

    #[test]
    fn equal_texts_are_one_equal_span() {
        assert_eq!(
            spans(
                "same text here, long enough for words",
                "same text here, long enough for words"
            )
            .len(),
            1
        );
        assert_eq!(text_diff("", ""), InlineDiff::Edits(vec![]));
    }

    #[test]
    fn the_exact_fallback_finds_the_same_edits() {
        let old = "the pump was leaking slightly at the north flange today";
        let new = "the pump was leaking badly at the north flange, today";
        let (mut hashed, mut exact) = (Vec::new(), Vec::new());
        let deadline = Instant::now() + DEADLINE;
        token_edits(old, new, [3, 3], deadline, &mut hashed);
        exact_token_edits(old, new, [3, 3], deadline, &mut exact);
        assert_eq!(hashed, exact);
        assert!(
            exact
                .iter()
                .any(|e| e.op == EditOp::Replace && e.old == (24..32)),
            "{exact:?}"
        );
    }

    #[test]
    fn only_the_sentences_that_differ_are_diffed_by_word() {
        let old = "The pump leaks. The valve is fine. Gauge calibrated! Seal replaced? Done.";
        let new = "The pump leaks. The valve is stuck. Gauge calibrated! Seal replaced? All done.";
        assert_eq!(
            changed(old, new),
            [
                (EditOp::Replace, "fine.".into(), "stuck.".into()),
                (EditOp::Replace, "Done.".into(), "All done.".into())
            ]
        );
        let sentences = Tokens::sentences("One. Two!  Three\nFour? five");
        let cut: Vec<_> = (0..sentences.len())
            .map(|i| &"One. Two!  Three\nFour? five"[sentences.bytes(i..i + 1)])
            .collect();
        assert_eq!(cut, ["One. ", "Two!  ", "Three\n", "Four? ", "five"]);
    }

    #[test]
    fn sentences_added_to_an_empty_text_are_an_insert() {
        assert_eq!(
            changed("Note: ", "Note: One. Two. Three. Four."),
            [(EditOp::Insert, "".into(), "One. Two. Three. Four.".into())]
        );
    }

    #[test]
    fn a_word_that_grows_is_replaced_whole() {
        let old = "the pump on the north side leaks";
        let new = "the pumps on the north side leaks";
        let changed: Vec<_> = changed(old, new);
        assert_eq!(changed, [(EditOp::Replace, "pump".into(), "pumps".into())]);
    }

    #[test]
    fn text_added_at_the_end_is_an_insert() {
        let old = "the pump on the north side leaks";
        let new = "the pump on the north side leaks badly";
        let changed: Vec<_> = changed(old, new);
        assert_eq!(changed, [(EditOp::Insert, "".into(), " badly".into())]);
    }

    #[test]
    fn multibyte_short_values_split_on_char_boundaries() {
        let changed: Vec<_> = changed("Prüf-ä1", "Prüf-ö1");
        assert_eq!(changed, [(EditOp::Replace, "ä".into(), "ö".into())]);
    }

    #[test]
    fn multibyte_text_splits_on_char_boundaries() {
        let s = spans(
            "Prüfung bestanden – Ventil",
            "Prüfung nicht bestanden – Ventil",
        );
        assert!(
            s.iter()
                .any(|x| x.0 == EditOp::Insert && x.2.contains("nicht"))
        );
    }

    /// Myers' spans of two token lists, compacted, as `diff_hashes` takes them.
    fn myers_spans(old: &[u64], new: &[u64]) -> Vec<TokenSpan> {
        capture_diff_deadline(Algorithm::Myers, old, 0..old.len(), new, 0..new.len(), None)
            .iter()
            .map(DiffOp::as_tag_tuple)
            .collect()
    }

    #[test]
    fn tokens_that_moved_or_came_are_left_to_myers() {
        // One replaced in place, each new token unknown to the old list: paired in place.
        assert_eq!(
            replaced_in_place(&[1, 2, 3, 4], &[1, 7, 3, 8]),
            Some(myers_spans(&[1, 2, 3, 4], &[1, 7, 3, 8]))
        );
        // A token that moved is found elsewhere in the other list, and an inserted one
        // changes the length: both would pair badly in place.
        assert_eq!(replaced_in_place(&[1, 2, 3], &[2, 3, 9]), None);
        assert_eq!(replaced_in_place(&[1, 2, 3], &[9, 1, 2]), None);
        assert_eq!(replaced_in_place(&[1, 2, 3], &[1, 2, 3, 4]), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]

        /// Lists from a small alphabet (so tokens repeat), each position kept or replaced
        /// by a token that may or may not be in the old list: where the short way takes
        /// them (about one case in six with a replacement, one in four all equal), its
        /// spans are exactly Myers' (the equal runs found in the same places, replaced runs
        /// whole).
        #[test]
        fn replaced_in_place_finds_what_myers_finds(
            old in proptest::collection::vec(0u64..8, 0..14),
            edits in proptest::collection::vec(proptest::option::weighted(0.3, 4u64..12), 14),
        ) {
            let new: Vec<u64> = old.iter().zip(&edits).map(|(&t, e)| e.unwrap_or(t)).collect();
            if let Some(spans) = replaced_in_place(&old, &new) {
                proptest::prop_assert_eq!(spans, myers_spans(&old, &new));
            }
        }
    }
}
