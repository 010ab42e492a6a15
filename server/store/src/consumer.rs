//! A consumer's state as Go 2.9.10 keeps it in `obs/<consumer>/o.dat`:
//! the delivered and ack floor sequences, the messages waiting for an ack
//! and the redelivery counts, in Go's version-2 encoding (magic, version,
//! then unsigned varints, sequences relative to the ack floor, times in
//! seconds relative to a base). Version 1 files are read too.

use std::collections::BTreeMap;

const MAGIC: u8 = 22;
const VERSION: u8 = 2;
const NANOS: i64 = 1_000_000_000;

/// A message delivered and not yet acknowledged: its delivery sequence and
/// when it was delivered (ns since the epoch).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pending {
    pub dseq: u64,
    pub ts: i64,
}

/// A consumer's durable state.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConsumerState {
    /// Last delivered (consumer, stream) sequences.
    pub delivered: (u64, u64),
    /// Ack floor (consumer, stream) sequences.
    pub ack_floor: (u64, u64),
    /// By stream sequence.
    pub pending: BTreeMap<u64, Pending>,
    /// Redeliveries by stream sequence.
    pub redelivered: BTreeMap<u64, u64>,
}

/// How a consumer wants its messages acknowledged, as its store sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckMode {
    None,
    All,
    Explicit,
}

/// Why the store refused an update (the consumer goes on regardless).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpdateError {
    /// An ack, or a redelivery, for a consumer that takes no acks.
    NoAckPolicy,
    /// An ack for a message that is not waiting for one.
    NotPending,
}

impl ConsumerState {
    /// A delivery of stream sequence `sseq` as consumer sequence `dseq`,
    /// its `dc`-th, of a message stored at `ts`: Go's
    /// consumerFileStore.UpdateDelivered. Kept apart from the consumer's
    /// own view, it is what a restart reads back.
    pub fn update_delivered(
        &mut self,
        dseq: u64,
        sseq: u64,
        dc: u64,
        ts: i64,
        mode: AckMode,
    ) -> Result<(), UpdateError> {
        if dc != 1 && mode == AckMode::None {
            return Err(UpdateError::NoAckPolicy);
        }
        // An old update (a replay) changes nothing.
        if dseq <= self.ack_floor.0 {
            return Ok(());
        }
        if mode == AckMode::None {
            self.delivered = (dseq, sseq);
            self.ack_floor = (dseq, sseq);
            return Ok(());
        }
        if sseq <= self.delivered.1 {
            if let Some(p) = self.pending.get_mut(&sseq) {
                *p = Pending { dseq, ts };
            }
        } else {
            self.pending.insert(sseq, Pending { dseq, ts });
        }
        self.delivered.0 = self.delivered.0.max(dseq);
        self.delivered.1 = self.delivered.1.max(sseq);
        if dc > 1 {
            self.redelivered.insert(sseq, dc - 1);
        }
        Ok(())
    }

    /// An ack of stream sequence `sseq` delivered as `dseq`: Go's
    /// consumerFileStore.UpdateAcks. Its ack floor moves on its own terms
    /// (not the consumer's: the first ack sets it exactly, later ones skip
    /// to just below the next message still pending).
    pub fn update_acks(
        &mut self,
        mut dseq: u64,
        sseq: u64,
        mode: AckMode,
    ) -> Result<(), UpdateError> {
        if mode == AckMode::None {
            return Err(UpdateError::NoAckPolicy);
        }
        if !self.pending.contains_key(&sseq) {
            return Err(UpdateError::NotPending);
        }
        if dseq <= self.ack_floor.0 {
            return Ok(());
        }
        if mode == AckMode::All {
            let from = self.ack_floor.1;
            self.ack_floor = (dseq, sseq);
            self.pending.retain(|s, _| *s <= from || *s > sseq);
            self.redelivered.retain(|s, _| *s <= from || *s > sseq);
            return Ok(());
        }
        if let Some(p) = self.pending.remove(&sseq) {
            dseq = p.dseq;
        }
        self.redelivered.remove(&sseq);
        if self.pending.is_empty() {
            self.ack_floor = self.delivered;
        } else if dseq == self.ack_floor.0 + 1 {
            let first = self.ack_floor.0 == 0;
            self.ack_floor = (dseq, sseq);
            if !first && self.delivered.0 > dseq {
                if let Some((ss, p)) = self.pending.range(sseq + 1..self.delivered.1).next() {
                    if p.dseq > 0 {
                        self.ack_floor = (p.dseq - 1, ss - 1);
                    }
                }
            }
        }
        Ok(())
    }
}

fn put_uvarint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn put_varint(out: &mut Vec<u8>, v: i64) {
    let u = ((v << 1) ^ (v >> 63)) as u64;
    put_uvarint(out, u);
}

/// Encodes a state as Go writes `o.dat`; `now_secs` is the base time
/// (Go's now rounded to the second).
pub fn encode(state: &ConsumerState, now_secs: i64) -> Vec<u8> {
    let mut out = vec![MAGIC, VERSION];
    let (adflr, asflr) = state.ack_floor;
    put_uvarint(&mut out, adflr);
    put_uvarint(&mut out, asflr);
    put_uvarint(&mut out, state.delivered.0);
    put_uvarint(&mut out, state.delivered.1);
    put_uvarint(&mut out, state.pending.len() as u64);
    if !state.pending.is_empty() {
        put_varint(&mut out, now_secs);
        for (sseq, p) in &state.pending {
            put_uvarint(&mut out, sseq.wrapping_sub(asflr));
            put_uvarint(&mut out, p.dseq.wrapping_sub(adflr));
            put_varint(&mut out, now_secs - p.ts / NANOS);
        }
    }
    put_uvarint(&mut out, state.redelivered.len() as u64);
    for (sseq, n) in &state.redelivered {
        put_uvarint(&mut out, sseq.wrapping_sub(asflr));
        put_uvarint(&mut out, *n);
    }
    out
}

/// Why a state file could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("corrupt state")]
    Corrupt,
    #[error("unsupported version: {0}")]
    Version(u8),
}

struct Reader<'a> {
    buf: &'a [u8],
    at: usize,
}

impl Reader<'_> {
    fn uvarint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for shift in (0..70).step_by(7) {
            let b = *self.buf.get(self.at).ok_or(DecodeError::Corrupt)?;
            self.at += 1;
            if shift == 63 && b > 1 {
                return Err(DecodeError::Corrupt);
            }
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(DecodeError::Corrupt)
    }

    fn varint(&mut self) -> Result<i64, DecodeError> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }
}

/// Decodes `o.dat` (versions 1 and 2).
pub fn decode(buf: &[u8]) -> Result<ConsumerState, DecodeError> {
    if buf.len() < 2 || buf[0] != MAGIC {
        return Err(DecodeError::Corrupt);
    }
    let version = buf[1];
    if version != 1 && version != 2 {
        return Err(DecodeError::Version(version));
    }
    let mut r = Reader { buf, at: 2 };
    let mut st = ConsumerState {
        ack_floor: (r.uvarint()?, r.uvarint()?),
        delivered: (r.uvarint()?, r.uvarint()?),
        ..Default::default()
    };
    if version == 1 {
        if st.ack_floor.0 > 1 {
            st.delivered.0 += st.ack_floor.0 - 1;
        }
        if st.ack_floor.1 > 1 {
            st.delivered.1 += st.ack_floor.1 - 1;
        }
    }
    let pending = r.uvarint()?;
    if pending > 0 {
        let base = r.varint()?;
        for _ in 0..pending {
            let sseq = r.uvarint()?.wrapping_add(st.ack_floor.1);
            let dseq = if version == 2 {
                r.uvarint()?.wrapping_add(st.ack_floor.0)
            } else {
                0
            };
            let ts = r.varint()?;
            if sseq == 0 {
                return Err(DecodeError::Corrupt);
            }
            let ts = if version == 1 {
                (ts + base) * NANOS
            } else {
                (base - ts) * NANOS
            };
            st.pending.insert(sseq, Pending { dseq, ts });
        }
    }
    // Go reads the redelivered entries leniently: a short file ends them.
    if let Ok(n) = r.uvarint() {
        for _ in 0..n {
            let (Ok(seq), Ok(count)) = (r.uvarint(), r.uvarint()) else {
                break;
            };
            if seq > 0 && count > 0 {
                st.redelivered
                    .insert(seq.wrapping_add(st.ack_floor.1), count);
            }
        }
    }
    Ok(st)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn delivered(st: &mut ConsumerState, pairs: &[(u64, u64)]) {
        for &(d, s) in pairs {
            st.update_delivered(d, s, 1, 0, AckMode::Explicit).unwrap();
        }
    }

    #[test]
    fn acks_move_the_stores_own_floor() {
        let mut st = ConsumerState::default();
        delivered(&mut st, &[(1, 100), (2, 110), (3, 130), (4, 150), (5, 165)]);
        assert_eq!((st.delivered, st.pending.len()), ((5, 165), 5));
        // Acks of what is not pending are refused.
        assert_eq!(
            st.update_acks(3, 101, AckMode::Explicit),
            Err(UpdateError::NotPending)
        );
        assert_eq!(
            st.update_acks(1, 1, AckMode::Explicit),
            Err(UpdateError::NotPending)
        );
        assert_eq!(st.ack_floor, (0, 0));
        for (d, s, floor) in [
            (1, 100, (1, 100)),
            (3, 130, (1, 100)),
            (2, 110, (3, 149)),
            (5, 165, (3, 149)),
            (4, 150, (5, 165)),
        ] {
            st.update_acks(d, s, AckMode::Explicit).unwrap();
            assert_eq!(st.ack_floor, floor, "after the ack of {d}/{s}");
        }
        assert!(st.pending.is_empty());
    }

    #[test]
    fn redeliveries_are_counted_and_cleared() {
        let mut st = ConsumerState::default();
        delivered(&mut st, &[(1, 1)]);
        st.update_delivered(2, 1, 2, 0, AckMode::Explicit).unwrap();
        assert_eq!((st.redelivered.get(&1), st.pending[&1].dseq), (Some(&1), 2));
        st.update_acks(2, 1, AckMode::Explicit).unwrap();
        assert!(st.redelivered.is_empty() && st.pending.is_empty());
        assert_eq!(st.ack_floor, (2, 1));
    }

    #[test]
    fn no_ack_policy_takes_no_acks() {
        let mut st = ConsumerState::default();
        st.update_delivered(1, 100, 1, 0, AckMode::None).unwrap();
        assert_eq!((st.delivered, st.ack_floor), ((1, 100), (1, 100)));
        assert_eq!(
            st.update_acks(1, 100, AckMode::None),
            Err(UpdateError::NoAckPolicy)
        );
        assert_eq!(
            st.update_delivered(1, 100, 2, 0, AckMode::None),
            Err(UpdateError::NoAckPolicy)
        );
    }

    #[test]
    fn round_trips() {
        let mut st = ConsumerState {
            delivered: (10, 20),
            ack_floor: (3, 13),
            ..Default::default()
        };
        st.pending.insert(
            15,
            Pending {
                dseq: 5,
                ts: 1_700_000_000 * NANOS,
            },
        );
        st.pending.insert(
            20,
            Pending {
                dseq: 10,
                ts: 1_700_000_005 * NANOS,
            },
        );
        st.redelivered.insert(15, 2);
        let buf = encode(&st, 1_700_000_010);
        assert_eq!(&buf[..2], &[MAGIC, VERSION]);
        assert_eq!(decode(&buf).unwrap(), st);
    }

    #[test]
    fn empty_state_is_gos_bytes() {
        // magic, version, four zero sequences, no pending, no redelivered.
        let buf = encode(&ConsumerState::default(), 0);
        assert_eq!(buf, vec![22, 2, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn reads_a_state_go_wrote() {
        // o.dat of a durable that was delivered 1..=3 and acked 1, as Go
        // 2.9.10 wrote it.
        let go = [
            22, 2, 1, 1, 3, 3, 2, 158, 185, 138, 177, 13, 1, 1, 6, 2, 2, 6, 0,
        ];
        let st = decode(&go).unwrap();
        assert_eq!((st.ack_floor, st.delivered), ((1, 1), (3, 3)));
        let pending: Vec<(u64, u64)> = st.pending.iter().map(|(s, p)| (*s, p.dseq)).collect();
        assert_eq!(pending, vec![(2, 2), (3, 3)]);
        assert!(st.redelivered.is_empty());
        // What natsd writes back decodes to the same state.
        let base = st.pending[&2].ts / NANOS + 3;
        assert_eq!(decode(&encode(&st, base)).unwrap(), st);
    }

    #[test]
    fn refuses_bad_headers() {
        assert_eq!(decode(&[1, 2, 0]), Err(DecodeError::Corrupt));
        assert_eq!(decode(&[22, 9, 0]), Err(DecodeError::Version(9)));
        assert_eq!(decode(&[22, 2, 0x80]), Err(DecodeError::Corrupt));
    }
}
