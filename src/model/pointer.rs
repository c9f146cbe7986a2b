//! JSON Pointer (RFC 6901) segments.

/// Appends `/segment` to a pointer, escaping `~` as `~0` and `/` as `~1`.
pub fn push_segment(pointer: &mut String, segment: &str) {
    pointer.push('/');
    // A byte scan: `contains(['~', '/'])` decodes every char, and the merge walk builds a
    // path for every leaf it visits.
    if segment.bytes().any(|b| b == b'~' || b == b'/') {
        for c in segment.chars() {
            match c {
                '~' => pointer.push_str("~0"),
                '/' => pointer.push_str("~1"),
                c => pointer.push(c),
            }
        }
    } else {
        pointer.push_str(segment);
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
