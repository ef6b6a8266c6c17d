//! One fetch per key at a time (single flight): the first caller fetches,
//! the callers that arrive while it runs wait for its outcome. Used for
//! remote actors ([`RemoteActors`](crate::federation::remote::RemoteActors))
//! and signature keys ([`ActorKeyResolver`](crate::inbox::ActorKeyResolver)),
//! so a burst of requests naming one uncached actor costs one fetch.
//!
//! Runtime-free (a mutex and wakers), since the pure core does not depend
//! on tokio. Entries live only while a fetch runs, so the table holds at
//! most as many keys as there are concurrent callers.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

struct State<T> {
    outcome: Option<T>,
    wakers: Vec<Waker>,
}

struct Flight<T> {
    state: Mutex<State<T>>,
}

impl<T> Flight<T> {
    fn new() -> Self {
        Flight {
            state: Mutex::new(State {
                outcome: None,
                wakers: Vec::new(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The fetches in progress, by key; `T` is what a follower receives (the
/// leader's outcome, cloned).
pub(crate) struct Flights<T> {
    map: Mutex<HashMap<String, Arc<Flight<T>>>>,
    /// What followers receive when the leader was cancelled.
    cancelled: fn() -> T,
}

/// Whether this caller fetches or waits.
pub(crate) enum Role<'a, T: Clone> {
    /// Fetch, then [`Guard::finish`].
    Leader(Guard<'a, T>),
    /// Wait for the leader.
    Follower(Wait<T>),
}

impl<T: Clone> Flights<T> {
    /// No fetch in progress; `cancelled` makes what followers receive if
    /// the leader's future is dropped before it finishes.
    pub(crate) fn new(cancelled: fn() -> T) -> Self {
        Flights {
            map: Mutex::new(HashMap::new()),
            cancelled,
        }
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Flight<T>>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Joins the fetch of `key`, starting it if none runs.
    pub(crate) fn join(&self, key: &str) -> Role<'_, T> {
        let mut map = self.lock();
        if let Some(flight) = map.get(key) {
            return Role::Follower(Wait {
                flight: flight.clone(),
            });
        }
        let flight = Arc::new(Flight::new());
        map.insert(key.to_owned(), flight.clone());
        Role::Leader(Guard {
            flights: self,
            key: key.to_owned(),
            flight,
            finished: false,
        })
    }

    /// How many fetches are in progress.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// The leader's duty to publish an outcome; dropping it unfinished (the
/// leader's future was cancelled) releases the followers with an error.
pub(crate) struct Guard<'a, T: Clone> {
    flights: &'a Flights<T>,
    key: String,
    flight: Arc<Flight<T>>,
    finished: bool,
}

impl<T: Clone> Guard<'_, T> {
    /// Publishes the outcome to every follower and ends the flight.
    pub(crate) fn finish(mut self, outcome: T) {
        self.publish(outcome);
    }

    fn publish(&mut self, outcome: T) {
        self.finished = true;
        // Leave the table first: a caller arriving from now on reads the
        // store (already updated) or starts a new fetch.
        self.flights.lock().remove(&self.key);
        let wakers = {
            let mut state = self.flight.lock();
            state.outcome = Some(outcome);
            std::mem::take(&mut state.wakers)
        };
        for w in wakers {
            w.wake();
        }
    }
}

impl<T: Clone> Drop for Guard<'_, T> {
    fn drop(&mut self) {
        if !self.finished {
            self.publish((self.flights.cancelled)());
        }
    }
}

/// A follower's wait for the leader's outcome.
pub(crate) struct Wait<T> {
    flight: Arc<Flight<T>>,
}

impl<T: Clone> Future for Wait<T> {
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut state = self.flight.lock();
        if let Some(outcome) = &state.outcome {
            return Poll::Ready(outcome.clone());
        }
        if !state.wakers.iter().any(|w| w.will_wake(cx.waker())) {
            state.wakers.push(cx.waker().clone());
        }
        Poll::Pending
    }
}
