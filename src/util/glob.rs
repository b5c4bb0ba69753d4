//! Glob matching with Redis's `stringmatchlen` rules (`*`, `?`, `[abc]`, `[^a-z]`, `\x`), used by
//! KEYS, SCAN MATCH and CONFIG GET.
//!
//! Every token except `*` consumes exactly one byte, so a single backtrack point (the last `*`)
//! is enough: matching is O(pattern × subject) even for hostile patterns like `*a*a*a*b`.

/// Returns true when `subject` matches `pattern`.
pub fn glob_match(pattern: &[u8], subject: &[u8], nocase: bool) -> bool {
    let (mut p, mut s) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() && pattern[p] == b'*' {
            while p < pattern.len() && pattern[p] == b'*' {
                p += 1;
            }
            if p == pattern.len() {
                return true;
            }
            star = Some((p, s));
            continue;
        }
        if s == subject.len() {
            return p == pattern.len();
        }
        if p < pattern.len() {
            if let Some(next) = match_one(pattern, p, subject[s], nocase) {
                p = next;
                s += 1;
                continue;
            }
        }
        match star {
            Some((sp, ss)) if ss < subject.len() => {
                star = Some((sp, ss + 1));
                p = sp;
                s = ss + 1;
            }
            _ => return false,
        }
    }
}

fn fold(c: u8, nocase: bool) -> u8 {
    if nocase {
        c.to_ascii_lowercase()
    } else {
        c
    }
}

/// Matches the token at `pattern[p]` against byte `c`; returns the index after the token.
fn match_one(pattern: &[u8], mut p: usize, c: u8, nocase: bool) -> Option<usize> {
    match pattern[p] {
        b'?' => Some(p + 1),
        b'\\' if p + 1 < pattern.len() => {
            (fold(pattern[p + 1], nocase) == fold(c, nocase)).then_some(p + 2)
        }
        b'[' => {
            p += 1;
            let negate = p < pattern.len() && pattern[p] == b'^';
            if negate {
                p += 1;
            }
            let mut matched = false;
            loop {
                if p >= pattern.len() {
                    // Unterminated class: Redis treats the end of pattern as the closing bracket.
                    break;
                }
                if pattern[p] == b'\\' && p + 1 < pattern.len() {
                    p += 1;
                    if fold(pattern[p], nocase) == fold(c, nocase) {
                        matched = true;
                    }
                } else if pattern[p] == b']' {
                    p += 1;
                    break;
                } else if p + 2 < pattern.len() && pattern[p + 1] == b'-' {
                    let (mut lo, mut hi) = (fold(pattern[p], nocase), fold(pattern[p + 2], nocase));
                    if lo > hi {
                        std::mem::swap(&mut lo, &mut hi);
                    }
                    let ch = fold(c, nocase);
                    if ch >= lo && ch <= hi {
                        matched = true;
                    }
                    p += 2;
                } else if fold(pattern[p], nocase) == fold(c, nocase) {
                    matched = true;
                }
                p += 1;
                if p > pattern.len() {
                    break;
                }
            }
            (matched != negate).then_some(p.min(pattern.len()))
        }
        literal => (fold(literal, nocase) == fold(c, nocase)).then_some(p + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::glob_match;

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    #[test]
    fn matches_like_redis() {
        assert!(m("*", ""));
        assert!(m("h?llo", "hello"));
        assert!(m("h*llo", "heeeello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(m("h[b-a]llo", "hallo"));
        assert!(m("a\\*b", "a*b"));
        assert!(!m("a\\*b", "axb"));
        assert!(m("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaab"));
        assert!(!m("*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"));
        assert!(glob_match(b"MAX*", b"maxclients", true));
        assert!(!m("a?", "a"));
    }
}
