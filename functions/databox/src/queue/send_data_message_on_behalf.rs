//! Queue `SendDataMessageOnBehalf` on [`DATA_MESSAGES_QUEUE`]: another
//! capability asks the data box to send a data message from the citizen's own
//! box (today: a petition with its extract of signatures to its addressee).
//! The request ([`OutgoingDataMessage`]) carries attachments sealed with the
//! citizen's key; they are opened here, checked by the same rules as a
//! citizen's own send ([`crate::validate`]) and sent through the ISDS port.
//! The citizen is told by `databox.sent-on-behalf` (with the ISDS message id)
//! or `databox.not-sent-on-behalf` (with the reason), ids fixed by the request.
//!
//! **Exactly once per request id**, in the citizen's partition:
//! 1. `sent-<request>` exists → sent already: only the event is published again;
//! 2. `sending-<request>` exists → an earlier delivery may have reached ISDS
//!    and crashed before recording it: the box's sent messages are searched
//!    for one with the same recipient, subject and sender reference number
//!    (`senderRefNumber` = the request id, hashed when longer than ISDS's 50
//!    characters); if found it is recorded, not sent again;
//! 3. otherwise `sending-<request>` is written, then ISDS is called, then
//!    `sent-<request>` is written with the message id, then the event.
//!
//! A crash at any point followed by a redelivery leaves one message in ISDS.
//!
//! A request with `replyTo` also gets the outcome on that queue
//! ([`DataMessageOutcome`], id fixed by the request), after the citizen's
//! notice: the petitions capability records a hand-over only then.

use std::sync::Arc;

use bytes::Bytes;
use futures::TryStreamExt as _;
use portal_events::{
    DATA_MESSAGES_QUEUE, DataMessageNotSent, DataMessageOutcome, DataMessageSent, Event, Notice, OutgoingDataMessage,
    SealedContent, kinds, publish, publish_notice,
};
use portal_host::{Failure, Function, InvocationError, Outcome, QueueInvocation};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{BlobPath, NewDocument, StoreError};
use serde_json::{Value, json};
use time::OffsetDateTime;

use crate::isds::{Direction, IsdsError, ListQuery, MessageId};
use crate::validate::{self, MAX_REFERENCE, SendRequest};
use crate::{COLLECTION, Databox, LinkError};

/// The function's name.
pub const FUNCTION: &str = "SendDataMessageOnBehalf";

/// `SendDataMessageOnBehalf` on queue [`DATA_MESSAGES_QUEUE`].
pub fn function(databox: Arc<Databox>) -> Function {
    Function::queue(FUNCTION, DATA_MESSAGES_QUEUE, move |invocation: QueueInvocation<Event>| {
        let databox = databox.clone();
        async move {
            // Erasure is final: a late event for an erased citizen is dropped and recorded.
            databox.sealer.keys().refuse_erased(&invocation.message.subject).await?;
            send_on_behalf(&databox, &invocation.message).await
        }
    })
}

#[derive(Debug, thiserror::Error)]
pub enum OnBehalfError {
    #[error("the event is not a request to send a data message: {0}")]
    Malformed(String),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] portal_crypto::CryptoError),
    #[error(transparent)]
    Isds(#[from] IsdsError),
}

impl Failure for OnBehalfError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Malformed(_) => false,
            Self::Store(error) => error.is_retryable() || matches!(error, StoreError::PreconditionFailed),
            Self::Crypto(error) => error.is_retryable(),
            // The sending marker makes a retry after a protocol failure safe.
            Self::Isds(error) => matches!(error, IsdsError::Unavailable(_) | IsdsError::Protocol(_)),
        }
    }
}

fn sha256_hex(text: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, text.as_bytes());
    portal_store::lower_hex(digest.as_ref())
}

/// The sender reference number (`dmSenderRefNumber`, ≤ 50 characters) that
/// marks the message in ISDS: the request id, or a hash of it when too long.
pub fn sender_ref_number(request_id: &str) -> String {
    if request_id.chars().count() <= MAX_REFERENCE && !request_id.chars().any(char::is_control) {
        request_id.to_owned()
    } else {
        format!("req-{}", &sha256_hex(request_id)[..40])
    }
}

/// The markers' key: the request id when it can be part of a store id, else its hash.
fn marker_key(request_id: &str) -> String {
    let safe = request_id.len() <= 200
        && request_id.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ':'));
    if safe { request_id.to_owned() } else { sha256_hex(request_id) }
}

pub fn sent_id(request_id: &str) -> String {
    format!("sent-{}", marker_key(request_id))
}

pub fn sending_id(request_id: &str) -> String {
    format!("sending-{}", marker_key(request_id))
}

/// The queue function: one request, exactly one message.
pub async fn send_on_behalf(databox: &Databox, event: &Event) -> Result<Outcome, InvocationError> {
    Ok(run(databox, event).await?)
}

async fn run(databox: &Databox, event: &Event) -> Result<Outcome, OnBehalfError> {
    let subject = SubjectId::parse(&event.subject).map_err(|e| OnBehalfError::Malformed(e.to_string()))?;
    let request: OutgoingDataMessage = event.data_as().map_err(|e| OnBehalfError::Malformed(e.to_string()))?;
    if request.request_id.trim().is_empty() {
        return Err(OnBehalfError::Malformed("an empty request id".into()));
    }
    let owner = subject.as_str();
    if let Some(sent) = databox.documents.get(COLLECTION, owner, &sent_id(&request.request_id)).await? {
        let message_id = sent.body["messageId"].as_str().unwrap_or_default().to_owned();
        let sent_at = sent.body["sentAt"]
            .as_str()
            .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok());
        announce_sent(databox, &subject, &request, &message_id, sent_at).await?;
        return Ok(Outcome::done().log("sent before; the event is published again"));
    }
    let ctx = match databox.job_context(&subject, FUNCTION).await {
        Ok(ctx) => ctx,
        Err(LinkError::NoBox) => {
            return not_sent(databox, &subject, &request, "no data box is linked to you", None).await;
        }
        Err(LinkError::Store(error)) => return Err(error.into()),
    };
    let mut files = Vec::with_capacity(request.attachments.len());
    for attachment in &request.attachments {
        let sealed = match &attachment.content {
            SealedContent::Inline { sealed } => {
                use base64::Engine as _;
                match base64::engine::general_purpose::STANDARD.decode(sealed) {
                    Ok(bytes) => bytes,
                    Err(_) => return Err(OnBehalfError::Malformed("an attachment is not base64".into())),
                }
            }
            SealedContent::Blob { path } => {
                let path = BlobPath::parse(path.clone()).map_err(|e| OnBehalfError::Malformed(e.to_string()))?;
                let (_, stream) = databox.blobs.get(&path).await?;
                let chunks: Vec<Bytes> = stream.try_collect().await?;
                chunks.concat()
            }
        };
        let plain =
            match databox.sealer.decrypt(owner, &attachment.sealed_document, &attachment.sealed_field, &sealed).await {
                Ok(plain) => plain,
                Err(error) if error.is_retryable() => return Err(error.into()),
                Err(error) => {
                    tracing::warn!(error = %error, "an attachment to send on the citizen's behalf cannot be opened");
                    let reason = "an attachment cannot be opened with your key";
                    return not_sent(databox, &subject, &request, reason, None).await;
                }
            };
        files.push((attachment.file_name.clone(), attachment.media_type.clone(), Bytes::from(plain)));
    }
    let reference = sender_ref_number(&request.request_id);
    let send_request = SendRequest {
        recipient: Some(request.recipient_box_id.clone()),
        subject: Some(request.subject.clone()),
        sender_ref_number: Some(reference.clone()),
        files,
        ..SendRequest::default()
    };
    let message = match validate::check(send_request, databox.settings.message_limit()) {
        Ok(message) => message,
        Err(errors) => {
            let errors = serde_json::to_value(&errors).unwrap_or_default();
            return not_sent(databox, &subject, &request, "the message breaks ISDS's rules", Some(errors)).await;
        }
    };

    let sending = sending_id(&request.request_id);
    if let Some(marker) = databox.documents.get(COLLECTION, owner, &sending).await? {
        // An earlier delivery got this far: did ISDS take the message?
        let since = marker.body["at"]
            .as_str()
            .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
            .unwrap_or_else(|| databox.clock.now() - time::Duration::days(1));
        let query = ListQuery {
            from: Some(since - time::Duration::hours(1)),
            to: None,
            statuses: Vec::new(),
            offset: 1,
            limit: 1000,
        };
        let found = databox.isds.list_messages(&ctx, Direction::Sent, &query).await?.into_iter().find(|m| {
            m.sender_ref_number.as_deref() == Some(reference.as_str())
                && m.subject == message.subject
                && m.recipient_box == message.recipient
        });
        if let Some(envelope) = found {
            record_sent(databox, &subject, &request, &envelope.id).await?;
            return Ok(Outcome::done().log("an earlier delivery had sent it; recorded"));
        }
    }
    let now = databox.clock.now();
    let marker = NewDocument::new(
        owner,
        &sending,
        json!({"type": "sending-on-behalf", "requestId": request.request_id,
               "at": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()}),
    );
    databox.documents.upsert(COLLECTION, marker, None).await?;
    match crate::sending::deliver(databox.isds.as_ref(), &ctx, &message).await {
        Ok(id) => {
            record_sent(databox, &subject, &request, &id).await?;
            Ok(Outcome::done().log("sent"))
        }
        Err(IsdsError::Refused { code, message }) => {
            let reason = format!("ISDS refused the message: {message} (ISDS code {code})");
            not_sent(databox, &subject, &request, &reason, None).await
        }
        Err(IsdsError::Invalid(rule)) => {
            not_sent(databox, &subject, &request, &format!("the message breaks ISDS's rules: {rule}"), None).await
        }
        Err(IsdsError::NotFound) => not_sent(databox, &subject, &request, "ISDS does not know the box", None).await,
        Err(error) => Err(error.into()),
    }
}

/// Records the sent message (create-only), logs it for the citizen, tells them.
async fn record_sent(
    databox: &Databox,
    subject: &SubjectId,
    request: &OutgoingDataMessage,
    message_id: &MessageId,
) -> Result<(), OnBehalfError> {
    let mut now = databox.clock.now();
    let doc = NewDocument::new(
        subject.as_str(),
        sent_id(&request.request_id),
        json!({"type": "sent-on-behalf", "requestId": request.request_id, "messageId": message_id.as_str(),
               "source": request.source, "recipient": request.recipient_box_id,
               "sentAt": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()}),
    );
    match databox.documents.create(COLLECTION, doc).await {
        Ok(_) => {
            let entry = AccessEntry::new(
                Actor::System { job: FUNCTION.into() },
                Action::Create,
                "data-message",
                message_id.as_str(),
                &format!("odeslání datové zprávy z vaší schránky na váš pokyn ({})", request.source),
            );
            databox.access_log.record(subject, entry).await?;
        }
        Err(StoreError::Conflict) => {
            // Recorded by an earlier delivery: its time is the one reported.
            if let Some(sent) =
                databox.documents.get(COLLECTION, subject.as_str(), &sent_id(&request.request_id)).await?
                && let Some(at) = sent.body["sentAt"]
                    .as_str()
                    .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
            {
                now = at;
            }
        }
        Err(error) => return Err(error.into()),
    }
    announce_sent(databox, subject, request, message_id.as_str(), Some(now)).await
}

async fn announce_sent(
    databox: &Databox,
    subject: &SubjectId,
    request: &OutgoingDataMessage,
    message_id: &str,
    sent_at: Option<OffsetDateTime>,
) -> Result<(), OnBehalfError> {
    let notice = Notice::DataMessageSent(DataMessageSent {
        request_id: request.request_id.clone(),
        message_id: message_id.to_owned(),
        source: request.source.clone(),
        recipient: request.recipient_box_id.clone(),
        subject: request.subject.clone(),
        simulated: databox.settings.simulated,
    });
    publish_notice(databox.queues.as_ref(), &notice, &request.request_id, subject.as_str(), databox.clock.now())
        .await?;
    let outcome = DataMessageOutcome {
        request_id: request.request_id.clone(),
        source: request.source.clone(),
        recipient_box_id: request.recipient_box_id.clone(),
        sent: true,
        message_id: Some(message_id.to_owned()),
        delivered_at: sent_at,
        reason: None,
    };
    reply(databox, subject, request, &outcome).await
}

/// The outcome on the requester's `replyTo` queue, if it named one.
async fn reply(
    databox: &Databox,
    subject: &SubjectId,
    request: &OutgoingDataMessage,
    outcome: &DataMessageOutcome,
) -> Result<(), OnBehalfError> {
    let Some(queue) = &request.reply_to else { return Ok(()) };
    let data = serde_json::to_value(outcome).map_err(|e| OnBehalfError::Malformed(e.to_string()))?;
    let event =
        Event::new(kinds::DATA_MESSAGE_OUTCOME, &request.request_id, subject.as_str(), databox.clock.now(), data);
    publish(databox.queues.as_ref(), queue, &event).await?;
    Ok(())
}

/// Tells the citizen the message was not sent; the request is done.
async fn not_sent(
    databox: &Databox,
    subject: &SubjectId,
    request: &OutgoingDataMessage,
    reason: &str,
    errors: Option<Value>,
) -> Result<Outcome, OnBehalfError> {
    let notice = Notice::DataMessageNotSent(DataMessageNotSent {
        request_id: request.request_id.clone(),
        source: request.source.clone(),
        recipient: request.recipient_box_id.clone(),
        subject: request.subject.clone(),
        reason: reason.to_owned(),
        errors,
    });
    publish_notice(databox.queues.as_ref(), &notice, &request.request_id, subject.as_str(), databox.clock.now())
        .await?;
    let outcome = DataMessageOutcome {
        request_id: request.request_id.clone(),
        source: request.source.clone(),
        recipient_box_id: request.recipient_box_id.clone(),
        sent: false,
        message_id: None,
        delivered_at: None,
        reason: Some(reason.to_owned()),
    };
    reply(databox, subject, request, &outcome).await?;
    tracing::warn!(source = %request.source, reason, "a data message requested by another capability was not sent");
    Ok(Outcome::done().log(format!("not sent: {reason}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_request_ids_are_hashed_to_fit_isds() {
        let short = "petition-0123456789abcdef0123456789abcdef";
        assert_eq!(sender_ref_number(short), short);
        let long = "x".repeat(51);
        let hashed = sender_ref_number(&long);
        assert_eq!(hashed.chars().count(), 44);
        assert_ne!(hashed, sender_ref_number(&"x".repeat(52)));
        assert_eq!(sent_id(short), format!("sent-{short}"));
        assert_eq!(sending_id("a/b").len(), "sending-".len() + 64, "not store-safe: hashed");
    }
}
