//! What the server acknowledged, sequence by sequence, across every cycle of
//! a crash run.
//!
//! A message is known by its number `n`: its subject, its `Nats-Msg-Id` and
//! its payload all derive from `n` and the run's seed, so the ledger keeps no
//! payload and a stored message names itself. A removal (purge, delete)
//! makes the messages it may have touched *removable*: absence is then
//! fine, presence must still be byte-exact. A publish sent but never
//! answered before the kill may or may not have been stored; the check after
//! the restart settles it.

use crate::rng::Rng;
use std::collections::{BTreeMap, HashSet};

/// How many subjects the messages spread over (`crash.0` .. `crash.7`).
pub const SUBJECTS: u64 = 8;
/// The generator stream of payloads.
const PAYLOAD_STREAM: u64 = 0x5eed_c4a5;

pub fn subject(n: u64) -> String {
    format!("crash.{}", n % SUBJECTS)
}

pub fn msg_id(n: u64) -> String {
    format!("m{n}")
}

/// The message number a `Nats-Msg-Id` names.
pub fn number_of(id: &str) -> Option<u64> {
    id.strip_prefix('m')?.parse().ok()
}

/// Payload of message `n`: 16 to 2048 bytes, different for every message.
pub fn payload(seed: u64, n: u64) -> Vec<u8> {
    let mut rng = Rng::for_case(seed, PAYLOAD_STREAM, n);
    let len = rng.range(16, 2048);
    let mut p = format!("{n}:").into_bytes();
    p.extend(rng.bytes(len));
    p
}

#[derive(Debug, Clone, Copy)]
struct Entry {
    n: u64,
    /// A purge or delete may have removed it.
    removable: bool,
    /// ... and the server said it did.
    removal_answered: bool,
}

/// What one stored message turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seen {
    /// Acknowledged before, and intact.
    Known,
    /// Removed before (and the removal was answered), yet present and intact.
    Resurrected,
    /// Published without an answer before the kill, stored intact: from now
    /// on it counts as acknowledged.
    Adopted,
    /// Not what was acknowledged at that sequence, or not a message of ours.
    Corrupt(String),
}

/// One stored message as the server gave it back.
pub struct Stored<'a> {
    pub seq: u64,
    pub subject: &'a str,
    pub msg_id: Option<&'a str>,
    pub payload: &'a [u8],
}

pub struct Ledger {
    seed: u64,
    entries: BTreeMap<u64, Entry>,
    /// Numbers published and not (yet) answered.
    unanswered: HashSet<u64>,
    next_n: u64,
    /// Per subject: numbers up to this may have been purged by subject.
    purged_upto: [u64; SUBJECTS as usize],
    /// Per subject: the highest sequence acknowledged when its last purge
    /// was sent (what is surely removed when the purge succeeds; later
    /// publishes race with it).
    purge_cut: [u64; SUBJECTS as usize],
    max_seq: u64,
}

impl Ledger {
    pub fn new(seed: u64) -> Self {
        Self {
            seed,
            entries: BTreeMap::new(),
            unanswered: HashSet::new(),
            next_n: 1,
            purged_upto: [0; SUBJECTS as usize],
            purge_cut: [0; SUBJECTS as usize],
            max_seq: 0,
        }
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The highest sequence the server acknowledged.
    pub fn max_seq(&self) -> u64 {
        self.max_seq
    }

    /// Numbers a new message; it is unanswered until [`Ledger::acked`].
    pub fn next(&mut self) -> u64 {
        let n = self.next_n;
        self.next_n += 1;
        self.unanswered.insert(n);
        n
    }

    /// Message `n` is published again (to test duplicate detection): until
    /// answered, a second copy may be stored.
    pub fn republishing(&mut self, n: u64) {
        self.unanswered.insert(n);
    }

    /// The highest number handed out.
    pub fn last_number(&self) -> u64 {
        self.next_n - 1
    }

    /// Records a PubAck of message `n`; returns what was wrong with it.
    pub fn acked(&mut self, n: u64, seq: u64, duplicate: bool) -> Option<String> {
        self.unanswered.remove(&n);
        if duplicate {
            return match self.entries.get(&seq) {
                Some(e) if e.n == n => None,
                _ => Some(format!(
                    "a republish of message {n} was called a duplicate of sequence {seq}, which holds another message"
                )),
            };
        }
        if seq <= self.max_seq || self.entries.contains_key(&seq) {
            return Some(format!(
                "sequence {seq} acknowledged for message {n}, not above the highest acknowledged ({})",
                self.max_seq
            ));
        }
        let removable = n <= self.purged_upto[(n % SUBJECTS) as usize];
        self.entries.insert(
            seq,
            Entry {
                n,
                removable,
                removal_answered: false,
            },
        );
        self.max_seq = seq;
        None
    }

    /// A message acknowledged and not removed, to republish as a duplicate.
    pub fn pick_live(&self, rng: &mut Rng) -> Option<(u64, u64)> {
        let newest = self.entries.range(self.max_seq.saturating_sub(2000)..);
        let live: Vec<(u64, u64)> = newest
            .filter(|(_, e)| !e.removable)
            .map(|(s, e)| (*s, e.n))
            .collect();
        (!live.is_empty()).then(|| *rng.pick(&live))
    }

    /// Sequences of up to `count` messages acknowledged and not removed.
    pub fn pick_live_seqs(&self, rng: &mut Rng, count: usize) -> Vec<u64> {
        let live: Vec<u64> = self
            .entries
            .iter()
            .filter(|(_, e)| !e.removable)
            .map(|(s, _)| *s)
            .collect();
        if live.is_empty() {
            return Vec::new();
        }
        (0..count).map(|_| *rng.pick(&live)).collect()
    }

    /// Before a purge of everything below `seq`.
    pub fn removing_below(&mut self, seq: u64) {
        for e in self.entries.range_mut(..seq).map(|(_, e)| e) {
            e.removable = true;
        }
    }

    /// The purge below `seq` was answered with success.
    pub fn removed_below(&mut self, seq: u64) {
        for e in self.entries.range_mut(..seq).map(|(_, e)| e) {
            e.removal_answered = true;
        }
    }

    /// Before a delete of `seq`.
    pub fn removing(&mut self, seq: u64) {
        if let Some(e) = self.entries.get_mut(&seq) {
            e.removable = true;
        }
    }

    /// The delete of `seq` was answered with success.
    pub fn removed(&mut self, seq: u64) {
        if let Some(e) = self.entries.get_mut(&seq) {
            e.removal_answered = true;
        }
    }

    /// Before a purge of subject index `s`: every message of it, sent or to
    /// be sent, may go.
    pub fn purging_subject(&mut self, s: u64) {
        self.purged_upto[s as usize] = u64::MAX;
        self.purge_cut[s as usize] = self.max_seq;
        for e in self.entries.values_mut().filter(|e| e.n % SUBJECTS == s) {
            e.removable = true;
        }
    }

    /// The purge of subject index `s` was answered (with success when
    /// `done`): only messages numbered up to `last_sent` were sent before.
    pub fn purged_subject(&mut self, s: u64, last_sent: u64, done: bool) {
        self.purged_upto[s as usize] = last_sent;
        if done {
            let cut = self.purge_cut[s as usize];
            for e in self.entries.range_mut(..=cut).map(|(_, e)| e) {
                if e.n % SUBJECTS == s {
                    e.removal_answered = true;
                }
            }
        }
    }

    /// Judges one stored message.
    pub fn judge(&mut self, m: &Stored<'_>) -> Seen {
        let Some(n) = m.msg_id.and_then(number_of) else {
            return Seen::Corrupt(format!("sequence {}: no message id of ours", m.seq));
        };
        let intact = m.subject == subject(n) && m.payload == payload(self.seed, n).as_slice();
        match self.entries.get(&m.seq) {
            Some(e) if e.n == n && intact => {
                if e.removal_answered {
                    Seen::Resurrected
                } else {
                    Seen::Known
                }
            }
            Some(e) => Seen::Corrupt(format!(
                "sequence {}: holds message {n} ({} bytes, subject {}), acknowledged as message {}",
                m.seq,
                m.payload.len(),
                m.subject,
                e.n
            )),
            None if self.unanswered.contains(&n) && intact => {
                self.unanswered.remove(&n);
                let removable = n <= self.purged_upto[(n % SUBJECTS) as usize];
                self.entries.insert(
                    m.seq,
                    Entry {
                        n,
                        removable,
                        removal_answered: false,
                    },
                );
                self.max_seq = self.max_seq.max(m.seq);
                Seen::Adopted
            }
            None => Seen::Corrupt(format!(
                "sequence {}: message {n} was never acknowledged there",
                m.seq
            )),
        }
    }

    /// After a check: what was not found unanswered is gone for good.
    pub fn forget_unanswered(&mut self) {
        self.unanswered.clear();
    }

    /// Sequences acknowledged, not removable, and not in `seen`.
    pub fn missing(&self, seen: &HashSet<u64>) -> Vec<u64> {
        self.entries
            .iter()
            .filter(|(s, e)| !e.removable && !seen.contains(s))
            .map(|(s, _)| *s)
            .collect()
    }

    /// Those of `seqs` that hold a message acknowledged and not removable.
    pub fn acknowledged_among(&self, seqs: &[u64]) -> Vec<u64> {
        seqs.iter()
            .copied()
            .filter(|s| self.entries.get(s).is_some_and(|e| !e.removable))
            .collect()
    }

    /// Messages acknowledged and not removable.
    pub fn live(&self) -> usize {
        self.entries.values().filter(|e| !e.removable).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(l: &Ledger, seq: u64, n: u64) -> (String, String, Vec<u8>, u64) {
        (subject(n), msg_id(n), payload(l.seed(), n), seq)
    }

    #[test]
    fn an_acknowledged_message_must_come_back_intact() {
        let mut l = Ledger::new(7);
        let n = l.next();
        assert_eq!(l.acked(n, 1, false), None);
        let (subj, id, data, seq) = stored(&l, 1, n);
        let m = Stored {
            seq,
            subject: &subj,
            msg_id: Some(&id),
            payload: &data,
        };
        assert_eq!(l.judge(&m), Seen::Known);
        let mut bad = data.clone();
        bad[3] ^= 1;
        let m = Stored {
            seq,
            subject: &subj,
            msg_id: Some(&id),
            payload: &bad,
        };
        assert!(matches!(l.judge(&m), Seen::Corrupt(_)));
        assert_eq!(l.missing(&HashSet::new()), vec![1]);
        assert!(l.missing(&HashSet::from([1])).is_empty());
        assert_eq!(l.acknowledged_among(&[1, 2]), vec![1]);
        l.removing(1);
        assert!(l.acknowledged_among(&[1, 2]).is_empty());
    }

    #[test]
    fn sequences_must_grow_and_duplicates_name_the_original() {
        let mut l = Ledger::new(1);
        let (a, b) = (l.next(), l.next());
        assert_eq!(l.acked(a, 5, false), None);
        assert!(l.acked(b, 5, false).is_some());
        assert_eq!(l.acked(a, 5, true), None);
        assert!(l.acked(b, 5, true).is_some());
    }

    #[test]
    fn removed_messages_may_go_and_unanswered_ones_may_stay() {
        let mut l = Ledger::new(3);
        let a = l.next();
        l.acked(a, 1, false);
        l.removing(1);
        assert!(l.missing(&HashSet::new()).is_empty());
        let b = l.next();
        let (subj, id, data, _) = stored(&l, 2, b);
        let m = Stored {
            seq: 2,
            subject: &subj,
            msg_id: Some(&id),
            payload: &data,
        };
        assert_eq!(l.judge(&m), Seen::Adopted);
        assert_eq!(l.missing(&HashSet::new()), vec![2]);
        let c = l.next();
        l.forget_unanswered();
        let (subj, id, data, _) = stored(&l, 3, c);
        let m = Stored {
            seq: 3,
            subject: &subj,
            msg_id: Some(&id),
            payload: &data,
        };
        assert!(matches!(l.judge(&m), Seen::Corrupt(_)));
    }

    #[test]
    fn a_subject_purge_covers_what_was_sent_before_its_answer() {
        let mut l = Ledger::new(3);
        let n = (0..SUBJECTS)
            .map(|_| l.next())
            .find(|n| n % SUBJECTS == 2)
            .unwrap();
        l.purging_subject(2);
        l.acked(n, 1, false);
        l.purged_subject(2, l.last_number(), true);
        assert!(l.missing(&HashSet::new()).is_empty());
        let later = (0..SUBJECTS)
            .map(|_| l.next())
            .find(|n| n % SUBJECTS == 2)
            .unwrap();
        l.acked(later, 2, false);
        assert_eq!(l.missing(&HashSet::new()), vec![2]);
    }
}
