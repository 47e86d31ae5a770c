//! Webhook endpoints, the fan-out of events into deliveries, the delivery queue and its
//! outcomes, on both backends.

use chrono::Duration;
use crier_core::{
    Clock, DeliveryAttempt, DeliveryOutcome, DeliveryQuery, DeliveryRef, DeliveryStatus, EndpointChanges,
    ManualClock, SealedRow, SecretId, StoreError, WebhookEndpoint, WebhookEndpointId, WorkspaceId,
};
use crier_testkit::{TestDb, on_both_backends};

use super::fixtures::{audit, connected, workspace};

on_both_backends!(
    endpoints_round_trip_and_stay_in_their_workspace,
    events_fan_out_to_matching_enabled_endpoints,
    deliveries_lease_once_and_again_after_the_lease_runs_out,
    finish_records_attempts_and_reschedules,
    a_disabling_failure_disables_and_emits_an_event,
    rotation_keeps_the_previous_secret_until_it_expires,
    test_send_and_manual_retry,
    deleting_an_endpoint_takes_its_deliveries_and_secrets,
);

const OWNER: &str = "dispatcher-a";

fn sealed(ws: WorkspaceId, clock: &ManualClock) -> SealedRow {
    SealedRow {
        workspace_id: ws,
        id: SecretId::generate(),
        purpose: "webhook_secret".into(),
        key_version: 1,
        sealed: vec![9; 40],
        created_at: clock.now(),
        updated_at: clock.now(),
    }
}

async fn endpoint(db: &TestDb, clock: &ManualClock, ws: WorkspaceId, types: &[&str]) -> WebhookEndpoint {
    let secret = sealed(ws, clock);
    let endpoint = WebhookEndpoint {
        workspace_id: ws,
        id: WebhookEndpointId::generate(),
        url: "https://hooks.example/in".into(),
        description: "test".into(),
        event_types: types.iter().map(|t| (*t).to_owned()).collect(),
        enabled: true,
        disabled_reason: None,
        secret_id: secret.id,
        previous_secret: None,
        failing_since: None,
        created_at: clock.now(),
        updated_at: clock.now(),
    };
    db.store
        .create_endpoint(&endpoint, &secret, None, &audit(clock, "webhook_endpoint.created"))
        .await
        .unwrap();
    endpoint
}

/// Deletes a channel, which appends one `channel.disconnected` event.
async fn disconnect_event(db: &TestDb, clock: &ManualClock, ws: WorkspaceId) {
    let channel = connected(db, clock, ws, "gone").await;
    db.store.delete_channel(ws, channel.id, &audit(clock, "channel.deleted")).await.unwrap();
}

async fn deliveries(db: &TestDb, ws: WorkspaceId) -> Vec<crier_core::Delivery> {
    db.store.list_deliveries(ws, &DeliveryQuery { limit: 100, ..Default::default() }).await.unwrap()
}

async fn lease(db: &TestDb, clock: &ManualClock, owner: &str) -> Vec<DeliveryRef> {
    db.store.lease_deliveries(owner, clock.now(), clock.now() + Duration::seconds(30), 100).await.unwrap()
}

fn attempt(clock: &ManualClock, status: Option<i32>) -> DeliveryAttempt {
    DeliveryAttempt {
        number: 0,
        attempted_at: clock.now(),
        status_code: status,
        latency_ms: 12,
        response_excerpt: "ok".into(),
        error: status.filter(|s| *s >= 300).map(|s| format!("the endpoint answered {s}")),
    }
}

async fn endpoints_round_trip_and_stay_in_their_workspace(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let other = workspace(&db, &clock, "b").await;
    let made = endpoint(&db, &clock, ws, &["post.published"]).await;
    assert_eq!(db.store.get_endpoint(ws, made.id).await.unwrap(), made);
    assert_eq!(db.store.list_endpoints(ws).await.unwrap(), vec![made.clone()]);
    assert!(db.store.list_endpoints(other).await.unwrap().is_empty());
    assert!(matches!(db.store.get_endpoint(other, made.id).await, Err(StoreError::NotFound)));
    let changes = EndpointChanges { enabled: Some(false), ..Default::default() };
    let refused = db.store.update_endpoint(other, made.id, &changes, clock.now(), &audit(&clock, "x")).await;
    assert!(matches!(refused, Err(StoreError::NotFound)));
    assert!(matches!(
        db.store.delete_endpoint(other, made.id, &audit(&clock, "x")).await,
        Err(StoreError::NotFound)
    ));
    clock.advance(Duration::seconds(1));
    let changes = EndpointChanges {
        url: Some("https://hooks.example/v2".into()),
        description: Some("new".into()),
        event_types: Some(vec![]),
        enabled: Some(false),
    };
    let changed =
        db.store.update_endpoint(ws, made.id, &changes, clock.now(), &audit(&clock, "u")).await.unwrap();
    assert_eq!(changed.url, "https://hooks.example/v2");
    assert!(changed.event_types.is_empty() && !changed.enabled);
    assert_eq!(changed.updated_at, clock.now());
    assert_eq!(db.store.get_endpoint(ws, made.id).await.unwrap(), changed);
}

async fn events_fan_out_to_matching_enabled_endpoints(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let other = workspace(&db, &clock, "b").await;
    let all = endpoint(&db, &clock, ws, &[]).await;
    let matching = endpoint(&db, &clock, ws, &["post.failed", "channel.disconnected"]).await;
    let _not_matching = endpoint(&db, &clock, ws, &["post.published"]).await;
    let disabled = endpoint(&db, &clock, ws, &[]).await;
    let off = EndpointChanges { enabled: Some(false), ..Default::default() };
    db.store.update_endpoint(ws, disabled.id, &off, clock.now(), &audit(&clock, "u")).await.unwrap();
    let foreign = endpoint(&db, &clock, other, &[]).await;

    disconnect_event(&db, &clock, ws).await;
    let made = deliveries(&db, ws).await;
    let mut to: Vec<_> = made.iter().map(|d| d.endpoint_id).collect();
    to.sort();
    let mut expected = vec![all.id, matching.id];
    expected.sort();
    assert_eq!(to, expected);
    for d in &made {
        assert_eq!(
            (d.event_kind.as_str(), d.status, d.attempts),
            ("channel.disconnected", DeliveryStatus::Pending, 0)
        );
        assert!(d.id.to_string().starts_with("msg_"));
    }
    assert_ne!(made[0].id, made[1].id);
    assert!(deliveries(&db, other).await.is_empty(), "{foreign:?} must not see another workspace's events");
    let events = db.store.list_events(ws, 0, 10).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, "channel.disconnected");
    assert_eq!(made[0].event_seq, events[0].seq);
}

async fn deliveries_lease_once_and_again_after_the_lease_runs_out(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    endpoint(&db, &clock, ws, &[]).await;
    disconnect_event(&db, &clock, ws).await;
    let first = lease(&db, &clock, OWNER).await;
    assert_eq!(first.len(), 1);
    assert!(lease(&db, &clock, "other").await.is_empty(), "a leased delivery is not leased twice");
    let claimed = db.store.claim_delivery(first[0], OWNER, clock.now()).await.unwrap().unwrap();
    assert_eq!(claimed.event.kind, "channel.disconnected");
    assert!(db.store.claim_delivery(first[0], "other", clock.now()).await.unwrap().is_none());
    // The holder dies: once its lease has run out, another dispatcher takes it (at least once).
    clock.advance(Duration::seconds(31));
    let again = lease(&db, &clock, "other").await;
    assert_eq!(again, first);
    assert!(db.store.claim_delivery(first[0], OWNER, clock.now()).await.unwrap().is_none());
    let late = db
        .store
        .finish_delivery(
            first[0],
            OWNER,
            &attempt(&clock, Some(200)),
            &DeliveryOutcome::Succeeded,
            clock.now(),
        )
        .await;
    assert!(matches!(late, Err(StoreError::Conflict(_))), "{late:?}");
    assert!(db.store.claim_delivery(first[0], "other", clock.now()).await.unwrap().is_some());
}

async fn finish_records_attempts_and_reschedules(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let ep = endpoint(&db, &clock, ws, &[]).await;
    disconnect_event(&db, &clock, ws).await;
    let job = lease(&db, &clock, OWNER).await[0];
    let retry_at = clock.now() + Duration::seconds(5);
    db.store
        .finish_delivery(
            job,
            OWNER,
            &attempt(&clock, Some(500)),
            &DeliveryOutcome::RetryAt(retry_at),
            clock.now(),
        )
        .await
        .unwrap();
    let (delivery, attempts) = db.store.get_delivery(ws, job.delivery_id).await.unwrap();
    assert_eq!(
        (delivery.status, delivery.attempts, delivery.last_status_code),
        (DeliveryStatus::Pending, 1, Some(500))
    );
    assert_eq!(delivery.next_attempt_at, Some(retry_at));
    assert_eq!(attempts.len(), 1);
    assert_eq!((attempts[0].number, attempts[0].status_code), (1, Some(500)));
    assert_eq!(db.store.get_endpoint(ws, ep.id).await.unwrap().failing_since, Some(clock.now()));
    assert!(lease(&db, &clock, OWNER).await.is_empty(), "not before its time");
    assert_eq!(db.store.next_delivery_due().await.unwrap(), Some(retry_at));
    clock.advance(Duration::seconds(5));
    let job = lease(&db, &clock, OWNER).await[0];
    db.store
        .finish_delivery(job, OWNER, &attempt(&clock, Some(204)), &DeliveryOutcome::Succeeded, clock.now())
        .await
        .unwrap();
    let (delivery, attempts) = db.store.get_delivery(ws, job.delivery_id).await.unwrap();
    assert_eq!(
        (delivery.status, delivery.attempts, delivery.next_attempt_at),
        (DeliveryStatus::Succeeded, 2, None)
    );
    assert_eq!(attempts.iter().map(|a| a.number).collect::<Vec<_>>(), vec![1, 2]);
    assert_eq!(db.store.get_endpoint(ws, ep.id).await.unwrap().failing_since, None);
    assert!(lease(&db, &clock, OWNER).await.is_empty());
    assert_eq!(db.store.next_delivery_due().await.unwrap(), None);
}

async fn a_disabling_failure_disables_and_emits_an_event(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let gone = endpoint(&db, &clock, ws, &[]).await;
    let watcher = endpoint(&db, &clock, ws, &["webhook.endpoint.disabled"]).await;
    disconnect_event(&db, &clock, ws).await;
    disconnect_event(&db, &clock, ws).await;
    let jobs = lease(&db, &clock, OWNER).await;
    assert_eq!(jobs.len(), 2, "two events for `gone`; `watcher` takes neither");
    let outcome = DeliveryOutcome::Failed { disable: Some("gone".into()) };
    db.store
        .finish_delivery(jobs[0], OWNER, &attempt(&clock, Some(410)), &outcome, clock.now())
        .await
        .unwrap();
    let disabled = db.store.get_endpoint(ws, gone.id).await.unwrap();
    assert!(!disabled.enabled);
    assert_eq!(disabled.disabled_reason.as_deref(), Some("gone"));
    // The endpoint's other pending delivery failed with it; the watcher got the event.
    let all = deliveries(&db, ws).await;
    let of_gone: Vec<_> = all.iter().filter(|d| d.endpoint_id == gone.id).collect();
    assert!(of_gone.iter().all(|d| d.status == DeliveryStatus::Failed), "{of_gone:?}");
    let to_watcher: Vec<_> = all.iter().filter(|d| d.endpoint_id == watcher.id).collect();
    assert_eq!(to_watcher.len(), 1);
    assert_eq!(to_watcher[0].event_kind, "webhook.endpoint.disabled");
    let events = db.store.list_events(ws, 0, 10).await.unwrap();
    let last = events.last().unwrap();
    assert_eq!(
        (last.kind.as_str(), last.data["reason"].as_str()),
        ("webhook.endpoint.disabled", Some("gone"))
    );
    // The second delivery's lease is still held, but claiming it finds it failed.
    assert!(db.store.claim_delivery(jobs[1], OWNER, clock.now()).await.unwrap().is_none());
    // Re-enabling clears the record.
    let on = EndpointChanges { enabled: Some(true), ..Default::default() };
    let again = db.store.update_endpoint(ws, gone.id, &on, clock.now(), &audit(&clock, "u")).await.unwrap();
    assert!(again.enabled && again.disabled_reason.is_none() && again.failing_since.is_none());
}

async fn rotation_keeps_the_previous_secret_until_it_expires(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let ep = endpoint(&db, &clock, ws, &[]).await;
    let first_secret = ep.secret_id;
    let second = sealed(ws, &clock);
    let grace_end = clock.now() + Duration::hours(24);
    let rotated =
        db.store.rotate_endpoint_secret(ws, ep.id, &second, grace_end, &audit(&clock, "r")).await.unwrap();
    assert_eq!(rotated.secret_id, second.id);
    assert_eq!(rotated.signing_secrets(clock.now()), vec![second.id, first_secret]);
    assert_eq!(rotated.signing_secrets(grace_end), vec![second.id]);
    assert_eq!(db.store.get_secret(ws, first_secret).await.unwrap().id, first_secret);
    // A second rotation drops the first secret for good.
    let third = sealed(ws, &clock);
    let rotated =
        db.store.rotate_endpoint_secret(ws, ep.id, &third, grace_end, &audit(&clock, "r")).await.unwrap();
    assert_eq!(rotated.signing_secrets(clock.now()), vec![third.id, second.id]);
    assert!(matches!(db.store.get_secret(ws, first_secret).await, Err(StoreError::NotFound)));
    let other = workspace(&db, &clock, "b").await;
    let foreign = sealed(other, &clock);
    let refused =
        db.store.rotate_endpoint_secret(other, ep.id, &foreign, grace_end, &audit(&clock, "r")).await;
    assert!(matches!(refused, Err(StoreError::NotFound)));
}

async fn test_send_and_manual_retry(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let target = endpoint(&db, &clock, ws, &["post.published"]).await;
    let bystander = endpoint(&db, &clock, ws, &[]).await;
    let ping = db.store.send_test_event(ws, target.id, clock.now()).await.unwrap();
    assert_eq!((ping.endpoint_id, ping.event_kind.as_str()), (target.id, "ping"));
    assert_eq!(deliveries(&db, ws).await.len(), 1, "{bystander:?} gets no ping");
    let job = lease(&db, &clock, OWNER).await[0];
    let failed = DeliveryOutcome::Failed { disable: None };
    db.store.finish_delivery(job, OWNER, &attempt(&clock, Some(500)), &failed, clock.now()).await.unwrap();
    assert!(lease(&db, &clock, OWNER).await.is_empty());
    let again = db.store.retry_delivery(ws, ping.id, clock.now()).await.unwrap();
    assert_eq!((again.status, again.id), (DeliveryStatus::Pending, ping.id));
    assert_eq!(lease(&db, &clock, OWNER).await, vec![job]);
    let other = workspace(&db, &clock, "b").await;
    assert!(matches!(db.store.retry_delivery(other, ping.id, clock.now()).await, Err(StoreError::NotFound)));
    assert!(matches!(db.store.get_delivery(other, ping.id).await, Err(StoreError::NotFound)));
    assert!(matches!(
        db.store.send_test_event(other, target.id, clock.now()).await,
        Err(StoreError::NotFound)
    ));
}

async fn deleting_an_endpoint_takes_its_deliveries_and_secrets(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let ep = endpoint(&db, &clock, ws, &[]).await;
    disconnect_event(&db, &clock, ws).await;
    assert_eq!(deliveries(&db, ws).await.len(), 1);
    db.store.delete_endpoint(ws, ep.id, &audit(&clock, "d")).await.unwrap();
    assert!(deliveries(&db, ws).await.is_empty());
    assert!(lease(&db, &clock, OWNER).await.is_empty());
    assert!(matches!(db.store.get_secret(ws, ep.secret_id).await, Err(StoreError::NotFound)));
    assert!(matches!(db.store.get_endpoint(ws, ep.id).await, Err(StoreError::NotFound)));
}
