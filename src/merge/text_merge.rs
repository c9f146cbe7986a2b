//! The three-way merge of a text field, for the supervisor's editor: edits that do not
//! overlap are merged already, overlapping ones are left between git's conflict markers.
//! The merge itself is `similar`'s (line-oriented); field notes are often one long line,
//! so texts go in a sentence a line and come out joined again, and two edits of one
//! paragraph that touch different sentences merge cleanly.

use similar::{MergeResolution, TextMerge};

/// The marker lines, as git writes them, with the sides named as the desk names them.
pub const OURS_MARKER: &str = "<<<<<<< local";
pub const SEPARATOR: &str = "=======";
pub const THEIRS_MARKER: &str = ">>>>>>> server";

/// A merged text and how many overlapping edits it leaves marked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MergedText {
    pub text: String,
    pub conflicts: usize,
}

/// Stands in for a newline inside a sentence while it travels as one line.
const NEWLINE: char = '\u{E000}';

/// Merges the technician's (`local`) and the server's edits of `base`.
pub fn merge_text(base: &str, local: &str, server: &str) -> MergedText {
    let (base, local, server) = (sentences(base), sentences(local), sentences(server));
    let merge = TextMerge::from_lines(base.as_str(), local.as_str(), server.as_str());
    let mut text = String::new();
    let mut conflicts = 0;
    let unit = |line: &str| {
        line.strip_suffix('\n')
            .unwrap_or(line)
            .replace(NEWLINE, "\n")
    };
    // After a marker line, a sentence starts its line without the space before it.
    let push = |text: &mut String, units: &mut dyn Iterator<Item = String>| {
        for unit in units {
            if text.ends_with(&format!("{THEIRS_MARKER}\n")) {
                text.push_str(unit.trim_start_matches(' '));
            } else {
                text.push_str(&unit);
            }
        }
    };
    for region in merge.regions() {
        let ours = || {
            region
                .ours_range()
                .filter_map(|i| merge.ours_line(i))
                .map(unit)
        };
        let theirs = || {
            region
                .theirs_range()
                .filter_map(|i| merge.theirs_line(i))
                .map(unit)
        };
        match region.resolution() {
            MergeResolution::Theirs => push(&mut text, &mut theirs()),
            MergeResolution::Conflict => {
                conflicts += 1;
                if !text.is_empty() && !text.ends_with('\n') {
                    text.push('\n');
                }
                text.push_str(OURS_MARKER);
                text.push('\n');
                // Each side on lines of its own between the markers.
                let side = |s: String| {
                    let s = s.strip_suffix('\n').unwrap_or(&s).trim_matches(' ');
                    format!("{s}\n")
                };
                text.push_str(&side(ours().collect()));
                text.push_str(SEPARATOR);
                text.push('\n');
                text.push_str(&side(theirs().collect()));
                text.push_str(THEIRS_MARKER);
                text.push('\n');
            }
            // Unchanged, ours, or both the same: the technician's lines say it.
            _ => push(&mut text, &mut ours()),
        }
    }
    MergedText { text, conflicts }
}

/// The first line (1-based) that is still a conflict marker, when one is left.
pub fn marker_left(text: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            line.starts_with("<<<<<<<") || line == SEPARATOR || line.starts_with(">>>>>>>")
        })
        .map(|i| i + 1)
}

/// The text a sentence (or a line) a line: a unit ends after `.`, `!`, `?` or `;` when a
/// space follows (the space starts the next unit, so a sentence reads the same whether
/// or not another follows it), or after a newline, which is carried inside the unit.
fn sentences(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 16);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\n' {
            out.push(NEWLINE);
            out.push('\n');
            continue;
        }
        out.push(c);
        if matches!(c, '.' | '!' | '?' | ';') && chars.peek() == Some(&' ') {
            out.push('\n');
        }
    }
    if !out.ends_with('\n') {
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn edits_of_different_sentences_of_one_line_merge_cleanly() {
        let base = "Pump leaks at the flange. Bolts are loose. Oil level fine.";
        let local = "Pump leaks badly at the flange. Bolts are loose. Oil level fine.";
        let server = "Pump leaks at the flange. Bolts are loose. Oil level low.";
        let merged = merge_text(base, local, server);
        assert_eq!(merged.conflicts, 0);
        assert_eq!(
            merged.text,
            "Pump leaks badly at the flange. Bolts are loose. Oil level low."
        );
        assert_eq!(marker_left(&merged.text), None);
    }

    #[test]
    fn a_sentence_added_after_another_does_not_change_it() {
        let base = "Pump leaks at the flange.";
        let local = "Pump leaks at the flange. Gasket replaced.";
        let server = "Pump leaks at the flange";
        let merged = merge_text(base, local, server);
        assert_eq!(merged.conflicts, 1, "{}", merged.text);
        let merged = merge_text(base, local, base);
        assert_eq!(merged.text, local);
    }

    #[test]
    fn overlapping_edits_are_marked_as_git_marks_them() {
        let base = "Pump leaks. Door fine.";
        let local = "Pump leaks badly. Door fine.";
        let server = "Pump was fixed. Door fine.";
        let merged = merge_text(base, local, server);
        assert_eq!(merged.conflicts, 1);
        assert_eq!(
            merged.text,
            "<<<<<<< local\nPump leaks badly.\n=======\nPump was fixed.\n>>>>>>> server\nDoor fine."
        );
        assert_eq!(marker_left(&merged.text), Some(1));
        assert_eq!(marker_left("Pump leaks badly.\nDoor fine."), None);
    }

    #[test]
    fn newlines_survive_the_trip_through_sentences() {
        let base = "line one\nkept\nline three\n";
        let local = "line one\nkept\nline 3\n";
        let server = "line 1\nkept\nline three\n";
        let merged = merge_text(base, local, server);
        assert_eq!(
            (merged.text.as_str(), merged.conflicts),
            ("line 1\nkept\nline 3\n", 0)
        );
        assert_eq!(merge_text("", "", "").text, "");
    }

    proptest::proptest! {
        #[test]
        fn a_side_nobody_changed_gives_the_other_side_exactly(
            base in "[ab. ;\n]{0,30}",
            other in "[ab. ;\n]{0,30}",
        ) {
            proptest::prop_assert_eq!(merge_text(&base, &base, &other).text, other.clone());
            proptest::prop_assert_eq!(merge_text(&base, &other, &base).text, other);
        }
    }
}
