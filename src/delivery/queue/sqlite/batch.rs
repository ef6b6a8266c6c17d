//! Group commit of enqueues and settles: the activities enqueued and the
//! jobs settled (acknowledged, retried, deferred, given up) while a write is
//! under way are written together, in one transaction (and one forced sync
//! when an enqueue is among them), instead of one each.
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
//! Settles are batched for the same reason: a fan-out drain settles every
//! job it sends, and each settle on its own was a wake-up of a blocking
//! thread and a commit writing the same few pages of the job table and its
//! indexes to the WAL again. A settle is one `UPDATE` guarded by its lease
//! token: one whose lease was lost changes nothing and is answered
//! [`DeliveryError::LeaseLost`] alone.
//!
//! Each activity is written under a savepoint of the batch's transaction,
//! so one that fails (a database error on its rows) fails alone; a failed
//! commit fails every write of the batch, none of which is then stored.

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::oneshot;

use super::ops::{SettleArgs, db, dialect_name, id_sql, insert_activity, to_sql_ts, token_sql};
use super::{SqliteOptions, Synchronous};
use crate::delivery::queue::{JobId, Lease, NewActivity};
use crate::delivery::{DeliveryError, Timestamp};

/// Most writes in one transaction: a flood is written in several
/// transactions, each short, so claims get the connection in between.
pub(super) const MAX_BATCH: usize = 256;

/// Why a write (an activity, a settle) was not stored when its writer
/// went away.
pub(super) const WRITER_STOPPED: &str = "sqlite: the writer stopped before storing the write";

/// What an enqueue waits for.
pub(super) type Reply = Result<Vec<JobId>, DeliveryError>;

/// A write waiting for the writer, and where its outcome goes.
pub(super) enum Pending {
    /// An activity to store.
    Enqueue {
        activity: NewActivity,
        now: Timestamp,
        reply: oneshot::Sender<Reply>,
    },
    /// A settle: `sql` (one of the settle statements) under `lease`.
    Settle {
        lease: Lease,
        sql: &'static str,
        args: SettleArgs,
        reply: oneshot::Sender<Result<(), DeliveryError>>,
    },
}

impl Pending {
    /// Answers the caller with `e`.
    fn fail(self, e: DeliveryError) {
        // A caller that stopped waiting does not need its answer.
        match self {
            Pending::Enqueue { reply, .. } => drop(reply.send(Err(e))),
            Pending::Settle { reply, .. } => drop(reply.send(Err(e))),
        }
    }
}

/// The writes waiting, and whether a writer is on its way for them.
///
/// Not capped here: each entry is one caller waiting for its answer, so
/// the batch holds what the callers would hold anyway, and is bounded by
/// how many enqueue or settle at once (for the inbound queue, the inbox's
/// admission concurrency, 64 by default, and its workers; for delivery,
/// the workers' concurrency).
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
        let start = self.add(Pending::Enqueue {
            activity,
            now,
            reply,
        });
        (outcome, start)
    }

    /// Adds a settle; returns what [`push`](Self::push) does.
    pub(super) fn push_settle(
        &mut self,
        lease: Lease,
        sql: &'static str,
        args: SettleArgs,
    ) -> (oneshot::Receiver<Result<(), DeliveryError>>, bool) {
        let (reply, outcome) = oneshot::channel();
        let start = self.add(Pending::Settle {
            lease,
            sql,
            args,
            reply,
        });
        (outcome, start)
    }

    /// Adds a write; says whether the caller must start a writer.
    fn add(&mut self, item: Pending) -> bool {
        self.items.push(item);
        let start = !self.scheduled;
        self.scheduled = true;
        start
    }

    /// Writes waiting.
    #[cfg(test)]
    pub(super) fn waiting(&self) -> usize {
        self.items.len()
    }

    /// Fails every waiting write and clears the writer's mark: the writer
    /// is gone (it panicked), and no other would come for them.
    pub(super) fn abandon(&mut self) {
        for item in self.items.drain(..) {
            item.fail(DeliveryError::Queue(WRITER_STOPPED.into()));
        }
        self.scheduled = false;
    }

    /// Takes at most [`MAX_BATCH`] waiting writes, oldest first; says
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
    // Settles alone keep the connection's `NORMAL` (the WAL is synced at
    // checkpoints); a batch with an enqueue is synced at its commit.
    let force = opts.synchronous == Synchronous::Enqueue
        && items.iter().any(|i| matches!(i, Pending::Enqueue { .. }));
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
                // its write is stored all the same (at least once).
                match (item, outcome) {
                    (Pending::Enqueue { reply, .. }, Outcome::Enqueued(r)) => drop(reply.send(r)),
                    (Pending::Settle { reply, .. }, Outcome::Settled(r)) => drop(reply.send(r)),
                    // `write_in` answers each item in its own kind.
                    (item, _) => item.fail(DeliveryError::Queue(
                        "sqlite: a write was answered in another kind".into(),
                    )),
                }
            }
        }
        Err(e) => fail_all(items, &e),
    }
}

/// What `write_in` answers for one item.
enum Outcome {
    Enqueued(Reply),
    Settled(Result<(), DeliveryError>),
}

/// One transaction; each activity under its own savepoint, each settle
/// one guarded `UPDATE`.
fn write_in(conn: &mut Connection, items: &[Pending]) -> Result<Vec<Outcome>, DeliveryError> {
    let mut tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(db)?;
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        let failed = match item {
            Pending::Enqueue { activity, now, .. } => {
                let sp = tx.savepoint().map_err(db)?;
                match insert_activity(&sp, activity, *now) {
                    Ok(ids) => {
                        sp.commit().map_err(db)?;
                        outcomes.push(Outcome::Enqueued(Ok(ids)));
                        continue;
                    }
                    // Dropped without a commit: rolled back to before
                    // this activity.
                    Err(e) => e,
                }
            }
            Pending::Settle {
                lease, sql, args, ..
            } => match settle(&tx, lease, sql, args) {
                Ok(()) => {
                    outcomes.push(Outcome::Settled(Ok(())));
                    continue;
                }
                // A lost lease changed nothing; a failed statement was
                // undone by SQLite alone, unless it took the transaction
                // with it (checked below).
                Err(e) => e,
            },
        };
        // SQLite may have rolled the whole transaction back itself (a full
        // disk, an I/O error): then nothing of the batch is stored, and
        // writing on would commit the rest outside it, each write on its
        // own, while every caller is told it failed.
        if tx.is_autocommit() {
            return Err(DeliveryError::Queue(format!(
                "sqlite: the batch's transaction was rolled back: {failed}"
            )));
        }
        outcomes.push(match item {
            Pending::Enqueue { .. } => Outcome::Enqueued(Err(failed)),
            Pending::Settle { .. } => Outcome::Settled(Err(failed)),
        });
    }
    tx.commit().map_err(db)?;
    Ok(outcomes)
}

/// One settle statement under `lease`; a lost lease changes no row.
fn settle(
    conn: &Connection,
    lease: &Lease,
    sql: &str,
    args: &SettleArgs,
) -> Result<(), DeliveryError> {
    let changed = conn
        .prepare_cached(sql)
        .map_err(db)?
        .execute(rusqlite::params![
            id_sql(lease.job),
            token_sql(lease.token),
            args.at.map(to_sql_ts),
            args.status,
            args.error,
            args.dialect.map(dialect_name),
        ])
        .map_err(db)?;
    if changed == 0 {
        return Err(DeliveryError::LeaseLost { job: lease.job });
    }
    Ok(())
}

fn fail_all(items: Vec<Pending>, e: &DeliveryError) {
    // The queue's own message as it is, not wrapped in a second prefix.
    let reason = match e {
        DeliveryError::Queue(reason) => reason.clone(),
        other => other.to_string(),
    };
    for item in items {
        item.fail(DeliveryError::Queue(reason.clone()));
    }
}
