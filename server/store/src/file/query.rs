//! The file store's read-only questions: by filter, by subject, by time,
//! and which sequences are gone. Blocks whose per-subject state shows no
//! match are skipped without being read.

use super::block::MsgBlock;
use super::{to_msg, FileStore};
use crate::{subject_matches, SimpleState, StoreError, StoreMsg};
use std::collections::BTreeMap;

/// Past this many subjects in a block, finding whether a wildcard matches
/// any of them costs more than reading the block.
const WILDCARD_SCAN_MAX_SUBJECTS: usize = 32;

/// A subject filter, sorted by how it is best answered.
enum Filter<'a> {
    All,
    Literal(&'a str),
    Wild(&'a str),
}

impl<'a> Filter<'a> {
    fn new(filter: &'a str) -> Self {
        if filter.is_empty() || filter == ">" {
            Filter::All
        } else if natsd_proto::subject::is_literal(filter.as_bytes()) {
            Filter::Literal(filter)
        } else {
            Filter::Wild(filter)
        }
    }

    fn matches(&self, subject: &[u8]) -> bool {
        match self {
            Filter::All => true,
            Filter::Literal(f) => subject == f.as_bytes(),
            Filter::Wild(f) => std::str::from_utf8(subject).is_ok_and(|s| subject_matches(s, f)),
        }
    }

    /// The per-subject states of a block that match.
    fn states<'b>(&'b self, mb: &'b MsgBlock) -> impl Iterator<Item = &'b SimpleState> + 'b {
        let literal = match self {
            Filter::Literal(f) => mb.fss.get(*f),
            _ => None,
        };
        let others = match self {
            Filter::Literal(_) => None,
            _ => Some(
                mb.fss
                    .iter()
                    .filter(|(s, _)| self.matches(s.as_bytes()))
                    .map(|(_, ss)| ss),
            ),
        };
        literal.into_iter().chain(others.into_iter().flatten())
    }

    /// Whether the block may hold a match at or after `seq`.
    fn may_match(&self, mb: &MsgBlock, seq: u64) -> bool {
        match self {
            Filter::All => true,
            Filter::Wild(_) if mb.fss.len() > WILDCARD_SCAN_MAX_SUBJECTS => true,
            _ => self.states(mb).any(|ss| ss.last >= seq),
        }
    }
}

impl FileStore {
    /// The position of the first block that may hold `seq` or later.
    fn blocks_from(&self, seq: u64) -> usize {
        self.blks.partition_point(|b| b.last.seq < seq)
    }

    /// Calls `f` with each message from `start` on that matches `filter`,
    /// in order, until it returns false.
    fn scan(
        &self,
        filter: &str,
        start: u64,
        mut f: impl FnMut(&super::Record<'_>) -> bool,
    ) -> Result<(), StoreError> {
        let filter = Filter::new(filter);
        for pos in self.blocks_from(start)..self.blks.len() {
            let mb = &self.blks[pos];
            let from = start.max(mb.first.seq);
            if mb.msgs == 0 || !filter.may_match(mb, from) {
                continue;
            }
            let data = self.data(pos)?;
            for r in data.records_from(from) {
                if r.seq > mb.last.seq {
                    break;
                }
                if mb.holds(r.seq) && filter.matches(r.subject) && !f(&r) {
                    return Ok(());
                }
            }
        }
        Ok(())
    }

    pub(super) fn next_matching(&self, filter: &str, start: u64) -> Result<StoreMsg, StoreError> {
        let start = start.max(self.first.seq);
        if start > self.last.seq {
            return Err(StoreError::Eof);
        }
        let mut found = None;
        self.scan(filter, start, |r| {
            found = Some(to_msg(r));
            false
        })?;
        found.ok_or(StoreError::Eof)
    }

    /// Up to `limit` sequences in `from..=to` whose subject matches.
    pub(super) fn matching_seqs(&self, filter: &str, from: u64, to: u64, limit: usize) -> Vec<u64> {
        let mut out = Vec::new();
        // A block that cannot be read has nothing to purge.
        let _ = self.scan(filter, from, |r| {
            if r.seq > to || out.len() >= limit {
                return false;
            }
            out.push(r.seq);
            true
        });
        out
    }

    /// The last message whose subject matches a (subject) filter.
    pub(super) fn last_matching(&self, filter: &str) -> Option<u64> {
        let filter = Filter::new(filter);
        self.blks
            .iter()
            .rev()
            .find_map(|mb| filter.states(mb).map(|ss| ss.last).max())
    }

    pub(super) fn filtered(&self, start: u64, filter: &str) -> SimpleState {
        let mut out = SimpleState::default();
        let start = start.max(self.first.seq);
        if start > self.last.seq {
            return out;
        }
        let mut add = |msgs: u64, first: u64, last: u64| {
            out.msgs += msgs;
            if out.first == 0 || first < out.first {
                out.first = first;
            }
            out.last = out.last.max(last);
        };
        let f = Filter::new(filter);
        let mut partial = None;
        for (pos, mb) in self.blks.iter().enumerate().skip(self.blocks_from(start)) {
            if mb.msgs == 0 {
                continue;
            }
            if start > mb.first.seq {
                partial = Some(pos);
                continue;
            }
            match f {
                Filter::All => add(mb.msgs, mb.first.seq, mb.last_held()),
                _ => f.states(mb).for_each(|ss| add(ss.msgs, ss.first, ss.last)),
            }
        }
        // The block `start` falls in: without a filter, its interior
        // deletes say what it holds from `start` on (a consumer's pending
        // count at a restart reads no block); with one, it is counted
        // message by message.
        if let Some(pos) = partial {
            let mb = &self.blks[pos];
            if matches!(f, Filter::All) {
                let deleted = mb.dmap.range(start..).count() as u64;
                let msgs = (mb.last.seq + 1).saturating_sub(start + deleted);
                if let Some(first) = (start..=mb.last.seq).find(|s| !mb.dmap.contains(s)) {
                    add(msgs, first, mb.last_held());
                }
            } else if let (true, Ok(data)) = (f.may_match(mb, start), self.data(pos)) {
                for r in data.records_from(start) {
                    if r.seq > mb.last.seq {
                        break;
                    }
                    if mb.holds(r.seq) && f.matches(r.subject) {
                        add(1, r.seq, r.seq);
                    }
                }
            }
        }
        out
    }

    pub(super) fn per_subject(&self, filter: &str) -> Vec<(String, SimpleState)> {
        let f = Filter::new(filter);
        let mut out: BTreeMap<&str, SimpleState> = BTreeMap::new();
        for mb in &self.blks {
            for (subject, ss) in &mb.fss {
                if !f.matches(subject.as_bytes()) {
                    continue;
                }
                out.entry(subject)
                    .and_modify(|o| {
                        o.msgs += ss.msgs;
                        o.last = ss.last;
                    })
                    .or_insert(*ss);
            }
        }
        out.into_iter().map(|(s, ss)| (s.to_string(), ss)).collect()
    }

    /// The first message stamped at or after `ts` (one past the last when
    /// there is none).
    pub(super) fn first_at_or_after(&self, ts: i64) -> u64 {
        for (pos, mb) in self.blks.iter().enumerate() {
            if mb.msgs == 0 || mb.last.ts < ts {
                continue;
            }
            let Ok(data) = self.data(pos) else {
                continue;
            };
            let found = data
                .records_from(mb.first.seq)
                .take_while(|r| r.seq <= mb.last.seq)
                .find(|r| mb.holds(r.seq) && r.ts >= ts);
            if let Some(r) = found {
                return r.seq;
            }
        }
        self.last.seq + 1
    }

    /// The blocks' interior deletes, in order.
    pub(super) fn interior_deletes(&self) -> Vec<u64> {
        self.blks
            .iter()
            .flat_map(|mb| mb.dmap.range(mb.first.seq + 1..).copied())
            .collect()
    }
}
