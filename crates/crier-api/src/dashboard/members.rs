//! Members and their roles. What each role may do is `Role::permits`; changing roles is itself
//! one of those permissions, and only owners make or unmake owners.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use crier_core::{Permission, Role};
use serde::Deserialize;

use super::session::{Posted, SignedIn};
use super::{DashError, Nav, render, see_other};
use crate::extract::ApiPath;
use crate::state::AppState;

/// How long an invitation link works.
const INVITATION_LIFETIME: chrono::Duration = chrono::Duration::days(7);

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/members", get(members))
        .route("/members/{user_id}/role", post(change_role))
        .route("/members/invite", post(invite))
        .route("/members/invitations/{id}/revoke", post(revoke_invitation))
}

#[derive(askama::Template)]
#[template(path = "dashboard/members.html")]
struct MembersPage {
    nav: Option<Nav>,
    members: Vec<crier_core::Membership>,
    me: uuid::Uuid,
    roles: Vec<&'static str>,
    can_manage: bool,
    invitations: Vec<crier_core::Invitation>,
    /// A link just made: shown this once.
    new_link: Option<String>,
}

async fn members(who: SignedIn, State(state): State<AppState>) -> Result<Response, DashError> {
    page(&who, &state, None).await
}

async fn page(who: &SignedIn, state: &AppState, new_link: Option<String>) -> Result<Response, DashError> {
    let members = state.store.list_members(who.session.workspace_id).await?;
    let roles = Role::ALL
        .into_iter()
        .filter(|role| *role != Role::Owner || who.role.permits(Permission::ManageOwnersAndSecurity))
        .map(Role::as_str)
        .collect();
    Ok(render(&MembersPage {
        nav: Some(who.nav()),
        members,
        me: who.user.id,
        roles,
        can_manage: who.role.permits(Permission::ManageMembers),
        invitations: if who.role.permits(Permission::ManageMembers) {
            state.store.list_invitations(who.session.workspace_id).await?
        } else {
            Vec::new()
        },
        new_link,
    }))
}

#[derive(Deserialize)]
struct InviteForm {
    email: String,
    role: String,
}

/// Makes a single-use link for `email` to join with `role`; the link is shown once (Crier keeps
/// only its hash), for the inviter to pass on.
async fn invite(
    State(state): State<AppState>,
    headers: axum::http::HeaderMap,
    posted: Posted<InviteForm>,
) -> Result<Response, DashError> {
    let who = posted.who;
    who.require(Permission::ManageMembers)?;
    let role: Role = posted
        .form
        .role
        .parse()
        .map_err(|err: crier_core::UnknownRole| DashError::BadForm(err.to_string()))?;
    if role == Role::Owner {
        who.require(Permission::ManageOwnersAndSecurity)?;
    }
    let email = posted.form.email.trim().to_ascii_lowercase();
    if !email.contains('@') || email.len() > 254 || email.chars().any(char::is_whitespace) {
        return Err(DashError::BadForm("that is not an e-mail address".into()));
    }
    let (token, token_hash) = crate::oauth::new_secret("inv_");
    let now = state.clock.now();
    let invitation = crier_core::Invitation {
        id: uuid::Uuid::now_v7(),
        token_hash,
        workspace_id: who.session.workspace_id,
        email,
        role,
        invited_by: who.user.id,
        created_at: now,
        expires_at: now + INVITATION_LIFETIME,
        accepted_at: None,
    };
    let audit =
        who.tenant.audit(now, &format!("member.invited.{role}"), format!("invitation:{}", invitation.id));
    state.store.create_invitation(&invitation, &audit).await?;
    let link = format!("{}/invite/{token}", crate::oauth::base_url(&state, &headers));
    page(&who, &state, Some(link)).await
}

async fn revoke_invitation(
    State(state): State<AppState>,
    ApiPath(id): ApiPath<uuid::Uuid>,
    posted: Posted<Vec<(String, String)>>,
) -> Result<Response, DashError> {
    let who = posted.who;
    who.require(Permission::ManageMembers)?;
    let audit = who.tenant.audit(state.clock.now(), "member.invitation_revoked", format!("invitation:{id}"));
    if !state.store.revoke_invitation(who.session.workspace_id, id, &audit).await? {
        return Err(DashError::NotFound);
    }
    Ok(see_other("/members"))
}

#[derive(Deserialize)]
struct RoleForm {
    role: String,
}

async fn change_role(
    State(state): State<AppState>,
    ApiPath(user_id): ApiPath<uuid::Uuid>,
    posted: Posted<RoleForm>,
) -> Result<Response, DashError> {
    let who = posted.who;
    who.require(Permission::ManageMembers)?;
    let role: Role = posted
        .form
        .role
        .parse()
        .map_err(|err: crier_core::UnknownRole| DashError::BadForm(err.to_string()))?;
    let workspace = who.session.workspace_id;
    let current = state.store.member_role(workspace, user_id).await?.ok_or(DashError::NotFound)?;
    if (role == Role::Owner || current == Role::Owner)
        && !who.role.permits(Permission::ManageOwnersAndSecurity)
    {
        return Err(DashError::Forbidden);
    }
    if current == Role::Owner && role != Role::Owner {
        let owners =
            state.store.list_members(workspace).await?.iter().filter(|m| m.role == Role::Owner).count();
        if owners <= 1 {
            return Err(DashError::Api(crate::ApiError::conflict(
                "a workspace keeps at least one owner: make someone else owner first",
            )));
        }
    }
    let audit = who.tenant.audit(
        state.clock.now(),
        &format!("member.role_changed.{role}"),
        format!("user:{user_id}"),
    );
    state.store.set_member_role(workspace, user_id, role, &audit).await?;
    Ok(see_other("/members"))
}
