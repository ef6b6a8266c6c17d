//! The resolver's bounded memories: a negative cache of key ids that
//! failed, and a per-host token bucket for key fetches. Both cap the
//! number of entries they track, so a flood of distinct key ids or hosts
//! costs bounded memory.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

/// Key ids whose resolution failed recently, with the reason.
#[derive(Debug)]
pub(crate) struct NegativeCache {
    ttl: Duration,
    capacity: usize,
    map: HashMap<String, (String, Instant)>,
    order: VecDeque<String>,
}

impl NegativeCache {
    pub(crate) fn new(ttl: Duration, capacity: usize) -> Self {
        Self {
            ttl,
            capacity,
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    pub(crate) fn set_ttl(&mut self, ttl: Duration) {
        self.ttl = ttl;
    }

    /// The failure recorded for `key_id`, if it is younger than the TTL.
    pub(crate) fn get(&self, key_id: &str, now: Instant) -> Option<&str> {
        let (reason, at) = self.map.get(key_id)?;
        (now.saturating_duration_since(*at) < self.ttl).then_some(reason.as_str())
    }

    pub(crate) fn insert(&mut self, key_id: &str, reason: String, now: Instant) {
        if self.ttl.is_zero() || self.capacity == 0 {
            return;
        }
        if self.map.insert(key_id.to_owned(), (reason, now)).is_none() {
            self.order.push_back(key_id.to_owned());
        }
        // `order` may hold ids removed and inserted again: bounding it (not
        // the map) bounds both, at the cost of forgetting such an id early.
        while self.order.len() > self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
    }

    pub(crate) fn remove(&mut self, key_id: &str) {
        // The id stays in `order` until it reaches the front; removing a
        // missing key there is harmless.
        self.map.remove(key_id);
    }
}

/// A token bucket per host: `capacity` fetches at once, refilled at
/// `capacity` per `period`.
#[derive(Debug)]
pub(crate) struct HostBudget {
    capacity: u32,
    period: Duration,
    max_hosts: usize,
    buckets: HashMap<String, Bucket>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl HostBudget {
    pub(crate) fn new(capacity: u32, period: Duration, max_hosts: usize) -> Self {
        Self {
            capacity,
            period,
            max_hosts,
            buckets: HashMap::new(),
        }
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let cap = f64::from(self.capacity);
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        let period = self.period.as_secs_f64();
        let gained = if period > 0.0 {
            elapsed * cap / period
        } else {
            cap
        };
        bucket.tokens = (bucket.tokens + gained).min(cap);
        bucket.at = now;
    }

    /// Takes one token for `host`; `false` when its budget is spent.
    pub(crate) fn take(&mut self, host: &str, now: Instant) -> bool {
        if self.capacity == 0 {
            return false;
        }
        if !self.buckets.contains_key(host) && self.buckets.len() >= self.max_hosts {
            self.make_room(now);
        }
        let cap = f64::from(self.capacity);
        let mut bucket = self.buckets.get(host).copied().unwrap_or(Bucket {
            tokens: cap,
            at: now,
        });
        self.refill(&mut bucket, now);
        let granted = bucket.tokens >= 1.0;
        if granted {
            bucket.tokens -= 1.0;
        }
        self.buckets.insert(host.to_owned(), bucket);
        granted
    }

    /// Frees at least one slot: first every bucket that has refilled
    /// completely (forgetting it loses nothing), else the one touched
    /// longest ago.
    fn make_room(&mut self, now: Instant) {
        let cap = f64::from(self.capacity);
        let period = self.period;
        self.buckets.retain(|_, b| {
            let elapsed = now.saturating_duration_since(b.at);
            let full = b.tokens >= cap || elapsed >= period;
            !full
        });
        if self.buckets.len() >= self.max_hosts
            && let Some(oldest) = self
                .buckets
                .iter()
                .min_by_key(|(_, b)| b.at)
                .map(|(h, _)| h.clone())
        {
            self.buckets.remove(&oldest);
        }
    }

    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_cache_expires_and_is_bounded() {
        let t0 = Instant::now();
        let mut n = NegativeCache::new(Duration::from_secs(300), 2);
        n.insert("a", "boom".into(), t0);
        assert_eq!(n.get("a", t0 + Duration::from_secs(299)), Some("boom"));
        assert_eq!(n.get("a", t0 + Duration::from_secs(300)), None);
        n.insert("b", "x".into(), t0);
        n.insert("c", "y".into(), t0);
        assert_eq!(n.get("a", t0), None, "oldest evicted past capacity");
        assert_eq!(n.get("c", t0), Some("y"));
        n.remove("c");
        assert_eq!(n.get("c", t0), None);
        // Failing, succeeding and failing again does not grow it.
        for _ in 0..10 {
            n.insert("d", "z".into(), t0);
            n.remove("d");
        }
        assert!(n.order.len() <= 2, "{}", n.order.len());
    }

    #[test]
    fn budget_spends_refills_and_bounds_hosts() {
        let t0 = Instant::now();
        let mut b = HostBudget::new(2, Duration::from_secs(60), 3);
        assert!(b.take("a.example", t0));
        assert!(b.take("a.example", t0));
        assert!(!b.take("a.example", t0));
        assert!(b.take("b.example", t0), "hosts have separate buckets");
        // Half the period refills half the capacity: one token.
        assert!(b.take("a.example", t0 + Duration::from_secs(30)));
        assert!(!b.take("a.example", t0 + Duration::from_secs(30)));
        for h in ["c.example", "d.example", "e.example", "f.example"] {
            b.take(h, t0 + Duration::from_secs(30));
        }
        assert!(b.tracked() <= 3, "tracked {}", b.tracked());
    }
}
