//! Subject mappings (`mappings` / `maps`): a message a client publishes on a
//! subject matching a mapping's source is delivered on a destination
//! subject instead. A source may have several destinations, each with a
//! weight in percent; each message picks one at random by weight, and what
//! the weights leave below 100 keeps the original subject (unless the
//! source is itself listed, which makes the rest a loss).
//!
//! Destinations of a wildcard source rebuild the subject from its tokens:
//! `$N` and `{{wildcard(N)}}` insert the N-th wildcard's token, and the
//! functions `partition`, `split`, `splitFromLeft`, `splitFromRight`,
//! `sliceFromLeft` and `sliceFromRight` transform them.
//!
//! Destinations scoped to a `cluster` apply only when the server's cluster
//! has that name; otherwise the unscoped ones do.

use std::fmt;

/// One configured destination of a mapping.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDest {
    pub subject: String,
    /// Percent, 0 to 100.
    pub weight: u8,
    /// Only on a server of this cluster; empty for everywhere.
    pub cluster: String,
}

impl MapDest {
    pub fn new(subject: &str, weight: u8) -> Self {
        Self {
            subject: subject.to_string(),
            weight,
            cluster: String::new(),
        }
    }
}

/// One configured mapping: a source subject and its destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MappingConfig {
    pub src: String,
    pub dests: Vec<MapDest>,
}

/// Why a mapping or a destination was refused, with Go's texts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MappingError {
    /// "invalid subject"
    BadSubject,
    Duplicate(String),
    WeightOver100,
    TotalOver100,
    /// A destination problem, naming the token at fault when there is one.
    Destination(DestError, Option<String>),
}

/// The kinds of invalid mapping destinations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DestError {
    InvalidSubject,
    NotUsingAllWildcards,
    UnknownFunction,
    IndexOutOfRange,
    NotEnoughArguments,
    InvalidArgument,
    TooManyArguments,
}

impl fmt::Display for DestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self {
            DestError::InvalidSubject => "invalid subject",
            DestError::NotUsingAllWildcards => "not using all of the token wildcard(s)",
            DestError::UnknownFunction => "unknown function",
            DestError::IndexOutOfRange => "wildcard index out of range",
            DestError::NotEnoughArguments => "not enough arguments passed to the function",
            DestError::InvalidArgument => "function argument is invalid or in the wrong format",
            DestError::TooManyArguments => "too many arguments passed to the function",
        };
        write!(f, "invalid mapping destination: {what}")
    }
}

impl fmt::Display for MappingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MappingError::BadSubject => write!(f, "invalid subject"),
            MappingError::Duplicate(s) => write!(f, "duplicate entry for {}", go_q(s)),
            MappingError::WeightOver100 => write!(f, "individual weights need to be <= 100"),
            MappingError::TotalOver100 => write!(f, "total weight needs to be <= 100"),
            MappingError::Destination(e, None) => write!(f, "{e}"),
            MappingError::Destination(e, Some(t)) => write!(f, "{e} in {t}"),
        }
    }
}

/// Go's `%q` of a string (what mapping error texts use).
pub fn go_q(s: &str) -> String {
    crate::quote::go_quote(s.as_bytes())
}

fn dest_err(e: DestError, token: &str) -> MappingError {
    MappingError::Destination(e, Some(token.to_string()))
}

/// Go's subject check for mapping sources: non-empty tokens, no
/// whitespace, `>` last.
pub fn is_valid_subject(s: &str) -> bool {
    crate::subject::is_valid_subject(s.as_bytes())
}

/// Tokens, whether it is a valid subject, its `*` count and whether it ends
/// in `>` (whitespace is not checked).
fn subject_info(s: &str) -> Option<(Vec<&str>, usize, bool)> {
    if s.is_empty() {
        return None;
    }
    let toks: Vec<&str> = s.split('.').collect();
    let mut pwcs = 0;
    let mut fwc = false;
    for t in &toks {
        if t.is_empty() || fwc {
            return None;
        }
        match *t {
            ">" => fwc = true,
            "*" => pwcs += 1,
            _ => {}
        }
    }
    Some((toks, pwcs, fwc))
}

// ------------------------------------------------------------ functions

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Func {
    Wildcard,
    Partition,
    SplitFromLeft,
    SplitFromRight,
    SliceFromLeft,
    SliceFromRight,
    Split,
}

/// In the order a token is tried against them. An upper-case letter of a
/// name also matches its lower case (Go accepts `splitFromLeft`,
/// `SplitFromLeft`, `splitfromleft`, but not `SPLITFROMLEFT`).
const FUNCS: [(&str, Func); 7] = [
    ("Wildcard", Func::Wildcard),
    ("Partition", Func::Partition),
    ("SplitFromLeft", Func::SplitFromLeft),
    ("SplitFromRight", Func::SplitFromRight),
    ("SliceFromLeft", Func::SliceFromLeft),
    ("SliceFromRight", Func::SliceFromRight),
    ("Split", Func::Split),
];

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0c)
}

fn trim_ws_start(s: &str) -> &str {
    s.trim_start_matches(|c: char| c.is_ascii() && is_ws(c as u8))
}

fn trim_ws_end(s: &str) -> &str {
    s.trim_end_matches(|c: char| c.is_ascii() && is_ws(c as u8))
}

/// A `{{...}}` token (more than four bytes, braces at both ends).
fn is_mustache(t: &str) -> bool {
    t.len() > 4 && t.starts_with("{{") && t.ends_with("}}")
}

/// The function a mustache token calls and the text between its
/// parentheses; None when it calls none we know.
fn function_of(token: &str) -> Option<(Func, &str)> {
    let inner = trim_ws_start(&token[2..]);
    let body = trim_ws_end(&token[..token.len() - 2]);
    let body = body.strip_suffix(')')?;
    for (name, f) in FUNCS {
        let Some(head) = inner.get(..name.len()) else {
            continue;
        };
        let same = head.bytes().zip(name.bytes()).all(|(h, n)| {
            if n.is_ascii_uppercase() {
                h.eq_ignore_ascii_case(&n)
            } else {
                h == n
            }
        });
        if !same {
            continue;
        }
        let rest = trim_ws_start(&inner[name.len()..]);
        let Some(args_start) = rest.strip_prefix('(') else {
            continue;
        };
        // The arguments run to the last ')' before the closing braces.
        let start = token.len() - args_start.len();
        if start > body.len() {
            continue;
        }
        return Some((f, &token[start..body.len()]));
    }
    None
}

/// Go splits function arguments at a comma and the spaces after it.
fn split_args(args: &str) -> Vec<&str> {
    args.split(',')
        .enumerate()
        .map(|(i, a)| if i == 0 { a } else { trim_ws_start(a) })
        .collect()
}

/// Go's Atoi after trimming spaces.
fn int_arg(a: &str) -> Option<i64> {
    let a = a.trim_matches(' ');
    if a.is_empty() {
        return None;
    }
    a.parse::<i64>().ok()
}

/// What one destination token does: the function, the wildcard indexes it
/// reads (1-based, as written), an int argument and a string argument.
type Placeholder = (Func, Vec<i64>, i32, String);

/// Reads a `$N` or `{{function(...)}}` token; None for a literal token.
fn placeholder(token: &str) -> Result<Option<Placeholder>, MappingError> {
    if token.len() <= 1 {
        return Ok(None);
    }
    if let Some(n) = token.strip_prefix('$') {
        // Anything else starting with '$' stays literal.
        return Ok(n
            .parse::<i64>()
            .ok()
            .map(|i| (Func::Wildcard, vec![i], -1, String::new())));
    }
    if !is_mustache(token) {
        return Ok(None);
    }
    let Some((f, args)) = function_of(token) else {
        return Err(dest_err(DestError::UnknownFunction, token));
    };
    let args = split_args(args);
    let bad = |e| Err(dest_err(e, token));
    match f {
        Func::Wildcard => {
            if args.len() == 1 && args[0].is_empty() {
                return bad(DestError::NotEnoughArguments);
            }
            if args.len() > 1 {
                return bad(DestError::TooManyArguments);
            }
            match int_arg(args[0]) {
                Some(i) => Ok(Some((f, vec![i], -1, String::new()))),
                None => bad(DestError::InvalidArgument),
            }
        }
        Func::Partition => {
            if args.len() < 2 {
                return bad(DestError::NotEnoughArguments);
            }
            let Some(n) = int_arg(args[0]) else {
                return bad(DestError::InvalidArgument);
            };
            let mut idx = Vec::new();
            for a in &args[1..] {
                match int_arg(a) {
                    Some(i) => idx.push(i),
                    None => return bad(DestError::InvalidArgument),
                }
            }
            Ok(Some((f, idx, n as i32, String::new())))
        }
        Func::Split => {
            if args.len() < 2 {
                return bad(DestError::NotEnoughArguments);
            }
            if args.len() > 2 {
                return bad(DestError::TooManyArguments);
            }
            let Some(i) = int_arg(args[0]) else {
                return bad(DestError::InvalidArgument);
            };
            if args[1].contains(' ') || args[1].contains('.') {
                return bad(DestError::InvalidArgument);
            }
            Ok(Some((f, vec![i], -1, args[1].to_string())))
        }
        _ => {
            if args.len() < 2 {
                return bad(DestError::NotEnoughArguments);
            }
            if args.len() > 2 {
                return bad(DestError::TooManyArguments);
            }
            match (int_arg(args[0]), int_arg(args[1])) {
                (Some(i), Some(n)) => Ok(Some((f, vec![i], n as i32, String::new()))),
                _ => bad(DestError::InvalidArgument),
            }
        }
    }
}

/// Go's check of a destination before its transform is built.
pub fn validate_destination(subject: &str) -> Result<(), MappingError> {
    let mut fwc = false;
    for t in subject.split('.') {
        if t.is_empty() || fwc {
            return Err(dest_err(DestError::InvalidSubject, t));
        }
        if is_mustache(t) {
            if function_of(t).is_none() {
                return Err(dest_err(DestError::UnknownFunction, t));
            }
            continue;
        }
        if t == ">" {
            fwc = true;
        } else if t
            .bytes()
            .any(|b| matches!(b, b'\t' | b'\n' | 0x0c | b'\r' | b' '))
        {
            return Err(MappingError::Destination(DestError::InvalidSubject, None));
        }
    }
    Ok(())
}

// ------------------------------------------------------------ transform

/// One destination token.
#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Literal(String),
    /// The source token at this position.
    Wildcard(usize),
    Partition(u32, Vec<usize>),
    SplitFromLeft(usize, i32),
    SplitFromRight(usize, i32),
    SliceFromLeft(usize, i32),
    SliceFromRight(usize, i32),
    Split(usize, String),
}

/// How a subject matching a source becomes a destination subject.
#[derive(Debug, Clone, PartialEq)]
pub struct Transform {
    src: String,
    dest: String,
    /// The number of source tokens.
    src_len: usize,
    /// Empty when the source has no wildcard: the destination is literal.
    toks: Vec<Tok>,
    /// The destination ends in `>`: the source's tail is appended.
    tail: bool,
}

impl Transform {
    /// Go's newTransform: checks that `src` and `dest` fit each other.
    pub fn new(src: &str, dest: &str) -> Result<Self, MappingError> {
        let (stoks, npwcs, sfwc) = subject_info(src).ok_or(MappingError::BadSubject)?;
        let (dtoks, dnpwcs, dfwc) = subject_info(dest).ok_or(MappingError::BadSubject)?;
        if dnpwcs > 0 || sfwc != dfwc {
            return Err(MappingError::BadSubject);
        }
        let mut toks = Vec::new();
        if npwcs > 0 || sfwc {
            // Source positions of the wildcards, by 1-based wildcard index.
            let positions: Vec<usize> = stoks
                .iter()
                .enumerate()
                .filter(|(_, t)| **t == "*")
                .map(|(i, _)| i)
                .collect();
            // Go reads an index it does not know as the first source token.
            let pos = |i: i64| -> usize {
                if i >= 1 && (i as usize) <= positions.len() {
                    positions[i as usize - 1]
                } else {
                    0
                }
            };
            let mut placeholders = 0;
            for t in &dtoks {
                let Some((f, idx, n, s)) = placeholder(t)? else {
                    toks.push(Tok::Literal(t.to_string()));
                    continue;
                };
                placeholders += 1;
                if let Some(i) = idx.iter().find(|i| **i > npwcs as i64) {
                    return Err(dest_err(DestError::IndexOutOfRange, &format!("{t}: [{i}]")));
                }
                let p: Vec<usize> = idx.iter().map(|i| pos(*i)).collect();
                toks.push(match f {
                    Func::Wildcard => Tok::Wildcard(p[0]),
                    Func::Partition => Tok::Partition(n as u32, p),
                    Func::SplitFromLeft => Tok::SplitFromLeft(p[0], n),
                    Func::SplitFromRight => Tok::SplitFromRight(p[0], n),
                    Func::SliceFromLeft => Tok::SliceFromLeft(p[0], n),
                    Func::SliceFromRight => Tok::SliceFromRight(p[0], n),
                    Func::Split => Tok::Split(p[0], s),
                });
            }
            if placeholders < npwcs {
                return Err(dest_err(DestError::NotUsingAllWildcards, dest));
            }
        }
        Ok(Self {
            src: src.to_string(),
            dest: dest.to_string(),
            src_len: stoks.len(),
            toks,
            tail: dtoks.last() == Some(&">"),
        })
    }

    /// The destination as configured.
    pub fn dest(&self) -> &str {
        &self.dest
    }

    /// The transform back from the destination to the source (Go's
    /// `reverse`): a stream import maps a subscriber's subject back to the
    /// exporter's with it. None when Go's reverse fails too.
    pub fn reverse(&self) -> Option<Transform> {
        if self.toks.is_empty() {
            return Transform::new(&self.dest, &self.src).ok();
        }
        let (src, mut placeholders) = untokenize(&self.dest);
        placeholders.reverse();
        let mut dest = Vec::new();
        for t in self.src.split('.') {
            if t == "*" {
                dest.push(placeholders.pop()?);
            } else {
                dest.push(t.to_string());
            }
        }
        Transform::new(&src, &dest.join(".")).ok()
    }

    /// Applies the transform to a whole subject, which is not checked
    /// against the source (Go's `transformSubject`).
    pub fn apply_subject(&self, subject: &str) -> String {
        let tokens: Vec<&str> = subject.split('.').collect();
        self.apply(&tokens)
    }

    /// The destination subject for `tokens`, a subject that matched the
    /// source.
    pub fn apply(&self, tokens: &[&str]) -> String {
        if self.toks.is_empty() {
            return self.dest.clone();
        }
        let mut b = String::with_capacity(self.dest.len() + 16);
        let last = self.toks.len() - 1;
        for (i, t) in self.toks.iter().enumerate() {
            let tok = |p: &usize| tokens.get(*p).copied().unwrap_or("");
            match t {
                Tok::Literal(l) => {
                    if l == ">" {
                        break;
                    }
                    b.push_str(l);
                }
                Tok::Wildcard(p) => b.push_str(tok(p)),
                Tok::Partition(n, ps) => {
                    let mut h = Fnv32a::new();
                    for p in ps {
                        h.write(tok(p).as_bytes());
                    }
                    // Go divides by the count as given; zero cannot be
                    // divided by, so everything goes to partition 0.
                    let part = if *n == 0 { 0 } else { h.sum() % n };
                    b.push_str(&part.to_string());
                }
                Tok::SplitFromLeft(p, at) => {
                    let s = tok(p);
                    let at = *at;
                    if at > 0 && (at as usize) < s.len() && s.is_char_boundary(at as usize) {
                        b.push_str(&s[..at as usize]);
                        b.push('.');
                        b.push_str(&s[at as usize..]);
                    } else {
                        b.push_str(s);
                    }
                }
                Tok::SplitFromRight(p, at) => {
                    let s = tok(p);
                    let at = *at;
                    let cut = s.len().wrapping_sub(at as usize);
                    if at > 0 && (at as usize) < s.len() && s.is_char_boundary(cut) {
                        b.push_str(&s[..cut]);
                        b.push('.');
                        b.push_str(&s[cut..]);
                    } else {
                        b.push_str(s);
                    }
                }
                Tok::SliceFromLeft(p, size) => {
                    slice_from_left(&mut b, tok(p).as_bytes(), *size);
                }
                Tok::SliceFromRight(p, size) => {
                    slice_from_right(&mut b, tok(p).as_bytes(), *size);
                }
                Tok::Split(p, delim) => split_token(&mut b, tok(p), delim),
            }
            if i < last {
                b.push('.');
            }
        }
        if self.tail {
            let from = self.src_len.saturating_sub(1);
            if from < tokens.len() {
                b.push_str(&tokens[from..].join("."));
            }
        }
        b
    }
}

fn push_bytes(b: &mut String, s: &[u8]) {
    b.push_str(&String::from_utf8_lossy(s));
}

fn slice_from_left(b: &mut String, s: &[u8], size: i32) {
    let len = s.len();
    if size <= 0 || size as usize >= len {
        push_bytes(b, s);
        return;
    }
    let size = size as usize;
    let mut i = 0;
    while i + size <= len {
        if i != 0 {
            b.push('.');
        }
        push_bytes(b, &s[i..i + size]);
        if i + size != len && i + 2 * size > len {
            b.push('.');
            push_bytes(b, &s[i + size..]);
            break;
        }
        i += size;
    }
}

fn slice_from_right(b: &mut String, s: &[u8], size: i32) {
    let len = s.len();
    if size <= 0 || size as usize >= len {
        push_bytes(b, s);
        return;
    }
    let size = size as usize;
    let rem = len % size;
    if rem > 0 {
        push_bytes(b, &s[..rem]);
        b.push('.');
    }
    let mut i = rem;
    while i + size <= len {
        push_bytes(b, &s[i..i + size]);
        if i + size < len {
            b.push('.');
        }
        i += size;
    }
}

/// Splits at each delimiter into tokens, leaving out empty pieces.
fn split_token(b: &mut String, s: &str, delim: &str) {
    let parts: Vec<&str> = if delim.is_empty() {
        // Go splits an empty delimiter into single characters.
        s.char_indices()
            .map(|(i, c)| &s[i..i + c.len_utf8()])
            .collect()
    } else {
        s.split(delim).collect()
    };
    for (j, part) in parts.iter().enumerate() {
        b.push_str(part);
        if j + 1 < parts.len() && !parts[j + 1].is_empty() && !(j == 0 && part.is_empty()) {
            b.push('.');
        }
    }
}

/// 32-bit FNV-1a, the hash partitions are chosen by.
struct Fnv32a(u32);

impl Fnv32a {
    fn new() -> Self {
        Self(0x811c_9dc5)
    }
    fn write(&mut self, data: &[u8]) {
        for &c in data {
            self.0 ^= u32::from(c);
            self.0 = self.0.wrapping_mul(0x0100_0193);
        }
    }
    fn sum(&self) -> u32 {
        self.0
    }
}

// ------------------------------------------------------------ mappings

/// A destination with the cumulative weight it is picked below.
#[derive(Debug, Clone, PartialEq)]
pub struct Weighted {
    pub transform: Transform,
    /// Cumulative percent: picked when a draw in 0..100 is below it.
    pub weight: u8,
}

/// A mapping ready for use.
#[derive(Debug, Clone, PartialEq)]
pub struct Mapping {
    pub src: String,
    wildcard: bool,
    pub dests: Vec<Weighted>,
    /// Destinations scoped to a cluster, by cluster name.
    pub cluster_dests: Vec<(String, Vec<Weighted>)>,
}

/// Go's transformTokenize: `foo.*.*` as the destination `foo.$1.$2`
/// (a wildcard import subject serves as a transform's destination so).
pub fn tokenize_wildcards(src: &str) -> String {
    let mut i = 0;
    src.split('.')
        .map(|t| {
            if t == "*" {
                i += 1;
                format!("${i}")
            } else {
                t.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

impl Mapping {
    /// Go's AddWeightedMappings checks and preparation.
    pub fn new(src: &str, dests: &[MapDest]) -> Result<Self, MappingError> {
        if !is_valid_subject(src) {
            return Err(MappingError::BadSubject);
        }
        let wildcard = !crate::subject::is_literal(src.as_bytes());
        let mut seen: Vec<&str> = Vec::new();
        let mut plain: Vec<(Transform, u8)> = Vec::new();
        let mut scoped: Vec<(String, Vec<(Transform, u8)>)> = Vec::new();
        let mut total: u32 = 0;
        for d in dests {
            if seen.contains(&d.subject.as_str()) {
                return Err(MappingError::Duplicate(d.subject.clone()));
            }
            seen.push(&d.subject);
            if d.weight > 100 {
                return Err(MappingError::WeightOver100);
            }
            total += u32::from(d.weight);
            if total > 100 {
                return Err(MappingError::TotalOver100);
            }
            validate_destination(&d.subject)?;
            let tr = Transform::new(src, &d.subject)?;
            if d.cluster.is_empty() {
                plain.push((tr, d.weight));
            } else if let Some((_, list)) = scoped.iter_mut().find(|(c, _)| *c == d.cluster) {
                list.push((tr, d.weight));
            } else {
                scoped.push((d.cluster.clone(), vec![(tr, d.weight)]));
            }
        }
        let has_src = seen.contains(&src);
        let finish = |mut list: Vec<(Transform, u8)>| -> Result<Vec<Weighted>, MappingError> {
            let sum: u32 = list.iter().map(|(_, w)| u32::from(*w)).sum();
            if sum != 100 && !has_src {
                let dest = if wildcard {
                    tokenize_wildcards(src)
                } else {
                    src.to_string()
                };
                let tr = Transform::new(src, &dest)?;
                let rest = if list.is_empty() {
                    100
                } else {
                    100 - sum as u8
                };
                list.push((tr, rest));
            }
            list.sort_by_key(|(_, w)| *w);
            let mut acc = 0u8;
            Ok(list
                .into_iter()
                .map(|(transform, w)| {
                    acc = acc.saturating_add(w);
                    Weighted {
                        transform,
                        weight: acc,
                    }
                })
                .collect())
        };
        let dests = finish(plain)?;
        let mut cluster_dests = Vec::new();
        for (c, list) in scoped {
            cluster_dests.push((c, finish(list)?));
        }
        Ok(Self {
            src: src.to_string(),
            wildcard,
            dests,
            cluster_dests,
        })
    }

    fn matches(&self, subject: &str, tokens: &[&str]) -> bool {
        if !self.wildcard {
            return self.src == subject;
        }
        subset_match(tokens, &self.src)
    }
}

/// Go's isSubsetMatch of a published subject's tokens against a source.
fn subset_match(tokens: &[&str], test: &str) -> bool {
    let mut n = 0;
    for (i, t2) in test.split('.').enumerate() {
        n = i + 1;
        let Some(t1) = tokens.get(i) else {
            return false;
        };
        if t2.is_empty() {
            return false;
        }
        if t2 == ">" {
            return true;
        }
        if t1.is_empty() || *t1 == ">" {
            return false;
        }
        if *t1 == "*" {
            if t2 != "*" {
                return false;
            }
            continue;
        }
        if t2 != "*" && t1 != &t2 {
            return false;
        }
    }
    tokens.len() == n
}

/// An account's mappings, in the order they were added, with the
/// destinations for this server's cluster picked.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MappingTable {
    entries: Vec<(Mapping, usize)>,
}

impl MappingTable {
    /// Builds the mappings of a config, for a server in cluster `cluster`
    /// (empty without one). A source configured again replaces the earlier
    /// one in place, as Go does.
    pub fn build(configs: &[MappingConfig], cluster: &str) -> Result<Self, MappingError> {
        let mut entries: Vec<(Mapping, usize)> = Vec::new();
        for c in configs {
            let m = Mapping::new(&c.src, &c.dests)?;
            let scoped = m
                .cluster_dests
                .iter()
                .position(|(name, _)| !cluster.is_empty() && name == cluster);
            let pick = scoped.map_or(usize::MAX, |i| i);
            match entries.iter_mut().find(|(e, _)| e.src == m.src) {
                Some(e) => *e = (m, pick),
                None => entries.push((m, pick)),
            }
        }
        Ok(Self { entries })
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn mappings(&self) -> impl Iterator<Item = &Mapping> {
        self.entries.iter().map(|(m, _)| m)
    }

    /// The subject a message published on `subject` goes to, or None when
    /// no mapping applies. An empty subject means the message is dropped.
    /// `draw` gives a uniform percent in 0..100 when weights must decide.
    pub fn select(&self, subject: &str, draw: impl FnOnce() -> u8) -> Option<String> {
        let tokens: Vec<&str> = subject.split('.').collect();
        let (m, pick) = self
            .entries
            .iter()
            .find(|(m, _)| m.matches(subject, &tokens))?;
        let dests = match m.cluster_dests.get(*pick) {
            Some((_, d)) => d,
            None => &m.dests,
        };
        let chosen = if dests.len() == 1 && dests[0].weight == 100 {
            dests.first()
        } else {
            let w = draw();
            dests.iter().find(|d| w < d.weight)
        };
        Some(chosen.map_or_else(String::new, |d| d.transform.apply(&tokens)))
    }
}

/// Go's `transformUntokenize`: each `$N` placeholder becomes `*`; returns
/// the subject and the placeholders in order.
pub fn untokenize(subject: &str) -> (String, Vec<String>) {
    let mut placeholders = Vec::new();
    let toks: Vec<&str> = subject
        .split('.')
        .map(|t| {
            let b = t.as_bytes();
            if b.len() > 1 && b[0] == b'$' && (b'1'..=b'9').contains(&b[1]) {
                placeholders.push(t.to_string());
                "*"
            } else {
                t
            }
        })
        .collect();
    (toks.join("."), placeholders)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_transforms_and_their_reverse() {
        assert_eq!(tokenize_wildcards("foo.*.bar.*"), "foo.$1.bar.$2");
        assert_eq!(
            untokenize("foo.$2.$1"),
            ("foo.*.*".into(), vec!["$2".into(), "$1".into()])
        );
        let t = Transform::new("foo.*.*", "bar.$2.$1").unwrap();
        assert_eq!(t.apply_subject("foo.a.b"), "bar.b.a");
        let r = t.reverse().unwrap();
        assert_eq!(r.apply_subject("bar.b.a"), "foo.a.b");
        let t = Transform::new("foo.>", "pre.foo.>").unwrap();
        assert_eq!(t.apply_subject("foo.x.y"), "pre.foo.x.y");
        assert_eq!(t.reverse().unwrap().apply_subject("pre.foo.x.y"), "foo.x.y");
    }
    use rand::rngs::SmallRng;
    use rand::{Rng, SeedableRng};

    fn err(src: &str, dest: &str) -> MappingError {
        validate_destination(dest)
            .and_then(|()| Transform::new(src, dest).map(|_| ()))
            .unwrap_err()
    }

    fn map(src: &str, dest: &str, sample: &str) -> String {
        validate_destination(dest).unwrap();
        let tr = Transform::new(src, dest).unwrap();
        let toks: Vec<&str> = sample.split('.').collect();
        assert!(subset_match(&toks, src) || src == sample);
        tr.apply(&toks)
    }

    #[test]
    fn transform_errors() {
        for (src, dest) in [
            ("foo.*.*", "bar.$2"),
            ("foo", ""),
            ("foo..", "bar"),
            ("foo.*", "bar.*"),
            ("foo.*", "bar.$2"),
            ("foo.*", "bar.$1.>"),
            ("foo.>", "bar.baz"),
            ("foo.*", "foo.$foo"),
            ("foo.*", "foo.{{wildcard(2)}}"),
            ("foo.*", "foo.{{unimplemented(1)}}"),
            ("foo.*", "foo.{{partition(10)}}"),
            ("foo.*", "foo.{{wildcard(foo)}}"),
            ("foo.*", "foo.{{wildcard()}}"),
            ("foo.*", "foo.{{wildcard(1,2)}}"),
            ("foo.*", "foo.{{ wildcard5) }}"),
            ("foo.*", "foo.{{splitLeft(2,2}}"),
        ] {
            let _ = err(src, dest);
        }
        assert_eq!(
            err("foo.*", "bar.$2").to_string(),
            "invalid mapping destination: wildcard index out of range in $2: [2]"
        );
        assert_eq!(
            err("foo.*.*", "bar.$2").to_string(),
            "invalid mapping destination: not using all of the token wildcard(s) in bar.$2"
        );
        assert_eq!(
            err("foo.*", "foo.{{unimplemented(1)}}").to_string(),
            "invalid mapping destination: unknown function in {{unimplemented(1)}}"
        );
        assert_eq!(err("foo.*", "bar.*").to_string(), "invalid subject");
    }

    #[test]
    fn transforms() {
        assert_eq!(map("foo", "bar", "foo"), "bar");
        assert_eq!(
            map("foo.*.bar.*.baz", "req.$2.$1", "foo.A.bar.B.baz"),
            "req.B.A"
        );
        assert_eq!(map("baz.>", "my.pre.>", "baz.1.2.3"), "my.pre.1.2.3");
        assert_eq!(map("baz.>", "foo.bar.>", "baz.1.2.3"), "foo.bar.1.2.3");
        assert_eq!(map("*", "foo.bar.$1", "foo"), "foo.bar.foo");
        assert_eq!(map("*", "{{splitfromleft(1,3)}}", "12345"), "123.45");
        assert_eq!(map("*", "{{SplitFromRight(1,3)}}", "12345"), "12.345");
        assert_eq!(
            map("*", "{{SliceFromLeft(1,3)}}", "1234567890"),
            "123.456.789.0"
        );
        assert_eq!(
            map("*", "{{SliceFromRight(1,3)}}", "1234567890"),
            "1.234.567.890"
        );
        assert_eq!(map("*", "{{split(1,-)}}", "-abc-def--ghi-"), "abc.def.ghi");
        assert_eq!(map("*", "{{split(1,-)}}", "abc-def--ghi-"), "abc.def.ghi");
        assert_eq!(
            map(
                "*.*",
                "{{split(2,-)}}.{{splitfromleft(1,2)}}",
                "foo.-abc-def--ghij-"
            ),
            "abc.def.ghij.fo.o"
        );
        assert_eq!(
            map("foo.*.*", "bar.{{wildcard(2)}}.$1", "foo.a.b"),
            "bar.b.a"
        );
        assert_eq!(map("bar.*.>", "baz.$1.>", "bar.1.2.3"), "baz.1.2.3");
    }

    #[test]
    fn partition_is_fnv1a() {
        // FNV-1a of "12" is 0x1deb2d6a.
        let p = map("foo.*.*", "p.$1.$2.{{partition(10,1,2)}}", "foo.1.2");
        assert_eq!(p, format!("p.1.2.{}", 0x1deb_2d6a_u32 % 10));
        // Go counts placeholders, not wildcards, when it checks they are
        // all used.
        assert_eq!(
            err("foo.*.*", "p.{{partition(10,1,2)}}").to_string(),
            "invalid mapping destination: not using all of the token wildcard(s) in p.{{partition(10,1,2)}}"
        );
    }

    #[test]
    fn weights() {
        assert_eq!(
            Mapping::new("foo", &[MapDest::new("bar", 150)]).unwrap_err(),
            MappingError::WeightOver100
        );
        assert_eq!(
            Mapping::new("foo", &[MapDest::new("bar", 50), MapDest::new("bar", 50)])
                .unwrap_err()
                .to_string(),
            "duplicate entry for \"bar\""
        );
        assert_eq!(
            Mapping::new("foo", &[MapDest::new("bar", 50), MapDest::new("baz", 60)]).unwrap_err(),
            MappingError::TotalOver100
        );
        let m = Mapping::new("foo", &[MapDest::new("bar", 50), MapDest::new("baz", 30)]).unwrap();
        let w: Vec<_> = m
            .dests
            .iter()
            .map(|d| (d.transform.dest().to_string(), d.weight))
            .collect();
        assert_eq!(
            w,
            [("foo".into(), 20), ("baz".into(), 50), ("bar".into(), 100)]
        );
        // Listing the source itself makes what is left a loss.
        let m = Mapping::new("foo", &[MapDest::new("foo", 80)]).unwrap();
        assert_eq!(m.dests.len(), 1);
        let t = MappingTable::build(
            &[MappingConfig {
                src: "foo".into(),
                dests: vec![MapDest::new("foo", 0)],
            }],
            "",
        )
        .unwrap();
        let mut rng = SmallRng::seed_from_u64(1);
        assert_eq!(
            t.select("foo", || rng.gen_range(0..100)),
            Some(String::new())
        );
    }

    #[test]
    fn weighted_distribution() {
        let t = MappingTable::build(
            &[MappingConfig {
                src: "foo".into(),
                dests: vec![MapDest::new("bar", 50), MapDest::new("baz", 30)],
            }],
            "",
        )
        .unwrap();
        let mut rng = SmallRng::seed_from_u64(7);
        let mut counts = std::collections::HashMap::new();
        for _ in 0..10_000 {
            *counts
                .entry(t.select("foo", || rng.gen_range(0..100)).unwrap())
                .or_insert(0) += 1;
        }
        for (s, want) in [("foo", 2000), ("bar", 5000), ("baz", 3000)] {
            let got = counts[s];
            assert!(
                (want * 8 / 10..=want * 12 / 10).contains(&got),
                "{s}: {got}"
            );
        }
    }

    #[test]
    fn cluster_scoped() {
        let cfg = [MappingConfig {
            src: "foo".into(),
            dests: vec![MapDest {
                subject: "bar".into(),
                weight: 100,
                cluster: "SYN".into(),
            }],
        }];
        let mut rng = SmallRng::seed_from_u64(1);
        let t = MappingTable::build(&cfg, "").unwrap();
        assert_eq!(
            t.select("foo", || rng.gen_range(0..100)).as_deref(),
            Some("foo")
        );
        let t = MappingTable::build(&cfg, "SYN").unwrap();
        assert_eq!(
            t.select("foo", || rng.gen_range(0..100)).as_deref(),
            Some("bar")
        );
        assert_eq!(t.select("other", || rng.gen_range(0..100)), None);
    }
}
