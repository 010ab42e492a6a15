//! A stream's duplicate window: the `Nats-Msg-Id`s it stored lately, each
//! with its sequence, forgotten once older than the window. After a
//! restart it is refilled from the store when first needed, as Go does, so
//! that a restart does not read every message of the window.

use foldhash::HashMap;
use std::collections::VecDeque;

#[derive(Default)]
pub struct Dedupe {
    ids: HashMap<String, (u64, i64)>,
    /// Ids in the order they were stored, for forgetting the oldest.
    order: VecDeque<(String, i64)>,
    /// The stored messages' ids are in (see `Inner::load_dedupe`).
    pub loaded: bool,
}

impl Dedupe {
    /// The sequence `id` was stored at, if within `window` ns of `now`.
    pub fn check(&self, id: &str, now: i64, window: i64) -> Option<u64> {
        let (seq, ts) = self.ids.get(id)?;
        (window <= 0 || now - ts < window).then_some(*seq)
    }

    /// Records `id` stored at `seq` at `ts`, forgetting what fell out of
    /// the window.
    pub fn insert(&mut self, id: &str, seq: u64, ts: i64, window: i64) {
        self.forget_before(ts - window);
        self.ids.insert(id.to_string(), (seq, ts));
        self.order.push_back((id.to_string(), ts));
    }

    /// Forgets the ids stored before `ts`.
    pub fn forget_before(&mut self, ts: i64) {
        while let Some((id, t)) = self.order.front() {
            if *t >= ts {
                break;
            }
            if self.ids.get(id).is_some_and(|(_, at)| at == t) {
                self.ids.remove(id);
            }
            self.order.pop_front();
        }
    }

    pub fn clear(&mut self) {
        self.ids.clear();
        self.order.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_remembered_for_the_window_only() {
        let mut d = Dedupe::default();
        d.insert("a", 1, 100, 50);
        assert_eq!(d.check("a", 120, 50), Some(1));
        assert_eq!(d.check("a", 150, 50), None);
        d.insert("b", 2, 200, 50);
        assert!(!d.ids.contains_key("a"), "a fell out of the window");
        assert_eq!(d.check("b", 210, 50), Some(2));
    }
}
