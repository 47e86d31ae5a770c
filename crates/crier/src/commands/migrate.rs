use crate::cli::DbArgs;

pub async fn run(db: &DbArgs) -> anyhow::Result<()> {
    let store = super::open_store(db).await?;
    eprintln!("migrations applied ({} database)", store.backend());
    Ok(())
}
