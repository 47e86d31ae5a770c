//! Channel usage, on both backends: the targets a channel was given since a time, for per-day
//! publishing caps; other channels, older targets and cancelled ones do not count.

use chrono::Duration;
use crier_core::{Clock, ManualClock, TargetStatus};
use crier_testkit::{TestDb, on_both_backends};

use super::fixtures::{connected, post_now, post_with, workspace};

on_both_backends!(targets_since_count_the_channels_recent_uncancelled_targets);

async fn targets_since_count_the_channels_recent_uncancelled_targets(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "A").await;
    let other_ws = workspace(&db, &clock, "B").await;
    let c = connected(&db, &clock, ws, "capped").await;
    let other = connected(&db, &clock, ws, "other").await;
    let foreign = connected(&db, &clock, other_ws, "foreign").await;
    let start = clock.now();
    db.store.create_post(&post_now(ws, &clock, &[c.id, other.id]), None).await.unwrap();
    clock.advance(Duration::hours(2));
    let later =
        post_with(ws, &clock, "later", &[(c.id, TargetStatus::Scheduled, clock.now() + Duration::days(3))]);
    db.store.create_post(&later, None).await.unwrap();
    let cancelled = post_now(ws, &clock, &[c.id]);
    db.store.create_post(&cancelled, None).await.unwrap();
    db.store.cancel_post(ws, cancelled.id, clock.now()).await.unwrap();
    db.store.create_post(&post_now(other_ws, &clock, &[foreign.id]), None).await.unwrap();

    // Accepted at or after `since`, whatever their run time; the cancelled one aside.
    assert_eq!(db.store.count_targets_since(ws, c.id, start).await.unwrap(), 2);
    assert_eq!(db.store.count_targets_since(ws, c.id, start + Duration::hours(1)).await.unwrap(), 1);
    assert_eq!(db.store.count_targets_since(ws, c.id, clock.now() + Duration::seconds(1)).await.unwrap(), 0);
    assert_eq!(db.store.count_targets_since(ws, other.id, start).await.unwrap(), 1);
    // Another workspace's channel is not seen through this one.
    assert_eq!(db.store.count_targets_since(ws, foreign.id, start).await.unwrap(), 0);
    assert_eq!(db.store.count_targets_since(other_ws, foreign.id, start).await.unwrap(), 1);
}
