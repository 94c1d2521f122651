//! **Simulated ISDS** — a deterministic, clock-driven stand-in for the data box
//! information system (Informační systém datových schránek), for local mode
//! and tests. Nothing here reaches the real ISDS, and nothing it produces has
//! any legal effect:
//!
//! - every box owner, address and document it invents is fictional (the
//!   offices and the company sit in the made-up town of Horní Lhota and carry
//!   "(simulace)" in their names; the demo citizens are the dev identity
//!   provider's made-up people);
//! - the ZFO it returns is signed by the simulator's own CA, not by ISDS
//!   ([`super::zfo_sign`], every name labelled SIMULATED): a CMS signature
//!   with a time stamp over the ASCII marker [`SIMULATED_ZFO_MARKER`]
//!   followed by a JSON rendering of the message.
//!
//! It behaves as ISDS does as far as the portal can see it
//! (`czech-egov-domain.md` §1), with time taken from the injected [`Clock`]:
//!
//! - **delivery (doručení)**: a message in status 4 (dodána) becomes 6
//!   (doručena přihlášením) when a person authorised to read the box logs in
//!   to it ([`IsdsSimulator::simulate_login`], the web login), or, over the web
//!   services, when it is downloaded (`SignedMessageDownload`) or marked
//!   downloaded (`MarkMessageAsDownloaded`). Listing envelopes, state changes,
//!   box, credit and vault information, search and sending deliver nothing.
//!   Every call is recorded with its box and caller ([`IsdsSimulator::calls`]),
//!   and with the messages it delivered, so a test fails if a timer or queue
//!   function delivers ([`IsdsSimulator::deliveries_by_jobs`]).
//!   If nobody logs in, the message becomes 5 (doručena fikcí) at 00:00
//!   Prague time of the tenth day after the day of dodání
//!   ([`crate::delivery::deemed_delivery_at`], § 17 odst. 4 zákona
//!   300/2008 Sb.), unless the sender turned substitute delivery off (the
//!   simulated court). Downloading a received message in 4/5/6 makes it 7
//!   (přečtena).
//! - **deletion**: 90 days after `acceptance_time` the content is deleted
//!   (status 9): the envelope stays listed, downloading answers
//!   [`IsdsError::NotFound`]. Infected (3) and undeliverable (8) messages are
//!   deleted 90 days after submission. Messages in the data vault (10) stay.
//! - **big messages (VoDZ)**: `UploadAttachment` keeps a file for its box
//!   under an id (`sim-att-N`) with two hashes (SHA-256 and SHA-512, chosen
//!   here: ISDS does not say which it uses) for [`UPLOAD_KEPT_FOR`];
//!   `CreateBigMessage` takes the files by id and hashes, once, and files the
//!   message as `CreateMessage` does, marked `big` (`dmVODZ`). Each file and
//!   the message together may have [`SimulatorSettings::max_message_bytes`]
//!   (100 MB, `czech-egov-domain.md` §1.7); `CreateMessage` at most 20 MB of
//!   it. The standard downloads refuse a big message and the big ones a
//!   standard message.
//! - These transitions are computed lazily from the clock on every call and
//!   recorded with the moment they happened, so [`Isds::state_changes`] reports
//!   them deterministically. Statuses 1 and 2 are not advanced: the seeded
//!   messages in those statuses stay as examples.
//!
//! ## Refusal codes
//!
//! `send_message` answers [`IsdsError::Refused`] with these codes. Those taken
//! from libdatovka's notes on the ISDS web services are marked; the others are
//! **simulated** (plausible, not confirmed against ISDS):
//!
//! | code | when | source |
//! |---|---|---|
//! | `1004` | the sending box is not accessible | libdatovka ("Operation not permitted") |
//! | `1214` | a file name without an allowed extension, a blacklisted MIME type, or a recipient box that cannot receive | libdatovka (files), port docs (recipient) |
//! | `1216` | the recipient does not accept commercial messages | simulated |
//! | `1217` | a non-commercial message between two boxes that are not public authorities | simulated |
//! | `1225` | not enough credit for a commercial message | simulated |
//! | `2010` | the first file is not the only `main` one | libdatovka |
//! | `2032` | no file | libdatovka |
//! | `5001` | the recipient box does not exist | libdatovka (`FindDataBox`) |
//! | `9005` | more than 50 files, too large, or an envelope field too long or empty | libdatovka ("Message not valid") |
//! | `9005` | VoDZ: an unknown, expired or used attachment id, hashes that do not match, a file of the wrong size; a standard download of a big message or the other way round | simulated (ISDS's codes for these are not published where we looked) |

use std::collections::BTreeMap;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};

use async_trait::async_trait;
use base64::Engine as _;
use bytes::Bytes;
use portal_store::Clock;
use time::{Duration, OffsetDateTime};
use tracing::instrument;

use super::{
    Attachment, AttachmentHash, AttachmentUpload, BigFile, BoxId, BoxInfo, BoxSearch, BoxState, CreditEvent,
    CreditInfo, Direction, FileMetaType, Isds, IsdsError, IsdsResult, ListQuery, MessageEnvelope, MessageId,
    MessageStatus, OutgoingMessage, SignedMessage, StateChange, UploadedAttachment, VaultInfo,
};
use super::{BoxContext, Caller, Content, DeliveredMessage, PersonQuery, ReceivedFile, SessionContext, Stash};
use crate::box_requests::{BoxManagement, BoxOwner, CreationStatus};

/// How long the simulated ISDS takes to create a requested box (short, so
/// that in local mode a demo citizen sees it created while trying it).
pub const BOX_CREATION_TAKES: Duration = Duration::minutes(5);
use crate::delivery::deemed_delivery_at;

/// The demo citizens' boxes: (`PersonIdentifier` given by the dev identity
/// provider, box id). Jana Nováková: FO, accessible, 50 Kč credit, a prepaid
/// vault and messages in every status. Jiří Dvořák: PFO, accessible, no
/// credit, refuses commercial messages. Ludmila Šťastná Zdarská: FO, not yet
/// active (state 3) until she logs in.
pub const DEMO_BOXES: &[(&str, &str)] =
    &[("DEMO/jana-novakova", JANA_BOX), ("DEMO/jiri-dvorak", JIRI_BOX), ("DEMO/ludmila-stastna-zdarska", LUDMILA_BOX)];

/// Městský úřad Horní Lhota (simulace): OVM, type 10.
pub const MUNICIPAL_OFFICE_BOX: &str = "simmuhl";
/// Finanční úřad pro Simulovaný kraj (simulace): OVM, type 10.
pub const TAX_OFFICE_BOX: &str = "simfuhl";
/// Česká správa sociálního zabezpečení (simulace): OVM, type 10.
pub const CSSZ_BOX: &str = "simcssz";
/// Okresní soud v Horní Lhotě (simulace): OVM, type 10; its messages do not
/// allow substitute delivery, so they are never deemed delivered.
pub const COURT_BOX: &str = "simoshl";
/// Energie Horní Lhota s.r.o. (simulace): PO, type 20, accepts commercial messages.
pub const COMPANY_BOX: &str = "simenhl";
/// Dvořák stavby s.r.o. (simulace): PO, type 20, the company whose managing
/// director (jednatel) Jiří Dvořák is in the simulated register of persons;
/// found by its IČO ([`DVORAK_COMPANY_ICO`]).
pub const DVORAK_COMPANY_BOX: &str = "simdvst";
/// The IČO of Dvořák stavby s.r.o. in the simulated registers.
pub const DVORAK_COMPANY_ICO: &str = "27074358";
/// The ISDS system box: notices from the operator come from it.
pub const SYSTEM_BOX: &str = "zzzzzzq";

/// The first bytes of every "ZFO" the simulator returns, so that nobody takes
/// it for a signed one.
pub const SIMULATED_ZFO_MARKER: &[u8] = b"SIMULATED-ZFO";

const JANA_BOX: &str = "sim4jan";
/// Jana Nováková's simulated box, for tests.
pub const JANA_BOX_FOR_TESTS: &str = JANA_BOX;
const JIRI_BOX: &str = "sim4jir";
const LUDMILA_BOX: &str = "sim4lud";

/// vyhláška 194/2009 Sb. §6: content is deleted 90 days after delivery.
const CONTENT_KEPT_FOR: Duration = Duration::days(90);
const MAX_ATTACHMENTS: usize = 50;
const MAX_SUBJECT_CHARS: usize = 255;
const MAX_REFERENCE_CHARS: usize = 50;
const MIN_SEARCH_CHARS: usize = 3;
/// ISDS's default page size for message lists.
const DEFAULT_LIST_LIMIT: usize = 1000;
const FIRST_MESSAGE_NUMBER: u64 = 1_000_000_001;
/// SIMULATED: how long an uploaded VoDZ file waits for its `CreateBigMessage`
/// (ISDS keeps them for a limited time; its length is not published where we
/// looked).
pub const UPLOAD_KEPT_FOR: Duration = Duration::hours(24);

// The formats and MIME blacklist are the validator's: one list of ISDS's rules.
use crate::validate::{ALLOWED_EXTENSIONS, BLOCKED_MIME_TYPES as BLACKLISTED_MIME_TYPES};

mod code {
    pub const NOT_PERMITTED: &str = "1004";
    pub const CANNOT_DELIVER: &str = "1214";
    pub const COMMERCIAL_NOT_ACCEPTED: &str = "1216";
    pub const COMMERCIAL_REQUIRED: &str = "1217";
    pub const INSUFFICIENT_CREDIT: &str = "1225";
    pub const FIRST_FILE_NOT_MAIN: &str = "2010";
    pub const NO_FILE: &str = "2032";
    pub const NO_SUCH_BOX: &str = "5001";
    pub const NOT_VALID: &str = "9005";
}

/// Limits and prices of the simulated ISDS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SimulatorSettings {
    /// Largest total size of a message's files, in bytes: 100 MB since 2024
    /// (`czech-egov-domain.md` §1.7), a big message's (VoDZ) and each of its
    /// files. `CreateMessage` takes at most 20 MB of it
    /// ([`crate::STANDARD_MESSAGE_BYTES`]).
    pub max_message_bytes: u64,
    /// Price of one commercial message (poštovní datová zpráva), in hellers.
    pub commercial_price_hellers: i64,
}

impl Default for SimulatorSettings {
    fn default() -> Self {
        Self { max_message_bytes: crate::ISDS_MESSAGE_LIMIT_BYTES, commercial_price_hellers: 1000 }
    }
}

/// The simulated ISDS. See the module documentation.
pub struct IsdsSimulator {
    clock: Arc<dyn Clock>,
    settings: SimulatorSettings,
    state: Mutex<State>,
}

impl fmt::Debug for IsdsSimulator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("IsdsSimulator")
            .field("clock", &self.clock)
            .field("settings", &self.settings)
            .field("boxes", &state.boxes.len())
            .field("messages", &state.messages.len())
            .finish()
    }
}

#[derive(Debug)]
struct State {
    boxes: BTreeMap<BoxId, SimBox>,
    messages: Vec<SimMessage>,
    next_message_number: u64,
    /// VoDZ files uploaded and not yet used, by `dmAttID`.
    uploads: BTreeMap<String, SimUpload>,
    next_upload_number: u64,
    calls: Vec<IsdsCall>,
    /// Requests to create a box, by the portal's request id.
    box_requests: BTreeMap<String, SimBoxRequest>,
}

#[derive(Debug, Clone)]
struct SimBoxRequest {
    person: String,
    owner_name: String,
    submitted_at: OffsetDateTime,
    outcome: Option<CreationStatus>,
}

/// One call the simulator answered: the ISDS operation (or `web login`), the
/// box it acted on, who acted, and the messages it delivered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IsdsCall {
    pub operation: &'static str,
    pub box_id: BoxId,
    pub caller: Caller,
    pub delivered: Vec<MessageId>,
}

#[derive(Debug)]
struct SimBox {
    info: BoxInfo,
    /// The dev identity provider's `PersonIdentifier` of the owner.
    person: Option<String>,
    /// A personal box's owner's date of birth (FindPersonalDataBox).
    birth_date: Option<time::Date>,
    /// A legal person's IČO (FindDataBox by IČO).
    ico: Option<&'static str>,
    credit_hellers: i64,
    /// Every change of the credit, oldest first.
    credit_history: Vec<CreditEvent>,
    vault: Option<Vault>,
    /// Whether messages this box sends allow substitute (deemed) delivery.
    allows_subst_delivery: bool,
}

#[derive(Debug, Clone, Copy)]
struct Vault {
    capacity: u32,
    valid_from: OffsetDateTime,
    valid_to: OffsetDateTime,
}

/// A file `UploadAttachment` took, waiting for its `CreateBigMessage`.
#[derive(Debug)]
struct SimUpload {
    box_id: BoxId,
    name: String,
    mime_type: String,
    content: Bytes,
    hashes: (AttachmentHash, AttachmentHash),
    uploaded_at: OffsetDateTime,
}

#[derive(Debug)]
struct SimMessage {
    envelope: MessageEnvelope,
    submitted_at: OffsetDateTime,
    attachments: Vec<Attachment>,
    history: Vec<StateChange>,
}

impl IsdsSimulator {
    /// The simulated boxes (demo citizens, offices, a court, a company and the
    /// system box) with their credit, and no messages.
    pub fn new(clock: Arc<dyn Clock>, settings: SimulatorSettings) -> Self {
        let now = clock.now();
        let state = State {
            boxes: simulated_boxes(now),
            messages: Vec::new(),
            next_message_number: FIRST_MESSAGE_NUMBER,
            uploads: BTreeMap::new(),
            next_upload_number: 1,
            calls: Vec::new(),
            box_requests: BTreeMap::new(),
        };
        Self { clock, settings, state: Mutex::new(state) }
    }

    /// [`Self::new`] plus demo messages dated relative to the clock's now:
    /// Jana Nováková has received messages in every status 1–10 (among them
    /// two undelivered ones 7 and 8 days old, one read 85 days ago, a
    /// commercial one and a court summons without substitute delivery) and
    /// sent messages; Jiří Dvořák has two, and so has his company Dvořák
    /// stavby s.r.o.
    pub fn seeded(clock: Arc<dyn Clock>, settings: SimulatorSettings) -> Self {
        let simulator = Self::new(clock, settings);
        let base = simulator.clock.now();
        {
            let mut state = simulator.lock();
            for (index, spec) in SEED_MESSAGES.iter().enumerate() {
                seed_message(&mut state, base, index, spec);
            }
        }
        simulator
    }

    /// The box of a demo citizen, by the dev identity provider's `PersonIdentifier`.
    pub fn box_of_person(&self, person_identifier: &str) -> Option<BoxId> {
        let state = self.lock();
        state.boxes.values().find(|b| b.person.as_deref() == Some(person_identifier)).map(|b| b.info.id.clone())
    }

    /// An authorised person logs in to the box on the web: every message in
    /// status 4 is delivered (6, doručena přihlášením) now, and a box that is
    /// not yet active becomes accessible (as a box does at its first login).
    pub fn simulate_login(&self, box_id: &BoxId) -> IsdsResult<()> {
        let now = self.clock.now();
        let mut state = self.refreshed(now);
        let sim_box = state.boxes.get_mut(box_id).ok_or(IsdsError::NotFound)?;
        if sim_box.info.state == BoxState::NotYetActive {
            sim_box.info.state = BoxState::Accessible;
        }
        let mut delivered = Vec::new();
        for message in state.messages.iter_mut().filter(|m| &m.envelope.recipient_box == box_id) {
            if message.accept_by_login(now) {
                delivered.push(message.envelope.id.clone());
            }
        }
        state.calls.push(IsdsCall {
            operation: "web login",
            box_id: box_id.clone(),
            caller: Caller::Citizen,
            delivered,
        });
        Ok(())
    }

    /// Every call answered so far, oldest first.
    pub fn calls(&self) -> Vec<IsdsCall> {
        self.lock().calls.clone()
    }

    /// The calls of timer or queue functions that delivered a message: must
    /// stay empty (no job may cause legal delivery).
    pub fn deliveries_by_jobs(&self) -> Vec<IsdsCall> {
        self.lock()
            .calls
            .iter()
            .filter(|c| matches!(c.caller, Caller::Job(_)) && !c.delivered.is_empty())
            .cloned()
            .collect()
    }

    /// A simulated public authority (or the system box) `sender` sends
    /// `message`: it lands in the recipient's box now, status 4. The same
    /// checks as [`Isds::send_message`] apply; it is always a public message.
    pub fn deliver_incoming(&self, sender: &BoxId, message: &OutgoingMessage) -> IsdsResult<MessageId> {
        let now = self.clock.now();
        let mut state = self.refreshed(now);
        let sender_box = state.boxes.get(sender).ok_or(IsdsError::NotFound)?;
        if !is_public_authority(sender_box.info.box_type) && sender_box.info.box_type != 0 {
            return Err(IsdsError::Invalid(format!(
                "deliver_incoming simulates a public authority; box {sender} is of type {}",
                sender_box.info.box_type
            )));
        }
        if message.commercial {
            return Err(IsdsError::Invalid("a public authority does not send commercial messages".into()));
        }
        self.submit(&mut state, sender, message, false, now)
    }

    /// A box's credit, in hellers, without recording a call (for tests).
    pub fn credit_of(&self, box_id: &BoxId) -> Option<i64> {
        self.lock().boxes.get(box_id).map(|b| b.credit_hellers)
    }

    /// Adds credit to a box ("Nabít kredit"), in hellers.
    pub fn top_up_credit(&self, box_id: &BoxId, hellers: i64) -> IsdsResult<()> {
        self.top_up_credit_with(box_id, hellers, None)
    }

    /// Adds credit to a box as the credit system's transaction
    /// `transaction_id`, recorded in the credit history (type 1, charged).
    pub fn top_up_credit_with(&self, box_id: &BoxId, hellers: i64, transaction_id: Option<&str>) -> IsdsResult<()> {
        if hellers <= 0 {
            return Err(IsdsError::Invalid(format!("a top-up must be positive, got {hellers} hellers")));
        }
        let now = self.clock.now();
        let mut state = self.lock();
        let sim_box = state.boxes.get_mut(box_id).ok_or(IsdsError::NotFound)?;
        sim_box.credit_hellers = sim_box.credit_hellers.saturating_add(hellers);
        sim_box.credit_history.push(CreditEvent {
            at: now,
            kind: CreditEvent::CHARGED,
            change_hellers: hellers,
            after_hellers: sim_box.credit_hellers,
            transaction_id: transaction_id.map(str::to_owned),
        });
        Ok(())
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The state with every time-driven transition up to `now` applied.
    fn refreshed(&self, now: OffsetDateTime) -> MutexGuard<'_, State> {
        let mut state = self.lock();
        for message in &mut state.messages {
            message.advance(now);
        }
        state
    }

    /// Checks `message` as ISDS does and, if it passes, puts it into the
    /// recipient's box now (status 4), charging credit for a commercial one.
    /// `big`: a VoDZ (`CreateBigMessage`), up to the whole limit; otherwise a
    /// standard message, up to 20 MB of it.
    fn submit(
        &self,
        state: &mut State,
        sender: &BoxId,
        message: &OutgoingMessage,
        big: bool,
        now: OffsetDateTime,
    ) -> IsdsResult<MessageId> {
        let sender_box = state.boxes.get(sender).ok_or(IsdsError::NotFound)?;
        if sender_box.info.state != BoxState::Accessible {
            return Err(refused(code::NOT_PERMITTED, "Schránka odesílatele není zpřístupněna, zprávu nelze odeslat."));
        }
        check_envelope(message)?;
        let limit = if big {
            self.settings.max_message_bytes
        } else {
            self.settings.max_message_bytes.min(crate::STANDARD_MESSAGE_BYTES)
        };
        let size_bytes = check_attachments(&message.attachments, limit)?;
        let recipient_box = state.boxes.get(&message.recipient).ok_or_else(|| {
            refused(code::NO_SUCH_BOX, format!("Schránka adresáta {} neexistuje.", message.recipient))
        })?;
        if recipient_box.info.state != BoxState::Accessible || recipient_box.info.box_type == 0 {
            return Err(refused(
                code::CANNOT_DELIVER,
                format!("Schránka adresáta {} není zpřístupněna, zprávu do ní nelze dodat.", message.recipient),
            ));
        }

        let public = is_public_authority(sender_box.info.box_type)
            || sender_box.info.box_type == 0
            || is_public_authority(recipient_box.info.box_type);
        let price = if public {
            0
        } else if !message.commercial {
            return Err(refused(
                code::COMMERCIAL_REQUIRED,
                "Mezi schránkami, které nejsou schránkami orgánů veřejné moci, lze poslat jen poštovní datovou zprávu.",
            ));
        } else if !recipient_box.info.open_addressing {
            return Err(refused(code::COMMERCIAL_NOT_ACCEPTED, "Adresát nepřijímá poštovní datové zprávy."));
        } else if sender_box.credit_hellers < self.settings.commercial_price_hellers {
            return Err(refused(
                code::INSUFFICIENT_CREDIT,
                format!(
                    "Nedostatečný kredit pro odeslání poštovní datové zprávy: cena {} hal., kredit {} hal.",
                    self.settings.commercial_price_hellers, sender_box.credit_hellers
                ),
            ));
        } else {
            self.settings.commercial_price_hellers
        };

        let (sender_name, sender_address) = (sender_box.info.owner_name.clone(), sender_box.info.address.clone());
        let allow_subst_delivery = sender_box.allows_subst_delivery;
        let (recipient_name, recipient_address) =
            (recipient_box.info.owner_name.clone(), recipient_box.info.address.clone());
        let envelope = MessageEnvelope {
            id: state.next_message_id(),
            sender_box: sender.clone(),
            sender_name,
            sender_address,
            recipient_box: message.recipient.clone(),
            recipient_name,
            recipient_address,
            subject: message.subject.clone(),
            sender_ref_number: message.sender_ref_number.clone(),
            sender_ident: message.sender_ident.clone(),
            recipient_ref_number: message.recipient_ref_number.clone(),
            recipient_ident: message.recipient_ident.clone(),
            to_hands: message.to_hands.clone(),
            personal_delivery: message.personal_delivery,
            allow_subst_delivery,
            status: MessageStatus::Submitted,
            message_type: Some(if price > 0 { "K" } else { "V" }.to_owned()),
            delivery_time: None,
            acceptance_time: None,
            attachment_size_kb: size_bytes.div_ceil(1024),
            big,
        };
        if let Some(sender_box) = state.boxes.get_mut(sender)
            && price > 0
        {
            sender_box.credit_hellers -= price;
            let after_hellers = sender_box.credit_hellers;
            sender_box.credit_history.push(CreditEvent {
                at: now,
                kind: CreditEvent::MESSAGE_SENT,
                change_hellers: -price,
                after_hellers,
                transaction_id: None,
            });
        }
        let mut stored =
            SimMessage { envelope, submitted_at: now, attachments: message.attachments.clone(), history: vec![] };
        stored.record(MessageStatus::Submitted, now);
        stored.record(MessageStatus::Stamped, now);
        stored.envelope.delivery_time = Some(now);
        stored.record(MessageStatus::Delivered, now);
        let id = stored.envelope.id.clone();
        state.messages.push(stored);
        Ok(id)
    }
}

#[async_trait]
impl Isds for IsdsSimulator {
    /// The simulated CA that signs the simulator's ZFOs (SIMULATED).
    fn zfo_trust(&self) -> super::zfo_verify::TrustAnchors {
        super::zfo_sign::simulated_signer().anchors()
    }

    #[instrument(skip_all)]
    async fn list_messages(
        &self,
        ctx: &BoxContext,
        direction: Direction,
        query: &ListQuery,
    ) -> IsdsResult<Vec<MessageEnvelope>> {
        let box_id = ctx.box_id();
        let mut state = self.refreshed(self.clock.now());
        let operation = match direction {
            Direction::Received => "GetListOfReceivedMessages",
            Direction::Sent => "GetListOfSentMessages",
        };
        state.record_call(operation, ctx, Vec::new());
        state.existing_box(box_id)?;
        let mut found: Vec<&SimMessage> = state
            .messages
            .iter()
            .filter(|m| m.belongs_to(box_id, direction))
            .filter(|m| query.from.is_none_or(|from| m.listing_time() >= from))
            .filter(|m| query.to.is_none_or(|to| m.listing_time() <= to))
            .filter(|m| query.statuses.is_empty() || query.statuses.contains(&m.envelope.status))
            .collect();
        found.sort_by(|a, b| b.listing_time().cmp(&a.listing_time()).then_with(|| b.envelope.id.cmp(&a.envelope.id)));
        let skip = usize::try_from(query.offset.max(1) - 1).unwrap_or(usize::MAX);
        let limit =
            if query.limit == 0 { DEFAULT_LIST_LIMIT } else { usize::try_from(query.limit).unwrap_or(usize::MAX) };
        Ok(found.into_iter().skip(skip).take(limit).map(|m| m.envelope.clone()).collect())
    }

    #[instrument(skip_all)]
    async fn download_message(
        &self,
        ctx: &SessionContext,
        direction: Direction,
        id: &MessageId,
    ) -> IsdsResult<SignedMessage> {
        self.signed_download(ctx.as_box(), direction, id, false)
    }

    /// ISDS does not know what the portal believes: downloading a message
    /// still in status 4 delivers it whoever calls, and the call is recorded
    /// as delivering.
    #[instrument(skip_all)]
    async fn download_delivered(
        &self,
        ctx: &BoxContext,
        message: &DeliveredMessage,
        stash: &Stash,
    ) -> IsdsResult<SignedMessage> {
        let signed = self.signed_download(ctx, Direction::Received, message.id(), message.is_big())?;
        if message.is_big() { stashed(signed, stash).await } else { Ok(signed) }
    }

    #[instrument(skip_all)]
    async fn send_message(&self, ctx: &BoxContext, message: &OutgoingMessage) -> IsdsResult<MessageId> {
        let now = self.clock.now();
        let mut state = self.refreshed(now);
        state.record_call("CreateMessage", ctx, Vec::new());
        self.submit(&mut state, ctx.box_id(), message, false, now)
    }

    /// Reads the whole stream (the simulator keeps files in memory), checks
    /// the declared size and the limit, and keeps the file for the box.
    #[instrument(skip_all)]
    async fn upload_attachment(&self, ctx: &BoxContext, upload: AttachmentUpload) -> IsdsResult<UploadedAttachment> {
        use futures::TryStreamExt as _;
        let AttachmentUpload { name, mime_type, size, content } = upload;
        let limit = self.settings.max_message_bytes;
        let mut buffer = Vec::new();
        let mut stream = content;
        while let Some(chunk) = stream.try_next().await.map_err(|error| IsdsError::Unavailable(Box::new(error)))? {
            if (buffer.len() + chunk.len()) as u64 > limit {
                self.lock().record_call("UploadAttachment", ctx, Vec::new());
                return Err(refused(code::NOT_VALID, format!("Příloha má více než {limit} bajtů (simulace).")));
            }
            buffer.extend_from_slice(&chunk);
        }
        let now = self.clock.now();
        let mut state = self.lock();
        state.record_call("UploadAttachment", ctx, Vec::new());
        let sender = state.existing_box(ctx.box_id())?;
        if sender.info.state != BoxState::Accessible {
            return Err(refused(code::NOT_PERMITTED, "Schránka není zpřístupněna, přílohu nelze nahrát."));
        }
        if buffer.len() as u64 != size || buffer.is_empty() {
            return Err(refused(code::NOT_VALID, "Příloha je prázdná nebo nemá ohlášenou velikost (simulace)."));
        }
        state.uploads.retain(|_, upload| now - upload.uploaded_at < UPLOAD_KEPT_FOR);
        let id = format!("sim-att-{}", state.next_upload_number);
        state.next_upload_number += 1;
        let hashes = upload_hashes(&buffer);
        let uploaded = UploadedAttachment { id: id.clone(), hash1: hashes.0.clone(), hash2: hashes.1.clone() };
        let kept = SimUpload {
            box_id: ctx.box_id().clone(),
            name,
            mime_type,
            content: Bytes::from(buffer),
            hashes,
            uploaded_at: now,
        };
        state.uploads.insert(id, kept);
        Ok(uploaded)
    }

    /// The files must be this box's, uploaded within [`UPLOAD_KEPT_FOR`] and
    /// named with the hashes the upload answered; each is used once, and only
    /// when the message is accepted.
    #[instrument(skip_all)]
    async fn create_big_message(
        &self,
        ctx: &BoxContext,
        message: &OutgoingMessage,
        files: &[BigFile],
    ) -> IsdsResult<MessageId> {
        let now = self.clock.now();
        let mut state = self.refreshed(now);
        state.record_call("CreateBigMessage", ctx, Vec::new());
        let mut attachments = Vec::with_capacity(files.len());
        for file in files {
            let found = state.uploads.get(&file.uploaded.id).filter(|upload| {
                &upload.box_id == ctx.box_id()
                    && now - upload.uploaded_at < UPLOAD_KEPT_FOR
                    && upload.hashes == (file.uploaded.hash1.clone(), file.uploaded.hash2.clone())
            });
            let Some(upload) = found else {
                return Err(refused(
                    code::NOT_VALID,
                    format!(
                        "Příloha {} není v této schránce nahrána, vypršela, byla použita nebo nesouhlasí její \
                         otisk (simulace).",
                        file.uploaded.id
                    ),
                ));
            };
            attachments.push(Attachment {
                name: upload.name.clone(),
                mime_type: upload.mime_type.clone(),
                meta_type: file.meta_type,
                content: upload.content.clone(),
            });
        }
        let big = OutgoingMessage { attachments, ..message.clone() };
        let id = self.submit(&mut state, ctx.box_id(), &big, true, now)?;
        for file in files {
            state.uploads.remove(&file.uploaded.id);
        }
        Ok(id)
    }

    #[instrument(skip_all)]
    async fn download_big_message(
        &self,
        ctx: &SessionContext,
        direction: Direction,
        id: &MessageId,
        stash: &Stash,
    ) -> IsdsResult<SignedMessage> {
        let signed = self.signed_download(ctx.as_box(), direction, id, true)?;
        stashed(signed, stash).await
    }

    #[instrument(skip_all)]
    async fn mark_downloaded(&self, ctx: &SessionContext, id: &MessageId) -> IsdsResult<()> {
        let now = self.clock.now();
        let mut state = self.refreshed(now);
        let result = state.message_mut(ctx.box_id(), Direction::Received, id).map(|m| m.accept_by_login(now));
        let delivered = if matches!(result, Ok(true)) { vec![id.clone()] } else { Vec::new() };
        state.record_call("MarkMessageAsDownloaded", ctx.as_box(), delivered);
        result.map(drop)
    }

    /// Both ends of the range are inclusive; oldest first.
    #[instrument(skip_all)]
    async fn state_changes(
        &self,
        ctx: &BoxContext,
        from: OffsetDateTime,
        to: OffsetDateTime,
    ) -> IsdsResult<Vec<StateChange>> {
        let box_id = ctx.box_id();
        let mut state = self.refreshed(self.clock.now());
        state.record_call("GetMessageStateChanges", ctx, Vec::new());
        state.existing_box(box_id)?;
        let mut changes: Vec<StateChange> = state
            .messages
            .iter()
            .filter(|m| &m.envelope.sender_box == box_id || &m.envelope.recipient_box == box_id)
            .flat_map(|m| m.history.iter())
            .filter(|change| change.at >= from && change.at <= to)
            .cloned()
            .collect();
        changes.sort_by(|a, b| a.at.cmp(&b.at).then_with(|| a.id.cmp(&b.id)).then_with(|| a.status.cmp(&b.status)));
        Ok(changes)
    }

    #[instrument(skip_all)]
    async fn box_info(&self, ctx: &BoxContext) -> IsdsResult<BoxInfo> {
        let mut state = self.lock();
        state.record_call("GetOwnerInfoFromLogin", ctx, Vec::new());
        Ok(state.existing_box(ctx.box_id())?.info.clone())
    }

    #[instrument(skip_all)]
    async fn credit_info(&self, ctx: &BoxContext) -> IsdsResult<CreditInfo> {
        let mut state = self.lock();
        state.record_call("DataBoxCreditInfo", ctx, Vec::new());
        Ok(CreditInfo { current_hellers: state.existing_box(ctx.box_id())?.credit_hellers })
    }

    #[instrument(skip_all)]
    async fn credit_history(&self, ctx: &BoxContext, from: time::Date, to: time::Date) -> IsdsResult<Vec<CreditEvent>> {
        let mut state = self.lock();
        state.record_call("DataBoxCreditInfo", ctx, Vec::new());
        let history = &state.existing_box(ctx.box_id())?.credit_history;
        let day = |at: OffsetDateTime| portal_host::prague::date(at);
        Ok(history.iter().filter(|e| day(e.at) >= from && day(e.at) <= to).cloned().collect())
    }

    #[instrument(skip_all)]
    async fn vault_info(&self, ctx: &BoxContext) -> IsdsResult<VaultInfo> {
        let box_id = ctx.box_id();
        let mut state = self.refreshed(self.clock.now());
        state.record_call("DTInfo", ctx, Vec::new());
        let Some(vault) = state.existing_box(box_id)?.vault else {
            return Ok(VaultInfo { vault_type: 0, capacity: None, used: None, valid_from: None, valid_to: None });
        };
        let used = state
            .messages
            .iter()
            .filter(|m| &m.envelope.recipient_box == box_id && m.envelope.status == MessageStatus::InVault)
            .count();
        Ok(VaultInfo {
            vault_type: 1,
            capacity: Some(vault.capacity),
            used: Some(u32::try_from(used).unwrap_or(u32::MAX)),
            valid_from: Some(vault.valid_from),
            valid_to: Some(vault.valid_to),
        })
    }

    /// The personal boxes (FO 40, PFO 30) whose owner has this name
    /// (diacritics and case aside) and date of birth.
    #[instrument(skip_all)]
    async fn find_personal_boxes(&self, ctx: &BoxContext, person: &PersonQuery) -> IsdsResult<Vec<BoxId>> {
        let mut state = self.lock();
        state.record_call("FindPersonalDataBox", ctx, Vec::new());
        let name = fold(&format!("{} {}", person.first_name.trim(), person.last_name.trim()));
        Ok(state
            .boxes
            .values()
            .filter(|b| matches!(b.info.box_type, 30 | 40))
            .filter(|b| b.birth_date == Some(person.birth_date) && fold(&b.info.owner_name) == name)
            .map(|b| b.info.id.clone())
            .collect())
    }

    /// By id: that box, whatever its type or state (empty if none). By name:
    /// a case- and diacritics-insensitive substring of the owner's name, over
    /// the boxes ISDS lets anyone find that way (not natural persons', not the
    /// system box). By IČO: the legal persons' boxes (type 20) with that IČO.
    #[instrument(skip_all)]
    async fn find_boxes(&self, ctx: &BoxContext, query: &BoxSearch) -> IsdsResult<Vec<BoxInfo>> {
        let mut state = self.lock();
        state.record_call("FindDataBox", ctx, Vec::new());
        match query {
            BoxSearch::Id(id) => Ok(state.boxes.get(id).map(|b| b.info.clone()).into_iter().collect()),
            BoxSearch::Ico(ico) => Ok(state
                .boxes
                .values()
                .filter(|b| b.info.box_type == 20 && b.ico == Some(ico.as_str()))
                .map(|b| b.info.clone())
                .collect()),
            BoxSearch::Name(name) => {
                let name = name.trim();
                if name.chars().count() < MIN_SEARCH_CHARS {
                    return Err(IsdsError::Invalid(format!(
                        "a name search needs at least {MIN_SEARCH_CHARS} characters, got {:?}",
                        name
                    )));
                }
                let needle = fold(name);
                Ok(state
                    .boxes
                    .values()
                    .filter(|b| !matches!(b.info.box_type, 0 | 40))
                    .filter(|b| fold(&b.info.owner_name).contains(&needle))
                    .map(|b| b.info.clone())
                    .collect())
            }
        }
    }
}

/// SIMULATOR: a request is in progress for [`BOX_CREATION_TAKES`] of the
/// clock's time, then the box is created (not yet active, until its first
/// login) or, when the person already has a box, refused. Repeating a
/// request id changes nothing.
#[async_trait]
impl BoxManagement for IsdsSimulator {
    async fn submit(&self, request_id: &str, owner: &BoxOwner) -> IsdsResult<CreationStatus> {
        let now = self.clock.now();
        let mut state = self.lock();
        let request = state.box_requests.entry(request_id.to_owned()).or_insert_with(|| SimBoxRequest {
            person: owner.person.clone(),
            owner_name: owner.name.clone(),
            submitted_at: now,
            outcome: None,
        });
        Ok(request.outcome.clone().unwrap_or(CreationStatus::InProgress))
    }

    async fn status(&self, request_id: &str, _: &BoxOwner) -> IsdsResult<CreationStatus> {
        let now = self.clock.now();
        let mut state = self.lock();
        let request = state.box_requests.get(request_id).cloned().ok_or(IsdsError::NotFound)?;
        if let Some(outcome) = request.outcome {
            return Ok(outcome);
        }
        if now - request.submitted_at < BOX_CREATION_TAKES {
            return Ok(CreationStatus::InProgress);
        }
        let outcome = if state.boxes.values().any(|b| b.person.as_deref() == Some(request.person.as_str())) {
            CreationStatus::Refused { reason: "Osoba již datovou schránku fyzické osoby má (simulace).".into() }
        } else {
            let number = state.boxes.len();
            let id = BoxId::parse(&format!("simn{:03}", number % 1000)).expect("7 lowercase letters and digits");
            let info = BoxInfo {
                id: id.clone(),
                box_type: 40,
                state: BoxState::NotYetActive,
                owner_name: request.owner_name.clone(),
                address: None,
                open_addressing: true,
            };
            let created = SimBox {
                info,
                person: Some(request.person.clone()),
                birth_date: None,
                ico: None,
                credit_hellers: 0,
                credit_history: Vec::new(),
                vault: None,
                allows_subst_delivery: true,
            };
            state.boxes.insert(id.clone(), created);
            CreationStatus::Created { box_id: id, at: request.submitted_at + BOX_CREATION_TAKES }
        };
        if let Some(stored) = state.box_requests.get_mut(request_id) {
            stored.outcome = Some(outcome.clone());
        }
        Ok(outcome)
    }
}

impl IsdsSimulator {
    /// `SignedMessageDownload` / `SignedSentMessageDownload`, or with `big`
    /// their VoDZ twins: a received message still in status 4 is delivered
    /// by it (and read). Each refuses the other kind of message.
    fn signed_download(
        &self,
        ctx: &BoxContext,
        direction: Direction,
        id: &MessageId,
        big: bool,
    ) -> IsdsResult<SignedMessage> {
        let now = self.clock.now();
        let mut state = self.refreshed(now);
        let operation = match (direction, big) {
            (Direction::Received, false) => "SignedMessageDownload",
            (Direction::Sent, false) => "SignedSentMessageDownload",
            (Direction::Received, true) => "SignedBigMessageDownload",
            (Direction::Sent, true) => "SignedSentBigMessageDownload",
        };
        let result = state.message_mut(ctx.box_id(), direction, id).and_then(|message| {
            if message.envelope.status == MessageStatus::ContentDeleted {
                return Err(IsdsError::NotFound);
            }
            if message.envelope.big != big {
                let service = if big { "SignedMessageDownload" } else { "SignedBigMessageDownload" };
                return Err(refused(
                    code::NOT_VALID,
                    format!("Zpráva {id} se touto službou nestahuje, použijte {service} (simulace)."),
                ));
            }
            let delivered = direction == Direction::Received && message.open(now);
            let attachments = message
                .attachments
                .iter()
                .map(|a| ReceivedFile {
                    name: a.name.clone(),
                    mime_type: a.mime_type.clone(),
                    meta_type: a.meta_type,
                    content: Content::from(a.content.clone()),
                })
                .collect();
            let signed = SignedMessage {
                envelope: message.envelope.clone(),
                attachments,
                zfo: Content::from(simulated_zfo(message, direction)),
            };
            Ok((signed, delivered))
        });
        let delivered = if matches!(result, Ok((_, true))) { vec![id.clone()] } else { Vec::new() };
        state.record_call(operation, ctx, delivered);
        result.map(|(signed, _)| signed)
    }
}

/// A big message's ZFO and files put into `stash`, as the SOAP adapter
/// puts what it opens (the simulator holds them in memory anyway).
async fn stashed(mut signed: SignedMessage, stash: &Stash) -> IsdsResult<SignedMessage> {
    use futures::StreamExt as _;
    let whole = |content: &Content| {
        let content = content.clone();
        futures::stream::once(async move { content.bytes().await }).boxed()
    };
    signed.zfo = stash.put("zfo", whole(&signed.zfo)).await?;
    for (n, file) in signed.attachments.iter_mut().enumerate() {
        file.content = stash.put(&format!("file-{n}"), whole(&file.content)).await?;
    }
    Ok(signed)
}

impl State {
    fn record_call(&mut self, operation: &'static str, ctx: &BoxContext, delivered: Vec<MessageId>) {
        // The portal reaches a box in a citizen's session by logging in to it
        // for them: a box not yet active becomes accessible at its first login
        // (as at a web login, `simulate_login`). A job never logs in.
        if ctx.caller() == Caller::Citizen
            && let Some(sim_box) = self.boxes.get_mut(ctx.box_id())
            && sim_box.info.state == BoxState::NotYetActive
        {
            sim_box.info.state = BoxState::Accessible;
        }
        self.calls.push(IsdsCall { operation, box_id: ctx.box_id().clone(), caller: ctx.caller(), delivered });
    }

    fn existing_box(&self, box_id: &BoxId) -> IsdsResult<&SimBox> {
        self.boxes.get(box_id).ok_or(IsdsError::NotFound)
    }

    fn message_mut(&mut self, box_id: &BoxId, direction: Direction, id: &MessageId) -> IsdsResult<&mut SimMessage> {
        self.messages
            .iter_mut()
            .find(|m| &m.envelope.id == id && m.belongs_to(box_id, direction))
            .ok_or(IsdsError::NotFound)
    }

    fn next_message_id(&mut self) -> MessageId {
        let number = self.next_message_number;
        self.next_message_number += 1;
        MessageId::parse(&number.to_string()).expect("a decimal counter below 10^20 is a valid dmID")
    }
}

impl SimMessage {
    fn belongs_to(&self, box_id: &BoxId, direction: Direction) -> bool {
        match direction {
            Direction::Received => &self.envelope.recipient_box == box_id,
            Direction::Sent => &self.envelope.sender_box == box_id,
        }
    }

    /// When ISDS files it in a list: delivery, or submission before that.
    fn listing_time(&self) -> OffsetDateTime {
        self.envelope.delivery_time.unwrap_or(self.submitted_at)
    }

    fn record(&mut self, status: MessageStatus, at: OffsetDateTime) {
        self.envelope.status = status;
        self.history.push(StateChange { id: self.envelope.id.clone(), at, status });
    }

    /// Applies the transitions that time alone causes, up to `now`, each at
    /// the moment it happened.
    fn advance(&mut self, now: OffsetDateTime) {
        if self.envelope.status == MessageStatus::Delivered
            && self.envelope.allow_subst_delivery
            && let Some(delivered) = self.envelope.delivery_time
        {
            let deemed = deemed_delivery_at(delivered);
            if deemed <= now {
                self.envelope.acceptance_time = Some(deemed);
                self.record(MessageStatus::DeemedDelivered, deemed);
            }
        }
        let deletion_due = match self.envelope.status {
            MessageStatus::DeemedDelivered | MessageStatus::AcceptedByLogin | MessageStatus::Read => {
                self.envelope.acceptance_time.map(|accepted| accepted + CONTENT_KEPT_FOR)
            }
            MessageStatus::Infected | MessageStatus::Undeliverable => Some(self.submitted_at + CONTENT_KEPT_FOR),
            _ => None,
        };
        if let Some(due) = deletion_due
            && due <= now
        {
            self.attachments.clear();
            self.record(MessageStatus::ContentDeleted, due);
        }
    }

    /// doručení přihlášením: 4 → 6. Whether it delivered.
    fn accept_by_login(&mut self, now: OffsetDateTime) -> bool {
        if self.envelope.status == MessageStatus::Delivered {
            self.envelope.acceptance_time = Some(now);
            self.record(MessageStatus::AcceptedByLogin, now);
            return true;
        }
        false
    }

    /// The recipient opens it: delivered if it was not yet, then read (7).
    /// Whether opening delivered it.
    fn open(&mut self, now: OffsetDateTime) -> bool {
        let delivered = self.accept_by_login(now);
        if matches!(self.envelope.status, MessageStatus::DeemedDelivered | MessageStatus::AcceptedByLogin) {
            self.record(MessageStatus::Read, now);
        }
        delivered
    }
}

/// SIMULATED hashes of an uploaded file: SHA-256 and SHA-512, hex.
fn upload_hashes(content: &[u8]) -> (AttachmentHash, AttachmentHash) {
    let hex = |algorithm: &'static aws_lc_rs::digest::Algorithm| -> String {
        portal_store::lower_hex(aws_lc_rs::digest::digest(algorithm, content).as_ref())
    };
    (
        AttachmentHash { value: hex(&aws_lc_rs::digest::SHA256), algorithm: "SHA-256".into() },
        AttachmentHash { value: hex(&aws_lc_rs::digest::SHA512), algorithm: "SHA-512".into() },
    )
}

fn refused(code: &str, message: impl Into<String>) -> IsdsError {
    IsdsError::Refused { code: code.to_owned(), message: message.into() }
}

/// `dbType` 10–16: orgány veřejné moci.
fn is_public_authority(box_type: u8) -> bool {
    (10..=16).contains(&box_type)
}

fn check_envelope(message: &OutgoingMessage) -> IsdsResult<()> {
    let subject_chars = message.subject.chars().count();
    if message.subject.trim().is_empty() {
        return Err(refused(code::NOT_VALID, "Věc (dmAnnotation) je povinná."));
    }
    if subject_chars > MAX_SUBJECT_CHARS {
        return Err(refused(
            code::NOT_VALID,
            format!("Věc (dmAnnotation) má {subject_chars} znaků, nejvýše {MAX_SUBJECT_CHARS}."),
        ));
    }
    let references = [
        ("dmSenderRefNumber", &message.sender_ref_number),
        ("dmSenderIdent", &message.sender_ident),
        ("dmRecipientRefNumber", &message.recipient_ref_number),
        ("dmRecipientIdent", &message.recipient_ident),
    ];
    for (field, value) in references {
        let chars = value.as_deref().map_or(0, |v| v.chars().count());
        if chars > MAX_REFERENCE_CHARS {
            return Err(refused(code::NOT_VALID, format!("{field} má {chars} znaků, nejvýše {MAX_REFERENCE_CHARS}.")));
        }
    }
    Ok(())
}

/// Checks the files as ISDS does; answers their total size in bytes.
fn check_attachments(attachments: &[Attachment], max_bytes: u64) -> IsdsResult<u64> {
    if attachments.is_empty() {
        return Err(refused(code::NO_FILE, "Zpráva neobsahuje žádnou písemnost (přílohu)."));
    }
    if attachments.len() > MAX_ATTACHMENTS {
        return Err(refused(
            code::NOT_VALID,
            format!("Zpráva obsahuje {} písemností, nejvýše {MAX_ATTACHMENTS}.", attachments.len()),
        ));
    }
    let mains = attachments.iter().filter(|a| a.meta_type == FileMetaType::Main).count();
    if attachments[0].meta_type != FileMetaType::Main || mains != 1 {
        return Err(refused(code::FIRST_FILE_NOT_MAIN, "První písemnost musí být hlavní (main) a jediná hlavní."));
    }
    for attachment in attachments {
        let extension = attachment.name.rsplit_once('.').map(|(_, ext)| ext.to_ascii_lowercase()).unwrap_or_default();
        if !ALLOWED_EXTENSIONS.contains(&extension.as_str()) {
            return Err(refused(
                code::CANNOT_DELIVER,
                format!(
                    "Písemnost {:?} nemá povolený formát (přípona {:?} není v příloze 3 vyhlášky 194/2009 Sb.).",
                    attachment.name, extension
                ),
            ));
        }
        let mime = attachment.mime_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        if BLACKLISTED_MIME_TYPES.contains(&mime.as_str()) {
            return Err(refused(
                code::CANNOT_DELIVER,
                format!("Písemnost {:?} má nepovolený typ MIME {mime}.", attachment.name),
            ));
        }
    }
    let total: u64 = attachments.iter().map(|a| a.content.len() as u64).sum();
    if total > max_bytes {
        return Err(refused(code::NOT_VALID, format!("Zpráva má {total} bajtů, nejvýše {max_bytes}.")));
    }
    Ok(total)
}

/// A CMS signature, as ISDS makes one, by the simulated CA
/// ([`super::zfo_sign`], labelled SIMULATED) over `SIMULATED-ZFO` then the
/// message as JSON: no legal effect.
fn simulated_zfo(message: &SimMessage, direction: Direction) -> Bytes {
    let attachments: Vec<serde_json::Value> = message
        .attachments
        .iter()
        .map(|a| {
            serde_json::json!({
                "name": a.name,
                "mimeType": a.mime_type,
                "metaType": a.meta_type.as_str(),
                "size": a.content.len(),
                "contentBase64": base64::engine::general_purpose::STANDARD.encode(&a.content),
            })
        })
        .collect();
    let rendering = serde_json::json!({
        "simulated": true,
        "notice": "Simulated ISDS message: signed by the simulator's own CA, not by ISDS; no legal effect.",
        "direction": direction,
        "envelope": message.envelope,
        "attachments": attachments,
    });
    let mut content = SIMULATED_ZFO_MARKER.to_vec();
    content.push(b'\n');
    content.extend_from_slice(rendering.to_string().as_bytes());
    Bytes::from(super::zfo_sign::simulated_signer().sign(&content, message.submitted_at))
}

/// Lowercase, without Czech diacritics, for name search.
fn fold(text: &str) -> String {
    text.chars().map(without_diacritics).flat_map(char::to_lowercase).collect()
}

fn without_diacritics(c: char) -> char {
    let lower = c.to_lowercase().next().unwrap_or(c);
    let base = match lower {
        'á' | 'ä' => 'a',
        'č' => 'c',
        'ď' => 'd',
        'é' | 'ě' => 'e',
        'í' => 'i',
        'ľ' | 'ĺ' => 'l',
        'ň' => 'n',
        'ó' | 'ô' | 'ö' => 'o',
        'ř' => 'r',
        'š' => 's',
        'ť' => 't',
        'ú' | 'ů' | 'ü' => 'u',
        'ý' => 'y',
        'ž' => 'z',
        _ => return c,
    };
    if c.is_uppercase() { base.to_ascii_uppercase() } else { base }
}

// ---------------------------------------------------------------------------
// Simulated boxes and seed messages (all fictional).

/// Only for the simulator's own constants, which are valid box ids.
fn box_id(id: &str) -> BoxId {
    BoxId::parse(id).expect("the simulator's box ids are 7 lowercase letters or digits")
}

fn simulated_boxes(now: OffsetDateTime) -> BTreeMap<BoxId, SimBox> {
    struct Spec {
        id: &'static str,
        person: Option<&'static str>,
        birth_date: Option<time::Date>,
        ico: Option<&'static str>,
        box_type: u8,
        state: BoxState,
        owner: &'static str,
        address: &'static str,
        open_addressing: bool,
        credit_hellers: i64,
        allows_subst_delivery: bool,
    }
    let specs = [
        Spec {
            id: JANA_BOX,
            person: Some("DEMO/jana-novakova"),
            birth_date: Some(time::macros::date!(1985 - 03 - 14)),
            ico: None,
            box_type: 40,
            state: BoxState::Accessible,
            owner: "Jana Nováková",
            address: "Fiktivní 12, 999 01 Horní Lhota",
            open_addressing: true,
            credit_hellers: 5000,
            allows_subst_delivery: true,
        },
        Spec {
            id: JIRI_BOX,
            person: Some("DEMO/jiri-dvorak"),
            birth_date: Some(time::macros::date!(1972 - 11 - 02)),
            ico: None,
            box_type: 30,
            state: BoxState::Accessible,
            owner: "Jiří Dvořák",
            address: "Smyšlená 7, 999 01 Horní Lhota",
            open_addressing: false,
            credit_hellers: 0,
            allows_subst_delivery: true,
        },
        Spec {
            id: LUDMILA_BOX,
            person: Some("DEMO/ludmila-stastna-zdarska"),
            birth_date: Some(time::macros::date!(1949 - 06 - 30)),
            ico: None,
            box_type: 40,
            state: BoxState::NotYetActive,
            owner: "Ludmila Šťastná Zdarská",
            address: "Vymyšlená 3, 999 02 Dolní Lhota",
            open_addressing: true,
            credit_hellers: 0,
            allows_subst_delivery: true,
        },
        Spec {
            id: MUNICIPAL_OFFICE_BOX,
            person: None,
            birth_date: None,
            ico: None,
            box_type: 10,
            state: BoxState::Accessible,
            owner: "Městský úřad Horní Lhota (simulace)",
            address: "Náměstí Míru 1, 999 01 Horní Lhota",
            open_addressing: false,
            credit_hellers: 0,
            allows_subst_delivery: true,
        },
        Spec {
            id: TAX_OFFICE_BOX,
            person: None,
            birth_date: None,
            ico: None,
            box_type: 10,
            state: BoxState::Accessible,
            owner: "Finanční úřad pro Simulovaný kraj (simulace)",
            address: "Daňová 5, 999 01 Horní Lhota",
            open_addressing: false,
            credit_hellers: 0,
            allows_subst_delivery: true,
        },
        Spec {
            id: CSSZ_BOX,
            person: None,
            birth_date: None,
            ico: None,
            box_type: 10,
            state: BoxState::Accessible,
            owner: "Česká správa sociálního zabezpečení (simulace)",
            address: "Důchodová 10, 999 00 Simulov",
            open_addressing: false,
            credit_hellers: 0,
            allows_subst_delivery: true,
        },
        Spec {
            id: COURT_BOX,
            person: None,
            birth_date: None,
            ico: None,
            box_type: 10,
            state: BoxState::Accessible,
            owner: "Okresní soud v Horní Lhotě (simulace)",
            address: "Soudní 2, 999 01 Horní Lhota",
            open_addressing: false,
            credit_hellers: 0,
            allows_subst_delivery: false,
        },
        Spec {
            id: COMPANY_BOX,
            person: None,
            birth_date: None,
            ico: None,
            box_type: 20,
            state: BoxState::Accessible,
            owner: "Energie Horní Lhota s.r.o. (simulace)",
            address: "Elektrárenská 99, 999 01 Horní Lhota",
            open_addressing: true,
            credit_hellers: 100_000,
            allows_subst_delivery: true,
        },
        Spec {
            id: DVORAK_COMPANY_BOX,
            person: None,
            birth_date: None,
            ico: Some(DVORAK_COMPANY_ICO),
            box_type: 20,
            state: BoxState::Accessible,
            owner: "Dvořák stavby s.r.o. (simulace)",
            address: "Zednická 4, 999 01 Horní Lhota",
            open_addressing: false,
            credit_hellers: 0,
            allows_subst_delivery: true,
        },
        Spec {
            id: SYSTEM_BOX,
            person: None,
            birth_date: None,
            ico: None,
            box_type: 0,
            state: BoxState::Accessible,
            owner: "Informační systém datových schránek (simulace)",
            address: "",
            open_addressing: false,
            credit_hellers: 0,
            allows_subst_delivery: true,
        },
    ];
    specs
        .into_iter()
        .map(|spec| {
            let id = box_id(spec.id);
            let vault = (spec.id == JANA_BOX).then_some(Vault {
                capacity: 50,
                valid_from: now - Duration::days(210),
                valid_to: now + Duration::days(155),
            });
            let info = BoxInfo {
                id: id.clone(),
                box_type: spec.box_type,
                state: spec.state,
                owner_name: spec.owner.to_owned(),
                address: (!spec.address.is_empty()).then(|| spec.address.to_owned()),
                open_addressing: spec.open_addressing,
            };
            let sim_box = SimBox {
                info,
                person: spec.person.map(str::to_owned),
                birth_date: spec.birth_date,
                ico: spec.ico,
                credit_hellers: spec.credit_hellers,
                credit_history: Vec::new(),
                vault,
                allows_subst_delivery: spec.allows_subst_delivery,
            };
            (id, sim_box)
        })
        .collect()
}

#[derive(Debug, Clone, Copy)]
enum Doc {
    Pdf(&'static str),
    Xml(&'static str),
    Txt(&'static str),
}

#[derive(Debug)]
struct SeedMessage {
    from: &'static str,
    to: &'static str,
    subject: &'static str,
    /// Days before the simulator's creation it was submitted (and delivered).
    days_ago: i64,
    status: MessageStatus,
    commercial: bool,
    personal_delivery: bool,
    sender_ref_number: Option<&'static str>,
    docs: &'static [Doc],
}

const fn seed(
    from: &'static str,
    to: &'static str,
    subject: &'static str,
    days_ago: i64,
    status: MessageStatus,
    docs: &'static [Doc],
) -> SeedMessage {
    SeedMessage {
        from,
        to,
        subject,
        days_ago,
        status,
        commercial: false,
        personal_delivery: false,
        sender_ref_number: None,
        docs,
    }
}

const SEED_MESSAGES: &[SeedMessage] = {
    use Doc::{Pdf, Txt, Xml};
    use MessageStatus::*;
    &[
        // Received by Jana Nováková, one or more in every status.
        seed(
            MUNICIPAL_OFFICE_BOX,
            JANA_BOX,
            "Oznámení o konání veřejného zasedání zastupitelstva",
            0,
            Submitted,
            &[Pdf("oznameni.pdf")],
        ),
        seed(TAX_OFFICE_BOX, JANA_BOX, "Informace o stavu osobního daňového účtu", 0, Stamped, &[Pdf("informace.pdf")]),
        seed(CSSZ_BOX, JANA_BOX, "Oznámení o změně výplaty dávky", 2, Infected, &[Txt("upozorneni.txt")]),
        SeedMessage {
            sender_ref_number: Some("FU-SIM-4521/2025"),
            ..seed(
                TAX_OFFICE_BOX,
                JANA_BOX,
                "Výzva k podání daňového přiznání",
                7,
                Delivered,
                &[Pdf("vyzva.pdf"), Xml("vyzva.xml")],
            )
        },
        seed(
            MUNICIPAL_OFFICE_BOX,
            JANA_BOX,
            "Platební výměr na místní poplatek za odpad",
            8,
            Delivered,
            &[Pdf("platebni-vymer.pdf")],
        ),
        SeedMessage {
            personal_delivery: true,
            sender_ref_number: Some("12 C 345/2025-17"),
            ..seed(COURT_BOX, JANA_BOX, "Předvolání k jednání jako svědkyně", 2, Delivered, &[Pdf("predvolani.pdf")])
        },
        SeedMessage {
            commercial: true,
            ..seed(
                COMPANY_BOX,
                JANA_BOX,
                "Vyúčtování dodávky elektřiny",
                1,
                Delivered,
                &[Pdf("vyuctovani.pdf"), Xml("vyuctovani.xml")],
            )
        },
        seed(
            MUNICIPAL_OFFICE_BOX,
            JANA_BOX,
            "Výzva k zaplacení místního poplatku ze psů",
            20,
            DeemedDelivered,
            &[Pdf("vyzva-poplatek.pdf")],
        ),
        seed(
            CSSZ_BOX,
            JANA_BOX,
            "Informativní osobní list důchodového pojištění",
            30,
            AcceptedByLogin,
            &[Pdf("iold.pdf"), Xml("iold.xml")],
        ),
        seed(TAX_OFFICE_BOX, JANA_BOX, "Rozhodnutí o vrácení přeplatku", 85, Read, &[Pdf("rozhodnuti.pdf")]),
        seed(
            MUNICIPAL_OFFICE_BOX,
            JANA_BOX,
            "Potvrzení o přijetí žádosti",
            3,
            Read,
            &[Txt("potvrzeni.txt"), Pdf("potvrzeni.pdf")],
        ),
        seed(MUNICIPAL_OFFICE_BOX, JANA_BOX, "Oznámení o zahájení řízení", 40, Undeliverable, &[Pdf("oznameni.pdf")]),
        seed(
            CSSZ_BOX,
            JANA_BOX,
            "Rozhodnutí o nemocenském",
            120,
            ContentDeleted,
            &[Pdf("rozhodnuti.pdf"), Txt("poučení.txt")],
        ),
        seed(
            CSSZ_BOX,
            JANA_BOX,
            "Rozhodnutí o přiznání rodičovského příspěvku",
            200,
            InVault,
            &[Pdf("rozhodnuti.pdf"), Xml("rozhodnuti.xml"), Txt("pouceni.txt")],
        ),
        // Sent by Jana Nováková.
        seed(JANA_BOX, MUNICIPAL_OFFICE_BOX, "Žádost o vydání rybářského lístku", 15, Read, &[Pdf("zadost.pdf")]),
        seed(
            JANA_BOX,
            TAX_OFFICE_BOX,
            "Přiznání k dani z příjmů fyzických osob",
            50,
            Read,
            &[Xml("dpfdp7.xml"), Pdf("priloha.pdf")],
        ),
        SeedMessage {
            commercial: true,
            ..seed(
                JANA_BOX,
                COMPANY_BOX,
                "Reklamace vyúčtování elektřiny",
                12,
                DeemedDelivered,
                &[Txt("reklamace.txt"), Pdf("vyuctovani-kopie.pdf")],
            )
        },
        // Received by Jiří Dvořák.
        seed(TAX_OFFICE_BOX, JIRI_BOX, "Výzva k úhradě nedoplatku", 3, Delivered, &[Pdf("vyzva.pdf")]),
        seed(
            CSSZ_BOX,
            JIRI_BOX,
            "Potvrzení přijetí přehledu o příjmech a výdajích OSVČ",
            15,
            Read,
            &[Xml("potvrzeni.xml")],
        ),
        // Received by Dvořák stavby s.r.o., whose director Jiří Dvořák is.
        seed(
            TAX_OFFICE_BOX,
            DVORAK_COMPANY_BOX,
            "Výzva k podání přiznání k dani z příjmů právnických osob",
            2,
            Delivered,
            &[Pdf("vyzva-dppo.pdf")],
        ),
        seed(
            MUNICIPAL_OFFICE_BOX,
            DVORAK_COMPANY_BOX,
            "Rozhodnutí o povolení zvláštního užívání komunikace",
            20,
            Read,
            &[Pdf("rozhodnuti.pdf")],
        ),
    ]
};

/// Puts a seed message into `state` with a history consistent with its status
/// at `base`.
fn seed_message(state: &mut State, base: OffsetDateTime, index: usize, spec: &SeedMessage) {
    let minutes = i64::try_from(index).unwrap_or(0) * 13 + 5;
    let submitted = base - Duration::days(spec.days_ago) - Duration::minutes(minutes);
    let (Some(sender), Some(recipient)) = (state.boxes.get(&box_id(spec.from)), state.boxes.get(&box_id(spec.to)))
    else {
        return;
    };
    let (sender, recipient) = (sender.info.clone(), recipient.info.clone());
    let allow_subst_delivery = state.boxes.get(&sender.id).is_none_or(|b| b.allows_subst_delivery);
    let attachments: Vec<Attachment> = spec
        .docs
        .iter()
        .enumerate()
        .map(|(position, doc)| seed_attachment(*doc, position, spec.subject, &sender.owner_name))
        .collect();
    let size_bytes: u64 = attachments.iter().map(|a| a.content.len() as u64).sum();
    let envelope = MessageEnvelope {
        id: state.next_message_id(),
        sender_box: sender.id,
        sender_name: sender.owner_name,
        sender_address: sender.address,
        recipient_box: recipient.id,
        recipient_name: recipient.owner_name,
        recipient_address: recipient.address,
        subject: spec.subject.to_owned(),
        sender_ref_number: spec.sender_ref_number.map(str::to_owned),
        sender_ident: None,
        recipient_ref_number: None,
        recipient_ident: None,
        to_hands: None,
        personal_delivery: spec.personal_delivery,
        allow_subst_delivery,
        status: MessageStatus::Submitted,
        message_type: Some(if spec.commercial { "K" } else { "V" }.to_owned()),
        delivery_time: None,
        acceptance_time: None,
        attachment_size_kb: size_bytes.div_ceil(1024),
        big: false,
    };
    let mut message = SimMessage { envelope, submitted_at: submitted, attachments, history: vec![] };

    use MessageStatus::*;
    let target = spec.status;
    message.record(Submitted, submitted);
    if target == Submitted {
        state.messages.push(message);
        return;
    }
    message.record(Stamped, submitted + Duration::seconds(1));
    let delivered = submitted + Duration::seconds(2);
    if matches!(target, Stamped | Infected | Undeliverable) {
        if target != Stamped {
            message.record(target, delivered);
        }
        state.messages.push(message);
        return;
    }
    message.envelope.delivery_time = Some(delivered);
    message.record(Delivered, delivered);
    if target == DeemedDelivered {
        let deemed = deemed_delivery_at(delivered);
        message.envelope.acceptance_time = Some(deemed);
        message.record(DeemedDelivered, deemed);
    } else if target != Delivered {
        let accepted = delivered + Duration::hours(1);
        message.envelope.acceptance_time = Some(accepted);
        message.record(AcceptedByLogin, accepted);
        if target != AcceptedByLogin {
            message.record(Read, accepted + Duration::minutes(5));
        }
        if target == ContentDeleted {
            message.attachments.clear();
            message.record(ContentDeleted, accepted + CONTENT_KEPT_FOR);
        } else if target == InVault {
            message.record(InVault, accepted + Duration::days(30));
        }
    }
    state.messages.push(message);
}

fn seed_attachment(doc: Doc, position: usize, subject: &str, sender: &str) -> Attachment {
    let meta_type = if position == 0 { FileMetaType::Main } else { FileMetaType::Enclosure };
    let (name, mime_type, content) = match doc {
        Doc::Pdf(name) => (name, "application/pdf", simulated_pdf(subject, sender)),
        Doc::Xml(name) => (name, "application/xml", simulated_xml(subject, sender)),
        Doc::Txt(name) => (name, "text/plain", simulated_text(subject, sender)),
    };
    Attachment { name: name.to_owned(), mime_type: mime_type.to_owned(), meta_type, content: Bytes::from(content) }
}

/// A minimal valid one-page PDF 1.4 with the subject in Helvetica.
fn simulated_pdf(subject: &str, sender: &str) -> Vec<u8> {
    let line = |text: &str| -> String {
        text.chars()
            .map(without_diacritics)
            .map(|c| if c.is_ascii() && !c.is_ascii_control() { c } else { '?' })
            .flat_map(|c| if matches!(c, '(' | ')' | '\\') { vec!['\\', c] } else { vec![c] })
            .collect()
    };
    let content = format!(
        "BT /F1 10 Tf 72 800 Td (SIMULACE ISDS - fiktivni dokument bez pravnich ucinku) Tj \
         /F1 14 Tf 0 -40 Td ({}) Tj /F1 11 Tf 0 -24 Td (Odesilatel: {}) Tj ET",
        line(subject),
        line(sender)
    );
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> \
         /Contents 5 0 R >>"
            .to_owned(),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
    ];
    let mut pdf = String::from("%PDF-1.4\n");
    let mut offsets = Vec::with_capacity(objects.len());
    for (number, object) in objects.iter().enumerate() {
        offsets.push(pdf.len());
        pdf.push_str(&format!("{} 0 obj\n{object}\nendobj\n", number + 1));
    }
    let xref = pdf.len();
    pdf.push_str(&format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1));
    for offset in offsets {
        pdf.push_str(&format!("{offset:010} 00000 n \n"));
    }
    pdf.push_str(&format!("trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n", objects.len() + 1));
    pdf.into_bytes()
}

fn simulated_xml(subject: &str, sender: &str) -> Vec<u8> {
    let escape =
        |text: &str| text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;");
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- SIMULACE ISDS: fiktivní dokument bez právních účinků -->\n\
         <simulovanyDokument>\n  <vec>{}</vec>\n  <odesilatel>{}</odesilatel>\n</simulovanyDokument>\n",
        escape(subject),
        escape(sender)
    )
    .into_bytes()
}

fn simulated_text(subject: &str, sender: &str) -> Vec<u8> {
    format!(
        "SIMULACE ISDS: fiktivní dokument bez právních účinků.\n\nVěc: {subject}\nOdesílatel: {sender}\n\n\
         Tento text vytvořil simulátor datových schránek portálu pro místní vývoj a testy.\n"
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use portal_store::ManualClock;
    use time::macros::datetime;

    use super::*;

    const START: OffsetDateTime = datetime!(2026-03-02 09:00 UTC);

    fn clock() -> Arc<ManualClock> {
        Arc::new(ManualClock::new(START))
    }

    fn seeded(clock: &Arc<ManualClock>) -> IsdsSimulator {
        IsdsSimulator::seeded(clock.clone(), SimulatorSettings::default())
    }

    fn id(value: &str) -> BoxId {
        BoxId::parse(value).expect("a valid box id")
    }

    fn jana() -> BoxId {
        id(JANA_BOX)
    }

    /// A job's context (cannot deliver).
    fn job(box_id: &BoxId) -> BoxContext {
        BoxContext::for_job(box_id.clone(), crate::isds::Access::Simulated, "test")
    }

    /// The box owner's session.
    fn session(box_id: &BoxId) -> SessionContext {
        SessionContext::new(box_id.clone(), crate::isds::Access::Simulated, &citizen())
    }

    pub(crate) fn citizen() -> portal_security::Citizen {
        let session: portal_security::Session = serde_json::from_value(serde_json::json!({
            "subject": "DEMO%2Fjana-novakova", "loa": "substantial", "provider": "development", "csrfToken": "t",
            "createdAt": "2026-03-02T08:00:00Z", "lastSeen": "2026-03-02T08:00:00Z",
            "expiresAt": "2026-03-02T16:00:00Z",
        }))
        .expect("a stored session");
        portal_security::Citizen {
            subject: session.subject.clone(),
            loa: session.loa,
            credential: portal_security::Credential::Cookie,
            session,
        }
    }

    fn days(n: u64) -> std::time::Duration {
        std::time::Duration::from_secs(n * 24 * 3600)
    }

    fn file(name: &str, meta_type: FileMetaType, bytes: usize) -> Attachment {
        Attachment {
            name: name.to_owned(),
            mime_type: "application/pdf".to_owned(),
            meta_type,
            content: Bytes::from(vec![b'x'; bytes]),
        }
    }

    fn outgoing(recipient: &str) -> OutgoingMessage {
        OutgoingMessage {
            recipient: id(recipient),
            subject: "Žádost o informace".to_owned(),
            sender_ref_number: None,
            sender_ident: None,
            recipient_ref_number: None,
            recipient_ident: None,
            to_hands: None,
            personal_delivery: false,
            commercial: false,
            attachments: vec![file("zadost.pdf", FileMetaType::Main, 100)],
        }
    }

    async fn received(sim: &IsdsSimulator, box_id: &BoxId) -> Vec<MessageEnvelope> {
        sim.list_messages(&job(box_id), Direction::Received, &ListQuery::default()).await.expect("list")
    }

    async fn envelope(sim: &IsdsSimulator, box_id: &BoxId, message: &MessageId) -> MessageEnvelope {
        received(sim, box_id).await.into_iter().find(|e| &e.id == message).expect("listed")
    }

    fn refusal(result: IsdsResult<MessageId>) -> (String, String) {
        match result {
            Err(IsdsError::Refused { code, message }) => (code, message),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn seeded_data_has_every_status_with_consistent_times() {
        let clock = clock();
        let sim = seeded(&clock);
        let list = received(&sim, &jana()).await;
        let statuses: BTreeSet<u8> = list.iter().map(|e| u8::from(e.status)).collect();
        assert_eq!(statuses, (1..=10).collect::<BTreeSet<u8>>());
        for e in &list {
            let code = u8::from(e.status);
            assert_eq!(e.delivery_time.is_some(), (4..=10).contains(&code) && code != 8, "{e:?}");
            assert_eq!(e.acceptance_time.is_some(), (5..=7).contains(&code) || code >= 9, "{e:?}");
            assert!(e.attachment_size_kb >= 1);
            assert!(!e.sender_name.is_empty() && e.recipient_name == "Jana Nováková");
        }
        let waiting: Vec<_> = list.iter().filter(|e| e.status == MessageStatus::Delivered).collect();
        assert!(waiting.iter().any(|e| e.delivery_time.is_some_and(|d| (START - d).whole_days() == 7)));
        assert!(waiting.iter().any(|e| e.delivery_time.is_some_and(|d| (START - d).whole_days() == 8)));
        assert!(waiting.iter().any(|e| e.message_type.as_deref() == Some("K")));
        assert!(list.iter().any(|e| e.delivery_time.is_some_and(|d| (START - d).whole_days() == 85)));
        // Newest first.
        let delivered: Vec<OffsetDateTime> = list.iter().filter_map(|e| e.delivery_time).collect();
        assert!(delivered.windows(2).all(|w| w[0] >= w[1]));

        let sent = sim.list_messages(&job(&jana()), Direction::Sent, &ListQuery::default()).await.expect("sent");
        assert_eq!(sent.len(), 3);

        // Every seeded message that still has content downloads, with real-looking files.
        for e in list.iter().filter(|e| e.status != MessageStatus::ContentDeleted) {
            let message = sim.download_message(&session(&jana()), Direction::Received, &e.id).await.expect("download");
            let zfo = message.zfo.bytes().await.expect("in memory");
            let content = super::super::zfo_verify::signed_content(&zfo).expect("a CMS SignedData");
            assert!(content.starts_with(SIMULATED_ZFO_MARKER));
            assert!((1..=3).contains(&message.attachments.len()));
            assert_eq!(message.attachments[0].meta_type, FileMetaType::Main);
            for a in message.attachments.iter().filter(|a| a.name.ends_with(".pdf")) {
                let content = a.content.bytes().await.expect("in memory");
                assert!(content.starts_with(b"%PDF-1.4\n") && content.ends_with(b"%%EOF\n"));
            }
        }
        let deleted = list.iter().find(|e| e.status == MessageStatus::ContentDeleted).expect("status 9");
        assert!(matches!(
            sim.download_message(&session(&jana()), Direction::Received, &deleted.id).await,
            Err(IsdsError::NotFound)
        ));
    }

    #[test]
    fn simulated_pdf_has_a_correct_cross_reference_table() {
        let pdf = simulated_pdf("Věc (se závorkou) \\ Ř", "Úřad");
        let text = String::from_utf8(pdf).expect("ASCII only");
        assert!(text.contains("(Vec \\(se zavorkou\\) \\\\ R)"), "{text}");
        let startxref: usize = text
            .rsplit("startxref\n")
            .next()
            .and_then(|tail| tail.lines().next())
            .and_then(|number| number.parse().ok())
            .expect("startxref");
        let xref = text[startxref..].strip_prefix("xref\n0 6\n0000000000 65535 f \n").expect("xref table");
        for (number, entry) in xref.lines().take(5).enumerate() {
            let offset: usize = entry.strip_suffix(" 00000 n ").and_then(|o| o.parse().ok()).expect("entry");
            assert!(text[offset..].starts_with(&format!("{} 0 obj\n", number + 1)), "object {}", number + 1);
        }
        let (_, after) = text.split_once(">>\nstream\n").expect("stream start");
        let (stream, _) = after.split_once("\nendstream").expect("stream end");
        assert!(text.contains(&format!("/Length {} >>", stream.len())));
    }

    #[tokio::test]
    async fn deemed_delivery_after_ten_days_and_not_before() {
        let clock = clock();
        let sim = seeded(&clock);
        let message = sim.deliver_incoming(&id(TAX_OFFICE_BOX), &outgoing(JANA_BOX)).expect("delivered");
        let court =
            received(&sim, &jana()).await.into_iter().find(|e| e.sender_box.as_str() == COURT_BOX).expect("court");
        assert_eq!(envelope(&sim, &jana(), &message).await.status, MessageStatus::Delivered);

        // Dodána 2 Mar 10:00 Prague: deemed at the start of the tenth day
        // after, 12 Mar 00:00 Prague (11 Mar 23:00 UTC), not 240 hours later.
        let deemed = datetime!(2026-03-11 23:00 UTC);
        clock.advance((deemed - START - Duration::seconds(1)).unsigned_abs());
        assert_eq!(envelope(&sim, &jana(), &message).await.status, MessageStatus::Delivered);

        clock.advance(std::time::Duration::from_secs(1));
        let e = envelope(&sim, &jana(), &message).await;
        assert_eq!(e.status, MessageStatus::DeemedDelivered);
        assert_eq!(e.acceptance_time, Some(deemed));
        // The court turned substitute delivery off: still waiting for a login.
        assert_eq!(envelope(&sim, &jana(), &court.id).await.status, MessageStatus::Delivered);
    }

    #[tokio::test]
    async fn login_mark_downloaded_and_download_deliver_and_read() {
        let clock = clock();
        let sim = seeded(&clock);
        let first = sim.deliver_incoming(&id(CSSZ_BOX), &outgoing(JANA_BOX)).expect("first");
        let second = sim.deliver_incoming(&id(COURT_BOX), &outgoing(JANA_BOX)).expect("second");
        clock.advance(days(1));
        sim.mark_downloaded(&session(&jana()), &first).await.expect("mark");
        let e = envelope(&sim, &jana(), &first).await;
        assert_eq!((e.status, e.acceptance_time), (MessageStatus::AcceptedByLogin, Some(START + Duration::days(1))));

        clock.advance(days(1));
        sim.simulate_login(&jana()).expect("login");
        let e = envelope(&sim, &jana(), &second).await;
        assert_eq!((e.status, e.acceptance_time), (MessageStatus::AcceptedByLogin, Some(START + Duration::days(2))));
        assert!(received(&sim, &jana()).await.iter().all(|e| e.status != MessageStatus::Delivered));

        let opened = sim.download_message(&session(&jana()), Direction::Received, &first).await.expect("download");
        assert_eq!(opened.envelope.status, MessageStatus::Read);
        // The sender's download changes nothing.
        let third = sim.deliver_incoming(&id(CSSZ_BOX), &outgoing(JANA_BOX)).expect("third");
        sim.download_message(&session(&id(CSSZ_BOX)), Direction::Sent, &third).await.expect("sender download");
        assert_eq!(envelope(&sim, &jana(), &third).await.status, MessageStatus::Delivered);
        // Someone else's message is not found.
        assert!(matches!(sim.mark_downloaded(&session(&id(JIRI_BOX)), &third).await, Err(IsdsError::NotFound)));
    }

    #[tokio::test]
    async fn only_login_download_and_mark_deliver_and_every_call_is_recorded() {
        let clock = clock();
        let sim = seeded(&clock);
        let message = sim.deliver_incoming(&id(CSSZ_BOX), &outgoing(JANA_BOX)).expect("delivered");
        let job = BoxContext::for_job(jana(), crate::isds::Access::Simulated, "ArchiveExpiringMessages");
        // Everything a job can call, on a box with messages in status 4.
        sim.list_messages(&job, Direction::Received, &ListQuery::default()).await.expect("list");
        sim.list_messages(&job, Direction::Sent, &ListQuery::default()).await.expect("list");
        sim.state_changes(&job, START - Duration::days(100), START).await.expect("changes");
        sim.box_info(&job).await.expect("info");
        sim.credit_info(&job).await.expect("credit");
        sim.vault_info(&job).await.expect("vault");
        sim.find_boxes(&job, &BoxSearch::Name("lhota".into())).await.expect("search");
        sim.send_message(&job, &outgoing(TAX_OFFICE_BOX)).await.expect("send");
        assert_eq!(envelope(&sim, &jana(), &message).await.status, MessageStatus::Delivered);
        assert!(sim.deliveries_by_jobs().is_empty());
        let calls = sim.calls();
        assert!(calls.iter().all(|c| c.box_id == jana() && c.delivered.is_empty()), "{calls:?}");
        assert!(calls.iter().any(|c| c.caller == Caller::Job("ArchiveExpiringMessages")));

        // A message the portal believed delivered but is not (a stale
        // envelope): ISDS delivers it on download whoever asks, and the
        // simulator records that a job did.
        let mut stale = envelope(&sim, &jana(), &message).await;
        stale.status = MessageStatus::AcceptedByLogin;
        stale.acceptance_time = Some(START);
        let delivered = DeliveredMessage::of(&stale).expect("it says delivered");
        sim.download_delivered(&job, &delivered, &Stash::in_memory()).await.expect("download");
        let by_jobs = sim.deliveries_by_jobs();
        assert_eq!(by_jobs.len(), 1);
        assert_eq!((by_jobs[0].operation, &by_jobs[0].delivered), ("SignedMessageDownload", &vec![message.clone()]));

        // In the citizen's session: a download, a mark and a web login each deliver.
        let first = sim.deliver_incoming(&id(CSSZ_BOX), &outgoing(JANA_BOX)).expect("first");
        let second = sim.deliver_incoming(&id(CSSZ_BOX), &outgoing(JANA_BOX)).expect("second");
        let third = sim.deliver_incoming(&id(CSSZ_BOX), &outgoing(JANA_BOX)).expect("third");
        sim.download_message(&session(&jana()), Direction::Received, &first).await.expect("open");
        sim.mark_downloaded(&session(&jana()), &second).await.expect("mark");
        sim.simulate_login(&jana()).expect("login");
        let by_citizen: Vec<(&str, Vec<MessageId>)> = sim
            .calls()
            .into_iter()
            .filter(|c| c.caller == Caller::Citizen && !c.delivered.is_empty())
            .map(|c| (c.operation, c.delivered))
            .collect();
        assert_eq!(by_citizen.len(), 3, "{by_citizen:?}");
        assert_eq!(by_citizen[0], ("SignedMessageDownload", vec![first]));
        assert_eq!(by_citizen[1], ("MarkMessageAsDownloaded", vec![second]));
        // The web login delivers everything still waiting (the seed's too).
        assert_eq!(by_citizen[2].0, "web login");
        assert!(by_citizen[2].1.contains(&third) && by_citizen[2].1.len() > 1);
        // Already delivered: no DeliveredMessage can be made from a status-4 envelope.
        let waiting = received(&sim, &jana()).await.into_iter().find(|e| e.status == MessageStatus::Delivered);
        assert!(waiting.is_none_or(|e| DeliveredMessage::of(&e).is_none()));
    }

    #[tokio::test]
    async fn login_activates_a_box_that_is_not_yet_active() {
        let clock = clock();
        let sim = seeded(&clock);
        let ludmila = id(LUDMILA_BOX);
        assert_eq!(sim.box_info(&job(&ludmila)).await.expect("info").state, BoxState::NotYetActive);
        sim.simulate_login(&ludmila).expect("login");
        assert_eq!(sim.box_info(&job(&ludmila)).await.expect("info").state, BoxState::Accessible);
        sim.deliver_incoming(&id(MUNICIPAL_OFFICE_BOX), &outgoing(LUDMILA_BOX)).expect("now it can receive");
    }

    #[tokio::test]
    async fn content_is_deleted_ninety_days_after_delivery_and_the_envelope_kept() {
        let clock = clock();
        let sim = seeded(&clock);
        let message = sim.deliver_incoming(&id(TAX_OFFICE_BOX), &outgoing(JANA_BOX)).expect("delivered");
        sim.download_message(&session(&jana()), Direction::Received, &message).await.expect("read at once");
        let vault = received(&sim, &jana()).await.into_iter().find(|e| e.status == MessageStatus::InVault);
        let vault = vault.expect("a vault message");

        clock.advance(days(90) - std::time::Duration::from_secs(1));
        sim.download_message(&session(&jana()), Direction::Received, &message).await.expect("still there");
        clock.advance(std::time::Duration::from_secs(1));
        assert!(matches!(
            sim.download_message(&session(&jana()), Direction::Received, &message).await,
            Err(IsdsError::NotFound)
        ));
        assert!(matches!(
            sim.download_message(&session(&id(TAX_OFFICE_BOX)), Direction::Sent, &message).await,
            Err(IsdsError::NotFound)
        ));
        let e = envelope(&sim, &jana(), &message).await;
        assert_eq!((e.status, e.subject.as_str()), (MessageStatus::ContentDeleted, "Žádost o informace"));
        // The vault keeps its message; everything else seeded has been deleted by now.
        let kept =
            sim.download_message(&session(&jana()), Direction::Received, &vault.id).await.expect("vault keeps it");
        assert_eq!(kept.envelope.status, MessageStatus::InVault);
        let statuses: BTreeSet<u8> = received(&sim, &jana()).await.iter().map(|e| u8::from(e.status)).collect();
        assert!(!statuses.contains(&3) && !statuses.contains(&7) && !statuses.contains(&8));
    }

    #[tokio::test]
    async fn send_validation_refuses_like_isds() {
        let clock = clock();
        let settings = SimulatorSettings { max_message_bytes: 1000, ..SimulatorSettings::default() };
        let sim = IsdsSimulator::seeded(clock.clone(), settings);
        let send = |message: OutgoingMessage| {
            let sim = &sim;
            async move { sim.send_message(&job(&jana()), &message).await }
        };

        let mut m = outgoing(TAX_OFFICE_BOX);
        m.attachments.clear();
        let (code, text) = refusal(send(m).await);
        assert_eq!(code, "2032");
        assert!(text.contains("žádnou"), "{text}");

        let mut m = outgoing(TAX_OFFICE_BOX);
        m.attachments.extend((0..50).map(|n| file(&format!("priloha{n}.pdf"), FileMetaType::Enclosure, 1)));
        assert_eq!(m.attachments.len(), 51);
        let (code, text) = refusal(send(m).await);
        assert_eq!(code, "9005");
        assert!(text.contains("51") && text.contains("50"), "{text}");

        let mut m = outgoing(TAX_OFFICE_BOX);
        m.attachments.push(file("setup.EXE", FileMetaType::Enclosure, 10));
        let (code, text) = refusal(send(m).await);
        assert_eq!(code, "1214");
        assert!(text.contains("setup.EXE") && text.contains("exe"), "{text}");

        let mut m = outgoing(TAX_OFFICE_BOX);
        m.attachments[0].mime_type = "application/x-msdownload".to_owned();
        assert_eq!(refusal(send(m).await).0, "1214");

        let mut m = outgoing(TAX_OFFICE_BOX);
        m.attachments.push(file("velka.pdf", FileMetaType::Enclosure, 901));
        let (code, text) = refusal(send(m).await);
        assert_eq!(code, "9005");
        assert!(text.contains("1001") && text.contains("1000"), "{text}");

        let (code, text) = refusal(send(outgoing("abc1234")).await);
        assert_eq!(code, "5001");
        assert!(text.contains("abc1234") && text.contains("neexistuje"), "{text}");

        let (code, text) = refusal(send(outgoing(LUDMILA_BOX)).await);
        assert_eq!(code, "1214");
        assert!(text.contains(LUDMILA_BOX), "{text}");

        let mut m = outgoing(TAX_OFFICE_BOX);
        m.subject = "a".repeat(256);
        let (code, text) = refusal(send(m).await);
        assert_eq!(code, "9005");
        assert!(text.contains("256") && text.contains("255"), "{text}");

        let mut m = outgoing(TAX_OFFICE_BOX);
        m.sender_ref_number = Some("č".repeat(51));
        assert_eq!(refusal(send(m).await).0, "9005");

        let mut m = outgoing(TAX_OFFICE_BOX);
        m.attachments[0].meta_type = FileMetaType::Enclosure;
        assert_eq!(refusal(send(m).await).0, "2010");

        // Refusals leave no trace; a valid message of exactly the limit goes through as public.
        let before =
            sim.list_messages(&job(&jana()), Direction::Sent, &ListQuery::default()).await.expect("sent").len();
        let mut m = outgoing(TAX_OFFICE_BOX);
        m.attachments[0] = file("zadost.pdf", FileMetaType::Main, 1000);
        let sent = send(m).await.expect("sent");
        let list = sim.list_messages(&job(&jana()), Direction::Sent, &ListQuery::default()).await.expect("sent");
        assert_eq!(list.len(), before + 1);
        assert_eq!(
            (&list[0].id, list[0].status, list[0].message_type.as_deref()),
            (&sent, MessageStatus::Delivered, Some("V"))
        );
        let office = received(&sim, &id(TAX_OFFICE_BOX)).await;
        assert_eq!(office[0].id, sent);
    }

    #[tokio::test]
    async fn commercial_messages_are_charged_once_and_refused_without_credit() {
        let clock = clock();
        let sim = seeded(&clock);
        let company = id(COMPANY_BOX);
        let jiri = id(JIRI_BOX);
        assert_eq!(sim.credit_info(&job(&jana())).await.expect("credit").current_hellers, 5000);

        let mut pdz = outgoing(COMPANY_BOX);
        pdz.commercial = true;
        let sent = sim.send_message(&job(&jana()), &pdz).await.expect("sent");
        assert_eq!(sim.credit_info(&job(&jana())).await.expect("credit").current_hellers, 4000);
        let arrived = envelope(&sim, &company, &sent).await;
        assert_eq!(arrived.message_type.as_deref(), Some("K"));
        sim.download_message(&session(&company), Direction::Received, &sent).await.expect("download");
        assert_eq!(sim.credit_info(&job(&jana())).await.expect("credit").current_hellers, 4000);

        // Not flagged commercial between non-OVM boxes: refused, nothing charged.
        let (code, _) = refusal(sim.send_message(&job(&jana()), &outgoing(COMPANY_BOX)).await);
        assert_eq!(code, "1217");
        // Jiří refuses commercial messages.
        let mut to_jiri = outgoing(JIRI_BOX);
        to_jiri.commercial = true;
        assert_eq!(refusal(sim.send_message(&job(&jana()), &to_jiri).await).0, "1216");
        // To a public authority it is public and free, even if flagged commercial.
        let mut to_office = outgoing(TAX_OFFICE_BOX);
        to_office.commercial = true;
        sim.send_message(&job(&jana()), &to_office).await.expect("public");
        assert_eq!(sim.credit_info(&job(&jana())).await.expect("credit").current_hellers, 4000);

        // Jiří has no credit until he tops up.
        let (code, text) = refusal(sim.send_message(&job(&jiri), &pdz).await);
        assert_eq!(code, "1225");
        assert!(text.contains("kredit"), "{text}");
        assert_eq!(sim.credit_info(&job(&jiri)).await.expect("credit").current_hellers, 0);
        sim.top_up_credit(&jiri, 1500).expect("top up");
        sim.send_message(&job(&jiri), &pdz).await.expect("now it goes");
        assert_eq!(sim.credit_info(&job(&jiri)).await.expect("credit").current_hellers, 500);
        assert!(matches!(sim.top_up_credit(&jiri, 0), Err(IsdsError::Invalid(_))));
    }

    #[tokio::test]
    async fn state_changes_report_transitions_when_they_happened() {
        let clock = clock();
        let sim = seeded(&clock);
        let message = sim.deliver_incoming(&id(TAX_OFFICE_BOX), &outgoing(JANA_BOX)).expect("delivered");
        clock.advance(days(11));
        let changes = sim.state_changes(&job(&jana()), START, START + Duration::days(11)).await.expect("changes");
        let mine: Vec<(OffsetDateTime, MessageStatus)> =
            changes.iter().filter(|c| c.id == message).map(|c| (c.at, c.status)).collect();
        assert_eq!(
            mine,
            vec![
                (START, MessageStatus::Submitted),
                (START, MessageStatus::Stamped),
                (START, MessageStatus::Delivered),
                (datetime!(2026-03-11 23:00 UTC), MessageStatus::DeemedDelivered),
            ]
        );
        // The seeded messages waiting 7 and 8 days were deemed delivered 3 and 2 days in.
        assert_eq!(
            changes.iter().filter(|c| c.status == MessageStatus::DeemedDelivered && c.id != message).count(),
            3,
            "7- and 8-day-old ones and the one-day-old commercial message"
        );
        assert!(changes.windows(2).all(|w| w[0].at <= w[1].at));
        // The sender sees the same changes of its message.
        let office =
            sim.state_changes(&job(&id(TAX_OFFICE_BOX)), START, START + Duration::days(11)).await.expect("office");
        assert_eq!(office.iter().filter(|c| c.id == message).count(), 4);
        // Outside the range: nothing of this message.
        let before = sim.state_changes(&job(&jana()), START - Duration::days(1), START - Duration::seconds(1)).await;
        assert!(before.expect("changes").iter().all(|c| c.id != message));
    }

    #[tokio::test]
    async fn list_pages_and_filters() {
        let clock = clock();
        let sim = seeded(&clock);
        let all = received(&sim, &jana()).await;
        let page = |offset, limit| ListQuery { offset, limit, ..ListQuery::default() };
        let second = sim.list_messages(&job(&jana()), Direction::Received, &page(2, 3)).await.expect("page");
        assert_eq!(second, all[1..4].to_vec());
        let statuses = ListQuery { statuses: vec![MessageStatus::Delivered], ..ListQuery::default() };
        let waiting = sim.list_messages(&job(&jana()), Direction::Received, &statuses).await.expect("filtered");
        assert_eq!(waiting.len(), 4);
        let range = ListQuery {
            from: Some(START - Duration::days(10)),
            to: Some(START - Duration::days(5)),
            ..ListQuery::default()
        };
        let week = sim.list_messages(&job(&jana()), Direction::Received, &range).await.expect("range");
        assert_eq!(week.len(), 2);
        assert!(matches!(
            sim.list_messages(&job(&id("nobox00")), Direction::Received, &ListQuery::default()).await,
            Err(IsdsError::NotFound)
        ));
    }

    #[tokio::test]
    async fn boxes_credit_vault_and_search() {
        let clock = clock();
        let sim = seeded(&clock);
        for (person, box_id) in DEMO_BOXES {
            assert_eq!(sim.box_of_person(person), Some(id(box_id)));
        }
        assert_eq!(sim.box_of_person("DEMO/nobody"), None);
        let info = sim.box_info(&job(&jana())).await.expect("info");
        assert_eq!((info.box_type, info.state), (40, BoxState::Accessible));
        assert_eq!(sim.box_info(&job(&id(JIRI_BOX))).await.expect("info").box_type, 30);
        assert_eq!(sim.box_info(&job(&id(SYSTEM_BOX))).await.expect("info").box_type, 0);

        let vault = sim.vault_info(&job(&jana())).await.expect("vault");
        assert_eq!((vault.vault_type, vault.capacity, vault.used), (1, Some(50), Some(1)));
        assert_eq!(sim.vault_info(&job(&id(JIRI_BOX))).await.expect("vault").vault_type, 0);

        let found = sim.find_boxes(&job(&jana()), &BoxSearch::Name("financni URAD".into())).await.expect("search");
        assert_eq!(found.iter().map(|b| b.id.as_str()).collect::<Vec<_>>(), vec![TAX_OFFICE_BOX]);
        let lhota = sim.find_boxes(&job(&jana()), &BoxSearch::Name("horní lhot".into())).await.expect("search");
        assert_eq!(lhota.len(), 3, "office, court, company: {lhota:?}");
        assert!(sim.find_boxes(&job(&jana()), &BoxSearch::Name("Nováková".into())).await.expect("search").is_empty());
        assert!(matches!(
            sim.find_boxes(&job(&jana()), &BoxSearch::Name(" fi ".into())).await,
            Err(IsdsError::Invalid(_))
        ));
        let by_id = sim.find_boxes(&job(&jana()), &BoxSearch::Id(id(LUDMILA_BOX))).await.expect("by id");
        assert_eq!(by_id[0].state, BoxState::NotYetActive);
        assert!(sim.find_boxes(&job(&jana()), &BoxSearch::Id(id("nobox00"))).await.expect("by id").is_empty());
        let ico = |text: &str| BoxSearch::Ico(super::super::Ico::parse(text).expect("a valid IČO"));
        let company = sim.find_boxes(&job(&jana()), &ico(DVORAK_COMPANY_ICO)).await.expect("by IČO");
        assert_eq!(company.iter().map(|b| (b.id.as_str(), b.box_type)).collect::<Vec<_>>(), [(DVORAK_COMPANY_BOX, 20)]);
        assert!(sim.find_boxes(&job(&jana()), &ico("25596641")).await.expect("by IČO").is_empty());
    }

    #[tokio::test]
    async fn two_simulators_built_alike_behave_alike() {
        let (one, two) = (clock(), clock());
        let (a, b) = (seeded(&one), seeded(&two));
        let m1 = a.deliver_incoming(&id(CSSZ_BOX), &outgoing(JANA_BOX)).expect("a");
        let m2 = b.deliver_incoming(&id(CSSZ_BOX), &outgoing(JANA_BOX)).expect("b");
        assert_eq!(m1, m2);
        one.advance(days(30));
        two.advance(days(30));
        for direction in [Direction::Received, Direction::Sent] {
            let la = a.list_messages(&job(&jana()), direction, &ListQuery::default()).await.expect("a");
            let lb = b.list_messages(&job(&jana()), direction, &ListQuery::default()).await.expect("b");
            assert_eq!(la, lb);
        }
        let range = (START - Duration::days(365), START + Duration::days(30));
        assert_eq!(
            a.state_changes(&job(&jana()), range.0, range.1).await.expect("a"),
            b.state_changes(&job(&jana()), range.0, range.1).await.expect("b")
        );
        let debug = format!("{a:?}");
        assert!(debug.contains("IsdsSimulator") && !debug.contains("PDF"));
    }
}
