//! Conformance for the job queue: leasing, attempts and their outcomes, lease recovery, and
//! waking workers.

use std::collections::HashSet;
use std::time::Duration as StdDuration;

use chrono::Duration;
use crier_core::{
    AttemptId, AttemptOutcome, ChannelStatus, ClaimedJob, Clock, FinishedAttempt, JobRef, ManualClock,
    Recovery, StoreError, TargetStatus,
};
use crier_testkit::{TestDb, on_both_backends};
use tokio::time::Instant;

use crate::fixtures::{
    OWNER, attempt_outcomes, claim, connected, event, events, job, lease_all, post_now, post_with, target_of,
    workspace,
};

on_both_backends!(
    lease_jobs_leases_due_jobs_once,
    concurrent_leases_never_share_a_job,
    start_attempt_claims_only_with_the_lease,
    start_attempt_drops_targets_no_longer_waiting,
    cancel_and_lease_race_without_overlap,
    finish_published_then_refuses_a_second_finish,
    finish_retry_reschedules_the_job,
    attempts_are_listed_as_the_posts_timeline,
    finish_rate_limited_pushes_the_channel_back,
    finish_needs_reauth_failed_and_unknown,
    concurrent_finishes_number_their_events_in_order,
    extend_lease_and_expired_jobs,
    recover_job_in_each_case,
    release_leases_skips_jobs_under_way,
    wait_for_jobs_wakes_on_create_post,
    wait_for_jobs_times_out,
    batches_start_and_finish_each_job_as_alone,
);

async fn lease_jobs_leases_due_jobs_once(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let chan = connected(&db, &clock, ws, "c").await;
    let now = clock.now();
    let shape: Vec<_> = [3, 1, 2, -60]
        .iter()
        .map(|&min| (chan.id, TargetStatus::Queued, now - Duration::minutes(min)))
        .collect();
    let post = post_with(ws, &clock, "p", &shape);
    db.store.create_post(&post, None).await.unwrap();
    let mut by_run_at = post.targets.clone();
    by_run_at.sort_by_key(|t| t.run_at);

    let until = now + Duration::minutes(1);
    let leased = db.store.lease_jobs(OWNER, now, until, 2).await.unwrap();
    assert_eq!(leased, [job(&by_run_at[0]), job(&by_run_at[1])], "earliest first, at most the limit");
    assert_eq!(db.store.lease_jobs("other", now, until, 10).await.unwrap(), [job(&by_run_at[2])]);
    assert!(db.store.lease_jobs("other", now, until, 10).await.unwrap().is_empty(), "never twice");
    let shown = target_of(&db, &by_run_at[0]).await;
    assert_eq!((shown.lease_owner.as_deref(), shown.lease_expires_at), (Some(OWNER), Some(until)));
    assert_eq!(shown.status, TargetStatus::Queued, "leasing alone does not start it");
    assert_eq!(db.store.next_due().await.unwrap(), Some(by_run_at[3].run_at), "only unleased jobs count");

    clock.advance(Duration::hours(1));
    assert_eq!(lease_all(&db, &clock, OWNER).await, [job(&by_run_at[3])]);
    assert_eq!(db.store.next_due().await.unwrap(), None);
}

async fn concurrent_leases_never_share_a_job(db: TestDb) {
    let clock = ManualClock::starting_now();
    let a = workspace(&db, &clock, "A").await;
    let b = workspace(&db, &clock, "B").await;
    let channels = [connected(&db, &clock, a, "c").await.id, connected(&db, &clock, b, "c").await.id];
    // Several rounds: a race that double-leases shows up in one of them.
    for round in 0..4 {
        let mut all = HashSet::new();
        for (ws, chan) in [a, b].into_iter().zip(channels) {
            for _ in 0..10 {
                let post = post_now(ws, &clock, &[chan]);
                db.store.create_post(&post, None).await.unwrap();
                all.insert(job(&post.targets[0]));
            }
        }
        let workers: Vec<_> = (0..6)
            .map(|i| {
                let (store, now) = (db.store.clone(), clock.now());
                tokio::spawn(async move {
                    store.lease_jobs(&format!("w{i}"), now, now + Duration::minutes(1), 5).await.unwrap()
                })
            })
            .collect();
        let mut seen = HashSet::new();
        for worker in workers {
            for leased in worker.await.unwrap() {
                assert!(seen.insert(leased), "round {round}: {leased:?} leased twice");
            }
        }
        for rest in lease_all(&db, &clock, "late").await {
            assert!(seen.insert(rest), "round {round}: {rest:?} leased twice");
        }
        assert_eq!(seen, all, "round {round}: jobs of every workspace, each exactly once");
    }
}

async fn start_attempt_claims_only_with_the_lease(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let chan = connected(&db, &clock, ws, "c").await;
    let post = post_now(ws, &clock, &[chan.id]);
    db.store.create_post(&post, None).await.unwrap();
    let target = &post.targets[0];
    let unleased = db.store.start_attempt(job(target), OWNER, AttemptId::generate(), clock.now()).await;
    assert!(matches!(unleased, Err(StoreError::Conflict(_))), "{unleased:?}");
    lease_all(&db, &clock, OWNER).await;
    let stolen = db.store.start_attempt(job(target), "thief", AttemptId::generate(), clock.now()).await;
    assert!(matches!(stolen, Err(StoreError::Conflict(_))), "{stolen:?}");
    let far_later = clock.now() + Duration::hours(1);
    let expired = db.store.start_attempt(job(target), OWNER, AttemptId::generate(), far_later).await;
    assert!(matches!(expired, Err(StoreError::Conflict(_))), "an expired lease starts nothing: {expired:?}");

    clock.advance(Duration::seconds(1));
    let attempt = AttemptId::generate();
    let claimed = db.store.start_attempt(job(target), OWNER, attempt, clock.now()).await.unwrap().unwrap();
    assert_eq!(claimed.attempt_id, attempt);
    assert_eq!((claimed.post_text.as_str(), &claimed.channel), (post.text.as_str(), &chan));
    assert_eq!((claimed.target.status, claimed.target.attempts), (TargetStatus::Publishing, 1));
    assert_eq!(
        (claimed.target.updated_at, claimed.target.lease_owner.as_deref()),
        (clock.now(), Some(OWNER))
    );
    assert_eq!(target_of(&db, target).await, claimed.target);
    assert_eq!(attempt_outcomes(&db, ws).await, [None], "an open attempt row, before any provider call");
    let again = db.store.start_attempt(job(target), OWNER, AttemptId::generate(), clock.now()).await;
    assert!(again.unwrap().is_none(), "no second attempt while one is under way");
    let until = clock.now() + Duration::minutes(5);
    assert!(db.store.extend_lease(job(target), OWNER, until).await.unwrap(), "the job under way is kept");
    assert_eq!(attempt_outcomes(&db, ws).await, [None]);
}

async fn start_attempt_drops_targets_no_longer_waiting(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let chan = connected(&db, &clock, ws, "c").await;
    // A job that outlived its target's cancellation.
    let post = post_with(ws, &clock, "p", &[(chan.id, TargetStatus::Cancelled, clock.now())]);
    db.store.create_post(&post, None).await.unwrap();
    assert_eq!(lease_all(&db, &clock, OWNER).await.len(), 1);
    let started = db.store.start_attempt(job(&post.targets[0]), OWNER, AttemptId::generate(), clock.now());
    assert!(started.await.unwrap().is_none());
    assert_eq!(target_of(&db, &post.targets[0]).await.status, TargetStatus::Cancelled);
    assert!(attempt_outcomes(&db, ws).await.is_empty());
    clock.advance(Duration::hours(1));
    assert!(lease_all(&db, &clock, OWNER).await.is_empty(), "its job is gone");
    assert!(db.store.expired_jobs(clock.now(), 10).await.unwrap().is_empty());
}

async fn cancel_and_lease_race_without_overlap(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let chan = connected(&db, &clock, ws, "c").await;
    let mut posts = Vec::new();
    for _ in 0..8 {
        let post = post_now(ws, &clock, &[chan.id]);
        db.store.create_post(&post, None).await.unwrap();
        posts.push(post);
    }
    let cancels: Vec<_> = posts
        .iter()
        .map(|post| {
            let (store, id, now) = (db.store.clone(), post.id, clock.now());
            tokio::spawn(async move { store.cancel_post(ws, id, now).await.unwrap() })
        })
        .collect();
    let leases: Vec<_> = (0..3)
        .map(|i| {
            let (store, now) = (db.store.clone(), clock.now());
            tokio::spawn(async move {
                store.lease_jobs(&format!("w{i}"), now, now + Duration::minutes(1), 3).await
            })
        })
        .collect();
    let mut leased = HashSet::new();
    for lease in leases {
        leased.extend(lease.await.unwrap().unwrap());
    }
    for (cancel, post) in cancels.into_iter().zip(&posts) {
        let cancellation = cancel.await.unwrap();
        let target = &cancellation.post.targets[0];
        let was_leased = leased.contains(&job(target));
        assert_eq!(cancellation.cancelled.is_empty(), was_leased, "{:?}: cancelled xor leased", post.id);
        let expected = if was_leased { TargetStatus::Queued } else { TargetStatus::Cancelled };
        assert_eq!(target.status, expected);
    }
}

async fn finish_published_then_refuses_a_second_finish(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let chan = connected(&db, &clock, ws, "c").await;
    let post = post_now(ws, &clock, &[chan.id]);
    db.store.create_post(&post, None).await.unwrap();
    let claimed = claim(&db, &clock, &post.targets[0]).await;
    clock.advance(Duration::seconds(2));
    let published =
        AttemptOutcome::Published { provider_post_id: "sbx_1".into(), url: Some("https://sandbox/1".into()) };
    let published_event = event("post.target.published", &claimed.target);
    db.store.finish_attempt(&claimed, &published, clock.now(), Some(&published_event)).await.unwrap();

    let target = target_of(&db, &claimed.target).await;
    assert_eq!(target.status, TargetStatus::Published);
    assert_eq!(
        (target.provider_post_id.as_deref(), target.url.as_deref()),
        (Some("sbx_1"), Some("https://sandbox/1"))
    );
    assert_eq!((target.published_at, target.updated_at), (Some(clock.now()), clock.now()));
    assert_eq!((&target.error_code, &target.lease_owner, target.attempts), (&None, &None, 1));
    assert_eq!(attempt_outcomes(&db, ws).await, [Some("published".to_owned())]);
    assert_eq!(events(&db, ws).await, [("post.target.published".to_owned(), claimed.target.id.to_string())]);
    clock.advance(Duration::hours(1));
    assert!(lease_all(&db, &clock, OWNER).await.is_empty(), "its job is gone");

    // A second finish of the same attempt (say, a worker that lost its lease) changes nothing.
    let failed = AttemptOutcome::Failed { code: "late".into(), message: "too late".into() };
    let second = db.store.finish_attempt(&claimed, &failed, clock.now(), Some(&published_event)).await;
    assert!(matches!(second, Err(StoreError::Conflict(_))), "{second:?}");
    let unknown = ClaimedJob { attempt_id: AttemptId::generate(), ..claimed.clone() };
    let third = db.store.finish_attempt(&unknown, &failed, clock.now(), None).await;
    assert!(matches!(third, Err(StoreError::Conflict(_))), "{third:?}");
    assert_eq!(target_of(&db, &claimed.target).await, target);
    assert_eq!(events(&db, ws).await.len(), 1);
    assert_eq!(attempt_outcomes(&db, ws).await, [Some("published".to_owned())]);
}

async fn finish_retry_reschedules_the_job(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let chan = connected(&db, &clock, ws, "c").await;
    let post = post_now(ws, &clock, &[chan.id]);
    db.store.create_post(&post, None).await.unwrap();
    let claimed = claim(&db, &clock, &post.targets[0]).await;
    let at = clock.now() + Duration::minutes(5);
    let retry = AttemptOutcome::RetryAt { at, code: "http_503".into(), message: "unavailable".into() };
    db.store.finish_attempt(&claimed, &retry, clock.now(), None).await.unwrap();

    let target = target_of(&db, &claimed.target).await;
    assert_eq!((target.status, target.run_at, target.attempts), (TargetStatus::RetryScheduled, at, 1));
    assert_eq!(
        (target.error_code.as_deref(), target.error_message.as_deref()),
        (Some("http_503"), Some("unavailable"))
    );
    assert_eq!(target.lease_owner, None, "released");
    assert_eq!(db.store.next_due().await.unwrap(), Some(at));
    assert!(lease_all(&db, &clock, OWNER).await.is_empty(), "not before its time");
    assert!(events(&db, ws).await.is_empty());

    clock.advance(Duration::minutes(5));
    let again = claim(&db, &clock, &claimed.target).await;
    assert_eq!((again.target.status, again.target.attempts), (TargetStatus::Publishing, 2));
    assert_eq!(attempt_outcomes(&db, ws).await, [Some("retry".to_owned()), None]);
}

async fn attempts_are_listed_as_the_posts_timeline(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let other = workspace(&db, &clock, "Other").await;
    let chan = connected(&db, &clock, ws, "c").await;
    let post = post_now(ws, &clock, &[chan.id]);
    db.store.create_post(&post, None).await.unwrap();
    let untouched = post_now(ws, &clock, &[chan.id]);
    db.store.create_post(&untouched, None).await.unwrap();
    assert!(db.store.list_attempts(ws, post.id).await.unwrap().is_empty(), "no attempt yet");

    let first = claim(&db, &clock, &post.targets[0]).await;
    let at = clock.now() + Duration::minutes(5);
    let retry = AttemptOutcome::RetryAt { at, code: "http_503".into(), message: "unavailable".into() };
    clock.advance(Duration::seconds(2));
    db.store.finish_attempt(&first, &retry, clock.now(), None).await.unwrap();
    clock.advance(Duration::minutes(5));
    let second = claim(&db, &clock, &post.targets[0]).await;

    let attempts = db.store.list_attempts(ws, post.id).await.unwrap();
    assert_eq!(attempts.len(), 2, "{attempts:?}");
    assert_eq!(attempts[0].id, first.attempt_id);
    assert_eq!(attempts[0].target_id, post.targets[0].id);
    assert_eq!(attempts[0].outcome.as_deref(), Some("retry"));
    assert_eq!(attempts[0].error_code.as_deref(), Some("http_503"));
    assert_eq!(attempts[0].error_message.as_deref(), Some("unavailable"));
    assert_eq!(attempts[0].finished_at.map(|t| t - attempts[0].started_at), Some(Duration::seconds(2)));
    assert_eq!(
        (attempts[1].id, attempts[1].outcome.as_deref(), attempts[1].finished_at),
        (second.attempt_id, None, None)
    );
    assert!(db.store.list_attempts(ws, untouched.id).await.unwrap().is_empty(), "only this post's targets");
    assert!(
        db.store.list_attempts(other, post.id).await.unwrap().is_empty(),
        "another workspace sees nothing"
    );
}

async fn finish_rate_limited_pushes_the_channel_back(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let x = connected(&db, &clock, ws, "x").await;
    let y = connected(&db, &clock, ws, "y").await;
    let first = post_now(ws, &clock, &[x.id]);
    db.store.create_post(&first, None).await.unwrap();
    let claimed = claim(&db, &clock, &first.targets[0]).await;
    let now = clock.now();
    let late = now + Duration::hours(2);
    let second = post_with(
        ws,
        &clock,
        "p",
        &[
            (x.id, TargetStatus::Queued, now),
            (x.id, TargetStatus::Scheduled, late),
            (y.id, TargetStatus::Queued, now),
        ],
    );
    db.store.create_post(&second, None).await.unwrap();

    let at = now + Duration::minutes(10);
    db.store.finish_attempt(&claimed, &AttemptOutcome::RateLimited { at }, now, None).await.unwrap();
    let target = target_of(&db, &claimed.target).await;
    assert_eq!(
        (target.status, target.run_at, target.attempts),
        (TargetStatus::Queued, at, 0),
        "not a failure"
    );
    let after = db.store.get_post(ws, second.id).await.unwrap();
    for (before, after) in second.targets.iter().zip(&after.targets) {
        let expected = if before.channel_id == x.id && before.run_at < at { at } else { before.run_at };
        assert_eq!(after.run_at, expected, "{:?} on {:?}", before.id, before.channel_id);
    }
    assert_eq!(db.store.get_channel(ws, x.id).await.unwrap().paused_until, Some(at));
    assert_eq!(db.store.get_channel(ws, y.id).await.unwrap().paused_until, None);
    assert_eq!(attempt_outcomes(&db, ws).await, [Some("rate_limited".to_owned())]);

    let y_target = second.targets.iter().find(|t| t.channel_id == y.id).unwrap();
    assert_eq!(lease_all(&db, &clock, OWNER).await, [job(y_target)], "the other channel is not held back");
    clock.advance(Duration::minutes(10));
    let mut due: Vec<JobRef> = lease_all(&db, &clock, OWNER).await;
    due.sort_by_key(|j| j.target_id);
    let x_now = second.targets.iter().find(|t| t.channel_id == x.id && t.run_at == now).unwrap();
    let mut expected = vec![job(&claimed.target), job(x_now)];
    expected.sort_by_key(|j| j.target_id);
    assert_eq!(due, expected);
}

async fn finish_needs_reauth_failed_and_unknown(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let x = connected(&db, &clock, ws, "x").await;
    let y = connected(&db, &clock, ws, "y").await;
    let post = post_now(ws, &clock, &[x.id, y.id, y.id]);
    db.store.create_post(&post, None).await.unwrap();
    assert_eq!(lease_all(&db, &clock, OWNER).await.len(), 3);
    let mut claimed = Vec::new();
    for target in &post.targets {
        let started = db.store.start_attempt(job(target), OWNER, AttemptId::generate(), clock.now()).await;
        claimed.push(started.unwrap().unwrap());
    }
    let on_x = claimed.iter().position(|c| c.target.channel_id == x.id).unwrap();
    let on_y: Vec<_> = (0..3).filter(|&i| i != on_x).collect();
    let outcomes = [
        (
            on_x,
            AttemptOutcome::NeedsReauth { message: "token revoked".into() },
            TargetStatus::Failed,
            "channel_needs_reauth",
        ),
        (
            on_y[0],
            AttemptOutcome::Failed { code: "too_long".into(), message: "500 > 300".into() },
            TargetStatus::Failed,
            "too_long",
        ),
        (
            on_y[1],
            AttemptOutcome::Unknown { message: "timed out".into() },
            TargetStatus::Unknown,
            "outcome_unknown",
        ),
    ];
    for (i, outcome, status, code) in &outcomes {
        db.store.finish_attempt(&claimed[*i], outcome, clock.now(), None).await.unwrap();
        let target = target_of(&db, &claimed[*i].target).await;
        assert_eq!((target.status, target.error_code.as_deref()), (*status, Some(*code)), "{outcome:?}");
        assert!(target.error_message.is_some());
    }
    assert_eq!(db.store.get_channel(ws, x.id).await.unwrap().status, ChannelStatus::NeedsReauth);
    assert_eq!(db.store.get_channel(ws, y.id).await.unwrap().status, ChannelStatus::Active);
    let mut recorded: Vec<_> = attempt_outcomes(&db, ws).await.into_iter().map(Option::unwrap).collect();
    recorded.sort();
    assert_eq!(recorded, ["failed", "needs_reauth", "unknown"]);
    assert_eq!(db.store.next_due().await.unwrap(), None, "final: every job is gone");
    assert!(db.store.expired_jobs(clock.now() + Duration::hours(1), 10).await.unwrap().is_empty());
}

async fn concurrent_finishes_number_their_events_in_order(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let chan = connected(&db, &clock, ws, "c").await;
    let post = post_now(ws, &clock, &[chan.id; 8]);
    db.store.create_post(&post, None).await.unwrap();
    assert_eq!(lease_all(&db, &clock, OWNER).await.len(), 8);
    let mut finishes = Vec::new();
    for target in &post.targets {
        let started = db.store.start_attempt(job(target), OWNER, AttemptId::generate(), clock.now()).await;
        let claimed = started.unwrap().unwrap();
        let (store, now) = (db.store.clone(), clock.now());
        finishes.push(tokio::spawn(async move {
            let outcome =
                AttemptOutcome::Published { provider_post_id: claimed.target.id.to_string(), url: None };
            let published = event("post.target.published", &claimed.target);
            store.finish_attempt(&claimed, &outcome, now, Some(&published)).await
        }));
    }
    for finish in finishes {
        finish.await.unwrap().unwrap();
    }
    // `events` checks they are numbered 1..=8 without gaps.
    let mut subjects: Vec<_> = events(&db, ws).await.into_iter().map(|(_, subject)| subject).collect();
    subjects.sort();
    let mut expected: Vec<_> = post.targets.iter().map(|t| t.id.to_string()).collect();
    expected.sort();
    assert_eq!(subjects, expected);
}

async fn extend_lease_and_expired_jobs(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let chan = connected(&db, &clock, ws, "c").await;
    let post = post_now(ws, &clock, &[chan.id]);
    db.store.create_post(&post, None).await.unwrap();
    let now = clock.now();
    let leased = db.store.lease_jobs(OWNER, now, now + Duration::seconds(30), 1).await.unwrap();
    assert_eq!(leased, [job(&post.targets[0])]);
    let until = now + Duration::seconds(90);
    assert!(db.store.extend_lease(leased[0], OWNER, until).await.unwrap());
    assert!(!db.store.extend_lease(leased[0], "other", now + Duration::hours(1)).await.unwrap());
    assert_eq!(target_of(&db, &post.targets[0]).await.lease_expires_at, Some(until));
    assert!(db.store.expired_jobs(now + Duration::seconds(60), 10).await.unwrap().is_empty());
    assert!(db.store.expired_jobs(until, 10).await.unwrap().is_empty(), "expired means before now");
    assert_eq!(db.store.expired_jobs(until + Duration::seconds(1), 10).await.unwrap(), leased);
    assert!(db.store.expired_jobs(until + Duration::seconds(1), 0).await.unwrap().is_empty());
}

async fn recover_job_in_each_case(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let chan = connected(&db, &clock, ws, "c").await;
    let now = clock.now();
    let statuses =
        [TargetStatus::Queued, TargetStatus::Queued, TargetStatus::Failed, TargetStatus::Publishing];
    let shape: Vec<_> = statuses.iter().map(|&s| (chan.id, s, now)).collect();
    let mut post = post_with(ws, &clock, "p", &shape);
    db.store.create_post(&post, None).await.unwrap();
    // Name the targets by the status they were created with.
    post.targets.sort_by_key(|t| (t.status.as_str(), t.id));
    let [failed, publishing_no_attempt, waiting, started] = post.targets.clone().try_into().unwrap();
    assert_eq!(lease_all(&db, &clock, OWNER).await.len(), 4);
    let original =
        db.store.start_attempt(job(&started), OWNER, AttemptId::generate(), now).await.unwrap().unwrap();

    let recover = |target: &crier_core::PostTarget, clock: &ManualClock| {
        let (store, job, now) = (db.store.clone(), job(target), clock.now());
        async move { store.recover_job(job, "rescuer", now, now + Duration::minutes(1)).await.unwrap() }
    };
    assert!(recover(&waiting, &clock).await.is_none(), "not expired yet");
    clock.advance(Duration::minutes(2));
    assert_eq!(db.store.expired_jobs(clock.now(), 10).await.unwrap().len(), 4);

    assert!(matches!(recover(&waiting, &clock).await, Some(Recovery::Requeued)));
    assert_eq!(target_of(&db, &waiting).await.lease_owner, None);
    let Some(Recovery::Reconcile(reconcile)) = recover(&started, &clock).await else {
        panic!("expected Reconcile")
    };
    assert_eq!(reconcile.attempt_id, original.attempt_id, "the open attempt, to reconcile");
    assert_eq!(
        (reconcile.target.status, reconcile.target.lease_owner.as_deref()),
        (TargetStatus::Publishing, Some("rescuer"))
    );
    assert!(
        db.store.extend_lease(job(&started), "rescuer", clock.now() + Duration::minutes(1)).await.unwrap()
    );
    assert!(!db.store.extend_lease(job(&started), OWNER, clock.now() + Duration::minutes(1)).await.unwrap());
    assert!(matches!(recover(&failed, &clock).await, Some(Recovery::Dropped)));
    assert!(matches!(recover(&publishing_no_attempt, &clock).await, Some(Recovery::Requeued)));
    assert_eq!(target_of(&db, &publishing_no_attempt).await.status, TargetStatus::Queued);
    assert!(recover(&started, &clock).await.is_none(), "the rescuer's lease is live");

    let mut requeued = lease_all(&db, &clock, "next").await;
    requeued.sort_by_key(|j| j.target_id);
    let mut expected = vec![job(&waiting), job(&publishing_no_attempt)];
    expected.sort_by_key(|j| j.target_id);
    assert_eq!(requeued, expected, "the dropped job is gone, the reconciling one still leased");

    // The rescuer settles the attempt; the original worker, back from the dead, cannot.
    let published = AttemptOutcome::Published { provider_post_id: "found".into(), url: None };
    db.store.finish_attempt(&reconcile, &published, clock.now(), None).await.unwrap();
    let late = db.store.finish_attempt(&original, &published, clock.now(), None).await;
    assert!(matches!(late, Err(StoreError::Conflict(_))), "{late:?}");

    // Racing recoveries of one expired lease: exactly one wins.
    clock.advance(Duration::minutes(2));
    let racers: Vec<_> = (0..5).map(|_| tokio::spawn(recover(&waiting, &clock))).collect();
    let mut wins = 0;
    for racer in racers {
        wins += usize::from(racer.await.unwrap().is_some());
    }
    assert_eq!(wins, 1);
}

async fn release_leases_skips_jobs_under_way(db: TestDb) {
    let clock = ManualClock::starting_now();
    let a = workspace(&db, &clock, "A").await;
    let b = workspace(&db, &clock, "B").await;
    let chan_a = connected(&db, &clock, a, "a").await;
    let chan_b = connected(&db, &clock, b, "b").await;
    let in_a = post_now(a, &clock, &[chan_a.id, chan_a.id]);
    let in_b = post_now(b, &clock, &[chan_b.id]);
    db.store.create_post(&in_a, None).await.unwrap();
    db.store.create_post(&in_b, None).await.unwrap();
    assert_eq!(lease_all(&db, &clock, OWNER).await.len(), 3);
    let under_way = &in_a.targets[0];
    db.store.start_attempt(job(under_way), OWNER, AttemptId::generate(), clock.now()).await.unwrap().unwrap();
    let other = post_now(b, &clock, &[chan_b.id]);
    db.store.create_post(&other, None).await.unwrap();
    assert_eq!(lease_all(&db, &clock, "other").await, [job(&other.targets[0])]);

    assert_eq!(db.store.release_leases(OWNER).await.unwrap(), 2, "in both workspaces");
    assert_eq!(db.store.release_leases(OWNER).await.unwrap(), 0);
    let mut released = lease_all(&db, &clock, "next").await;
    released.sort_by_key(|j| j.target_id);
    let mut expected = vec![job(&in_a.targets[1]), job(&in_b.targets[0])];
    expected.sort_by_key(|j| j.target_id);
    assert_eq!(released, expected);
    assert!(db.store.extend_lease(job(under_way), OWNER, clock.now()).await.unwrap(), "still held");
    assert!(db.store.extend_lease(job(&other.targets[0]), "other", clock.now()).await.unwrap());
}

async fn wait_for_jobs_wakes_on_create_post(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let chan = connected(&db, &clock, ws, "c").await;
    // The first wait sets up what later ones listen with (PostgreSQL: LISTEN).
    db.store.wait_for_jobs(StdDuration::from_millis(300)).await;
    let store = db.store.clone();
    let mut waiter = tokio::spawn(async move { store.wait_for_jobs(StdDuration::from_secs(120)).await });
    // A notification sent before the waiter listens is lost by design, so post until it wakes.
    let deadline = Instant::now() + StdDuration::from_secs(30);
    loop {
        db.store.create_post(&post_now(ws, &clock, &[chan.id]), None).await.unwrap();
        match tokio::time::timeout(StdDuration::from_millis(200), &mut waiter).await {
            Ok(joined) => break joined.unwrap(),
            Err(_) => assert!(Instant::now() < deadline, "create_post never woke wait_for_jobs"),
        }
    }
}

async fn wait_for_jobs_times_out(db: TestDb) {
    let started = Instant::now();
    db.store.wait_for_jobs(StdDuration::from_millis(150)).await;
    let waited = started.elapsed();
    assert!(waited >= StdDuration::from_millis(150), "{waited:?}");
    assert!(waited < StdDuration::from_secs(10), "{waited:?}");
}

/// A batch where one job's lease is someone else's and one attempt was already finished: the
/// others go through, and each result is what the single call would have said.
async fn batches_start_and_finish_each_job_as_alone(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let other_ws = workspace(&db, &clock, "Other").await;
    let chan = connected(&db, &clock, ws, "c").await;
    let other_chan = connected(&db, &clock, other_ws, "o").await;
    let post = post_now(ws, &clock, &[chan.id, chan.id, chan.id]);
    db.store.create_post(&post, None).await.unwrap();
    let other_post = post_now(other_ws, &clock, &[other_chan.id]);
    db.store.create_post(&other_post, None).await.unwrap();
    let until = clock.now() + Duration::minutes(1);
    let mine = db.store.lease_jobs(OWNER, clock.now(), until, 3).await.unwrap();
    let theirs = db.store.lease_jobs("other", clock.now(), until, 10).await.unwrap();
    assert_eq!((mine.len(), theirs.len()), (3, 1));
    let mut batch: Vec<(JobRef, AttemptId)> = mine.iter().map(|j| (*j, AttemptId::generate())).collect();
    batch.insert(1, (theirs[0], AttemptId::generate()));
    let started = db.store.start_attempts(&batch, OWNER, clock.now()).await;
    assert_eq!(started.len(), 4);
    assert!(matches!(started[1], Err(StoreError::Conflict(_))), "{:?}", started[1]);
    let claimed: Vec<ClaimedJob> = started.into_iter().filter_map(|r| r.ok().flatten()).collect();
    assert_eq!(claimed.len(), 3);
    for (claimed, (job, attempt)) in claimed.iter().zip(batch.iter().filter(|(j, _)| j.workspace_id == ws)) {
        assert_eq!((claimed.target.id, claimed.attempt_id), (job.target_id, *attempt));
        assert_eq!(claimed.target.status, TargetStatus::Publishing);
    }
    // The first is finished on its own; the batch then finishes the rest and refuses that one.
    let published = |c: &ClaimedJob| FinishedAttempt {
        job: c.clone(),
        outcome: AttemptOutcome::Published { provider_post_id: format!("p-{}", c.target.id), url: None },
        event: Some(event("post.published", &c.target)),
    };
    db.store.finish_attempt(&claimed[0], &published(&claimed[0]).outcome, clock.now(), None).await.unwrap();
    let results =
        db.store.finish_attempts(&claimed.iter().map(published).collect::<Vec<_>>(), clock.now()).await;
    assert!(matches!(results[0], Err(StoreError::Conflict(_))), "{:?}", results[0]);
    assert!(results[1].is_ok() && results[2].is_ok(), "{results:?}");
    for c in &claimed {
        assert_eq!(target_of(&db, &c.target).await.status, TargetStatus::Published);
    }
    let kinds: Vec<_> = events(&db, ws).await.into_iter().map(|(kind, _)| kind).collect();
    assert_eq!(kinds, ["post.published", "post.published"], "one event per outcome the batch recorded");
    assert!(lease_all(&db, &clock, OWNER).await.is_empty());
}
