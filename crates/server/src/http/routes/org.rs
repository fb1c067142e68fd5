//! `/api/org/*`: the caller's organization's members and invitations (api.md §12).

use axum::extract::{Path, State};
use garde::Validate;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::UserOut;
use crate::domain::ids::UserId;
use crate::domain::{OrgRole, format_ms};
use crate::error::AppResult;
use crate::http::envelope::{Envelope, ok};
use crate::http::extract::{UserJwt, ValidatedJson};
use crate::http::state::AppState;
use crate::services::team;
use crate::store::{Invitation, User};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(members))
        .routes(routes!(remove_member))
        .routes(routes!(invite, invitations))
        .routes(routes!(revoke_invitation))
        .routes(routes!(accept))
}

/// A member of the organization.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MemberOut {
    pub user_id: String,
    pub email: String,
    pub full_name: String,
    pub org_role: OrgRole,
    pub status: crate::domain::UserStatus,
    pub joined_at: String,
}

fn member_out(u: User) -> MemberOut {
    MemberOut {
        user_id: u.id.into(),
        email: u.email,
        full_name: u.full_name,
        org_role: u.org_role.unwrap_or(OrgRole::Member),
        status: u.status,
        joined_at: format_ms(u.created_at),
    }
}

/// An invitation (its link is only in the mail).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationOut {
    #[schema(example = "inv_01jf3k9x6q7t1v2w3y4z5a6b7c")]
    pub invitation_id: String,
    pub organization_id: String,
    pub email: String,
    pub org_role: OrgRole,
    pub invited_by: String,
    pub created_at: String,
    pub expires_at: String,
}

fn invitation_out(i: Invitation) -> InvitationOut {
    InvitationOut {
        invitation_id: i.id,
        organization_id: i.organization_id.into(),
        email: i.email,
        org_role: i.org_role,
        invited_by: i.invited_by,
        created_at: format_ms(i.created_at),
        expires_at: format_ms(i.expires_at),
    }
}

/// A new invitation.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InvitationIn {
    #[garde(length(min = 3, max = 254))]
    #[schema(example = "colleague@example.com", min_length = 3, max_length = 254)]
    pub email: String,
    /// `owner` or `member` (default `member`).
    #[garde(skip)]
    #[serde(default = "member")]
    pub role: OrgRole,
}

fn member() -> OrgRole {
    OrgRole::Member
}

/// An invitation's token, from its mail.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AcceptIn {
    #[garde(length(min = 1, max = 256))]
    #[schema(min_length = 1, max_length = 256)]
    pub token: String,
}

/// The organization's members, owners first.
#[utoipa::path(get, path = "/api/org/members", tag = "organization", security(("jwt" = [])),
    responses((status = 200, body = Envelope<Vec<MemberOut>>), (status = 403, description = "Not a business account in an organization")))]
async fn members(State(state): State<AppState>, caller: UserJwt) -> AppResult<Envelope<Vec<MemberOut>>> {
    Ok(ok(team::members(&state, &caller).await?.into_iter().map(member_out).collect()))
}

/// Remove a member (owners), or leave (anyone, with their own id). The last owner cannot leave.
#[utoipa::path(delete, path = "/api/org/members/{userId}", tag = "organization", security(("jwt" = [])),
    params(("userId" = String, Path, description = "The member's user id")),
    responses((status = 200, body = Envelope<serde_json::Value>, description = "`data` is null"),
        (status = 403, description = "Only owners remove others"), (status = 404, description = "No such member"),
        (status = 422, description = "The last owner cannot leave")))]
async fn remove_member(
    State(state): State<AppState>,
    caller: UserJwt,
    Path(user_id): Path<UserId>,
) -> AppResult<Envelope<()>> {
    team::remove_member(&state, &caller, &user_id).await?;
    Ok(Envelope { success: true, data: None, error: None, metadata: None })
}

/// Invite someone by email (owners). The link is mailed and works for 7 days.
#[utoipa::path(post, path = "/api/org/invitations", tag = "organization", security(("jwt" = [])), request_body = InvitationIn,
    responses((status = 200, body = Envelope<InvitationOut>), (status = 403, description = "Only owners invite"),
        (status = 422, description = "Validation failed or already a member")))]
async fn invite(
    State(state): State<AppState>,
    caller: UserJwt,
    ValidatedJson(b): ValidatedJson<InvitationIn>,
) -> AppResult<Envelope<InvitationOut>> {
    Ok(ok(invitation_out(team::invite(&state, &caller, &b.email, b.role).await?)))
}

/// Pending invitations (not accepted, withdrawn or expired), newest first.
#[utoipa::path(get, path = "/api/org/invitations", tag = "organization", security(("jwt" = [])),
    responses((status = 200, body = Envelope<Vec<InvitationOut>>)))]
async fn invitations(
    State(state): State<AppState>,
    caller: UserJwt,
) -> AppResult<Envelope<Vec<InvitationOut>>> {
    Ok(ok(team::invitations(&state, &caller).await?.into_iter().map(invitation_out).collect()))
}

/// Withdraw a pending invitation (owners): its link stops working.
#[utoipa::path(delete, path = "/api/org/invitations/{id}", tag = "organization", security(("jwt" = [])),
    params(("id" = String, Path, description = "Invitation id (`inv_…`)")),
    responses((status = 200, body = Envelope<serde_json::Value>, description = "`data` is null"),
        (status = 404, description = "No such pending invitation")))]
async fn revoke_invitation(
    State(state): State<AppState>,
    caller: UserJwt,
    Path(id): Path<String>,
) -> AppResult<Envelope<()>> {
    team::revoke_invitation(&state, &caller, &id).await?;
    Ok(Envelope { success: true, data: None, error: None, metadata: None })
}

/// Join the organization of an invitation sent to the caller's address (a signed-in business
/// account; the last owner of another organization with members must hand it over first).
#[utoipa::path(post, path = "/api/org/invitations/accept", tag = "organization", security(("jwt" = [])), request_body = AcceptIn,
    responses((status = 200, body = Envelope<UserOut>), (status = 403, description = "Not a business account"),
        (status = 422, description = "Invalid, used or expired invitation, or one for another address")))]
async fn accept(
    State(state): State<AppState>,
    caller: UserJwt,
    ValidatedJson(b): ValidatedJson<AcceptIn>,
) -> AppResult<Envelope<UserOut>> {
    Ok(ok(team::accept(&state, &caller, &b.token).await?.into()))
}
