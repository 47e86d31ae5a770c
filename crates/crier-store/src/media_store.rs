//! `MediaStore` for both backends, written once as a macro that each backend instantiates. The
//! backend supplies its tenant transactions (`read_tx`, `write_tx`), its audit append, the row
//! lock a delete takes (`lock_media`), its in-use statement, and the pool for the global look-up.

/// Implements `MediaStore` for `$store`.
macro_rules! impl_media_store {
    ($store:ty, in_use = $in_use:expr, global = $global:ident) => {
        // A block of its own, so the imports the bodies use stay here, not at the call site.
        const _: () = {
            use crier_core::{
                IdempotentResponse, Media, MediaFacts, MediaId, MediaQuery, NewAuditEvent, SealedRow,
                StoreResult, Timestamp, WorkspaceId,
            };
            use uuid::Uuid;

            use $crate::binds_media::{
                append_part, complete_media, delete_media_rows, insert_media_rows, load_media,
            };
            use $crate::binds_publishing::store_response;
            use $crate::error::map_sqlx;
            use $crate::rows::DbTime;
            use $crate::rows_media::{MediaRow, sql};

            #[async_trait::async_trait]
            impl crier_core::MediaStore for $store {
                async fn insert_media(
                    &self,
                    media: &Media,
                    content_key: Option<&SealedRow>,
                    idempotency: Option<&IdempotentResponse>,
                    audit: &NewAuditEvent,
                ) -> StoreResult<()> {
                    let mut tx = self.write_tx(media.workspace_id).await?;
                    insert_media_rows!(tx, media, content_key);
                    self.append_tenant_audit(&mut tx, media.workspace_id, audit).await?;
                    store_response!(tx, media.workspace_id, idempotency);
                    tx.commit().await.map_err(map_sqlx)
                }

                async fn get_media(&self, workspace: WorkspaceId, id: MediaId) -> StoreResult<Media> {
                    let mut tx = self.read_tx(workspace).await?;
                    let media = load_media!(tx, workspace, id);
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(media)
                }

                async fn list_media(
                    &self,
                    workspace: WorkspaceId,
                    query: &MediaQuery,
                ) -> StoreResult<Vec<Media>> {
                    let mut tx = self.read_tx(workspace).await?;
                    let rows: Vec<MediaRow> = sqlx::query_as(sql::LIST_MEDIA)
                        .bind(workspace.as_uuid())
                        .bind(query.before.map(|id| id.as_uuid()))
                        .bind(query.limit)
                        .fetch_all(&mut *tx)
                        .await
                        .map_err(map_sqlx)?;
                    tx.commit().await.map_err(map_sqlx)?;
                    rows.into_iter().map(MediaRow::into_domain).collect()
                }

                async fn media_by_ids(
                    &self,
                    workspace: WorkspaceId,
                    ids: &[MediaId],
                ) -> StoreResult<Vec<Media>> {
                    // Most posts have no media: no transaction for nothing.
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut tx = self.read_tx(workspace).await?;
                    let mut found = Vec::with_capacity(ids.len());
                    for id in ids {
                        match sqlx::query_as::<_, MediaRow>(sql::GET_MEDIA)
                            .bind(workspace.as_uuid())
                            .bind(id.as_uuid())
                            .fetch_optional(&mut *tx)
                            .await
                            .map_err(map_sqlx)?
                        {
                            Some(row) => found.push(row.into_domain()?),
                            None => continue,
                        }
                    }
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(found)
                }

                async fn append_media_part(
                    &self,
                    workspace: WorkspaceId,
                    id: MediaId,
                    from: u64,
                    to: u64,
                    at: Timestamp,
                ) -> StoreResult<Media> {
                    let mut tx = self.write_tx(workspace).await?;
                    let media = append_part!(tx, workspace, id, from, to, at);
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(media)
                }

                async fn complete_media(
                    &self,
                    workspace: WorkspaceId,
                    id: MediaId,
                    facts: &MediaFacts,
                    at: Timestamp,
                    audit: &NewAuditEvent,
                ) -> StoreResult<Media> {
                    let mut tx = self.write_tx(workspace).await?;
                    let media = complete_media!(tx, workspace, id, facts, at);
                    self.append_tenant_audit(&mut tx, workspace, audit).await?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(media)
                }

                async fn delete_media(
                    &self,
                    workspace: WorkspaceId,
                    id: MediaId,
                    audit: &NewAuditEvent,
                ) -> StoreResult<Media> {
                    let mut tx = self.write_tx(workspace).await?;
                    self.lock_media(&mut tx, workspace, id).await?;
                    let media = delete_media_rows!(tx, workspace, id, $in_use);
                    self.append_tenant_audit(&mut tx, workspace, audit).await?;
                    tx.commit().await.map_err(map_sqlx)?;
                    Ok(media)
                }

                async fn expired_uploads(
                    &self,
                    now: Timestamp,
                    limit: i64,
                ) -> StoreResult<Vec<(WorkspaceId, MediaId)>> {
                    let rows: Vec<(Uuid, Uuid)> = sqlx::query_as(sql::EXPIRED_UPLOADS)
                        .bind(DbTime(now))
                        .bind(limit)
                        .fetch_all(&self.$global)
                        .await
                        .map_err(map_sqlx)?;
                    Ok(rows
                        .into_iter()
                        .map(|(ws, id)| (WorkspaceId::from_uuid(ws), MediaId::from_uuid(id)))
                        .collect())
                }
            }
        };
    };
}

pub(crate) use impl_media_store;
