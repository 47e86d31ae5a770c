//! Conformance for what is done to one target after the fact: retrying a failed (or, once
//! confirmed, unknown) target, and deleting a published one from its platform (the deletion queue).

use chrono::Duration;
use crier_core::{
    AttemptId, AttemptOutcome, Clock, DeletionOutcome, DeletionStatus, ManualClock, NewEvent, PostId,
    StoreError, TargetRetry, TargetStatus,
};
use crier_testkit::{TestDb, on_both_backends};

use crate::fixtures::{OWNER, audit, connected, events, job, lease_all, post_now, target_of, workspace};

on_both_backends!(
    retry_target_requeues_failed_and_confirmed_unknown,
    retry_target_is_tenant_scoped,
    deletions_are_requested_leased_retried_and_finished,
);

fn retry(target: &crier_core::PostTarget, clock: &ManualClock, confirm_unknown: bool) -> TargetRetry {
    TargetRetry {
        post_id: target.post_id,
        target_id: target.id,
        confirm_unknown,
        at: clock.now(),
        run_at: clock.now() + Duration::seconds(5),
    }
}

async fn retry_target_requeues_failed_and_confirmed_unknown(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let x = connected(&db, &clock, ws, "x").await;
    let post = post_now(ws, &clock, &[x.id, x.id, x.id, x.id]);
    db.store.create_post(&post, None).await.unwrap();
    assert_eq!(lease_all(&db, &clock, OWNER).await.len(), 4);
    let mut claimed = Vec::new();
    for target in &post.targets {
        let started = db.store.start_attempt(job(target), OWNER, AttemptId::generate(), clock.now()).await;
        claimed.push(started.unwrap().unwrap());
    }
    let outcomes = [
        AttemptOutcome::Failed { code: "too_long".into(), message: "500 > 300".into() },
        AttemptOutcome::Unknown { message: "timed out".into() },
        AttemptOutcome::Published { provider_post_id: "p1".into(), url: None },
    ];
    for (job, outcome) in claimed.iter().zip(&outcomes) {
        db.store.finish_attempt(job, outcome, clock.now(), None).await.unwrap();
    }
    let [failed, unknown, published, publishing] = [0, 1, 2, 3].map(|i| &post.targets[i]);
    assert_eq!(db.store.next_due().await.unwrap(), None, "only the publishing target has a job, leased");
    clock.advance(Duration::minutes(1));

    let audited_retry = audit(&clock, "post.target.retried");
    let after = db.store.retry_target(ws, &retry(failed, &clock, false), &audited_retry).await.unwrap();
    let requeued = after.targets.iter().find(|t| t.id == failed.id).unwrap();
    assert_eq!(requeued.status, TargetStatus::Queued);
    assert_eq!(requeued.attempts, 0, "a fresh attempt budget");
    assert_eq!((requeued.error_code.as_deref(), requeued.error_message.as_deref()), (None, None));
    assert_eq!(requeued.run_at, clock.now() + Duration::seconds(5));
    assert_eq!(db.store.next_due().await.unwrap(), Some(clock.now() + Duration::seconds(5)));
    let retried: Vec<_> =
        events(&db, ws).await.into_iter().filter(|(k, _)| k == "post.target.retried").collect();
    assert_eq!(retried, [("post.target.retried".to_owned(), failed.id.to_string())]);
    let audited = db.store.list_audit_events(ws, 0, 100).await.unwrap();
    assert_eq!(audited.last().unwrap().action, "post.target.retried");

    // Queued now: a second retry is a conflict, not a second job.
    let again = db.store.retry_target(ws, &retry(failed, &clock, false), &audited_retry).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))));
    // Unknown: only once confirmed.
    let unconfirmed = db.store.retry_target(ws, &retry(unknown, &clock, false), &audit(&clock, "x")).await;
    assert!(matches!(unconfirmed, Err(StoreError::Conflict(ref m)) if m.contains("confirm_unknown")));
    assert_eq!(target_of(&db, unknown).await.status, TargetStatus::Unknown, "nothing changed");
    db.store.retry_target(ws, &retry(unknown, &clock, true), &audit(&clock, "x")).await.unwrap();
    assert_eq!(target_of(&db, unknown).await.status, TargetStatus::Queued);
    // Published or under way: never.
    for target in [published, publishing] {
        let refused = db.store.retry_target(ws, &retry(target, &clock, true), &audit(&clock, "x")).await;
        assert!(matches!(refused, Err(StoreError::Conflict(_))), "{:?}", target_of(&db, target).await.status);
    }
    assert_eq!(target_of(&db, published).await.status, TargetStatus::Published);

    // The retried targets go through the queue again like new ones.
    clock.advance(Duration::seconds(5));
    let leased = lease_all(&db, &clock, "worker-b").await;
    assert_eq!(leased.len(), 2, "{leased:?}");
    let started = db.store.start_attempt(job(failed), "worker-b", AttemptId::generate(), clock.now()).await;
    let started = started.unwrap().unwrap();
    assert_eq!((started.target.status, started.target.attempts), (TargetStatus::Publishing, 1));
}

async fn retry_target_is_tenant_scoped(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let other = workspace(&db, &clock, "Other").await;
    let x = connected(&db, &clock, ws, "x").await;
    let post = post_now(ws, &clock, &[x.id]);
    db.store.create_post(&post, None).await.unwrap();
    let target = &post.targets[0];
    let claimed = crate::fixtures::claim(&db, &clock, target).await;
    let failed = AttemptOutcome::Failed { code: "c".into(), message: "m".into() };
    db.store.finish_attempt(&claimed, &failed, clock.now(), None).await.unwrap();

    let foreign = db.store.retry_target(other, &retry(target, &clock, false), &audit(&clock, "x")).await;
    assert!(matches!(foreign, Err(StoreError::NotFound)));
    let wrong_post = TargetRetry { post_id: PostId::generate(), ..retry(target, &clock, false) };
    let wrong_post = db.store.retry_target(ws, &wrong_post, &audit(&clock, "x")).await;
    assert!(matches!(wrong_post, Err(StoreError::NotFound)));
    assert_eq!(target_of(&db, target).await.status, TargetStatus::Failed, "nothing changed");
    assert!(db.store.list_audit_events(other, 0, 100).await.unwrap().iter().all(|e| e.action != "x"));
}

async fn deletions_are_requested_leased_retried_and_finished(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let other = workspace(&db, &clock, "Other").await;
    let x = connected(&db, &clock, ws, "x").await;
    let post = post_now(ws, &clock, &[x.id, x.id, x.id]);
    db.store.create_post(&post, None).await.unwrap();
    lease_all(&db, &clock, OWNER).await;
    let outcomes = [
        AttemptOutcome::Published { provider_post_id: "p0".into(), url: None },
        AttemptOutcome::Published { provider_post_id: "p1".into(), url: None },
        AttemptOutcome::Failed { code: "c".into(), message: "m".into() },
    ];
    for (target, outcome) in post.targets.iter().zip(&outcomes) {
        let claimed = db.store.start_attempt(job(target), OWNER, AttemptId::generate(), clock.now()).await;
        db.store.finish_attempt(&claimed.unwrap().unwrap(), outcome, clock.now(), None).await.unwrap();
    }
    let [first, second, failed] = [0, 1, 2].map(|i| &post.targets[i]);
    let asked = audit(&clock, "post.target.deletion_requested");
    let request = |target: &crier_core::PostTarget, ws| {
        db.store.request_deletion(ws, target.post_id, target.id, clock.now(), &asked)
    };

    assert!(matches!(request(failed, ws).await, Err(StoreError::Conflict(_))), "not published");
    assert!(matches!(request(first, other).await, Err(StoreError::NotFound)));
    let after = request(first, ws).await.unwrap();
    let deletion = after.targets.iter().find(|t| t.id == first.id).unwrap().deletion.clone().unwrap();
    assert_eq!(
        (deletion.status, deletion.requested_at, deletion.deleted_at),
        (DeletionStatus::Pending, clock.now(), None)
    );
    assert_eq!(target_of(&db, first).await.status, TargetStatus::Published, "still published until deleted");
    assert!(matches!(request(first, ws).await, Err(StoreError::Conflict(ref m)) if m.contains("under way")));
    assert_eq!(db.store.list_audit_events(ws, 0, 100).await.unwrap().last().unwrap().action, asked.action);
    let refused = db.store.delete_channel(ws, x.id, &audit(&clock, "channel.deleted")).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "a pending deletion needs its channel");

    // Leased once; a temporary failure releases it until its retry time, with the error shown.
    let until = clock.now() + Duration::minutes(1);
    let leased = db.store.lease_deletions(OWNER, clock.now(), until, 10).await.unwrap();
    assert_eq!(leased, [job(first)]);
    assert!(db.store.lease_deletions("worker-b", clock.now(), until, 10).await.unwrap().is_empty());
    let started = db.store.start_deletion(job(first), OWNER, clock.now()).await.unwrap().unwrap();
    assert_eq!(
        (started.attempts, started.channel.id, started.target.provider_post_id.as_deref()),
        (1, x.id, Some("p0"))
    );
    let retry = DeletionOutcome::RetryAt {
        at: clock.now() + Duration::seconds(10),
        code: "provider_unavailable".into(),
        message: "503".into(),
    };
    db.store.finish_deletion(&started, OWNER, &retry, clock.now(), None).await.unwrap();
    let pending = target_of(&db, first).await.deletion.unwrap();
    assert_eq!(
        (pending.status, pending.error_code.as_deref()),
        (DeletionStatus::Pending, Some("provider_unavailable"))
    );
    assert!(db.store.lease_deletions(OWNER, clock.now(), until, 10).await.unwrap().is_empty(), "not due yet");
    clock.advance(Duration::seconds(10));
    assert_eq!(db.store.lease_deletions(OWNER, clock.now(), until, 10).await.unwrap(), [job(first)]);
    let started = db.store.start_deletion(job(first), OWNER, clock.now()).await.unwrap().unwrap();
    assert_eq!(started.attempts, 2);
    let event =
        NewEvent { kind: "post.target.deleted", subject: first.id.to_string(), data: serde_json::json!({}) };
    db.store
        .finish_deletion(&started, OWNER, &DeletionOutcome::Deleted, clock.now(), Some(&event))
        .await
        .unwrap();
    let done = target_of(&db, first).await.deletion.unwrap();
    assert_eq!(
        (done.status, done.deleted_at, done.error_code),
        (DeletionStatus::Deleted, Some(clock.now()), None)
    );
    assert!(events(&db, ws).await.contains(&("post.target.deleted".to_owned(), first.id.to_string())));
    assert!(
        matches!(request(first, ws).await, Err(StoreError::Conflict(ref m)) if m.contains("already deleted"))
    );
    assert!(
        db.store
            .lease_deletions(OWNER, clock.now() + Duration::hours(1), until, 10)
            .await
            .unwrap()
            .is_empty()
    );

    // A lease that ran out is taken over; the first holder can no longer record an outcome.
    request(second, ws).await.unwrap();
    assert_eq!(
        db.store.lease_deletions(OWNER, clock.now(), clock.now() + Duration::seconds(30), 10).await.unwrap(),
        [job(second)]
    );
    let stale = db.store.start_deletion(job(second), OWNER, clock.now()).await.unwrap().unwrap();
    clock.advance(Duration::minutes(1));
    assert_eq!(
        db.store
            .lease_deletions("worker-b", clock.now(), clock.now() + Duration::minutes(1), 10)
            .await
            .unwrap(),
        [job(second)]
    );
    let lost = db.store.finish_deletion(&stale, OWNER, &DeletionOutcome::Deleted, clock.now(), None).await;
    assert!(matches!(lost, Err(StoreError::Conflict(_))));
    let taken = db.store.start_deletion(job(second), "worker-b", clock.now()).await.unwrap().unwrap();
    let refused = DeletionOutcome::Failed { code: "too_old".into(), message: "cannot delete".into() };
    db.store.finish_deletion(&taken, "worker-b", &refused, clock.now(), None).await.unwrap();
    assert_eq!(target_of(&db, second).await.deletion.unwrap().status, DeletionStatus::Failed);
    // A failed deletion may be asked for again.
    assert_eq!(
        request(second, ws)
            .await
            .unwrap()
            .targets
            .iter()
            .find(|t| t.id == second.id)
            .unwrap()
            .deletion
            .as_ref()
            .unwrap()
            .status,
        DeletionStatus::Pending
    );
}
