//! `sqlx::migrate!` embeds the migrations at compile time, but Cargo does not know about those
//! files: without this, a new migration file would not rebuild the crate, and a binary or test
//! built before it would run without it.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
