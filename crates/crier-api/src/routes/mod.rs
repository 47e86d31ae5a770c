pub mod api_keys;
pub mod audit;
pub mod docs;
pub mod health;
pub mod workspace;
