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

pub fn router() -> Router<AppState> {
    Router::new().route("/members", get(members)).route("/members/{user_id}/role", post(change_role))
}

#[derive(askama::Template)]
#[template(path = "dashboard/members.html")]
struct MembersPage {
    nav: Option<Nav>,
    members: Vec<crier_core::Membership>,
    me: uuid::Uuid,
    roles: Vec<&'static str>,
    can_manage: bool,
}

async fn members(who: SignedIn, State(state): State<AppState>) -> Result<Response, DashError> {
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
    }))
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
