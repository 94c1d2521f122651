//! The capability's functions: HTTP routes (all need a session) and the
//! queue function `FetchExtract`.

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use portal_host::{AuthLevel, FieldViolation, Function, Problem, QueueInvocation};
use portal_security::{AccessEntry, AccessOutcome, Action, Actor, Citizen};
use portal_store::StoreError;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::Registers;
use crate::extracts::{self, ExtractError, ExtractKind, FetchMessage};
use crate::gateway::{GatewayError, ProtocolNumber, RequestId, Vin};
use crate::my_data::{self, MyDataError, Reader};
use crate::render::czech_date;

type Shared = Arc<Registers>;

pub fn functions(registers: Shared) -> Vec<Function> {
    let s = registers;
    let queue_state = s.clone();
    let sign_in_state = s.clone();
    let erasure_state = s.clone();
    let filings = crate::filings::routes::functions(&s);
    let mut functions = vec![
        Function::http("RequestExtract", "registers/extracts", AuthLevel::Anonymous)
            .post(request_extract)
            .with_state(s.clone())
            .build(),
        Function::http("ListExtracts", "registers/extracts", AuthLevel::Anonymous)
            .get(list_extracts)
            .with_state(s.clone())
            .build(),
        Function::http("ShowExtract", "registers/extracts/{id}", AuthLevel::Anonymous)
            .get(show_extract)
            .with_state(s.clone())
            .build(),
        Function::http("CheckOdometer", "registers/odometer", AuthLevel::Anonymous)
            .get(odometer)
            .with_state(s.clone())
            .build(),
        Function::http("MyDriverPoints", "registers/driver-points", AuthLevel::Anonymous)
            .get(driver_points)
            .with_state(s.clone())
            .build(),
        Function::http("MyVehicles", "registers/vehicles", AuthLevel::Anonymous)
            .get(vehicles)
            .with_state(s.clone())
            .build(),
        Function::http("MyProperties", "registers/properties", AuthLevel::Anonymous)
            .get(properties)
            .with_state(s.clone())
            .build(),
        Function::http("MyRegisterData", "me/registers", AuthLevel::Anonymous)
            .get(me_registers)
            .with_state(s.clone())
            .build(),
        Function::queue(extracts::FUNCTION, extracts::QUEUE, move |invocation: QueueInvocation<FetchMessage>| {
            let registers = queue_state.clone();
            async move { extracts::fetch_extract(&registers, &invocation.message).await }
        }),
        Function::queue(
            "RefreshOnSignIn",
            portal_events::SIGNED_IN_QUEUE,
            move |invocation: QueueInvocation<portal_events::Event>| {
                let registers = sign_in_state.clone();
                async move { crate::my_data::refresh_on_sign_in(&registers, &invocation.message).await }
            },
        ),
        Function::queue(
            crate::erasure::FUNCTION,
            crate::erasure::QUEUE,
            move |invocation: QueueInvocation<portal_events::Event>| {
                let registers = erasure_state.clone();
                async move { crate::erasure::erase(&registers, &invocation.message).await }
            },
        ),
    ];
    functions.extend(filings);
    functions
}

/// A 400 problem listing the broken rules, field by field.
fn bad_input(errors: Vec<FieldViolation>) -> Response {
    let mut problem = Problem::validation(errors);
    problem.status = StatusCode::BAD_REQUEST.as_u16();
    problem.into_response()
}

fn store_problem(error: &StoreError) -> Response {
    tracing::error!(error = %portal_host::runtime::error_chain(error), "store failure");
    Problem::unavailable("storage").into_response()
}

fn extract_problem(error: &ExtractError) -> Response {
    tracing::error!(error = %portal_host::runtime::error_chain(error), "extract request failed");
    match error {
        ExtractError::Store(_) | ExtractError::Contended => Problem::unavailable("storage").into_response(),
        ExtractError::Crypto(e) if e.is_retryable() => Problem::unavailable("the key service").into_response(),
        _ => Problem::internal().into_response(),
    }
}

fn gateway_problem(error: &GatewayError) -> Response {
    match error {
        GatewayError::NotFound => Problem::not_found("the register holds no record for you").into_response(),
        GatewayError::Refused { .. } => {
            Problem::new(StatusCode::UNPROCESSABLE_ENTITY, "register-refused", "The register refused the request")
                .into_response()
        }
        GatewayError::Unavailable(_) => {
            tracing::warn!(error = %portal_host::runtime::error_chain(error), "registers gateway unavailable");
            Problem::unavailable("the registers").into_response()
        }
        GatewayError::Invalid(_) => {
            tracing::error!(error = %portal_host::runtime::error_chain(error), "registers gateway call failed");
            Problem::internal().into_response()
        }
    }
}

async fn record(
    registers: &Registers,
    citizen: &Citizen,
    action: Action,
    kind: &str,
    id: &str,
    purpose: &str,
    ok: bool,
) -> Result<(), Response> {
    let mut entry = AccessEntry::new(Actor::Citizen, action, kind, id, purpose);
    if !ok {
        entry = entry.with_outcome(AccessOutcome::Failed);
    }
    registers.access_log.record(&citizen.subject, entry).await.map_err(|e| store_problem(&e))
}

/// Adds the simulator's label to an answer made from its data.
fn labelled(registers: &Registers, simulated: bool, mut value: Value) -> Value {
    if (registers.settings.simulated || simulated)
        && let Some(object) = value.as_object_mut()
    {
        object.insert("simulated".into(), Value::Bool(true));
        object.insert(
            "notice".into(),
            Value::from("SIMULÁTOR: údaje pocházejí ze simulátoru registrů, nejde o skutečné údaje z registrů"),
        );
    }
    value
}

async fn request_extract(
    State(registers): State<Shared>,
    citizen: Citizen,
    body: Result<Json<Value>, axum::extract::rejection::JsonRejection>,
) -> Response {
    let kind = body.ok().and_then(|Json(body)| body.get("kind").and_then(Value::as_str).and_then(ExtractKind::parse));
    let Some(kind) = kind else {
        return bad_input(vec![FieldViolation::new("kind", ExtractKind::RULE)]);
    };
    let job = match extracts::create(&registers, &citizen.subject, kind).await {
        Ok(job) => job,
        Err(error) => return extract_problem(&error),
    };
    if let Err(response) = record(
        &registers,
        &citizen,
        Action::Create,
        "register-extract-job",
        &job.id,
        &format!("žádost o výpis: {}", kind.title()),
        true,
    )
    .await
    {
        return response;
    }
    (StatusCode::ACCEPTED, Json(job.view())).into_response()
}

async fn list_extracts(State(registers): State<Shared>, citizen: Citizen) -> Response {
    let jobs = match extracts::list(&registers, &citizen.subject).await {
        Ok(jobs) => jobs,
        Err(error) => return extract_problem(&error),
    };
    if let Err(response) = record(
        &registers,
        &citizen,
        Action::Read,
        "register-extract-job",
        "list",
        "přehled mých žádostí o výpisy",
        true,
    )
    .await
    {
        return response;
    }
    Json(json!({"items": jobs.iter().map(extracts::ExtractJob::view).collect::<Vec<_>>()})).into_response()
}

async fn show_extract(State(registers): State<Shared>, citizen: Citizen, Path(id): Path<String>) -> Response {
    let not_found = || Problem::not_found("no such extract request").into_response();
    let Some(id) = extracts::parse_job_id(&id) else { return not_found() };
    let job = match extracts::show(&registers, &citizen.subject, &id).await {
        Ok(Some(job)) => job,
        Ok(None) => return not_found(),
        Err(error) => return extract_problem(&error),
    };
    if let Err(response) =
        record(&registers, &citizen, Action::Read, "register-extract-job", &id, "stav žádosti o výpis", true).await
    {
        return response;
    }
    Json(job.view()).into_response()
}

#[derive(Debug, Deserialize)]
struct OdometerParams {
    vin: Option<String>,
    protocol: Option<String>,
}

/// The odometer check (kontrola tachometru): readings in date order, each
/// flagged when it is lower than the one before.
async fn odometer(
    State(registers): State<Shared>,
    citizen: Citizen,
    params: Result<Query<OdometerParams>, axum::extract::rejection::QueryRejection>,
) -> Response {
    let params = params.map(|Query(p)| p).unwrap_or(OdometerParams { vin: None, protocol: None });
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
        return bad_input(errors);
    };
    let result = registers.gateway.odometer(&RequestId::random(), &vin, &protocol).await;
    if let Err(response) = record(
        &registers,
        &citizen,
        Action::Read,
        "odometer-check",
        vin.as_str(),
        "kontrola stavu tachometru vozidla",
        result.is_ok(),
    )
    .await
    {
        return response;
    }
    let history = match result {
        Ok(history) => history,
        Err(GatewayError::NotFound) => {
            return Problem::not_found(
                "no vehicle with this VIN whose last inspection protocol has this number; check both on the protocol",
            )
            .into_response();
        }
        Err(error) => return gateway_problem(&error),
    };
    let mut readings = history.readings.clone();
    readings.sort_by_key(|r| r.date);
    let mut previous: Option<u64> = None;
    let mut any_backwards = false;
    let items: Vec<Value> = readings
        .iter()
        .map(|r| {
            let backwards = previous.is_some_and(|p| r.kilometres < p);
            any_backwards |= backwards;
            previous = Some(r.kilometres);
            json!({"date": r.date.to_string(), "kilometres": r.kilometres, "source": r.source, "wentBackwards": backwards})
        })
        .collect();
    Json(labelled(
        &registers,
        history.simulated,
        json!({"vin": history.vin.as_str(), "protocol": protocol.as_str(), "readings": items,
               "wentBackwards": any_backwards,
               "disclaimer": "Informativní údaje ze záznamů stanic technické kontroly a měření emisí; nejsou právně závazné."}),
    ))
    .into_response()
}

async fn driver_points(State(registers): State<Shared>, citizen: Citizen) -> Response {
    let result = registers.gateway.driver_points(&RequestId::random(), &citizen.subject).await;
    if let Err(response) = record(
        &registers,
        &citizen,
        Action::Read,
        "register-driver-points",
        "points",
        "zobrazení mých bodů řidiče",
        result.is_ok(),
    )
    .await
    {
        return response;
    }
    match result {
        Ok(points) => {
            let mut value = serde_json::to_value(&points).unwrap_or_default();
            value["remaining"] = json!(points.limit.saturating_sub(points.total));
            value["nextReductionOn"] = json!(points.reduction.next_on.map(czech_date));
            Json(labelled(&registers, points.simulated, value)).into_response()
        }
        Err(error) => gateway_problem(&error),
    }
}

async fn vehicles(State(registers): State<Shared>, citizen: Citizen) -> Response {
    let result = registers.gateway.vehicles(&RequestId::random(), &citizen.subject).await;
    if let Err(response) = record(
        &registers,
        &citizen,
        Action::Read,
        "register-vehicles",
        "vehicles",
        "zobrazení mých vozidel",
        result.is_ok(),
    )
    .await
    {
        return response;
    }
    match result {
        Ok(vehicles) => {
            Json(labelled(&registers, vehicles.simulated, serde_json::to_value(&vehicles).unwrap_or_default()))
                .into_response()
        }
        Err(error) => gateway_problem(&error),
    }
}

async fn properties(State(registers): State<Shared>, citizen: Citizen) -> Response {
    let result = registers.gateway.properties(&RequestId::random(), &citizen.subject).await;
    if let Err(response) = record(
        &registers,
        &citizen,
        Action::Read,
        "register-properties",
        "properties",
        "zobrazení mých nemovitostí",
        result.is_ok(),
    )
    .await
    {
        return response;
    }
    match result {
        Ok(properties) => {
            Json(labelled(&registers, properties.simulated, serde_json::to_value(&properties).unwrap_or_default()))
                .into_response()
        }
        Err(error) => gateway_problem(&error),
    }
}

async fn me_registers(State(registers): State<Shared>, citizen: Citizen) -> Response {
    match my_data::my_registers(&registers, &citizen.subject, Reader::Citizen).await {
        Ok((data, cached)) => {
            let simulated = data.person.simulated;
            let mut value = serde_json::to_value(&data).unwrap_or_default();
            value["cached"] = Value::Bool(cached);
            Json(labelled(&registers, simulated, value)).into_response()
        }
        Err(MyDataError::Gateway(error)) => gateway_problem(&error),
        Err(MyDataError::Store(error)) => store_problem(&error),
        Err(MyDataError::Crypto(error)) => {
            tracing::error!(error = %error, "the register data could not be sealed");
            if error.is_retryable() {
                Problem::unavailable("the key service").into_response()
            } else {
                Problem::internal().into_response()
            }
        }
    }
}
