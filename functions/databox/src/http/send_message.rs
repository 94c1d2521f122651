//! `POST /api/databox/messages`: sends a data message from the citizen's box
//! (multipart/form-data), checked by ISDS's rules first ([`crate::validate`]),
//! once per `Idempotency-Key` ([`crate::sending`]). A delegate with a grant's
//! `databox-send` scope sends from the principal's box (`X-Acting-For`); their
//! keys are their own, apart from the principal's.
//!
//! Up to the setting's limit (`PORTAL_MAX_MESSAGE_MB`, ISDS's 100 MB by
//! default); a message over 20 MB goes as a big message (VoDZ). The form is
//! never held whole: each file part is sealed into the spool as it arrives,
//! counted against the limit, hashed for the key's fingerprint and (a
//! container) checked ([`crate::spool`]); a big message's files then stream
//! from the spool to ISDS. The spool is deleted when the request answers,
//! whatever the answer, or when it is dropped (the client went away); a
//! refused form leaves nothing.

use axum::Json;
use axum::extract::multipart::MultipartRejection;
use axum::extract::{Multipart, State};
use axum::http::{HeaderMap, StatusCode};
use portal_host::{FieldViolation, Problem, upload};
use portal_security::delegation::scope::DataboxSend;
use portal_security::{ActingFor, Action, SubjectId};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{Folder, Shared, Simulation, record_acting};
use crate::isds::BoxContext;
use crate::spool::{Discarding, Spool, SpoolError, SpooledFile};
use crate::validate::{self, ReceivedFile, SendRequest};
use crate::{Databox, sending};

/// A data message to send, as multipart/form-data: text fields and one
/// `attachment` part per file. Every broken rule comes back at once, field by
/// field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = DataMessageForm)]
#[allow(dead_code)] // documents the form that `validate::check` checks
pub struct MessageForm {
    /// The recipient's data box id: 7 lowercase letters and digits.
    #[schema(example = "simmuhl")]
    recipient: String,
    /// Věc: at most 255 characters.
    subject: String,
    /// Sender's reference number (Číslo jednací odesílatele), at most 50 characters.
    #[serde(default)]
    sender_ref_number: String,
    /// Sender's file mark (Spisová značka odesílatele), at most 50 characters.
    #[serde(default)]
    sender_ident: String,
    /// Recipient's reference number, at most 50 characters.
    #[serde(default)]
    recipient_ref_number: String,
    /// Recipient's file mark, at most 50 characters.
    #[serde(default)]
    recipient_ident: String,
    /// K rukám: a person at the recipient.
    #[serde(default)]
    to_hands: String,
    /// Only into the recipient's own hands (`true`/`false`).
    #[serde(default)]
    personal_delivery: bool,
    /// A commercial message, paid from the box's credit (`true`/`false`).
    #[serde(default)]
    commercial: bool,
    /// The files: 1–50, in formats ISDS accepts, together within the portal's
    /// limit (ISDS's 100 MB unless configured lower). Over 20 MB together the
    /// message goes as a big message (VoDZ).
    #[schema(value_type = Vec<String>, format = Binary)]
    attachment: Vec<Vec<u8>>,
}

/// The message ISDS accepted.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = SentDataMessage)]
pub struct SentMessage {
    /// The id ISDS gave it (dmID).
    pub id: String,
    /// Always `sent`.
    pub folder: Folder,
    #[serde(flatten)]
    pub simulation: Simulation,
}

/// The operation id: this function's name and its `operationId`.
pub const OPERATION: &str = "SendDataMessage";

/// Sends a data message from the citizen's box, or from the box of the person
/// they act for.
#[utoipa::path(
    post,
    path = "/api/databox/messages",
    operation_id = OPERATION,
    tag = "databox",
    request_body(content = MessageForm, content_type = "multipart/form-data"),
    params(
        ("Idempotency-Key" = String, Header, description = "Required: 1-100 printable ASCII characters, new for each message. A retry with the same key returns the first result and never sends twice."),
        ("X-Acting-For" = Option<String>, Header, description = "A grant id (`GET /api/delegations`) to send from the data box of the person who authorised you, or whom you represent (scope `databox-send`)."),
    ),
    security(("session" = []), ("bearer" = [])),
    responses(
        (status = 201, description = "Zpráva je odeslána (nebo byla odeslána dřívějším požadavkem se stejným klíčem).", body = SentMessage),
        (status = 400, description = "Chybí hlavička Idempotency-Key (nebo je neplatná).", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Požadavek se stejným klíčem se právě odesílá; zkuste to za několik minut.", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "K vašemu účtu není připojena žádná datová schránka.", body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "Zprávu pošlete jako multipart/form-data.", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Zpráva porušuje pravidla ISDS (pole po poli), ISDS ji odmítlo, nebo byl klíč použit pro jinou zprávu.", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "ISDS neodpovídá; zopakujte požadavek se stejným klíčem.", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn handler(
    State(databox): State<Shared>,
    acting: ActingFor<DataboxSend>,
    headers: HeaderMap,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<(StatusCode, Json<SentMessage>), Problem> {
    let key = sending::key(&headers)?;
    let Ok(multipart) = multipart else {
        return Err(upload::multipart_required("message"));
    };
    let spool = Spool::new(&databox, acting.owner().as_str());
    let mut spool = Discarding::new(databox.clone(), spool);
    let sent = send(&databox, &acting, key, multipart, spool.spool()).await;
    spool.discard().await;
    sent
}

/// The request once its spool exists: whatever this answers, the handler
/// deletes the spool after (and if the request is dropped, the spool's drop).
async fn send(
    databox: &Databox,
    acting: &ActingFor<DataboxSend>,
    key: String,
    multipart: Multipart,
    spool: &mut Spool,
) -> Result<(StatusCode, Json<SentMessage>), Problem> {
    let limit = databox.settings.message_limit();
    let (request, files) = read_form(databox, multipart, limit, spool).await?;
    let (message, files) = validate::check_received(request, files, limit).map_err(Problem::validation)?;
    let session = databox.session_context_of(acting.owner(), &acting.citizen).await?;
    // A delegate's keys never meet the principal's own (nor another delegate's).
    let key = match &acting.mandate {
        None => key,
        Some(mandate) => format!("{}\u{0}{key}", mandate.grant),
    };
    let owner = acting.owner().as_str();
    let outgoing = sending::Outgoing { message: &message, files: &files, spool };
    let result = sending::send_once(databox, owner, session.as_box(), &key, outgoing).await;
    let id = result.as_ref().map(|id| id.as_str().to_owned()).unwrap_or_else(|_| "not-sent".into());
    let purpose = "send a data message";
    record_acting(databox, acting, Action::Create, "data-message", &id, purpose, result.is_ok()).await?;
    let id = result?;
    if message.commercial {
        warn_if_credit_low(databox, acting.owner(), session.as_box()).await;
    }
    let sent = SentMessage { id: id.as_str().to_owned(), folder: Folder::Sent, simulation: Simulation::of(databox) };
    Ok((StatusCode::CREATED, Json(sent)))
}

/// The form's fields as the client sent them, and its files as they were
/// put into `spool` (sealed as they arrived, at most `max_message_bytes`
/// together: over it, the form is refused at once).
async fn read_form(
    databox: &Databox,
    mut multipart: Multipart,
    max_message_bytes: u64,
    spool: &mut Spool,
) -> Result<(SendRequest, Vec<ReceivedFile<SpooledFile>>), Problem> {
    let too_large = || {
        Problem::validation(vec![FieldViolation::new(
            "attachments",
            format!("together at most {} MB", max_message_bytes / 1_000_000),
        )])
    };
    let mut request = SendRequest::default();
    let mut files = Vec::new();
    let mut used = 0_u64;
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => return Ok((request, files)),
            Err(error) if error.status() == StatusCode::PAYLOAD_TOO_LARGE => return Err(too_large()),
            Err(_) => return Err(upload::malformed()),
        };
        let name = field.name().unwrap_or_default().to_owned();
        if name == "attachment" || name == "attachments" {
            if files.len() >= validate::MAX_ATTACHMENTS {
                let rule = format!("at most {} attachments", validate::MAX_ATTACHMENTS);
                return Err(Problem::validation(vec![FieldViolation::new("attachments", rule)]));
            }
            let file_name = field.file_name().unwrap_or_default().to_owned();
            let mime = field.content_type().unwrap_or_default().to_owned();
            let container = crate::containers::is_container(file_name.trim());
            let budget = max_message_bytes.saturating_sub(used);
            let (content, content_rules) = match spool.add(databox, field, budget, container).await {
                Ok(added) => added,
                Err(SpoolError::TooLarge) => return Err(too_large()),
                // As the body limit (the limit and 1 MB) ends a part: too large.
                Err(SpoolError::Incoming) => return Err(too_large()),
                Err(error) => {
                    tracing::error!(error = %error, "a file could not be put aside for sending");
                    return Err(Problem::unavailable("the portal's storage"));
                }
            };
            used += content.size;
            files.push(ReceivedFile { name: file_name, mime, size: content.size, content_rules, content });
            continue;
        }
        let text = field.text().await.map_err(|_| Problem::bad_request("a form field is not text"))?;
        match name.as_str() {
            "recipient" => request.recipient = Some(text),
            "subject" => request.subject = Some(text),
            "senderRefNumber" => request.sender_ref_number = Some(text),
            "senderIdent" => request.sender_ident = Some(text),
            "recipientRefNumber" => request.recipient_ref_number = Some(text),
            "recipientIdent" => request.recipient_ident = Some(text),
            "toHands" => request.to_hands = Some(text),
            "personalDelivery" => request.personal_delivery = text == "true",
            "commercial" => request.commercial = text == "true",
            other => return Err(Problem::validation(vec![FieldViolation::new(other, "unknown field")])),
        }
    }
}

/// After credit was spent: a `credit-low` event when the balance falls under
/// the threshold (once a day per box; the event id says so).
async fn warn_if_credit_low(databox: &Databox, owner: &SubjectId, ctx: &BoxContext) {
    let box_id = ctx.box_id();
    let Ok(credit) = databox.isds.credit_info(ctx).await else { return };
    if credit.current_hellers >= databox.settings.credit_low_hellers {
        return;
    }
    let now = databox.clock.now();
    let notice = portal_events::Notice::CreditLow(portal_events::CreditLow {
        credit_hellers: credit.current_hellers,
        threshold_hellers: databox.settings.credit_low_hellers,
    });
    let key = format!("{box_id}:{}", now.date());
    let subject = owner.as_str();
    if let Err(error) = portal_events::publish_notice(databox.queues.as_ref(), &notice, &key, subject, now).await {
        tracing::warn!(error = %error, "the credit-low event could not be published");
    }
}
