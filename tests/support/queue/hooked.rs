//! [`Hooked`]: a delivery queue passing every call to another queue,
//! except the calls a test changes through its [`Hooks`] (a flaky enqueue,
//! a slow count, counted claims, a stalled write).

use std::sync::Arc;

use archipel::delivery::{
    AttemptRecord, ClaimRequest, ClaimedJob, DeliveryError, DeliveryQueue, JobId, JobRecord, Lease,
    NewActivity, QueueStats, Timestamp,
};

/// What a test changes of a queue's calls; each default passes the call
/// on to `inner` unchanged.
#[async_trait::async_trait]
pub trait Hooks: Send + Sync {
    async fn enqueue_activity(
        &self,
        inner: &dyn DeliveryQueue,
        activity: NewActivity,
        now: Timestamp,
    ) -> Result<Vec<JobId>, DeliveryError> {
        inner.enqueue_activity(activity, now).await
    }

    async fn claim(
        &self,
        inner: &dyn DeliveryQueue,
        request: &ClaimRequest,
    ) -> Result<Vec<ClaimedJob>, DeliveryError> {
        inner.claim(request).await
    }

    async fn stats(
        &self,
        inner: &dyn DeliveryQueue,
        now: Timestamp,
    ) -> Result<QueueStats, DeliveryError> {
        inner.stats(now).await
    }
}

/// `inner` with `hooks` in front of it.
pub struct Hooked<H> {
    pub inner: Arc<dyn DeliveryQueue>,
    pub hooks: H,
}

impl<H> Hooked<H> {
    pub fn new(inner: impl DeliveryQueue + 'static, hooks: H) -> Self {
        Hooked {
            inner: Arc::new(inner),
            hooks,
        }
    }
}

#[async_trait::async_trait]
impl<H: Hooks> DeliveryQueue for Hooked<H> {
    async fn enqueue_activity(
        &self,
        activity: NewActivity,
        now: Timestamp,
    ) -> Result<Vec<JobId>, DeliveryError> {
        self.hooks
            .enqueue_activity(self.inner.as_ref(), activity, now)
            .await
    }
    async fn claim(&self, request: &ClaimRequest) -> Result<Vec<ClaimedJob>, DeliveryError> {
        self.hooks.claim(self.inner.as_ref(), request).await
    }
    async fn ack(&self, lease: &Lease, attempt: AttemptRecord) -> Result<(), DeliveryError> {
        self.inner.ack(lease, attempt).await
    }
    async fn retry_at(
        &self,
        lease: &Lease,
        at: Timestamp,
        attempt: AttemptRecord,
    ) -> Result<(), DeliveryError> {
        self.inner.retry_at(lease, at, attempt).await
    }
    async fn defer(&self, lease: &Lease, at: Timestamp) -> Result<(), DeliveryError> {
        self.inner.defer(lease, at).await
    }
    async fn give_up(&self, lease: &Lease, attempt: AttemptRecord) -> Result<(), DeliveryError> {
        self.inner.give_up(lease, attempt).await
    }
    async fn checkpoint(
        &self,
        lease: &Lease,
        progress: Vec<u8>,
        until: Timestamp,
    ) -> Result<Lease, DeliveryError> {
        self.inner.checkpoint(lease, progress, until).await
    }
    async fn get(&self, job: JobId) -> Result<Option<JobRecord>, DeliveryError> {
        self.inner.get(job).await
    }
    async fn stats(&self, now: Timestamp) -> Result<QueueStats, DeliveryError> {
        self.hooks.stats(self.inner.as_ref(), now).await
    }
    async fn next_due(&self) -> Result<Option<Timestamp>, DeliveryError> {
        self.inner.next_due().await
    }
}
