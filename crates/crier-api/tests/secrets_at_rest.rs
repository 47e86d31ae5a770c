//! Acceptance: after keys are created and rotated, neither the SQLite files nor a `pg_dump`
//! contain any key's plaintext (nor its random part alone). The scan is shown to work by finding
//! each key's stored hash in the same bytes.

#![expect(clippy::unwrap_used, reason = "tests")]

mod common;

use common::Server;
use crier_core::ApiKeySecret;
use crier_testkit::{Backend, contains, on_both_backends, pg_dump, sqlite_bytes};
use reqwest::{Method, StatusCode};

on_both_backends!(backend: no_key_plaintext_at_rest);

async fn no_key_plaintext_at_rest(backend: Backend) {
    let server = Server::start(backend).await;
    let seeded = server.seed("Acme").await;
    let mut secrets = vec![seeded.admin_key.clone()];
    for scopes in [&["posts:read"][..], &["keys:admin", "posts:write"], &["channels:read"]] {
        secrets.push(server.create_key(&seeded.admin_key, scopes).await.1);
    }
    let (id, _) = server.create_key(&seeded.admin_key, &["keys:admin"]).await;
    let rotated =
        server.call(Method::POST, &format!("/v1/api-keys/{id}/rotate"), Some(&seeded.admin_key), None).await;
    assert_eq!(rotated.status, StatusCode::CREATED);
    secrets.push(rotated.body["secret"].as_str().unwrap().to_owned());

    let dump = match backend {
        Backend::Sqlite => sqlite_bytes(server.db.sqlite_path.as_ref().unwrap()),
        Backend::Postgres => pg_dump(server.db.pg_schema.as_ref().unwrap()),
    };
    assert!(contains(&dump, b"made over http"), "the scan sees the api_keys rows");
    for secret in &secrets {
        let hash = ApiKeySecret::parse(secret).unwrap().hash();
        let stored_form: Vec<u8> = match backend {
            Backend::Sqlite => hash.as_bytes().to_vec(),
            Backend::Postgres => {
                hash.as_bytes().iter().map(|b| format!("{b:02x}")).collect::<String>().into_bytes()
            }
        };
        assert!(contains(&dump, &stored_form), "the key's hash is stored");
        assert!(!contains(&dump, secret.as_bytes()), "a key's plaintext is in the database");
        let random_part = &secret["crier_live_".len()..secret.len() - 6];
        assert!(!contains(&dump, random_part.as_bytes()), "a key's random part is in the database");
    }
}
