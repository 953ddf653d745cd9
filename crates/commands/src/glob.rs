//! Redis's glob-style pattern matching (`stringmatchlen`): `*`, `?`,
//! `[abc]`, `[^a-z]` and `\x` escapes. Used by CONFIG GET; KEYS, SCAN MATCH
//! and pub/sub patterns follow the same rules.

/// True if `string` matches `pattern`; `nocase` compares ASCII letters
/// case-insensitively.
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let eq = |a: u8, b: u8| {
        if nocase {
            a.eq_ignore_ascii_case(&b)
        } else {
            a == b
        }
    };
    let (mut p, mut s) = (0, 0);
    while p < pattern.len() {
        match pattern[p] {
            b'*' => {
                while p + 1 < pattern.len() && pattern[p + 1] == b'*' {
                    p += 1;
                }
                if p + 1 == pattern.len() {
                    return true;
                }
                return (s..=string.len())
                    .any(|start| glob_match(&pattern[p + 1..], &string[start..], nocase));
            }
            b'?' => {
                if s >= string.len() {
                    return false;
                }
                s += 1;
            }
            b'[' => {
                if s >= string.len() {
                    return false;
                }
                p += 1;
                let not = pattern.get(p) == Some(&b'^');
                if not {
                    p += 1;
                }
                let mut matched = false;
                loop {
                    match pattern.get(p) {
                        None => {
                            p -= 1; // an unterminated class ends the pattern
                            break;
                        }
                        Some(b']') => break,
                        Some(b'\\') if p + 1 < pattern.len() => {
                            p += 1;
                            matched |= eq(pattern[p], string[s]);
                        }
                        Some(&start)
                            if pattern.get(p + 1) == Some(&b'-') && p + 2 < pattern.len() =>
                        {
                            let mut end = pattern[p + 2];
                            let mut start = start;
                            if start > end {
                                std::mem::swap(&mut start, &mut end);
                            }
                            let mut c = string[s];
                            if nocase {
                                c = c.to_ascii_lowercase();
                                start = start.to_ascii_lowercase();
                                end = end.to_ascii_lowercase();
                            }
                            matched |= (start..=end).contains(&c);
                            p += 2;
                        }
                        Some(&c) => matched |= eq(c, string[s]),
                    }
                    p += 1;
                }
                if matched == not {
                    return false;
                }
                s += 1;
            }
            b'\\' if p + 1 < pattern.len() => {
                p += 1;
                if s >= string.len() || !eq(pattern[p], string[s]) {
                    return false;
                }
                s += 1;
            }
            c => {
                if s >= string.len() || !eq(c, string[s]) {
                    return false;
                }
                s += 1;
            }
        }
        p += 1;
    }
    s == string.len()
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    #[test]
    fn patterns() {
        let m = |p: &str, s: &str| glob_match(p.as_bytes(), s.as_bytes(), false);
        assert!(m("*", ""));
        assert!(m("*mem*", "maxmemory"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("port\\*", "port*"));
        assert!(!m("port\\*", "port"));
        assert!(!m("a*b", "acbd"));
        assert!(glob_match(b"PORT", b"port", true));
        assert!(glob_match(b"[A-C]x", b"bx", true));
    }
}
