//! The registers capability's HTTP functions, one file per action (every
//! one needs a session), and the views they share: an extract job and a
//! filing as the citizen sees them, the simulator's label, and the 400
//! problem these routes answer for input that breaks a rule.

pub mod apply_for_driving_licence;
pub mod check_odometer;
pub mod list_extracts;
pub mod list_filings;
pub mod my_driver_points;
pub mod my_properties;
pub mod my_register_data;
pub mod my_vehicles;
pub mod request_extract;
pub mod request_register_write;
pub mod settle_simulated_filing_payment;
pub mod show_extract;
pub mod show_filing;
pub mod urge_filing;

use std::sync::Arc;

use axum::http::StatusCode;
use portal_host::{FieldViolation, Problem};
use portal_security::{AccessEntry, AccessOutcome, Action, Actor, Citizen};
use portal_store::StoreError;
use serde::Serialize;
use time::OffsetDateTime;
use utoipa::ToSchema;

use crate::Registers;
use crate::extracts::{ExtractJob, ExtractKind, JobStatus};
use crate::filings::{Filing, FilingPayment, FilingStatus, deadlines_law};

pub(crate) type Shared = Arc<Registers>;

/// The label on every answer made from the SIMULATOR's data.
pub const SIMULATOR_NOTICE: &str =
    "SIMULÁTOR: údaje pocházejí ze simulátoru registrů, nejde o skutečné údaje z registrů";
/// The label on a filing the SIMULATOR of an agency handles.
pub const SIMULATED_FILING_NOTICE: &str = "SIMULÁTOR: podání vyřizuje simulátor úřadu, nemá žádné právní účinky";

/// Whether an answer is labelled as the simulator's: the capability runs on
/// the SIMULATOR, or the data says it came from one.
pub(crate) fn simulated(registers: &Registers, data_simulated: bool) -> bool {
    registers.settings.simulated || data_simulated
}

/// The simulator's notice, when the answer is simulated.
pub(crate) fn notice(simulated: bool) -> Option<&'static str> {
    simulated.then_some(SIMULATOR_NOTICE)
}

/// These routes answer input that breaks a rule with 400 (not 422), listing
/// every broken rule field by field.
pub(crate) fn bad_input(errors: Vec<FieldViolation>) -> Problem {
    let mut problem = Problem::validation(errors);
    problem.status = StatusCode::BAD_REQUEST.as_u16();
    problem
}

pub(crate) fn invalid(field: &str, rule: impl Into<String>) -> Problem {
    bad_input(vec![FieldViolation::new(field, rule)])
}

/// A look into a register goes to the citizen's access log, failed or not.
pub(crate) async fn record_lookup(
    registers: &Registers,
    citizen: &Citizen,
    kind: &str,
    id: &str,
    purpose: &str,
    ok: bool,
) -> Result<(), StoreError> {
    let outcome = if ok { AccessOutcome::Success } else { AccessOutcome::Failed };
    let entry = AccessEntry::new(Actor::Citizen, Action::Read, kind, id, purpose).with_outcome(outcome);
    registers.access_log.record(&citizen.subject, entry).await
}

pub(crate) fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// An extract request as the citizen sees it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ExtractJobView {
    #[schema(example = "2f1c6a52-6d0b-4f3e-9d55-0d6f2b9b8e11")]
    pub id: String,
    pub kind: ExtractKind,
    /// The extract's name, e.g. `Výpis z evidence Rejstříku trestů`.
    pub title: &'static str,
    pub status: JobStatus,
    /// RFC 3339.
    pub created_at: String,
    /// RFC 3339.
    pub updated_at: String,
    /// The extract in Documents, once it is `done`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    /// Why it `failed`, in Czech.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// Present (`true`) when the SIMULATOR made the extract.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
}

impl From<&ExtractJob> for ExtractJobView {
    fn from(job: &ExtractJob) -> Self {
        Self {
            id: job.id.clone(),
            kind: job.kind,
            title: job.kind.title(),
            status: job.status,
            created_at: rfc3339(job.created_at),
            updated_at: rfc3339(job.updated_at),
            document_id: job.document_id.clone(),
            reason: job.reason.clone(),
            simulated: job.simulated,
        }
    }
}

/// The agency (úřad) a filing went to.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilingAgencyView {
    pub name: String,
    /// Its data box id, when known: a reminder can then be sent from the
    /// citizen's box.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub box_id: Option<String>,
}

/// A filing as the citizen sees it in the list.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FilingSummary {
    pub id: String,
    /// `delivery-address`, `contact`, `qualified-certificate`,
    /// `driving-licence`, or a kind another service reports
    /// (`petition-hand-over`, …).
    pub kind: String,
    pub title: String,
    pub status: FilingStatus,
    /// The status in Czech.
    pub status_name: &'static str,
    pub agency: FilingAgencyView,
    /// The last day of the agency's legal deadline, YYYY-MM-DD; `null` while
    /// none runs.
    pub legal_deadline: Option<String>,
    /// RFC 3339.
    pub created_at: String,
    /// When the agency got it, RFC 3339; `null` before.
    pub submitted_at: Option<String>,
    /// The deadline passed without a decision.
    pub overdue: bool,
    /// A reminder (urgence) can be sent now.
    pub can_urge: bool,
    /// The service it came from (`registers`, `databox`, `petitions`).
    pub source: String,
    pub source_ref: String,
    pub simulated: bool,
    /// The law that sets the deadline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub legal_deadline_source: Option<&'static str>,
    /// The agency's reference.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub payment: Option<FilingPayment>,
    /// When the reminder was sent, RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urged_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<&'static str>,
}

impl FilingSummary {
    /// What the citizen sees of `filing` at `now`.
    pub fn new(filing: &Filing, now: OffsetDateTime) -> Self {
        Self {
            id: filing.id.clone(),
            kind: filing.kind.clone(),
            title: filing.title.clone(),
            status: filing.status,
            status_name: filing.status.czech_name(),
            agency: FilingAgencyView { name: filing.agency.name.clone(), box_id: filing.agency.box_id.clone() },
            legal_deadline: filing.legal_deadline.map(|d| d.to_string()),
            created_at: rfc3339(filing.created_at),
            submitted_at: filing.submitted_at.map(rfc3339),
            overdue: filing.overdue || filing.deadline_passed(now),
            can_urge: filing.can_urge(now),
            source: filing.source.clone(),
            source_ref: filing.source_ref.clone(),
            simulated: filing.simulated,
            legal_deadline_source: deadlines_law::rule(&filing.kind).map(|rule| rule.source),
            reference: filing.gateway_reference.clone(),
            payment: filing.payment.clone(),
            urged_at: filing.urged_at.map(rfc3339),
            notice: filing.simulated.then_some(SIMULATED_FILING_NOTICE),
        }
    }
}

pub(crate) fn no_such_filing() -> Problem {
    Problem::not_found("no such filing")
}
