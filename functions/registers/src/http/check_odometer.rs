//! `GET /api/registers/odometer`: the odometer check (kontrola tachometru).

use axum::Json;
use axum::extract::State;
use portal_host::{FieldViolation, Params, Problem};
use portal_security::Citizen;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Shared, bad_input, notice, record_lookup, simulated};
use crate::gateway::{GatewayError, ProtocolNumber, RequestId, Vin};

const DISCLAIMER: &str =
    "Informativní údaje ze záznamů stanic technické kontroly a měření emisí; nejsou právně závazné.";

/// The vehicle and its last inspection protocol; both are required.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OdometerParams {
    /// The vehicle identification number, 17 characters (required).
    #[param(example = "TMBEG6NJ5LZ012345")]
    vin: Option<String>,
    /// The number of the vehicle's last inspection protocol,
    /// `CZ-<station>-<yy>-<mm>-<serial>` (required).
    #[param(example = "CZ-3204-24-05-0123")]
    protocol: Option<String>,
}

/// One recorded reading.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OdometerReadingView {
    /// YYYY-MM-DD.
    #[schema(example = "2023-11-20")]
    pub date: String,
    pub kilometres: u64,
    /// `stk` (technical inspection) or `emise` (emission check).
    pub source: String,
    /// Lower than the reading before.
    pub went_backwards: bool,
}

/// The readings in date order, each flagged when it is lower than the one before.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OdometerCheck {
    pub vin: String,
    pub protocol: String,
    pub readings: Vec<OdometerReadingView>,
    /// Some reading is lower than the one before it.
    pub went_backwards: bool,
    pub disclaimer: &'static str,
    /// Present (`true`) when the SIMULATOR answered.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub simulated: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<&'static str>,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "CheckOdometer";

/// The odometer readings of a vehicle, for anyone who has its last
/// inspection protocol number.
#[utoipa::path(
    get,
    path = "/api/registers/odometer",
    operation_id = OPERATION,
    tag = "registers",
    params(OdometerParams),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Záznamy stavu tachometru v pořadí podle data.", body = OdometerCheck),
        (status = 400, description = "Chybí nebo je neplatný VIN či číslo protokolu; `errors` jmenuje obě pole.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Vozidlo s tímto VIN a posledním protokolem tohoto čísla registr nezná.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Registr dotaz odmítl.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(registers): State<Shared>,
    citizen: Citizen,
    params: Result<Params<OdometerParams>, Problem>,
) -> Result<Json<OdometerCheck>, Problem> {
    let params = params.map(|Params(params)| params).unwrap_or_default();
    let mut errors = Vec::new();
    let vin = match params.vin.as_deref().map(Vin::parse) {
        Some(Ok(vin)) => Some(vin),
        Some(Err(rule)) => {
            errors.push(FieldViolation::new("vin", rule));
            None
        }
        None => {
            errors.push(FieldViolation::new("vin", "required: the vehicle identification number (17 characters)"));
            None
        }
    };
    let protocol = match params.protocol.as_deref().map(ProtocolNumber::parse) {
        Some(Ok(protocol)) => Some(protocol),
        Some(Err(rule)) => {
            errors.push(FieldViolation::new("protocol", rule));
            None
        }
        None => {
            errors.push(FieldViolation::new(
                "protocol",
                format!("required: the number of the last inspection protocol, {}", ProtocolNumber::RULE),
            ));
            None
        }
    };
    let (Some(vin), Some(protocol)) = (vin, protocol) else {
        return Err(bad_input(errors));
    };
    let result = registers.gateway.odometer(&RequestId::random(), &vin, &protocol).await;
    let purpose = "kontrola stavu tachometru vozidla";
    record_lookup(&registers, &citizen, "odometer-check", vin.as_str(), purpose, result.is_ok()).await?;
    let history = result.map_err(|error| match error {
        GatewayError::NotFound => Problem::not_found(
            "no vehicle with this VIN whose last inspection protocol has this number; check both on the protocol",
        ),
        error => error.into(),
    })?;
    let mut readings = history.readings.clone();
    readings.sort_by_key(|r| r.date);
    let mut previous: Option<u64> = None;
    let mut any_backwards = false;
    let readings = readings
        .into_iter()
        .map(|r| {
            let went_backwards = previous.is_some_and(|p| r.kilometres < p);
            any_backwards |= went_backwards;
            previous = Some(r.kilometres);
            OdometerReadingView { date: r.date.to_string(), kilometres: r.kilometres, source: r.source, went_backwards }
        })
        .collect();
    let simulated = simulated(&registers, history.simulated);
    Ok(Json(OdometerCheck {
        vin: history.vin.as_str().to_owned(),
        protocol: protocol.as_str().to_owned(),
        readings,
        went_backwards: any_backwards,
        disclaimer: DISCLAIMER,
        simulated,
        notice: notice(simulated),
    }))
}
