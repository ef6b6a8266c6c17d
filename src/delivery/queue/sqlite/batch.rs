//! Group commit of enqueues: the activities enqueued while a write is
//! under way are stored together, in one transaction and one forced sync,
//! instead of one each.
//!
//! Why: with [`Synchronous::Enqueue`] every enqueue is a transaction that
//! forces the WAL to disk, and every caller used to wait for the single
//! connection on a thread of its own. An inbox receiving 64 activities at
//! once then paid 64 syncs one after another, and the blocking pool's
//! threads queued on the connection's lock, woken one by one. Now callers
//! leave their activity in a shared batch and wait for its outcome; one
//! writer at a time takes everything waiting and stores it. Each caller is
//! still answered only once its activity is committed (and synced, with
//! [`Synchronous::Enqueue`]): the durability promise is unchanged, and a
//! lone enqueue is written at once, as before.
//!
//! Each activity is written under a savepoint of the batch's transaction,
//! so one that fails (a database error on its rows) fails alone; a failed
//! commit fails every activity of the batch, which then is not stored.

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::ops::{db, insert_activity};
use super::{SqliteOptions, Synchronous};
use crate::delivery::queue::{JobId, NewActivity};
use crate::delivery::{DeliveryError, Timestamp};

/// Most activities in one transaction: a flood is written in several
/// transactions, each short, so claims and settles get the connection in
/// between.
pub(super) const MAX_BATCH: usize = 256;

/// Why an activity was not stored when its writer went away.
pub(super) const WRITER_STOPPED: &str = "sqlite: the writer stopped before storing the activity";

/// What one caller waits for.
pub(super) type Reply = Result<Vec<JobId>, DeliveryError>;

/// An activity waiting to be written, and where its outcome goes.
pub(super) struct Pending {
    activity: NewActivity,
    now: Timestamp,
    reply: oneshot::Sender<Reply>,
}

/// The activities waiting, and whether a writer is on its way for them.
///
/// Not capped here: each entry is one caller waiting for its answer, so
/// the batch holds what the callers would hold anyway, and is bounded by
/// how many enqueue at once (for the inbound queue, the inbox's admission
/// concurrency, 64 by default).
#[derive(Default)]
pub(super) struct Batch {
    items: Vec<Pending>,
    /// A writer has been started and has not yet taken the items: set by
    /// the first caller of a batch, cleared by the writer when it takes the
    /// last of them. Whenever items wait, a writer is on its way.
    scheduled: bool,
}

impl std::fmt::Debug for Batch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch")
            .field("waiting", &self.items.len())
            .field("scheduled", &self.scheduled)
            .finish()
    }
}

impl Batch {
    /// Adds an activity; returns the receiver of its outcome, and whether
    /// the caller must start a writer (no writer is on its way).
    pub(super) fn push(
        &mut self,
        activity: NewActivity,
        now: Timestamp,
    ) -> (oneshot::Receiver<Reply>, bool) {
        let (reply, outcome) = oneshot::channel();
        self.items.push(Pending {
            activity,
            now,
            reply,
        });
        let start = !self.scheduled;
        self.scheduled = true;
        (outcome, start)
    }

    /// Activities waiting.
    #[cfg(test)]
    pub(super) fn waiting(&self) -> usize {
        self.items.len()
    }

    /// Fails every waiting activity and clears the writer's mark: the
    /// writer is gone (it panicked), and no other would come for them.
    pub(super) fn abandon(&mut self) {
        for item in self.items.drain(..) {
            let _ = item
                .reply
                .send(Err(DeliveryError::Queue(WRITER_STOPPED.into())));
        }
        self.scheduled = false;
    }

    /// Takes at most [`MAX_BATCH`] waiting activities, oldest first; says
    /// whether more are left (the writer then goes on).
    pub(super) fn take(&mut self) -> (Vec<Pending>, bool) {
        let n = self.items.len().min(MAX_BATCH);
        let taken: Vec<Pending> = self.items.drain(..n).collect();
        let more = !self.items.is_empty();
        if !more {
            self.scheduled = false;
        }
        (taken, more)
    }
}

/// Writes `items` in one transaction and answers each caller.
pub(super) fn write(conn: &mut Connection, opts: &SqliteOptions, items: Vec<Pending>) {
    let force = opts.synchronous == Synchronous::Enqueue;
    if force && let Err(e) = conn.execute_batch("PRAGMA synchronous = FULL") {
        return fail_all(items, &db(e));
    }
    let outcomes = write_in(conn, &items);
    if force {
        // Back to the default for claims and settles; a failure here leaves
        // the stronger setting, which is safe.
        let _ = conn.execute_batch("PRAGMA synchronous = NORMAL");
    }
    match outcomes {
        Ok(outcomes) => {
            for (item, outcome) in items.into_iter().zip(outcomes) {
                // A caller that stopped waiting does not need its answer;
                // its activity is stored all the same (at least once).
                let _ = item.reply.send(outcome);
            }
        }
        Err(e) => fail_all(items, &e),
    }
}

/// One transaction; each activity under its own savepoint.
fn write_in(conn: &mut Connection, items: &[Pending]) -> Result<Vec<Reply>, DeliveryError> {
    let mut tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        let sp = tx.savepoint().map_err(db)?;
        match insert_activity(&sp, &item.activity, item.now) {
            Ok(ids) => {
                sp.commit().map_err(db)?;
                outcomes.push(Ok(ids));
            }
            Err(e) => {
                // Dropped without a commit: rolled back to before this
                // activity.
                drop(sp);
                // SQLite may have rolled the whole transaction back itself
                // (a full disk, an I/O error): then nothing of the batch
                // is stored, and writing on would commit the rest outside
                // it, each activity on its own, while every caller is told
                // it failed.
                if tx.is_autocommit() {
                    return Err(DeliveryError::Queue(format!(
                        "sqlite: the batch's transaction was rolled back: {e}"
                    )));
                }
                outcomes.push(Err(e));
            }
        }
    }
    tx.commit().map_err(db)?;
    Ok(outcomes)
}

fn fail_all(items: Vec<Pending>, e: &DeliveryError) {
    for item in items {
        let _ = item.reply.send(Err(DeliveryError::Queue(e.to_string())));
    }
}
