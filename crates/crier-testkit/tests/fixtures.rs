//! The recorded answer shapes the platform fakes send: every file is compiled in, names the
//! platform's own doc page (or official SDK / source) it comes from, and is used by a fake, so
//! none drifts from the docs or rots unused. Also the loader's placeholder filling.

#![expect(clippy::unwrap_used, reason = "test")]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use axum::http::StatusCode;
use crier_testkit::fixtures::{self, ALL, fixture};
use serde_json::json;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `platform/answer` for every `fixtures/<platform>/<answer>.json` on disk.
fn files_on_disk() -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for platform in std::fs::read_dir(crate_dir().join("fixtures")).unwrap() {
        let platform = platform.unwrap().path();
        assert!(platform.is_dir(), "only platform folders under fixtures/: {}", platform.display());
        for file in std::fs::read_dir(&platform).unwrap() {
            let file = file.unwrap().path();
            assert_eq!(file.extension().and_then(|e| e.to_str()), Some("json"), "{}", file.display());
            let stem = file.file_stem().unwrap().to_str().unwrap();
            let platform = platform.file_name().unwrap().to_str().unwrap();
            names.insert(format!("{platform}/{stem}"));
        }
    }
    names
}

/// The hosts whose pages count as each platform's own documentation or official source.
fn doc_hosts(platform: &str) -> &'static [&'static str] {
    match platform {
        "x" => &["docs.x.com", "developer.x.com", "developer.twitter.com"],
        "linkedin" => &["learn.microsoft.com"],
        "facebook" | "instagram" | "threads" => &["developers.facebook.com"],
        "tiktok" => &["developers.tiktok.com"],
        "youtube" => &["developers.google.com"],
        "pinterest" => &["developers.pinterest.com", "github.com/pinterest/"],
        "reddit" => &["www.reddit.com/dev/api", "github.com/reddit-archive/reddit/wiki/"],
        "telegram" => &["core.telegram.org"],
        "discord" => &["discord.com/developers/docs"],
        "slack" => &["docs.slack.dev", "api.slack.com"],
        "mastodon" => &["docs.joinmastodon.org"],
        other => panic!("fixtures for {other}: add its doc hosts here"),
    }
}

#[test]
fn every_file_is_compiled_in_and_every_entry_has_a_file() {
    let compiled: BTreeSet<String> = ALL.iter().map(|(name, _)| (*name).to_owned()).collect();
    assert_eq!(compiled.len(), ALL.len(), "a fixture is listed twice");
    assert_eq!(files_on_disk(), compiled, "fixtures/ and the list in src/fixtures.rs differ");
}

#[test]
fn every_fixture_parses_and_names_its_doc_source() {
    assert!(ALL.len() > 13, "every platform has fixtures");
    for (name, text) in ALL {
        let parsed = fixtures::parse(name, text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let platform = name.split('/').next().unwrap();
        let place = parsed
            .source
            .strip_prefix("https://")
            .unwrap_or_else(|| panic!("{name}: the source must be an https:// URL: {}", parsed.source));
        assert!(
            doc_hosts(platform).iter().any(|host| place.starts_with(host)),
            "{name}: {} is not one of {platform}'s doc pages",
            parsed.source
        );
        assert!(url::Url::parse(&parsed.source).is_ok(), "{name}: {}", parsed.source);
        assert!(StatusCode::from_u16(parsed.status).is_ok(), "{name}");
        // Only an answer documented without one (LinkedIn's 201 naming the post in
        // `x-restli-id`, a 204) may have no body.
        assert!(
            !parsed.body.is_null() || matches!(parsed.status, 201 | 204),
            "{name}: every recorded answer has a body"
        );
    }
}

#[test]
fn every_fixture_is_used_by_a_fake() {
    let src = crate_dir().join("src");
    // A fake is `src/x_fake.rs`, or a folder `src/x_fake/` of files.
    let fakes: String = std::fs::read_dir(&src)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .flat_map(|path| {
            let name = path.file_name().unwrap().to_str().unwrap().to_owned();
            if name.ends_with("_fake.rs") {
                vec![path]
            } else if name.ends_with("_fake") && path.is_dir() {
                std::fs::read_dir(&path).unwrap().map(|entry| entry.unwrap().path()).collect()
            } else {
                Vec::new()
            }
        })
        .map(|path| std::fs::read_to_string(path).unwrap())
        .collect();
    assert!(!fakes.is_empty(), "{}", Path::new(&src).display());
    let unused: Vec<&str> =
        ALL.iter().map(|(name, _)| *name).filter(|name| !fakes.contains(&format!("\"{name}\""))).collect();
    assert!(unused.is_empty(), "fixtures no fake sends: {unused:?}");
}

#[test]
fn a_whole_value_placeholder_takes_the_value_and_one_in_text_its_text() {
    let body = fixture("telegram/rate_limited").body_with(&[("retry_after", json!(7))]);
    assert_eq!(body["parameters"]["retry_after"], json!(7), "a number stays a number");
    assert_eq!(body["description"], "Too Many Requests: retry after 7");

    let body = fixture("discord/invalid_form_body").body_with(&[
        ("field", json!("username")),
        ("code", json!("USERNAME_INVALID")),
        ("message", json!("{{not a placeholder}}")),
    ]);
    let errors = &body["errors"]["username"]["_errors"][0];
    assert_eq!(errors["code"], "USERNAME_INVALID", "keys are filled too");
    assert_eq!(errors["message"], "{{not a placeholder}}", "a value given is not filled again");
}

#[test]
fn an_unfilled_placeholder_is_refused() {
    let partly = fixture("reddit/token").with(&[("access_token", json!("a"))]);
    assert_eq!(partly.unfilled(), ["{{expires_in}}", "{{refresh_token}}", "{{scope}}"]);
    let refused = std::panic::catch_unwind(|| partly.response());
    assert!(refused.is_err(), "a fixture with a placeholder left must not be sent");
}

#[tokio::test]
async fn a_fixture_answers_with_its_status_headers_and_body() {
    let response = fixtures::respond("reddit/rate_limited", &[]);
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["x-ratelimit-reset"], "300");
    assert_eq!(response.headers()["content-type"], "application/json");
    let bytes = axum::body::to_bytes(response.into_body(), 1 << 16).await.unwrap();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(body, json!({"message": "Too Many Requests", "error": 429}));
}

#[test]
fn a_number_given_for_a_header_is_written_out() {
    let response = fixtures::respond("x/rate_limited", &[("reset", json!(1_700_000_900))]);
    assert_eq!(response.headers()["x-rate-limit-reset"], "1700000900");
}
