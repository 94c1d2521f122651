//! Every request the ISDS SOAP adapter can build, checked by an outside
//! oracle: the operator's WSDL and XSD (`tests/fixtures/isds/xsd/`, see its
//! README) and libxml2's schema validator through Python lxml
//! (`tests/isds_schema.py`, run by `PORTAL_TEST_PYTHON`). Each request is
//! built with every optional value the port can carry set, and with every one
//! unset; the validator also checks that the endpoint the adapter posted to
//! serves an operation whose input is the request's element, in the binding's
//! SOAP version, and unpacks the VoDZ upload's MTOM/XOP package (its
//! `xop:Include` replaced by the file part) before validating it.

mod support;

use std::collections::BTreeSet;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use portal_databox::isds::soap::{SoapConfig, SoapIsds, SoapLogin, SoapTimeouts};
use portal_databox::isds::{
    Access, Attachment, AttachmentHash, AttachmentUpload, BigFile, BoxContext, BoxId, BoxSearch, Direction,
    FileMetaType, Isds, IsdsError, IsdsResult, ListQuery, MessageId, MessageStatus, OutgoingMessage, PersonQuery,
    SessionContext, UploadedAttachment,
};
use secrecy::SecretString;
use time::macros::datetime;

/// The request kinds the adapter builds (the table in `isds/soap.rs`).
const OPERATIONS: [&str; 16] = [
    "CreateBigMessage",
    "CreateMessage",
    "DTInfo",
    "DataBoxCreditInfo",
    "FindDataBox",
    "FindPersonalDataBox",
    "GetListOfReceivedMessages",
    "GetListOfSentMessages",
    "GetMessageStateChanges",
    "GetOwnerInfoFromLogin",
    "MarkMessageAsDownloaded",
    "SignedBigMessageDownload",
    "SignedMessageDownload",
    "SignedSentBigMessageDownload",
    "SignedSentMessageDownload",
    "UploadAttachment",
];

/// One request as it left the adapter.
#[derive(Debug, Clone)]
struct Recorded {
    label: &'static str,
    path: String,
    content_type: String,
    body: Vec<u8>,
}

/// (URL path, Content-Type, body) of each request the recorder saw.
type Seen = Arc<Mutex<Vec<(String, String, Vec<u8>)>>>;

/// A local server that keeps every request and answers none of them (503),
/// so each call fails after its request was sent: only the request matters.
#[derive(Debug)]
struct Recorder {
    addr: SocketAddr,
    seen: Seen,
    kept: Vec<Recorded>,
}

impl Recorder {
    async fn start() -> Self {
        let seen = Seen::default();
        let app = Router::new().fallback(record).with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });
        Self { addr, seen, kept: Vec::new() }
    }

    fn adapter(&self) -> SoapIsds {
        let login = SoapLogin::Password {
            user: "portal-test".into(),
            password: SecretString::from("tajne-heslo"),
            own_box: own_box(),
        };
        SoapIsds::new(SoapConfig {
            base_url: format!("http://{}/DS/", self.addr),
            login,
            timeouts: SoapTimeouts::default(),
        })
        .expect("adapter")
    }

    /// The call sent exactly one request; keep it under `label`.
    fn keep<T: std::fmt::Debug>(&mut self, label: &'static str, result: IsdsResult<T>) {
        assert!(matches!(result, Err(IsdsError::Unavailable(_))), "{label}: the recorder answers 503: {result:?}");
        let mut seen = self.seen.lock().expect("lock");
        assert_eq!(seen.len(), 1, "{label}: expected one request");
        let (path, content_type, body) = seen.remove(0);
        self.kept.push(Recorded { label, path, content_type, body });
    }
}

async fn record(State(seen): State<Seen>, uri: Uri, headers: HeaderMap, body: Bytes) -> StatusCode {
    let content_type = headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
    seen.lock().expect("lock").push((uri.path().to_owned(), content_type, body.to_vec()));
    StatusCode::SERVICE_UNAVAILABLE
}

fn schema_dir() -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", "isds", "xsd"].iter().collect()
}

fn validator() -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "tests", "isds_schema.py"].iter().collect()
}

/// What the validator says about the requests: success, and its output.
fn validate(python: &str, dir: &Path, requests: &[Recorded]) -> (bool, String) {
    let mut command = Command::new(python);
    command.arg(validator()).arg(schema_dir());
    for request in requests {
        // A text/xml body as it is; any other with its Content-Type first.
        let file = if request.content_type.starts_with("text/xml") {
            let file = dir.join(format!("{}.xml", request.label));
            std::fs::write(&file, &request.body).expect("write the request");
            file
        } else {
            let file = dir.join(format!("{}.mime", request.label));
            let mut mime = format!("Content-Type: {}\r\n\r\n", request.content_type).into_bytes();
            mime.extend_from_slice(&request.body);
            std::fs::write(&file, mime).expect("write the request");
            file
        };
        command.arg(&request.path).arg(file);
    }
    let output = command.output().expect("the test Python runs");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), report)
}

fn citizen() -> portal_security::Citizen {
    support::citizen("DEMO%2Fjana-novakova")
}

fn own_box() -> BoxId {
    BoxId::parse("fo4ab2c").expect("box id")
}

fn message_id() -> MessageId {
    MessageId::parse("1234567").expect("message id")
}

/// Every filter set: both times (with a fraction of a second), every status,
/// a page.
fn full_query() -> ListQuery {
    ListQuery {
        from: Some(datetime!(2025-03-01 01:00:00.123_456_789 +01:00)),
        to: Some(datetime!(2025-03-31 23:59:59 +02:00)),
        statuses: vec![
            MessageStatus::Submitted,
            MessageStatus::Stamped,
            MessageStatus::Infected,
            MessageStatus::Delivered,
            MessageStatus::DeemedDelivered,
            MessageStatus::AcceptedByLogin,
            MessageStatus::Read,
            MessageStatus::Undeliverable,
            MessageStatus::ContentDeleted,
            MessageStatus::InVault,
        ],
        offset: 21,
        limit: 20,
    }
}

fn attachment(name: &str, meta_type: FileMetaType) -> Attachment {
    Attachment {
        name: name.into(),
        mime_type: "application/pdf".into(),
        meta_type,
        content: Bytes::from_static(b"%PDF-1.7 portal test document"),
    }
}

/// Every optional envelope value set, each at its longest (the schema counts
/// characters, so they are not ASCII), commercial, for the addressee only, and
/// an attachment of each kind.
fn full_message() -> OutgoingMessage {
    let chars = |c: char, n: usize| std::iter::repeat_n(c, n).collect::<String>();
    OutgoingMessage {
        recipient: BoxId::parse("ovm7x9k").expect("box id"),
        subject: chars('ž', 255),
        sender_ref_number: Some(chars('č', 50)),
        sender_ident: Some(chars('ř', 50)),
        recipient_ref_number: Some(chars('š', 50)),
        recipient_ident: Some(chars('ý', 50)),
        to_hands: Some("Ing. Jana Nováková & <podatelna>".into()),
        personal_delivery: true,
        commercial: true,
        attachments: vec![
            attachment("žádost.pdf", FileMetaType::Main),
            attachment("příloha \"1\".pdf", FileMetaType::Enclosure),
            attachment("podpis.p7s", FileMetaType::Signature),
            attachment("meta.xml", FileMetaType::Meta),
        ],
    }
}

/// Every optional envelope value unset.
fn bare_message() -> OutgoingMessage {
    OutgoingMessage {
        recipient: BoxId::parse("ovm7x9k").expect("box id"),
        subject: "Žádost".into(),
        sender_ref_number: None,
        sender_ident: None,
        recipient_ref_number: None,
        recipient_ident: None,
        to_hands: None,
        personal_delivery: false,
        commercial: false,
        attachments: vec![attachment("zadost.pdf", FileMetaType::Main)],
    }
}

/// A file of a big message, streamed in slices of 7 bytes.
fn upload(name: &str) -> AttachmentUpload {
    AttachmentUpload::of(&attachment(name, FileMetaType::Main), 7)
}

/// An uploaded file as ISDS answers it (the algorithms' names as libdatovka
/// and ISDS's clients show them).
fn uploaded(id: &str) -> UploadedAttachment {
    let hash = |value: &str, algorithm: &str| AttachmentHash { value: value.into(), algorithm: algorithm.into() };
    UploadedAttachment {
        id: id.into(),
        hash1: hash("3q2+7w==", "SHA-256"),
        hash2: hash("9e107d9d372bb6826bd81d3542a419d6", "SHA-512"),
    }
}

/// Every request kind, with its optional values set and unset.
async fn every_request() -> Vec<Recorded> {
    let mut recorder = Recorder::start().await;
    let isds = recorder.adapter();
    let own = BoxContext::for_job(own_box(), Access::HostedRecordsSystem, "test");
    let session = SessionContext::new(own_box(), Access::HostedRecordsSystem, &citizen());
    let (from, to) = (datetime!(2025-03-10 01:00 +01:00), datetime!(2025-03-11 00:00 UTC));

    for (direction, set, unset) in [
        (Direction::Received, "list_received.set", "list_received.unset"),
        (Direction::Sent, "list_sent.set", "list_sent.unset"),
    ] {
        recorder.keep(set, isds.list_messages(&own, direction, &full_query()).await);
        recorder.keep(unset, isds.list_messages(&own, direction, &ListQuery::default()).await);
    }
    recorder.keep("download_received", isds.download_message(&session, Direction::Received, &message_id()).await);
    recorder.keep("download_sent", isds.download_message(&session, Direction::Sent, &message_id()).await);
    recorder.keep("create_message.set", isds.send_message(&own, &full_message()).await);
    recorder.keep("create_message.unset", isds.send_message(&own, &bare_message()).await);
    recorder.keep("mark_downloaded", isds.mark_downloaded(&session, &message_id()).await);
    recorder.keep("state_changes", isds.state_changes(&own, from, to).await);
    recorder.keep("owner_info", isds.box_info(&own).await);
    recorder.keep("credit_info", isds.credit_info(&own).await);
    let (first, last) = (time::macros::date!(2025 - 03 - 01), time::macros::date!(2025 - 03 - 31));
    recorder.keep("credit_history", isds.credit_history(&own, first, last).await);
    recorder.keep("dt_info", isds.vault_info(&own).await);
    let person = PersonQuery {
        first_name: "Jan <&>".into(),
        last_name: "Novák".into(),
        birth_date: time::macros::date!(1980 - 01 - 01),
    };
    recorder.keep("find_personal_box", isds.find_personal_boxes(&own, &person).await);
    recorder.keep("find_box.by_id", isds.find_boxes(&own, &BoxSearch::Id(own_box())).await);
    recorder.keep("find_box.by_name", isds.find_boxes(&own, &BoxSearch::Name("Úřad <&> \"města\"".into())).await);
    let ico = portal_databox::isds::Ico::parse("27074358").expect("a valid IČO");
    recorder.keep("find_box.by_ico", isds.find_boxes(&own, &BoxSearch::Ico(ico)).await);

    // Big messages (VoDZ): SOAP 1.2 at /DS/vodz, the upload as MTOM/XOP.
    recorder.keep("upload_attachment", isds.upload_attachment(&own, upload("příloha <1> & \"2\".pdf")).await);
    let files: Vec<BigFile> =
        [FileMetaType::Main, FileMetaType::Enclosure, FileMetaType::Signature, FileMetaType::Meta]
            .into_iter()
            .enumerate()
            .map(|(i, meta_type)| BigFile { meta_type, uploaded: uploaded(&format!("att-{i}")) })
            .collect();
    recorder.keep("create_big_message.set", isds.create_big_message(&own, &full_message(), &files).await);
    recorder.keep("create_big_message.unset", isds.create_big_message(&own, &bare_message(), &files[..1]).await);
    recorder.keep(
        "download_big_received",
        isds.download_big_message(
            &session,
            Direction::Received,
            &message_id(),
            &portal_databox::isds::Stash::in_memory(),
        )
        .await,
    );
    recorder.keep(
        "download_big_sent",
        isds.download_big_message(&session, Direction::Sent, &message_id(), &portal_databox::isds::Stash::in_memory())
            .await,
    );
    recorder.kept
}

#[tokio::test]
async fn every_request_is_valid_against_the_official_schema() {
    let Some(python) = portal_testkit::test_python() else { return };
    let requests = every_request().await;
    let dir = tempfile::tempdir().expect("tempdir");

    let (valid, report) = validate(&python, dir.path(), &requests);

    assert!(valid, "requests invalid against the ISDS WSDL/XSD:\n{report}");
    let validated: BTreeSet<&str> =
        report.lines().filter_map(|line| line.strip_prefix("ok ")?.split(' ').next()).collect();
    assert_eq!(validated, OPERATIONS.into_iter().collect::<BTreeSet<_>>(), "{report}");
    assert_eq!(report.lines().filter(|line| line.starts_with("ok ")).count(), requests.len(), "{report}");
}

/// The hand-written request fixtures `tests/isds_soap.rs` compares the
/// adapter's requests with, and the endpoint each is posted to.
const REQUEST_FIXTURES: [(&str, &str); 14] = [
    ("create_message", "/DS/dz"),
    ("signed_message_download", "/DS/dz"),
    ("signed_sent_message_download", "/DS/dz"),
    ("list_received", "/DS/dx"),
    ("list_sent", "/DS/dx"),
    ("mark_downloaded", "/DS/dx"),
    ("state_changes", "/DS/dx"),
    ("credit_info", "/DS/df"),
    ("credit_history", "/DS/df"),
    ("dt_info", "/DS/df"),
    ("find_box_by_id", "/DS/df"),
    ("find_box_by_name", "/DS/df"),
    ("find_personal_box", "/DS/df"),
    ("owner_info", "/DS/DsManage"),
];

#[test]
fn the_request_fixtures_are_valid_against_the_official_schema() {
    let Some(python) = portal_testkit::test_python() else { return };
    let fixtures: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", "isds"].iter().collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(&fixtures)
        .expect("fixtures")
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.strip_suffix(".request.xml").map(str::to_owned))
        .collect();
    let listed: BTreeSet<String> = REQUEST_FIXTURES.iter().map(|(name, _)| (*name).to_owned()).collect();
    assert_eq!(on_disk, listed, "every request fixture is validated");

    let mut command = Command::new(python);
    command.arg(validator()).arg(schema_dir());
    for (name, path) in REQUEST_FIXTURES {
        command.arg(path).arg(fixtures.join(format!("{name}.request.xml")));
    }
    let output = command.output().expect("the test Python runs");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "request fixtures invalid against the ISDS WSDL/XSD:\n{report}");
}

#[tokio::test]
async fn the_validator_rejects_empty_typed_elements_and_wrong_endpoints() {
    let Some(python) = portal_testkit::test_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let envelope = |payload: &str| {
        format!(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope \
             xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>{payload}</soap:Body></soap:Envelope>"
        )
    };
    let credit = |dates: &str| {
        envelope(&format!(
            "<DataBoxCreditInfo xmlns=\"http://isds.czechpoint.cz/v20\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"><dbID>fo4ab2c</dbID>{dates}</DataBoxCreditInfo>"
        ))
    };
    let nil_dates = "<ciFromDate xsi:nil=\"true\"/><ciTodate xsi:nil=\"true\"/>";
    let case = |label: &'static str, path: &str, body: String| Recorded {
        label,
        path: path.into(),
        content_type: "text/xml; charset=utf-8".into(),
        body: body.into_bytes(),
    };

    let (valid, report) = validate(&python, dir.path(), &[case("nil", "/DS/df", credit(nil_dates))]);
    assert!(valid, "{report}");

    for bad in [
        case("empty_date", "/DS/df", credit("<ciFromDate/><ciTodate xsi:nil=\"true\"/>")),
        case("missing_date", "/DS/df", credit("<ciTodate xsi:nil=\"true\"/>")),
        case("wrong_endpoint", "/DS/dx", credit(nil_dates)),
        case("not_soap", "/DS/df", "<DataBoxCreditInfo xmlns=\"http://isds.czechpoint.cz/v20\"/>".into()),
    ] {
        let label = bad.label;
        let (valid, report) = validate(&python, dir.path(), &[bad]);
        assert!(!valid && report.starts_with("INVALID"), "{label} passed the validator:\n{report}");
    }
}

/// The VoDZ requests as the adapter sends them pass; each way of breaking
/// their packaging or SOAP version does not.
#[tokio::test]
async fn the_validator_rejects_a_broken_xop_package_and_the_wrong_soap_version() {
    let Some(python) = portal_testkit::test_python() else { return };
    let dir = tempfile::tempdir().expect("tempdir");
    let mut recorder = Recorder::start().await;
    let isds = recorder.adapter();
    let own = BoxContext::for_job(own_box(), Access::HostedRecordsSystem, "test");
    recorder.keep("upload", isds.upload_attachment(&own, upload("a.pdf")).await);
    let files = [BigFile { meta_type: FileMetaType::Main, uploaded: uploaded("att-0") }];
    recorder.keep("create", isds.create_big_message(&own, &bare_message(), &files).await);
    let (upload, create) = (recorder.kept[0].clone(), recorder.kept[1].clone());
    assert!(upload.content_type.starts_with("multipart/related;"), "{}", upload.content_type);
    assert!(create.content_type.starts_with("application/soap+xml"), "{}", create.content_type);
    let (valid, report) = validate(&python, dir.path(), &[upload.clone(), create.clone()]);
    assert!(valid, "{report}");

    let replace = |request: &Recorded, label: &'static str, from: &str, to: &str| {
        let body = String::from_utf8_lossy(&request.body);
        assert!(body.contains(from), "{label}: {from} is in the request");
        Recorded { label, body: body.replace(from, to).into_bytes(), ..request.clone() }
    };
    let retyped = |request: &Recorded, label: &'static str, from: &str, to: &str| {
        assert!(request.content_type.contains(from), "{label}");
        Recorded { label, content_type: request.content_type.replace(from, to), ..request.clone() }
    };
    for bad in [
        replace(&upload, "include_names_no_part", "href=\"cid:file.0@portal.gov.cz\"", "href=\"cid:other@x\""),
        replace(&upload, "part_named_by_nothing", "<xop:Include", "<xop:Included"),
        retyped(&upload, "not_xop", "type=\"application/xop+xml\"", "type=\"text/xml\""),
        retyped(&upload, "not_soap12_root", "start-info=\"application/soap+xml\"", "start-info=\"text/xml\""),
        retyped(&upload, "another_root", "start=\"<root.message@portal.gov.cz>\"", "start=\"<file.0@portal.gov.cz>\""),
        replace(
            &create,
            "soap11_envelope",
            "http://www.w3.org/2003/05/soap-envelope",
            "http://schemas.xmlsoap.org/soap/envelope/",
        ),
        Recorded { label: "soap12_as_text_xml", content_type: "text/xml; charset=utf-8".into(), ..create.clone() },
        Recorded { label: "vodz_elsewhere", path: "/DS/dz".into(), ..create.clone() },
    ] {
        let label = bad.label;
        let (valid, report) = validate(&python, dir.path(), &[bad]);
        assert!(!valid && report.starts_with("INVALID"), "{label} passed the validator:\n{report}");
    }
}
