//! The memory store: Go 2.9.10's memstore, message by message in a map
//! ordered by sequence, with per-subject state for filters and limits.

use crate::{
    msg_size, subject_matches, Discard, Limits, SimpleState, StoreError, StoreMsg, StreamState,
    StreamStore,
};
use foldhash::HashMap;
use rand::RngCore;
use std::collections::BTreeMap;
use std::time::Duration;

/// A stream's messages in memory.
#[derive(Default)]
pub struct MemStore {
    limits: Limits,
    state: StreamState,
    msgs: BTreeMap<u64, StoreMsg>,
    /// Per subject: messages, first and last sequence.
    fss: HashMap<String, SimpleState>,
}

impl MemStore {
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            ..Default::default()
        }
    }

    /// The limit of messages per subject (0: none).
    fn max_per_subject(&self) -> u64 {
        self.limits.max_msgs_per_subject.max(0) as u64
    }

    /// Go's checks of a new message against discard-new limits.
    fn refuses(&self, subject: &str, size: u64) -> Result<(), StoreError> {
        let maxp = self.max_per_subject();
        let ss = self.fss.get(subject);
        let at_subject_limit = maxp > 0 && ss.is_some_and(|s| s.msgs >= maxp);
        if self.limits.discard != Discard::New {
            return Ok(());
        }
        if at_subject_limit && self.limits.discard_new_per_subject {
            return Err(StoreError::MaxMsgsPerSubject);
        }
        let l = &self.limits;
        if l.max_msgs > 0 && self.state.msgs >= l.max_msgs as u64 && !at_subject_limit {
            return Err(StoreError::MaxMsgs);
        }
        if l.max_bytes > 0 && self.state.bytes + size >= l.max_bytes as u64 {
            if !at_subject_limit {
                return Err(StoreError::MaxBytes);
            }
            // At the subject's limit its first message goes: is that room
            // enough?
            let first = ss.and_then(|s| self.msgs.get(&s.first));
            if first.is_none_or(|m| msg_size(&m.subject, &m.hdr, &m.msg) < size) {
                return Err(StoreError::MaxBytes);
            }
        }
        Ok(())
    }

    fn remove(&mut self, seq: u64, secure: bool) -> bool {
        let Some(mut sm) = self.msgs.remove(&seq) else {
            return false;
        };
        self.state.msgs -= 1;
        self.state.bytes -= msg_size(&sm.subject, &sm.hdr, &sm.msg);
        self.update_first_seq(seq);
        if secure {
            rand::thread_rng().fill_bytes(&mut sm.hdr);
            rand::thread_rng().fill_bytes(&mut sm.msg);
        }
        self.remove_seq_per_subject(&sm.subject, seq);
        true
    }

    /// After `seq` went: if it was the first, the next message is.
    fn update_first_seq(&mut self, seq: u64) {
        if seq != self.state.first_seq {
            return;
        }
        match self.msgs.range(seq + 1..).next() {
            Some((&next, m)) => {
                self.state.first_seq = next;
                self.state.first_ts = m.ts;
            }
            None => {
                self.state.first_seq = self.state.last_seq + 1;
                self.state.first_ts = 0;
            }
        }
    }

    fn remove_seq_per_subject(&mut self, subject: &str, seq: u64) {
        let Some(ss) = self.fss.get_mut(subject) else {
            return;
        };
        if ss.msgs == 1 {
            self.fss.remove(subject);
            return;
        }
        ss.msgs -= 1;
        if seq != ss.first {
            return;
        }
        if ss.msgs == 1 {
            ss.first = ss.last;
            return;
        }
        let last = ss.last;
        if let Some((&next, _)) = self
            .msgs
            .range(seq + 1..=last)
            .find(|(_, m)| m.subject == subject)
        {
            if let Some(ss) = self.fss.get_mut(subject) {
                ss.first = next;
            }
        }
    }

    fn enforce_per_subject(&mut self, subject: &str) {
        let maxp = self.max_per_subject();
        if maxp == 0 {
            return;
        }
        while let Some(ss) = self.fss.get(subject).copied() {
            if ss.msgs <= maxp || !self.remove(ss.first, false) {
                break;
            }
        }
    }

    fn enforce_msg_and_byte_limits(&mut self) {
        let (max_msgs, max_bytes) = (self.limits.max_msgs, self.limits.max_bytes);
        while max_msgs > 0 && self.state.msgs > max_msgs as u64 {
            if !self.remove(self.state.first_seq, false) {
                break;
            }
        }
        while max_bytes > 0 && self.state.bytes > max_bytes as u64 {
            if !self.remove(self.state.first_seq, false) {
                break;
            }
        }
    }

    /// The subjects in the per-subject state that `filter` matches.
    fn first_and_last(&self, filter: &str) -> Option<(u64, u64)> {
        let wild = !natsd_proto::subject::is_literal(filter.as_bytes());
        let states: Vec<&SimpleState> = if wild {
            self.fss
                .iter()
                .filter(|(s, _)| subject_matches(s, filter))
                .map(|(_, ss)| ss)
                .collect()
        } else {
            self.fss.get(filter).into_iter().collect()
        };
        let first = states.iter().map(|s| s.first).min()?;
        let last = states.iter().map(|s| s.last).max()?;
        Some((first, last))
    }
}

impl StreamStore for MemStore {
    fn store_msg(
        &mut self,
        subject: &str,
        hdr: &[u8],
        msg: &[u8],
        ts: i64,
    ) -> Result<u64, StoreError> {
        let seq = self.state.last_seq + 1;
        self.store_raw_msg(subject, hdr, msg, seq, ts)?;
        Ok(seq)
    }

    fn store_raw_msg(
        &mut self,
        subject: &str,
        hdr: &[u8],
        msg: &[u8],
        seq: u64,
        ts: i64,
    ) -> Result<(), StoreError> {
        // Go compares payload and headers only against max bytes here.
        self.refuses(subject, (hdr.len() + msg.len()) as u64)?;
        let next = self.state.last_seq + 1;
        let seq = match seq {
            s if s == next => s,
            0 => next,
            _ => return Err(StoreError::SequenceMismatch),
        };
        if self.state.msgs == 0 {
            self.state.first_seq = seq;
            self.state.first_ts = ts;
        }
        self.msgs.insert(
            seq,
            StoreMsg {
                subject: subject.to_string(),
                hdr: hdr.to_vec(),
                msg: msg.to_vec(),
                seq,
                ts,
            },
        );
        self.state.msgs += 1;
        self.state.bytes += msg_size(subject, hdr, msg);
        self.state.last_seq = seq;
        self.state.last_ts = ts;
        if !subject.is_empty() {
            let ss = self.fss.entry(subject.to_string()).or_insert(SimpleState {
                msgs: 0,
                first: seq,
                last: seq,
            });
            ss.msgs += 1;
            ss.last = seq;
            self.enforce_per_subject(subject);
        }
        self.enforce_msg_and_byte_limits();
        Ok(())
    }

    fn skip_msg(&mut self, ts: i64) -> u64 {
        let seq = self.state.last_seq + 1;
        self.state.last_seq = seq;
        self.state.last_ts = ts;
        if self.state.msgs == 0 {
            self.state.first_seq = seq;
            self.state.first_ts = ts;
        }
        self.update_first_seq(seq);
        seq
    }

    fn load_msg(&self, seq: u64) -> Result<StoreMsg, StoreError> {
        match self.msgs.get(&seq) {
            Some(m) => Ok(m.clone()),
            None if seq <= self.state.last_seq => Err(StoreError::NotFound),
            None => Err(StoreError::Eof),
        }
    }

    fn load_next_msg(&self, filter: &str, start: u64) -> Result<StoreMsg, StoreError> {
        let start = start.max(self.state.first_seq);
        if start > self.state.last_seq {
            return Err(StoreError::Eof);
        }
        self.msgs
            .range(start..)
            .map(|(_, m)| m)
            .find(|m| subject_matches(&m.subject, filter))
            .cloned()
            .ok_or(StoreError::Eof)
    }

    fn load_last_msg(&self, filter: &str) -> Result<StoreMsg, StoreError> {
        let seq = if filter.is_empty() || filter == ">" {
            self.state.last_seq
        } else {
            match self.filtered_state(1, filter) {
                ss if ss.msgs > 0 => ss.last,
                _ => return Err(StoreError::NotFound),
            }
        };
        self.msgs.get(&seq).cloned().ok_or(StoreError::NotFound)
    }

    fn remove_msg(&mut self, seq: u64) -> bool {
        self.remove(seq, false)
    }

    fn erase_msg(&mut self, seq: u64) -> bool {
        self.remove(seq, true)
    }

    fn purge(&mut self) -> u64 {
        let purged = self.msgs.len() as u64;
        self.state.first_seq = self.state.last_seq + 1;
        self.state.first_ts = 0;
        self.state.bytes = 0;
        self.state.msgs = 0;
        self.msgs.clear();
        self.fss.clear();
        purged
    }

    fn purge_ex(&mut self, subject: &str, seq: u64, keep: u64) -> Result<u64, StoreError> {
        if seq > 1 && keep > 0 {
            return Err(StoreError::PurgeArgMismatch);
        }
        if subject.is_empty() || subject == ">" {
            if keep == 0 && seq <= 1 {
                return Ok(self.purge());
            }
            if seq > 1 {
                return self.compact(seq);
            }
            if keep >= self.state.msgs {
                return Ok(0);
            }
            return self.compact(self.state.last_seq - keep + 1);
        }
        let mut ss = self.filtered_state(1, subject);
        if ss.msgs == 0 {
            return Ok(0);
        }
        if keep > 0 {
            if keep >= ss.msgs {
                return Ok(0);
            }
            ss.msgs -= keep;
        }
        let last = if seq > 1 { seq - 1 } else { ss.last };
        let matching: Vec<u64> = self
            .msgs
            .range(ss.first..=last.max(ss.first))
            .filter(|(_, m)| subject_matches(&m.subject, subject))
            .map(|(s, _)| *s)
            .collect();
        let mut purged = 0;
        for s in matching {
            if self.remove(s, false) {
                purged += 1;
                if purged >= ss.msgs {
                    break;
                }
            }
        }
        Ok(purged)
    }

    /// (Go 2.9.10's memstore leaves its per-subject state as it was here;
    /// this one keeps it right.)
    fn compact(&mut self, seq: u64) -> Result<u64, StoreError> {
        if seq == 0 {
            return Ok(self.purge());
        }
        if seq <= self.state.last_seq {
            let Some(at) = self.msgs.get(&seq) else {
                return Err(StoreError::NotFound);
            };
            self.state.first_seq = seq;
            self.state.first_ts = at.ts;
            let kept = self.msgs.split_off(&seq);
            let gone = std::mem::replace(&mut self.msgs, kept);
            for m in gone.values() {
                self.state.bytes -= msg_size(&m.subject, &m.hdr, &m.msg);
                self.remove_seq_per_subject(&m.subject, m.seq);
            }
            self.state.msgs -= gone.len() as u64;
            return Ok(gone.len() as u64);
        }
        let purged = self.msgs.len() as u64;
        self.msgs.clear();
        self.fss.clear();
        self.state.bytes = 0;
        self.state.msgs = 0;
        self.state.first_seq = seq;
        self.state.first_ts = 0;
        self.state.last_seq = seq - 1;
        Ok(purged)
    }

    fn seq_from_time(&self, ts: i64) -> u64 {
        self.msgs
            .values()
            .find(|m| m.ts >= ts)
            .map_or(self.state.last_seq + 1, |m| m.seq)
    }

    fn filtered_state(&self, start: u64, filter: &str) -> SimpleState {
        let mut out = SimpleState::default();
        let start = start.max(self.state.first_seq);
        if start > self.state.last_seq {
            return out;
        }
        let filter = if filter.is_empty() { ">" } else { filter };
        let Some((first, last)) = self.first_and_last(filter) else {
            return out;
        };
        for (seq, m) in self.msgs.range(first.max(start)..=last.max(start)) {
            if subject_matches(&m.subject, filter) {
                out.msgs += 1;
                if out.first == 0 {
                    out.first = *seq;
                }
                out.last = *seq;
            }
        }
        out
    }

    fn subjects_state(&self, filter: &str) -> Vec<(String, SimpleState)> {
        let mut out: Vec<(String, SimpleState)> = self
            .fss
            .iter()
            .filter(|(s, _)| subject_matches(s, filter))
            .map(|(s, ss)| (s.clone(), *ss))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    fn fast_state(&self) -> StreamState {
        let mut st = self.state.clone();
        st.num_subjects = self.fss.len();
        st.deleted.clear();
        st.num_deleted = if st.last_seq > st.first_seq {
            ((st.last_seq - st.first_seq) + 1 - st.msgs) as usize
        } else {
            0
        };
        st
    }

    fn state(&self) -> StreamState {
        let mut st = self.state.clone();
        st.num_subjects = self.fss.len();
        st.deleted.clear();
        st.num_deleted = 0;
        if st.last_seq > st.first_seq {
            st.num_deleted = ((st.last_seq - st.first_seq) + 1 - st.msgs) as usize;
            if st.num_deleted > 0 {
                st.deleted = (st.first_seq + 1..st.last_seq)
                    .filter(|s| !self.msgs.contains_key(s))
                    .collect();
            }
        }
        st
    }

    fn update_limits(&mut self, limits: Limits, now: i64) {
        // Go enforces a per-subject limit at once only when it goes down
        // from a set one: from none (0 or -1) to one, the old messages stay.
        let before = self.limits.max_msgs_per_subject;
        self.limits = limits;
        self.enforce_msg_and_byte_limits();
        let maxp = self.limits.max_msgs_per_subject;
        if maxp > 0 && maxp < before {
            let over: Vec<String> = self
                .fss
                .iter()
                .filter(|(_, ss)| ss.msgs > maxp as u64)
                .map(|(s, _)| s.clone())
                .collect();
            for s in over {
                self.enforce_per_subject(&s);
            }
        }
        self.expire(now);
    }

    fn expire(&mut self, now: i64) -> Option<Duration> {
        let max_age = self.limits.max_age.as_nanos() as i64;
        if max_age == 0 {
            return None;
        }
        loop {
            let (&seq, m) = self.msgs.iter().next()?;
            if m.ts <= now - max_age {
                self.remove(seq, false);
                continue;
            }
            let due = m.ts + max_age - now;
            return Some(Duration::from_nanos(due.max(0) as u64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store(limits: Limits) -> MemStore {
        MemStore::new(limits)
    }

    #[test]
    fn stores_loads_and_reports_state() {
        let mut ms = store(Limits::default());
        assert_eq!(ms.store_msg("foo", b"", b"Hello World", 1).unwrap(), 1);
        let st = ms.state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq), (1, 1, 1));
        assert_eq!(st.bytes, msg_size("foo", b"", b"Hello World"));
        let m = ms.load_msg(1).unwrap();
        assert_eq!(
            (m.subject.as_str(), &m.msg[..]),
            ("foo", &b"Hello World"[..])
        );
        assert_eq!(ms.load_msg(2), Err(StoreError::Eof));
        assert!(ms.remove_msg(1));
        assert_eq!(ms.load_msg(1), Err(StoreError::NotFound));
        let st = ms.state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 2, 1));
    }

    #[test]
    fn limits_discard_old_and_new() {
        let mut old = store(Limits {
            max_msgs: 10,
            ..Default::default()
        });
        for i in 0..20 {
            old.store_msg("foo", b"", b"x", i).unwrap();
        }
        let st = old.state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq), (10, 11, 20));
        let mut new = store(Limits {
            max_msgs: 2,
            discard: Discard::New,
            ..Default::default()
        });
        new.store_msg("foo", b"", b"x", 1).unwrap();
        new.store_msg("foo", b"", b"x", 2).unwrap();
        assert_eq!(new.store_msg("foo", b"", b"x", 3), Err(StoreError::MaxMsgs));
    }

    #[test]
    fn per_subject_limits_and_subject_state() {
        let mut ms = store(Limits {
            max_msgs_per_subject: 2,
            ..Default::default()
        });
        for (i, s) in ["a", "b", "a", "a", "b"].iter().enumerate() {
            ms.store_msg(s, b"", b"x", i as i64).unwrap();
        }
        let subjects = ms.subjects_state("");
        assert_eq!(
            subjects[0],
            (
                "a".into(),
                SimpleState {
                    msgs: 2,
                    first: 3,
                    last: 4
                }
            )
        );
        assert_eq!(
            subjects[1],
            (
                "b".into(),
                SimpleState {
                    msgs: 2,
                    first: 2,
                    last: 5
                }
            )
        );
        assert_eq!(ms.load_last_msg("a").unwrap().seq, 4);
        assert_eq!(ms.filtered_state(1, "b").msgs, 2);
        assert_eq!(ms.state().deleted, Vec::<u64>::new());
    }

    #[test]
    fn purge_with_filter_sequence_and_keep() {
        let mut ms = store(Limits::default());
        for i in 0..10 {
            let s = if i % 2 == 0 { "even" } else { "odd" };
            ms.store_msg(s, b"", b"x", i).unwrap();
        }
        assert_eq!(ms.purge_ex("even", 0, 1), Ok(4));
        assert_eq!(ms.filtered_state(1, "even").msgs, 1);
        assert_eq!(ms.purge_ex("", 5, 1), Err(StoreError::PurgeArgMismatch));
        assert_eq!(ms.purge_ex("", 0, 2), Ok(4));
        assert_eq!(ms.state().msgs, 2);
        assert_eq!(ms.purge(), 2);
        let st = ms.state();
        assert_eq!((st.msgs, st.first_seq, st.last_seq), (0, 11, 10));
    }

    #[test]
    fn interior_deletes_and_age() {
        let mut ms = store(Limits {
            max_age: Duration::from_nanos(100),
            ..Default::default()
        });
        for i in 1..=5 {
            ms.store_msg("foo", b"", b"x", i * 10).unwrap();
        }
        ms.remove_msg(3);
        assert_eq!(ms.state().deleted, vec![3]);
        assert_eq!(ms.expire(125), Some(Duration::from_nanos(15)));
        let st = ms.state();
        assert_eq!((st.msgs, st.first_seq), (2, 4));
        assert_eq!(ms.seq_from_time(45), 5);
    }
}
