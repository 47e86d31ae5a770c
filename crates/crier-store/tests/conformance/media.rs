//! Media rows, resumable-upload bookkeeping, the posts that carry media, and the sweeper's look
//! at expired uploads, on both backends.

use chrono::Duration;
use crier_core::{
    Clock, ManualClock, Media, MediaFacts, MediaId, MediaKind, MediaQuery, MediaStatus, SealedRow, SecretId,
    StoreError, TargetStatus, WorkspaceId,
};
use crier_testkit::{TestDb, on_both_backends};

use super::fixtures::{audit, connected, post_with, texts, workspace};

on_both_backends!(
    ready_media_round_trips_with_its_sealed_key,
    uploads_append_only_at_the_offset_received,
    completing_needs_every_byte_and_happens_once,
    media_stay_in_their_workspace,
    media_in_an_unfinished_post_cannot_be_deleted,
    a_post_needs_its_media_ready_and_keeps_their_order,
    expired_uploads_are_found_across_workspaces,
);

fn key_row(ws: WorkspaceId, clock: &ManualClock) -> SealedRow {
    SealedRow {
        workspace_id: ws,
        id: SecretId::generate(),
        purpose: "media_content_key".into(),
        key_version: 1,
        sealed: vec![7; 60],
        created_at: clock.now(),
        updated_at: clock.now(),
    }
}

fn facts(size: u64) -> MediaFacts {
    MediaFacts {
        mime: "video/mp4".into(),
        kind: MediaKind::Video,
        width: 320,
        height: 240,
        duration_ms: Some(2000),
        video_codec: Some("h264".into()),
        audio_codec: Some("aac".into()),
        size,
        sha256: "ab".repeat(32),
    }
}

fn media(ws: WorkspaceId, clock: &ManualClock, key: Option<&SealedRow>, status: MediaStatus) -> Media {
    let id = MediaId::generate();
    let ready = status == MediaStatus::Ready;
    Media {
        workspace_id: ws,
        id,
        status,
        file_name: Some("clip.mp4".into()),
        declared_type: Some("video/mp4".into()),
        alt_text: Some("a test clip".into()),
        source_url: None,
        expected_size: 1000,
        received: if ready { 1000 } else { 0 },
        parts: u32::from(ready),
        storage_prefix: format!("workspaces/{ws}/media/{id}"),
        content_key: key.map(|k| k.id),
        facts: ready.then(|| facts(1000)),
        created_at: clock.now(),
        updated_at: clock.now(),
        expires_at: (!ready).then(|| clock.now() + Duration::hours(24)),
    }
}

async fn stored(db: &TestDb, clock: &ManualClock, ws: WorkspaceId, status: MediaStatus) -> Media {
    let key = key_row(ws, clock);
    let media = media(ws, clock, Some(&key), status);
    db.store.insert_media(&media, Some(&key), None, &audit(clock, "media.created")).await.unwrap();
    media
}

async fn secret_count(db: &TestDb, ws: WorkspaceId) -> usize {
    texts(db, "SELECT purpose FROM secrets WHERE workspace_id = $1 AND purpose = 'media_content_key'", ws)
        .await
        .len()
}

async fn ready_media_round_trips_with_its_sealed_key(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let first = stored(&db, &clock, ws, MediaStatus::Ready).await;
    clock.advance(Duration::seconds(1));
    let second = stored(&db, &clock, ws, MediaStatus::Uploading).await;
    assert_eq!(db.store.get_media(ws, first.id).await.unwrap(), first);
    assert_eq!(db.store.get_media(ws, second.id).await.unwrap(), second);
    assert_eq!(secret_count(&db, ws).await, 2);

    // Ids order by creation to the millisecond; two made in the same one order by their random part.
    let (newer, older) = if second.id > first.id { (&second, &first) } else { (&first, &second) };
    let page = db.store.list_media(ws, &MediaQuery { before: None, limit: 1 }).await.unwrap();
    assert_eq!(page, std::slice::from_ref(newer), "newest first");
    let rest = db.store.list_media(ws, &MediaQuery { before: Some(newer.id), limit: 5 }).await.unwrap();
    assert_eq!(rest, std::slice::from_ref(older));

    // A key that belongs to another media is refused, and nothing is stored.
    let other_key = key_row(ws, &clock);
    let mismatched = media(ws, &clock, Some(&key_row(ws, &clock)), MediaStatus::Ready);
    let err = db.store.insert_media(&mismatched, Some(&other_key), None, &audit(&clock, "x")).await;
    assert!(matches!(err, Err(StoreError::Conflict(_))), "{err:?}");
    assert!(matches!(db.store.get_media(ws, mismatched.id).await, Err(StoreError::NotFound)));

    let deleted = db.store.delete_media(ws, first.id, &audit(&clock, "media.deleted")).await.unwrap();
    assert_eq!(deleted, first);
    assert!(matches!(db.store.get_media(ws, first.id).await, Err(StoreError::NotFound)));
    assert_eq!(secret_count(&db, ws).await, 1, "the deleted media's content key went with it");
    assert!(matches!(
        db.store.delete_media(ws, first.id, &audit(&clock, "again")).await,
        Err(StoreError::NotFound)
    ));
}

async fn uploads_append_only_at_the_offset_received(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let upload = stored(&db, &clock, ws, MediaStatus::Uploading).await;
    let now = clock.now();
    let after = db.store.append_media_part(ws, upload.id, 0, 400, now).await.unwrap();
    assert_eq!((after.received, after.parts, after.status), (400, 1, MediaStatus::Uploading));
    // The same offset again (a second writer, or a retry of a part that did land) is refused.
    for (from, to) in [(0, 400), (300, 700), (400, 400), (400, 1001)] {
        let err = db.store.append_media_part(ws, upload.id, from, to, now).await;
        assert!(matches!(err, Err(StoreError::Conflict(_))), "{from}..{to}: {err:?}");
    }
    let after = db.store.append_media_part(ws, upload.id, 400, 1000, now).await.unwrap();
    assert_eq!((after.received, after.parts), (1000, 2));
    let unknown = db.store.append_media_part(ws, MediaId::generate(), 0, 1, now).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
}

async fn completing_needs_every_byte_and_happens_once(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let upload = stored(&db, &clock, ws, MediaStatus::Uploading).await;
    let now = clock.now();
    let early = db.store.complete_media(ws, upload.id, &facts(1000), now, &audit(&clock, "x")).await;
    assert!(matches!(early, Err(StoreError::Conflict(_))), "{early:?}");
    db.store.append_media_part(ws, upload.id, 0, 1000, now).await.unwrap();
    let ready =
        db.store.complete_media(ws, upload.id, &facts(1000), now, &audit(&clock, "done")).await.unwrap();
    assert_eq!(ready.status, MediaStatus::Ready);
    assert_eq!(ready.facts, Some(facts(1000)));
    assert_eq!(ready.expires_at, None);
    assert_eq!(db.store.get_media(ws, upload.id).await.unwrap(), ready);
    let again = db.store.complete_media(ws, upload.id, &facts(1000), now, &audit(&clock, "x")).await;
    assert!(matches!(again, Err(StoreError::Conflict(_))), "{again:?}");
    let more = db.store.append_media_part(ws, upload.id, 1000, 1001, now).await;
    assert!(matches!(more, Err(StoreError::Conflict(_))), "{more:?}");
    // A completed upload is no longer the sweeper's.
    let later = clock.now() + Duration::days(2);
    assert!(db.store.expired_uploads(later, 10).await.unwrap().is_empty());
}

async fn media_stay_in_their_workspace(db: TestDb) {
    let clock = ManualClock::starting_now();
    let mine = workspace(&db, &clock, "mine").await;
    let theirs = workspace(&db, &clock, "theirs").await;
    let media = stored(&db, &clock, mine, MediaStatus::Uploading).await;
    let now = clock.now();
    assert!(matches!(db.store.get_media(theirs, media.id).await, Err(StoreError::NotFound)));
    assert!(db.store.media_by_ids(theirs, &[media.id]).await.unwrap().is_empty());
    assert!(db.store.list_media(theirs, &MediaQuery { before: None, limit: 10 }).await.unwrap().is_empty());
    assert!(matches!(
        db.store.append_media_part(theirs, media.id, 0, 10, now).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        db.store.complete_media(theirs, media.id, &facts(1000), now, &audit(&clock, "x")).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        db.store.delete_media(theirs, media.id, &audit(&clock, "x")).await,
        Err(StoreError::NotFound)
    ));
    // A media row claiming another workspace's key is refused.
    let foreign_key = key_row(theirs, &clock);
    let sneaky = media_with_key(mine, &clock, &foreign_key);
    assert!(db.store.insert_media(&sneaky, Some(&foreign_key), None, &audit(&clock, "x")).await.is_err());
    assert_eq!(db.store.get_media(mine, media.id).await.unwrap(), media, "nothing changed");
}

fn media_with_key(ws: WorkspaceId, clock: &ManualClock, key: &SealedRow) -> Media {
    media(ws, clock, Some(key), MediaStatus::Ready)
}

async fn media_in_an_unfinished_post_cannot_be_deleted(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let channel = connected(&db, &clock, ws, "one").await;
    let used = stored(&db, &clock, ws, MediaStatus::Ready).await;
    let spare = stored(&db, &clock, ws, MediaStatus::Ready).await;
    let mut post = post_with(ws, &clock, "with media", &[(channel.id, TargetStatus::Queued, clock.now())]);
    post.media = vec![used.id];
    db.store.create_post(&post, None).await.unwrap();

    let refused = db.store.delete_media(ws, used.id, &audit(&clock, "x")).await;
    assert!(matches!(&refused, Err(StoreError::Conflict(m)) if m.contains("1 post")), "{refused:?}");
    assert!(db.store.get_media(ws, used.id).await.is_ok(), "still there");
    db.store.delete_media(ws, spare.id, &audit(&clock, "x")).await.unwrap();

    db.store.cancel_post(ws, post.id, clock.now()).await.unwrap();
    db.store.delete_media(ws, used.id, &audit(&clock, "x")).await.unwrap();
}

async fn a_post_needs_its_media_ready_and_keeps_their_order(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "a").await;
    let channel = connected(&db, &clock, ws, "one").await;
    let first = stored(&db, &clock, ws, MediaStatus::Ready).await;
    let second = stored(&db, &clock, ws, MediaStatus::Ready).await;
    let uploading = stored(&db, &clock, ws, MediaStatus::Uploading).await;
    let targets = [(channel.id, TargetStatus::Queued, clock.now())];

    for bad in [vec![first.id, uploading.id], vec![MediaId::generate()]] {
        let mut post = post_with(ws, &clock, "bad", &targets);
        post.media = bad;
        let err = db.store.create_post(&post, None).await;
        assert!(matches!(&err, Err(StoreError::Conflict(m)) if m.starts_with("media ")), "{err:?}");
        assert!(matches!(db.store.get_post(ws, post.id).await, Err(StoreError::NotFound)), "nothing stored");
    }

    let mut post = post_with(ws, &clock, "good", &targets);
    post.media = vec![second.id, first.id];
    db.store.create_post(&post, None).await.unwrap();
    assert_eq!(db.store.get_post(ws, post.id).await.unwrap().media, [second.id, first.id]);
    let listed =
        db.store.list_posts(ws, &crier_core::PostQuery { limit: 10, ..Default::default() }).await.unwrap();
    assert_eq!(listed[0].media, [second.id, first.id]);
    let found = db.store.media_by_ids(ws, &[first.id, MediaId::generate(), second.id]).await.unwrap();
    assert_eq!(found.len(), 2);

    // The worker gets the media with the claim, in order.
    let claimed = super::fixtures::claim(&db, &clock, &post.targets[0]).await;
    assert_eq!(claimed.post_media, [second.id, first.id]);
}

async fn expired_uploads_are_found_across_workspaces(db: TestDb) {
    let clock = ManualClock::starting_now();
    let a = workspace(&db, &clock, "a").await;
    let b = workspace(&db, &clock, "b").await;
    let old_a = stored(&db, &clock, a, MediaStatus::Uploading).await;
    clock.advance(Duration::hours(1));
    let old_b = stored(&db, &clock, b, MediaStatus::Uploading).await;
    stored(&db, &clock, b, MediaStatus::Ready).await;
    clock.advance(Duration::hours(23) + Duration::minutes(30));
    let due = db.store.expired_uploads(clock.now(), 10).await.unwrap();
    assert_eq!(due, [(a, old_a.id)], "only the one past its 24 h");
    clock.advance(Duration::hours(1));
    let due = db.store.expired_uploads(clock.now(), 10).await.unwrap();
    assert_eq!(due, [(a, old_a.id), (b, old_b.id)], "oldest first");
    assert_eq!(db.store.expired_uploads(clock.now(), 1).await.unwrap().len(), 1, "limit");
    db.store.delete_media(a, old_a.id, &audit(&clock, "media.upload_expired")).await.unwrap();
    assert_eq!(db.store.expired_uploads(clock.now(), 10).await.unwrap(), [(b, old_b.id)]);
}
