//! Row shapes and portable SQL of the publishing pipeline (channels, posts, the queue,
//! idempotency keys, sandbox deliveries), shared by both backends like `rows`.

use crier_core::{
    AttemptId, AttemptOutcome, Channel, ChannelId, ChannelStatus, DeletionStatus, IdempotencyBegin, Post,
    PostId, PostTarget, SandboxDelivery, SecretId, StoreResult, TargetDeletion, TargetId, TargetStatus,
    WorkspaceId,
};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::types::Oid;
use sqlx::postgres::{PgTypeInfo, PgValueFormat};
use sqlx::{Decode, Encode, Postgres, Sqlite, Type, ValueRef};
use uuid::Uuid;

use crate::error::corrupt;
use crate::rows::DbTime;
use crate::rows_media::media_ids_from_json;

const JSON_OID: Oid = Oid(114);
const JSONB_OID: Oid = Oid(3802);

/// A JSON value as each backend keeps it: `jsonb` on PostgreSQL, text (checked by `json_valid`)
/// on SQLite.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct DbJson(pub serde_json::Value);

impl Type<Sqlite> for DbJson {
    fn type_info() -> <Sqlite as sqlx::Database>::TypeInfo {
        <String as Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &<Sqlite as sqlx::Database>::TypeInfo) -> bool {
        <String as Type<Sqlite>>::compatible(ty)
    }
}

impl<'r> Decode<'r, Sqlite> for DbJson {
    fn decode(value: <Sqlite as sqlx::Database>::ValueRef<'r>) -> Result<Self, BoxDynError> {
        let text = <&str as Decode<Sqlite>>::decode(value)?;
        Ok(DbJson(serde_json::from_str(text)?))
    }
}

impl<'q> Encode<'q, Sqlite> for DbJson {
    fn encode_by_ref(
        &self,
        buf: &mut <Sqlite as sqlx::Database>::ArgumentBuffer<'q>,
    ) -> Result<IsNull, BoxDynError> {
        <String as Encode<Sqlite>>::encode(self.0.to_string(), buf)
    }
}

impl Type<Postgres> for DbJson {
    fn type_info() -> PgTypeInfo {
        PgTypeInfo::with_oid(JSONB_OID)
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        matches!(ty.oid(), Some(oid) if oid == JSONB_OID || oid == JSON_OID)
    }
}

impl<'r> Decode<'r, Postgres> for DbJson {
    fn decode(value: sqlx::postgres::PgValueRef<'r>) -> Result<Self, BoxDynError> {
        let jsonb_binary =
            value.format() == PgValueFormat::Binary && value.type_info().oid() == Some(JSONB_OID);
        let mut bytes = value.as_bytes()?;
        if jsonb_binary {
            // Binary jsonb is a version byte (1) and the JSON text.
            bytes = match bytes.split_first() {
                Some((1, rest)) => rest,
                _ => return Err("unsupported jsonb binary format version".into()),
            };
        }
        Ok(DbJson(serde_json::from_slice(bytes)?))
    }
}

impl<'q> Encode<'q, Postgres> for DbJson {
    fn encode_by_ref(&self, buf: &mut sqlx::postgres::PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        // jsonb's binary input: format version 1, then the JSON text.
        buf.push(1);
        serde_json::to_writer(&mut **buf, &self.0)?;
        Ok(IsNull::No)
    }
}

pub(crate) fn db_json(value: &serde_json::Value) -> DbJson {
    DbJson(value.clone())
}

#[derive(sqlx::FromRow)]
pub(crate) struct ChannelRow {
    workspace_id: Uuid,
    id: Uuid,
    provider: String,
    name: String,
    config: DbJson,
    status: String,
    account: Option<DbJson>,
    credentials_secret_id: Option<Uuid>,
    paused_until: Option<DbTime>,
    created_at: DbTime,
}

impl ChannelRow {
    pub(crate) fn into_domain(self) -> StoreResult<Channel> {
        let status = ChannelStatus::from_db(&self.status)
            .ok_or_else(|| corrupt("channels.status holds an unknown value"))?;
        Ok(Channel {
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            id: ChannelId::from_uuid(self.id),
            provider: self.provider,
            name: self.name,
            config: self.config.0,
            status,
            account: self
                .account
                .map(|a| serde_json::from_value(a.0))
                .transpose()
                .map_err(|_| corrupt("channels.account is not an account"))?,
            credentials: self.credentials_secret_id.map(SecretId::from_uuid),
            paused_until: self.paused_until.map(|t| t.0),
            created_at: self.created_at.0,
        })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct PostRow {
    workspace_id: Uuid,
    pub(crate) id: Uuid,
    text: String,
    media: DbJson,
    scheduled_at: Option<DbTime>,
    created_at: DbTime,
}

impl PostRow {
    pub(crate) fn into_domain(self, targets: Vec<PostTarget>) -> StoreResult<Post> {
        Ok(Post {
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            id: PostId::from_uuid(self.id),
            text: self.text,
            media: media_ids_from_json(&self.media.0)?,
            scheduled_at: self.scheduled_at.map(|t| t.0),
            created_at: self.created_at.0,
            targets,
        })
    }
}

/// A target with its job's lease (NULL when it has no job or the job is not leased).
#[derive(sqlx::FromRow)]
pub(crate) struct TargetRow {
    workspace_id: Uuid,
    id: Uuid,
    post_id: Uuid,
    channel_id: Uuid,
    text: Option<String>,
    options: DbJson,
    status: String,
    run_at: DbTime,
    attempts: i32,
    lease_owner: Option<String>,
    lease_expires_at: Option<DbTime>,
    provider_post_id: Option<String>,
    url: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
    created_at: DbTime,
    updated_at: DbTime,
    published_at: Option<DbTime>,
    deletion_status: Option<String>,
    deletion_requested_at: Option<DbTime>,
    deleted_at: Option<DbTime>,
    deletion_error_code: Option<String>,
    deletion_error_message: Option<String>,
}

impl TargetRow {
    pub(crate) fn into_domain(self) -> StoreResult<PostTarget> {
        let status = TargetStatus::from_db(&self.status)
            .ok_or_else(|| corrupt("post_targets.status holds an unknown value"))?;
        let deletion = match (self.deletion_status, self.deletion_requested_at) {
            (None, _) => None,
            (Some(s), Some(requested_at)) => Some(TargetDeletion {
                status: DeletionStatus::from_db(&s)
                    .ok_or_else(|| corrupt("post_targets.deletion_status holds an unknown value"))?,
                requested_at: requested_at.0,
                deleted_at: self.deleted_at.map(|t| t.0),
                error_code: self.deletion_error_code,
                error_message: self.deletion_error_message,
            }),
            (Some(_), None) => return Err(corrupt("post_targets.deletion_requested_at is missing")),
        };
        Ok(PostTarget {
            workspace_id: WorkspaceId::from_uuid(self.workspace_id),
            id: TargetId::from_uuid(self.id),
            post_id: PostId::from_uuid(self.post_id),
            channel_id: ChannelId::from_uuid(self.channel_id),
            text: self.text,
            options: self.options.0,
            status,
            run_at: self.run_at.0,
            attempts: self.attempts,
            lease_owner: self.lease_owner,
            lease_expires_at: self.lease_expires_at.map(|t| t.0),
            provider_post_id: self.provider_post_id,
            url: self.url,
            error_code: self.error_code,
            error_message: self.error_message,
            created_at: self.created_at.0,
            updated_at: self.updated_at.0,
            published_at: self.published_at.map(|t| t.0),
            deletion,
        })
    }
}

/// A row of `publish_attempts`, for a post's timeline.
#[derive(sqlx::FromRow)]
pub(crate) struct AttemptRow {
    id: Uuid,
    target_id: Uuid,
    started_at: DbTime,
    finished_at: Option<DbTime>,
    outcome: Option<String>,
    error_code: Option<String>,
    error_message: Option<String>,
}

impl AttemptRow {
    pub(crate) fn into_domain(self) -> crier_core::PublishAttempt {
        crier_core::PublishAttempt {
            id: AttemptId::from_uuid(self.id),
            target_id: TargetId::from_uuid(self.target_id),
            started_at: self.started_at.0,
            finished_at: self.finished_at.map(|t| t.0),
            outcome: self.outcome,
            error_code: self.error_code,
            error_message: self.error_message,
        }
    }
}

pub(crate) fn targets_into_domain(rows: Vec<TargetRow>) -> StoreResult<Vec<PostTarget>> {
    rows.into_iter().map(TargetRow::into_domain).collect()
}

/// Groups targets (ordered by post id, then id) under the page's posts, dropping targets of
/// posts not on the page.
pub(crate) fn assemble_posts(posts: Vec<PostRow>, targets: Vec<TargetRow>) -> StoreResult<Vec<Post>> {
    let mut targets = targets_into_domain(targets)?;
    posts
        .into_iter()
        .map(|post| {
            let id = PostId::from_uuid(post.id);
            let (mine, rest): (Vec<_>, Vec<_>) = targets.drain(..).partition(|t| t.post_id == id);
            targets = rest;
            post.into_domain(mine)
        })
        .collect()
}

#[derive(sqlx::FromRow)]
pub(crate) struct IdempotencyRow {
    pub(crate) fingerprint: Vec<u8>,
    pub(crate) status: String,
    pub(crate) locked_until: DbTime,
    pub(crate) response_status: Option<i32>,
    pub(crate) response_body: Option<Vec<u8>>,
    pub(crate) expires_at: DbTime,
}

impl IdempotencyRow {
    /// What a stored, unexpired key with a matching fingerprint means when it is `done`.
    pub(crate) fn replay(self) -> StoreResult<IdempotencyBegin> {
        let status = self
            .response_status
            .and_then(|s| u16::try_from(s).ok())
            .ok_or_else(|| corrupt("idempotency_keys.response_status is missing or out of range"))?;
        let body = self.response_body.ok_or_else(|| corrupt("idempotency_keys.response_body is missing"))?;
        Ok(IdempotencyBegin::Done { status, body })
    }
}

#[derive(sqlx::FromRow)]
pub(crate) struct SandboxRow {
    workspace_id: Uuid,
    channel_id: Uuid,
    id: Uuid,
    target_id: Uuid,
    attempt_id: Uuid,
    text: String,
    media: DbJson,
    delivered_at: DbTime,
    deleted_at: Option<DbTime>,
}

impl SandboxRow {
    pub(crate) fn into_domain(self) -> StoreResult<SandboxDelivery> {
        let row = self;
        Ok(SandboxDelivery {
            workspace_id: WorkspaceId::from_uuid(row.workspace_id),
            channel_id: ChannelId::from_uuid(row.channel_id),
            id: row.id,
            target_id: TargetId::from_uuid(row.target_id),
            attempt_id: AttemptId::from_uuid(row.attempt_id),
            text: row.text,
            media: media_ids_from_json(&row.media.0)?,
            delivered_at: row.delivered_at.0,
            deleted_at: row.deleted_at.map(|t| t.0),
        })
    }
}

/// The columns an attempt's outcome writes: the attempt's `outcome` text, and its
/// provider post id and error fields (also the target's error fields).
pub(crate) struct OutcomeColumns<'a> {
    pub(crate) outcome: &'static str,
    pub(crate) provider_post_id: Option<&'a str>,
    pub(crate) error_code: Option<&'a str>,
    pub(crate) error_message: Option<&'a str>,
}

pub(crate) const NEEDS_REAUTH_CODE: &str = "channel_needs_reauth";
pub(crate) const UNKNOWN_CODE: &str = "outcome_unknown";
pub(crate) const RATE_LIMITED_CODE: &str = "rate_limited";

pub(crate) fn outcome_columns(outcome: &AttemptOutcome) -> OutcomeColumns<'_> {
    let columns = |outcome, provider_post_id, error_code, error_message| OutcomeColumns {
        outcome,
        provider_post_id,
        error_code,
        error_message,
    };
    match outcome {
        AttemptOutcome::Published { provider_post_id, .. } => {
            columns("published", Some(provider_post_id.as_str()), None, None)
        }
        AttemptOutcome::RetryAt { code, message, .. } => {
            columns("retry", None, Some(code.as_str()), Some(message.as_str()))
        }
        AttemptOutcome::RateLimited { .. } => columns("rate_limited", None, Some(RATE_LIMITED_CODE), None),
        AttemptOutcome::Failed { code, message } => {
            columns("failed", None, Some(code.as_str()), Some(message.as_str()))
        }
        AttemptOutcome::NeedsReauth { message } => {
            columns("needs_reauth", None, Some(NEEDS_REAUTH_CODE), Some(message.as_str()))
        }
        AttemptOutcome::Unknown { message } => {
            columns("unknown", None, Some(UNKNOWN_CODE), Some(message.as_str()))
        }
    }
}

pub(crate) mod sql {
    /// The statuses of a target not yet handed to a worker (`TargetStatus::is_waiting`).
    macro_rules! waiting {
        () => {
            "('scheduled', 'queued', 'retry_scheduled')"
        };
    }

    const CHANNEL_COLUMNS: &str = "workspace_id, id, provider, name, config, status, account, \
         credentials_secret_id, paused_until, created_at";
    pub const INSERT_CHANNEL: &str = "INSERT INTO channels (workspace_id, id, provider, name, config, status, \
         account, credentials_secret_id, paused_until, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";
    pub const CHANNEL_CREDENTIALS: &str =
        "SELECT credentials_secret_id FROM channels WHERE workspace_id = $1 AND id = $2";
    pub fn get_channel() -> String {
        format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE workspace_id = $1 AND id = $2")
    }
    /// PostgreSQL: `$2` a uuid[] (migration 0016, `crier_channels_by_ids`).
    pub fn channels_by_ids_pg() -> String {
        format!("SELECT {CHANNEL_COLUMNS} FROM crier_channels_by_ids($1, $2)")
    }
    pub fn list_channels() -> String {
        format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE workspace_id = $1 ORDER BY created_at, id")
    }
    pub const UNFINISHED_TARGETS_OF_CHANNEL: &str = "SELECT COUNT(*) FROM post_targets \
         WHERE workspace_id = $1 AND channel_id = $2 \
         AND (status NOT IN ('published', 'failed', 'cancelled', 'unknown') OR deletion_status = 'pending')";
    /// Its targets, their attempts and jobs, and its sandbox deliveries go with it (ON DELETE CASCADE).
    pub const DELETE_CHANNEL: &str = "DELETE FROM channels WHERE workspace_id = $1 AND id = $2";
    pub const PAUSE_CHANNEL: &str = "UPDATE channels SET paused_until = $3 WHERE workspace_id = $1 AND id = $2 \
         AND (paused_until IS NULL OR paused_until < $3)";
    pub const CHANNEL_NEEDS_REAUTH: &str =
        "UPDATE channels SET status = 'needs_reauth' WHERE workspace_id = $1 AND id = $2";

    /// Marks a key's response stored, only while its request is still the one under way: a
    /// second request that slipped in after an expired lock cannot also commit its create.
    pub const STORE_IDEMPOTENT_RESPONSE: &str = "UPDATE idempotency_keys SET status = 'done', \
         response_status = $3, response_body = $4 WHERE workspace_id = $1 AND key = $2 AND status = 'in_flight'";
    pub const FINISH_IDEMPOTENT: &str = "UPDATE idempotency_keys SET status = 'done', response_status = $3, \
         response_body = $4 WHERE workspace_id = $1 AND key = $2 AND status = 'in_flight'";
    pub const INSERT_IDEMPOTENCY_KEY: &str = "INSERT INTO idempotency_keys (workspace_id, key, fingerprint, \
         status, locked_until, created_at, expires_at) VALUES ($1, $2, $3, 'in_flight', $4, $5, $6) \
         ON CONFLICT (workspace_id, key) DO NOTHING";
    pub const GET_IDEMPOTENCY_KEY: &str = "SELECT fingerprint, status, locked_until, response_status, \
         response_body, expires_at FROM idempotency_keys WHERE workspace_id = $1 AND key = $2";
    /// Replaces an expired key ($5 = now) with a fresh claim.
    pub const REPLACE_EXPIRED_KEY: &str = "UPDATE idempotency_keys SET fingerprint = $3, status = 'in_flight', \
         locked_until = $4, response_status = NULL, response_body = NULL, created_at = $5, expires_at = $6 \
         WHERE workspace_id = $1 AND key = $2 AND expires_at <= $5";
    /// Takes over an in-flight key whose lock ran out ($4 = now).
    pub const RELOCK_KEY: &str = "UPDATE idempotency_keys SET locked_until = $3 WHERE workspace_id = $1 \
         AND key = $2 AND status = 'in_flight' AND locked_until <= $4 AND expires_at > $4 AND fingerprint = $5";
    pub const ABANDON_KEY: &str =
        "DELETE FROM idempotency_keys WHERE workspace_id = $1 AND key = $2 AND status = 'in_flight'";

    pub const INSERT_POST_HEAD: &str =
        "INSERT INTO posts (workspace_id, id, text, media, scheduled_at, created_at) ";
    pub const INSERT_POST: &str = "INSERT INTO posts (workspace_id, id, text, media, scheduled_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)";
    /// Multi-row inserts: `QueryBuilder::push_values` appends the `VALUES (…), (…)` part.
    pub const INSERT_TARGETS_HEAD: &str = "INSERT INTO post_targets (workspace_id, id, post_id, channel_id, text, \
         options, status, run_at, attempts, provider_post_id, url, error_code, error_message, created_at, \
         updated_at, published_at) ";
    pub const INSERT_JOBS_HEAD: &str = "INSERT INTO jobs (workspace_id, target_id, channel_id, run_at) ";
    pub const GET_POST: &str = "SELECT workspace_id, id, text, media, scheduled_at, created_at FROM posts WHERE workspace_id = $1 AND id = $2";
    /// Newest first; $2 = before, $3 = status, $4 = channel (each optional), $5 = limit. With a
    /// status and a channel, one target must match both.
    pub const LIST_POSTS: &str = "SELECT workspace_id, id, text, media, scheduled_at, created_at FROM posts p \
         WHERE p.workspace_id = $1 AND ($2 IS NULL OR p.id < $2) \
         AND (($3 IS NULL AND $4 IS NULL) OR EXISTS (SELECT 1 FROM post_targets t \
             WHERE t.workspace_id = p.workspace_id AND t.post_id = p.id \
             AND ($3 IS NULL OR t.status = $3) AND ($4 IS NULL OR t.channel_id = $4))) \
         AND ($6 IS NULL OR COALESCE(p.scheduled_at, p.created_at) >= $6) \
         AND ($7 IS NULL OR COALESCE(p.scheduled_at, p.created_at) < $7) \
         ORDER BY p.id DESC LIMIT $5";

    macro_rules! select_targets {
        ($tail:literal) => {
            concat!(
                "SELECT t.workspace_id, t.id, t.post_id, t.channel_id, t.text, t.options, t.status, t.run_at, \
                 t.attempts, j.lease_owner, j.lease_expires_at, t.provider_post_id, t.url, t.error_code, \
                 t.error_message, t.created_at, t.updated_at, t.published_at, t.deletion_status, \
                 t.deletion_requested_at, t.deleted_at, t.deletion_error_code, t.deletion_error_message \
                 FROM post_targets t \
                 LEFT JOIN jobs j ON j.workspace_id = t.workspace_id AND j.target_id = t.id ",
                $tail
            )
        };
    }
    /// The attempts at a post's targets, oldest first.
    pub const ATTEMPTS_OF_POST: &str = "SELECT a.id, a.target_id, a.started_at, a.finished_at, a.outcome, \
         a.error_code, a.error_message FROM publish_attempts a JOIN post_targets t \
         ON t.workspace_id = a.workspace_id AND t.id = a.target_id \
         WHERE a.workspace_id = $1 AND t.post_id = $2 ORDER BY a.started_at, a.id";
    pub const TARGETS_OF_POST: &str =
        select_targets!("WHERE t.workspace_id = $1 AND t.post_id = $2 ORDER BY t.id");
    /// The targets of the posts with ids in [$2, $3], for a page of `list_posts`.
    pub const TARGETS_OF_POST_RANGE: &str =
        select_targets!("WHERE t.workspace_id = $1 AND t.post_id BETWEEN $2 AND $3 ORDER BY t.post_id, t.id");
    pub const GET_TARGET: &str = select_targets!("WHERE t.workspace_id = $1 AND t.id = $2");
    /// PostgreSQL only (`= ANY` of an array): the targets with ids in $2.
    pub const PG_TARGETS_BY_IDS: &str = select_targets!("WHERE t.workspace_id = $1 AND t.id = ANY($2)");
    /// PostgreSQL only: the channels with ids in $2.
    pub fn pg_channels_by_ids() -> String {
        format!("SELECT {CHANNEL_COLUMNS} FROM channels WHERE workspace_id = $1 AND id = ANY($2)")
    }
    pub const POST_TEXT_OF_TARGET: &str = "SELECT p.text, p.media FROM posts p JOIN post_targets t \
         ON t.workspace_id = p.workspace_id AND t.post_id = p.id WHERE t.workspace_id = $1 AND t.id = $2";
    pub const TARGET_STATUS: &str = "SELECT status FROM post_targets WHERE workspace_id = $1 AND id = $2";

    /// Drops the jobs of the post's waiting targets that no worker has leased.
    pub const DELETE_CANCELLABLE_JOBS: &str = concat!(
        "DELETE FROM jobs WHERE workspace_id = $1 AND lease_owner IS NULL AND target_id IN \
         (SELECT id FROM post_targets WHERE workspace_id = $1 AND post_id = $2 AND status IN ",
        waiting!(),
        ") RETURNING target_id"
    );
    pub const CANCEL_TARGET: &str = concat!(
        "UPDATE post_targets SET status = 'cancelled', updated_at = $3 \
         WHERE workspace_id = $1 AND id = $2 AND status IN ",
        waiting!()
    );

    /// Requeues a target ($4: the statuses it may be in, `failed` and maybe `unknown`) with a fresh
    /// attempt budget, due at $5 ($6 = now).
    pub const RETRY_TARGET: &str = "UPDATE post_targets SET status = 'queued', attempts = 0, run_at = $5, \
         error_code = NULL, error_message = NULL, updated_at = $6 \
         WHERE workspace_id = $1 AND id = $2 AND post_id = $3 AND (status = 'failed' OR status = $4) \
         RETURNING channel_id";
    pub const TARGET_STATUS_IN_POST: &str =
        "SELECT status FROM post_targets WHERE workspace_id = $1 AND id = $2 AND post_id = $3";
    pub const INSERT_JOB: &str =
        "INSERT INTO jobs (workspace_id, target_id, channel_id, run_at) VALUES ($1, $2, $3, $4)";

    /// Locks the job row (PostgreSQL) and checks `$3` holds its lease: a no-op write.
    /// The lease must be held AND unexpired: a worker whose lease ran out (a long pause, say)
    /// may no longer start an attempt that a recoverer may already be handling.
    pub const CHECK_LEASE: &str = "UPDATE jobs SET lease_owner = $3 \
         WHERE workspace_id = $1 AND target_id = $2 AND lease_owner = $3 AND lease_expires_at > $4 \
         RETURNING channel_id";
    pub const START_TARGET: &str = concat!(
        "UPDATE post_targets SET status = 'publishing', attempts = attempts + 1, updated_at = $3 \
         WHERE workspace_id = $1 AND id = $2 AND status IN ",
        waiting!()
    );
    pub const INSERT_ATTEMPT: &str =
        "INSERT INTO publish_attempts (workspace_id, id, target_id, started_at) VALUES ($1, $2, $3, $4)";
    pub const OPEN_ATTEMPT: &str = "SELECT id FROM publish_attempts \
         WHERE workspace_id = $1 AND target_id = $2 AND outcome IS NULL ORDER BY started_at DESC, id DESC LIMIT 1";
    /// Closes an attempt, only once ($8 = its target).
    pub const FINISH_ATTEMPT: &str = "UPDATE publish_attempts SET outcome = $3, finished_at = $4, \
         provider_post_id = $5, error_code = $6, error_message = $7 \
         WHERE workspace_id = $1 AND id = $2 AND target_id = $8 AND outcome IS NULL";
    pub const TARGET_PUBLISHED: &str = "UPDATE post_targets SET status = 'published', provider_post_id = $3, \
         url = $4, published_at = $5, updated_at = $5, error_code = NULL, error_message = NULL \
         WHERE workspace_id = $1 AND id = $2";
    /// Ends (failed/unknown) or reschedules (retry_scheduled, $7 = run_at) a target.
    pub const TARGET_OUTCOME: &str = "UPDATE post_targets SET status = $3, error_code = $4, error_message = $5, \
         updated_at = $6, run_at = COALESCE($7, run_at) WHERE workspace_id = $1 AND id = $2";
    /// Rate limited: queued again at $3, and the attempt does not count.
    pub const TARGET_RATE_LIMITED: &str = "UPDATE post_targets SET status = 'queued', run_at = $3, \
         attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END, updated_at = $4 \
         WHERE workspace_id = $1 AND id = $2";
    pub const REQUEUE_TARGET: &str = "UPDATE post_targets SET status = 'queued', updated_at = $3 \
         WHERE workspace_id = $1 AND id = $2 AND status = 'publishing'";
    /// The channel's other targets with an unleased job, not before $4.
    pub const PUSH_BACK_CHANNEL_TARGETS: &str = "UPDATE post_targets SET run_at = $4, updated_at = $5 \
         WHERE workspace_id = $1 AND channel_id = $2 AND id <> $3 AND run_at < $4 \
         AND EXISTS (SELECT 1 FROM jobs j WHERE j.workspace_id = post_targets.workspace_id \
             AND j.target_id = post_targets.id AND j.lease_owner IS NULL)";
    pub const PUSH_BACK_CHANNEL_JOBS: &str = "UPDATE jobs SET run_at = $4 WHERE workspace_id = $1 \
         AND channel_id = $2 AND target_id <> $3 AND lease_owner IS NULL AND run_at < $4";

    pub const DELETE_JOB: &str = "DELETE FROM jobs WHERE workspace_id = $1 AND target_id = $2";
    /// Releases a job, due again at $3 (NULL: keeps its run_at).
    pub const RELEASE_JOB: &str = "UPDATE jobs SET run_at = COALESCE($3, run_at), lease_owner = NULL, \
         lease_expires_at = NULL WHERE workspace_id = $1 AND target_id = $2";
    pub const EXTEND_LEASE: &str = "UPDATE jobs SET lease_expires_at = $4 \
         WHERE workspace_id = $1 AND target_id = $2 AND lease_owner = $3";
    pub const EXPIRED_JOBS: &str = "SELECT workspace_id, target_id FROM jobs \
         WHERE lease_owner IS NOT NULL AND lease_expires_at < $1 ORDER BY lease_expires_at LIMIT $2";
    /// Takes an expired lease ($4 = now) for $3 until $5.
    pub const TAKE_EXPIRED_LEASE: &str = "UPDATE jobs SET lease_owner = $3, lease_expires_at = $5 \
         WHERE workspace_id = $1 AND target_id = $2 AND lease_owner IS NOT NULL AND lease_expires_at < $4";
    /// Releases $1's leases on jobs with no open attempt (in workspace $2, if given). On
    /// PostgreSQL it must run in $2's tenant transaction, where its attempts are visible.
    pub const RELEASE_OWNER_LEASES: &str = "UPDATE jobs SET lease_owner = NULL, lease_expires_at = NULL \
         WHERE lease_owner = $1 AND ($2 IS NULL OR workspace_id = $2) \
         AND NOT EXISTS (SELECT 1 FROM publish_attempts a WHERE a.workspace_id = jobs.workspace_id \
             AND a.target_id = jobs.target_id AND a.outcome IS NULL)";
    pub const NEXT_DUE: &str = "SELECT MIN(run_at) FROM jobs WHERE lease_owner IS NULL";

    /// Marks a sandbox delivery deleted ($4 = now), keeping the first time.
    pub const DELETE_SANDBOX_DELIVERY: &str = "UPDATE sandbox_deliveries SET deleted_at = COALESCE(deleted_at, $4) \
         WHERE workspace_id = $1 AND channel_id = $2 AND id = $3";

    /// A published target not deleted nor being deleted ($3 = post) is asked to be ($4 = now).
    pub const REQUEST_DELETION: &str = "UPDATE post_targets SET deletion_status = 'pending', \
         deletion_requested_at = $4, deleted_at = NULL, deletion_error_code = NULL, deletion_error_message = NULL, \
         updated_at = $4 WHERE workspace_id = $1 AND id = $2 AND post_id = $3 AND status = 'published' \
         AND (deletion_status IS NULL OR deletion_status = 'failed') RETURNING channel_id";
    pub const DELETION_STATE: &str = "SELECT status, deletion_status FROM post_targets \
         WHERE workspace_id = $1 AND id = $2 AND post_id = $3";
    pub const INSERT_DELETION_JOB: &str =
        "INSERT INTO deletion_jobs (workspace_id, target_id, channel_id, run_at) VALUES ($1, $2, $3, $4)";
    /// Counts an attempt of a deletion job $3 holds ($4 = now). Returns the new count.
    pub const START_DELETION_JOB: &str = "UPDATE deletion_jobs SET attempts = attempts + 1 \
         WHERE workspace_id = $1 AND target_id = $2 AND lease_owner = $3 AND lease_expires_at > $4 \
         RETURNING attempts";
    pub const DELETION_STATUS: &str =
        "SELECT deletion_status FROM post_targets WHERE workspace_id = $1 AND id = $2";
    pub const DELETE_DELETION_JOB: &str =
        "DELETE FROM deletion_jobs WHERE workspace_id = $1 AND target_id = $2";
    /// Releases a deletion job $3 holds, due again at $4.
    pub const RELEASE_DELETION_JOB: &str = "UPDATE deletion_jobs SET run_at = $4, lease_owner = NULL, \
         lease_expires_at = NULL WHERE workspace_id = $1 AND target_id = $2 AND lease_owner = $3";
    pub const HOLDS_DELETION_JOB: &str = "SELECT attempts FROM deletion_jobs \
         WHERE workspace_id = $1 AND target_id = $2 AND lease_owner = $3";
    /// The end of a deletion: $3 = its status, $4 = deleted_at, $5, $6 = error ($7 = now).
    pub const TARGET_DELETION_OUTCOME: &str = "UPDATE post_targets SET deletion_status = $3, deleted_at = $4, \
         deletion_error_code = $5, deletion_error_message = $6, updated_at = $7 \
         WHERE workspace_id = $1 AND id = $2 AND deletion_status = 'pending'";

    pub const INSERT_SANDBOX_DELIVERY: &str = "INSERT INTO sandbox_deliveries (workspace_id, channel_id, id, \
         target_id, attempt_id, text, media, delivered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
    pub const LIST_SANDBOX_DELIVERIES: &str = "SELECT workspace_id, channel_id, id, target_id, attempt_id, text, \
         media, delivered_at, deleted_at FROM sandbox_deliveries WHERE workspace_id = $1 AND channel_id = $2 \
         AND ($3 IS NULL OR target_id = $3) ORDER BY delivered_at, id";
}

/// The one workspace of `deliveries` (`None` when there are none), or `NotFound` when they
/// belong to several: a batch is recorded in one workspace's scope.
pub(crate) fn one_workspace(
    deliveries: &[crier_core::SandboxDelivery],
) -> crier_core::StoreResult<Option<crier_core::WorkspaceId>> {
    let Some(first) = deliveries.first() else { return Ok(None) };
    if deliveries.iter().any(|d| d.workspace_id != first.workspace_id) {
        return Err(crier_core::StoreError::NotFound);
    }
    Ok(Some(first.workspace_id))
}
