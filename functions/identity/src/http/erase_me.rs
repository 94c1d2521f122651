//! `DELETE /api/me`: erasure at the citizen's request.
//!
//! The citizen's data key is destroyed (crypto-shredding), so none of their
//! sealed records or blobs open again on any store; the profile record and the
//! session go too, and every capability deletes its plain metadata on the
//! `account.erased` event. The access log keeps the entry of the erasure.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use portal_crypto::{KEYS_COLLECTION, TOMBSTONE_ID};
use portal_events::{ERASURE_QUEUES, Event, kinds};
use portal_host::{Body, FieldViolation, Problem};
use portal_security::{Action, Citizen, SubjectId};
use portal_store::StoreError;
use serde::{Deserialize, Serialize};
use serde_json::json;
use time::OffsetDateTime;
use utoipa::ToSchema;

use super::{SetCookie, Shared, clear_cookie};
use crate::profile;
use crate::{Identity, IdentityError};

/// The text the citizen types to confirm the erasure.
const CONFIRMATION: &str = "DELETE MY DATA";

/// The citizen's confirmation.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EraseRequest {
    /// Exactly `DELETE MY DATA`.
    #[schema(example = "DELETE MY DATA")]
    confirm: Option<String>,
}

/// The data are erased.
#[derive(Debug, Serialize, ToSchema)]
pub struct Erased {
    /// Always `true`.
    pub erased: bool,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "EraseMe";

/// Erases everything the portal holds about the citizen and ends the session.
/// Needs a login no older than 10 minutes (step-up).
#[utoipa::path(
    delete,
    path = "/api/me",
    operation_id = OPERATION,
    tag = "identity",
    request_body = EraseRequest,
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Vaše údaje jsou vymazány a relace skončila.", body = Erased,
            headers(("Set-Cookie" = String, description = "Smaže cookie relace."))),
        (status = 401, description = "Nepřihlášen, nebo přihlášení starší než 10 minut (`/problems/reauthentication-required`): přihlaste se znovu přes /api/auth/login?maxAge=600.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Chybí potvrzení `DELETE MY DATA`.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Výmaz začal, ale nedokončil se; zkuste to znovu (relace stále platí).", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(id): State<Shared>,
    citizen: Citizen,
    Body(request): Body<EraseRequest>,
) -> Result<(SetCookie, Json<Erased>), IdentityError> {
    citizen.require_recent_login(id.clock.now())?;
    if request.confirm.as_deref() != Some(CONFIRMATION) {
        return Err(
            Problem::validation(vec![FieldViolation::new("confirm", "must be the text 'DELETE MY DATA'")]).into()
        );
    }
    id.sealer.keys().shred(citizen.subject.as_str()).await?;
    profile::delete(id.documents.as_ref(), &citizen.subject).await?;
    // The citizen's exports: sealed under the shredded key, so unreadable
    // already; deleted too, nothing left behind.
    id.exports.remove_all(&citizen.subject).await?;
    id.access_log.record_own(&citizen, Action::Delete, "citizen", "all", "erasure at the citizen's request").await?;
    // The other capabilities delete their plain metadata on these events. A
    // failure answers 503: the shred has happened, and a retry (the session
    // is still valid) shreds again harmlessly and republishes the same event.
    if let Err(error) = publish_erasure(&id, &citizen.subject).await {
        tracing::error!(error = %portal_host::runtime::error_chain(&error), "erasure events not published");
        return Err(Problem::new(StatusCode::SERVICE_UNAVAILABLE, "erasure-incomplete", "Erasure started")
            .with_detail("erasure started; try again")
            .into());
    }
    // Every session and bearer token of the citizen ends, not only this one.
    id.sessions.revoke_all(&citizen.subject).await?;
    tracing::info!("citizen data erased by crypto-shredding");
    Ok((clear_cookie(), Json(Erased { erased: true })))
}

/// Publishes `account.erased` to every capability's erasure queue. The id
/// names the moment of the shred, read from the key tombstone (which a repeated
/// shred leaves as it is), so a retried erasure publishes the very same event
/// and consumers see one erasure.
async fn publish_erasure(id: &Identity, subject: &SubjectId) -> Result<(), StoreError> {
    let tombstone = id.documents.get(KEYS_COLLECTION, subject.as_str(), TOMBSTONE_ID).await?;
    let erased_at = tombstone
        .and_then(|doc| doc.body.get("shredded").and_then(|v| v.as_str()).map(str::to_owned))
        .and_then(|text| OffsetDateTime::parse(&text, &time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| id.clock.now());
    let key = format!("{}:{}", subject.as_str(), erased_at.unix_timestamp());
    let event = Event::new(kinds::ERASED, &key, subject.as_str(), erased_at, json!({}));
    for queue in ERASURE_QUEUES {
        portal_events::publish(id.queues.as_ref(), queue, &event).await?;
    }
    Ok(())
}
