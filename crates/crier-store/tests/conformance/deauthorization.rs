//! Platform callbacks, on both backends: the platform account index finds a Meta user's channels
//! in every workspace (and nothing else), deauthorizing one deletes its sealed credentials, marks
//! it, and writes its audit row and event once; data-deletion records round-trip by code hash.

use crier_core::{
    ChannelAccount, ChannelStatus, Deauthorization, DeletionRecord, KeyHash, ManualClock, StoreError,
    WorkspaceId,
};
use crier_testkit::{TestDb, on_both_backends};

use super::connect::sealed;
use super::fixtures::{audit, channel, workspace};

on_both_backends!(
    platform_accounts_are_found_across_workspaces_and_only_for_their_provider,
    deauthorizing_deletes_credentials_and_marks_the_channel_once,
    deletion_records_round_trip_by_code_hash,
);

fn account(id: &str) -> ChannelAccount {
    ChannelAccount {
        id: id.into(),
        handle: "alice".into(),
        display_name: Some("Alice A.".into()),
        avatar_url: Some("https://cdn.example/a.jpg".into()),
    }
}

/// A connected channel of `provider` for platform user `user`, with sealed credentials.
async fn connected(
    db: &TestDb,
    clock: &ManualClock,
    ws: WorkspaceId,
    provider: &str,
    user: &str,
) -> crier_core::Channel {
    let secret = sealed(ws, clock, "channel_credentials");
    let mut c = channel(ws, clock, provider);
    c.provider = provider.into();
    c.credentials = Some(secret.id);
    c.account = Some(account(user));
    db.store.create_channel(&c, Some(&secret), None, &audit(clock, "channel.connected")).await.unwrap();
    c
}

async fn platform_accounts_are_found_across_workspaces_and_only_for_their_provider(db: TestDb) {
    let clock = ManualClock::starting_now();
    let a = workspace(&db, &clock, "A").await;
    let b = workspace(&db, &clock, "B").await;
    let in_a = connected(&db, &clock, a, "facebook", "1001").await;
    let in_b = connected(&db, &clock, b, "facebook", "1001").await;
    let _other_user = connected(&db, &clock, a, "facebook", "2002").await;
    let _other_provider = connected(&db, &clock, b, "threads", "1001").await;
    // Providers that send no callbacks are not indexed at all.
    let _bluesky = connected(&db, &clock, a, "bluesky", "1001").await;

    let mut found = db.store.channels_of_platform_account("facebook", "1001").await.unwrap();
    found.sort();
    let mut expected = vec![(a, in_a.id), (b, in_b.id)];
    expected.sort();
    assert_eq!(found, expected);
    assert_eq!(db.store.channels_of_platform_account("threads", "1001").await.unwrap().len(), 1);
    assert!(db.store.channels_of_platform_account("bluesky", "1001").await.unwrap().is_empty());
    assert!(db.store.channels_of_platform_account("facebook", "9999").await.unwrap().is_empty());

    // A deleted channel leaves the index with it.
    db.store.delete_channel(a, in_a.id, &audit(&clock, "channel.deleted")).await.unwrap();
    assert_eq!(db.store.channels_of_platform_account("facebook", "1001").await.unwrap(), [(b, in_b.id)]);
}

async fn deauthorizing_deletes_credentials_and_marks_the_channel_once(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "A").await;
    let fb = connected(&db, &clock, ws, "facebook", "1001").await;
    let th = connected(&db, &clock, ws, "threads", "3003").await;
    let untouched = connected(&db, &clock, ws, "facebook", "2002").await;

    let changed = db
        .store
        .deauthorize_channel(ws, fb.id, Deauthorization::Deauthorized, &audit(&clock, "channel.deauthorized"))
        .await
        .unwrap();
    assert!(changed);
    let after = db.store.get_channel(ws, fb.id).await.unwrap();
    assert_eq!(after.status, ChannelStatus::NeedsReauth);
    assert_eq!(after.credentials, None);
    assert_eq!(after.account, fb.account, "a deauthorization keeps the profile");
    let secret = fb.credentials.unwrap();
    assert!(matches!(db.store.get_secret(ws, secret).await, Err(StoreError::NotFound)));
    let events = db.store.list_events(ws, 0, 100).await.unwrap();
    let deauthorized: Vec<_> = events.iter().filter(|e| e.kind == "channel.deauthorized").collect();
    assert_eq!(deauthorized.len(), 1);
    assert_eq!(deauthorized[0].subject, fb.id.to_string());
    assert_eq!(
        deauthorized[0].data,
        serde_json::json!({"channel_id": fb.id.to_string(), "provider": "facebook", "reason": "deauthorized"})
    );
    let audits = db.store.list_audit_events(ws, 0, 100).await.unwrap();
    assert_eq!(audits.iter().filter(|e| e.action == "channel.deauthorized").count(), 1);

    // A repeat changes nothing and writes nothing.
    let again = db
        .store
        .deauthorize_channel(ws, fb.id, Deauthorization::Deauthorized, &audit(&clock, "channel.deauthorized"))
        .await
        .unwrap();
    assert!(!again);
    assert_eq!(db.store.list_events(ws, 0, 100).await.unwrap().len(), events.len());
    assert_eq!(db.store.list_audit_events(ws, 0, 100).await.unwrap().len(), audits.len());

    // A data deletion also erases the profile, keeping the id the callbacks name.
    db.store
        .deauthorize_channel(ws, th.id, Deauthorization::DataDeletion, &audit(&clock, "channel.data_deleted"))
        .await
        .unwrap();
    let erased = db.store.get_channel(ws, th.id).await.unwrap();
    assert_eq!(
        erased.account,
        Some(ChannelAccount {
            id: "3003".into(),
            handle: "3003".into(),
            display_name: None,
            avatar_url: None
        })
    );
    assert_eq!(db.store.channels_of_platform_account("threads", "3003").await.unwrap(), [(ws, th.id)]);
    let last = db.store.list_events(ws, 0, 100).await.unwrap().pop().unwrap();
    assert_eq!(last.data["reason"], "data_deletion");

    // The other channel is as it was; an unknown channel is NotFound.
    assert_eq!(db.store.get_channel(ws, untouched.id).await.unwrap(), untouched);
    assert!(db.store.get_secret(ws, untouched.credentials.unwrap()).await.is_ok());
    let other = workspace(&db, &clock, "B").await;
    let foreign = db
        .store
        .deauthorize_channel(
            other,
            fb.id,
            Deauthorization::Deauthorized,
            &audit(&clock, "channel.deauthorized"),
        )
        .await;
    assert!(matches!(foreign, Err(StoreError::NotFound)), "{foreign:?}");
}

async fn deletion_records_round_trip_by_code_hash(db: TestDb) {
    let clock = ManualClock::starting_now();
    let record = DeletionRecord {
        code_hash: KeyHash::of(b"code-1"),
        provider: "facebook".into(),
        received_at: crier_core::Clock::now(&clock),
        channels: 2,
        credentials_deleted: 1,
    };
    db.store.insert_deletion_record(&record).await.unwrap();
    let read = db.store.get_deletion_record(&KeyHash::of(b"code-1")).await.unwrap();
    assert_eq!(read.provider, record.provider);
    assert_eq!((read.channels, read.credentials_deleted), (2, 1));
    assert_eq!(read.received_at.timestamp_millis(), record.received_at.timestamp_millis());
    assert!(matches!(db.store.get_deletion_record(&KeyHash::of(b"code-2")).await, Err(StoreError::NotFound)));
}
