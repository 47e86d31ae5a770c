//! The vault and audit commands as operators run them: master rotation killed with SIGKILL at
//! random points and resumed, a wrong master key refused at start-up, and `crier audit verify`
//! naming a row edited behind Crier's back.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::{crier, run_ok};
use crier_core::{SecretId, SystemClock, WorkspaceId};
use crier_testkit::{Backend, TestDb, on_both_backends};
use crier_vault::{MasterKeyFiles, Vault, read_key};
use rand::Rng;

on_both_backends!(backend: master_rotation_survives_sigkill_at_random_points, audit_verify_names_an_edited_row);

const WORKSPACES: usize = 30;

fn with_db(cwd: &Path, db: &TestDb) -> Command {
    let mut command = crier(cwd);
    command
        .env("CRIER_DATA_DIR", cwd.join("data"))
        .env("CRIER_DATABASE_URL", db.url().expose())
        .env("CRIER_MIGRATE_DATABASE_URL", db.owner_url.expose());
    command
}

/// Opens every secret with the keys a restarted Crier would load from the data directory.
async fn all_secrets_open(db: &TestDb, files: &MasterKeyFiles, secrets: &[(WorkspaceId, SecretId, String)]) {
    let keyring = files.load().unwrap().expect("a key file");
    let vault = Vault::new(keyring, db.store.clone(), Arc::new(SystemClock));
    vault.check().await.unwrap();
    for (ws, id, plain) in secrets {
        assert_eq!(vault.open(*ws, *id).await.unwrap().expose(), plain.as_bytes());
    }
}

async fn wrapped_by(db: &TestDb, master_id: &str) -> usize {
    let mut count = 0;
    for ws in db.store.list_workspaces().await.unwrap() {
        count +=
            db.store.data_keys(ws.id).await.unwrap().iter().filter(|k| k.master_key_id == master_id).count();
    }
    count
}

async fn master_rotation_survives_sigkill_at_random_points(backend: Backend) {
    let db = TestDb::fresh(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    std::fs::create_dir(cwd.path().join("data")).unwrap();
    let files = MasterKeyFiles::new(cwd.path().join("data/master.key"));
    let original = MasterKeyFiles::create(&files.current).unwrap();
    let original_id = original.id().to_owned();
    let vault = Vault::new(crier_vault::Keyring::new(original), db.store.clone(), Arc::new(SystemClock));
    let mut secrets = Vec::new();
    for i in 0..WORKSPACES {
        let ws = vault
            .create_workspace(
                &crier_core::NewWorkspace::new(&format!("W{i}"), chrono::Utc::now()).unwrap(),
                crier_core::Actor::cli(),
                &Default::default(),
            )
            .await
            .unwrap()
            .id;
        for purpose in ["channel_token", "webhook_secret"] {
            let plain = format!("{purpose} of workspace {i}");
            secrets.push((ws, vault.seal(ws, purpose, plain.as_bytes()).await.unwrap(), plain));
        }
    }

    let mut rng = rand::rng();
    let mut kills_mid_way = 0;
    for _ in 0..5 {
        let mut child = with_db(cwd.path(), &db)
            // Slow enough that the polling below (slow itself on a loaded machine) sees it part-way.
            .args(["vault", "rotate-master", "--throttle", "40ms"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the rotation is visibly part-way, at a random point, then SIGKILL it.
        let deadline = Instant::now() + Duration::from_secs(30);
        let next_id = loop {
            // Never half-written: the key file appears complete or not at all.
            if let Some(key) = read_key(&files.next()).unwrap() {
                break key.id().to_owned();
            }
            assert!(Instant::now() < deadline, "the rotation never started");
            tokio::time::sleep(Duration::from_millis(2)).await;
        };
        let done = wrapped_by(&db, &next_id).await;
        if done + 1 >= WORKSPACES {
            let _ = child.kill();
            let _ = child.wait();
            break;
        }
        let target = rng.random_range(done + 1..WORKSPACES);
        while wrapped_by(&db, &next_id).await < target && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        tokio::time::sleep(Duration::from_micros(rng.random_range(0..3000))).await;
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let rewrapped = wrapped_by(&db, &next_id).await;
        if rewrapped > 0 && rewrapped < WORKSPACES {
            kills_mid_way += 1;
        }
        all_secrets_open(&db, &files, &secrets).await;
    }
    assert!(kills_mid_way >= 1, "no kill landed mid-rotation");

    run_ok(with_db(cwd.path(), &db).args(["vault", "rotate-master"]));
    let current = read_key(&files.current).unwrap().unwrap();
    assert_ne!(current.id(), original_id);
    assert_eq!(wrapped_by(&db, current.id()).await, WORKSPACES, "every data key under the new key");
    assert!(read_key(&files.next()).unwrap().is_none());
    // The previous key was set aside (the original, or an intermediate one if a killed run had
    // already finished a rotation before the last run started another).
    assert_ne!(read_key(&files.old()).unwrap().unwrap().id(), current.id());
    std::fs::remove_file(files.old()).unwrap();
    all_secrets_open(&db, &files, &secrets).await;
}

#[tokio::test]
async fn a_wrong_master_key_stops_start_up_clearly() {
    let cwd = tempfile::tempdir().unwrap();
    let workspace = run_ok(crier(cwd.path()).args(["workspace", "create", "Acme"]));
    assert!(workspace.starts_with("ws_"));
    assert!(cwd.path().join("crier-data/master.key").is_file());

    let wrong = run_ok(crier(cwd.path()).args(["vault", "generate-key"]));
    for args in [
        &["serve"][..],
        &["workspace", "create", "Other"],
        &["key", "create", "--workspace", &workspace, "--scopes", "all"],
    ] {
        let out = crier(cwd.path())
            .args(args)
            .env("CRIER_MASTER_KEY", &wrong)
            .env("CRIER_LISTEN", "127.0.0.1:0")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{args:?} started with a wrong master key");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("master key") && stderr.contains("CRIER_MASTER_KEY"), "{stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains(&wrong), "{stderr}");
    }

    let not_a_key =
        crier(cwd.path()).args(["serve"]).env("CRIER_MASTER_KEY", "not base64!").output().unwrap();
    assert!(!not_a_key.status.success());
    assert!(String::from_utf8_lossy(&not_a_key.stderr).contains("32 bytes"));

    std::fs::rename(cwd.path().join("crier-data/master.key"), cwd.path().join("lost.key")).unwrap();
    let lost = crier(cwd.path()).args(["serve"]).env("CRIER_LISTEN", "127.0.0.1:0").output().unwrap();
    assert!(!lost.status.success(), "a lost key file must not be silently replaced");
    assert!(String::from_utf8_lossy(&lost.stderr).contains("Restore the key file"));
    assert!(!cwd.path().join("crier-data/master.key").exists());
}

async fn audit_verify_names_an_edited_row(backend: Backend) {
    let db = TestDb::fresh(backend).await;
    let cwd = tempfile::tempdir().unwrap();
    let workspace = run_ok(with_db(cwd.path(), &db).args(["workspace", "create", "Acme"]));
    let key = run_ok(with_db(cwd.path(), &db).args([
        "key",
        "create",
        "--workspace",
        &workspace,
        "--scopes",
        "all",
    ]));
    assert!(key.starts_with("crier_live_"));
    let listing = run_ok(with_db(cwd.path(), &db).args(["key", "list", "--workspace", &workspace]));
    let key_id = listing.lines().nth(1).unwrap().split('\t').next().unwrap().to_owned();
    run_ok(with_db(cwd.path(), &db).args(["key", "revoke", "--workspace", &workspace, &key_id]));
    let clean = run_ok(with_db(cwd.path(), &db).args(["audit", "verify"]));
    assert!(clean.contains(&format!("{workspace}: 3 events, chain intact")), "{clean}");

    let ws: WorkspaceId = workspace.parse().unwrap();
    let edited = db.store.list_audit_events(ws, 1, 1).await.unwrap().remove(0);
    match backend {
        Backend::Sqlite => {
            // Whoever holds the file can drop the guard triggers; the chain still tells.
            let path = db.sqlite_path.as_ref().unwrap();
            let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect(&format!(
                "sqlite://{}",
                path.display()
            ))
            .await
            .unwrap();
            sqlx::query("DROP TRIGGER audit_events_no_update").execute(&mut conn).await.unwrap();
            sqlx::query("UPDATE audit_events SET actor = 'nobody' WHERE seq = 2")
                .execute(&mut conn)
                .await
                .unwrap();
            let out = with_db(cwd.path(), &db)
                .args(["audit", "verify", "--workspace", &workspace])
                .output()
                .unwrap();
            assert!(!out.status.success());
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(stdout.contains(&format!("BROKEN at row 2 ({})", edited.id)), "{stdout}");
        }
        Backend::Postgres => {
            // The app role may not touch audit rows at all, and the trigger refuses even the owner.
            let app = db.url().expose().to_owned();
            let owner = db.owner_url.expose().to_owned();
            for (who, url) in [("app", app), ("owner", owner)] {
                let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&url).await.unwrap();
                for statement in [
                    "UPDATE audit_events SET actor = 'nobody' WHERE seq = 2",
                    "DELETE FROM audit_events WHERE seq = 2",
                    "TRUNCATE audit_events",
                ] {
                    let mut tx = sqlx::Connection::begin(&mut conn).await.unwrap();
                    sqlx::query("SELECT set_config('crier.workspace_id', $1, true)")
                        .bind(ws.as_uuid().to_string())
                        .execute(&mut *tx)
                        .await
                        .unwrap();
                    let refused = sqlx::query(statement).execute(&mut *tx).await;
                    assert!(refused.is_err(), "{who}: {statement} was allowed");
                }
            }
            let again = run_ok(with_db(cwd.path(), &db).args(["audit", "verify"]));
            assert!(again.contains("3 events, chain intact"), "{again}");
        }
    }
}
