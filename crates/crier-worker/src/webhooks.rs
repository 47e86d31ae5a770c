//! The webhook dispatcher: leases due deliveries, signs each with the endpoint's secret(s) per
//! Standard Webhooks, POSTs it through the SSRF-safe client, and records the attempt.
//!
//! At least once: a dispatcher that dies mid-send leaves a lease that runs out, and the next
//! lease sends the same message again with the same `webhook-id`. Only a 2xx answer counts;
//! redirects are not followed; 410 disables the endpoint; `Retry-After` is honoured within
//! bounds; an endpoint failing for longer than `disable_after` is disabled.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crier_core::webhook_signature::{WebhookSecret, signature_header};
use crier_core::webhooks::RETRY_SCHEDULE;
use crier_core::{ClaimedDelivery, Clock, DeliveryAttempt, DeliveryOutcome, DeliveryRef, Store, StoreError};
use crier_net::{OutboundClient, Refusal};
use crier_vault::Vault;
use futures::future::join_all;
use rand::Rng;
use reqwest::header::{CONTENT_TYPE, HeaderMap, HeaderValue, RETRY_AFTER, USER_AGENT};

use crate::later;

#[derive(Debug, Clone)]
pub struct DispatcherConfig {
    pub id: String,
    /// Longer than the request timeout, so a send in progress keeps its lease.
    pub lease: Duration,
    pub batch: i64,
    /// An endpoint whose every delivery has failed for this long is disabled.
    pub disable_after: Duration,
    pub idle_wait: Duration,
    /// How long to let wake-up signals gather before looking for deliveries (see `run`).
    pub gather: Duration,
}

impl Default for DispatcherConfig {
    fn default() -> Self {
        Self {
            id: format!("webhooks-{}", std::process::id()),
            lease: Duration::from_secs(60),
            batch: 32,
            disable_after: Duration::from_secs(5 * 24 * 3600),
            idle_wait: Duration::from_millis(500),
            gather: Duration::from_millis(25),
        }
    }
}

/// How much of a receiver's answer the attempt log keeps.
const EXCERPT_BYTES: usize = 1024;
/// The longest `Retry-After` honoured; a longer one waits this long.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(10 * 3600);

pub struct Dispatcher {
    store: Arc<dyn Store>,
    vault: Arc<Vault>,
    client: OutboundClient,
    clock: Arc<dyn Clock>,
    config: DispatcherConfig,
}

impl Dispatcher {
    /// `client` carries the outbound policy, including the request timeout (15–30 s).
    pub fn new(
        store: Arc<dyn Store>,
        vault: Arc<Vault>,
        client: OutboundClient,
        clock: Arc<dyn Clock>,
        config: DispatcherConfig,
    ) -> Self {
        Self { store, vault, client, clock, config }
    }

    /// Leases and sends one batch. Returns how many deliveries it leased.
    pub async fn run_once(&self) -> Result<usize, StoreError> {
        let now = self.clock.now();
        let jobs = self
            .store
            .lease_deliveries(&self.config.id, now, later(now, self.config.lease), self.config.batch)
            .await?;
        let leased = jobs.len();
        for result in join_all(jobs.into_iter().map(|job| self.deliver(job))).await {
            if let Err(err) = result {
                // Its lease runs out and the delivery is tried again.
                tracing::warn!(error = %err, "could not record a webhook delivery");
            }
        }
        Ok(leased)
    }

    /// Steps until `shutdown` completes.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        loop {
            let busy = match self.run_once().await {
                Ok(leased) => leased > 0,
                Err(err) => {
                    tracing::error!(error = %err, "webhook dispatch step failed");
                    false
                }
            };
            if busy {
                if futures::FutureExt::now_or_never(&mut shutdown).is_some() {
                    break;
                }
                continue;
            }
            let wait = match self.store.next_delivery_due().await {
                Ok(Some(due)) => {
                    (due - self.clock.now()).to_std().unwrap_or_default().min(self.config.idle_wait)
                }
                _ => self.config.idle_wait,
            };
            tokio::select! {
                () = &mut shutdown => break,
                () = self.store.wait_for_jobs(wait) => {}
            }
            // The wake-up signal is the publishing queue's too, so under load it comes with
            // every post accepted and every outcome recorded. A moment's wait lets one look at
            // the deliveries answer many signals, instead of two statements for each.
            tokio::select! {
                () = &mut shutdown => break,
                () = tokio::time::sleep(self.config.gather) => {}
            }
        }
    }

    async fn deliver(&self, job: DeliveryRef) -> Result<(), StoreError> {
        let now = self.clock.now();
        let Some(claimed) = self.store.claim_delivery(job, &self.config.id, now).await? else {
            return Ok(());
        };
        let started = Instant::now();
        let (attempt, outcome) = match self.signed_request(&claimed).await {
            Err(why) => {
                tracing::error!(delivery_id = %claimed.delivery.id, error = %why, "cannot sign a webhook delivery");
                let attempt = self.attempt(None, started, String::new(), Some(why));
                (attempt, self.failure(&claimed, None))
            }
            Ok((headers, body)) => {
                match self.client.post(&claimed.endpoint.url, headers, body, EXCERPT_BYTES).await {
                    Ok(answer) => {
                        let excerpt = String::from_utf8_lossy(&answer.body_start).into_owned();
                        let code = i32::from(answer.status);
                        if (200..300).contains(&answer.status) {
                            (self.attempt(Some(code), started, excerpt, None), DeliveryOutcome::Succeeded)
                        } else if answer.status == 410 {
                            let error = Some("the endpoint answered 410 Gone".to_owned());
                            (
                                self.attempt(Some(code), started, excerpt, error),
                                DeliveryOutcome::Failed { disable: Some("gone".into()) },
                            )
                        } else {
                            let error = Some(format!("the endpoint answered {}", answer.status));
                            let retry_after = retry_after(&answer.headers);
                            (
                                self.attempt(Some(code), started, excerpt, error),
                                self.failure(&claimed, retry_after),
                            )
                        }
                    }
                    Err(refusal) => {
                        let error = Some(describe(&refusal));
                        (self.attempt(None, started, String::new(), error), self.failure(&claimed, None))
                    }
                }
            }
        };
        match self.store.finish_delivery(job, &self.config.id, &attempt, &outcome, self.clock.now()).await {
            Ok(()) => Ok(()),
            Err(StoreError::Conflict(_)) => {
                tracing::warn!(delivery_id = %claimed.delivery.id, "lost the delivery's lease; it will be sent again");
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    /// Headers and body of the message, signed with every secret in force.
    async fn signed_request(&self, claimed: &ClaimedDelivery) -> Result<(HeaderMap, Vec<u8>), String> {
        let now = self.clock.now();
        let event = &claimed.event;
        let body = serde_json::to_vec(&serde_json::json!({
            "type": event.kind,
            "timestamp": event.created_at,
            "data": event.data,
        }))
        .map_err(|err| err.to_string())?;
        let mut secrets = Vec::new();
        for id in claimed.endpoint.signing_secrets(now) {
            let opened =
                self.vault.open(claimed.endpoint.workspace_id, id).await.map_err(|err| err.to_string())?;
            let text = std::str::from_utf8(opened.expose())
                .map_err(|_| "the stored secret is not text".to_owned())?;
            secrets.push(WebhookSecret::parse(text).map_err(|err| err.to_string())?);
        }
        let id = claimed.delivery.id.to_string();
        let timestamp = now.timestamp();
        let signature = signature_header(&secrets, &id, timestamp, &body).map_err(|err| err.to_string())?;
        let mut headers = HeaderMap::new();
        let value = |text: &str| HeaderValue::from_str(text).map_err(|err| err.to_string());
        headers.insert("webhook-id", value(&id)?);
        headers.insert("webhook-timestamp", value(&timestamp.to_string())?);
        headers.insert("webhook-signature", value(&signature)?);
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("Crier-Webhooks/", env!("CARGO_PKG_VERSION"))),
        );
        Ok((headers, body))
    }

    fn attempt(
        &self,
        status: Option<i32>,
        started: Instant,
        excerpt: String,
        error: Option<String>,
    ) -> DeliveryAttempt {
        DeliveryAttempt {
            number: 0,
            attempted_at: self.clock.now(),
            status_code: status,
            latency_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
            response_excerpt: excerpt,
            error,
        }
    }

    /// After a failed attempt: the next one per the schedule (or `Retry-After`), or the end.
    fn failure(&self, claimed: &ClaimedDelivery, retry_after: Option<Duration>) -> DeliveryOutcome {
        let now = self.clock.now();
        let failing_for =
            claimed.endpoint.failing_since.map(|since| now - since).and_then(|d| d.to_std().ok());
        if failing_for.is_some_and(|d| d >= self.config.disable_after) {
            return DeliveryOutcome::Failed { disable: Some("failing".into()) };
        }
        // This attempt is number `attempts + 1`; the wait before the next is the schedule's
        // entry at that index.
        let made = usize::try_from(claimed.delivery.attempts).unwrap_or(0) + 1;
        let Some(scheduled) = RETRY_SCHEDULE.get(made) else {
            return DeliveryOutcome::Failed { disable: None };
        };
        let delay = match retry_after {
            Some(asked) => asked.clamp(Duration::from_secs(1), MAX_RETRY_AFTER),
            None => jitter(*scheduled),
        };
        DeliveryOutcome::RetryAt(later(now, delay))
    }
}

/// ±10 %, so endpoints that failed together are not retried in lockstep.
fn jitter(delay: Duration) -> Duration {
    if delay.is_zero() {
        return delay;
    }
    delay.mul_f64(rand::rng().random_range(0.9..1.1))
}

/// `Retry-After` in seconds (the HTTP-date form is not honoured: the schedule applies).
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers.get(RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()?;
    Some(Duration::from_secs(seconds))
}

/// What the attempt log says when no HTTP answer came.
fn describe(refusal: &Refusal) -> String {
    match refusal {
        Refusal::Timeout => "the endpoint did not answer in time".to_owned(),
        other => other.to_string(),
    }
}
