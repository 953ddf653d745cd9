//! Redis's glob-style pattern matching (`stringmatchlen` in `util.c`), used by
//! KEYS and SCAN MATCH, with the same quirks byte for byte.
//!
//! Redis matches recursively, one level per `*`, and since 7.0.9 stops early
//! (`skipLongerMatches`) once the rest of a pattern failed at every later
//! position, which keeps patterns like `*a*a*a*a*b` polynomial. Recursion
//! still costs one stack frame per `*`, so a pattern of a million stars could
//! overflow a thread's stack. This port gives the same answers iteratively
//! with the classic one-backtrack-point algorithm (O(pattern x string) time,
//! O(1) space); the tests check it against a direct port of Redis's recursion.
//!
//! The syntax, as Redis reads it:
//! * `*` any run of bytes, `?` any one byte, `\x` the byte `x` (a `\` at the
//!   very end is a literal `\`);
//! * `[...]` one byte from a class: `^` first negates it, `a-z` is a range
//!   whose ends may come in either order (`[z-a]`), `\x` is `x`. The class
//!   ends at the first `]` (so `[]` is an empty class and `[]]` is an empty
//!   class followed by `]`); an unterminated class runs to the end of the
//!   pattern. `[a-]` is the range from `a` to `]` (and unterminated).
//!   Range ends compare as C's signed `char`, so `[\x00-\xff]` is the range
//!   -1..=0 and matches only `\x00` and `\xff`, as in Redis on x86 and ARM64
//!   Linux builds.
//! * An empty string matches only the empty pattern (even `**` does not
//!   match it); KEYS and SCAN treat the pattern `*` as "everything" before
//!   matching, so `KEYS *` still lists a key named "".

/// True when `string` matches the glob `pattern` as Redis's `stringmatchlen`
/// (case-sensitive) decides.
pub fn glob_match(pattern: &[u8], string: &[u8]) -> bool {
    let p = pattern;
    let s = string;
    if s.is_empty() {
        return p.is_empty();
    }
    let (mut pi, mut si) = (0, 0);
    // The token after the latest `*`, and where in the string its match starts.
    let mut backtrack: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == b'*' {
            while pi < p.len() && p[pi] == b'*' {
                pi += 1;
            }
            if pi == p.len() {
                return true;
            }
            backtrack = Some((pi, si));
            continue;
        }
        if pi < p.len() {
            let (matched, next) = match_token(p, pi, s[si]);
            if matched {
                pi = next;
                si += 1;
                continue;
            }
        }
        // Let the latest `*` swallow one more byte and retry what follows it.
        // An earlier `*` never needs to: whatever it would swallow, the
        // latest one can (Redis's `skipLongerMatches` reasoning).
        let Some((after_star, start)) = backtrack else {
            return false;
        };
        pi = after_star;
        si = start + 1;
        backtrack = Some((after_star, si));
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// Matches the one-byte token at `p[pi]` (not `*`) against `c`; returns
/// whether it matched and where the next token starts.
fn match_token(p: &[u8], pi: usize, c: u8) -> (bool, usize) {
    match p[pi] {
        b'?' => (true, pi + 1),
        b'[' => match_class(p, pi + 1, c),
        b'\\' if pi + 1 < p.len() => (p[pi + 1] == c, pi + 2),
        literal => (literal == c, pi + 1),
    }
}

/// Matches the class whose body starts at `p[i]` (after `[`) against `c`,
/// exactly as `stringmatchlen`'s `case '['` loop walks it.
fn match_class(p: &[u8], mut i: usize, c: u8) -> (bool, usize) {
    let negated = p.get(i) == Some(&b'^');
    if negated {
        i += 1;
    }
    let mut matched = false;
    loop {
        let rest = p.len() - i;
        if rest >= 2 && p[i] == b'\\' {
            i += 1;
            matched |= p[i] == c;
        } else if rest == 0 {
            // Unterminated: the class ends with the pattern.
            return (matched != negated, p.len());
        } else if p[i] == b']' {
            return (matched != negated, i + 1);
        } else if rest >= 3 && p[i + 1] == b'-' {
            // C's `char` is signed: compare as i8.
            let (a, b) = (p[i] as i8, p[i + 2] as i8);
            let (lo, hi) = if a > b { (b, a) } else { (a, b) };
            matched |= (lo..=hi).contains(&(c as i8));
            i += 2;
        } else {
            matched |= p[i] == c;
        }
        i += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::Rng;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes())
    }

    /// A direct port of Redis 7.0.15's recursive `stringmatchlen_impl`
    /// (nocase off), to check the iterative version against. Past the end of
    /// the pattern, C reads the terminating NUL: `at` returns 0 there.
    fn redis_match(p: &[u8], s: &[u8]) -> bool {
        let mut skip = false;
        redis_impl(p, s, &mut skip)
    }

    fn redis_impl(p: &[u8], s: &[u8], skip_longer: &mut bool) -> bool {
        let at = |p: &[u8], i: usize| p.get(i).copied().unwrap_or(0);
        let (mut p, mut s) = (p, s);
        while !p.is_empty() && !s.is_empty() {
            match p[0] {
                b'*' => {
                    while !p.is_empty() && at(p, 1) == b'*' {
                        p = &p[1..];
                    }
                    if p.len() == 1 {
                        return true;
                    }
                    while !s.is_empty() {
                        if redis_impl(&p[1..], s, skip_longer) {
                            return true;
                        }
                        if *skip_longer {
                            return false;
                        }
                        s = &s[1..];
                    }
                    *skip_longer = true;
                    return false;
                }
                b'?' => s = &s[1..],
                b'[' => {
                    // `pos` indexes `p`; `len` is C's patternLen.
                    let mut pos = 1;
                    let not = at(p, pos) == b'^';
                    if not {
                        pos += 1;
                    }
                    let mut matched = false;
                    loop {
                        let len = p.len() - pos;
                        if at(p, pos) == b'\\' && len >= 2 {
                            pos += 1;
                            if at(p, pos) == s[0] {
                                matched = true;
                            }
                        } else if at(p, pos) == b']' {
                            break;
                        } else if len == 0 {
                            pos -= 1;
                            break;
                        } else if len >= 3 && at(p, pos + 1) == b'-' {
                            let mut start = at(p, pos) as i8;
                            let mut end = at(p, pos + 2) as i8;
                            if start > end {
                                std::mem::swap(&mut start, &mut end);
                            }
                            pos += 2;
                            let c = s[0] as i8;
                            if c >= start && c <= end {
                                matched = true;
                            }
                        } else if at(p, pos) == s[0] {
                            matched = true;
                        }
                        pos += 1;
                    }
                    if not {
                        matched = !matched;
                    }
                    if !matched {
                        return false;
                    }
                    s = &s[1..];
                    p = &p[pos..];
                }
                b'\\' if p.len() >= 2 => {
                    p = &p[1..];
                    if p[0] != s[0] {
                        return false;
                    }
                    s = &s[1..];
                }
                c => {
                    if c != s[0] {
                        return false;
                    }
                    s = &s[1..];
                }
            }
            p = &p[1..];
            if s.is_empty() {
                while at(p, 0) == b'*' {
                    p = &p[1..];
                }
                break;
            }
        }
        p.is_empty() && s.is_empty()
    }

    #[test]
    fn stars_and_question_marks() {
        assert!(m("*", "abc"));
        assert!(m("a*", "a"));
        assert!(m("a*", "abc"));
        assert!(m("*c", "abc"));
        assert!(m("a*c", "ac"));
        assert!(m("a*b*c", "aXbYc"));
        assert!(!m("a*b*c", "aXbY"));
        assert!(m("a**", "a"));
        assert!(m("***a***", "a"));
        assert!(m("?", "x"));
        assert!(!m("?", "xy"));
        assert!(m("?*", "xy"));
        assert!(m("h?llo", "hello"));
        assert!(!m("h?llo", "hllo"));
        assert!(!m("abc", "abcd"));
        assert!(!m("abcd", "abc"));
    }

    #[test]
    fn empty_string_matches_only_the_empty_pattern() {
        assert!(m("", ""));
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(!m("", "a"));
    }

    #[test]
    fn escapes() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("\\a", "a"));
        assert!(m("\\", "\\"));
        assert!(m("a\\", "a\\"));
        assert!(m("\\?", "?"));
        assert!(!m("\\?", "x"));
        assert!(m("*\\*", "abc*"));
    }

    #[test]
    fn classes() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("[z-a]", "x"), "reversed range");
        assert!(m("[!a]", "!"), "! is a literal");
        assert!(m("[a\\-c]", "-"));
        assert!(!m("[a\\-c]", "b"));
        assert!(m("[\\]]", "]"));
        assert!(m("[[]", "["));
        assert!(m("[\\-]", "-"));
    }

    /// Cases checked against redis-server 7.0.15 with KEYS.
    #[test]
    fn class_quirks_as_redis() {
        // `[a-]` is the range a..=']' (93..=97), unterminated.
        for c in ["]", "^", "_", "`", "a"] {
            assert!(m("[a-]", c), "{c}");
        }
        assert!(!m("[a-]", "-"));
        assert!(!m("[a-]", "b"));
        // An empty class matches nothing; `[]]` is it followed by `]`.
        assert!(!m("[]", "a"));
        assert!(!m("[]]", "]"));
        assert!(!m("[]]", "]]"), "the empty class matches no byte");
        assert!(m("[^]]", "x]"), "a negated empty class matches any byte");
        // Unterminated classes.
        assert!(!m("[", "["));
        assert!(m("[^", "x"));
        assert!(m("[a", "a"));
        assert!(m("[\\", "\\"));
        // Signed-char ranges.
        let b = |p: &[u8], s: &[u8]| glob_match(p, s);
        assert!(b(b"[\x00-\xff]", b"\x00"));
        assert!(b(b"[\x00-\xff]", b"\xff"));
        assert!(!b(b"[\x00-\xff]", b"\x80"));
        assert!(!b(b"[\x00-\xff]", b"a"));
        assert!(b(b"[\x80-\xff]", b"\x80"));
        assert!(b(b"[\x80-\xff]", b"\xff"));
        assert!(!b(b"[\x80-\xff]", b"\x7f"));
    }

    #[test]
    fn abusive_patterns_are_fast() {
        let s = "a".repeat(10_000);
        let p = format!("{}b", "*a".repeat(50));
        assert!(!m(&p, &s));
        let p = "*".repeat(1_000_000) + "b";
        assert!(!m(&p, &s));
        let p = "*a".repeat(100_000);
        assert!(m(&p, &"a".repeat(100_000)));
    }

    #[test]
    fn agrees_with_redis_recursion_on_random_cases() {
        let mut rng = Rng::new(7);
        let pattern_bytes = b"ab*?[]^-\\\x80\xff";
        let string_bytes = b"ab-]^\\[*\x80\xff";
        for _ in 0..300_000 {
            let plen = rng.below(9) as usize;
            let slen = rng.below(7) as usize;
            let p: Vec<u8> = (0..plen)
                .map(|_| pattern_bytes[rng.below(pattern_bytes.len() as u64) as usize])
                .collect();
            let s: Vec<u8> = (0..slen)
                .map(|_| string_bytes[rng.below(string_bytes.len() as u64) as usize])
                .collect();
            assert_eq!(
                glob_match(&p, &s),
                redis_match(&p, &s),
                "pattern {p:?} string {s:?}"
            );
        }
    }
}
