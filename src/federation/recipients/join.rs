//! Runs a few futures at once and collects their outputs in order, without
//! a runtime dependency (the pure core does not depend on tokio).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

/// Polls every future until all are done; the outputs come back in input
/// order. Meant for small batches: every wake polls the unfinished ones.
pub(crate) fn join_all<I>(futures: I) -> JoinAll<I::Item>
where
    I: IntoIterator,
    I::Item: Future,
{
    let slots = futures
        .into_iter()
        .map(|f| Slot::Running(Box::pin(f)))
        .collect();
    JoinAll { slots }
}

pub(crate) enum Slot<F: Future> {
    Running(Pin<Box<F>>),
    Done(Option<F::Output>),
}

pub(crate) struct JoinAll<F: Future> {
    slots: Vec<Slot<F>>,
}

// The futures are boxed, so moving `JoinAll` moves only pointers.
impl<F: Future> Unpin for JoinAll<F> {}

impl<F: Future> Future for JoinAll<F> {
    type Output = Vec<F::Output>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Vec<F::Output>> {
        let mut pending = false;
        for slot in self.slots.iter_mut() {
            if let Slot::Running(f) = slot {
                match f.as_mut().poll(cx) {
                    Poll::Ready(out) => *slot = Slot::Done(Some(out)),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            return Poll::Pending;
        }
        let outputs = self
            .slots
            .iter_mut()
            .filter_map(|s| match s {
                Slot::Done(out) => out.take(),
                Slot::Running(_) => None,
            })
            .collect();
        Poll::Ready(outputs)
    }
}
