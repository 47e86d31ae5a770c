pub mod api_keys;
pub mod docs;
pub mod health;
pub mod workspace;
