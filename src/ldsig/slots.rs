//! How many JSON-LD threads run at once, process-wide.
//!
//! Each verification or signature runs its JSON-LD and URDNA2015 work on a
//! thread of its own (see [`on_ld_thread`](super::canon::on_ld_thread)): a
//! few milliseconds of CPU each. Without a bound, a burst of forwarded
//! activities would start one such thread per request, all competing for
//! the same cores, each reserving a large stack. At most [`max`] run at
//! once; the others wait their turn (an async caller without blocking its
//! executor's thread).

use std::sync::{Condvar, Mutex, MutexGuard, OnceLock, PoisonError};
use std::task::{Poll, Waker};

/// The process-wide slots: as many as the machine's cores, at least 2 and
/// at most 16.
pub(super) fn slots() -> &'static Slots {
    static SLOTS: OnceLock<Slots> = OnceLock::new();
    SLOTS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        Slots::new(cores.clamp(2, 16))
    })
}

/// A counting semaphore that both threads and async tasks wait on.
pub(super) struct Slots {
    max: usize,
    state: Mutex<State>,
    freed: Condvar,
}

#[derive(Default)]
struct State {
    running: usize,
    /// Async tasks waiting for a slot, each once.
    waiting: Vec<Waker>,
    /// The most slots ever taken at once (for the tests).
    peak: usize,
}

/// A taken slot, given back when dropped (when the JSON-LD thread ends,
/// whether or not anyone still awaits its result).
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
            freed: Condvar::new(),
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
        // Every update is a counter or a list swap: a poisoned lock still
        // holds a consistent state.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn take(&'static self, state: &mut State) -> Permit {
        state.running += 1;
        state.peak = state.peak.max(state.running);
        Permit(self)
    }

    /// Waits, blocking this thread, for a slot.
    pub(super) fn acquire_blocking(&'static self) -> Permit {
        let mut state = self.lock();
        while state.running >= self.max {
            state = self
                .freed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        self.take(&mut state)
    }

    /// Waits, without blocking the executor, for a slot.
    pub(super) async fn acquire(&'static self) -> Permit {
        std::future::poll_fn(|cx| {
            let mut state = self.lock();
            if state.running < self.max {
                return Poll::Ready(self.take(&mut state));
            }
            if !state.waiting.iter().any(|w| w.will_wake(cx.waker())) {
                state.waiting.push(cx.waker().clone());
            }
            Poll::Pending
        })
        .await
    }

    fn release(&self) {
        let waiting = {
            let mut state = self.lock();
            state.running = state.running.saturating_sub(1);
            std::mem::take(&mut state.waiting)
        };
        // Every waiter tries again: one that gave up (its future dropped)
        // must not swallow the wake-up another needs.
        self.freed.notify_all();
        for w in waiting {
            w.wake();
        }
    }
}
