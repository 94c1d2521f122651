//! `GET /api/me/contacts`: the citizen's e-mail address and phone number for
//! notices, verified or waiting for their code.

use axum::Json;
use axum::extract::State;
use portal_host::Problem;
use portal_security::{Action, Citizen};
use serde::Serialize;
use utoipa::ToSchema;

use super::{PendingEmail, PendingPhone, Shared};
use crate::channel::Channel;
use crate::{contacts, rfc3339};

/// The citizen's contacts for notices; null where there is none.
#[derive(Debug, Serialize, ToSchema)]
pub struct Contacts {
    pub email: Option<EmailContact>,
    pub phone: Option<PhoneContact>,
}

/// The e-mail address: the verified one, and one waiting for its code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EmailContact {
    /// The verified address.
    pub address: Option<String>,
    pub verified: bool,
    pub verified_at: Option<String>,
    pub pending: Option<PendingEmail>,
}

/// The mobile number: the verified one, and one waiting for its code.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PhoneContact {
    /// The verified number (E.164).
    pub number: Option<String>,
    pub verified: bool,
    pub verified_at: Option<String>,
    pub pending: Option<PendingPhone>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "ListContacts";

/// The citizen's contacts for notices.
#[utoipa::path(
    get,
    path = "/api/me/contacts",
    operation_id = OPERATION,
    tag = "notifications",
    security(("session" = []), ("bearer" = [])),
    responses((status = 200, description = "Kontakty pro oznámení.", body = Contacts))
)]
pub async fn handler(State(n): State<Shared>, citizen: Citizen) -> Result<Json<Contacts>, Problem> {
    let mut body = Contacts { email: None, phone: None };
    for view in contacts::view(&n, citizen.subject.as_str()).await? {
        if view.verified.is_none() && view.pending.is_none() {
            continue;
        }
        let verified = view.verified.is_some();
        let verified_at = view.verified.as_ref().map(|(_, at)| rfc3339(*at));
        let value = view.verified.map(|(value, _)| value);
        match view.channel {
            Channel::Email => {
                let pending = view.pending.map(|(address, at)| PendingEmail { address, code_expires_at: rfc3339(at) });
                body.email = Some(EmailContact { address: value, verified, verified_at, pending });
            }
            Channel::Sms => {
                let pending = view.pending.map(|(number, at)| PendingPhone { number, code_expires_at: rfc3339(at) });
                body.phone = Some(PhoneContact { number: value, verified, verified_at, pending });
            }
        }
    }
    n.access_log.record_own(&citizen, Action::Read, "contact", "all", "show my contacts for notices").await?;
    Ok(Json(body))
}
