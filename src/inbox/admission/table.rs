//! A bounded table of token buckets, one per key, all with the same rate.

use std::collections::HashMap;
use std::hash::Hash;

use super::Rate;

/// One bucket: its tokens when last touched, and when (ms since the epoch).
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at_ms: u64,
}

/// Token buckets by key, at most `cap` of them.
///
/// A key never seen has a full bucket, so forgetting a full bucket loses
/// nothing: that is what [`Table::make_room`] does first.
#[derive(Debug)]
pub(crate) struct Table<K> {
    map: HashMap<K, Bucket>,
    cap: usize,
}

impl<K: Hash + Eq + Clone> Table<K> {
    pub(crate) fn new(cap: usize) -> Self {
        Self {
            map: HashMap::new(),
            cap: cap.max(1),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.map.len()
    }

    /// The tokens `key`'s bucket holds at `now_ms` (the burst when unknown).
    pub(crate) fn level(&self, key: &K, rate: Rate, now_ms: u64) -> f64 {
        self.map
            .get(key)
            .map_or(rate.burst_f64(), |b| projected(b, rate, now_ms))
    }

    /// Takes one token from `key`'s bucket (the caller checked
    /// [`Table::level`] is at least one), making room first when the table
    /// is full.
    pub(crate) fn take(&mut self, key: &K, rate: Rate, now_ms: u64) {
        if let Some(b) = self.map.get_mut(key) {
            let tokens = projected(b, rate, now_ms);
            *b = Bucket {
                tokens: (tokens - 1.0).max(0.0),
                at_ms: now_ms,
            };
            return;
        }
        if self.map.len() >= self.cap {
            self.make_room(rate, now_ms);
        }
        self.map.insert(
            key.clone(),
            Bucket {
                tokens: rate.burst_f64() - 1.0,
                at_ms: now_ms,
            },
        );
    }

    /// Gives back the token a request took from `key`'s bucket (up to the
    /// burst), when the request turned out not to come from that key.
    pub(crate) fn give_back(&mut self, key: &K, rate: Rate, now_ms: u64) {
        if let Some(b) = self.map.get_mut(key) {
            let tokens = projected(b, rate, now_ms);
            *b = Bucket {
                tokens: (tokens + 1.0).min(rate.burst_f64()),
                at_ms: now_ms,
            };
        }
    }

    /// Frees at least an eighth of the table, so a flood of new keys pays
    /// for one sweep per `cap / 8` insertions (constant amortized cost):
    /// first every bucket that has refilled (forgetting it loses nothing),
    /// then, if that freed too little, the buckets closest to full.
    fn make_room(&mut self, rate: Rate, now_ms: u64) {
        let burst = rate.burst_f64();
        self.map.retain(|_, b| projected(b, rate, now_ms) < burst);
        let target = self.cap - self.cap / 8 - 1;
        if self.map.len() <= target {
            return;
        }
        let excess = self.map.len() - target;
        let mut levels: Vec<(f64, K)> = self
            .map
            .iter()
            .map(|(k, b)| (projected(b, rate, now_ms), k.clone()))
            .collect();
        // The `excess` fullest buckets go: a key that comes back gets a full
        // bucket, and those were nearly full anyway.
        let split = levels.len() - excess;
        levels.select_nth_unstable_by(split, |a, b| a.0.total_cmp(&b.0));
        for (_, key) in levels.get(split..).unwrap_or_default() {
            self.map.remove(key);
        }
    }
}

/// The tokens of `b` at `now_ms`, refilled at the rate up to the burst.
fn projected(b: &Bucket, rate: Rate, now_ms: u64) -> f64 {
    let elapsed_s = now_ms.saturating_sub(b.at_ms) as f64 / 1000.0;
    (b.tokens + elapsed_s * rate.per_second_f64()).min(rate.burst_f64())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fresh_keys_have_a_full_bucket_and_spending_refills_at_the_rate() {
        let rate = Rate::new(2, 4);
        let mut t: Table<&str> = Table::new(10);
        assert_eq!(t.level(&"a", rate, 0), 4.0);
        for _ in 0..4 {
            t.take(&"a", rate, 0);
        }
        assert_eq!(t.level(&"a", rate, 0), 0.0);
        assert_eq!(t.level(&"a", rate, 500), 1.0, "2/s for 0.5 s");
        assert_eq!(t.level(&"a", rate, 60_000), 4.0, "never above the burst");
        assert_eq!(t.level(&"b", rate, 0), 4.0, "keys are separate");
    }

    #[test]
    fn a_full_table_forgets_refilled_buckets_first() {
        let rate = Rate::new(1, 10);
        let mut t: Table<u32> = Table::new(8);
        // Key 0 is spent at t=0; keys 1..8 spend one token at t=9 s, when
        // key 0 has refilled to 9 of 10 — still partial.
        for _ in 0..10 {
            t.take(&0, rate, 0);
        }
        for k in 1..8 {
            t.take(&k, rate, 9_000);
        }
        assert_eq!(t.len(), 8);
        // At t=10 s key 0 is full again and 1..8 are too (1 s at 1/s):
        // every bucket is forgettable, the sweep empties the table.
        t.take(&100, rate, 10_000);
        assert_eq!(t.len(), 1);
        assert_eq!(t.level(&100, rate, 10_000), 9.0);
    }

    #[test]
    fn a_flood_of_spent_keys_stays_bounded_and_keeps_the_emptiest() {
        let rate = Rate::new(1, 100);
        let mut t: Table<u32> = Table::new(16);
        // Key 0 is drained: the one bucket that matters.
        for _ in 0..100 {
            t.take(&0, rate, 0);
        }
        for k in 1..10_000 {
            t.take(&k, rate, 0);
            assert!(t.len() <= 16, "{} buckets after key {k}", t.len());
        }
        assert!(
            t.level(&0, rate, 0) < 1.0,
            "the drained bucket survives eviction of fuller ones"
        );
    }
}
