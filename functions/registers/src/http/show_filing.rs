//! `GET /api/filings/{id}`: one filing with its history, after asking the
//! agency how it stands.

use axum::Json;
use axum::extract::{Path, State};
use portal_host::Problem;
use portal_security::delegation::scope::Filings;
use portal_security::{AccessEntry, ActingFor, Action, Actor};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;

use super::{FilingSummary, Shared, no_such_filing};
use crate::filings::{FilingError, StatusEntry, open_data, parse_filing_id, submission};
use crate::gateway::FilingSubmission;

/// An attachment the portal keeps (its bytes are not shown).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilingAttachmentView {
    pub name: String,
    pub media_type: String,
    pub size: u64,
}

/// A filing with its history and what the citizen filed.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilingDetail {
    #[serde(flatten)]
    pub summary: FilingSummary,
    /// Every step, in time order.
    pub status_history: Vec<StatusEntry>,
    pub attachments: Vec<FilingAttachmentView>,
    /// What was filed, by kind (an address with `formatted`, contacts, a
    /// certificate's serial number and validity, the licence's reason and
    /// office), without a certificate's or photo's bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ShowFiling";

/// One filing; its progress is read from the agency first.
#[utoipa::path(
    get,
    path = "/api/filings/{id}",
    operation_id = OPERATION,
    tag = "filings",
    params(("id" = String, Path, description = "The filing's id."), ("X-Acting-For" = Option<String>, Header, description = "A grant id (`GET /api/delegations`) to act for the person who authorised you, or whom you represent (scope `filings`): a filing of theirs."),),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Podání s historií stavů.", body = FilingDetail),
        (status = 404, description = "Takové podání mezi vašimi není.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(registers): State<Shared>,
    acting: ActingFor<Filings>,
    Path(id): Path<String>,
) -> Result<Json<FilingDetail>, Problem> {
    let id = parse_filing_id(&id).ok_or_else(no_such_filing)?;
    let filing = submission::refresh(&registers, acting.owner(), &id).await?.ok_or_else(no_such_filing)?;
    let data = match open_data::<FilingSubmission>(&registers, acting.owner().as_str(), &filing).await {
        Ok(data) => data.as_ref().map(data_view),
        Err(FilingError::Corrupt(_)) => None,
        Err(error) => return Err(error.into()),
    };
    let entry = AccessEntry::new(Actor::Citizen, Action::Read, "filing", &id, "detail podání");
    acting.record(&registers.access_log, entry).await?;
    let attachments = filing
        .attachments
        .iter()
        .map(|a| FilingAttachmentView { name: a.name.clone(), media_type: a.media_type.clone(), size: a.size })
        .collect();
    Ok(Json(FilingDetail {
        summary: FilingSummary::new(&filing, registers.clock.now()),
        status_history: filing.status_history,
        attachments,
        data,
    }))
}

/// The kind-specific data as the citizen may see it again (without the
/// certificate's bytes and the photo's).
fn data_view(submission: &FilingSubmission) -> Value {
    let mut value = serde_json::to_value(submission).unwrap_or_default();
    let mut data = value["data"].take();
    if let Some(object) = data.as_object_mut() {
        object.remove("certificate");
        object.remove("photo");
    }
    if let FilingSubmission::DeliveryAddress(address) = submission {
        data["formatted"] = json!(address.formatted());
    }
    if let FilingSubmission::DrivingLicence(_) = submission {
        data["delivery"] = json!("pickup");
    }
    data
}
