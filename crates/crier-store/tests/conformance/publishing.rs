//! Conformance for channels, posts, idempotency keys and sandbox deliveries (the queue is in
//! `queue.rs`).

use chrono::Duration;
use crier_core::{
    AttemptId, ChannelId, Clock, IdempotencyBegin, IdempotentResponse, ManualClock, PostId, PostQuery,
    SandboxDelivery, StoreError, TargetId, TargetStatus, WorkspaceId,
};
use crier_testkit::{TestDb, on_both_backends};

use crate::fixtures::{
    audit, channel, connected, events, job, lease_all, post_now, post_with, texts, workspace,
};

on_both_backends!(
    channels_round_trip,
    channels_of_another_workspace_are_not_found,
    channels_by_ids_returns_only_the_workspaces_own,
    delete_channel_refuses_unfinished_targets,
    create_post_round_trip,
    create_post_is_atomic,
    posts_of_another_workspace_are_not_found,
    list_posts_filters_and_pages,
    list_posts_by_due_time,
    cancel_post_spares_leased_and_finished_targets,
    idempotency_begin_in_each_state,
    idempotency_expiry_abandon_and_purge,
    sandbox_records_every_delivery,
);

fn response(ws: WorkspaceId, key: &str, status: u16) -> IdempotentResponse {
    IdempotentResponse {
        workspace_id: ws,
        key: key.into(),
        status,
        body: format!("{{\"s\":{status}}}").into(),
    }
}

async fn channels_round_trip(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let first = connected(&db, &clock, ws, "first").await;
    assert_eq!(db.store.get_channel(ws, first.id).await.unwrap(), first, "config JSON round-trips");

    clock.advance(Duration::seconds(1));
    let (lock, expiry) = (clock.now() + Duration::seconds(30), clock.now() + Duration::hours(1));
    let begun = db.store.begin_idempotent(ws, "k1", b"fp", clock.now(), lock, expiry).await;
    assert_eq!(begun.unwrap(), IdempotencyBegin::Started);
    let second = channel(ws, &clock, "second");
    let stored = response(ws, "k1", 201);
    db.store.create_channel(&second, None, Some(&stored), &audit(&clock, "channel.created")).await.unwrap();
    let listed: Vec<_> = db.store.list_channels(ws).await.unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(listed, [first.id, second.id], "oldest first");
    let replay = db.store.begin_idempotent(ws, "k1", b"fp", clock.now(), lock, expiry);
    assert_eq!(replay.await.unwrap(), IdempotencyBegin::Done { status: 201, body: stored.body.clone() });

    let twin = db.store.create_channel(&first, None, None, &audit(&clock, "channel.created")).await;
    assert!(matches!(twin, Err(StoreError::Conflict(_))), "{twin:?}");
    let actions: Vec<_> =
        db.store.list_audit_events(ws, 0, 10).await.unwrap().into_iter().map(|e| e.action).collect();
    assert_eq!(actions, ["workspace.created", "channel.created", "channel.created"]);

    // The response can only be stored while its key is in flight: the create is rolled back.
    let third = channel(ws, &clock, "third");
    let replayed =
        db.store.create_channel(&third, None, Some(&stored), &audit(&clock, "channel.created")).await;
    assert!(matches!(replayed, Err(StoreError::Conflict(_))), "{replayed:?}");
    assert!(matches!(db.store.get_channel(ws, third.id).await, Err(StoreError::NotFound)));
}

async fn channels_of_another_workspace_are_not_found(db: TestDb) {
    let clock = ManualClock::starting_now();
    let a = workspace(&db, &clock, "A").await;
    let b = workspace(&db, &clock, "B").await;
    let chan = connected(&db, &clock, a, "a's").await;
    assert!(matches!(db.store.get_channel(b, chan.id).await, Err(StoreError::NotFound)));
    assert!(db.store.list_channels(b).await.unwrap().is_empty());
    let deleted = db.store.delete_channel(b, chan.id, &audit(&clock, "channel.deleted")).await;
    assert!(matches!(deleted, Err(StoreError::NotFound)), "{deleted:?}");
    assert_eq!(db.store.get_channel(a, chan.id).await.unwrap(), chan);
    let unknown = db.store.delete_channel(a, ChannelId::generate(), &audit(&clock, "channel.deleted")).await;
    assert!(matches!(unknown, Err(StoreError::NotFound)), "{unknown:?}");
    // A smuggled idempotency response for another workspace is refused too.
    let smuggled = channel(a, &clock, "x");
    let result = db
        .store
        .create_channel(&smuggled, None, Some(&response(b, "k", 201)), &audit(&clock, "channel.created"))
        .await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
}

async fn channels_by_ids_returns_only_the_workspaces_own(db: TestDb) {
    let clock = ManualClock::starting_now();
    let a = workspace(&db, &clock, "A").await;
    let b = workspace(&db, &clock, "B").await;
    let first = connected(&db, &clock, a, "first").await;
    let second = connected(&db, &clock, a, "second").await;
    let _third = connected(&db, &clock, a, "third").await;
    let others = connected(&db, &clock, b, "b's").await;
    let unknown = ChannelId::generate();

    let mut found = db.store.channels_by_ids(a, &[second.id, unknown, others.id, first.id]).await.unwrap();
    found.sort_by_key(|c| c.name.clone());
    assert_eq!(found, [first.clone(), second], "the named ones of A, whole; B's and unknown ids left out");
    assert!(db.store.channels_by_ids(a, &[]).await.unwrap().is_empty());
    assert!(
        db.store.channels_by_ids(b, &[first.id]).await.unwrap().is_empty(),
        "A's channel, asked for in B"
    );
    assert_eq!(db.store.channels_by_ids(b, &[others.id]).await.unwrap(), [others]);
}

async fn delete_channel_refuses_unfinished_targets(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let chan = connected(&db, &clock, ws, "c").await;
    let other = connected(&db, &clock, ws, "other").await;
    let post = post_now(ws, &clock, &[chan.id, other.id]);
    db.store.create_post(&post, None).await.unwrap();
    let refused = db.store.delete_channel(ws, chan.id, &audit(&clock, "channel.deleted")).await;
    assert!(matches!(refused, Err(StoreError::Conflict(_))), "{refused:?}");

    db.store.cancel_post(ws, post.id, clock.now()).await.unwrap();
    db.store.delete_channel(ws, chan.id, &audit(&clock, "channel.deleted")).await.unwrap();
    assert!(matches!(db.store.get_channel(ws, chan.id).await, Err(StoreError::NotFound)));
    let remaining: Vec<_> =
        db.store.get_post(ws, post.id).await.unwrap().targets.into_iter().map(|t| t.channel_id).collect();
    assert_eq!(remaining, [other.id], "the post stays; the channel's targets went with it");
    let last = db.store.list_audit_events(ws, 0, 10).await.unwrap().pop().unwrap();
    assert_eq!(last.action, "channel.deleted");
}

async fn create_post_round_trip(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let a = connected(&db, &clock, ws, "a").await;
    let b = connected(&db, &clock, ws, "b").await;
    let later = clock.now() + Duration::hours(2);
    let mut post = post_with(
        ws,
        &clock,
        "Launch day",
        &[
            (a.id, TargetStatus::Scheduled, later),
            (b.id, TargetStatus::Scheduled, later + Duration::hours(1)),
        ],
    );
    post.scheduled_at = Some(later);
    post.targets[0].text = Some("Override for this channel".into());
    assert_eq!(db.store.next_due().await.unwrap(), None);
    db.store.create_post(&post, None).await.unwrap();
    assert_eq!(db.store.get_post(ws, post.id).await.unwrap(), post);
    assert_eq!(db.store.next_due().await.unwrap(), Some(later), "one job per target");
    let twin = db.store.create_post(&post, None).await;
    assert!(matches!(twin, Err(StoreError::Conflict(_))), "{twin:?}");
    assert!(matches!(db.store.get_post(ws, PostId::generate()).await, Err(StoreError::NotFound)));
}

async fn create_post_is_atomic(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "A").await;
    let other = workspace(&db, &clock, "B").await;
    let mine = connected(&db, &clock, ws, "mine").await;
    let theirs = connected(&db, &clock, other, "theirs").await;

    let bad = post_now(ws, &clock, &[mine.id, theirs.id]);
    let result = db.store.create_post(&bad, None).await;
    assert!(matches!(result, Err(StoreError::NotFound)), "{result:?}");
    let unknown = post_now(ws, &clock, &[mine.id, ChannelId::generate()]);
    assert!(matches!(db.store.create_post(&unknown, None).await, Err(StoreError::NotFound)));
    // The response of a key that was never begun: refused, and the post with it.
    let unbegun = post_now(ws, &clock, &[mine.id]);
    let result = db.store.create_post(&unbegun, Some(&response(ws, "never", 201))).await;
    assert!(matches!(result, Err(StoreError::Conflict(_))), "{result:?}");

    for id in [bad.id, unknown.id, unbegun.id] {
        assert!(matches!(db.store.get_post(ws, id).await, Err(StoreError::NotFound)));
    }
    assert!(
        db.store.list_posts(ws, &PostQuery { limit: 10, ..PostQuery::default() }).await.unwrap().is_empty()
    );
    assert_eq!(db.store.next_due().await.unwrap(), None, "no job left behind");
    assert!(texts(&db, "SELECT kind FROM events WHERE workspace_id = $1", ws).await.is_empty());
}

async fn posts_of_another_workspace_are_not_found(db: TestDb) {
    let clock = ManualClock::starting_now();
    let a = workspace(&db, &clock, "A").await;
    let b = workspace(&db, &clock, "B").await;
    let chan = connected(&db, &clock, a, "c").await;
    let post = post_now(a, &clock, &[chan.id]);
    db.store.create_post(&post, None).await.unwrap();
    assert!(matches!(db.store.get_post(b, post.id).await, Err(StoreError::NotFound)));
    assert!(matches!(db.store.cancel_post(b, post.id, clock.now()).await, Err(StoreError::NotFound)));
    let query = PostQuery { channel: Some(chan.id), limit: 10, ..PostQuery::default() };
    assert!(db.store.list_posts(b, &query).await.unwrap().is_empty());
    assert_eq!(db.store.get_post(a, post.id).await.unwrap(), post, "untouched by B's cancel");
    assert!(texts(&db, "SELECT kind FROM events WHERE workspace_id = $1", b).await.is_empty());
}

async fn list_posts_filters_and_pages(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let other = workspace(&db, &clock, "Other").await;
    let x = connected(&db, &clock, ws, "x").await;
    let y = connected(&db, &clock, ws, "y").await;
    let elsewhere = connected(&db, &clock, other, "z").await;
    db.store.create_post(&post_now(other, &clock, &[elsewhere.id]), None).await.unwrap();
    let (now, later) = (clock.now(), clock.now() + Duration::days(1));
    let shapes: [&[_]; 5] = [
        &[(x.id, TargetStatus::Queued, now)],
        &[(y.id, TargetStatus::Scheduled, later)],
        &[(x.id, TargetStatus::Scheduled, later), (y.id, TargetStatus::Queued, now)],
        &[(y.id, TargetStatus::Queued, now)],
        &[(x.id, TargetStatus::Queued, now), (y.id, TargetStatus::Queued, now)],
    ];
    let mut posts = Vec::new();
    for shape in shapes {
        let post = post_with(ws, &clock, "p", shape);
        db.store.create_post(&post, None).await.unwrap();
        posts.push(post);
    }
    let mut newest_first = posts.clone();
    newest_first.sort_by_key(|p| std::cmp::Reverse(p.id));

    let all = db.store.list_posts(ws, &PostQuery { limit: 10, ..PostQuery::default() }).await.unwrap();
    assert_eq!(all, newest_first, "newest first, each with its targets");

    let mut paged = Vec::new();
    let mut before = None;
    loop {
        let page =
            db.store.list_posts(ws, &PostQuery { before, limit: 2, ..PostQuery::default() }).await.unwrap();
        assert!(page.len() <= 2);
        let Some(last) = page.last() else { break };
        before = Some(last.id);
        paged.extend(page);
    }
    assert_eq!(paged, newest_first, "pages by the before cursor, nothing twice or missed");

    let ids = |posts: Vec<crier_core::Post>| posts.into_iter().map(|p| p.id).collect::<Vec<_>>();
    let expect = |keep: &dyn Fn(&crier_core::Post) -> bool| {
        newest_first.iter().filter(|p| keep(p)).map(|p| p.id).collect::<Vec<_>>()
    };
    let on = |c: ChannelId| move |p: &crier_core::Post| p.targets.iter().any(|t| t.channel_id == c);
    let by_channel = PostQuery { channel: Some(x.id), limit: 10, ..PostQuery::default() };
    assert_eq!(ids(db.store.list_posts(ws, &by_channel).await.unwrap()), expect(&on(x.id)));
    let scheduled = PostQuery { status: Some(TargetStatus::Scheduled), limit: 10, ..PostQuery::default() };
    let has_scheduled = |p: &crier_core::Post| p.targets.iter().any(|t| t.status == TargetStatus::Scheduled);
    let expected = expect(&has_scheduled);
    assert_eq!(expected.len(), 2);
    assert_eq!(ids(db.store.list_posts(ws, &scheduled).await.unwrap()), expected);
    let both = PostQuery {
        status: Some(TargetStatus::Scheduled),
        channel: Some(y.id),
        limit: 10,
        ..PostQuery::default()
    };
    assert_eq!(ids(db.store.list_posts(ws, &both).await.unwrap()), [posts[1].id], "one target matches both");
    let few = PostQuery { channel: Some(y.id), limit: 1, ..PostQuery::default() };
    assert_eq!(ids(db.store.list_posts(ws, &few).await.unwrap()), expect(&on(y.id))[..1]);
}

/// The calendar's query: a post is due at its schedule, or when it was created if it has none;
/// the range is half-open.
async fn list_posts_by_due_time(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let other = workspace(&db, &clock, "Other").await;
    let x = connected(&db, &clock, ws, "x").await;
    let elsewhere = connected(&db, &clock, other, "z").await;
    let start = clock.now();
    let day = |n: i64| start + Duration::days(n);
    let at = |n: Option<i64>| {
        let when = n.map_or(start, day);
        let mut post = post_with(ws, &clock, "p", &[(x.id, TargetStatus::Scheduled, when)]);
        post.scheduled_at = n.map(day);
        post
    };
    let (now, tomorrow, in_two, in_seven) = (at(None), at(Some(1)), at(Some(2)), at(Some(7)));
    for post in [&now, &tomorrow, &in_two, &in_seven] {
        db.store.create_post(post, None).await.unwrap();
    }
    let mut theirs = post_now(other, &clock, &[elsewhere.id]);
    theirs.scheduled_at = Some(day(1));
    db.store.create_post(&theirs, None).await.unwrap();

    let ids = |posts: Vec<crier_core::Post>| {
        let mut ids: Vec<PostId> = posts.into_iter().map(|p| p.id).collect();
        ids.sort();
        ids
    };
    let sorted = |mut v: Vec<PostId>| {
        v.sort();
        v
    };
    let range = |from: Option<i64>, until: Option<i64>| PostQuery {
        due_from: from.map(day),
        due_until: until.map(day),
        limit: 10,
        ..PostQuery::default()
    };
    let list = |q: PostQuery| {
        let store = &db.store;
        async move { ids(store.list_posts(ws, &q).await.unwrap()) }
    };
    assert_eq!(list(range(Some(1), Some(2))).await, [tomorrow.id], "from is inclusive, until exclusive");
    assert_eq!(list(range(Some(1), Some(3))).await, sorted(vec![tomorrow.id, in_two.id]));
    assert_eq!(list(range(None, Some(1))).await, [now.id], "an unscheduled post is due when created");
    assert_eq!(list(range(Some(3), None)).await, [in_seven.id]);
    assert!(list(range(Some(8), Some(9))).await.is_empty());
    assert_eq!(
        list(range(Some(0), Some(8))).await,
        sorted(vec![now.id, tomorrow.id, in_two.id, in_seven.id]),
        "nothing of another workspace"
    );
}

async fn cancel_post_spares_leased_and_finished_targets(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "Acme").await;
    let (a, b, c) = (
        connected(&db, &clock, ws, "a").await,
        connected(&db, &clock, ws, "b").await,
        connected(&db, &clock, ws, "c").await,
    );
    let later = clock.now() + Duration::hours(1);
    let post = post_with(
        ws,
        &clock,
        "p",
        &[
            (a.id, TargetStatus::Queued, clock.now()),
            (b.id, TargetStatus::Scheduled, later),
            (c.id, TargetStatus::RetryScheduled, later),
        ],
    );
    db.store.create_post(&post, None).await.unwrap();
    let leased = post.targets.iter().find(|t| t.channel_id == a.id).unwrap().clone();
    assert_eq!(lease_all(&db, &clock, "w").await.len(), 1, "only the due target is leased");

    clock.advance(Duration::seconds(5));
    let cancellation = db.store.cancel_post(ws, post.id, clock.now()).await.unwrap();
    let mut waiting: Vec<TargetId> =
        post.targets.iter().filter(|t| t.id != leased.id).map(|t| t.id).collect();
    waiting.sort();
    assert_eq!(cancellation.cancelled, waiting);
    assert_eq!(cancellation.not_cancelled, [leased.id]);
    assert_eq!(cancellation.post, db.store.get_post(ws, post.id).await.unwrap());
    for target in &cancellation.post.targets {
        if target.id == leased.id {
            assert_eq!((target.status, target.lease_owner.as_deref()), (TargetStatus::Queued, Some("w")));
        } else {
            assert_eq!((target.status, target.updated_at), (TargetStatus::Cancelled, clock.now()));
        }
    }
    let expected: Vec<_> =
        waiting.iter().map(|t| ("post.target.cancelled".to_owned(), t.to_string())).collect();
    assert_eq!(events(&db, ws).await, expected, "one event per cancelled target");
    assert_eq!(db.store.next_due().await.unwrap(), None, "the cancelled targets' jobs are gone");

    // The leased one goes on to publish; a second cancel changes nothing.
    let claimed = db.store.start_attempt(job(&leased), "w", AttemptId::generate(), clock.now());
    assert!(claimed.await.unwrap().is_some());
    let again = db.store.cancel_post(ws, post.id, clock.now()).await.unwrap();
    assert!(again.cancelled.is_empty());
    assert_eq!(again.not_cancelled.len(), 3);
    assert_eq!(events(&db, ws).await.len(), 2);
}

async fn idempotency_begin_in_each_state(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "A").await;
    let other = workspace(&db, &clock, "B").await;
    let begin = |ws, key: &'static str, fp: &'static [u8], clock: &ManualClock| {
        let (store, now) = (db.store.clone(), clock.now());
        async move {
            store
                .begin_idempotent(ws, key, fp, now, now + Duration::seconds(30), now + Duration::hours(24))
                .await
        }
    };
    assert_eq!(begin(ws, "k", b"one", &clock).await.unwrap(), IdempotencyBegin::Started);
    assert_eq!(begin(ws, "k", b"one", &clock).await.unwrap(), IdempotencyBegin::InFlight);
    assert_eq!(begin(ws, "k", b"two", &clock).await.unwrap(), IdempotencyBegin::Mismatch);
    assert_eq!(begin(other, "k", b"two", &clock).await.unwrap(), IdempotencyBegin::Started, "per workspace");

    // The first request died without finishing: once its lock ran out, a retry takes over.
    clock.advance(Duration::seconds(31));
    assert_eq!(begin(ws, "k", b"one", &clock).await.unwrap(), IdempotencyBegin::Started);
    assert_eq!(begin(ws, "k", b"one", &clock).await.unwrap(), IdempotencyBegin::InFlight);
    assert_eq!(begin(ws, "k", b"two", &clock).await.unwrap(), IdempotencyBegin::Mismatch);

    db.store.finish_idempotent(&response(ws, "k", 202)).await.unwrap();
    let done = IdempotencyBegin::Done { status: 202, body: response(ws, "k", 202).body };
    assert_eq!(begin(ws, "k", b"one", &clock).await.unwrap(), done);
    clock.advance(Duration::hours(1));
    assert_eq!(begin(ws, "k", b"one", &clock).await.unwrap(), done, "replayed until it expires");
    assert_eq!(begin(ws, "k", b"two", &clock).await.unwrap(), IdempotencyBegin::Mismatch);
    let missing = db.store.finish_idempotent(&response(ws, "never", 200)).await;
    assert!(matches!(missing, Err(StoreError::NotFound)), "{missing:?}");

    // Concurrent first requests: exactly one starts.
    let racers: Vec<_> = (0..6).map(|_| tokio::spawn(begin(ws, "race", b"r", &clock))).collect();
    let mut started = 0;
    for racer in racers {
        match racer.await.unwrap().unwrap() {
            IdempotencyBegin::Started => started += 1,
            IdempotencyBegin::InFlight => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(started, 1);
}

async fn idempotency_expiry_abandon_and_purge(db: TestDb) {
    let clock = ManualClock::starting_now();
    let a = workspace(&db, &clock, "A").await;
    let b = workspace(&db, &clock, "B").await;
    let now = clock.now();
    let begin = |ws,
                 key: &'static str,
                 fp: &'static [u8],
                 now: chrono::DateTime<chrono::Utc>,
                 ttl: Duration| {
        let store = db.store.clone();
        async move { store.begin_idempotent(ws, key, fp, now, now + Duration::seconds(30), now + ttl).await }
    };
    assert_eq!(begin(a, "done", b"1", now, Duration::hours(1)).await.unwrap(), IdempotencyBegin::Started);
    db.store.finish_idempotent(&response(a, "done", 201)).await.unwrap();
    assert_eq!(begin(a, "gone", b"1", now, Duration::hours(1)).await.unwrap(), IdempotencyBegin::Started);
    assert_eq!(begin(b, "b1", b"1", now, Duration::hours(1)).await.unwrap(), IdempotencyBegin::Started);
    assert_eq!(begin(b, "b2", b"1", now, Duration::days(2)).await.unwrap(), IdempotencyBegin::Started);

    // Abandoning forgets an in-flight key (a retry runs afresh), never a completed one.
    db.store.abandon_idempotent(a, "gone").await.unwrap();
    db.store.abandon_idempotent(a, "done").await.unwrap();
    db.store.abandon_idempotent(b, "gone").await.unwrap();
    assert_eq!(begin(a, "gone", b"2", now, Duration::hours(1)).await.unwrap(), IdempotencyBegin::Started);
    assert!(matches!(
        begin(a, "done", b"1", now, Duration::hours(1)).await.unwrap(),
        IdempotencyBegin::Done { .. }
    ));

    // Expired keys are claimed afresh, whatever they held, even before a purge.
    let later = now + Duration::hours(2);
    assert_eq!(begin(a, "done", b"new", later, Duration::hours(1)).await.unwrap(), IdempotencyBegin::Started);
    assert_eq!(
        begin(a, "done", b"new", later, Duration::hours(1)).await.unwrap(),
        IdempotencyBegin::InFlight
    );

    // At `later`: a's "gone" and b's "b1" have expired, in both workspaces.
    assert_eq!(db.store.purge_idempotency_keys(later).await.unwrap(), 2);
    assert_eq!(db.store.purge_idempotency_keys(later).await.unwrap(), 0);
    // b2 survived; its request's lock ran out long ago, so a retry takes it over.
    assert_eq!(begin(b, "b2", b"1", later, Duration::hours(1)).await.unwrap(), IdempotencyBegin::Started);
    assert_eq!(begin(b, "b1", b"9", later, Duration::hours(1)).await.unwrap(), IdempotencyBegin::Started);
}

async fn sandbox_records_every_delivery(db: TestDb) {
    let clock = ManualClock::starting_now();
    let ws = workspace(&db, &clock, "A").await;
    let other = workspace(&db, &clock, "B").await;
    let chan = connected(&db, &clock, ws, "sandbox").await;
    let second = connected(&db, &clock, ws, "second").await;
    let (t, u) = (TargetId::generate(), TargetId::generate());
    let mut recorded = Vec::new();
    for (channel, target, text) in
        [(chan.id, t, "one"), (chan.id, u, "two"), (chan.id, t, "one again"), (second.id, t, "x")]
    {
        clock.advance(Duration::milliseconds(3));
        let delivery = SandboxDelivery {
            workspace_id: ws,
            channel_id: channel,
            id: uuid::Uuid::new_v4(),
            target_id: target,
            attempt_id: AttemptId::generate(),
            text: text.into(),
            media: Vec::new(),
            delivered_at: clock.now(),
            deleted_at: None,
        };
        db.store.record_sandbox_deliveries(std::slice::from_ref(&delivery)).await.unwrap();
        recorded.push(delivery);
    }
    assert_eq!(db.store.sandbox_deliveries(ws, chan.id, None).await.unwrap(), recorded[..3], "oldest first");
    let for_t = db.store.sandbox_deliveries(ws, chan.id, Some(t)).await.unwrap();
    assert_eq!(for_t, [recorded[0].clone(), recorded[2].clone()], "duplicates kept");
    assert!(db.store.sandbox_deliveries(other, chan.id, None).await.unwrap().is_empty());
    let foreign = SandboxDelivery { workspace_id: other, ..recorded[0].clone() };
    assert!(matches!(db.store.record_sandbox_deliveries(&[foreign]).await, Err(StoreError::NotFound)));
    // Several at once, all or none: a group naming a second workspace records nothing.
    let more = |text: &str| SandboxDelivery {
        id: uuid::Uuid::new_v4(),
        text: text.into(),
        attempt_id: AttemptId::generate(),
        ..recorded[0].clone()
    };
    let (a, b) = (more("group a"), more("group b"));
    let mixed = [a.clone(), SandboxDelivery { workspace_id: other, ..more("elsewhere") }];
    assert!(matches!(db.store.record_sandbox_deliveries(&mixed).await, Err(StoreError::NotFound)));
    assert_eq!(
        db.store.sandbox_deliveries(ws, chan.id, None).await.unwrap().len(),
        3,
        "nothing of the group"
    );
    db.store.record_sandbox_deliveries(&[a.clone(), b.clone()]).await.unwrap();
    db.store.record_sandbox_deliveries(&[]).await.unwrap();
    let all = db.store.sandbox_deliveries(ws, chan.id, None).await.unwrap();
    let mut group: Vec<_> = all.into_iter().filter(|d| d.text.starts_with("group")).collect();
    group.sort_by(|x, y| x.text.cmp(&y.text));
    assert_eq!(group, [a, b], "a group is recorded whole");
}
