//! My data (Údaje): what the population register (ROB) holds about the
//! citizen, and for entrepreneurs what the register of persons (ROS) holds.
//!
//! The answer is cached briefly ([`crate::RegistersSettings::cache_ttl`],
//! 5 minutes by default) so that moving around the portal does not ask the
//! registers again and again: one document `cache-registers` in the
//! citizen's partition, the data sealed with their key, expiring by TTL.
//! Every fetch goes to the access log, cache hits included.
//!
//! **Calendar.** Each identity document with an expiry date becomes a
//! `CalendarEntry` (kind `document-expiry`) on the calendar's queue whenever
//! the data is fetched fresh from the register (not on cache hits). Its
//! entry id is fixed by document type and number, so a new fetch replaces
//! the entry rather than adding one; [`refresh_calendar`] does the same at
//! login.
//!
//! **Facts.** Each fresh fetch also tells, on `portal_events::CITIZEN_FACTS_QUEUE`,
//! whether the citizen is an entrepreneur (ROS) and whether the population
//! register records a data box of theirs (ROB), for the tiles' visibility
//! rules; nothing else of the record travels.

use base64::Engine as _;
use portal_events::{CalendarEntry, Event};
use portal_host::{Failure, Problem};
use portal_security::{AccessEntry, AccessOutcome, Action, Actor, SubjectId};
use portal_store::{NewDocument, StoreError};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::gateway::{EntrepreneurRecord, GatewayError, PersonRecord, RequestId};
use crate::{COLLECTION, Registers};

pub(crate) const CACHE_ID: &str = "cache-registers";
pub(crate) const CACHE_FIELD: &str = "registers";
/// The event kind of the calendar entries this capability publishes.
pub const DOCUMENT_EXPIRY: &str = "registers.document-expiry";

/// The citizen's register data, as `GET /api/me/registers` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyRegisters {
    pub person: PersonRecord,
    /// Only for entrepreneurs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrepreneur: Option<EntrepreneurRecord>,
    #[serde(with = "time::serde::rfc3339")]
    pub fetched_at: OffsetDateTime,
}

#[derive(Debug, thiserror::Error)]
pub enum MyDataError {
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] portal_crypto::CryptoError),
}

/// A gateway outage, a throttled store or key service can pass; the rest is
/// answered as the gateway's problem, 503 `storage`, or 500.
impl Failure for MyDataError {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Gateway(error) => Failure::is_retryable(error),
            Self::Store(error) => error.is_retryable(),
            Self::Crypto(error) => error.is_retryable(),
        }
    }

    fn problem(&self) -> Problem {
        match self {
            Self::Gateway(error) => error.problem(),
            Self::Store(_) => Problem::unavailable("storage"),
            Self::Crypto(error) if error.is_retryable() => Problem::unavailable("the key service"),
            Self::Crypto(_) => Problem::internal(),
        }
    }
}

/// Who is reading, for the access log.
#[derive(Debug, Clone)]
pub enum Reader {
    Citizen,
    /// A job or a login hook, by name.
    System(&'static str),
}

/// The citizen's data: from the cache if fresh, else from the registers
/// (then cached, and the calendar fed). Returns the data and whether it came
/// from the cache.
pub async fn my_registers(
    registers: &Registers,
    subject: &SubjectId,
    reader: Reader,
) -> Result<(MyRegisters, bool), MyDataError> {
    if let Some(cached) = cached(registers, subject).await {
        log(registers, subject, &reader, "zobrazení mých údajů z registrů (z mezipaměti portálu)", true).await?;
        return Ok((cached, true));
    }
    let fresh = fetch_fresh(registers, subject, &reader).await?;
    Ok((fresh, false))
}

/// Asks the registers again, caches the answer and sends the identity
/// documents' expiry dates to the calendar. Call it at login so reminders
/// follow the register (the access log names `job`).
pub async fn refresh_calendar(registers: &Registers, subject: &SubjectId) -> Result<usize, MyDataError> {
    // The calendar entries' ids are fixed by document type and number, so a
    // repeated refresh (a replayed sign-in) changes nothing there.
    let fresh = fetch_fresh(registers, subject, &Reader::System("RefreshCalendar")).await?;
    Ok(fresh.person.identity_documents.iter().filter(|d| d.expires_on.is_some()).count())
}

/// The queue function `RefreshOnSignIn` (`portal_events::SIGNED_IN_QUEUE`):
/// a citizen signed in, so their identity documents are fetched and their
/// expiries dated in the calendar. Idempotent (see [`refresh_calendar`]). A
/// person the registers do not know is acknowledged (nothing to date); a
/// gateway outage is retried by the host.
pub async fn refresh_on_sign_in(
    registers: &Registers,
    event: &portal_events::Event,
) -> Result<portal_host::Outcome, portal_host::InvocationError> {
    use portal_host::{InvocationError, Outcome};
    let subject = SubjectId::parse(event.subject.clone())
        .map_err(|_| InvocationError::permanent("the event's subject is not a subject id"))?;
    match refresh_calendar(registers, &subject).await {
        Ok(documents) => Ok(Outcome::done().log(format!("{documents} identity documents with an expiry dated"))),
        Err(MyDataError::Gateway(GatewayError::NotFound)) => {
            Ok(Outcome::done().log("the registers hold no record of this person"))
        }
        Err(error) => Err(error.into()),
    }
}

async fn fetch_fresh(registers: &Registers, subject: &SubjectId, reader: &Reader) -> Result<MyRegisters, MyDataError> {
    let request = RequestId::random();
    let person = registers.gateway.person(&request, subject).await;
    let entrepreneur = match &person {
        Ok(_) => match registers.gateway.entrepreneur(&request, subject).await {
            Ok(record) => Ok(Some(record)),
            Err(GatewayError::NotFound) => Ok(None),
            Err(error) => Err(error),
        },
        Err(_) => Ok(None),
    };
    let ok = person.is_ok() && entrepreneur.is_ok();
    log(registers, subject, reader, "zobrazení mých údajů z registru obyvatel a registru osob", ok).await?;
    let data = MyRegisters { person: person?, entrepreneur: entrepreneur?, fetched_at: registers.clock.now() };
    publish_expiries(registers, subject, &data.person).await?;
    publish_facts(registers, subject, &data).await?;
    if let Err(error) = store_cache(registers, subject, &data).await {
        // The data is served anyway; the next request asks the registers again.
        tracing::warn!(error = %error, "the register data could not be cached");
    }
    Ok(data)
}

async fn log(
    registers: &Registers,
    subject: &SubjectId,
    reader: &Reader,
    purpose: &str,
    ok: bool,
) -> Result<(), StoreError> {
    let actor = match reader {
        Reader::Citizen => Actor::Citizen,
        Reader::System(job) => Actor::System { job: (*job).to_owned() },
    };
    let mut entry = AccessEntry::new(actor, Action::Read, "register-data", "rob", purpose);
    if !ok {
        entry = entry.with_outcome(AccessOutcome::Failed);
    }
    registers.access_log.record(subject, entry).await
}

/// What other capabilities' rules ask about the citizen (the tiles'
/// "entrepreneur" and "has a data box"), as the registers just answered.
async fn publish_facts(registers: &Registers, subject: &SubjectId, data: &MyRegisters) -> Result<(), StoreError> {
    use portal_events::{CITIZEN_FACTS_QUEUE, CitizenFact, kinds};
    let facts =
        [(kinds::ENTREPRENEUR, data.entrepreneur.is_some()), (kinds::DATA_BOX, data.person.data_box_id.is_some())];
    for (kind, holds) in facts {
        let event = CitizenFact { holds }.event(kind, subject.as_str(), data.fetched_at);
        portal_events::publish(registers.queues.as_ref(), CITIZEN_FACTS_QUEUE, &event).await?;
    }
    Ok(())
}

/// The cached data, if there is a readable, unexpired copy.
async fn cached(registers: &Registers, subject: &SubjectId) -> Option<MyRegisters> {
    let doc = match registers.documents.get(COLLECTION, subject.as_str(), CACHE_ID).await {
        Ok(doc) => doc?,
        Err(error) => {
            tracing::warn!(error = %error, "the register cache could not be read; asking the registers");
            return None;
        }
    };
    let sealed = base64::engine::general_purpose::STANDARD.decode(doc.body["sealed"].as_str()?).ok()?;
    let plain = registers.sealer.decrypt(subject.as_str(), CACHE_ID, CACHE_FIELD, &sealed).await.ok()?;
    serde_json::from_slice(&plain).ok()
}

async fn store_cache(registers: &Registers, subject: &SubjectId, data: &MyRegisters) -> Result<(), MyDataError> {
    let plain = serde_json::to_vec(data).map_err(|e| StoreError::Invalid(e.to_string()))?;
    let sealed = registers.sealer.encrypt(subject.as_str(), CACHE_ID, CACHE_FIELD, &plain).await?;
    let body = serde_json::json!({
        "type": "registers-cache",
        "sealed": base64::engine::general_purpose::STANDARD.encode(sealed),
    });
    let doc = NewDocument::new(subject.as_str(), CACHE_ID, body).with_ttl(registers.settings.cache_ttl);
    registers.documents.upsert(COLLECTION, doc, None).await?;
    Ok(())
}

/// The calendar entries of a person's identity documents. The calendar
/// keeps the entry id and source reference in clear, so they name the
/// document by `reference` (a keyed hash of its number), never the number.
pub fn expiry_entries(person: &PersonRecord, reference: impl Fn(&str) -> String) -> Vec<CalendarEntry> {
    person
        .identity_documents
        .iter()
        .filter_map(|document| {
            let date = document.expires_on?;
            let number = reference(&document.number);
            Some(CalendarEntry {
                entry_id: format!("document-expiry-{}-{number}", document.kind.as_str()),
                kind: "document-expiry".into(),
                // The kind only: the title travels to the calendar and its feed, never the number.
                title: format!("Končí platnost dokladu: {}", document.kind.czech_name()),
                date,
                document: Some(document.kind.as_str().to_owned()),
                source: "registers".into(),
                source_ref: number,
                cancelled: false,
            })
        })
        .collect()
}

async fn publish_expiries(
    registers: &Registers,
    subject: &SubjectId,
    person: &PersonRecord,
) -> Result<(), MyDataError> {
    let now = registers.clock.now();
    let mut references = std::collections::BTreeMap::new();
    for document in &person.identity_documents {
        let keyed = registers
            .sealer
            .blind_index(subject.as_str(), "identity-document-number", document.number.as_bytes())
            .await?;
        references.insert(document.number.clone(), keyed);
    }
    let reference = |number: &str| references.get(number).cloned().unwrap_or_default();
    for entry in expiry_entries(person, reference) {
        let key = format!("{}:{}", entry.entry_id, entry.date);
        let data = serde_json::to_value(&entry).map_err(|e| StoreError::Invalid(e.to_string()))?;
        let event = Event::new(DOCUMENT_EXPIRY, &key, subject.as_str(), now, data);
        portal_events::publish(registers.queues.as_ref(), portal_events::CALENDAR_QUEUE, &event).await?;
    }
    Ok(())
}
