//! `GET /api/me`: who the citizen is and what the portal holds of their
//! profile.

use axum::Json;
use axum::extract::State;
use portal_security::{AccessEntry, AccessOutcome, Action, Actor, Citizen};
use serde::Serialize;
use utoipa::ToSchema;

use super::{LevelOfAssurance, Shared};
use crate::IdentityError;
use crate::profile::{self, Profile};

/// The logged-in citizen.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyData {
    /// The citizen's pseudonym from the identity provider (URL-encoded).
    #[schema(example = "DEMO%2Fjana-novakova")]
    pub subject: String,
    pub loa: LevelOfAssurance,
    /// What the identity provider said of the citizen at the last login.
    pub profile: Profile,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "Me";

/// The citizen's profile; every look is in the access log, a failed one too.
#[utoipa::path(
    get,
    path = "/api/me",
    operation_id = OPERATION,
    tag = "identity",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Profil přihlášeného občana.", body = MyData),
    )
)]
pub async fn handler(State(id): State<Shared>, citizen: Citizen) -> Result<Json<MyData>, IdentityError> {
    let profile = profile::load(id.documents.as_ref(), &id.sealer, &citizen.subject).await;
    let entry = AccessEntry::new(Actor::Citizen, Action::Read, "profile", "profile", "show my data (GET /api/me)");
    let entry = if profile.is_ok() { entry } else { entry.with_outcome(AccessOutcome::Failed) };
    id.access_log.record(&citizen.subject, entry).await?;
    let profile = profile?.unwrap_or_default();
    Ok(Json(MyData { subject: citizen.subject.as_str().to_owned(), loa: citizen.loa.into(), profile }))
}
