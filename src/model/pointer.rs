//! JSON Pointer (RFC 6901) segments.

/// Appends `/segment` to a pointer, escaping `~` as `~0` and `/` as `~1`.
#[inline]
pub fn push_segment(pointer: &mut String, segment: &str) {
    let bytes = segment.as_bytes();
    if needs_escape(bytes) {
        return push_escaped(pointer, segment);
    }
    pointer.push('/');
    pointer.push_str(segment);
}

#[cold]
fn push_escaped(pointer: &mut String, segment: &str) {
    pointer.push('/');
    for c in segment.chars() {
        match c {
            '~' => pointer.push_str("~0"),
            '/' => pointer.push_str("~1"),
            c => pointer.push(c),
        }
    }
}

/// Whether a segment holds `~` or `/`. The merge walk builds a path for every leaf it
/// visits, so a segment (a key, nearly always under 17 bytes) is checked a word at a time,
/// by two loads that overlap, instead of byte by byte.
#[inline]
fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Exact: some byte of `x` is zero (the classic test has no false positives for "any").
    let has_zero = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS != 0;
    let has_either =
        |x: u64| has_zero(x ^ (ONES * b'~' as u64)) || has_zero(x ^ (ONES * b'/' as u64));
    let word = |at: usize| u64::from_ne_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
    let half =
        |at: usize| u32::from_ne_bytes(bytes[at..at + 4].try_into().expect("4 bytes")) as u64;
    // Bytes a short segment does not fill stay zero, which matches neither.
    match bytes.len() {
        0 => false,
        n @ 1..=3 => {
            let [first, middle, last] = [0, n / 2, n - 1].map(|i| bytes[i] as u64);
            has_either(first | middle << 8 | last << 16)
        }
        n @ 4..=7 => has_either(half(0) | half(n - 4) << 32),
        n @ 8..=16 => has_either(word(0)) || has_either(word(n - 8)),
        _ => bytes.iter().any(|b| *b == b'~' || *b == b'/'),
    }
}

/// The pointer of a single top-level member.
pub fn of_member(name: &str) -> String {
    let mut p = String::with_capacity(name.len() + 1);
    push_segment(&mut p, name);
    p
}

/// Splits a pointer into unescaped segments; `None` when it does not start with `/`
/// or holds a `~` that is not `~0` or `~1`. The empty pointer has no segments.
pub fn segments(pointer: &str) -> Option<Vec<String>> {
    if pointer.is_empty() {
        return Some(Vec::new());
    }
    let rest = pointer.strip_prefix('/')?;
    rest.split('/').map(unescape).collect()
}

fn unescape(segment: &str) -> Option<String> {
    let mut out = String::with_capacity(segment.len());
    let mut chars = segment.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_tilde_and_slash_per_rfc_6901() {
        let mut p = String::new();
        push_segment(&mut p, "a/b");
        push_segment(&mut p, "m~n");
        push_segment(&mut p, "");
        assert_eq!(p, "/a~1b/m~0n/");
        assert_eq!(segments(&p).unwrap(), vec!["a/b", "m~n", ""]);
    }

    #[test]
    fn a_tilde_or_slash_is_found_at_every_place_of_every_length() {
        // Neighbours of both bytes, and bytes whose high bit is set, must not count.
        let filler = "}0.\u{7f}é".chars().cycle();
        for n in 0..=24 {
            let plain: String = filler.clone().take(n).collect();
            assert!(!needs_escape(plain.as_bytes()), "{plain:?}");
            for at in 0..plain.len() {
                for found in [b'~', b'/'] {
                    let mut bytes = plain.clone().into_bytes();
                    bytes[at] = found;
                    assert!(
                        needs_escape(&bytes),
                        "{} in {plain:?} at {at}",
                        found as char
                    );
                }
            }
        }
    }

    #[test]
    fn tilde_one_zero_is_not_unescaped_twice() {
        assert_eq!(of_member("~1"), "/~01");
        assert_eq!(segments("/~01").unwrap(), vec!["~1"]);
    }

    #[test]
    fn bad_pointers_are_refused() {
        assert_eq!(segments("a"), None);
        assert_eq!(segments("/a~2"), None);
        assert_eq!(segments("/a~"), None);
        assert_eq!(segments("").unwrap(), Vec::<String>::new());
    }
}
