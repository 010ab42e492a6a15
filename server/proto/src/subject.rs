//! Subject syntax checks, with the same rules as the Go server.
//!
//! Subjects are `.`-separated tokens; `*` matches one token and `>` (last
//! token only) matches one or more.

/// Token separator.
pub const SEP: u8 = b'.';
/// Single-token wildcard.
pub const PWC: u8 = b'*';
/// Full (tail) wildcard.
pub const FWC: u8 = b'>';

/// A valid subject for a subscription: non-empty tokens, no whitespace,
/// `>` only as the last token.
pub fn is_valid_subject(subject: &[u8]) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut seen_fwc = false;
    for t in subject.split(|&b| b == SEP) {
        if t.is_empty() || seen_fwc {
            return false;
        }
        if t.len() > 1 {
            if t.iter()
                .any(|b| matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' '))
            {
                return false;
            }
            continue;
        }
        match t[0] {
            FWC => seen_fwc = true,
            b' ' | b'\t' | b'\n' | b'\r' | 0x0c => return false,
            _ => {}
        }
    }
    true
}

/// A subject with no empty token and no wildcard token (what pedantic
/// publishers must use).
pub fn is_valid_literal_subject(subject: &[u8]) -> bool {
    subject
        .split(|&b| b == SEP)
        .all(|t| !t.is_empty() && !(t.len() == 1 && (t[0] == PWC || t[0] == FWC)))
}

/// True when no token is a lone `*` or `>`.
pub fn is_literal(subject: &[u8]) -> bool {
    for (i, &c) in subject.iter().enumerate() {
        if (c == PWC || c == FWC)
            && (i == 0 || subject[i - 1] == SEP)
            && (i + 1 == subject.len() || subject[i + 1] == SEP)
        {
            return false;
        }
    }
    true
}

/// Whether every subject matched by `subject` is also matched by `test`
/// (wildcards in `test` cover tokens of `subject`).
pub fn is_subset_match(subject: &str, test: &str) -> bool {
    let toks: Vec<&str> = subject.split('.').collect();
    let test: Vec<&str> = test.split('.').collect();
    subset_tokens(&toks, &test)
}

fn subset_tokens(tokens: &[&str], test: &[&str]) -> bool {
    for (i, t2) in test.iter().enumerate() {
        if i >= tokens.len() {
            return false;
        }
        let t1 = tokens[i];
        if *t2 == ">" {
            return true;
        }
        if t1 == ">" {
            return false;
        }
        if *t2 == "*" {
            continue;
        }
        if t1 == "*" || t1 != *t2 {
            return false;
        }
    }
    tokens.len() == test.len()
}

/// Whether literal subject `literal` is matched by pattern `pattern`.
pub fn matches(pattern: &[u8], literal: &[u8]) -> bool {
    let mut p = pattern.split(|&b| b == SEP);
    let mut l = literal.split(|&b| b == SEP);
    loop {
        match (p.next(), l.next()) {
            (None, None) => return true,
            (Some(b">"), Some(_)) => return true,
            (Some(b"*"), Some(_)) => {}
            (Some(a), Some(b)) if a == b => {}
            _ => return false,
        }
    }
}

/// Whether some subject could match both `a` and `b` (Go's
/// `SubjectsCollide`): imports whose subjects collide form cycles.
pub fn subjects_collide(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let t1: Vec<&str> = a.split('.').collect();
    let t2: Vec<&str> = b.split('.').collect();
    let (pwc1, fwc1) = wildcards_of(&t1);
    let (pwc2, fwc2) = wildcards_of(&t2);
    let (lit1, lit2) = (!(pwc1 || fwc1), !(pwc2 || fwc2));
    if lit1 && lit2 {
        return false;
    }
    if lit1 {
        return subset_tokens(&t1, &t2);
    }
    if lit2 {
        return subset_tokens(&t2, &t1);
    }
    if !fwc1 && !fwc2 && t1.len() != t2.len() {
        return false;
    }
    if (t1.len() < t2.len() && !fwc1) || (t2.len() < t1.len() && !fwc2) {
        return false;
    }
    t1.iter().zip(&t2).all(|(x, y)| tokens_can_match(x, y))
}

/// Whether any token is `*`, and whether any is `>`.
fn wildcards_of(toks: &[&str]) -> (bool, bool) {
    (toks.contains(&"*"), toks.contains(&">"))
}

/// Go compares first bytes: a token starting with `*` or `>` can match.
fn tokens_can_match(a: &str, b: &str) -> bool {
    let wild = |t: &str| t.starts_with(['*', '>']);
    !a.is_empty() && !b.is_empty() && (wild(a) || wild(b) || a == b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_that_collide() {
        assert!(!subjects_collide("foo.*", "foo.*.bar.>"));
        assert!(!subjects_collide("foo.*.bar.>", "foo.*"));
        assert!(subjects_collide("foo.*", "foo.foo"));
        assert!(subjects_collide("foo.*", "*.foo"));
        assert!(subjects_collide("foo.bar.>", "*.bar.foo"));
        assert!(!subjects_collide("foo.bar", "foo.baz"));
    }

    #[test]
    fn valid_subjects() {
        for s in [
            "foo",
            "foo.bar",
            "foo.*",
            "foo.>",
            "*",
            ">",
            "foo.*.bar",
            "foo*.bar",
        ] {
            assert!(is_valid_subject(s.as_bytes()), "{s}");
        }
        for s in [
            "",
            ".",
            "foo.",
            ".foo",
            "foo..bar",
            "foo.>.bar",
            "foo bar",
            "foo.\tx",
            ">.x",
        ] {
            assert!(!is_valid_subject(s.as_bytes()), "{s}");
        }
    }

    #[test]
    fn literal_subjects() {
        assert!(is_valid_literal_subject(b"foo.bar"));
        assert!(is_valid_literal_subject(b"foo*.bar>"));
        assert!(!is_valid_literal_subject(b"foo.*"));
        assert!(!is_valid_literal_subject(b"foo.>"));
        assert!(!is_valid_literal_subject(b"foo..bar"));
        assert!(is_literal(b"foo*.bar"));
        assert!(!is_literal(b"foo.*.bar"));
    }

    #[test]
    fn subset_and_match() {
        assert!(is_subset_match("foo.bar", "foo.*"));
        assert!(is_subset_match("foo.*", "foo.>"));
        assert!(!is_subset_match("foo.>", "foo.*"));
        assert!(!is_subset_match("foo", "foo.*"));
        assert!(matches(b"foo.*", b"foo.bar"));
        assert!(matches(b"foo.>", b"foo.bar.baz"));
        assert!(!matches(b"foo.>", b"foo"));
        assert!(!matches(b"foo.*", b"foo.bar.baz"));
        assert!(matches(b"foo", b"foo"));
    }
}
