//! How many JSON-LD threads the asynchronous verification runs at once,
//! process-wide.
//!
//! Each verification runs its JSON-LD and URDNA2015 work on a thread of its
//! own (see [`on_ld_thread_async`](super::canon::on_ld_thread_async)): a
//! few milliseconds of CPU each. [`verify`](super::verify) is what remote
//! peers drive (every forwarded or relayed activity with an LD signature),
//! so without a bound a burst of them would start one such thread per
//! request, all competing for the same cores, each reserving a large stack.
//! At most [`slots`]'s count run at once; the others wait their turn, in
//! order, without blocking their executor's thread. The synchronous entry
//! points ([`verify_with_key`](super::verify_with_key), [`sign`](super::sign))
//! are the application's own calls and take no slot: they never wait here,
//! so a flood from peers cannot stall an application's thread signing its
//! own post.

use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Context, Poll, Waker};

/// The process-wide slots: as many as the machine's cores, at least 2 and
/// at most 16.
pub(super) fn slots() -> &'static Slots {
    static SLOTS: OnceLock<Slots> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Slots::new(cores.clamp(2, 16))
    })
}

/// A fair counting semaphore for async tasks: a freed slot is handed to
/// the longest waiter, and only that one is woken.
pub(super) struct Slots {
    max: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// Slots taken (a slot handed to a waiter stays taken).
    running: usize,
    /// The waiters, oldest first.
    queue: VecDeque<(u64, Waker)>,
    /// Waiters a slot was handed to, not yet polled.
    granted: HashSet<u64>,
    next_ticket: u64,
    /// The most slots ever taken at once (for the tests).
    peak: usize,
}

/// A taken slot, given back (to the next waiter, if any) when dropped:
/// when the JSON-LD thread ends, whether or not anyone still awaits its
/// result.
pub(super) struct Permit(&'static Slots);

impl Drop for Permit {
    fn drop(&mut self) {
        self.0.release();
    }
}

impl Slots {
    fn new(max: usize) -> Slots {
        Slots {
            max,
            state: Mutex::new(State::default()),
        }
    }

    /// How many may run at once.
    #[cfg(test)]
    pub(super) fn max(&self) -> usize {
        self.max
    }

    /// The most that ever ran at once in this process.
    #[cfg(test)]
    pub(super) fn peak(&self) -> usize {
        self.lock().peak
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update is a counter, a set or a queue change made whole
        // under the lock: a poisoned lock still holds a consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits, without blocking the executor, for a slot.
    pub(super) fn acquire(&'static self) -> Acquire {
        Acquire {
            slots: self,
            ticket: None,
            done: false,
        }
    }

    fn release(&self) {
        let next = {
            let mut state = self.lock();
            match state.queue.pop_front() {
                Some((ticket, waker)) => {
                    // Handed over: still taken, now the waiter's.
                    state.granted.insert(ticket);
                    Some(waker)
                }
                None => {
                    state.running = state.running.saturating_sub(1);
                    None
                }
            }
        };
        if let Some(waker) = next {
            waker.wake();
        }
    }
}

/// The future of [`Slots::acquire`].
pub(super) struct Acquire {
    slots: &'static Slots,
    ticket: Option<u64>,
    done: bool,
}

impl Future for Acquire {
    type Output = Permit;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Permit> {
        let this = self.get_mut();
        let slots = this.slots;
        let mut state = slots.lock();
        match this.ticket {
            None if state.running < slots.max && state.queue.is_empty() => {
                state.running += 1;
                state.peak = state.peak.max(state.running);
                this.done = true;
                Poll::Ready(Permit(slots))
            }
            None => {
                let ticket = state.next_ticket;
                state.next_ticket += 1;
                state.queue.push_back((ticket, cx.waker().clone()));
                this.ticket = Some(ticket);
                Poll::Pending
            }
            Some(ticket) if state.granted.remove(&ticket) => {
                this.done = true;
                Poll::Ready(Permit(slots))
            }
            Some(ticket) => {
                if let Some((_, waker)) = state.queue.iter_mut().find(|(t, _)| *t == ticket) {
                    waker.clone_from(cx.waker());
                }
                Poll::Pending
            }
        }
    }
}

impl Drop for Acquire {
    fn drop(&mut self) {
        let Some(ticket) = self.ticket.filter(|_| !self.done) else {
            return;
        };
        let handed = {
            let mut state = self.slots.lock();
            let handed = state.granted.remove(&ticket);
            if !handed {
                state.queue.retain(|(t, _)| *t != ticket);
            }
            handed
        };
        // Given up after a slot was handed to it: pass it on.
        if handed {
            self.slots.release();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::task::Wake;

    /// Counts its wake-ups.
    #[derive(Default)]
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn poll(f: &mut Acquire, count: &Arc<Count>) -> Poll<Permit> {
        let waker = Waker::from(count.clone());
        Pin::new(f).poll(&mut Context::from_waker(&waker))
    }

    #[test]
    fn a_freed_slot_goes_to_the_oldest_waiter_and_a_dropped_waiter_passes_it_on() {
        let slots: &'static Slots = Box::leak(Box::new(Slots::new(1)));
        let wakes = Arc::new(Count::default());
        let mut first = slots.acquire();
        let Poll::Ready(held) = poll(&mut first, &wakes) else {
            panic!("a free slot")
        };
        let (mut a, mut b, mut c) = (slots.acquire(), slots.acquire(), slots.acquire());
        for f in [&mut a, &mut b, &mut c] {
            assert!(poll(f, &wakes).is_pending());
        }
        // Freed: handed to `a` alone, which gives up without polling.
        drop(held);
        assert_eq!(wakes.0.load(Ordering::SeqCst), 1);
        drop(a);
        // Passed on to `b`, the next: `c` still waits.
        assert_eq!(wakes.0.load(Ordering::SeqCst), 2);
        assert!(poll(&mut c, &wakes).is_pending());
        let Poll::Ready(second) = poll(&mut b, &wakes) else {
            panic!("b was handed the slot")
        };
        assert_eq!(slots.peak(), 1);
        drop(second);
        let Poll::Ready(third) = poll(&mut c, &wakes) else {
            panic!("c was handed the slot")
        };
        // A new caller queues behind nobody now, and finds the slot taken.
        assert!(poll(&mut slots.acquire(), &wakes).is_pending());
        drop(third);
        assert!(poll(&mut slots.acquire(), &wakes).is_ready());
    }
}
