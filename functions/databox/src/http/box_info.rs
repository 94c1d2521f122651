//! `GET /api/databox/box`: the citizen's data box, its credit and vault, and
//! the archiving setting.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::{Action, Citizen};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Shared, Simulation};
use crate::isds::{BoxInfo, VaultInfo};

/// The citizen's box as the mailbox shows it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DataBoxOverview)]
pub struct BoxOverview {
    #[serde(rename = "box")]
    pub data_box: BoxInfo,
    /// Credit for commercial messages, in hellers; null when ISDS did not say.
    pub credit_hellers: Option<i64>,
    /// The data vault; null when ISDS did not say.
    pub vault: Option<VaultInfo>,
    /// Whether messages are archived automatically before ISDS deletes them.
    pub auto_archive: bool,
    /// Messages delivered this many days ago are archived.
    pub archive_after_days: u32,
    #[serde(flatten)]
    pub simulation: Simulation,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "DataBoxInfo";

/// The citizen's data box (linked on first use).
#[utoipa::path(
    get,
    path = "/api/databox/box",
    operation_id = OPERATION,
    tag = "databox",
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Vaše datová schránka.", body = BoxOverview),
        (status = 404, description = "K vašemu účtu není připojena žádná datová schránka.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "ISDS požadavek odmítl.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(State(databox): State<Shared>, citizen: Citizen) -> Result<Json<BoxOverview>, Problem> {
    let session = databox.session_context(&citizen).await?;
    let (ctx, box_id) = (session.as_box(), session.box_id());
    let (info, credit, vault) =
        futures::join!(databox.isds.box_info(ctx), databox.isds.credit_info(ctx), databox.isds.vault_info(ctx));
    let info = info?;
    let auto_archive = databox.auto_archive(citizen.subject.as_str()).await?;
    databox.access_log.record_own(&citizen, Action::Read, "data-box", box_id.as_str(), "show my data box").await?;
    Ok(Json(BoxOverview {
        data_box: info,
        credit_hellers: credit.ok().map(|c| c.current_hellers),
        vault: vault.ok(),
        auto_archive,
        archive_after_days: databox.settings.archive_after_days,
        simulation: Simulation::of(&databox),
    }))
}
