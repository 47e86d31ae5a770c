//! The binary as users run it: `crier serve` on the embedded default with nothing else running,
//! the bootstrap CLI on both backends, `--help`, and what the process logs.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::{Served, crier, run_ok};
use crier_testkit::{Backend, TestDb, on_both_backends};

on_both_backends!(backend: cli_bootstraps_a_workspace_and_keys);

#[tokio::test]
async fn serve_runs_on_the_embedded_default_with_no_other_service() {
    let cwd = tempfile::tempdir().unwrap();
    let served = Served::start(crier(cwd.path()));
    let health = reqwest::get(served.url("/healthz")).await.unwrap();
    assert_eq!(health.status(), 200);
    let ready: serde_json::Value = reqwest::get(served.url("/readyz")).await.unwrap().json().await.unwrap();
    assert_eq!(ready["database"], "sqlite");
    let data_dir = cwd.path().join("crier-data");
    assert!(data_dir.join("crier.db").is_file(), "the default database lives in ./crier-data");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&data_dir).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "the data directory is private");
    }

    // Media land encrypted in the data directory's media folder, and come back intact.
    let workspace = run_ok(crier(cwd.path()).args(["workspace", "create", "Media"]));
    let key = run_ok(crier(cwd.path()).args(["key", "create", "--workspace", &workspace, "--scopes", "all"]));
    let png: &[u8] = include_bytes!("../../crier-media/tests/fixtures/image.png");
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(png.to_vec()).file_name("image.png").mime_str("image/png").unwrap(),
    );
    let http = reqwest::Client::new();
    let created = http.post(served.url("/v1/media")).bearer_auth(&key).multipart(form).send().await.unwrap();
    assert_eq!(created.status(), 201);
    let created: serde_json::Value = created.json().await.unwrap();
    let id = created["id"].as_str().unwrap();
    let folder = data_dir.join("media").join("workspaces").join(&workspace).join("media").join(id);
    let stored = std::fs::read(folder.join("000000")).unwrap();
    assert!(!stored.windows(16).any(|w| png.windows(16).any(|p| p == w)), "encrypted at rest");
    let back =
        http.get(served.url(&format!("/v1/media/{id}/content"))).bearer_auth(&key).send().await.unwrap();
    assert_eq!(back.bytes().await.unwrap().as_ref(), png);

    let log = served.stop();
    assert!(log.contains("shutting down"), "graceful shutdown: {log}");
}

async fn cli_bootstraps_a_workspace_and_keys(backend: Backend) {
    let db = TestDb::fresh(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let with_db = || {
        let mut command = crier(cwd.path());
        command.env("CRIER_DATABASE_URL", db.url().expose());
        command.env("CRIER_MIGRATE_DATABASE_URL", db.owner_url.expose());
        command
    };
    let workspace = run_ok(with_db().args(["workspace", "create", "Acme Inc"]));
    assert!(workspace.starts_with("ws_"), "{workspace}");
    assert!(run_ok(with_db().args(["workspace", "list"])).contains(&workspace));

    let admin = run_ok(with_db().args([
        "key",
        "create",
        "--workspace",
        &workspace,
        "--scopes",
        "all",
        "--name",
        "bootstrap",
    ]));
    assert!(admin.starts_with("crier_live_"), "only the secret goes to stdout");
    let test_key = run_ok(with_db().args([
        "key",
        "create",
        "--workspace",
        &workspace,
        "--scopes",
        "posts:read,keys:admin",
        "--test",
        "--expires-in",
        "30d",
    ]));
    assert!(test_key.starts_with("crier_test_"));

    // A person who can approve agents: the password from the environment, never an argument.
    let create_user = || {
        let mut command = with_db();
        command.env("CRIER_USER_PASSWORD", "a long enough password").args([
            "user",
            "create",
            "--workspace",
            &workspace,
            "--email",
            "Owner@Example.com",
        ]);
        command
    };
    let user_id = run_ok(&mut create_user());
    assert_eq!(user_id.len(), 36, "prints the user's id: {user_id}");
    let again = create_user().output().unwrap();
    assert!(!again.status.success(), "an email is taken once");
    let short = with_db()
        .env("CRIER_USER_PASSWORD", "short")
        .args(["user", "create", "--workspace", &workspace, "--email", "b@example.com"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&short.stderr).contains("at least 12 characters"));

    let served = Served::start(with_db());
    let http = reqwest::Client::new();
    let me = http.get(served.url("/v1/workspace")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(me.status(), 200);

    let listing = run_ok(with_db().args(["key", "list", "--workspace", &workspace]));
    assert_eq!(listing.lines().count(), 3, "header and two keys: {listing}");
    assert!(!listing.contains(&admin[11..50]), "listing shows no secret");
    let test_key_id =
        listing.lines().find(|l| l.contains("crier_test_")).unwrap().split('\t').next().unwrap().to_owned();
    let admin_id =
        listing.lines().find(|l| l.contains("bootstrap")).unwrap().split('\t').next().unwrap().to_owned();

    let successor =
        run_ok(with_db().args(["key", "rotate", "--workspace", &workspace, &admin_id, "--grace", "0s"]));
    assert!(successor.starts_with("crier_live_") && successor != admin);
    let old = http.get(served.url("/v1/workspace")).bearer_auth(&admin).send().await.unwrap();
    assert_eq!(old.status(), 401, "grace 0s: refused at once");
    let new = http.get(served.url("/v1/workspace")).bearer_auth(&successor).send().await.unwrap();
    assert_eq!(new.status(), 200);

    run_ok(with_db().args(["key", "revoke", "--workspace", &workspace, &test_key_id]));
    let revoked = http.get(served.url("/v1/api-keys")).bearer_auth(&test_key).send().await.unwrap();
    assert_eq!(revoked.status(), 401);

    let other = run_ok(with_db().args(["workspace", "create", "Other"]));
    let cross = with_db().args(["key", "revoke", "--workspace", &other, &admin_id]).output().unwrap();
    assert!(!cross.status.success(), "another workspace's key is not found");
    assert!(String::from_utf8_lossy(&cross.stderr).contains("no such API key"));
    served.stop();
}

#[test]
fn serve_help_lists_every_setting_with_its_default() {
    let cwd = tempfile::tempdir().unwrap();
    let help = run_ok(crier(cwd.path()).args(["serve", "--help"]));
    for (env, default) in [
        ("CRIER_CONFIG", Some("crier.toml")),
        ("CRIER_LISTEN", Some("127.0.0.1:8080")),
        ("CRIER_DATA_DIR", Some("./crier-data")),
        ("CRIER_DATABASE_URL", None),
        ("CRIER_MIGRATE_DATABASE_URL", None),
        ("CRIER_MASTER_KEY", None),
        ("CRIER_MASTER_KEY_FILE", None),
        ("CRIER_PREVIOUS_MASTER_KEYS", None),
        ("CRIER_DB_MAX_CONNECTIONS", Some("10")),
        ("CRIER_DB_CONNECT_TIMEOUT", Some("10s")),
        ("CRIER_PUBLIC_URL", None),
        ("CRIER_MAX_BODY_BYTES", Some("1048576")),
        ("CRIER_REQUEST_TIMEOUT", Some("30s")),
        ("CRIER_KEY_GRACE_PERIOD", Some("24h")),
        ("CRIER_SESSION_IDLE", Some("30d")),
        ("CRIER_SESSION_LIFETIME", Some("90d")),
        ("CRIER_OPEN_SIGNUP", Some("false")),
        ("CRIER_LOG", Some("info")),
        ("CRIER_LOG_FORMAT", Some("text")),
        ("CRIER_ROLE", Some("all")),
        ("CRIER_WORKER_BATCH", Some("128")),
        ("CRIER_WORKER_LEASE", Some("30s")),
        ("CRIER_WEBHOOK_TIMEOUT", Some("15s")),
        ("CRIER_WEBHOOK_DISABLE_AFTER", Some("5d")),
        ("CRIER_ALLOW_INSECURE_LOOPBACK", Some("false")),
        ("CRIER_ALLOW_INSECURE_SMTP", Some("false")),
        ("CRIER_SMTP_CA_FILE", None),
        ("CRIER_X_CLIENT_ID", None),
        ("CRIER_X_CLIENT_SECRET", None),
        ("CRIER_REDDIT_CLIENT_ID", None),
        ("CRIER_REDDIT_CLIENT_SECRET", None),
        ("CRIER_REDDIT_USER_AGENT", Some("\"web:crier:1 (self-hosted Crier)\"")),
        ("CRIER_SLACK_CLIENT_ID", None),
        ("CRIER_SLACK_CLIENT_SECRET", None),
        ("CRIER_PINTEREST_CLIENT_ID", None),
        ("CRIER_PINTEREST_CLIENT_SECRET", None),
        ("CRIER_LINKEDIN_CLIENT_ID", None),
        ("CRIER_LINKEDIN_CLIENT_SECRET", None),
        ("CRIER_LINKEDIN_API_VERSION", Some("202610")),
        ("CRIER_GOOGLE_CLIENT_ID", None),
        ("CRIER_GOOGLE_CLIENT_SECRET", None),
        ("CRIER_TIKTOK_CLIENT_KEY", None),
        ("CRIER_TIKTOK_CLIENT_SECRET", None),
        ("CRIER_FACEBOOK_APP_ID", None),
        ("CRIER_FACEBOOK_APP_SECRET", None),
        ("CRIER_META_GRAPH_VERSION", Some("v24.0")),
        ("CRIER_OIDC_ISSUER", None),
        ("CRIER_OIDC_CLIENT_ID", None),
        ("CRIER_OIDC_CLIENT_SECRET", None),
        ("CRIER_OIDC_LABEL", Some("\"Sign in with single sign-on\"")),
        ("CRIER_GITHUB_CLIENT_ID", None),
        ("CRIER_GITHUB_CLIENT_SECRET", None),
        ("CRIER_GOOGLE_SSO_CLIENT_ID", None),
        ("CRIER_GOOGLE_SSO_CLIENT_SECRET", None),
        ("CRIER_MEDIA_DIR", None),
        ("CRIER_MEDIA_S3_BUCKET", None),
        ("CRIER_MEDIA_S3_REGION", Some("us-east-1")),
        ("CRIER_MEDIA_S3_ENDPOINT", None),
        ("CRIER_MEDIA_S3_ACCESS_KEY_ID", None),
        ("CRIER_MEDIA_S3_SECRET_ACCESS_KEY", None),
        ("CRIER_MEDIA_S3_PATH_STYLE", Some("false")),
        ("CRIER_MEDIA_S3_ALLOW_HTTP", Some("false")),
        ("CRIER_MEDIA_MAX_BYTES", Some("1073741824")),
        ("CRIER_MEDIA_UPLOAD_TTL", Some("24h")),
    ] {
        assert!(help.contains(&format!("[env: {env}")), "--help lacks {env}");
        if let Some(default) = default {
            assert!(help.contains(&format!("[default: {default}]")), "--help lacks the default of {env}");
        }
    }
}

#[test]
fn bad_settings_fail_clearly() {
    let cwd = tempfile::tempdir().unwrap();
    let out =
        crier(cwd.path()).args(["migrate"]).env("CRIER_DATABASE_URL", "mysql://db/crier").output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("unsupported database URL scheme"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");

    let secret_url = "postgres://crier:hunter2-secret@127.0.0.1:1/crier";
    let out = crier(cwd.path())
        .args(["migrate", "--db-connect-timeout", "200ms"])
        .env("CRIER_DATABASE_URL", secret_url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("opening the database"), "{stderr}");
    assert!(!stderr.contains("hunter2-secret"), "the password leaked: {stderr}");

    let out =
        crier(cwd.path()).args(["key", "create", "--workspace", "nope", "--scopes", "all"]).output().unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--workspace"));
}
