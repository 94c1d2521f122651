//! `POST /api/petitions/{id}/hand-over`: the creator hands their closed
//! petition with the extract of signatures over to the addressee's data box
//! (idempotent while pending: one data message however often it is asked).
//! The petition is recorded `handed-over` only once ISDS accepted the message;
//! after a failure (`handOver.status` = `failed`, with the reason) the same
//! request tries again.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use portal_host::Problem;
use portal_security::Citizen;
use serde::Serialize;
use utoipa::ToSchema;

use super::HandOverView;
use super::{Shared, parse_id};
use crate::handover::request_id;
use crate::model::{Addressee, State as PetitionState, rfc3339};

/// The hand-over, queued for the data box.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandOver {
    pub id: String,
    /// `closed` until ISDS accepted the message, then `handed-over`.
    pub state: PetitionState,
    pub handed_over_at: Option<String>,
    /// The data box's request id, fixed by the petition and the attempt:
    /// `petition-<id>` for the first, `petition-<id>-<n>` for a retry.
    pub request_id: String,
    pub addressee: Addressee,
    pub hand_over: Option<HandOverView>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "HandOverPetition";

/// Sends the petition and its extract from the creator's data box to the addressee's.
#[utoipa::path(
    post,
    path = "/api/petitions/{id}/hand-over",
    operation_id = OPERATION,
    tag = "petitions",
    params(("id" = String, Path, description = "The petition's id.")),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 202, description = "Petice je předána k odeslání do datové schránky adresáta.", body = HandOver),
        (status = 404, description = "Taková vaše petice neexistuje.", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Předat lze jen petici s ukončeným sběrem podpisů.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Výpis s přílohami se nevejde do jedné datové zprávy (doručte petici jinak), nebo adresát už nemá přístupnou datovou schránku orgánu veřejné moci.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Katalog datových schránek (ISDS) nebo úložiště je dočasně nedostupné.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(s): State<Shared>,
    citizen: Citizen,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<HandOver>), Problem> {
    let id = parse_id(&id)?;
    super::refuse_foreign(&s, &citizen, &id, portal_security::Action::Update, super::Reach::Creator).await?;
    let petition = s.hand_over(&id, &citizen.subject).await??;
    Ok((
        StatusCode::ACCEPTED,
        Json(HandOver {
            id: petition.id,
            state: petition.state,
            handed_over_at: petition.handed_over_at.map(rfc3339),
            request_id: request_id(&id, petition.hand_over.as_ref().map_or(1, |h| h.attempt)),
            hand_over: petition.hand_over.as_ref().map(HandOverView::of),
            addressee: petition.addressee,
        }),
    ))
}
