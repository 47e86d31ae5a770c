//! Connect flows and channel credentials, on both backends: a flow is taken once and only with
//! its state, its sealed state goes with it, expired flows are purged, and a channel's sealed
//! credentials are stored and deleted with the channel.

use chrono::Duration;
use crier_core::{Clock, ConnectFlow, ConnectFlowId, KeyHash, ManualClock, SealedRow, SecretId, StoreError};
use crier_testkit::{TestDb, on_both_backends};

use super::fixtures::{audit, channel, workspace};

on_both_backends!(
    a_flow_is_taken_once_with_its_state_and_its_sealed_state_goes_with_it,
    expired_flows_are_purged_with_their_sealed_state,
    channel_credentials_live_and_die_with_the_channel,
);

pub fn sealed(ws: crier_core::WorkspaceId, clock: &ManualClock, purpose: &str) -> SealedRow {
    SealedRow {
        workspace_id: ws,
        id: SecretId::generate(),
        purpose: purpose.into(),
        key_version: 1,
        sealed: vec![7; 40],
        created_at: clock.now(),
        updated_at: clock.now(),
    }
}

fn flow(ws: crier_core::WorkspaceId, clock: &ManualClock, secret: &SealedRow, state: &[u8]) -> ConnectFlow {
    ConnectFlow {
        workspace_id: ws,
        id: ConnectFlowId::generate(),
        provider: "mastodon".into(),
        state_hash: KeyHash::of(state),
        secret_id: secret.id,
        created_at: clock.now(),
        expires_at: clock.now() + Duration::minutes(15),
    }
}

async fn a_flow_is_taken_once_with_its_state_and_its_sealed_state_goes_with_it(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let other = workspace(&db, &clock, "Other").await;
    let secret = sealed(ws, &clock, "connect_flow");
    let started = flow(ws, &clock, &secret, b"the state");
    db.store.insert_connect_flow(&started, &secret).await.unwrap();
    assert_eq!(db.store.count_connect_flows(ws).await.unwrap(), 1);

    // Wrong state, wrong workspace: nothing taken, nothing deleted.
    assert!(db.store.take_connect_flow(ws, started.id, &KeyHash::of(b"a guess")).await.unwrap().is_none());
    assert!(
        db.store.take_connect_flow(other, started.id, &KeyHash::of(b"the state")).await.unwrap().is_none()
    );
    assert_eq!(db.store.count_connect_flows(ws).await.unwrap(), 1);

    let taken =
        db.store.take_connect_flow(ws, started.id, &KeyHash::of(b"the state")).await.unwrap().unwrap();
    assert_eq!(taken.flow, started);
    assert_eq!(taken.sealed, secret);
    assert_eq!(db.store.count_connect_flows(ws).await.unwrap(), 0);
    assert!(matches!(db.store.get_secret(ws, secret.id).await, Err(StoreError::NotFound)));
    assert!(db.store.take_connect_flow(ws, started.id, &KeyHash::of(b"the state")).await.unwrap().is_none());

    // A sealed row that is not the flow's own is refused.
    let stray = sealed(other, &clock, "connect_flow");
    let refused = db.store.insert_connect_flow(&flow(ws, &clock, &stray, b"x"), &stray).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
}

async fn expired_flows_are_purged_with_their_sealed_state(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let old_secret = sealed(ws, &clock, "connect_flow");
    let old = flow(ws, &clock, &old_secret, b"old");
    db.store.insert_connect_flow(&old, &old_secret).await.unwrap();
    clock.advance(Duration::minutes(10));
    let new_secret = sealed(ws, &clock, "connect_flow");
    db.store.insert_connect_flow(&flow(ws, &clock, &new_secret, b"new"), &new_secret).await.unwrap();

    assert_eq!(db.store.purge_connect_flows(clock.now()).await.unwrap(), 0, "none expired yet");
    clock.advance(Duration::minutes(6));
    assert_eq!(db.store.purge_connect_flows(clock.now()).await.unwrap(), 1);
    assert_eq!(db.store.count_connect_flows(ws).await.unwrap(), 1);
    assert!(matches!(db.store.get_secret(ws, old_secret.id).await, Err(StoreError::NotFound)));
    assert!(db.store.get_secret(ws, new_secret.id).await.is_ok());
    clock.advance(Duration::minutes(10));
    assert_eq!(db.store.purge_connect_flows(clock.now()).await.unwrap(), 1);
    assert_eq!(db.store.count_connect_flows(ws).await.unwrap(), 0);
    assert!(matches!(db.store.get_secret(ws, new_secret.id).await, Err(StoreError::NotFound)));
}

async fn channel_credentials_live_and_die_with_the_channel(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let secret = sealed(ws, &clock, "channel_credentials");
    let mut connected = channel(ws, &clock, "bluesky");
    connected.credentials = Some(secret.id);
    connected.account = Some(crier_core::ChannelAccount {
        id: "did:plc:abc".into(),
        handle: "alice.test".into(),
        display_name: Some("Alice".into()),
        avatar_url: None,
    });
    // Credentials sealed for another channel id are refused.
    let mut mismatched = connected.clone();
    mismatched.credentials = Some(SecretId::generate());
    let refused =
        db.store.create_channel(&mismatched, Some(&secret), None, &audit(&clock, "channel.connected")).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");
    assert!(
        matches!(db.store.get_secret(ws, secret.id).await, Err(StoreError::NotFound)),
        "nothing half-stored"
    );

    db.store
        .create_channel(&connected, Some(&secret), None, &audit(&clock, "channel.connected"))
        .await
        .unwrap();
    assert_eq!(db.store.get_channel(ws, connected.id).await.unwrap(), connected);
    assert_eq!(db.store.get_secret(ws, secret.id).await.unwrap(), secret);
    db.store.delete_channel(ws, connected.id, &audit(&clock, "channel.deleted")).await.unwrap();
    assert!(matches!(db.store.get_secret(ws, secret.id).await, Err(StoreError::NotFound)));
}
