//! The MCP tools and resources. Each tool calls the REST handler of the same operation, so an
//! agent gets exactly the validation, idempotency, scopes and errors a REST caller gets; a
//! failure comes back as a tool error carrying the problem document (with its JSON pointers), which
//! an agent can read and act on.

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Request, header};
use axum::response::{IntoResponse, Response};
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, ListResourcesResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ReadResourceResult, Resource, ResourceContents, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::Deserialize;

use std::sync::Arc;

use crier_core::RequestOrigin;
use zeroize::Zeroizing;

use crate::error::ApiError;
use crate::extract::{ApiJson, ApiPath, ApiQuery, OptionalJson, Tenant};
use crate::routes::{channels, events, media, post_targets, posts};
use crate::state::AppState;

const LIMITS_PREFIX: &str = "crier://channels/";
const LIMITS_SUFFIX: &str = "/limits";

/// The MCP server. Over HTTP the caller comes with each request (the `Tenant` the authentication
/// layer put in its extensions); over stdio it is the API key given at start, checked again at
/// every call so that a revoked or expired key stops working mid-session.
#[derive(Clone)]
pub struct CrierMcp {
    state: AppState,
    stdio_key: Option<Arc<Zeroizing<String>>>,
    tool_router: ToolRouter<Self>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct CreatePostArgs {
    #[serde(flatten)]
    pub post: posts::PostIn,
    /// Makes retries safe: the same key and arguments return the first answer instead of posting
    /// twice. Use a new random key (a UUID) for each distinct post.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct PostIdArgs {
    /// The post's id (`post_…`), as `create_post` returned it.
    pub post_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct RetryTargetArgs {
    /// The post's id (`post_…`).
    pub post_id: String,
    /// The target's id (`tgt_…`), as get_post lists it.
    pub target_id: String,
    /// Required to retry a target in `unknown`: its last attempt may have published, so a retry
    /// may publish twice. Ask the person first.
    #[serde(default)]
    pub confirm_unknown: bool,
    /// Makes retries safe, as for `create_post`.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct TargetArgs {
    /// The post's id (`post_…`).
    pub post_id: String,
    /// The target's id (`tgt_…`), as get_post lists it.
    pub target_id: String,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListPostsArgs {
    /// Only posts with a target in this state (scheduled, queued, publishing, published,
    /// retry_scheduled, failed, cancelled, unknown).
    pub status: Option<String>,
    /// Only posts with a target on this channel.
    pub channel_id: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Only posts due (scheduled for, or created at when not scheduled) at or after this time.
    pub due_from: Option<chrono::DateTime<chrono::Utc>>,
    /// Only posts due before this time.
    pub due_until: Option<chrono::DateTime<chrono::Utc>>,
    /// 1 to 100 (default 20).
    pub limit: Option<i64>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct UploadMediaArgs {
    /// A public `https` URL of an image (PNG, JPEG, GIF, WebP) or video (MP4, MOV), up to 100 MiB.
    pub url: String,
    /// A description for people who cannot see it.
    pub alt_text: Option<String>,
    /// Check the file against these channels' media rules now.
    #[serde(default)]
    pub channel_ids: Vec<String>,
    /// Makes retries safe, as for `create_post`.
    pub idempotency_key: Option<String>,
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ListEventsArgs {
    /// `next_cursor` of the previous page; omit to start at the beginning.
    pub cursor: Option<String>,
    /// 1 to 200 (default 50).
    pub limit: Option<i64>,
}

/// A REST answer as a tool result: the JSON body, flagged as an error unless it succeeded.
async fn tool_result(response: Response) -> Result<CallToolResult, ErrorData> {
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), 16 * 1024 * 1024)
        .await
        .map_err(|err| ErrorData::internal_error(err.to_string(), None))?;
    let body: serde_json::Value = if bytes.is_empty() {
        serde_json::json!({ "status": status.as_u16() })
    } else {
        serde_json::from_slice(&bytes).map_err(|err| ErrorData::internal_error(err.to_string(), None))?
    };
    Ok(if status.is_success() {
        CallToolResult::structured(body)
    } else {
        CallToolResult::structured_error(body)
    })
}

fn answer<T: IntoResponse>(result: Result<T, ApiError>) -> Response {
    match result {
        Ok(ok) => ok.into_response(),
        Err(err) => err.into_response(),
    }
}

fn idempotency_headers(key: Option<&str>) -> Result<HeaderMap, ErrorData> {
    let mut headers = HeaderMap::new();
    if let Some(key) = key {
        let value = HeaderValue::from_str(key)
            .map_err(|_| ErrorData::invalid_params("idempotency_key must be printable ASCII", None))?;
        headers.insert("idempotency-key", value);
    }
    Ok(headers)
}

fn id_path<T: std::str::FromStr>(raw: &str) -> Result<ApiPath<T>, ApiError> {
    raw.parse().map(ApiPath).map_err(|_| ApiError::not_found("post"))
}

#[tool_router]
impl CrierMcp {
    /// The server for HTTP requests (each authenticated on its own).
    pub fn for_http(state: AppState) -> Self {
        Self { state, stdio_key: None, tool_router: Self::tool_router() }
    }

    /// The server for one local agent on stdio, acting with `key`.
    pub fn for_stdio(state: AppState, key: String) -> Self {
        Self { state, stdio_key: Some(Arc::new(Zeroizing::new(key))), tool_router: Self::tool_router() }
    }

    async fn tenant(&self, context: &RequestContext<RoleServer>) -> Result<Tenant, ErrorData> {
        if let Some(key) = &self.stdio_key {
            let origin = RequestOrigin { ip: None, user_agent: Some("crier mcp --stdio".into()) };
            return Tenant::authenticate(&self.state, key, origin).await.map_err(|err| tool_error(&err));
        }
        context
            .extensions
            .get::<http::request::Parts>()
            .and_then(|parts| parts.extensions.get::<Tenant>())
            .cloned()
            .ok_or_else(|| ErrorData::invalid_request("not authenticated", None))
    }

    #[tool(description = "List the workspace's channels (the accounts posts can go to): id, provider, \
                       name, status. Use a channel's id as `channel_id` in create_post; read \
                       crier://channels/{id}/limits for its text and media limits.")]
    async fn list_channels(&self, context: RequestContext<RoleServer>) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context).await?;
        tool_result(answer(channels::list_channels(tenant, State(self.state.clone())).await)).await
    }

    #[tool(description = "Publish a post to one or more channels, now or at `scheduled_at` (RFC 3339). \
                       The arguments are the body of POST /v1/posts plus `idempotency_key`. Every \
                       target is checked against its platform's limits first; on failure the \
                       result is a problem document whose `errors[].pointer` names each field to \
                       fix, and nothing is posted. On success the post's id and each target's \
                       status; follow it with get_post.")]
    async fn create_post(
        &self,
        Parameters(args): Parameters<CreatePostArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context).await?;
        let headers = idempotency_headers(args.idempotency_key.as_deref())?;
        let response =
            answer(posts::create_post(tenant, State(self.state.clone()), headers, ApiJson(args.post)).await);
        tool_result(response).await
    }

    #[tool(description = "Show a post and each target's state (scheduled, queued, publishing, published \
                       with its URL, retry_scheduled, failed with an error code and message, \
                       cancelled, unknown).")]
    async fn get_post(
        &self,
        Parameters(args): Parameters<PostIdArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context).await?;
        let response = match id_path(&args.post_id) {
            Ok(id) => answer(posts::get_post(tenant, State(self.state.clone()), id).await),
            Err(err) => err.into_response(),
        };
        tool_result(response).await
    }

    #[tool(
        description = "List posts, newest first, optionally by target status, channel or due time (`due_from`/`due_until`, RFC 3339); pages with `cursor`."
    )]
    async fn list_posts(
        &self,
        Parameters(args): Parameters<ListPostsArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context).await?;
        let query = posts::PostListQuery {
            status: args.status,
            channel_id: args.channel_id,
            cursor: args.cursor,
            due_from: args.due_from,
            due_until: args.due_until,
            limit: args.limit,
        };
        tool_result(answer(posts::list_posts(tenant, State(self.state.clone()), ApiQuery(query)).await)).await
    }

    #[tool(description = "Cancel a post: stops every target that has not started publishing, and says \
                       which targets could not be stopped (already publishing or finished).")]
    async fn cancel_post(
        &self,
        Parameters(args): Parameters<PostIdArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context).await?;
        let response = match id_path(&args.post_id) {
            Ok(id) => answer(posts::cancel_post(tenant, State(self.state.clone()), id).await),
            Err(err) => err.into_response(),
        };
        tool_result(response).await
    }

    #[tool(description = "Retry a post's target that failed (status `failed`), with a fresh attempt \
                       budget; it is queued again and published like a new post. A target in \
                       `unknown` may already be published: retry it only with confirm_unknown, \
                       once the person accepts a possible duplicate. Other states are refused (409).")]
    async fn retry_target(
        &self,
        Parameters(args): Parameters<RetryTargetArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context).await?;
        let headers = idempotency_headers(args.idempotency_key.as_deref())?;
        let ids = match (args.post_id.parse(), args.target_id.parse()) {
            (Ok(post), Ok(target)) => Ok(ApiPath((post, target))),
            _ => Err(ApiError::not_found("post target")),
        };
        let response = match ids {
            Ok(ids) => {
                let input = post_targets::RetryIn { confirm_unknown: args.confirm_unknown };
                let state = State(self.state.clone());
                answer(
                    post_targets::retry_target(tenant, state, headers, ids, OptionalJson(Some(input))).await,
                )
            }
            Err(err) => err.into_response(),
        };
        tool_result(response).await
    }

    #[tool(description = "Delete a published target's post from its platform (it cannot be undone: ask \
                       the person first). Crier's worker deletes it; get_post then shows the target's \
                       `deletion` as `deleted` or `failed`. Refused (422) on platforms without \
                       deletion, 409 unless the target is published and not already deleted.")]
    async fn delete_publication(
        &self,
        Parameters(args): Parameters<TargetArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context).await?;
        let response = match (args.post_id.parse(), args.target_id.parse()) {
            (Ok(post), Ok(target)) => answer(
                post_targets::delete_publication(tenant, State(self.state.clone()), ApiPath((post, target)))
                    .await,
            ),
            _ => ApiError::not_found("post target").into_response(),
        };
        tool_result(response).await
    }

    #[tool(description = "Fetch an image or video from a public https URL and store it for posts. The \
                       type is read from the bytes; dimensions and duration are returned. Put the \
                       returned `id` in create_post's `media`.")]
    async fn upload_media_from_url(
        &self,
        Parameters(args): Parameters<UploadMediaArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context).await?;
        let body = serde_json::json!({ "url": args.url, "alt_text": args.alt_text, "channel_ids": args.channel_ids });
        let mut request = Request::new(Body::from(body.to_string()));
        *request.headers_mut() = idempotency_headers(args.idempotency_key.as_deref())?;
        request.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        tool_result(answer(media::create_media(tenant, State(self.state.clone()), request).await)).await
    }

    #[tool(description = "Read the workspace's event log (post.published, post.failed, …) in order; \
                       pass the returned `next_cursor` to read on.")]
    async fn list_events(
        &self,
        Parameters(args): Parameters<ListEventsArgs>,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let tenant = self.tenant(&context).await?;
        let query = events::EventQuery { cursor: args.cursor, limit: args.limit };
        tool_result(answer(events::list_events(tenant, State(self.state.clone()), ApiQuery(query)).await))
            .await
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for CrierMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().enable_resources().build())
            .with_instructions(
                "Crier publishes posts to the social accounts and inboxes connected to this \
                 workspace. list_channels, then create_post (with an idempotency_key), then \
                 get_post until each target is published or failed. Each channel's limits are \
                 the resource crier://channels/{id}/limits.",
            )
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let tenant = self.tenant(&context).await?;
        tenant.require(crier_core::Scope::ChannelsRead).map_err(|err| tool_error(&err))?;
        let channels = self
            .state
            .store
            .list_channels(tenant.workspace_id)
            .await
            .map_err(|err| ErrorData::internal_error(err.to_string(), None))?;
        let resources = channels
            .iter()
            .map(|channel| {
                Resource::new(
                    format!("{LIMITS_PREFIX}{}{LIMITS_SUFFIX}", channel.id),
                    format!("{} limits", channel.name),
                )
                .with_description(format!(
                    "Text and media limits of the {} channel {:?}, checked when a post is accepted",
                    channel.provider, channel.name
                ))
                .with_mime_type("application/json")
            })
            .collect();
        Ok(ListResourcesResult::with_all_items(resources))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let tenant = self.tenant(&context).await?;
        tenant.require(crier_core::Scope::ChannelsRead).map_err(|err| tool_error(&err))?;
        let not_found = || ErrorData::resource_not_found(format!("no resource {}", request.uri), None);
        let id = request
            .uri
            .strip_prefix(LIMITS_PREFIX)
            .and_then(|rest| rest.strip_suffix(LIMITS_SUFFIX))
            .and_then(|id| id.parse().ok())
            .ok_or_else(not_found)?;
        let channel = self.state.store.get_channel(tenant.workspace_id, id).await.map_err(|_| not_found())?;
        let provider = self.state.providers.get(&channel.provider).ok_or_else(not_found)?;
        let limits = serde_json::json!({
            "channel_id": channel.id.to_string(),
            "provider": channel.provider,
            "text": provider.text_limit(&channel),
            "media": provider.media_rules(&channel),
        });
        let contents = ResourceContents::text(limits.to_string(), request.uri.clone())
            .with_mime_type("application/json");
        Ok(ReadResourceResult::new(vec![contents]).into())
    }
}

/// An API error where the protocol wants a JSON-RPC error (resources), with its problem document.
fn tool_error(err: &ApiError) -> ErrorData {
    let problem = err.problem();
    ErrorData::invalid_request(problem.detail.clone(), serde_json::to_value(&problem).ok())
}
