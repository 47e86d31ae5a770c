//! Argon2id password hashes (the `argon2` crate's defaults are OWASP's minimum: m=19 MiB, t=2, p=1;
//! about 45 ms a hash on a 2-core machine, see docs/PEOPLE.md).

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};

/// A PHC string for `password`.
pub fn hash_password(password: &str) -> Result<String, argon2::password_hash::Error> {
    let salt = SaltString::generate(&mut OsRng);
    Ok(Argon2::default().hash_password(password.as_bytes(), &salt)?.to_string())
}

/// Whether `password` matches `hash`. With no stored hash (an unknown email) a dummy hash is
/// verified anyway, so the answer takes as long either way and does not tell who has an account.
pub fn verify_password(password: &str, hash: Option<&str>) -> bool {
    const DUMMY: &str =
        "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$hD1T3i0Fh2V0mR8pW1tQk5cC0m8B7lQkqU3o2mH0rKc";
    let stored = hash.unwrap_or(DUMMY);
    let Ok(parsed) = PasswordHash::new(stored) else { return false };
    let matches = Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok();
    matches && hash.is_some()
}
