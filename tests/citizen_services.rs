//! Documents, calendar and notifications together, as a citizen meets them in
//! local mode: the whole app on one store, its queues and timers driven by the
//! local host (the same envelopes the Functions host sends), a manual clock,
//! and e-mail through a real SMTP server over TLS (maildev, started by the test
//! command; `PORTAL_TEST_SMTP_*` and `PORTAL_TEST_MAILDEV_URL`).
//!
//! Without those variables the e-mail tests skip with a note, unless
//! `PORTAL_REQUIRE_EMULATORS=1`, which turns a missing variable into a failure.

mod support;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use support::{Portal, Session, json_of, pdf, upload_request};
use time::OffsetDateTime;
use time::macros::datetime;

fn test_var(name: &str) -> Option<String> {
    match std::env::var(name) {
        Ok(value) if !value.is_empty() => Some(value),
        _ if std::env::var("PORTAL_REQUIRE_EMULATORS").as_deref() == Ok("1") => {
            panic!("PORTAL_REQUIRE_EMULATORS=1 but {name} is not set (run scripts/test.sh)")
        }
        _ => {
            eprintln!("skipped: {name} is not set (scripts/test.sh starts maildev and sets it)");
            None
        }
    }
}

/// Where maildev listens: SMTP over implicit TLS and its REST API.
struct Maildev {
    smtp: portal_config::SmtpSettings,
    api: String,
}

fn maildev() -> Option<Maildev> {
    let port = test_var("PORTAL_TEST_SMTP_PORT")?.parse().expect("a port");
    let ca_file = test_var("PORTAL_TEST_SMTP_CA_FILE")?;
    let api = test_var("PORTAL_TEST_MAILDEV_URL")?;
    Some(Maildev {
        smtp: portal_config::SmtpSettings {
            // The name in maildev's certificate.
            host: test_var("PORTAL_TEST_SMTP_SERVER_NAME")?,
            port,
            tls: portal_config::SmtpTls::Implicit,
            user: None,
            password: None,
            from: "Portál občana <noreply@obcan.portal.gov.cz>".into(),
            ca_file: Some(ca_file.into()),
        },
        api,
    })
}

async fn portal(start: OffsetDateTime, mail: Option<&Maildev>) -> Portal {
    let portal = Portal::start(start, |settings| {
        settings.documents.max_upload_bytes = 1_048_576;
        if let Some(mail) = mail {
            settings.mail = portal_config::MailSettings::Smtp(mail.smtp.clone());
        }
    })
    .await;
    // The first round only records when each timer is next due.
    portal.host.fire_due_timers().await.expect("timers");
    portal
}

impl Portal {
    /// Registers and verifies `address` as the citizen's e-mail, reading the
    /// code from the mailbox.
    async fn verify_email(&self, who: &Session, address: &str, maildev: &Maildev) {
        let (status, body) =
            self.json_call("PUT", "/api/me/contacts/email", who, Some(json!({"address": address}))).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let mails = mails_to(maildev, address).await;
        let code_mail = mails.iter().find(|m| m["subject"] == "Ověřovací kód pro Portál občana").expect("the code");
        let text = code_mail["text"].as_str().expect("text");
        let code: String = text
            .split(|c: char| !c.is_ascii_digit())
            .find(|word| word.len() == 6)
            .unwrap_or_else(|| panic!("a 6-digit code in {text}"))
            .to_owned();
        let (status, body) =
            self.json_call("POST", "/api/me/contacts/email/verify", who, Some(json!({"code": code}))).await;
        assert!(status.is_success(), "verified: {status} {body}");
    }
}

/// The e-mails maildev received for `address`.
async fn mails_to(maildev: &Maildev, address: &str) -> Vec<Value> {
    let all: Vec<Value> =
        reqwest::get(format!("{}/email", maildev.api)).await.expect("maildev").json().await.expect("JSON");
    all.into_iter()
        .filter(|mail| {
            mail["to"].as_array().is_some_and(|to| to.iter().any(|r| r["address"].as_str() == Some(address)))
        })
        .collect()
}

fn unique_address(who: &str) -> String {
    format!("{who}.{}@example.cz", uuid::Uuid::new_v4().simple())
}

#[tokio::test]
async fn a_citizen_uploads_downloads_and_shares_a_pdf_and_is_refused_clearly() {
    let portal = portal(datetime!(2026-11-23 08:00 UTC), None).await;
    let jana = portal.login("jana").await;
    let upload = |name: &str, media_type: &str, content: &[u8]| {
        upload_request(&jana, "/api/documents", name, media_type, content)
    };

    let original = pdf();
    let (status, _, body) = portal.call(upload("smlouva o nájmu.pdf", "application/pdf", &original)).await;
    assert_eq!(status, StatusCode::CREATED, "{}", String::from_utf8_lossy(&body));
    let id = json_of(&body)["id"].as_str().expect("id").to_owned();

    let (status, list) = portal.json_call("GET", "/api/documents", &jana, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(list["items"].as_array().expect("items").iter().any(|d| d["id"] == id.as_str()), "listed: {list}");

    let request = Request::get(format!("/api/documents/{id}/content")).header(header::COOKIE, &jana.cookie);
    let (status, headers, downloaded) = portal.call(request.body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CONTENT_TYPE], "application/pdf");
    assert_eq!(downloaded, original, "byte-identical");

    let (status, share) = portal
        .json_call("POST", &format!("/api/documents/{id}/shares"), &jana, Some(json!({"expiresInHours": 48})))
        .await;
    assert_eq!(status, StatusCode::CREATED, "{share}");
    let url = share["url"].as_str().expect("url");
    let path = &url[url.find("/api/").expect("an /api/ URL")..];
    let (status, _, shared) = portal.call(Request::get(path).body(Body::empty()).expect("request")).await;
    assert_eq!((status, shared), (StatusCode::OK, original.clone()), "the link works without a session");

    // Refusals name the field and the rule, and leave nothing behind.
    let (status, headers, body) = portal.call(upload("velky.pdf", "application/pdf", &vec![b'%'; 1_100_000])).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    assert_eq!(json_of(&body)["errors"][0]["field"], "file", "{}", String::from_utf8_lossy(&body));
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    let (status, headers, body) = portal.call(upload("faktura.pdf", "application/pdf", png)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{}", String::from_utf8_lossy(&body));
    assert_eq!(headers[header::CONTENT_TYPE], "application/problem+json");
    let problem = json_of(&body);
    assert_eq!(problem["errors"][0]["field"], "file");
    assert!(problem["errors"][0]["rule"].as_str().expect("rule").contains("application/pdf"), "{problem}");
    let (_, list) = portal.json_call("GET", "/api/documents", &jana, None).await;
    assert_eq!(list["items"].as_array().expect("items").len(), 1, "the refused uploads left nothing: {list}");
}

#[tokio::test]
async fn a_driving_licence_expiring_in_30_days_sends_exactly_one_reminder_email() {
    let Some(maildev) = maildev() else { return };
    // Early on the day Jana's driving licence (in the registers simulator) has 30 days left.
    let portal = portal(datetime!(2026-11-23 06:00 UTC), Some(&maildev)).await;
    let jana = portal.login("jana").await;
    let address = unique_address("jana");
    portal.verify_email(&jana, &address, &maildev).await;
    // Signing in made registers date her identity documents in the calendar (RefreshOnSignIn → FileCalendarEntry);
    // a reminder due today goes out when its entry is filed.
    portal.settle().await;
    let (_, events) = portal.json_call("GET", "/api/calendar/events?from=2026-11-23&to=2027-12-31", &jana, None).await;
    assert!(
        events["items"].as_array().expect("items").iter().any(|e| e["date"] == "2026-12-23"),
        "the licence's expiry is in the calendar: {events}"
    );

    // 07:00 UTC: the scheduled run, then a second run of the same timer on the same day.
    portal.clock.set(datetime!(2026-11-23 07:00 UTC));
    let (runs, _) = portal.host.fire_due_timers().await.expect("timers");
    assert!(
        runs.iter().any(|run| run.function == "SendReminders" && run.succeeded),
        "the schedule fired SendReminders: {runs:?}"
    );
    portal.run_timer("SendReminders").await;
    portal.settle().await;

    let reminders: Vec<Value> = mails_to(&maildev, &address)
        .await
        .into_iter()
        .filter(|mail| mail["text"].as_str().is_some_and(|t| t.contains("řidičského průkazu")))
        .collect();
    assert_eq!(reminders.len(), 1, "exactly one reminder e-mail: {reminders:#?}");
    let text = reminders[0]["text"].as_str().expect("text");
    assert!(text.contains("23. 12. 2026"), "{text}");
    assert!(reminders[0]["subject"].as_str().is_some_and(|s| s.contains("platnosti dokladu")), "{reminders:#?}");

    // The same reminder is in the in-portal inbox, once (a new session: the old one has been idle too long).
    let jana = portal.login("jana").await;
    let (_, inbox) = portal.json_call("GET", "/api/notifications?pageSize=100", &jana, None).await;
    let in_portal = inbox["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|n| n["body"].as_str().is_some_and(|b| b.contains("řidičského průkazu")))
        .count();
    assert_eq!(in_portal, 1, "{inbox}");
}

#[tokio::test]
async fn the_calendar_feed_works_without_a_session_until_it_is_rotated() {
    let portal = portal(datetime!(2026-11-23 08:00 UTC), None).await;
    let jana = portal.login("jana").await;
    let (status, _) = portal
        .json_call(
            "POST",
            "/api/calendar/events",
            &jana,
            Some(json!({"title": "Lékař; kontrola", "date": "2026-12-01"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, feed) = portal.json_call("POST", "/api/calendar/feed", &jana, None).await;
    assert_eq!(status, StatusCode::CREATED, "{feed}");
    let url = feed["url"].as_str().expect("url").to_owned();
    let path = |url: &str| url[url.find("/api/").expect("an /api/ URL")..].to_owned();
    let (status, headers, ics) = portal.call(Request::get(path(&url)).body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(headers[header::CONTENT_TYPE].to_str().expect("type").starts_with("text/calendar"));
    let ics = String::from_utf8(ics).expect("utf-8");
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n") && ics.contains("SUMMARY:Lékař\\; kontrola\r\n"), "{ics}");

    let (status, rotated) = portal.json_call("POST", "/api/calendar/feed", &jana, None).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, _, _) = portal.call(Request::get(path(&url)).body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "the old URL stops working");
    let new_url = rotated["url"].as_str().expect("url");
    let (status, _, _) = portal.call(Request::get(path(new_url)).body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK, "the new URL works");
}

#[tokio::test]
async fn a_new_data_message_leads_to_an_in_portal_notification_and_an_email() {
    let Some(maildev) = maildev() else { return };
    let portal = portal(datetime!(2026-11-23 08:00 UTC), Some(&maildev)).await;
    let jana = portal.login("jana").await;
    let address = unique_address("jana");
    portal.verify_email(&jana, &address, &maildev).await;
    // Opening the mailbox links Jana's box (the simulator has new messages in it).
    let (status, received) =
        portal.json_call("GET", "/api/databox/messages?folder=received&pageSize=100", &jana, None).await;
    assert_eq!(status, StatusCode::OK, "{received}");

    // The hourly timer announces new messages; the notifications consumer delivers them. Twice: nothing doubles.
    for _ in 0..2 {
        portal.run_timer("WarnBeforeDeemedDelivery").await;
        portal.settle().await;
    }

    let (_, inbox) = portal.json_call("GET", "/api/notifications?pageSize=100", &jana, None).await;
    let announced: Vec<&str> = inbox["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter(|n| n["title"] == "Nová zpráva v datové schránce")
        .filter_map(|n| n["body"].as_str())
        .collect();
    assert!(!announced.is_empty(), "the simulator's new messages are announced in the portal: {inbox}");
    let mails: Vec<Value> = mails_to(&maildev, &address)
        .await
        .into_iter()
        .filter(|mail| mail["subject"] == "Nová zpráva v datové schránce")
        .collect();
    assert_eq!(mails.len(), announced.len(), "one e-mail per announced message: {mails:#?}");
    for body in &announced {
        let first_line = body.lines().next().expect("a line");
        assert!(
            mails.iter().any(|m| m["text"].as_str().is_some_and(|t| t.contains(first_line))),
            "an e-mail says: {first_line}"
        );
    }
}

/// The text of a PDF by an independent extractor (pypdf, in strict mode), or
/// `None` when the checker is not installed (see [`test_var`]).
fn pdf_text(pdf: &[u8]) -> Option<String> {
    let python = test_var("PORTAL_TEST_PYTHON")?;
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), pdf).expect("write");
    let output = std::process::Command::new(python)
        .args([
            "-c",
            "import pypdf, sys; r = pypdf.PdfReader(sys.argv[1], strict=True); \
             print('\\n'.join(p.extract_text() for p in r.pages))",
        ])
        .arg(file.path())
        .output()
        .expect("python runs");
    assert!(output.status.success(), "pypdf: {}", String::from_utf8_lossy(&output.stderr));
    Some(String::from_utf8(output.stdout).expect("utf-8"))
}

#[tokio::test]
async fn each_demo_citizen_gets_each_extract_in_documents_with_a_notification() {
    let portal = portal(datetime!(2026-11-23 08:00 UTC), None).await;
    let kinds = ["criminal-record", "trade-register", "driver-points", "vehicles", "person", "properties"];
    for (citizen, surname) in [("jana", "Nováková"), ("jiri", "Dvořák"), ("ludmila", "Šťastná Žďárská")] {
        let who = portal.login(citizen).await;
        for kind in kinds {
            let (status, job) =
                portal.json_call("POST", "/api/registers/extracts", &who, Some(json!({"kind": kind}))).await;
            assert_eq!(status, StatusCode::ACCEPTED, "{citizen} {kind}: {job}");
        }
        portal.settle().await;

        let (_, jobs) = portal.json_call("GET", "/api/registers/extracts", &who, None).await;
        let jobs = jobs["items"].as_array().expect("items").clone();
        assert_eq!(jobs.len(), kinds.len(), "{citizen}: {jobs:?}");
        assert!(jobs.iter().all(|job| job["status"] == "done"), "{citizen}: every job is done: {jobs:?}");
        let (_, documents) = portal.json_call("GET", "/api/documents?pageSize=100", &who, None).await;
        let extracts: Vec<&Value> = documents["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|d| d["source"] == "registers" && d["mediaType"] == "application/pdf")
            .collect();
        assert_eq!(extracts.len(), kinds.len(), "{citizen}: one PDF per extract in Documents: {documents}");
        let mut named = 0;
        for extract in extracts {
            let id = extract["id"].as_str().expect("id");
            let request = Request::get(format!("/api/documents/{id}/content")).header(header::COOKIE, &who.cookie);
            let (status, _, pdf) = portal.call(request.body(Body::empty()).expect("request")).await;
            assert_eq!(status, StatusCode::OK);
            assert!(pdf.starts_with(b"%PDF-"), "{citizen}: a PDF");
            if let Some(text) = pdf_text(&pdf) {
                assert!(text.contains("SIMULÁTOR"), "{citizen}: simulator output says so on the page: {text}");
                if text.contains("Výpis z evidence Rejstříku trestů")
                    || text.contains("Výpis údajů z registru obyvatel")
                {
                    assert!(text.contains(surname), "{citizen}: the extract names the citizen: {text}");
                    named += 1;
                }
            }
        }
        if test_var("PORTAL_TEST_PYTHON").is_some() {
            assert_eq!(named, 2, "{citizen}: the criminal record and population register extracts were read");
        }
        let (_, inbox) = portal.json_call("GET", "/api/notifications?pageSize=100", &who, None).await;
        let ready = inbox["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter(|n| n["title"].as_str().is_some_and(|t| t.starts_with("Připraveno")))
            .count();
        assert_eq!(ready, kinds.len(), "{citizen}: a notification per extract: {inbox}");
    }
}

#[tokio::test]
async fn a_petition_is_signed_withdrawn_closed_listed_and_handed_over() {
    let portal = portal(datetime!(2026-11-23 08:00 UTC), None).await;
    let jana = portal.login("jana").await;
    let jiri = portal.login("jiri").await;
    let public_count = |id: String| {
        let portal = &portal;
        async move {
            let request = Request::get(format!("/api/petitions/{id}")).body(Body::empty()).expect("request");
            let (status, _, body) = portal.call(request).await;
            assert_eq!(status, StatusCode::OK, "public without a session");
            let petition = json_of(&body);
            assert!(!petition.to_string().contains("Dvořák"), "never who signed: {petition}");
            petition["signatures"].as_u64().unwrap_or_else(|| panic!("a count: {petition}"))
        }
    };

    let (status, petition) = portal
        .json_call(
            "POST",
            "/api/petitions",
            &jana,
            Some(json!({"title": "Za lavičky v Riegrových sadech", "summary": "Žádáme více laviček.",
                        "text": "Vážení, žádáme o deset nových laviček.",
                        "addressee": {"name": "Městský úřad Horní Lhota (simulace)", "boxId": "simmuhl"},
                        "endsOn": "2026-12-31"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{petition}");
    let id = petition["id"].as_str().expect("id").to_owned();
    // A box ISDS does not know, or a citizen's box, is no addressee: asked of the simulated ISDS.
    for box_id in ["zz9zz9z", "sim4jir"] {
        let (status, refused) = portal
            .json_call(
                "POST",
                "/api/petitions",
                &jana,
                Some(json!({"title": "Jinam", "summary": "S.", "text": "T.",
                            "addressee": {"name": "Někdo", "boxId": box_id}, "endsOn": "2026-12-31"})),
            )
            .await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{box_id}: {refused}");
        assert_eq!(refused["errors"][0]["field"], "addressee.boxId", "{refused}");
    }
    let (status, body) = portal.json_call("POST", &format!("/api/petitions/{id}/publish"), &jana, None).await;
    assert!(status.is_success(), "published: {body}");
    assert_eq!(public_count(id.clone()).await, 0);

    let sign = format!("/api/petitions/{id}/signatures");
    let (status, body) = portal.json_call("POST", &sign, &jiri, None).await;
    assert!(status.is_success(), "Jiří signs: {body}");
    assert_eq!(public_count(id.clone()).await, 1);
    let (status, body) = portal.json_call("POST", &sign, &jana, None).await;
    assert!(status.is_success(), "Jana signs: {body}");
    assert_eq!(public_count(id.clone()).await, 2);
    let (status, _) = portal.json_call("POST", &sign, &jana, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "one signature per person");
    let (status, body) = portal.json_call("DELETE", &format!("{sign}/mine"), &jana, None).await;
    assert!(status.is_success(), "Jana withdraws: {body}");
    assert_eq!(public_count(id.clone()).await, 1);

    let (status, body) = portal.json_call("POST", &format!("/api/petitions/{id}/close"), &jana, None).await;
    assert!(status.is_success(), "closed: {body}");
    let request = Request::get(format!("/api/petitions/{id}/extract.csv")).header(header::COOKIE, &jana.cookie);
    let (status, _, csv) = portal.call(request.body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK);
    let csv = String::from_utf8(csv).expect("utf-8");
    assert!(csv.contains("Jiří") && csv.contains("Dvořák") && csv.contains("602 00 Brno"), "{csv}");
    assert!(!csv.contains("Nováková;") && !csv.contains("Vinohradská"), "the withdrawn signer is gone: {csv}");

    // Hand-over: from Jana's data box to the addressee's, recorded once ISDS accepted it, then in her
    // filings with the answer deadline: 30 days from the latest day of receipt, the 10th after delivery.
    let (status, body) = portal.json_call("POST", &format!("/api/petitions/{id}/hand-over"), &jana, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["state"], "closed", "not before ISDS accepted it: {body}");
    assert_eq!(body["handOver"]["status"], "pending", "{body}");
    portal.settle().await;
    let (_, mine) = portal.json_call("GET", &format!("/api/me/petitions/{id}"), &jana, None).await;
    assert_eq!(mine["state"], "handed-over", "{mine}");
    assert_eq!(mine["handOver"]["answerDue"], "2027-01-02", "{mine}");
    let (_, filings) = portal.json_call("GET", "/api/filings", &jana, None).await;
    let handed: Vec<&Value> =
        filings["items"].as_array().expect("items").iter().filter(|f| f["kind"] == "petition-hand-over").collect();
    assert_eq!(handed.len(), 1, "the hand-over is a filing: {filings}");
    assert_eq!(handed[0]["legalDeadline"], "2027-01-02", "{filings}");
    let (_, inbox) = portal.json_call("GET", "/api/notifications?pageSize=100", &jana, None).await;
    let titles: Vec<&str> =
        inbox["items"].as_array().expect("items").iter().filter_map(|n| n["title"].as_str()).collect();
    assert!(titles.contains(&"Datová zpráva odeslána"), "the data box sent it: {titles:?}");
    assert!(titles.contains(&"Petice předána"), "{titles:?}");
    let (_, events) = portal.json_call("GET", "/api/calendar/events?from=2026-11-23&to=2027-01-31", &jana, None).await;
    assert!(
        events["items"].as_array().expect("items").iter().any(|e| e["date"] == "2027-01-02"),
        "the answer deadline is in the calendar: {events}"
    );
}

#[tokio::test]
async fn a_hand_over_isds_does_not_take_leaves_the_petition_closed_with_one_notice_and_a_retry() {
    let portal = portal(datetime!(2026-11-23 08:00 UTC), None).await;
    // Petr has no data box (the simulated ISDS knows none of his): nothing can be sent from it.
    let petr = portal.login("petr").await;
    let jana = portal.login("jana").await;
    let (status, petition) = portal
        .json_call(
            "POST",
            "/api/petitions",
            &petr,
            Some(json!({"title": "Za osvětlení podchodu", "summary": "Žádáme světla.", "text": "Vážení, …",
                        "addressee": {"name": "Městský úřad Horní Lhota (simulace)", "boxId": "simmuhl"},
                        "endsOn": "2026-12-31"})),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{petition}");
    let id = petition["id"].as_str().expect("id").to_owned();
    for (path, who) in [("publish", &petr), ("signatures", &jana), ("close", &petr)] {
        let (status, body) = portal.json_call("POST", &format!("/api/petitions/{id}/{path}"), who, None).await;
        assert!(status.is_success(), "{path}: {body}");
    }
    portal.settle().await;
    let notices = |inbox: &Value| -> Vec<(String, String)> {
        let items = inbox["items"].as_array().expect("items").iter();
        items.map(|n| (n["id"].to_string(), n["title"].as_str().unwrap_or_default().to_owned())).collect()
    };
    let (_, before) = portal.json_call("GET", "/api/notifications?pageSize=100", &petr, None).await;
    let before = notices(&before);

    let (status, body) = portal.json_call("POST", &format!("/api/petitions/{id}/hand-over"), &petr, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    portal.settle().await;
    let (_, mine) = portal.json_call("GET", &format!("/api/me/petitions/{id}"), &petr, None).await;
    assert_eq!(mine["state"], "closed", "not handed over: {mine}");
    assert_eq!(mine["handOver"]["status"], "failed", "{mine}");
    assert_eq!(mine["handOver"]["canRetry"], true, "{mine}");
    assert!(mine["handOver"]["reason"].as_str().is_some_and(|r| r.contains("no data box")), "{mine}");
    let (_, inbox) = portal.json_call("GET", "/api/notifications?pageSize=100", &petr, None).await;
    let new: Vec<String> =
        notices(&inbox).into_iter().filter(|n| !before.contains(n)).map(|(_, title)| title).collect();
    assert_eq!(new, ["Datovou zprávu se nepodařilo odeslat"], "one notice, that it was not sent");
    assert!(!new.iter().any(|t| t == "Petice předána"), "{new:?}");
    let (_, filings) = portal.json_call("GET", "/api/filings", &petr, None).await;
    assert!(
        filings["items"].as_array().expect("items").iter().all(|f| f["kind"] != "petition-hand-over"),
        "no filing: {filings}"
    );
    // The retry is a new attempt (and fails the same way while he has no box).
    let (status, body) = portal.json_call("POST", &format!("/api/petitions/{id}/hand-over"), &petr, None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["requestId"], format!("petition-{id}-2").as_str(), "{body}");
}

#[tokio::test]
async fn jana_pays_her_dog_fee_and_finds_the_receipt_in_documents_and_the_qr_code_decodes() {
    let portal = portal(datetime!(2026-11-23 08:00 UTC), None).await;
    let jana = portal.login("jana").await;
    let (status, fees) = portal.json_call("GET", "/api/fees", &jana, None).await;
    assert_eq!(status, StatusCode::OK, "{fees}");
    assert_eq!(fees["municipality"]["name"], "Hlavní město Praha", "from her profile's address: {fees}");
    let dog = fees["obligations"]
        .as_array()
        .expect("obligations")
        .iter()
        .find(|o| o["kind"] == "dog")
        .expect("her dog fee")
        .clone();
    let fee = dog["id"].as_str().expect("id");

    // QR Platba through the whole app, decoded by an independent decoder.
    let (_, qr) = portal.json_call("GET", &format!("/api/fees/{fee}/qr"), &jana, None).await;
    let spayd = qr["spayd"].as_str().expect("spayd").to_owned();
    assert!(spayd.starts_with("SPD*1.0*ACC:CZ") && spayd.contains("*AM:1500.00*CC:CZK*"), "{spayd}");
    let request = Request::get(format!("/api/fees/{fee}/qr/png")).header(header::COOKIE, &jana.cookie);
    let (status, _, png) = portal.call(request.body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK);
    if std::process::Command::new("zbarimg").arg("--version").output().is_ok() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("qr.png");
        std::fs::write(&file, &png).expect("write");
        let out = std::process::Command::new("zbarimg").args(["--raw", "-q", "-Sbinary"]).arg(&file).output();
        let out = out.expect("zbarimg runs");
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim_end_matches('\n'), spayd, "the QR code decodes");
    } else {
        assert!(test_var_optional("PORTAL_REQUIRE_EMULATORS").is_none(), "zbarimg (zbar-tools) is required");
    }

    // Paying through the simulated gateway, and coming back.
    let (status, payment) = portal.json_call("POST", &format!("/api/fees/{fee}/payments"), &jana, None).await;
    assert_eq!(status, StatusCode::CREATED, "{payment}");
    let redirect = payment["redirectUrl"].as_str().expect("where to pay").to_owned();
    let (status, paid) = portal.json_call("POST", &redirect, &jana, Some(json!({"card": "4242424242424242"}))).await;
    assert_eq!((status, paid["status"].as_str()), (StatusCode::OK, Some("paid")), "{paid}");
    portal.settle().await;
    let back = format!("/api/fees/payments/{}", payment["id"].as_str().expect("id"));
    let (_, shown) = portal.json_call("GET", &back, &jana, None).await;
    assert_eq!(shown["state"], "paid", "{shown}");

    let (_, documents) = portal.json_call("GET", "/api/documents?pageSize=100", &jana, None).await;
    let receipts: Vec<&Value> =
        documents["items"].as_array().expect("items").iter().filter(|d| d["source"] == "fees").collect();
    assert_eq!(receipts.len(), 1, "one receipt in Documents: {documents}");
    let id = receipts[0]["id"].as_str().expect("id");
    let request = Request::get(format!("/api/documents/{id}/content")).header(header::COOKIE, &jana.cookie);
    let (status, _, pdf) = portal.call(request.body(Body::empty()).expect("request")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(pdf.starts_with(b"%PDF-"));
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains("Poplatek ze psů") && text.contains("1 500,00 Kč"), "{text}");
    }
    let (_, inbox) = portal.json_call("GET", "/api/notifications?pageSize=100", &jana, None).await;
    let told = inbox["items"].as_array().expect("items").iter().filter(|n| {
        n["title"].as_str().is_some_and(|t| t.contains("Potvrzení o zaplacení"))
            || n["body"].as_str().is_some_and(|b| b.contains("Potvrzení o zaplacení"))
    });
    assert_eq!(told.count(), 1, "one notification about the receipt: {inbox}");
    let (status, _) = portal.json_call("POST", &format!("/api/fees/{fee}/payments"), &jana, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "never paid twice");
}

fn test_var_optional(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}
