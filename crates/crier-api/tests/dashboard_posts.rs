//! The dashboard's posts side over real HTTP: the calendar in the viewer's time zone, files
//! attached in parts from the composer, and failed targets explained with what to do next.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use chrono::{DateTime, Duration, Utc};
use common::Server;
use common::browser::{Browser, person, start};
use crier_core::{Clock, Role};
use crier_testkit::{Backend, on_both_backends};
use reqwest::StatusCode;
use serde_json::json;

on_both_backends!(
    backend: the_calendar_puts_each_post_on_its_day_in_the_viewers_time_zone,
    a_file_is_attached_in_parts_and_goes_out_with_the_post,
    a_failed_target_says_what_to_do_next,
    a_published_post_is_deleted_from_its_platform_from_the_post_page,
);

/// The day of the calendar section holding `post_id`, if the page shows it.
fn day_of(body: &str, post_id: &str) -> Option<String> {
    body.split("<section class=\"calendar-day").find(|section| section.contains(post_id)).map(|section| {
        let start = section.find("datetime=\"").unwrap() + "datetime=\"".len();
        section[start..start + 10].to_owned()
    })
}

async fn schedule(server: &Server, key: &str, channel: &str, text: &str, at: DateTime<Utc>) -> String {
    let reply = server
        .post(
            "/v1/posts",
            key,
            json!({"text": text, "targets": [{"channel_id": channel}], "scheduled_at": at}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    reply.body["id"].as_str().unwrap().to_owned()
}

async fn the_calendar_puts_each_post_on_its_day_in_the_viewers_time_zone(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("calendar").await;
    person(&server, seeded.workspace, "viewer@example.com", Role::Viewer).await;
    let channel = server.sandbox(&seeded.admin_key, json!({})).await;
    // 20:00 UTC three days ahead: the same evening in UTC, the next morning in Auckland (UTC+12
    // or +13).
    let day = server.clock.now().date_naive() + Duration::days(3);
    let evening = day.and_hms_opt(20, 0, 0).unwrap().and_utc();
    let post = schedule(&server, &seeded.admin_key, &channel, "Evening news", evening).await;
    let other = server.seed("other").await;
    let other_channel = server.sandbox(&other.admin_key, json!({})).await;
    let theirs = schedule(&server, &other.admin_key, &other_channel, "Not yours", evening).await;

    let mut browser = Browser::signed_in(&server, "viewer@example.com").await;
    let week = browser.get(&format!("/calendar?view=week&date={day}")).await;
    assert_eq!(week.status, StatusCode::OK, "{}", week.body);
    assert_eq!(day_of(&week.body, &post).as_deref(), Some(day.to_string().as_str()), "UTC without a zone");
    assert!(week.body.contains("Times are in UTC"));
    assert!(week.body.contains(">20:00</time>"));
    assert!(!week.body.contains(&theirs), "another workspace's post is not shown");

    browser.cookies.insert("crier_tz".into(), "Pacific%2FAuckland".into());
    let next_day = day + Duration::days(1);
    let local = browser.get(&format!("/calendar?view=week&date={next_day}")).await;
    assert_eq!(
        day_of(&local.body, &post).as_deref(),
        Some(next_day.to_string().as_str()),
        "Auckland's next morning"
    );
    assert!(local.body.contains("your time zone (Pacific/Auckland)"));
    let there = evening.with_timezone(&chrono_tz::Pacific::Auckland).format(">%H:%M</time>").to_string();
    assert!(local.body.contains(&there), "{there} in {}", local.body);

    let month = browser.get(&format!("/calendar?view=month&date={next_day}")).await;
    assert_eq!(day_of(&month.body, &post).as_deref(), Some(next_day.to_string().as_str()));
    let weeks_later =
        browser.get(&format!("/calendar?view=week&date={}", next_day + Duration::days(14))).await;
    assert_eq!(day_of(&weeks_later.body, &post), None, "not in a week it is not due");

    // The posts page of the API agrees with the calendar's range.
    let from = evening - Duration::minutes(1);
    let until = evening + Duration::minutes(1);
    let listed = server
        .get(
            &format!(
                "/v1/posts?due_from={}&due_until={}",
                urlencode(&from.to_rfc3339()),
                urlencode(&until.to_rfc3339())
            ),
            &seeded.admin_key,
        )
        .await;
    assert_eq!(listed.body["data"].as_array().unwrap().len(), 1, "{:?}", listed.body);
    let backwards = server
        .get(
            &format!(
                "/v1/posts?due_from={}&due_until={}",
                urlencode(&until.to_rfc3339()),
                urlencode(&from.to_rfc3339())
            ),
            &seeded.admin_key,
        )
        .await;
    assert_eq!(backwards.status, StatusCode::BAD_REQUEST);

    let nonsense = browser.get("/calendar?view=year&date=tomorrow").await;
    assert_eq!(nonsense.status, StatusCode::BAD_REQUEST);
}

fn urlencode(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A PNG of the given size, made here.
fn png(width: u32, height: u32) -> Vec<u8> {
    let image =
        image::RgbImage::from_fn(width, height, |x, y| image::Rgb([(x % 251) as u8, (y % 241) as u8, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

async fn a_file_is_attached_in_parts_and_goes_out_with_the_post(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("compose").await;
    person(&server, seeded.workspace, "member@example.com", Role::Member).await;
    let channel = server.sandbox(&seeded.admin_key, json!({})).await;
    let mut browser = Browser::signed_in(&server, "member@example.com").await;
    let compose = browser.get("/posts/new").await;
    assert!(compose.body.contains("id=\"media-file\"") && compose.body.contains("id=\"preview\""));
    let csrf = compose.csrf();
    let bytes = png(640, 480);
    let begin = json!({"size": bytes.len(), "file_name": "photo.png", "content_type": "image/png", "alt_text": "A test card"});

    // Without the page's token, or from another site: refused, and no upload begins.
    let forged = browser.http.post(server.url("/media/uploads")).header("origin", &server.base).json(&begin);
    assert_eq!(browser.send(forged).await.status, StatusCode::FORBIDDEN);
    let cross_site = browser
        .http
        .post(server.url("/media/uploads"))
        .header("origin", "https://evil.example")
        .header("x-csrf-token", &csrf)
        .json(&begin);
    assert_eq!(browser.send(cross_site).await.status, StatusCode::FORBIDDEN);
    let media = server.get("/v1/media", &seeded.admin_key).await;
    assert_eq!(media.body["data"].as_array().unwrap().len(), 0, "{:?}", media.body);

    let started = browser
        .http
        .post(server.url("/media/uploads"))
        .header("origin", &server.base)
        .header("x-csrf-token", &csrf)
        .json(&begin);
    let started = browser.send(started).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    let id =
        serde_json::from_str::<serde_json::Value>(&started.body).unwrap()["id"].as_str().unwrap().to_owned();
    let (first, second) = bytes.split_at(bytes.len() / 2);
    let mut answer = serde_json::Value::Null;
    for (offset, part) in [(0, first), (first.len(), second)] {
        let request = browser
            .http
            .patch(server.url(&format!("/media/{id}/content")))
            .header("origin", &server.base)
            .header("x-csrf-token", &csrf)
            .header("content-type", "application/offset+octet-stream")
            .header("upload-offset", offset.to_string())
            .body(part.to_vec());
        let page = browser.send(request).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        answer = serde_json::from_str(&page.body).unwrap();
    }
    assert_eq!(answer["status"], "ready");
    assert_eq!((answer["kind"].as_str(), answer["width"].as_u64()), (Some("image"), Some(640)));

    let key =
        compose.body.split("name=\"idempotency_key\" value=\"").nth(1).unwrap().split('"').next().unwrap();
    let sent = browser
        .post(
            "/posts",
            &[
                ("csrf", &csrf),
                ("idempotency_key", key),
                ("text", "With a picture"),
                ("channel", &channel),
                ("media", &id),
            ],
        )
        .await;
    assert_eq!(sent.status, StatusCode::SEE_OTHER, "{}", sent.body);
    let post_id = sent.location.unwrap().trim_start_matches("/posts/").split('?').next().unwrap().to_owned();
    let post = server.get(&format!("/v1/posts/{post_id}"), &seeded.admin_key).await;
    assert_eq!(post.body["media"], json!([id]), "{:?}", post.body);

    // A file the server cannot use comes back with the form, named for people.
    let refused = browser
        .post(
            "/posts",
            &[
                ("csrf", &csrf),
                ("idempotency_key", "dash_other"),
                ("text", "x"),
                ("channel", &channel),
                ("media", "med_nonsense"),
            ],
        )
        .await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    assert!(refused.body.contains("Media"), "{}", refused.body);
}

async fn a_failed_target_says_what_to_do_next(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("failing").await;
    person(&server, seeded.workspace, "owner@example.com", Role::Owner).await;
    let channel = server.sandbox(&seeded.admin_key, json!({"reject_containing": "forbidden"})).await;
    let reply = server
        .post(
            "/v1/posts",
            &seeded.admin_key,
            json!({"text": "a forbidden word", "targets": [{"channel_id": channel}]}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::ACCEPTED, "{:?}", reply.body);
    let post_id = reply.body["id"].as_str().unwrap().to_owned();
    server.worker("w").run_once().await.unwrap();

    let mut browser = Browser::signed_in(&server, "owner@example.com").await;
    let page = browser.get(&format!("/posts/{post_id}")).await;
    assert!(page.body.contains("status-failed"), "{}", page.body);
    assert!(page.body.contains("What to do"), "{}", page.body);
    assert!(page.body.contains("The platform refused this post"), "{}", page.body);
    assert!(page.body.contains("Attempt 1"), "the timeline lists the attempt: {}", page.body);
    assert!(page.body.contains("refused by the platform"), "{}", page.body);

    let attempts = server.get(&format!("/v1/posts/{post_id}/attempts"), &seeded.admin_key).await;
    assert_eq!(attempts.status, StatusCode::OK, "{:?}", attempts.body);
    let data = attempts.body["data"].as_array().unwrap();
    assert_eq!(data.len(), 1, "{data:?}");
    assert_eq!(data[0]["outcome"], "failed");
    assert!(data[0]["error"]["code"].is_string(), "{data:?}");
    let stranger = server.seed("stranger").await;
    let theirs = server.get(&format!("/v1/posts/{post_id}/attempts"), &stranger.admin_key).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "another workspace's post is not found");
}

async fn a_published_post_is_deleted_from_its_platform_from_the_post_page(backend: Backend) {
    let server = start(backend).await;
    let seeded = server.seed("deleting").await;
    person(&server, seeded.workspace, "member@example.com", Role::Member).await;
    person(&server, seeded.workspace, "viewer@example.com", Role::Viewer).await;
    let channel = server.sandbox(&seeded.admin_key, json!({})).await;
    let reply = server
        .post(
            "/v1/posts",
            &seeded.admin_key,
            json!({"text": "soon gone", "targets": [{"channel_id": channel}]}),
        )
        .await;
    let post_id = reply.body["id"].as_str().unwrap().to_owned();
    let target = reply.body["targets"][0]["id"].as_str().unwrap().to_owned();
    server.worker("w").run_once().await.unwrap();
    let action = format!("/posts/{post_id}/targets/{target}/delete");

    let mut viewer = Browser::signed_in(&server, "viewer@example.com").await;
    assert!(!viewer.get(&format!("/posts/{post_id}")).await.body.contains(&action), "no button for a viewer");
    let mut member = Browser::signed_in(&server, "member@example.com").await;
    let page = member.get(&format!("/posts/{post_id}")).await;
    assert!(page.body.contains(&action), "{}", page.body);
    let csrf = page.csrf();
    let unconfirmed = member.post(&action, &[("csrf", &csrf)]).await;
    assert_eq!(unconfirmed.status, StatusCode::BAD_REQUEST, "the box must be ticked");
    let asked = member.post(&action, &[("csrf", &csrf), ("confirm", "on")]).await;
    assert_eq!(asked.status, StatusCode::SEE_OTHER, "{}", asked.body);
    assert!(member.get(&format!("/posts/{post_id}")).await.body.contains("Being deleted from the platform"));
    server.worker("w").run_once().await.unwrap();
    let done = member.get(&format!("/posts/{post_id}")).await;
    assert!(done.body.contains("Deleted from the platform"), "{}", done.body);
    assert!(!done.body.contains(&action), "nothing left to delete");
    let api = server.get(&format!("/v1/posts/{post_id}"), &seeded.admin_key).await;
    assert_eq!(api.body["targets"][0]["deletion"]["status"], "deleted", "{}", api.body);
}
