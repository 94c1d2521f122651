//! The SOAP adapter against a local HTTP server that plays ISDS from the
//! hand-made fixtures in `tests/fixtures/isds/` (see its README: made from the
//! public schema, not captured from ISDS).

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use portal_databox::isds::soap::{SoapConfig, SoapIsds, SoapLogin, SoapTimeouts};
use portal_databox::isds::{
    Access, Attachment, BoxContext, BoxId, BoxInfo, BoxSearch, BoxState, CreditEvent, CreditInfo, Direction,
    FileMetaType, Isds, IsdsError, ListQuery, MessageEnvelope, MessageId, MessageStatus, OutgoingMessage, PersonQuery,
    SessionContext, StateChange, VaultInfo,
};
use quick_xml::events::Event;
use quick_xml::name::ResolveResult;
use quick_xml::reader::NsReader;
use secrecy::SecretString;
use time::macros::datetime;

mod support;

use support::zfo::{OID_SIGNED_DATA, zfo_ber, zfo_der};

const USER: &str = "portal-test";
const PASSWORD: &str = "tajne-heslo";

// ---------------------------------------------------------------------------
// The local ISDS stand-in

#[derive(Debug, Clone)]
struct Captured {
    path: String,
    headers: HeaderMap,
    body: String,
}

#[derive(Debug)]
enum Canned {
    Answer(StatusCode, String),
    /// Never answers (for the timeout).
    Hang,
}

#[derive(Debug, Clone, Default)]
struct Shared {
    captured: Arc<Mutex<Vec<Captured>>>,
    canned: Arc<Mutex<VecDeque<Canned>>>,
}

#[derive(Debug)]
struct FakeIsds {
    addr: SocketAddr,
    shared: Shared,
}

impl FakeIsds {
    async fn start() -> Self {
        let shared = Shared::default();
        let app = Router::new().fallback(answer).with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self { addr, shared }
    }

    fn base_url(&self) -> String {
        format!("http://{}/DS/", self.addr)
    }

    fn reply(&self, status: StatusCode, body: impl Into<String>) {
        self.shared.canned.lock().expect("lock").push_back(Canned::Answer(status, body.into()));
    }

    fn reply_fixture(&self, name: &str) {
        self.reply(StatusCode::OK, fixture(name));
    }

    fn hang(&self) {
        self.shared.canned.lock().expect("lock").push_back(Canned::Hang);
    }

    fn captured(&self) -> Vec<Captured> {
        self.shared.captured.lock().expect("lock").clone()
    }

    fn only_request(&self) -> Captured {
        let mut captured = self.captured();
        assert_eq!(captured.len(), 1, "expected exactly one request");
        captured.remove(0)
    }

    fn adapter(&self) -> SoapIsds {
        SoapIsds::new(config(self.base_url(), password_login())).expect("adapter")
    }
}

async fn answer(State(shared): State<Shared>, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let body = String::from_utf8(body.to_vec()).expect("the adapter sends UTF-8");
    shared.captured.lock().expect("lock").push(Captured { path: uri.path().to_owned(), headers, body });
    let next = shared.canned.lock().expect("lock").pop_front();
    match next {
        Some(Canned::Answer(status, body)) => {
            (status, [("content-type", "text/xml; charset=utf-8")], body).into_response()
        }
        Some(Canned::Hang) => std::future::pending().await,
        None => (StatusCode::NOT_IMPLEMENTED, "no canned answer").into_response(),
    }
}

fn config(base_url: String, login: SoapLogin) -> SoapConfig {
    SoapConfig { base_url, login, timeouts: SoapTimeouts::default() }
}

fn password_login() -> SoapLogin {
    SoapLogin::Password { user: USER.into(), password: SecretString::from(PASSWORD), own_box: own_box() }
}

fn fixture(name: &str) -> String {
    let path: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", "isds", name].iter().collect();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// A job's context in the own box (every operation but the delivering ones).
fn job() -> BoxContext {
    BoxContext::for_job(own_box(), Access::HostedRecordsSystem, "test")
}

/// The own box in its owner's session.
fn session() -> SessionContext {
    SessionContext::new(own_box(), Access::HostedRecordsSystem, &citizen())
}

fn citizen() -> portal_security::Citizen {
    support::citizen("DEMO%2Fjana-novakova")
}

fn own_box() -> BoxId {
    BoxId::parse("fo4ab2c").expect("box id")
}

fn id(value: &str) -> MessageId {
    MessageId::parse(value).expect("message id")
}

fn box_id(value: &str) -> BoxId {
    BoxId::parse(value).expect("box id")
}

// ---------------------------------------------------------------------------
// Comparing requests

/// The request went to `path` as SOAP 1.1 with the Basic login, and its body
/// equals the fixture as an XML tree.
fn assert_request(captured: &Captured, path: &str, fixture_name: &str) {
    assert_eq!(captured.path, path);
    assert_soap_headers(captured);
    let basic = format!("Basic {}", BASE64.encode(format!("{USER}:{PASSWORD}")));
    assert_eq!(captured.headers.get("authorization").and_then(|v| v.to_str().ok()), Some(basic.as_str()));
    assert_eq!(canonical(&captured.body), canonical(&fixture(fixture_name)), "request differs from {fixture_name}");
}

fn assert_soap_headers(captured: &Captured) {
    let header = |name: &str| captured.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    assert_eq!(header("content-type").as_deref(), Some("text/xml; charset=utf-8"));
    assert_eq!(header("soapaction").as_deref(), Some("\"\""));
}

/// One line per element: `{namespace}name [attributes] = text`, indented by
/// depth; prefixes, comments and whitespace between elements do not count.
fn canonical(document: &str) -> String {
    let mut reader = NsReader::from_str(document);
    let mut out = String::new();
    let mut depth = 0usize;
    let mut line: Option<String> = None;
    let mut text = String::new();
    loop {
        let (ns, event) = reader.read_resolved_event().expect("well-formed XML");
        let ns = match ns {
            ResolveResult::Bound(ns) => String::from_utf8_lossy(ns.as_ref()).into_owned(),
            _ => String::new(),
        };
        match event {
            Event::Start(ref start) | Event::Empty(ref start) => {
                flush(&mut out, &mut line, &mut text);
                let mut attrs: Vec<String> = start
                    .attributes()
                    .map(|a| a.expect("attribute"))
                    .filter(|a| !a.key.as_ref().starts_with(b"xmlns"))
                    .map(|a| {
                        let value = a.normalized_value(quick_xml::XmlVersion::Implicit1_0).expect("value");
                        format!("{}={value:?}", String::from_utf8_lossy(a.key.as_ref()))
                    })
                    .collect();
                attrs.sort();
                let name = String::from_utf8_lossy(start.local_name().as_ref()).into_owned();
                line = Some(format!("{}{{{ns}}}{name} [{}]", "  ".repeat(depth), attrs.join(" ")));
                if matches!(event, Event::Start(_)) {
                    depth += 1;
                } else {
                    flush(&mut out, &mut line, &mut text);
                }
            }
            Event::End(_) => {
                flush(&mut out, &mut line, &mut text);
                depth = depth.saturating_sub(1);
            }
            Event::Text(t) => text.push_str(&t.xml10_content().expect("text")),
            Event::GeneralRef(r) => match r.resolve_char_ref().expect("character reference") {
                Some(ch) => text.push(ch),
                None => {
                    let name = r.decode().expect("reference");
                    text.push_str(quick_xml::escape::resolve_predefined_entity(&name).expect("entity"));
                }
            },
            Event::CData(c) => text.push_str(&c.decode().expect("CDATA")),
            Event::Eof => break,
            _ => {}
        }
    }
    out
}

fn flush(out: &mut String, line: &mut Option<String>, text: &mut String) {
    if let Some(line) = line.take() {
        out.push_str(&line);
        let trimmed = text.trim();
        if !trimmed.is_empty() {
            out.push_str(" = ");
            out.push_str(trimmed);
        }
        out.push('\n');
    }
    text.clear();
}

// ---------------------------------------------------------------------------
// The answer of a signed download around a ZFO built by `support::zfo`
// (RFC 5652 §5.1, placeholders for the certificate and signer info).

fn signed_response(template: &str, zfo: &[u8]) -> String {
    // Folded at 76 columns, as base64 in XML often is.
    let encoded = BASE64.encode(zfo);
    let folded: Vec<&str> =
        encoded.as_bytes().chunks(76).map(|chunk| std::str::from_utf8(chunk).expect("base64 is ASCII")).collect();
    fixture(template).replace("{{dmSignature}}", &folded.join("\n"))
}

// ---------------------------------------------------------------------------
// Expected values

fn received_envelope() -> MessageEnvelope {
    MessageEnvelope {
        id: id("1234567"),
        sender_box: box_id("ovm7x9k"),
        sender_name: "Finanční úřad pro Testovací kraj".into(),
        sender_address: Some("Daňová 1/2, 110 00 Praha 1".into()),
        recipient_box: own_box(),
        recipient_name: "Jan Novák".into(),
        recipient_address: Some("Testovací 12/3, 602 00 Brno".into()),
        subject: "Výzva k doplnění podání & přílohy <2025>".into(),
        sender_ref_number: Some("FU-123/2025".into()),
        sender_ident: Some("SZ-45/2025".into()),
        recipient_ref_number: None,
        recipient_ident: None,
        to_hands: Some("Jan Novák".into()),
        personal_delivery: true,
        allow_subst_delivery: true,
        status: MessageStatus::AcceptedByLogin,
        message_type: Some("V".into()),
        delivery_time: Some(datetime!(2025-03-03 09:15:27.123 +01:00)),
        acceptance_time: Some(datetime!(2025-03-04 18:02:11.5 +01:00)),
        attachment_size_kb: 124,
        big: false,
    }
}

fn sent_envelope() -> MessageEnvelope {
    MessageEnvelope {
        id: id("7654321"),
        sender_box: own_box(),
        sender_name: "Jan Novák".into(),
        sender_address: Some("Testovací 12/3, 602 00 Brno".into()),
        recipient_box: box_id("po3qq8z"),
        recipient_name: "Příklad s.r.o.".into(),
        recipient_address: Some("Vzorová 7, 301 00 Plzeň".into()),
        subject: "Reklamace".into(),
        sender_ref_number: None,
        sender_ident: None,
        recipient_ref_number: None,
        recipient_ident: None,
        to_hands: None,
        personal_delivery: false,
        allow_subst_delivery: true,
        status: MessageStatus::DeemedDelivered,
        message_type: Some("K".into()),
        delivery_time: Some(datetime!(2025-02-01 10:00:00 +01:00)),
        acceptance_time: Some(datetime!(2025-02-11 10:00:00 +01:00)),
        attachment_size_kb: 40,
        big: false,
    }
}

fn outgoing() -> OutgoingMessage {
    OutgoingMessage {
        recipient: box_id("ovm7x9k"),
        subject: "Žádost o výpis <č. 5> & \"přílohy\"".into(),
        sender_ref_number: None,
        sender_ident: Some("moje-1".into()),
        recipient_ref_number: Some("FU-123/2025".into()),
        recipient_ident: None,
        to_hands: Some("podatelna".into()),
        personal_delivery: true,
        commercial: false,
        attachments: vec![
            Attachment {
                name: "zadost.pdf".into(),
                mime_type: "application/pdf".into(),
                meta_type: FileMetaType::Main,
                content: Bytes::from_static(b"%PDF-1.7 portal test document"),
            },
            Attachment {
                name: "průvodní dopis & poznámka.txt".into(),
                mime_type: "text/plain".into(),
                meta_type: FileMetaType::Enclosure,
                content: Bytes::from_static(b"Dobry den, v priloze zasilam zadost."),
            },
        ],
    }
}

fn finance_office() -> BoxInfo {
    BoxInfo {
        id: box_id("ovm7x9k"),
        box_type: 10,
        state: BoxState::Accessible,
        owner_name: "Finanční úřad pro Testovací kraj".into(),
        address: Some("Daňová 1/2, 110 00 Praha 1".into()),
        open_addressing: false,
    }
}

// ---------------------------------------------------------------------------
// Operations

#[tokio::test]
async fn lists_received_messages() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("list_received.response.xml");
    let query = ListQuery {
        from: Some(datetime!(2025-03-01 01:00 +01:00)),
        to: Some(datetime!(2025-03-31 23:00 +01:00)),
        statuses: vec![],
        offset: 0,
        limit: 100,
    };

    let envelopes = isds.adapter().list_messages(&job(), Direction::Received, &query).await.expect("list");

    assert_request(&isds.only_request(), "/DS/dx", "list_received.request.xml");
    let system_notice = MessageEnvelope {
        id: id("1234999"),
        sender_box: box_id("zzzzzzq"),
        sender_name: "Informační systém datových schránek".into(),
        sender_address: None,
        recipient_box: own_box(),
        recipient_name: "Jan Novák".into(),
        recipient_address: None,
        subject: "Oznámení o změně hesla".into(),
        sender_ref_number: None,
        sender_ident: None,
        recipient_ref_number: None,
        recipient_ident: None,
        to_hands: None,
        personal_delivery: false,
        allow_subst_delivery: true,
        status: MessageStatus::Delivered,
        message_type: None,
        delivery_time: Some(datetime!(2025-03-10 07:00 UTC)),
        acceptance_time: None,
        attachment_size_kb: 1,
        big: false,
    };
    assert_eq!(envelopes, vec![received_envelope(), system_notice]);
}

#[tokio::test]
async fn lists_sent_messages_by_status_page() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("list_sent.response.xml");
    let query = ListQuery {
        from: None,
        to: None,
        statuses: vec![MessageStatus::Delivered, MessageStatus::DeemedDelivered, MessageStatus::AcceptedByLogin],
        offset: 21,
        limit: 20,
    };

    let envelopes = isds.adapter().list_messages(&job(), Direction::Sent, &query).await.expect("list");

    assert_request(&isds.only_request(), "/DS/dx", "list_sent.request.xml");
    assert_eq!(envelopes, vec![sent_envelope()]);
}

#[tokio::test]
async fn downloads_a_received_message_from_a_der_zfo() {
    let isds = FakeIsds::start().await;
    let zfo = zfo_der(fixture("signed_message.inner.xml").as_bytes());
    isds.reply(StatusCode::OK, signed_response("signed_message_download.response.xml", &zfo));

    let message =
        isds.adapter().download_message(&session(), Direction::Received, &id("1234567")).await.expect("download");

    assert_request(&isds.only_request(), "/DS/dz", "signed_message_download.request.xml");
    assert_eq!(message.envelope, received_envelope());
    assert_eq!(
        files_of(&message).await,
        vec![
            Attachment {
                name: "výzva.pdf".into(),
                mime_type: "application/pdf".into(),
                meta_type: FileMetaType::Main,
                content: Bytes::from_static(b"%PDF-1.7 portal test document"),
            },
            Attachment {
                name: "formular.xml".into(),
                mime_type: "application/xml".into(),
                meta_type: FileMetaType::Enclosure,
                content: Bytes::from_static(
                    b"<formular xmlns=\"urn:example:formular\"><polozka>1</polozka></formular>"
                ),
            },
        ]
    );
    assert_eq!(message.zfo.bytes().await.expect("zfo").as_ref(), zfo.as_slice(), "the ZFO is kept as received");
}

/// `0005`: ISDS signed the message but could not time-stamp it. The signed
/// message is still the message; the same code
/// without a signature is a refusal like any other.
#[tokio::test]
async fn a_message_signed_without_a_time_stamp_is_downloaded_and_one_without_a_signature_refused() {
    let isds = FakeIsds::start().await;
    let zfo = zfo_der(fixture("signed_message.inner.xml").as_bytes());
    let unstamped = signed_response("signed_message_download.response.xml", &zfo)
        .replace("<q:dmStatusCode>0000</q:dmStatusCode>", "<q:dmStatusCode>0005</q:dmStatusCode>");
    isds.reply(StatusCode::OK, unstamped.clone());
    let message =
        isds.adapter().download_message(&session(), Direction::Received, &id("1234567")).await.expect("download");
    assert_eq!(message.zfo.bytes().await.expect("zfo").as_ref(), zfo.as_slice());

    let encoded_start = unstamped.find("<q:dmSignature>").expect("signature");
    let encoded_end = unstamped.find("</q:dmSignature>").expect("signature") + "</q:dmSignature>".len();
    let unsigned = format!("{}{}", &unstamped[..encoded_start], &unstamped[encoded_end..]);
    isds.reply(StatusCode::OK, unsigned);
    let error = isds.adapter().download_message(&session(), Direction::Received, &id("1234567")).await;
    assert!(matches!(&error, Err(IsdsError::Refused { code, .. }) if code == "0005"), "{error:?}");
}

#[tokio::test]
async fn downloads_a_sent_message_from_a_ber_zfo() {
    let isds = FakeIsds::start().await;
    let zfo = zfo_ber(fixture("signed_sent_message.inner.xml").as_bytes());
    isds.reply(StatusCode::OK, signed_response("signed_sent_message_download.response.xml", &zfo));

    let message = isds.adapter().download_message(&session(), Direction::Sent, &id("7654321")).await.expect("download");

    assert_request(&isds.only_request(), "/DS/dz", "signed_sent_message_download.request.xml");
    assert_eq!(message.envelope, sent_envelope());
    assert_eq!(message.attachments.len(), 1);
    assert_eq!(message.attachments[0].name, "reklamace.txt");
    let content = message.attachments[0].content.bytes().await.expect("content");
    assert_eq!(content.as_ref(), b"Dobry den, v priloze zasilam zadost.");
    assert_eq!(message.zfo.bytes().await.expect("zfo").as_ref(), zfo.as_slice());
}

#[tokio::test]
async fn a_zfo_that_is_not_signed_data_is_a_protocol_error() {
    let inner = fixture("signed_message.inner.xml");
    let good = zfo_der(inner.as_bytes());
    let mut wrong_type = good.clone();
    // The ContentInfo's contentType: id-data instead of id-signedData.
    let oid_at = wrong_type.windows(OID_SIGNED_DATA.len()).position(|w| w == OID_SIGNED_DATA).expect("oid");
    wrong_type[oid_at + OID_SIGNED_DATA.len() - 1] = 0x01;
    let mut trailing = good.clone();
    trailing.push(0x00);
    let truncated = good[..good.len() - 10].to_vec();
    let not_xml = zfo_der(b"PK\x03\x04 not the message XML");

    for zfo in [wrong_type, trailing, truncated, not_xml] {
        let isds = FakeIsds::start().await;
        isds.reply(StatusCode::OK, signed_response("signed_message_download.response.xml", &zfo));
        let error = isds
            .adapter()
            .download_message(&session(), Direction::Received, &id("1234567"))
            .await
            .expect_err("the call fails");
        assert!(matches!(error, IsdsError::Protocol(_)), "{error:?}");
    }
}

#[tokio::test]
async fn a_zfo_of_another_message_is_a_protocol_error() {
    let isds = FakeIsds::start().await;
    let zfo = zfo_der(fixture("signed_message.inner.xml").as_bytes());
    isds.reply(StatusCode::OK, signed_response("signed_message_download.response.xml", &zfo));

    let error = isds
        .adapter()
        .download_message(&session(), Direction::Received, &id("1111111"))
        .await
        .expect_err("the call fails");

    assert!(matches!(error, IsdsError::Protocol(ref why) if why.contains("1111111")), "{error:?}");
}

#[tokio::test]
async fn sends_a_message() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("create_message.response.xml");

    let sent = isds.adapter().send_message(&job(), &outgoing()).await.expect("send");

    assert_request(&isds.only_request(), "/DS/dz", "create_message.request.xml");
    assert_eq!(sent, id("7654322"));
}

#[tokio::test]
async fn a_commercial_message_is_marked_k() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("create_message.response.xml");

    isds.adapter().send_message(&job(), &OutgoingMessage { commercial: true, ..outgoing() }).await.expect("send");

    let expected = fixture("create_message.request.xml").replace("<dmEnvelope>", "<dmEnvelope dmType=\"K\">");
    assert_eq!(canonical(&isds.only_request().body), canonical(&expected));
}

#[tokio::test]
async fn an_invalid_message_is_refused_before_sending() {
    let isds = FakeIsds::start().await;
    let adapter = isds.adapter();
    let cases = [
        OutgoingMessage { attachments: vec![], ..outgoing() },
        OutgoingMessage { subject: "x".repeat(256), ..outgoing() },
        OutgoingMessage { sender_ident: Some("y".repeat(51)), ..outgoing() },
        OutgoingMessage { subject: "bell \u{7}".into(), ..outgoing() },
    ];

    for message in cases {
        let error = adapter.send_message(&job(), &message).await.expect_err("the call fails");
        assert!(matches!(error, IsdsError::Invalid(_)), "{error:?}");
    }
    assert!(isds.captured().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn marks_a_message_downloaded() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("mark_downloaded.response.xml");

    isds.adapter().mark_downloaded(&session(), &id("1234567")).await.expect("mark");

    assert_request(&isds.only_request(), "/DS/dx", "mark_downloaded.request.xml");
}

#[tokio::test]
async fn reads_state_changes() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("state_changes.response.xml");

    let changes = isds
        .adapter()
        .state_changes(&job(), datetime!(2025-03-10 01:00 +01:00), datetime!(2025-03-11 00:00 UTC))
        .await
        .expect("changes");

    assert_request(&isds.only_request(), "/DS/dx", "state_changes.request.xml");
    assert_eq!(
        changes,
        vec![
            StateChange {
                id: id("7654321"),
                at: datetime!(2025-03-10 08:30:00.25 +01:00),
                status: MessageStatus::Delivered
            },
            StateChange {
                id: id("7654321"),
                at: datetime!(2025-03-10 14:45:10 +01:00),
                status: MessageStatus::AcceptedByLogin
            },
        ]
    );
}

#[tokio::test]
async fn reads_the_own_box() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("owner_info.response.xml");

    let info = isds.adapter().box_info(&job()).await.expect("box info");

    assert_request(&isds.only_request(), "/DS/DsManage", "owner_info.request.xml");
    assert_eq!(
        info,
        BoxInfo {
            id: own_box(),
            box_type: 40,
            state: BoxState::Accessible,
            owner_name: "Jan Novák".into(),
            address: Some("Testovací 12/3, 602 00 Brno".into()),
            open_addressing: true,
        }
    );
}

#[tokio::test]
async fn a_single_box_login_refuses_another_box_before_sending() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("owner_info.response.xml");

    let other = BoxContext::for_job(box_id("abc1234"), Access::HostedRecordsSystem, "test");
    let error = isds.adapter().box_info(&other).await.expect_err("the call fails");

    assert!(matches!(error, IsdsError::Invalid(_)), "{error:?}");
    assert!(isds.captured().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn an_answer_about_another_box_is_not_found() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("owner_info.response.xml");
    let (cert_pem, key_pem) = test_certificate();
    let adapter =
        SoapIsds::new(config(isds.base_url(), SoapLogin::HostedCertificate { cert_pem, key_pem })).expect("adapter");

    let other = BoxContext::for_job(box_id("abc1234"), Access::HostedRecordsSystem, "test");
    let error = adapter.box_info(&other).await.expect_err("the call fails");

    assert!(matches!(error, IsdsError::NotFound), "{error:?}");
}

#[tokio::test]
async fn reads_the_credit() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("credit_info.response.xml");

    let credit = isds.adapter().credit_info(&job()).await.expect("credit");

    assert_request(&isds.only_request(), "/DS/df", "credit_info.request.xml");
    assert_eq!(credit, CreditInfo { current_hellers: 15050 });
}

#[tokio::test]
async fn reads_the_credit_history() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("credit_history.response.xml");

    let (from, to) = (time::macros::date!(2025 - 03 - 01), time::macros::date!(2025 - 03 - 31));
    let history = isds.adapter().credit_history(&job(), from, to).await.expect("history");

    assert_request(&isds.only_request(), "/DS/df", "credit_history.request.xml");
    assert_eq!(
        history,
        vec![
            CreditEvent {
                at: datetime!(2025-03-10 08:15 UTC),
                kind: 1,
                change_hellers: 20_000,
                after_hellers: 25_050,
                transaction_id: Some("3f9a0c1e2b7d4e5f8a6b9c0d1e2f3a4b".into()),
            },
            CreditEvent {
                at: datetime!(2025-03-12 13:02:11 UTC),
                kind: 3,
                change_hellers: -1_000,
                after_hellers: 24_050,
                transaction_id: None,
            },
        ]
    );
}

#[tokio::test]
async fn finds_a_personal_box_by_name_and_birth_date() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("find_personal_box.response.xml");

    let person = PersonQuery {
        first_name: " Jan ".into(),
        last_name: "Novák".into(),
        birth_date: time::macros::date!(1980 - 01 - 01),
    };
    let found = isds.adapter().find_personal_boxes(&job(), &person).await.expect("search");

    assert_request(&isds.only_request(), "/DS/df", "find_personal_box.request.xml");
    assert_eq!(found, vec![own_box()]);
}

#[tokio::test]
async fn reads_the_vault() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("dt_info.response.xml");

    let vault = isds.adapter().vault_info(&job()).await.expect("vault");

    assert_request(&isds.only_request(), "/DS/df", "dt_info.request.xml");
    assert_eq!(
        vault,
        VaultInfo {
            vault_type: 1,
            capacity: Some(50),
            used: Some(12),
            valid_from: Some(datetime!(2025-01-01 00:00 UTC)),
            valid_to: Some(datetime!(2025-12-31 00:00 UTC)),
        }
    );
}

#[tokio::test]
async fn finds_a_box_by_id() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("find_box_by_id.response.xml");

    let found = isds.adapter().find_boxes(&job(), &BoxSearch::Id(box_id("ovm7x9k"))).await.expect("find");

    assert_request(&isds.only_request(), "/DS/df", "find_box_by_id.request.xml");
    assert_eq!(found, vec![finance_office()]);
}

#[tokio::test]
async fn finds_authorities_by_name_even_when_truncated() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("find_box_by_name.response.xml");

    let found = isds.adapter().find_boxes(&job(), &BoxSearch::Name("  Finanční úřad ".into())).await.expect("find");

    assert_request(&isds.only_request(), "/DS/df", "find_box_by_name.request.xml");
    let other = BoxInfo {
        id: box_id("ovm2k5m"),
        box_type: 13,
        state: BoxState::TemporarilyInaccessible,
        owner_name: "Finanční úřad pro Vzorový kraj".into(),
        address: Some("4, Plzeň".into()),
        open_addressing: false,
    };
    assert_eq!(found, vec![finance_office(), other]);
}

#[tokio::test]
async fn finding_a_missing_box_finds_nothing() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("find_box_not_found.response.xml");

    let found = isds.adapter().find_boxes(&job(), &BoxSearch::Id(box_id("abc1234"))).await.expect("find");

    assert!(found.is_empty());
}

#[tokio::test]
async fn a_name_search_needs_three_characters() {
    let isds = FakeIsds::start().await;

    let error = isds.adapter().find_boxes(&job(), &BoxSearch::Name(" FÚ ".into())).await.expect_err("the call fails");

    assert!(matches!(error, IsdsError::Invalid(_)), "{error:?}");
    assert!(isds.captured().is_empty());
}

// ---------------------------------------------------------------------------
// Error mapping

#[tokio::test]
async fn an_isds_error_status_is_refused_with_its_code() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("error_refused.response.xml");

    let error = isds.adapter().send_message(&job(), &outgoing()).await.expect_err("the call fails");

    match error {
        IsdsError::Refused { code, message } => {
            assert_eq!(code, "1216");
            assert_eq!(message, "Datovou zprávu nelze odeslat do vlastní schránky.");
        }
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn a_missing_message_is_not_found() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("error_not_found.response.xml");

    let error = isds
        .adapter()
        .download_message(&session(), Direction::Received, &id("1234567"))
        .await
        .expect_err("the call fails");

    assert!(matches!(error, IsdsError::NotFound), "{error:?}");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn too_many_requests_is_retryable() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("error_busy.response.xml");

    let error = isds
        .adapter()
        .list_messages(&job(), Direction::Received, &ListQuery::default())
        .await
        .expect_err("the call fails");

    assert!(matches!(error, IsdsError::Unavailable(_)), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn http_500_is_unavailable_and_retryable() {
    let isds = FakeIsds::start().await;
    isds.reply(StatusCode::INTERNAL_SERVER_ERROR, fixture("soap_fault_server.response.xml"));
    isds.reply(StatusCode::SERVICE_UNAVAILABLE, "<html>maintenance</html>");
    let adapter = isds.adapter();

    for _ in 0..2 {
        let error = adapter.mark_downloaded(&session(), &id("1234567")).await.expect_err("the call fails");
        assert!(matches!(error, IsdsError::Unavailable(_)), "{error:?}");
        assert!(error.is_retryable());
    }
}

#[tokio::test]
async fn a_client_fault_is_a_protocol_error() {
    let isds = FakeIsds::start().await;
    isds.reply(StatusCode::INTERNAL_SERVER_ERROR, fixture("soap_fault_client.response.xml"));

    let error = isds.adapter().mark_downloaded(&session(), &id("1234567")).await.expect_err("the call fails");

    assert!(matches!(error, IsdsError::Protocol(_)), "{error:?}");
    assert!(!error.is_retryable());
}

#[tokio::test]
async fn http_401_is_refused_with_a_login_message() {
    let isds = FakeIsds::start().await;
    isds.reply(StatusCode::UNAUTHORIZED, "");

    let error = isds.adapter().box_info(&job()).await.expect_err("the call fails");

    match error {
        IsdsError::Refused { code, message } => {
            assert_eq!(code, "HTTP 401");
            assert!(message.contains("login"), "{message}");
        }
        other => panic!("expected Refused, got {other:?}"),
    }
}

#[tokio::test]
async fn malformed_xml_is_a_protocol_error() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("malformed.response.xml");

    let error = isds
        .adapter()
        .list_messages(&job(), Direction::Received, &ListQuery::default())
        .await
        .expect_err("the call fails");

    assert!(matches!(error, IsdsError::Protocol(_)), "{error:?}");
}

#[tokio::test]
async fn a_missing_required_element_is_a_protocol_error() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("error_missing_dmid.response.xml");

    let error =
        isds.adapter().state_changes(&job(), datetime!(2025-03-10 00:00 UTC), datetime!(2025-03-11 00:00 UTC)).await;

    assert!(matches!(error, Err(IsdsError::Protocol(ref why)) if why.contains("dmID")), "{error:?}");
}

#[tokio::test]
async fn the_answer_of_another_operation_is_a_protocol_error() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("mark_downloaded.response.xml");

    let error = isds
        .adapter()
        .list_messages(&job(), Direction::Received, &ListQuery::default())
        .await
        .expect_err("the call fails");

    assert!(matches!(error, IsdsError::Protocol(_)), "{error:?}");
}

#[tokio::test]
async fn a_timeout_is_unavailable() {
    let isds = FakeIsds::start().await;
    isds.hang();
    let timeouts = SoapTimeouts { request: Duration::from_millis(300), ..SoapTimeouts::default() };
    let adapter = SoapIsds::new(SoapConfig { timeouts, ..config(isds.base_url(), password_login()) }).expect("adapter");

    let error = adapter.mark_downloaded(&session(), &id("1234567")).await.expect_err("the call fails");

    assert!(matches!(error, IsdsError::Unavailable(_)), "{error:?}");
    assert!(error.is_retryable());
}

#[tokio::test]
async fn a_refused_connection_is_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = listener.local_addr().expect("address");
    drop(listener);
    let adapter = SoapIsds::new(config(format!("http://{addr}/DS/"), password_login())).expect("adapter");

    let error = adapter.credit_info(&job()).await.expect_err("the call fails");

    assert!(matches!(error, IsdsError::Unavailable(_)), "{error:?}");
}

// ---------------------------------------------------------------------------
// Configuration and logins

/// A throwaway self-signed client certificate, made on the fly (no key is
/// ever committed).
fn test_certificate() -> (String, SecretString) {
    let dir = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (dir.path().join("client.crt"), dir.path().join("client.key"));
    let status = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=portal ISDS test client"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("openssl is installed (the test command needs it)");
    assert!(status.success(), "openssl made the test certificate");
    let read = |path: &std::path::Path| std::fs::read_to_string(path).expect("readable");
    (read(&cert), SecretString::from(read(&key)))
}

#[tokio::test]
async fn a_hosted_certificate_login_names_the_box_in_basic_auth() {
    // Plain HTTP here, so the certificate is built but never presented; what
    // is checked is the Basic header of the hosted ("hspis") method.
    let isds = FakeIsds::start().await;
    isds.reply_fixture("mark_downloaded.response.xml");
    let (cert_pem, key_pem) = test_certificate();
    let adapter =
        SoapIsds::new(config(isds.base_url(), SoapLogin::HostedCertificate { cert_pem, key_pem })).expect("adapter");

    adapter.mark_downloaded(&session(), &id("1234567")).await.expect("mark");

    let captured = isds.only_request();
    assert_soap_headers(&captured);
    let basic = format!("Basic {}", BASE64.encode("fo4ab2c:"));
    assert_eq!(captured.headers.get("authorization").and_then(|v| v.to_str().ok()), Some(basic.as_str()));
    assert_eq!(canonical(&captured.body), canonical(&fixture("mark_downloaded.request.xml")));
}

#[tokio::test]
async fn a_certificate_login_sends_no_basic_auth() {
    let isds = FakeIsds::start().await;
    isds.reply_fixture("credit_info.response.xml");
    let (cert_pem, key_pem) = test_certificate();
    let adapter =
        SoapIsds::new(config(isds.base_url(), SoapLogin::Certificate { cert_pem, key_pem, own_box: own_box() }))
            .expect("adapter");

    adapter.credit_info(&job()).await.expect("credit");

    let captured = isds.only_request();
    assert_soap_headers(&captured);
    assert!(captured.headers.get("authorization").is_none());
}

#[test]
fn the_configuration_is_checked() {
    let invalid = |base_url: &str, login: SoapLogin| {
        let error = SoapIsds::new(config(base_url.into(), login)).expect_err("the call fails");
        assert!(matches!(error, IsdsError::Invalid(_)), "{base_url}: {error:?}");
    };
    invalid("http://ws1.mojedatovaschranka.cz/DS/", password_login());
    invalid("ftp://127.0.0.1/DS/", password_login());
    invalid("not a url", password_login());
    invalid("https://user:secret@ws1.mojedatovaschranka.cz/DS/", password_login());
    invalid(
        "https://ws1.mojedatovaschranka.cz/DS/",
        SoapLogin::Password { user: String::new(), password: SecretString::from("x"), own_box: own_box() },
    );
    invalid(
        "https://ws1c.mojedatovaschranka.cz/cert/DS/",
        SoapLogin::Certificate {
            cert_pem: "not PEM".into(),
            key_pem: SecretString::from("not PEM either"),
            own_box: own_box(),
        },
    );

    for url in [
        portal_databox::isds::soap::endpoints::PRODUCTION_PASSWORD,
        portal_databox::isds::soap::endpoints::TEST_PASSWORD,
        "https://ws1.czebox.cz/DS",
        "http://localhost:8080/DS/",
        "http://[::1]:8080/DS/",
    ] {
        SoapIsds::new(config(url.into(), password_login())).unwrap_or_else(|e| panic!("{url}: {e:?}"));
    }
}

/// A downloaded message's files as the port's outgoing files (comparable).
async fn files_of(message: &portal_databox::isds::SignedMessage) -> Vec<Attachment> {
    let mut files = Vec::new();
    for file in &message.attachments {
        files.push(Attachment {
            name: file.name.clone(),
            mime_type: file.mime_type.clone(),
            meta_type: file.meta_type,
            content: file.content.bytes().await.expect("in memory"),
        });
    }
    files
}
