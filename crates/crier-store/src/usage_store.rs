//! `ChannelUsageStore` for both backends, written once as a macro on the backends' `read_tx`.

pub(crate) mod sql {
    /// `post_targets_by_channel` (channel, status) narrows it to the channel.
    pub const COUNT_TARGETS_SINCE: &str = "SELECT COUNT(*) FROM post_targets \
         WHERE workspace_id = $1 AND channel_id = $2 AND created_at >= $3 AND status <> 'cancelled'";
}

/// Implements `ChannelUsageStore` for `$store`.
macro_rules! impl_usage_store {
    ($store:ty) => {
        #[async_trait::async_trait]
        impl crier_core::ChannelUsageStore for $store {
            async fn count_targets_since(
                &self,
                workspace: crier_core::WorkspaceId,
                channel: crier_core::ChannelId,
                since: crier_core::Timestamp,
            ) -> crier_core::StoreResult<i64> {
                let mut tx = self.read_tx(workspace).await?;
                let count: i64 = sqlx::query_scalar($crate::usage_store::sql::COUNT_TARGETS_SINCE)
                    .bind(workspace.as_uuid())
                    .bind(channel.as_uuid())
                    .bind($crate::rows::DbTime(since))
                    .fetch_one(&mut *tx)
                    .await
                    .map_err($crate::error::map_sqlx)?;
                tx.commit().await.map_err($crate::error::map_sqlx)?;
                Ok(count)
            }
        }
    };
}

pub(crate) use impl_usage_store;
