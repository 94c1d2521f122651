//! Issue 14 §6 in production: a request for a data box goes through the real
//! SOAP adapter (`isds::soap::manage`, `CreateDataBox2` and `FindDataBox2`)
//! to a recording ISDS (real HTTP, axum on 127.0.0.1:0), driven by the
//! capability's own HTTP API and timer. Every request the adapter sent is
//! then checked against the operator's WSDL and XSD (`tests/isds_schema.py`,
//! libxml2 through lxml, when `PORTAL_TEST_PYTHON` is set): with every
//! optional value of the person set, and with every one unset.

use std::path::PathBuf;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use portal_databox::box_requests::{OwnerAddress, OwnerIdentities, OwnerIdentity, advance_all};
use portal_databox::isds::BoxId;
use portal_databox::isds::soap::manage::SoapBoxManagement;
use portal_databox::isds::soap::{SoapConfig, SoapIsds, SoapLogin, SoapTimeouts};
use portal_databox::{Databox, NoDirectory, functions};
use portal_security::SubjectId;
use portal_testkit::faults::{FaultyDocuments, Op};
use portal_testkit::{Harness, Login, PETR, call, get, json_of, write};
use secrecy::SecretString;
use serde_json::Value;
use time::macros::date;

mod support;

use support::databox_on;

const ISDS_NS: &str = "http://isds.czechpoint.cz/v20";

/// How the recording ISDS answers `CreateDataBox2`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum OnCreate {
    /// Creates the box and answers its id.
    Create,
    /// Answers a refusal (a made-up code and message: the test's, not ISDS's).
    Refuse,
    /// HTTP 503, nothing created.
    Unavailable,
    /// Never answers: the adapter's timeout ends the call, nothing created.
    Hang,
    /// Creates the box, then answers 503: the answer is lost, the box exists.
    CreateThenFail,
}

#[derive(Debug)]
struct FakeBox {
    id: String,
    given_names: String,
    last_name: String,
    birth_date: String,
}

#[derive(Debug)]
struct Fake {
    boxes: Vec<FakeBox>,
    on_create: OnCreate,
    /// `FindDataBox2` answers 503 while set.
    search_down: bool,
    creates: usize,
    /// (URL path, operation, body) of every request.
    seen: Vec<(String, String, String)>,
}

type Shared = Arc<Mutex<Fake>>;

fn fake() -> Shared {
    Arc::new(Mutex::new(Fake {
        boxes: Vec::new(),
        on_create: OnCreate::Create,
        search_down: false,
        creates: 0,
        seen: Vec::new(),
    }))
}

/// The text of the first `<name>…</name>` in `body`.
fn element(body: &str, name: &str) -> Option<String> {
    let start = body.find(&format!("<{name}>"))? + name.len() + 2;
    let end = start + body[start..].find(&format!("</{name}>"))?;
    Some(body[start..end].to_owned())
}

fn envelope(payload: &str) -> Response {
    let body = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?><soap:Envelope \
         xmlns:soap=\"http://schemas.xmlsoap.org/soap/envelope/\"><soap:Body>{payload}</soap:Body></soap:Envelope>"
    );
    (StatusCode::OK, [("content-type", "text/xml; charset=utf-8")], body).into_response()
}

fn status(code: &str, message: &str) -> String {
    format!("<dbStatus><dbStatusCode>{code}</dbStatusCode><dbStatusMessage>{message}</dbStatusMessage></dbStatus>")
}

async fn answer(State(fake): State<Shared>, uri: Uri, body: Bytes) -> Response {
    let body = String::from_utf8(body.to_vec()).expect("the adapter sends UTF-8");
    let operation = ["FindDataBox2", "CreateDataBox2"]
        .into_iter()
        .find(|op| body.contains(&format!("<{op} ")))
        .unwrap_or("unknown")
        .to_owned();
    let (on_create, search_down) = {
        let mut fake = fake.lock().expect("lock");
        fake.seen.push((uri.path().to_owned(), operation.clone(), body.clone()));
        (fake.on_create, fake.search_down)
    };
    match operation.as_str() {
        "FindDataBox2" if search_down => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        "FindDataBox2" => {
            let fake = fake.lock().expect("lock");
            let (last, birth) = (element(&body, "pnLastName"), element(&body, "biDate"));
            // ISDS matches a name as a prefix: a namesake's longer name is
            // found too, and the adapter must leave it out.
            let found: String = fake
                .boxes
                .iter()
                .filter(|b| last.as_deref().is_some_and(|l| b.last_name.starts_with(l)))
                .filter(|b| birth.as_deref() == Some(b.birth_date.as_str()))
                .map(|b| {
                    format!(
                        "<dbOwnerInfo><dbID>{}</dbID><dbType>FO</dbType><ic xsi:nil=\"true\"/><pnGivenNames>{}\
                         </pnGivenNames><pnLastName>{}</pnLastName><biDate>{}</biDate><dbState>3</dbState>\
                         </dbOwnerInfo>",
                        b.id, b.given_names, b.last_name, b.birth_date
                    )
                })
                .collect();
            let xsi = "xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\"";
            if found.is_empty() {
                let none = status("0002", "Podmínkám neodpovídá žádná datová schránka.");
                envelope(&format!("<FindDataBox2Response xmlns=\"{ISDS_NS}\">{none}</FindDataBox2Response>"))
            } else {
                envelope(&format!(
                    "<FindDataBox2Response xmlns=\"{ISDS_NS}\" {xsi}><dbResults>{found}</dbResults>{}\
                     </FindDataBox2Response>",
                    status("0000", "Provedeno úspěšně.")
                ))
            }
        }
        "CreateDataBox2" => match on_create {
            OnCreate::Unavailable => StatusCode::SERVICE_UNAVAILABLE.into_response(),
            OnCreate::Hang => std::future::pending().await,
            OnCreate::Refuse => envelope(&format!(
                "<CreateDataBox2Response xmlns=\"{ISDS_NS}\">{}</CreateDataBox2Response>",
                status("9001", "Testovací odmítnutí: osoba nebyla ztotožněna.")
            )),
            OnCreate::Create | OnCreate::CreateThenFail => {
                let mut fake = fake.lock().expect("lock");
                fake.creates += 1;
                let id = format!("nfo{:04}", fake.creates);
                let (given, last, birth) =
                    (element(&body, "pnGivenNames"), element(&body, "pnLastName"), element(&body, "biDate"));
                fake.boxes.push(FakeBox {
                    id: id.clone(),
                    given_names: given.unwrap_or_default(),
                    last_name: last.unwrap_or_default(),
                    birth_date: birth.unwrap_or_default(),
                });
                if on_create == OnCreate::CreateThenFail {
                    return StatusCode::SERVICE_UNAVAILABLE.into_response();
                }
                envelope(&format!(
                    "<CreateDataBox2Response xmlns=\"{ISDS_NS}\"><dbID>{id}</dbID>{}</CreateDataBox2Response>",
                    status("0000", "Provedeno úspěšně.")
                ))
            }
        },
        _ => StatusCode::BAD_REQUEST.into_response(),
    }
}

/// The person as the identity profile gives them.
#[derive(Debug)]
struct Identities(OwnerIdentity);

#[async_trait]
impl OwnerIdentities for Identities {
    async fn identity(
        &self,
        subject: &SubjectId,
    ) -> Result<Option<OwnerIdentity>, Box<dyn std::error::Error + Send + Sync>> {
        Ok((subject.as_str() == PETR).then(|| self.0.clone()))
    }
}

/// Only what every request has: names and the birth date.
fn minimal() -> OwnerIdentity {
    OwnerIdentity {
        given_names: "Petr".into(),
        last_name: "Svoboda".into(),
        birth_date: date!(1985 - 04 - 12),
        birth_city: None,
        birth_county: None,
        birth_state: None,
        address: None,
        nationality: None,
        last_name_at_birth: None,
        email: None,
    }
}

/// Every optional value set, with characters that need escaping.
fn full() -> OwnerIdentity {
    OwnerIdentity {
        given_names: "Petr Jan".into(),
        last_name: "Svoboda".into(),
        birth_date: date!(1985 - 04 - 12),
        birth_city: Some("Ústí nad Labem".into()),
        birth_county: Some("Ústí nad Labem".into()),
        birth_state: Some("CZ".into()),
        address: Some(OwnerAddress {
            code: Some("21758638".into()),
            city: Some("Praha".into()),
            district: Some("Vinohrady".into()),
            street: Some("Korunní <& \"nároží\">".into()),
            number_in_street: Some("12a".into()),
            number_in_municipality: Some("810".into()),
            zip_code: Some("12000".into()),
            state: Some("CZ".into()),
        }),
        nationality: Some("CZ".into()),
        last_name_at_birth: Some("Novák".into()),
        email: Some("petr.svoboda@example.cz".into()),
    }
}

struct Setup {
    fake: Shared,
    harness: Harness,
    router: Router,
    databox: Databox,
    petr: Login,
    faults: Arc<FaultyDocuments>,
}

async fn setup(identity: OwnerIdentity) -> Setup {
    let fake = fake();
    let app = Router::new().fallback(answer).with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("address");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });

    let harness = Harness::new();
    let faults = Arc::new(FaultyDocuments::new(harness.store.clone()));
    let harness = harness.with_documents(faults.clone());
    // The operator's own privileged login (on the test instance a user name
    // and password of its box may stand in for the system certificate).
    let config = || SoapConfig {
        base_url: format!("http://{addr}/DS/"),
        login: SoapLogin::Password {
            user: "spravce-test".into(),
            password: SecretString::from("tajne-heslo"),
            own_box: BoxId::parse("ovm4spr").expect("box id"),
        },
        timeouts: SoapTimeouts { request: Duration::from_millis(500), ..SoapTimeouts::default() },
    };
    let management = SoapBoxManagement::new(config(), Arc::new(Identities(identity)), harness.clock.clone())
        .expect("box management");
    let databox = databox_on(
        &harness,
        Arc::new(SoapIsds::new(config()).expect("adapter")),
        Arc::new(management),
        Arc::new(NoDirectory),
    );
    let router = harness.router(functions(databox.clone()));
    let petr = harness.login(PETR).await;
    Setup { fake, harness, router, databox, petr, faults }
}

impl Setup {
    fn set(&self, change: impl FnOnce(&mut Fake)) {
        change(&mut self.fake.lock().expect("lock"));
    }

    fn creates(&self) -> usize {
        self.fake.lock().expect("lock").creates
    }

    fn operations(&self) -> Vec<String> {
        self.fake.lock().expect("lock").seen.iter().map(|(_, op, _)| op.clone()).collect()
    }

    /// `POST /api/databox/box-requests`: the request as answered.
    async fn request(&self) -> Value {
        let (status, _, body) =
            call(&self.router, write(Method::POST, "/api/databox/box-requests", &self.petr, None)).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{}", String::from_utf8_lossy(&body));
        json_of(&body)
    }

    /// The request as stored, without the API's help.
    async fn stored(&self, id: &str) -> Value {
        let doc = self.databox.documents.get("databox", PETR, &format!("box-request-{id}")).await.expect("store");
        doc.expect("the request is stored").body
    }

    async fn linked_box(&self) -> Option<String> {
        let doc = self.databox.documents.get("databox", PETR, "link").await.expect("store");
        doc.and_then(|d| d.body["boxId"].as_str().map(str::to_owned))
    }

    async fn events(&self, queue: &str, kind: &str) -> usize {
        self.harness.drain(queue).await.iter().filter(|e| e["type"] == kind).count()
    }
}

#[tokio::test]
async fn a_request_creates_the_box_and_shows_its_id() {
    let s = setup(full()).await;

    let request = s.request().await;

    assert_eq!(request["state"], "created", "{request}");
    assert_eq!(request["boxId"], "nfo0001");
    assert!(request["firstLoginBy"].is_string(), "{request}");
    assert_eq!(s.creates(), 1);
    // Looked for the person's box before it was handed over, again before
    // creating (the in-progress state was saved in between), then created.
    assert_eq!(s.operations(), ["FindDataBox2", "FindDataBox2", "CreateDataBox2"]);
    let seen = s.fake.lock().expect("lock").seen.clone();
    let create = &seen[2];
    assert_eq!(create.0, "/DS/DsManage");
    let id = request["id"].as_str().expect("id");
    assert_eq!(element(&create.2, "dbExternRefNumber").as_deref(), Some(id), "the request id goes with it");
    assert_eq!(s.linked_box().await.as_deref(), Some("nfo0001"));
    assert_eq!(s.events("send-notification", "databox.box-created").await, 1);
    let show = get(&format!("/api/databox/box-requests/{id}"), &s.petr);
    assert_eq!(json_of(&call(&s.router, show).await.2)["boxId"], "nfo0001");
    // Nothing left to do: the timer sends nothing more to ISDS.
    assert_eq!(advance_all(&s.databox).await.expect("run").pending, 0);
    assert_eq!(s.operations().len(), 3);
}

#[tokio::test]
async fn a_refusal_is_shown_with_isds_reason_and_code() {
    let s = setup(minimal()).await;
    s.set(|f| f.on_create = OnCreate::Refuse);

    let request = s.request().await;

    assert_eq!(request["state"], "refused", "{request}");
    let reason = request["refusalReason"].as_str().expect("a reason");
    assert!(reason.contains("osoba nebyla ztotožněna") && reason.contains("9001"), "{reason}");
    assert_eq!(s.linked_box().await, None);
    assert_eq!(s.events("send-notification", "databox.box-refused").await, 1);
    assert_eq!(advance_all(&s.databox).await.expect("run").pending, 0, "a refusal is final");
}

#[tokio::test]
async fn a_person_who_has_a_box_is_refused_without_creating_another() {
    let s = setup(minimal()).await;
    s.set(|f| {
        // Their own box, and a namesake whose longer surname ISDS's prefix
        // match also returns.
        for (id, last) in [("fo5abcd", "Svoboda"), ("fo6efgh", "Svobodová")] {
            f.boxes.push(FakeBox {
                id: id.into(),
                given_names: "Petr".into(),
                last_name: last.into(),
                birth_date: "1985-04-12".into(),
            });
        }
    });

    let request = s.request().await;

    assert_eq!(request["state"], "refused", "{request}");
    assert!(request["refusalReason"].as_str().is_some_and(|r| r.contains("fo5abcd")), "{request}");
    assert_eq!(s.creates(), 0);
    assert_eq!(s.operations(), ["FindDataBox2"]);
}

#[tokio::test]
async fn an_unavailable_isds_leaves_the_request_for_the_timer_and_nothing_half_written() {
    let s = setup(minimal()).await;

    // Search down: the request stays submitted.
    s.set(|f| f.search_down = true);
    let request = s.request().await;
    let id = request["id"].as_str().expect("id").to_owned();
    assert_eq!(request["state"], "submitted", "{request}");
    let run = advance_all(&s.databox).await.expect("run");
    assert_eq!((run.pending, run.failed), (1, 1), "{run:?}");
    assert_eq!(s.stored(&id).await["state"], "submitted");

    // Creating answers 503, then never answers (the adapter's timeout): the
    // request waits in progress, nothing created, linked or announced.
    for failure in [OnCreate::Unavailable, OnCreate::Hang] {
        s.set(|f| {
            f.search_down = false;
            f.on_create = failure;
        });
        let run = advance_all(&s.databox).await.expect("run");
        assert_eq!((run.pending, run.failed, run.created), (1, 1, 0), "{failure:?}: {run:?}");
        assert_eq!(s.stored(&id).await["state"], "in-progress", "{failure:?}");
        assert_eq!(s.creates(), 0);
        assert_eq!(s.linked_box().await, None);
        assert_eq!(s.events("send-notification", "databox.box-created").await, 0);
    }

    // ISDS is back: the next run creates the one box.
    s.set(|f| f.on_create = OnCreate::Create);
    let run = advance_all(&s.databox).await.expect("run");
    assert_eq!(run.created, 1, "{run:?}");
    assert_eq!(s.stored(&id).await["boxId"], "nfo0001");
    assert_eq!(s.creates(), 1);
    assert_eq!(advance_all(&s.databox).await.expect("run").pending, 0);
}

#[tokio::test]
async fn a_lost_answer_after_isds_created_the_box_finds_it_and_creates_no_second() {
    let s = setup(minimal()).await;
    s.set(|f| f.on_create = OnCreate::CreateThenFail);

    let request = s.request().await;
    let id = request["id"].as_str().expect("id").to_owned();
    assert_eq!(s.creates(), 1, "ISDS created the box");
    assert_eq!(s.stored(&id).await["state"], "in-progress", "the portal never heard of it");

    // Whatever ISDS would do with a second CreateDataBox2, it is not asked.
    s.set(|f| f.on_create = OnCreate::Create);
    let run = advance_all(&s.databox).await.expect("run");
    assert_eq!(run.created, 1, "{run:?}");
    assert_eq!(s.creates(), 1, "no second box");
    assert_eq!(s.stored(&id).await["boxId"], "nfo0001");
    assert_eq!(s.linked_box().await.as_deref(), Some("nfo0001"));
}

#[tokio::test]
async fn a_crash_before_the_portal_saved_the_created_box_finds_it_and_creates_no_second() {
    let s = setup(minimal()).await;
    // The request is written twice: in progress, then created. The second
    // write fails, as when the process dies right after ISDS answered.
    s.faults.fail(1, 1, |call| {
        call.op == Op::Upsert
            && call.collection == "databox"
            && call.id.is_some_and(|id| id.starts_with("box-request-"))
    });

    let request = s.request().await;
    let id = request["id"].as_str().expect("id").to_owned();
    assert_eq!(s.faults.failed(), 1);
    assert_eq!(s.creates(), 1);
    assert_eq!(s.stored(&id).await["state"], "in-progress");
    assert_eq!(s.events("send-notification", "databox.box-created").await, 0);

    let run = advance_all(&s.databox).await.expect("run");
    assert_eq!(run.created, 1, "{run:?}");
    assert_eq!(s.creates(), 1, "no second box");
    assert_eq!(s.stored(&id).await["boxId"], "nfo0001");
    assert_eq!(s.events("send-notification", "databox.box-created").await, 1);
    assert_eq!(*s.operations().last().expect("calls"), "FindDataBox2", "found, not created again");
}

fn schema_dir() -> PathBuf {
    [env!("CARGO_MANIFEST_DIR"), "tests", "fixtures", "isds", "xsd"].iter().collect()
}

/// What the validator says of `(label, path, body)`: success and its report.
fn validate(python: &str, requests: &[(String, String, String)]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let script: PathBuf = [env!("CARGO_MANIFEST_DIR"), "tests", "isds_schema.py"].iter().collect();
    let mut command = Command::new(python);
    command.arg(script).arg(schema_dir());
    for (label, path, body) in requests {
        let file = dir.path().join(format!("{label}.xml"));
        std::fs::write(&file, body).expect("write the request");
        command.arg(path).arg(file);
    }
    let output = command.output().expect("the test Python runs");
    let report = format!("{}{}", String::from_utf8_lossy(&output.stdout), String::from_utf8_lossy(&output.stderr));
    (output.status.success(), report)
}

#[tokio::test]
async fn every_request_is_valid_against_the_official_schema() {
    let Some(python) = portal_testkit::test_python() else { return };
    let mut requests = Vec::new();
    for (label, identity) in [("full", full()), ("minimal", minimal())] {
        let s = setup(identity).await;
        assert_eq!(s.request().await["state"], "created");
        let seen = s.fake.lock().expect("lock").seen.clone();
        for (n, (path, operation, body)) in seen.into_iter().enumerate() {
            requests.push((format!("{label}-{n}-{operation}"), path, body));
        }
    }
    let body = |label: &str| &requests.iter().find(|r| r.0 == label).expect(label).2;
    // Optional values set are sent; unset ones are nil where the schema
    // requires the element, and left out where it may be.
    let (full_create, minimal_create) = (body("full-2-CreateDataBox2"), body("minimal-2-CreateDataBox2"));
    assert!(full_create.contains("<pnLastNameAtBirth>Novák</pnLastNameAtBirth>"), "{full_create}");
    assert!(full_create.contains("<adStreet>Korunní &lt;&amp; &quot;nároží&quot;&gt;</adStreet>"), "{full_create}");
    assert!(minimal_create.contains("<biCity xsi:nil=\"true\"/>"), "{minimal_create}");
    assert!(!minimal_create.contains("pnLastNameAtBirth") && !minimal_create.contains("notifEmail"));

    let (valid, report) = validate(&python, &requests);

    assert!(valid, "requests invalid against the ISDS WSDL/XSD:\n{report}");
    let ok: Vec<&str> = report.lines().filter_map(|l| l.strip_prefix("ok ")?.split(' ').next()).collect();
    assert_eq!(ok.len(), requests.len(), "{report}");
    assert_eq!(ok.iter().filter(|op| **op == "CreateDataBox2").count(), 2, "{report}");
    assert_eq!(ok.iter().filter(|op| **op == "FindDataBox2").count(), 4, "{report}");

    // The oracle can say no: the same request at the wrong endpoint, and one
    // with an element out of the schema's order.
    let misplaced = ("misplaced".to_owned(), "/DS/df".to_owned(), minimal_create.clone());
    let reordered = minimal_create.replacen("<dbType>FO</dbType>", "", 1).replacen(
        "<ic xsi:nil=\"true\"/>",
        "<ic xsi:nil=\"true\"/><dbType>FO</dbType>",
        1,
    );
    for bad in [misplaced, ("reordered".to_owned(), "/DS/DsManage".to_owned(), reordered)] {
        let (valid, report) = validate(&python, std::slice::from_ref(&bad));
        assert!(!valid, "{}: the validator accepted it:\n{report}", bad.0);
    }
}
