//! The signing threads of [`SignedDelivery`](super::SignedDelivery): a few
//! threads of their own, fed through one queue.
//!
//! RSA signing is pure CPU (about 0.3 ms per request on a fast core, several
//! on a slow one) and is most of a fan-out's cost, so it must neither run
//! on the async runtime (it would stall every other task on that thread)
//! nor wait between signatures. Sending each signature to tokio's blocking
//! pool did both of the latter: a permit freed on the blocking thread had
//! to wake an async task, which then had to be polled to hand the next
//! signature back to a (sleeping) blocking thread — two wake-ups and a gap
//! per request, a fifth of a drain's CPU in context switches. Here a thread
//! that finishes one signature takes the next from the queue at once; it
//! sleeps only when the queue is empty, and a caller wakes one only then.
//!
//! The queue holds at most one entry per request being sent (each caller
//! waits for its answer), so the delivery workers' concurrency bounds it.
//! A caller that stops waiting (an attempt timed out) leaves an entry that
//! is skipped, not signed. Threads are started on first use, at most
//! `threads` of them, and leave once the pool is dropped and the queue is
//! empty. A panic while signing fails that request alone: the thread
//! catches it and goes on.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use tokio::sync::oneshot;

/// One request's work, with the channel its answer goes back on.
trait Task: Send {
    /// Runs the work unless its caller stopped waiting.
    fn run(self: Box<Self>);
}

struct Work<F, T> {
    work: F,
    answer: oneshot::Sender<T>,
}

impl<F, T> Task for Work<F, T>
where
    F: FnOnce() -> T + Send,
    T: Send,
{
    fn run(self: Box<Self>) {
        if self.answer.is_closed() {
            return;
        }
        let value = (self.work)();
        // The caller may have stopped waiting meanwhile: nothing to do then.
        let _ = self.answer.send(value);
    }
}

/// Why a request got no signature from the pool.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PoolError {
    /// No thread could be started (the system's reason).
    NoThread(String),
    /// The work panicked (or the pool was dropped before running it).
    Failed,
}

impl std::fmt::Display for PoolError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PoolError::NoThread(reason) => {
                write!(f, "no signing thread could be started: {reason}")
            }
            PoolError::Failed => f.write_str("the signing task failed"),
        }
    }
}

/// A fixed number of threads running queued work, first in, first out.
pub(crate) struct SigningPool {
    shared: Arc<Shared>,
}

struct Shared {
    state: Mutex<State>,
    /// Signalled when work is queued or the pool closes.
    ready: Condvar,
}

struct State {
    queue: VecDeque<Box<dyn Task>>,
    /// Threads started and not yet gone.
    threads: usize,
    /// Threads waiting for work.
    idle: usize,
    max_threads: usize,
    closed: bool,
}

impl SigningPool {
    /// A pool of at most `threads` threads (at least one).
    pub(crate) fn new(threads: usize) -> Self {
        SigningPool {
            shared: Arc::new(Shared {
                state: Mutex::new(State {
                    queue: VecDeque::new(),
                    threads: 0,
                    idle: 0,
                    max_threads: threads.max(1),
                    closed: false,
                }),
                ready: Condvar::new(),
            }),
        }
    }

    /// The most threads this pool runs.
    pub(crate) fn max_threads(&self) -> usize {
        self.shared.lock().max_threads
    }

    /// Runs `work` on one of the pool's threads and answers its value.
    pub(crate) async fn run<F, T>(&self, work: F) -> Result<T, PoolError>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let (answer, value) = oneshot::channel();
        self.submit(Box::new(Work { work, answer }))?;
        value.await.map_err(|_| PoolError::Failed)
    }

    fn submit(&self, task: Box<dyn Task>) -> Result<(), PoolError> {
        let mut st = self.shared.lock();
        st.queue.push_back(task);
        // More queued than sleeping threads to take it: one more thread,
        // up to the most. Busy threads find the rest when they finish, so
        // no wake-up is spent while all are busy.
        if st.queue.len() > st.idle && st.threads < st.max_threads {
            st.threads += 1;
            let shared = self.shared.clone();
            let started = std::thread::Builder::new()
                .name("archipel-sign".to_owned())
                .spawn(move || shared.work());
            if let Err(e) = started {
                st.threads -= 1;
                if st.threads == 0 {
                    // Nobody would ever run it: take it back, failed.
                    st.queue.pop_back();
                    return Err(PoolError::NoThread(e.to_string()));
                }
            }
        }
        if st.idle > 0 {
            drop(st);
            self.shared.ready.notify_one();
        }
        Ok(())
    }
}

impl Drop for SigningPool {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.ready.notify_all();
    }
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // The state is consistent between statements; a task's panic is
        // caught outside the lock, so poison only follows a bug here.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A thread's loop: the next task, or sleep until there is one.
    fn work(&self) {
        let mut st = self.lock();
        loop {
            if let Some(task) = st.queue.pop_front() {
                drop(st);
                // A panicking task drops its answer channel: its caller
                // gets `Failed`; this thread goes on with the next.
                let _ = catch_unwind(AssertUnwindSafe(|| task.run()));
                st = self.lock();
                continue;
            }
            if st.closed {
                st.threads -= 1;
                return;
            }
            st.idle += 1;
            st = self.ready.wait(st).unwrap_or_else(|p| p.into_inner());
            st.idle -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

    /// `f`'s output, or a failed test after 10 s (a broken pool would hang).
    async fn within<F: std::future::Future>(f: F) -> F::Output {
        tokio::time::timeout(Duration::from_secs(10), f)
            .await
            .expect("answered within 10 s")
    }

    #[tokio::test]
    async fn work_runs_on_at_most_the_pool_threads_and_every_caller_gets_its_answer() {
        let pool = Arc::new(SigningPool::new(3));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..60u64 {
            let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
            calls.spawn(async move {
                pool.run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    peak.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(2));
                    running.fetch_sub(1, Ordering::SeqCst);
                    (i, std::thread::current().name().map(str::to_owned))
                })
                .await
                .map(|(n, name)| (i, n, name))
            });
        }
        let mut seen = 0;
        while let Some(r) = within(calls.join_next()).await {
            let (i, n, name) = r.unwrap().unwrap();
            assert_eq!(i, n);
            assert_eq!(name.as_deref(), Some("archipel-sign"));
            seen += 1;
        }
        assert_eq!(seen, 60);
        // 60 tasks of 2 ms on 3 threads: all three were used, never more.
        assert_eq!(peak.load(Ordering::SeqCst), 3);
        assert!(pool.shared.lock().threads <= 3);
    }

    #[tokio::test]
    async fn a_panic_fails_its_caller_alone_and_the_thread_goes_on() {
        let pool = SigningPool::new(1);
        let failed = within(pool.run(|| -> u32 { panic!("deliberate") })).await;
        assert_eq!(failed, Err(PoolError::Failed));
        // The one thread survived and still serves.
        assert_eq!(within(pool.run(|| 7)).await, Ok(7));
        assert_eq!(pool.shared.lock().threads, 1);
    }

    #[tokio::test]
    async fn work_whose_caller_stopped_waiting_is_skipped() {
        let pool = SigningPool::new(1);
        let (release, blocked) = std::sync::mpsc::channel::<()>();
        let ran = Arc::new(AtomicUsize::new(0));
        // Keep the one thread busy until told.
        let first = pool.run(move || blocked.recv().is_ok());
        let mut first = Box::pin(first);
        // Poll once so the blocking task is queued and taken.
        assert!(
            tokio::time::timeout(Duration::from_millis(50), &mut first)
                .await
                .is_err()
        );
        let r = ran.clone();
        let abandoned = pool.run(move || r.fetch_add(1, Ordering::SeqCst));
        // Queued, then given up by its caller before the thread is free.
        assert!(
            tokio::time::timeout(Duration::from_millis(10), abandoned)
                .await
                .is_err()
        );
        release.send(()).unwrap();
        assert_eq!(within(first).await, Ok(true));
        // The thread is past the abandoned entry once this one is answered.
        assert_eq!(within(pool.run(|| 1)).await, Ok(1));
        assert_eq!(ran.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn threads_leave_once_the_pool_is_dropped() {
        let pool = SigningPool::new(2);
        let shared = pool.shared.clone();
        let (a, b) = within(async {
            tokio::join!(
                pool.run(|| std::thread::sleep(Duration::from_millis(20))),
                pool.run(|| std::thread::sleep(Duration::from_millis(20)))
            )
        })
        .await;
        assert_eq!((a, b), (Ok(()), Ok(())));
        assert!(shared.lock().threads >= 1);
        drop(pool);
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while shared.lock().threads > 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "threads did not leave"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
