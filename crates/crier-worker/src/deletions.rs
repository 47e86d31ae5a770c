//! Deleting published posts from their platforms (`crier_core::deletion`): lease due deletion
//! jobs, call each provider's `delete` with the channel's credentials (under the channel's lock,
//! like publishing), retry temporary failures with the same backoff and budget, and record the
//! outcome with its event (`post.target.deleted` or `post.target.deletion_failed`).

use std::time::Duration;

use crier_core::{DeletionJob, DeletionOutcome, NewEvent, StoreError};
use crier_providers::{DeleteRequest, ProviderError};
use serde_json::json;

use crate::{Worker, WorkerError, later, lease_until};

impl Worker {
    /// One batch of due deletions; returns how many it leased.
    pub(crate) async fn delete_step(&self, batch: i64) -> Result<usize, WorkerError> {
        let until = lease_until(self.clock.as_ref(), self.config.lease);
        let jobs = self.store.lease_deletions(&self.config.id, self.clock.now(), until, batch).await?;
        for job in &jobs {
            let started = match self.store.start_deletion(*job, &self.config.id, self.clock.now()).await {
                Ok(Some(started)) => started,
                Ok(None) => continue,
                Err(err) => {
                    tracing::warn!(error = %err, "could not start a deletion");
                    continue;
                }
            };
            let outcome = {
                let lock = self.channel_lock(started.channel.id);
                let _held = lock.lock().await;
                self.delete(&started).await
            };
            let Some(outcome) = outcome else {
                tracing::warn!(target_id = %started.target.id, "the platform did not answer in time; deleting again later");
                continue;
            };
            let event = event_for(&started, &outcome);
            match self
                .store
                .finish_deletion(&started, &self.config.id, &outcome, self.clock.now(), event.as_ref())
                .await
            {
                Ok(()) => {}
                Err(StoreError::Conflict(_)) => {
                    tracing::warn!(target_id = %started.target.id, "deletion lease lost; another worker repeats it");
                }
                Err(err) => return Err(err.into()),
            }
        }
        Ok(jobs.len())
    }

    /// The outcome, or `None` when the call timed out (the lease then runs out and the deletion,
    /// harmless to repeat, is tried again).
    async fn delete(&self, job: &DeletionJob) -> Option<DeletionOutcome> {
        let channel = &job.channel;
        if channel.status != crier_core::ChannelStatus::Active {
            return Some(DeletionOutcome::Failed {
                code: "channel_needs_reauth".into(),
                message: "the channel needs to be reconnected before its posts can be deleted".into(),
            });
        }
        let Some(provider) = self.providers.get(&channel.provider) else {
            return Some(DeletionOutcome::Failed {
                code: "unknown_provider".into(),
                message: format!("no provider named {:?} in this Crier", channel.provider),
            });
        };
        let Some(request) = DeleteRequest::of(job) else {
            return Some(DeletionOutcome::Failed {
                code: "no_provider_post_id".into(),
                message: "the platform never gave this post an id, so it cannot be deleted".into(),
            });
        };
        let call = async {
            let mut result = provider.delete(&request).await;
            if let Err(ProviderError::AuthExpired { .. }) = result {
                result = match provider.refresh(channel).await {
                    Ok(()) => provider.delete(&request).await,
                    Err(err) => Err(err),
                };
            }
            result
        };
        let result = tokio::time::timeout(self.config.lease / 2, call).await.ok()?;
        let now = self.clock.now();
        Some(match result {
            Ok(()) => DeletionOutcome::Deleted,
            Err(ProviderError::Retryable { message, .. }) if job.attempts >= self.config.max_attempts => {
                DeletionOutcome::Failed {
                    code: "retries_exhausted".into(),
                    message: format!("gave up after {} attempts: {message}", job.attempts),
                }
            }
            Err(ProviderError::Retryable { after, message }) => DeletionOutcome::RetryAt {
                at: later(now, after.unwrap_or_else(|| self.config.backoff.delay(job.attempts))),
                code: "provider_unavailable".into(),
                message,
            },
            Err(ProviderError::RateLimited { reset }) => DeletionOutcome::RetryAt {
                at: reset.max(later(now, Duration::from_secs(1))),
                code: "rate_limited".into(),
                message: "the platform's rate limit; waiting for its reset".into(),
            },
            Err(ProviderError::AuthExpired { message }) => {
                DeletionOutcome::Failed { code: "channel_needs_reauth".into(), message }
            }
            Err(ProviderError::Rejected { code, message }) => DeletionOutcome::Failed { code, message },
            Err(ProviderError::OutcomeUnknown { message }) => {
                DeletionOutcome::Failed { code: "outcome_unknown".into(), message }
            }
        })
    }
}

fn event_for(job: &DeletionJob, outcome: &DeletionOutcome) -> Option<NewEvent> {
    let target = &job.target;
    let mut data = json!({
        "post_id": target.post_id.to_string(),
        "target_id": target.id.to_string(),
        "channel_id": target.channel_id.to_string(),
        "attempt": job.attempts,
    });
    let kind = match outcome {
        DeletionOutcome::Deleted => {
            data["provider_post_id"] = json!(target.provider_post_id);
            "post.target.deleted"
        }
        DeletionOutcome::RetryAt { .. } => return None,
        DeletionOutcome::Failed { code, message } => {
            data["error"] = json!({"code": code, "message": message});
            "post.target.deletion_failed"
        }
    };
    Some(NewEvent { kind, subject: target.id.to_string(), data })
}
