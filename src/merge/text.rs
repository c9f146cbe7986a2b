//! Inline text diffs for people: word level for prose, characters for short values,
//! always under a deadline, and "replaced" when a diff would be noise.

use std::ops::Range;
use std::time::Duration;

use similar::{DiffTag, TextDiffConfig};

/// Above this many bytes on either side a value is shown as replaced, not diffed.
pub const MAX_DIFF_BYTES: usize = 64 * 1024;
/// Values this short on both sides are diffed by character.
const CHAR_DIFF_BYTES: usize = 32;
/// Below this similarity an inline diff is a confetti of edits: show "replaced".
const MIN_RATIO: f32 = 0.3;
/// The diff gives up refining after this long and returns what it has (still correct).
const DEADLINE: Duration = Duration::from_millis(20);

/// What kind of edit a span is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EditOp {
    Equal,
    Delete,
    Insert,
    Replace,
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
    let short = old.len() <= CHAR_DIFF_BYTES && new.len() <= CHAR_DIFF_BYTES;
    // The equal ends are cut off first: edits are usually local, and only the middle then
    // needs tokenizing. Prose is cut at word boundaries so no word is split.
    let (prefix, suffix) = common_ends(old, new, !short);
    let (old_mid, new_mid) = (prefix..old.len() - suffix, prefix..new.len() - suffix);
    let mut edits = Vec::new();
    if prefix > 0 {
        edits.push(Edit { op: EditOp::Equal, old: 0..prefix, new: 0..prefix });
    }
    if short {
        // One highlighted change reads better than scattered letters in a short value.
        if let Some(op) = change_op(old_mid.is_empty(), new_mid.is_empty()) {
            edits.push(Edit { op, old: old_mid, new: new_mid });
        }
    } else {
        word_edits(&old[old_mid], &new[new_mid], prefix, &mut edits);
    }
    if suffix > 0 {
        edits.push(Edit { op: EditOp::Equal, old: old.len() - suffix..old.len(), new: new.len() - suffix..new.len() });
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

/// Word-level edits of two middles, with byte offsets shifted by `at`.
fn word_edits(old: &str, new: &str, at: usize, edits: &mut Vec<Edit>) {
    if old.is_empty() || new.is_empty() {
        if let Some(op) = change_op(old.is_empty(), new.is_empty()) {
            edits.push(Edit { op, old: at..at + old.len(), new: at..at + new.len() });
        }
        return;
    }
    let mut config = TextDiffConfig::default();
    config.timeout(DEADLINE);
    let diff = config.diff_words(old, new);
    let old_at = |i: usize| at + byte_offset(old, diff.old_slice(i));
    let new_at = |i: usize| at + byte_offset(new, diff.new_slice(i));
    edits.extend(diff.ops().iter().map(|op| {
        let (tag, o, n) = op.as_tag_tuple();
        let op = match tag {
            DiffTag::Equal => EditOp::Equal,
            DiffTag::Delete => EditOp::Delete,
            DiffTag::Insert => EditOp::Insert,
            DiffTag::Replace => EditOp::Replace,
        };
        Edit { op, old: old_at(o.start)..old_at(o.end), new: new_at(n.start)..new_at(n.end) }
    }));
}

/// Lengths in bytes of the longest common prefix and suffix (not overlapping), on char
/// boundaries; with `words`, shortened to word boundaries.
fn common_ends(old: &str, new: &str, words: bool) -> (usize, usize) {
    let (a, b) = (old.as_bytes(), new.as_bytes());
    let mut prefix = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    while !(old.is_char_boundary(prefix) && new.is_char_boundary(prefix))
        || (words && !(at_word_boundary(old, prefix) && at_word_boundary(new, prefix)))
    {
        prefix -= 1;
    }
    let room = a.len().min(b.len()) - prefix;
    let mut suffix = a.iter().rev().zip(b.iter().rev()).take(room).take_while(|(x, y)| x == y).count();
    while !(old.is_char_boundary(a.len() - suffix) && new.is_char_boundary(b.len() - suffix))
        || (words && !(at_word_boundary(old, a.len() - suffix) && at_word_boundary(new, b.len() - suffix)))
    {
        suffix -= 1;
    }
    (prefix, suffix)
}

/// True at the ends of the text and next to whitespace.
fn at_word_boundary(text: &str, at: usize) -> bool {
    let bytes = text.as_bytes();
    at == 0 || at == bytes.len() || bytes[at - 1].is_ascii_whitespace() || bytes[at].is_ascii_whitespace()
}

/// Share of the visible (non-whitespace) bytes that stayed equal; spaces between words
/// always match, so counting them would make unrelated sentences look alike.
fn similarity(old: &str, new: &str, edits: &[Edit]) -> f32 {
    let visible = |t: &str| t.bytes().filter(|b| !b.is_ascii_whitespace()).count();
    let total = visible(old) + visible(new);
    if total == 0 {
        return 1.0;
    }
    let kept: usize = edits
        .iter()
        .filter(|e| e.op == EditOp::Equal)
        .map(|e| visible(&old[e.old.clone()]))
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

    fn spans(old: &str, new: &str) -> Vec<(EditOp, String, String)> {
        match text_diff(old, new) {
            InlineDiff::Edits(edits) => edits
                .into_iter()
                .map(|e| (e.op, old[e.old].to_string(), new[e.new].to_string()))
                .collect(),
            InlineDiff::Replaced => panic!("replaced"),
        }
    }

    #[test]
    fn prose_is_diffed_by_word() {
        let old = "The pump on the north side was leaking slightly at the flange.";
        let new = "The pump on the north side was leaking badly at the flange.";
        let changed: Vec<_> = spans(old, new)
            .into_iter()
            .filter(|s| s.0 != EditOp::Equal)
            .collect();
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
        let changed: Vec<_> = spans("S-14", "S-15")
            .into_iter()
            .filter(|s| s.0 != EditOp::Equal)
            .collect();
        assert_eq!(changed, [(EditOp::Replace, "4".into(), "5".into())]);
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
    fn a_word_that_grows_is_replaced_whole() {
        let old = "the pump on the north side leaks";
        let new = "the pumps on the north side leaks";
        let changed: Vec<_> = spans(old, new).into_iter().filter(|s| s.0 != EditOp::Equal).collect();
        assert_eq!(changed, [(EditOp::Replace, "pump".into(), "pumps".into())]);
    }

    #[test]
    fn text_added_at_the_end_is_an_insert() {
        let old = "the pump on the north side leaks";
        let new = "the pump on the north side leaks badly";
        let changed: Vec<_> = spans(old, new).into_iter().filter(|s| s.0 != EditOp::Equal).collect();
        assert_eq!(changed, [(EditOp::Insert, "".into(), " badly".into())]);
    }

    #[test]
    fn multibyte_short_values_split_on_char_boundaries() {
        let changed: Vec<_> = spans("Prüf-ä1", "Prüf-ö1").into_iter().filter(|s| s.0 != EditOp::Equal).collect();
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
}
