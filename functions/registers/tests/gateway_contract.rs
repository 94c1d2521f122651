//! The production adapter (`HttpGateway`) against the SIMULATOR served over
//! real TLS with client-certificate authentication on 127.0.0.1: every
//! operation works and decodes; without an accepted client certificate
//! nothing reaches the gateway; 502/503/504 are retried (at most three
//! tries, with the same request id), 4xx never.
//!
//! The certificates (a test CA, the gateway's server certificate, the
//! portal's client certificate, and a stranger's) are made at test time with
//! `openssl`; no key is committed.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::Request;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use portal_host::Problem;
use portal_registers::gateway::*;
use portal_registers::simulator::{self, JANA, JIRI, LUDMILA};
use portal_registers::{HttpGateway, HttpGatewayConfig};
use portal_security::SubjectId;
use portal_store::ManualClock;
use portal_testkit::tls::{Pki, serve_mutual_tls};
use secrecy::SecretString;
use time::macros::datetime;

/// What the fake network in front of the simulator did.
#[derive(Debug, Default)]
struct Wire {
    /// Statuses to answer instead of the simulator, first first.
    faults: VecDeque<u16>,
    /// The X-Request-Id of every request that reached the gateway.
    requests: Vec<String>,
}

struct Gateway {
    addr: SocketAddr,
    wire: Arc<Mutex<Wire>>,
    pki: Pki,
}

impl Gateway {
    fn requests(&self) -> Vec<String> {
        self.wire.lock().expect("lock").requests.clone()
    }

    fn fail_next(&self, statuses: &[u16]) {
        self.wire.lock().expect("lock").faults.extend(statuses);
    }

    fn config(&self, cert: &str, key: &str) -> HttpGatewayConfig {
        let mut config = HttpGatewayConfig::new(
            format!("https://localhost:{}/", self.addr.port()),
            cert.to_owned(),
            SecretString::from(key.to_owned()),
        );
        config.extra_root_pem = Some(self.pki.ca.clone());
        config.connect_timeout = Duration::from_secs(5);
        config.request_timeout = Duration::from_secs(10);
        config.retry_backoff = Duration::from_millis(5);
        config
    }

    fn adapter(&self) -> HttpGateway {
        HttpGateway::new(self.config(&self.pki.client_cert, &self.pki.client_key)).expect("adapter")
    }
}

fn pki() -> Pki {
    Pki::make("Registers gateway test CA", "portal-registers test client")
}

async fn start() -> Gateway {
    let pki = pki();
    let wire = Arc::new(Mutex::new(Wire::default()));
    let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)));
    let router = simulator::router(clock).layer(middleware::from_fn_with_state(wire.clone(), fake_network));
    let addr = serve_mutual_tls(&pki, router).await;
    Gateway { addr, wire, pki }
}

/// Records each request and answers the next planned fault, if any.
async fn fake_network(
    axum::extract::State(wire): axum::extract::State<Arc<Mutex<Wire>>>,
    request: Request,
    next: Next,
) -> Response {
    let fault = {
        let mut wire = wire.lock().expect("lock");
        let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        wire.requests.push(id);
        wire.faults.pop_front()
    };
    match fault {
        Some(status) => {
            let mut problem = Problem::unavailable("registers (test fault)");
            problem.status = status;
            problem.into_response()
        }
        None => next.run(request).await,
    }
}

fn subject(id: &str) -> SubjectId {
    SubjectId::parse(id).expect("subject")
}

fn request() -> RequestId {
    RequestId::random()
}

#[tokio::test]
async fn every_operation_works_over_mutual_tls() {
    let gateway = start().await;
    let adapter = gateway.adapter();
    let (jana, jiri, ludmila) = (subject(JANA), subject(JIRI), subject(LUDMILA));

    let person = adapter.person(&request(), &jana).await.expect("person");
    assert_eq!((person.given_name.as_str(), person.family_name.as_str()), ("Jana", "Nováková"));
    assert!(person.simulated);
    assert!(person.identity_documents.iter().any(|d| d.kind == IdentityDocumentKind::DrivingLicence));
    let entrepreneur = adapter.entrepreneur(&request(), &jiri).await.expect("entrepreneur");
    assert_eq!(entrepreneur.ico, "27145638");
    let record = adapter.criminal_record(&request(), &ludmila).await.expect("criminal record");
    assert_eq!(record.convictions.len(), 1);
    let trade = adapter.trade_register(&request(), &jiri).await.expect("trade register");
    assert!(trade.licences.iter().any(|l| l.subject.contains("Truhlářství")));
    let points = adapter.driver_points(&request(), &jana).await.expect("points");
    assert_eq!((points.total, points.limit, points.reduction.points), (10, 12, 4));
    let vehicles = adapter.vehicles(&request(), &jiri).await.expect("vehicles");
    assert_eq!(vehicles.items.len(), 2);
    let vin = Vin::parse("WF0XXXTTGXKA12345").expect("vin");
    let protocol = ProtocolNumber::parse("CZ-6215-24-11-0789").expect("protocol");
    let odometer = adapter.odometer(&request(), &vin, &protocol).await.expect("odometer");
    assert_eq!(odometer.readings.len(), 5);
    let properties = adapter.properties(&request(), &jiri).await.expect("properties");
    assert_eq!(properties.items.len(), 2);

    assert!(matches!(adapter.entrepreneur(&request(), &jana).await, Err(GatewayError::NotFound)));
    assert_eq!(gateway.requests().len(), 9, "one request per call");
}

#[tokio::test]
async fn without_an_accepted_client_certificate_nothing_reaches_the_gateway() {
    let gateway = start().await;
    // A client that trusts the gateway but presents no certificate.
    let bare = reqwest::Client::builder()
        .tls_certs_only(reqwest::Certificate::from_pem_bundle(gateway.pki.ca.as_bytes()).expect("CA"))
        .build()
        .expect("client");
    let url = format!("https://localhost:{}/v1/person", gateway.addr.port());
    let result = bare.get(&url).header("x-request-id", "bare-1").header("x-subject-id", JANA).send().await;
    match result {
        Err(_) => {}
        Ok(response) => assert!(response.bytes().await.is_err(), "the TLS session is refused"),
    }
    // The adapter with a certificate the gateway does not trust.
    let stranger =
        HttpGateway::new(gateway.config(&gateway.pki.stranger_cert, &gateway.pki.stranger_key)).expect("adapter");
    let error = stranger.person(&request(), &subject(JANA)).await.expect_err("refused");
    assert!(matches!(error, GatewayError::Unavailable(_)), "{error:?}");
    assert!(gateway.requests().is_empty(), "no request reached the gateway");
    // The right certificate works on the same server.
    gateway.adapter().person(&request(), &subject(JANA)).await.expect("person");
    assert_eq!(gateway.requests().len(), 1);
}

#[tokio::test]
async fn busy_answers_are_retried_with_the_same_request_id_and_4xx_never() {
    let gateway = start().await;
    let adapter = gateway.adapter();
    let id = RequestId::parse("job-7d1e2f30").expect("id");

    gateway.fail_next(&[503]);
    adapter.person(&id, &subject(JANA)).await.expect("the second try succeeds");
    assert_eq!(gateway.requests(), ["job-7d1e2f30", "job-7d1e2f30"], "a 503 then a 200");

    let before = gateway.requests().len();
    gateway.fail_next(&[502, 504]);
    adapter.vehicles(&request(), &subject(JIRI)).await.expect("the third try succeeds");
    assert_eq!(gateway.requests().len() - before, 3);

    let before = gateway.requests().len();
    gateway.fail_next(&[503, 503, 503, 503]);
    let error = adapter.properties(&request(), &subject(JIRI)).await.expect_err("three busy answers");
    assert!(matches!(error, GatewayError::Unavailable(_)) && error.is_retryable(), "{error:?}");
    assert_eq!(gateway.requests().len() - before, 3, "at most three tries");
    gateway.wire.lock().expect("lock").faults.clear();

    let before = gateway.requests().len();
    let error = adapter.person(&request(), &subject("DEMO%2Fnobody")).await.expect_err("unknown person");
    assert!(matches!(error, GatewayError::NotFound), "{error:?}");
    assert_eq!(gateway.requests().len() - before, 1, "a 404 is not retried");

    for (status, refused) in [(400, false), (403, true), (422, true), (500, false)] {
        let before = gateway.requests().len();
        gateway.fail_next(&[status]);
        let error = adapter.driver_points(&request(), &subject(JANA)).await.expect_err("fault");
        match status {
            400 => assert!(matches!(error, GatewayError::Invalid(_)), "{error:?}"),
            500 => assert!(matches!(error, GatewayError::Unavailable(_)), "{error:?}"),
            _ => assert!(matches!(error, GatewayError::Refused { status: s, .. } if s == status), "{error:?}"),
        }
        assert_eq!(refused, matches!(error, GatewayError::Refused { .. }));
        assert_eq!(gateway.requests().len() - before, 1, "{status} is not retried");
    }
}

#[tokio::test]
async fn a_gateway_that_drops_connections_is_tried_three_times_then_unavailable() {
    let pki = pki();
    // Accepts TCP connections and closes them at once: the TLS connection
    // can never be made.
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = tcp.local_addr().expect("address").port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = accepted.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = tcp.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            drop(stream);
        }
    });
    let mut config = HttpGatewayConfig::new(
        format!("https://localhost:{port}/"),
        pki.client_cert.clone(),
        SecretString::from(pki.client_key.clone()),
    );
    config.retry_backoff = Duration::from_millis(1);
    let error = HttpGateway::new(config).expect("adapter").person(&request(), &subject(JANA)).await.expect_err("down");
    assert!(matches!(error, GatewayError::Unavailable(_)) && error.is_retryable(), "{error:?}");
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 3, "three connection attempts");
}

#[test]
fn the_configuration_is_checked() {
    let pki = pki();
    let config = |url: &str, cert: &str, key: &str| {
        HttpGatewayConfig::new(url, cert.to_owned(), SecretString::from(key.to_owned()))
    };
    for url in ["http://gateway.example/", "ftp://localhost/", "not a url", "https://user:pw@gateway.example/"] {
        let error = HttpGateway::new(config(url, &pki.client_cert, &pki.client_key)).expect_err(url);
        assert!(matches!(error, GatewayError::Invalid(_)), "{url}: {error:?}");
    }
    assert!(HttpGateway::new(config("https://gateway.example/", "not PEM", "not PEM")).is_err());
    let mut bad_root = config("https://gateway.example/", &pki.client_cert, &pki.client_key);
    bad_root.extra_root_pem = Some("not PEM".into());
    assert!(HttpGateway::new(bad_root).is_err());
    HttpGateway::new(config("https://gateway.example/base", &pki.client_cert, &pki.client_key)).expect("https");
    HttpGateway::new(config("http://127.0.0.1:8080/", &pki.client_cert, &pki.client_key)).expect("loopback http");
    let debug = format!("{:?}", config("https://gateway.example/", &pki.client_cert, &pki.client_key));
    assert!(!debug.contains("PRIVATE KEY"), "the key never reaches a log: {debug}");
}

#[tokio::test]
async fn a_filing_is_retried_only_because_it_carries_its_idempotency_key() {
    let gateway = start().await;
    let adapter = gateway.adapter();
    let id = RequestId::parse("call-1").expect("id");
    let key = RequestId::parse("0b6f3f0e-6a3c-4d8e-9d7a-2f4c1b9e8a10").expect("key");
    let submission = FilingSubmission::Contact(ContactData { email: Some("jana@example.cz".into()), phone: None });

    gateway.fail_next(&[503, 502]);
    let receipt = adapter.submit_filing(&id, &subject(JANA), &key, &submission).await.expect("the third try");
    assert_eq!(gateway.requests(), ["call-1", "call-1", "call-1"], "retried with the same ids");
    assert!(receipt.simulated && receipt.reference.starts_with("SIM-CT-"));
    assert_eq!(receipt.agency.box_id.as_deref(), Some("simmuhl"));
    let again = adapter.submit_filing(&request(), &subject(JANA), &key, &submission).await.expect("repeated key");
    assert_eq!(again, receipt, "a repeated key gets the first receipt");

    let progress = adapter.filing_status(&request(), &subject(JANA), &receipt.reference).await.expect("progress");
    assert_eq!(progress.history.iter().map(|s| s.status.as_str()).collect::<Vec<_>>(), ["accepted"]);
    let error = adapter.filing_status(&request(), &subject(JIRI), &receipt.reference).await.expect_err("not his");
    assert!(matches!(error, GatewayError::NotFound), "{error:?}");

    let before = gateway.requests().len();
    gateway.fail_next(&[500]);
    let error = adapter.submit_filing(&request(), &subject(JANA), &key, &submission).await.expect_err("a 500");
    assert!(matches!(error, GatewayError::Unavailable(_)), "{error:?}");
    assert_eq!(gateway.requests().len() - before, 1, "a 500 may mean it was filed: not retried");
}
