//! One fetch per uncached actor at a time: the first caller fetches, the
//! callers that arrive while it runs wait for its result.
//!
//! Runtime-free (a mutex and wakers), since the pure core does not depend
//! on tokio. Entries live only while a fetch runs, so the table holds at
//! most as many keys as there are concurrent callers.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};

use super::RemoteActor;

/// What a follower receives: the actor, or the leader's error as text.
pub(super) type Outcome = Result<RemoteActor, String>;

#[derive(Default)]
struct State {
    outcome: Option<Outcome>,
    wakers: Vec<Waker>,
}

#[derive(Default)]
struct Flight {
    state: Mutex<State>,
}

impl Flight {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The fetches in progress, by cache key.
#[derive(Default)]
pub(super) struct Flights {
    map: Mutex<HashMap<String, Arc<Flight>>>,
}

/// Whether this caller fetches or waits.
pub(super) enum Role<'a> {
    /// Fetch, then [`Guard::finish`].
    Leader(Guard<'a>),
    /// Wait for the leader.
    Follower(Wait),
}

impl Flights {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Arc<Flight>>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Joins the fetch of `key`, starting it if none runs.
    pub(super) fn join(&self, key: &str) -> Role<'_> {
        let mut map = self.lock();
        if let Some(flight) = map.get(key) {
            return Role::Follower(Wait {
                flight: flight.clone(),
            });
        }
        let flight = Arc::new(Flight::default());
        map.insert(key.to_owned(), flight.clone());
        Role::Leader(Guard {
            flights: self,
            key: key.to_owned(),
            flight,
            finished: false,
        })
    }

    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// The leader's duty to publish an outcome; dropping it unfinished (the
/// leader's future was cancelled) releases the followers with an error.
pub(super) struct Guard<'a> {
    flights: &'a Flights,
    key: String,
    flight: Arc<Flight>,
    finished: bool,
}

impl Guard<'_> {
    /// Publishes the outcome to every follower and ends the flight.
    pub(super) fn finish(mut self, outcome: Outcome) {
        self.publish(outcome);
    }

    fn publish(&mut self, outcome: Outcome) {
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

impl Drop for Guard<'_> {
    fn drop(&mut self) {
        if !self.finished {
            self.publish(Err("the fetching caller was cancelled".into()));
        }
    }
}

/// A follower's wait for the leader's outcome.
pub(super) struct Wait {
    flight: Arc<Flight>,
}

impl Future for Wait {
    type Output = Outcome;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome> {
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
