//! Signature dialects on the way out and the per-host memory of which one
//! a host accepts ("double-knocking").

// Only the worker pool (feature `delivery`) keeps a dialect memory.
#![cfg_attr(not(feature = "delivery"), allow(dead_code))]

use std::collections::{HashMap, VecDeque};

use crate::signatures::Spec;

/// The HTTP Signatures dialect used to sign a delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[non_exhaustive]
pub enum Dialect {
    /// draft-cavage-http-signatures-12: what every server verifies today.
    Cavage,
    /// RFC 9421 HTTP Message Signatures: verified by Mastodon 4.5+ and
    /// Fedify, where the Fediverse is heading.
    Rfc9421,
}

impl Dialect {
    /// The other dialect, for the second knock.
    pub fn other(self) -> Dialect {
        match self {
            Dialect::Cavage => Dialect::Rfc9421,
            Dialect::Rfc9421 => Dialect::Cavage,
        }
    }
}

impl From<Dialect> for Spec {
    fn from(d: Dialect) -> Spec {
        match d {
            Dialect::Cavage => Spec::Cavage,
            Dialect::Rfc9421 => Spec::Rfc9421,
        }
    }
}

impl TryFrom<Spec> for Dialect {
    type Error = Spec;

    /// Fails (returning the spec) for a future dialect delivery does not know.
    fn try_from(s: Spec) -> Result<Dialect, Spec> {
        match s {
            Spec::Cavage => Ok(Dialect::Cavage),
            Spec::Rfc9421 => Ok(Dialect::Rfc9421),
            #[allow(unreachable_patterns)] // `Spec` is non_exhaustive.
            other => Err(other),
        }
    }
}

/// A bounded map host → the dialect that host accepted last, so later
/// deliveries knock once. The oldest entries are forgotten first.
#[derive(Debug)]
pub(crate) struct DialectMemory {
    capacity: usize,
    map: HashMap<String, Dialect>,
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
    pub fn get(&self, host: &str) -> Option<Dialect> {
        self.map.get(host).copied()
    }

    /// Remembers that `host` accepted `dialect`.
    pub fn remember(&mut self, host: &str, dialect: Dialect) {
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
        m.remember("a", Dialect::Cavage);
        m.remember("b", Dialect::Rfc9421);
        m.remember("a", Dialect::Rfc9421);
        assert_eq!(m.len(), 2);
        m.remember("c", Dialect::Cavage);
        assert_eq!(m.get("a"), None);
        assert_eq!(m.get("b"), Some(Dialect::Rfc9421));
        assert_eq!(m.get("c"), Some(Dialect::Cavage));
        assert_eq!(Dialect::Cavage.other(), Dialect::Rfc9421);
    }
}
