//! Inline text diffs over arbitrary text: the spans always rebuild both texts exactly.

use proptest::prelude::*;
use syncdesk::merge::{EditOp, InlineDiff, text_diff};

/// Words, spaces and multi-byte characters, so that edits fall next to every boundary.
fn text() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop::sample::select(vec![
            "a", "b", "pump", " ", "  ", "\n", "é", "ü", "✓", "x1", ".",
        ]),
        0..40,
    )
    .prop_map(|parts| parts.concat())
}

/// A text and an edited copy of it.
fn pair() -> impl Strategy<Value = (String, String)> {
    (
        text(),
        text(),
        any::<prop::sample::Index>(),
        any::<prop::sample::Index>(),
    )
        .prop_map(|(old, insert, at, cut)| {
            let boundaries: Vec<usize> = (0..=old.len())
                .filter(|&i| old.is_char_boundary(i))
                .collect();
            let (a, b) = (at.get(&boundaries), cut.get(&boundaries));
            let (from, to) = (*a.min(b), *a.max(b));
            let new = format!("{}{insert}{}", &old[..from], &old[to..]);
            (old, new)
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn spans_rebuild_both_texts((old, new) in pair()) {
        match text_diff(&old, &new) {
            InlineDiff::Replaced => prop_assert_ne!(&old, &new),
            InlineDiff::Edits(edits) => {
                let (mut at_old, mut at_new) = (0, 0);
                for e in &edits {
                    prop_assert_eq!(e.old.start, at_old);
                    prop_assert_eq!(e.new.start, at_new);
                    if e.op == EditOp::Equal {
                        prop_assert_eq!(&old[e.old.clone()], &new[e.new.clone()]);
                    }
                    match e.op {
                        EditOp::Insert => prop_assert!(e.old.is_empty(), "an insert takes nothing old"),
                        EditOp::Delete => prop_assert!(e.new.is_empty(), "a delete adds nothing new"),
                        EditOp::Equal | EditOp::Replace => {}
                    }
                    (at_old, at_new) = (e.old.end, e.new.end);
                }
                prop_assert_eq!((at_old, at_new), (old.len(), new.len()));
            }
        }
    }

    #[test]
    fn arbitrary_unicode_never_panics(old in "\\PC{0,60}", new in "\\PC{0,60}") {
        let _ = text_diff(&old, &new);
    }
}
