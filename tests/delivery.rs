//! Integration tests of `archipel::delivery`: planning, the worker pool
//! against real inboxes, retries and restarts.

mod support;

#[path = "delivery/claims_in_batches.rs"]
mod claims_in_batches;
#[path = "delivery/fault_injection_farm.rs"]
mod fault_injection_farm;
#[path = "delivery/plan_dedups_shared_inboxes.rs"]
mod plan_dedups_shared_inboxes;
#[path = "delivery/restart_redelivers_claimed_jobs.rs"]
mod restart_redelivers_claimed_jobs;
#[path = "delivery/worker_double_knocks_and_backs_off.rs"]
mod worker_double_knocks_and_backs_off;
