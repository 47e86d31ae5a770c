//! The queue consumer. `run_once` is one step tests can call without timers: recover expired
//! leases, lease a batch of due jobs, publish them concurrently, record each outcome. `run` loops
//! over it, sleeping on the store's wake-up signal (LISTEN/NOTIFY on PostgreSQL) or until the next
//! job is due.
//!
//! Exactly-once: an attempt row is written before the provider is called; an attempt whose worker
//! died is reconciled by asking the provider whether it published, never blindly re-sent.

mod backoff;
mod deletions;
mod events;
mod webhooks;

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crier_core::{
    AttemptId, AttemptOutcome, ChannelId, ClaimedJob, Clock, FinishedAttempt, JobRef, Recovery, Store,
    StoreError,
};
use crier_providers::{Lookup, ProviderError, PublishRequest, Registry};
use futures::future::join_all;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};

pub use backoff::Backoff;
pub use webhooks::{Dispatcher, DispatcherConfig};

#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Names this worker's leases (host and process, say).
    pub id: String,
    /// How long a lease lasts without a heartbeat.
    pub lease: Duration,
    /// Jobs leased and published concurrently, in all steps in flight together.
    pub batch: i64,
    /// Steps `run` keeps in flight at once, each with its share of `batch`: while one publishes,
    /// another records and leases, so the database's round trips overlap the platforms'.
    pub steps_in_flight: usize,
    /// Attempts before a retryable failure becomes final.
    pub max_attempts: i32,
    pub backoff: Backoff,
    /// Longest sleep between steps when nothing is due (the wake-up signal usually comes first).
    pub idle_wait: Duration,
    /// How long to let jobs gather after a step that took few (see `run_steps`).
    pub gather: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            id: format!("worker-{}", std::process::id()),
            lease: Duration::from_secs(30),
            batch: 128,
            steps_in_flight: 1,
            max_attempts: 5,
            backoff: Backoff::default(),
            idle_wait: Duration::from_millis(500),
            gather: Duration::from_millis(5),
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StepReport {
    pub recovered: usize,
    pub processed: usize,
}

pub struct Worker {
    store: Arc<dyn Store>,
    providers: Arc<Registry>,
    clock: Arc<dyn Clock>,
    config: WorkerConfig,
    /// One lock per channel, held across each provider call, with the channel's rate-limit
    /// reset: steps in flight together still publish one post at a time per channel, and none
    /// calls a platform before a reset another step learned of.
    channels: std::sync::Mutex<HashMap<ChannelId, Arc<tokio::sync::Mutex<Option<crier_core::Timestamp>>>>>,
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn lease_until(clock: &dyn Clock, lease: Duration) -> crier_core::Timestamp {
    later(clock.now(), lease)
}

impl Worker {
    pub fn new(
        store: Arc<dyn Store>,
        providers: Arc<Registry>,
        clock: Arc<dyn Clock>,
        config: WorkerConfig,
    ) -> Self {
        Self { store, providers, clock, config, channels: std::sync::Mutex::new(HashMap::new()) }
    }

    /// Recovers expired leases, then leases and publishes one batch of due jobs.
    pub async fn run_once(&self) -> Result<StepReport, WorkerError> {
        self.step(self.config.batch).await
    }

    fn channel_lock(&self, channel: ChannelId) -> Arc<tokio::sync::Mutex<Option<crier_core::Timestamp>>> {
        let mut locks = self.channels.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        locks.entry(channel).or_default().clone()
    }

    async fn step(&self, batch: i64) -> Result<StepReport, WorkerError> {
        let mut report = StepReport::default();
        let now = self.clock.now();
        for job in self.store.expired_jobs(now, self.config.batch).await? {
            let until = lease_until(self.clock.as_ref(), self.config.lease);
            match self.store.recover_job(job, &self.config.id, self.clock.now(), until).await? {
                Some(Recovery::Reconcile(claimed)) => {
                    report.recovered += 1;
                    self.reconcile(&claimed).await?;
                }
                Some(Recovery::Requeued | Recovery::Dropped) => report.recovered += 1,
                None => {}
            }
        }
        // Deletions first: few, and each one's channel lock is released before publishing starts.
        let deleted = self.delete_step(batch).await?;
        let until = lease_until(self.clock.as_ref(), self.config.lease);
        let jobs = self.store.lease_jobs(&self.config.id, self.clock.now(), until, batch).await?;
        report.processed = jobs.len() + deleted;
        if jobs.is_empty() {
            return Ok(report);
        }
        // The batch's leases stay alive while it works through them, so a job waiting its turn is
        // not taken for abandoned by another worker. The guard stops the heartbeat however this
        // ends, a panic included, so leases are never kept alive by a dead publisher.
        let _heartbeat = HeartbeatGuard(self.heartbeat(jobs.clone()));
        // Every attempt is opened (in one transaction per workspace) before any provider call.
        let attempts: Vec<(JobRef, AttemptId)> =
            jobs.iter().map(|job| (*job, AttemptId::generate())).collect();
        let started = self.store.start_attempts(&attempts, &self.config.id, self.clock.now()).await;
        let mut channels: Vec<ChannelQueue> = Vec::new();
        for claimed in started {
            match claimed {
                Ok(Some(claimed)) => match channels.iter_mut().find(|c| c.id == claimed.channel.id) {
                    Some(queue) => queue.waiting.push_back(claimed),
                    None => channels.push(ChannelQueue {
                        id: claimed.channel.id,
                        waiting: VecDeque::from([claimed]),
                        paused_until: None,
                        needs_reauth: false,
                    }),
                },
                Ok(None) => {}
                // One job's trouble must not strand the rest of the batch; its lease will expire
                // and recovery will look at it again.
                Err(err) => tracing::warn!(error = %err, "could not start an attempt"),
            }
        }
        // Every channel publishes its jobs one at a time, all channels concurrently, so a worker
        // never races itself past a platform's rate limit; after a rate limit the channel's
        // remaining jobs wait for its reset without calling the platform. Outcomes go to one
        // recorder, which writes whatever has finished meanwhile in one transaction per
        // workspace while the channels go on publishing: no channel waits for the slowest
        // channel, nor for the database, between two of its posts.
        let (done, finished) = tokio::sync::mpsc::unbounded_channel();
        let publishers =
            join_all(channels.into_iter().map(|queue| self.publish_channel(queue, done.clone())));
        drop(done);
        futures::join!(publishers, self.record_outcomes(finished));
        Ok(report)
    }

    /// Publishes `queue`'s jobs in order, sending each outcome to `done`.
    async fn publish_channel(&self, mut queue: ChannelQueue, done: UnboundedSender<FinishedAttempt>) {
        while let Some(claimed) = queue.waiting.pop_front() {
            let outcome = if queue.needs_reauth {
                // The platform refused this channel's token earlier in the batch: the rest fail
                // without calling it again (no retry storm).
                Some(AttemptOutcome::NeedsReauth { message: "the channel needs to be reconnected".into() })
            } else {
                let lock = self.channel_lock(claimed.channel.id);
                let mut reset = lock.lock().await;
                let now = self.clock.now();
                match queue.paused_until.or(*reset).filter(|at| *at > now) {
                    Some(at) => Some(AttemptOutcome::RateLimited { at }),
                    None => {
                        let outcome = self.publish(&claimed).await;
                        if let Some(AttemptOutcome::RateLimited { at }) = &outcome {
                            *reset = Some(*at);
                        }
                        outcome
                    }
                }
            };
            let Some(outcome) = outcome else {
                tracing::warn!(target_id = %claimed.target.id, "the platform did not answer in time; reconciling later");
                continue;
            };
            if let AttemptOutcome::RateLimited { at } = outcome {
                queue.paused_until = Some(at);
            }
            let known_refused =
                queue.needs_reauth || claimed.channel.status != crier_core::ChannelStatus::Active;
            if matches!(outcome, AttemptOutcome::NeedsReauth { .. }) {
                queue.needs_reauth = true;
            }
            let event = events::for_outcome(&claimed, &outcome, known_refused);
            // The recorder outlives every publisher, so the send cannot fail.
            let _ = done.send(FinishedAttempt { job: claimed, outcome, event });
        }
    }

    /// Records outcomes as they arrive, each time all that arrived meanwhile, until every
    /// publisher is done.
    async fn record_outcomes(&self, mut finished: UnboundedReceiver<FinishedAttempt>) {
        while let Some(first) = finished.recv().await {
            let mut batch = vec![first];
            while let Ok(more) = finished.try_recv() {
                batch.push(more);
            }
            let results = self.store.finish_attempts(&batch, self.clock.now()).await;
            for (f, result) in batch.iter().zip(results) {
                match result {
                    Ok(()) => {}
                    // Another worker recovered this attempt meanwhile and recorded it.
                    Err(StoreError::Conflict(_)) => {
                        tracing::warn!(target_id = %f.job.target.id, "attempt already finished elsewhere");
                    }
                    // Left open: recovery will reconcile it through the provider.
                    Err(err) => {
                        tracing::warn!(target_id = %f.job.target.id, error = %err, "could not record an outcome");
                    }
                }
            }
        }
    }

    /// Steps until `shutdown` completes, then releases leases on jobs not yet started.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let steps = self.config.steps_in_flight.max(1);
        let share = (self.config.batch + steps as i64 - 1) / steps as i64;
        let shutdown = futures::FutureExt::shared(Box::pin(shutdown));
        join_all((0..steps).map(|n| self.run_steps(n == 0, share, shutdown.clone()))).await;
        match self.store.release_leases(&self.config.id).await {
            Ok(released) => tracing::info!(released, "worker stopped"),
            Err(err) => {
                tracing::warn!(error = %err, "worker stopped without releasing its leases; they will expire")
            }
        }
    }

    /// One loop of steps; `housekeeping` also purges expired idempotency keys, connect flows,
    /// ended sessions and sign-in flows now and then.
    async fn run_steps(&self, housekeeping: bool, batch: i64, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut last_purge: Option<std::time::Instant> = None;
        loop {
            if housekeeping && last_purge.is_none_or(|at| at.elapsed() >= PURGE_EVERY) {
                last_purge = Some(std::time::Instant::now());
                match self.store.purge_idempotency_keys(self.clock.now()).await {
                    Ok(0) => {}
                    Ok(purged) => tracing::info!(purged, "deleted expired idempotency keys"),
                    Err(err) => tracing::warn!(error = %err, "could not delete expired idempotency keys"),
                }
                match self.store.purge_connect_flows(self.clock.now()).await {
                    Ok(0) => {}
                    Ok(purged) => {
                        tracing::info!(purged, "deleted expired connect flows and their sealed state")
                    }
                    Err(err) => tracing::warn!(error = %err, "could not delete expired connect flows"),
                }
                // By their absolute end only: the idle timeout is the API's setting, and it checks
                // it on every request. Failed sign-ins older than a day throttle nothing.
                let now = self.clock.now();
                if let Err(err) = self.store.purge_sessions(now, now - chrono::Duration::days(3650)).await {
                    tracing::warn!(error = %err, "could not delete ended dashboard sessions");
                }
                if let Err(err) = self.store.purge_login_failures(now - chrono::Duration::days(1)).await {
                    tracing::warn!(error = %err, "could not delete old failed sign-ins");
                }
                if let Err(err) = self.store.purge_sso_flows(now).await {
                    tracing::warn!(error = %err, "could not delete expired sign-in flows");
                }
                if let Err(err) = self.store.purge_ceremonies(now).await {
                    tracing::warn!(error = %err, "could not delete expired passkey ceremonies");
                }
            }
            let (busy, full) = match self.step(batch).await {
                Ok(report) => {
                    (report.processed > 0 || report.recovered > 0, report.processed as i64 >= batch / 4)
                }
                Err(err) => {
                    tracing::error!(error = %err, "worker step failed");
                    (false, false)
                }
            };
            if !busy {
                let wait = self.idle_wait().await;
                tokio::select! {
                    () = &mut shutdown => break,
                    () = self.store.wait_for_jobs(wait) => {}
                }
            }
            if !full {
                // A step costs a dozen statements however few jobs it takes. Under a steady
                // trickle (every post accepted wakes the worker) a moment's wait lets the next
                // step take several jobs at once, for a few milliseconds of latency.
                tokio::select! {
                    () = &mut shutdown => break,
                    () = tokio::time::sleep(self.config.gather) => {}
                }
            } else if futures::FutureExt::now_or_never(&mut shutdown).is_some() {
                break;
            }
        }
    }

    /// Until the next job is due, at most `idle_wait`.
    async fn idle_wait(&self) -> Duration {
        match self.store.next_due().await {
            Ok(Some(due)) => (due - self.clock.now()).to_std().unwrap_or_default().min(self.config.idle_wait),
            _ => self.config.idle_wait,
        }
    }

    /// The attempt's outcome, or `None` when the call timed out: then nobody knows whether it
    /// published, and the attempt stays open for reconciliation once its lease ends.
    async fn publish(&self, claimed: &ClaimedJob) -> Option<AttemptOutcome> {
        let channel = &claimed.channel;
        if channel.status != crier_core::ChannelStatus::Active {
            return Some(AttemptOutcome::NeedsReauth {
                message: "the channel needs to be reconnected".into(),
            });
        }
        let Some(provider) = self.providers.get(&channel.provider) else {
            return Some(AttemptOutcome::Failed {
                code: "unknown_provider".into(),
                message: format!("no provider named {:?} in this Crier", channel.provider),
            });
        };
        let request = PublishRequest::of(claimed);
        let call = async {
            let mut result = provider.publish(&request).await;
            if let Err(ProviderError::AuthExpired { .. }) = result {
                // Refresh once; a second refusal means the user must reconnect.
                result = match provider.refresh(channel).await {
                    Ok(()) => provider.publish(&request).await,
                    Err(err) => Err(err),
                };
            }
            result
        };
        // Bounded well inside the lease, so a recoverer never reconciles an attempt whose call
        // may still be in flight.
        match tokio::time::timeout(self.config.lease / 2, call).await {
            Ok(result) => Some(self.classify(claimed, result)),
            Err(_) => None,
        }
    }

    fn classify(
        &self,
        claimed: &ClaimedJob,
        result: Result<crier_providers::Published, ProviderError>,
    ) -> AttemptOutcome {
        let now = self.clock.now();
        match result {
            Ok(published) => {
                AttemptOutcome::Published { provider_post_id: published.provider_post_id, url: published.url }
            }
            Err(ProviderError::Retryable { message, .. })
                if claimed.target.attempts >= self.config.max_attempts =>
            {
                AttemptOutcome::Failed {
                    code: "retries_exhausted".into(),
                    message: format!("gave up after {} attempts: {message}", claimed.target.attempts),
                }
            }
            Err(ProviderError::Retryable { after, message }) => {
                let delay = after.unwrap_or_else(|| self.config.backoff.delay(claimed.target.attempts));
                AttemptOutcome::RetryAt {
                    at: later(now, delay),
                    code: "provider_unavailable".into(),
                    message,
                }
            }
            // At least a second, so a platform that says "reset now" cannot make us spin.
            Err(ProviderError::RateLimited { reset }) => {
                AttemptOutcome::RateLimited { at: reset.max(later(now, Duration::from_secs(1))) }
            }
            Err(ProviderError::AuthExpired { message }) => AttemptOutcome::NeedsReauth { message },
            Err(ProviderError::Rejected { code, message }) => AttemptOutcome::Failed { code, message },
            // Never resent on its own: the post may be there.
            Err(ProviderError::OutcomeUnknown { message }) => AttemptOutcome::Unknown { message },
        }
    }

    /// Keeps leases alive while their jobs wait for or run their provider calls.
    fn heartbeat(&self, jobs: Vec<JobRef>) -> tokio::task::JoinHandle<()> {
        let store = self.store.clone();
        let clock = self.clock.clone();
        let owner = self.config.id.clone();
        let lease = self.config.lease;
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(lease / 3).await;
                for job in &jobs {
                    match store.extend_lease(*job, &owner, lease_until(clock.as_ref(), lease)).await {
                        // Finished jobs are gone from the queue; lost leases are logged.
                        Ok(_) => {}
                        Err(err) => tracing::warn!(error = %err, "could not extend a lease"),
                    }
                }
            }
        })
    }

    /// An attempt whose worker died: ask the provider what happened instead of re-sending.
    async fn reconcile(&self, claimed: &ClaimedJob) -> Result<(), WorkerError> {
        let outcome = match self.providers.get(&claimed.channel.provider) {
            None => AttemptOutcome::Unknown { message: "provider unavailable for reconciliation".into() },
            Some(provider) => match provider.lookup(&PublishRequest::of(claimed)).await {
                Ok(Lookup::Published(p)) => {
                    AttemptOutcome::Published { provider_post_id: p.provider_post_id, url: p.url }
                }
                Ok(Lookup::NotPublished) => AttemptOutcome::RetryAt {
                    at: self.clock.now(),
                    code: "attempt_interrupted".into(),
                    message: "the previous attempt was interrupted before it published".into(),
                },
                Ok(Lookup::ResendIsSafe) => AttemptOutcome::RetryAt {
                    at: self.clock.now(),
                    code: "attempt_interrupted".into(),
                    message: "the previous attempt was interrupted; the platform deduplicates the retry"
                        .into(),
                },
                Ok(Lookup::Unknowable) => AttemptOutcome::Unknown {
                    message: "the attempt was interrupted and the platform cannot say whether it published"
                        .into(),
                },
                Err(err) => {
                    // Not knowing is no licence to re-send: leave the attempt open and let the
                    // lease run out soon, so recovery asks again.
                    tracing::warn!(target_id = %claimed.target.id, error = %err, "reconciliation must wait");
                    let job =
                        JobRef { workspace_id: claimed.target.workspace_id, target_id: claimed.target.id };
                    let soon = later(self.clock.now(), RECONCILE_AGAIN_AFTER);
                    self.store.extend_lease(job, &self.config.id, soon).await?;
                    return Ok(());
                }
            },
        };
        self.finish(claimed, outcome).await
    }

    async fn finish(&self, claimed: &ClaimedJob, outcome: AttemptOutcome) -> Result<(), WorkerError> {
        let known_refused = claimed.channel.status != crier_core::ChannelStatus::Active;
        let event = events::for_outcome(claimed, &outcome, known_refused);
        match self.store.finish_attempt(claimed, &outcome, self.clock.now(), event.as_ref()).await {
            Ok(()) => Ok(()),
            // Another worker recovered this attempt meanwhile and recorded it; nothing to do.
            Err(StoreError::Conflict(_)) => {
                tracing::warn!(target_id = %claimed.target.id, "attempt already finished elsewhere");
                Ok(())
            }
            Err(other) => Err(other.into()),
        }
    }
}

/// `now + delay`, saturating far in the future rather than overflowing.
fn later(now: crier_core::Timestamp, delay: Duration) -> crier_core::Timestamp {
    chrono::Duration::from_std(delay)
        .ok()
        .and_then(|d| now.checked_add_signed(d))
        .unwrap_or_else(|| now + chrono::Duration::days(365))
}

/// How soon a reconciliation that could not reach the platform is tried again.
const RECONCILE_AGAIN_AFTER: Duration = Duration::from_secs(5);

/// How often a worker deletes expired idempotency keys and connect flows.
const PURGE_EVERY: Duration = Duration::from_secs(600);

/// One channel's share of a batch, published in order.
struct ChannelQueue {
    id: ChannelId,
    waiting: VecDeque<ClaimedJob>,
    /// Set by a rate limit: the rest wait until then without calling the platform.
    paused_until: Option<crier_core::Timestamp>,
    /// Set when the platform refused the channel's token for good: the rest fail at once.
    needs_reauth: bool,
}

/// Aborts the heartbeat task when dropped.
struct HeartbeatGuard(tokio::task::JoinHandle<()>);

impl Drop for HeartbeatGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}
