pub mod api_keys;
pub mod audit;
pub mod channels;

pub mod docs;
pub mod health;
pub mod posts;

pub mod workspace;
