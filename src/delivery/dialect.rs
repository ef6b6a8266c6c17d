//! The per-host memory of which signature dialect ([`Spec`]) a host
//! accepts, for "double-knocking" on the way out.

// Only the worker pool (feature `delivery`) keeps a dialect memory.
#![cfg_attr(not(feature = "delivery"), allow(dead_code))]

use std::collections::{HashMap, VecDeque};

use crate::signatures::Spec;

/// A bounded map host → the dialect that host accepted last, so later
/// deliveries knock once. The oldest entries are forgotten first.
#[derive(Debug)]
pub(crate) struct DialectMemory {
    capacity: usize,
    map: HashMap<String, Spec>,
    order: VecDeque<String>,
}

impl DialectMemory {
    /// Remembers at most `capacity` hosts.
    pub fn new(capacity: usize) -> Self {
        DialectMemory {
            capacity: capacity.max(1),
            map: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// The dialect `host` accepted last, if remembered.
    pub fn get(&self, host: &str) -> Option<Spec> {
        self.map.get(host).copied()
    }

    /// Remembers that `host` accepted `dialect`.
    pub fn remember(&mut self, host: &str, dialect: Spec) {
        if let Some(d) = self.map.get_mut(host) {
            *d = dialect;
            return;
        }
        while self.map.len() >= self.capacity {
            match self.order.pop_front() {
                Some(old) => {
                    self.map.remove(&old);
                }
                None => break,
            }
        }
        self.map.insert(host.to_owned(), dialect);
        self.order.push_back(host.to_owned());
    }

    /// Hosts remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.map.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_fifo() {
        let mut m = DialectMemory::new(2);
        m.remember("a", Spec::Cavage);
        m.remember("b", Spec::Rfc9421);
        m.remember("a", Spec::Rfc9421);
        assert_eq!(m.len(), 2);
        m.remember("c", Spec::Cavage);
        assert_eq!(m.get("a"), None);
        assert_eq!(m.get("b"), Some(Spec::Rfc9421));
        assert_eq!(m.get("c"), Some(Spec::Cavage));
        assert_eq!(Spec::Cavage.other(), Spec::Rfc9421);
    }
}
