//! The production e-mail adapter against a real SMTP server: maildev with
//! implicit TLS (SMTPS), its certificate signed by a test CA that only this
//! test trusts. The mail is read back through maildev's REST API.
//!
//! Needs `PORTAL_TEST_SMTP_HOST`, `PORTAL_TEST_SMTP_PORT`,
//! `PORTAL_TEST_SMTP_CA_FILE`, `PORTAL_TEST_SMTP_SERVER_NAME` and
//! `PORTAL_TEST_MAILDEV_URL`; without them it is skipped with a note, unless
//! `PORTAL_REQUIRE_EMULATORS=1`, when it fails.
//!
//! There is deliberately no "untrusted certificate" case here: maildev 2.2
//! crashes when a client aborts the TLS handshake, and the same maildev serves
//! other tests.

use std::time::Duration;

use portal_notifications::address::EmailAddress;
use portal_notifications::templates;
use portal_notifications::{Mailer, OutgoingMail, SmtpMailer, SmtpSettings, SmtpTls};
use portal_testkit::outside_setting;
use serde_json::Value;

struct Maildev {
    settings: SmtpSettings,
    api: String,
}

fn maildev() -> Option<Maildev> {
    let host = outside_setting("PORTAL_TEST_SMTP_HOST")?;
    let port = outside_setting("PORTAL_TEST_SMTP_PORT")?;
    let ca_file = outside_setting("PORTAL_TEST_SMTP_CA_FILE")?;
    let server_name = outside_setting("PORTAL_TEST_SMTP_SERVER_NAME")?;
    let api = outside_setting("PORTAL_TEST_MAILDEV_URL")?;
    let mut settings =
        SmtpSettings::new(host, port.parse().expect("PORTAL_TEST_SMTP_PORT is a port"), SmtpTls::Implicit);
    settings.extra_root_ca_pem = Some(std::fs::read_to_string(&ca_file).expect("read PORTAL_TEST_SMTP_CA_FILE"));
    settings.tls_server_name = Some(server_name);
    settings.timeout = Duration::from_secs(10);
    Some(Maildev { settings, api: api.trim_end_matches('/').to_owned() })
}

fn mail_to(address: &str, subject: &str, body: &str) -> OutgoingMail {
    let link = "http://localhost:7071/kalendar";
    let (text, html) = templates::email_bodies(subject, body, link);
    OutgoingMail {
        from: "Portál občana <noreply@portal.gov.cz>".into(),
        to: EmailAddress::parse(address).expect("address"),
        subject: subject.into(),
        text,
        html,
        message_id: format!("<{}.email@portal.gov.cz>", uuid::Uuid::new_v4().simple()),
    }
}

/// The mails maildev holds for `recipient` (the same maildev serves other tests).
async fn received(api: &str, recipient: &str) -> Vec<Value> {
    let all: Vec<Value> = reqwest::get(format!("{api}/email"))
        .await
        .expect("maildev REST API")
        .error_for_status()
        .expect("GET /email")
        .json()
        .await
        .expect("JSON");
    all.into_iter()
        .filter(|mail| {
            mail["to"].as_array().is_some_and(|to| to.iter().any(|t| t["address"].as_str() == Some(recipient)))
        })
        .collect()
}

#[tokio::test]
async fn a_notification_email_goes_through_smtps_to_maildev() {
    let Some(maildev) = maildev() else { return };
    let mailer = SmtpMailer::new(&maildev.settings).expect("SMTP settings");
    let run = uuid::Uuid::new_v4().simple().to_string();
    let recipient = format!("jana.{}@example.cz", &run[..12]);
    let subject = "Blíží se konec platnosti dokladu: řidičský průkaz";
    let body = "Platnost vašeho řidičského průkazu skončí 23. 12. 2026, tedy za 30 dní. Odesílatel <Úřad & spol.>";
    let mail = mail_to(&recipient, subject, body);

    let delivery = mailer.send(&mail).await.expect("maildev accepts the mail over TLS");
    assert!(!delivery.delivered, "an SMTP relay only accepts; it does not report delivery");

    let mails = received(&maildev.api, &recipient).await;
    assert_eq!(mails.len(), 1, "exactly one mail for {recipient}");
    let got = &mails[0];
    assert_eq!(got["subject"], subject, "the subject keeps its Czech diacritics");
    let text = got["text"].as_str().expect("text part");
    assert!(text.contains("Platnost vašeho řidičského průkazu skončí 23. 12. 2026"), "{text}");
    assert!(text.contains("Odesílatel <Úřad & spol.>"), "plain text is not escaped: {text}");
    let html = got["html"].as_str().expect("html part");
    assert!(html.contains("Odesílatel &lt;Úřad &amp; spol.&gt;"), "HTML is escaped: {html}");
    let headers = &got["headers"];
    assert_eq!(headers["auto-submitted"], "auto-generated", "{headers}");
    assert_eq!(headers["message-id"], mail.message_id.as_str(), "{headers}");
    assert!(headers["from"].as_str().is_some_and(|f| f.contains("noreply@portal.gov.cz")), "{headers}");
}
