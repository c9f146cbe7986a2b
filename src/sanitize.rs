//! One sanitizer for every value shown to a person: control characters and escape
//! sequences become visible text, never reach the terminal.

use std::borrow::Cow;
use std::fmt::Write;

/// The text with C0 controls as caret notation (`ESC` → `^[`, NUL → `^@`), DEL as `^?`,
/// and C1 controls and bidirectional overrides as `<U+XXXX>`. Newlines and tabs too:
/// callers that show multi-line text split it first.
pub fn visible(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\0'..='\x1f' => {
                out.push('^');
                out.push((c as u8 + b'@') as char);
            }
            '\x7f' => out.push_str("^?"),
            c if needs_escape(c) => {
                let _ = write!(out, "<U+{:04X}>", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

fn needs_escape(c: char) -> bool {
    matches!(c, '\0'..='\x1f' | '\x7f'..='\u{9f}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_become_caret_notation() {
        assert_eq!(visible("\x1b[31mred\x1b[0m"), "^[[31mred^[[0m");
        assert_eq!(visible("a\0b\x07\x7f"), "a^@b^G^?");
        assert_eq!(visible("line\nnext\ttab"), "line^Jnext^Itab");
    }

    #[test]
    fn c1_controls_and_bidi_overrides_are_named() {
        assert_eq!(visible("\u{9b}31m"), "<U+009B>31m");
        assert_eq!(visible("abc\u{202e}fed"), "abc<U+202E>fed");
    }

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        assert!(matches!(
            visible("Prüfung – ok ✓"),
            Cow::Borrowed("Prüfung – ok ✓")
        ));
    }
}
