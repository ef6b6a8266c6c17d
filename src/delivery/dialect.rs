//! The per-host memory of how a host wants requests signed, for
//! "double-knocking" on the way out: the dialect ([`Spec`]) it accepted
//! last, and the RFC 9421 signature it asked for with `Accept-Signature`,
//! if it did.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::signatures::Spec;
use crate::signatures::accept_signature::SignatureRequest;

/// What a host accepted last.
#[derive(Debug, Clone)]
struct Learnt {
    dialect: Spec,
    /// The signature it asked for (RFC 9421 §5), without a nonce.
    requested: Option<Arc<SignatureRequest>>,
}

/// A bounded map host → what that host accepted last, so later deliveries
/// knock once, in the form it wants. The oldest entries are forgotten first.
#[derive(Debug)]
pub(crate) struct DialectMemory {
    capacity: usize,
    map: HashMap<String, Learnt>,
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
        self.map.get(host).map(|l| l.dialect)
    }

    /// The signature `host` asked for and accepted last, if any.
    pub fn requested(&self, host: &str) -> Option<Arc<SignatureRequest>> {
        self.map.get(host).and_then(|l| l.requested.clone())
    }

    /// Remembers that `host` accepted `dialect`, signed as it asked
    /// (`requested`) or in the dialect's usual form (`None`).
    ///
    /// The form is the host's, not the actor's: it is kept without the
    /// `keyid` the challenge may have fixed (the next delivery to the host
    /// may be another actor's) and without its nonce (good for one message
    /// only).
    pub fn remember(
        &mut self,
        host: &str,
        dialect: Spec,
        requested: Option<Arc<SignatureRequest>>,
    ) {
        let requested = requested.map(|r| {
            if r.keyid.is_none() && r.nonce.is_none() {
                r
            } else {
                Arc::new(r.as_ref().clone().without_keyid().without_nonce())
            }
        });
        let learnt = Learnt { dialect, requested };
        if let Some(d) = self.map.get_mut(host) {
            *d = learnt;
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
        self.map.insert(host.to_owned(), learnt);
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
        m.remember("a", Spec::Cavage, None);
        m.remember("b", Spec::Rfc9421, None);
        m.remember("a", Spec::Rfc9421, None);
        assert_eq!(m.len(), 2);
        m.remember("c", Spec::Cavage, None);
        assert_eq!(m.get("a"), None);
        assert_eq!(m.get("b"), Some(Spec::Rfc9421));
        assert_eq!(m.get("c"), Some(Spec::Cavage));
        assert_eq!(Spec::Cavage.other(), Spec::Rfc9421);
    }

    #[test]
    fn the_requested_form_is_kept_until_the_host_accepts_another() {
        let mut m = DialectMemory::new(2);
        let asked = Arc::new(SignatureRequest::new("sig1", ["@method"]));
        m.remember("a", Spec::Rfc9421, Some(Arc::clone(&asked)));
        assert_eq!(m.requested("a").as_deref(), Some(&*asked));
        m.remember("a", Spec::Cavage, None);
        assert_eq!(m.requested("a"), None);
        assert_eq!(m.get("a"), Some(Spec::Cavage));
    }

    #[test]
    fn the_form_is_the_hosts_not_the_actors() {
        let mut m = DialectMemory::new(2);
        let mut asked = SignatureRequest::new("sig1", ["@method"])
            .with_keyid("https://a.example/users/alice#main-key");
        asked.nonce = Some("once".into());
        m.remember("a", Spec::Rfc9421, Some(Arc::new(asked)));
        let kept = m.requested("a").unwrap();
        assert_eq!(kept.keyid, None);
        assert_eq!(kept.nonce, None);
        assert_eq!(*kept, SignatureRequest::new("sig1", ["@method"]));
    }
}
