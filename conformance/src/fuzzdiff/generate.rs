//! The table of protocol case classes and the seeded generator over it.
//! Case `i` is of class `i mod classes`, so any run of at least as many
//! cases as there are classes covers every class, and draws from its own
//! stream of the seed, so a longer run starts with the cases of a shorter one.
//!
//! Cases run at once on shared servers, so each must only ever hear its
//! own messages: generators write `~.` where a subject starts, and it
//! becomes the case's own prefix (`c00017.` for case 17). No generator
//! subscribes to a subject outside its prefix.

use super::case::{Case, Set};
use super::{gen_auth, gen_connect, gen_ops};
use crate::rng::Rng;

/// A class: its name, its server set, and how to make one of its inputs.
pub struct Class {
    pub name: &'static str,
    pub set: Set,
    pub make: fn(&mut Rng) -> Vec<Vec<u8>>,
}

const fn class(name: &'static str, set: Set, make: fn(&mut Rng) -> Vec<Vec<u8>>) -> Class {
    Class { name, set, make }
}

/// Every protocol class, in the order cases cycle through them.
pub const CLASSES: &[Class] = &[
    class("connect-key-case", Set::Open, gen_connect::key_case),
    class("connect-dup-key", Set::Open, gen_connect::dup_key),
    class("connect-bad-utf8", Set::Open, gen_connect::bad_utf8),
    class("connect-surrogate", Set::Open, gen_connect::surrogate),
    class("connect-deep-nesting", Set::Open, gen_connect::deep_nesting),
    class("connect-numbers", Set::Open, gen_connect::numbers),
    class("connect-wrong-type", Set::Open, gen_connect::wrong_type),
    class("connect-trailing", Set::Open, gen_connect::trailing),
    class("connect-truncated", Set::Open, gen_connect::truncated),
    class("connect-empty", Set::Open, gen_connect::empty),
    class("connect-non-object", Set::Open, gen_connect::non_object),
    class(
        "connect-unicode-escape",
        Set::Open,
        gen_connect::unicode_escape,
    ),
    class(
        "connect-control-bytes",
        Set::Open,
        gen_connect::control_bytes,
    ),
    class(
        "connect-random-fields",
        Set::Open,
        gen_connect::random_fields,
    ),
    class("auth-password", Set::Auth, gen_auth::password_check),
    class("auth-key-case", Set::Auth, gen_auth::key_case),
    class("auth-dup-key", Set::Auth, gen_auth::dup_key),
    class("auth-switch-user", Set::Auth, gen_auth::switch_user),
    class("auth-before-connect", Set::Auth, gen_auth::before_connect),
    class("pub-bad-size", Set::Open, gen_ops::pub_bad_size),
    class("hpub-bad-header", Set::Open, gen_ops::hpub_bad),
    class("bad-subject", Set::Open, gen_ops::bad_subject),
    class("sub-unsub-args", Set::Open, gen_ops::sub_args),
    class("ctrl-line-overflow", Set::Open, gen_ops::ctrl_overflow),
    class("bare-lf", Set::Open, gen_ops::bare_lf),
    class("lower-case-op", Set::Open, gen_ops::lower_case),
    class("tabs", Set::Open, gen_ops::tabs),
    class("cr-without-lf", Set::Open, gen_ops::cr_no_lf),
    class("random-bytes", Set::Open, gen_ops::random_bytes),
    class("split-stream", Set::Open, gen_ops::split_stream),
    class("mutated-stream", Set::Open, gen_ops::mutated_stream),
    class("pipeline-after-error", Set::Open, gen_ops::after_error),
];

/// The stream of the seed that protocol cases draw from.
const STREAM: u64 = 1;

/// What generators write where the case's subject prefix goes.
const PLACEHOLDER: &[u8] = b"~.";

/// The length of a case's subject prefix (`c00017.`).
pub const PREFIX_LEN: usize = 7;

fn prefix(index: usize) -> String {
    format!("c{index:05}.")
}

/// `chunk` with every placeholder replaced by `prefix`.
fn expand(chunk: &[u8], prefix: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(chunk.len());
    let mut rest = chunk;
    while !rest.is_empty() {
        if rest.starts_with(PLACEHOLDER) {
            out.extend_from_slice(prefix.as_bytes());
            rest = &rest[PLACEHOLDER.len()..];
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// `n` protocol cases for `seed`.
pub fn cases(seed: u64, n: usize) -> Vec<Case> {
    (0..n)
        .map(|i| {
            let class = &CLASSES[i % CLASSES.len()];
            let mut rng = Rng::for_case(seed, STREAM, i as u64);
            let prefix = prefix(i);
            Case {
                name: format!("{}#{i}", class.name),
                class: class.name,
                set: class.set,
                chunks: (class.make)(&mut rng)
                    .iter()
                    .map(|c| expand(c, &prefix))
                    .collect(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn the_same_seed_gives_the_same_cases() {
        assert_eq!(cases(7, 200), cases(7, 200));
        assert_ne!(cases(7, 200), cases(8, 200));
    }

    #[test]
    fn a_longer_run_starts_with_the_shorter_one() {
        assert_eq!(cases(3, 500)[..100], cases(3, 100)[..]);
    }

    #[test]
    fn every_class_is_produced_and_names_are_unique() {
        let all = cases(1, CLASSES.len() * 3);
        let classes: HashSet<&str> = all.iter().map(|c| c.class).collect();
        assert_eq!(classes.len(), CLASSES.len());
        let names: HashSet<&str> = all.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names.len(), all.len());
        assert!(all.iter().all(|c| !c.chunks.concat().is_empty()));
    }

    #[test]
    fn prefixes_have_their_fixed_length_and_are_expanded() {
        assert_eq!(prefix(17).len(), PREFIX_LEN);
        assert_eq!(prefix(99_999).len(), PREFIX_LEN);
        assert_eq!(
            expand(b"SUB ~.> 1\r\nPUB a.~.x", "c00001."),
            b"SUB c00001.> 1\r\nPUB a.c00001.x"
        );
    }

    /// Whether a SUB of `subject` could hear another case: a valid subject
    /// outside the case's prefix.
    fn hears_others(subject: &[u8], prefix: &str) -> bool {
        let text = String::from_utf8_lossy(subject);
        let valid = !text.is_empty()
            && text
                .split('.')
                .all(|t| !t.is_empty() && !t.contains(char::is_whitespace));
        valid && !text.contains(prefix)
    }

    #[test]
    fn no_case_subscribes_outside_its_prefix() {
        for (i, case) in cases(9, CLASSES.len() * 20).iter().enumerate() {
            if case.class == "random-bytes" {
                continue;
            }
            let bytes = case.chunks.concat();
            for line in bytes.split(|b| *b == b'\n') {
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let upper = line.to_ascii_uppercase();
                if !upper.starts_with(b"SUB") || upper.starts_with(b"SUB\r") {
                    continue;
                }
                let args: Vec<&[u8]> = line[3..]
                    .split(|b| *b == b' ' || *b == b'\t')
                    .filter(|t| !t.is_empty())
                    .collect();
                if let Some(subject) = args.first().filter(|_| args.len() >= 2) {
                    assert!(
                        !hears_others(subject, &prefix(i)),
                        "{}: {}",
                        case.name,
                        String::from_utf8_lossy(line)
                    );
                }
            }
        }
    }

    #[test]
    fn auth_classes_run_on_the_auth_set() {
        for c in cases(1, CLASSES.len()) {
            assert_eq!(
                c.set == Set::Auth,
                c.class.starts_with("auth-"),
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn most_cases_end_with_a_ping() {
        let all = cases(5, 600);
        let pinged = all
            .iter()
            .filter(|c| c.chunks.concat().ends_with(b"PING\r\n"))
            .count();
        assert!(pinged * 10 >= all.len() * 9, "{pinged} of {}", all.len());
    }

    #[test]
    fn a_split_stream_is_several_writes_of_a_valid_stream() {
        let split: Vec<Case> = cases(2, 600)
            .into_iter()
            .filter(|c| c.class == "split-stream")
            .collect();
        assert!(split.iter().any(|c| c.chunks.len() > 1));
        assert!(split
            .iter()
            .all(|c| c.chunks.concat().ends_with(b"PING\r\n")));
    }
}
