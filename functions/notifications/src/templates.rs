//! Czech texts for every notification kind, rendered from the event's typed
//! payload (a [`Notice`], read with [`Notice::from_event`]) by
//! [minijinja](https://docs.rs/minijinja) templates kept as files under
//! `functions/notifications/templates/` (built into the binary):
//!
//! - `notices/<kind>.txt`, one per [`Notice`] kind: the blocks `title` and
//!   `body` (the in-portal title and body, also the e-mail's subject and
//!   text), `sms` (a short text) and `path` (the portal page it points to).
//!   Each file says which payload type and fields it reads; `data` is that
//!   payload serialized, so it holds exactly the type's fields. SMS texts
//!   carry no more personal data than the notice needs: never a message
//!   subject, a sender's name or a deadline's title. An empty text renders as
//!   a neutral word. An event that is not a [`Notice`] (a kind without a
//!   payload type, or a payload that does not parse) gets
//!   `notices/generic.txt`, a neutral text, and a warning in the log naming
//!   the kind and, for a bad payload, the field.
//! - `email/notice.{txt,html}` and `email/verification.{txt,html}`: the
//!   e-mails around those texts, with the footer `email/footer.txt`.
//! - `verification.txt`: the verification code's e-mail subject and sentence
//!   and its SMS.
//!
//! The `.html` templates escape every inserted value (autoescape); the
//! `.txt` ones insert values as they are. Besides the payload as `data`,
//! notice templates get `days_left` (for reminders: the producer's
//! `daysLeft`, or the days from the event's day to `data.date`) and the
//! filters `text` (a trimmed, non-empty string, else none), `integer`,
//! `czech_date` (`YYYY-MM-DD…` → `23. 12. 2026`), `czech_date_of_time` (of an
//! RFC 3339 time), `crowns` (hellers → `15,50 Kč`), `plural(one, few,
//! many)`, `when` (`dnes`, `zítra`, `za 7 dní`) and `lowercase_first`.

use std::fmt::Write as _;
use std::sync::LazyLock;

use minijinja::value::Value as Jinja;
use minijinja::{AutoEscape, Environment, Error, Output, State, context};
use portal_events::{Event, Notice, NoticeError};
use time::{Date, OffsetDateTime};

/// What a notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub title: String,
    pub body: String,
    pub sms: String,
    /// The portal page (a path under the portal's URL).
    pub path: String,
    /// False when the kind had no template of its own.
    pub known: bool,
}

/// The notice template of an event kind (`notices/databox.new-message.txt`).
macro_rules! notice {
    ($kind:literal) => {
        (concat!("notices/", $kind, ".txt"), include_str!(concat!("../templates/notices/", $kind, ".txt")))
    };
}

/// Every template, by name.
const SOURCES: &[(&str, &str)] = &[
    notice!("databox.new-message"),
    notice!("databox.deemed-delivery-warning"),
    notice!("databox.archive-finished"),
    notice!("databox.credit-low"),
    notice!("databox.credit-purchase-confirmed"),
    notice!("databox.credit-purchase-declined"),
    notice!("databox.sent-on-behalf"),
    notice!("databox.not-sent-on-behalf"),
    notice!("calendar.expiry-reminder"),
    notice!("calendar.deadline-reminder"),
    notice!("documents.filed"),
    notice!("registers.extract-ready"),
    notice!("registers.extract-failed"),
    notice!("filings.deadline-passed"),
    notice!("petitions.closed"),
    notice!("petitions.blocked"),
    notice!("petitions.unblocked"),
    notice!("petitions.handed-over"),
    notice!("petitions.senate-threshold-reached"),
    notice!("account.contact-verification"),
    notice!("tiles.alert"),
    notice!("delegation.granted"),
    notice!("delegation.first-use"),
    notice!("delegation.ended"),
    notice!("noticeboards.new-item"),
    notice!("generic"),
    ("email/notice.txt", include_str!("../templates/email/notice.txt")),
    ("email/notice.html", include_str!("../templates/email/notice.html")),
    ("email/verification.txt", include_str!("../templates/email/verification.txt")),
    ("email/verification.html", include_str!("../templates/email/verification.html")),
    ("verification.txt", include_str!("../templates/verification.txt")),
];

const GENERIC: &str = "notices/generic.txt";
const FOOTER: &str = include_str!("../templates/email/footer.txt");

static TEMPLATES: LazyLock<Environment<'static>> = LazyLock::new(environment);

fn environment() -> Environment<'static> {
    let mut env = Environment::new();
    // The e-mails end with a newline, as their files do.
    env.set_keep_trailing_newline(true);
    env.set_auto_escape_callback(|name| if name.ends_with(".html") { AutoEscape::Html } else { AutoEscape::None });
    env.set_formatter(format_value);
    env.add_global("footer", FOOTER.trim_end());
    env.add_filter("text", |value: Jinja| text(&value).map(str::to_owned));
    env.add_filter("integer", |value: Jinja| if value.is_integer() { value.as_i64() } else { None });
    env.add_filter("czech_date", |value: Jinja| text(&value).and_then(parse_date).map(czech_date));
    env.add_filter("czech_date_of_time", |value: Jinja| {
        text(&value).and_then(parse_time).map(|time| czech_date(time.date()))
    });
    env.add_filter("crowns", |value: Jinja| value.is_integer().then(|| value.as_i64()).flatten().map(crowns));
    env.add_filter("plural", |n: i64, one: &str, few: &str, many: &str| plural(n, one, few, many));
    env.add_filter("when", when);
    env.add_filter("lowercase_first", |text: &str| lowercase_first(text));
    for (name, source) in SOURCES {
        if let Err(error) = env.add_template(name, source) {
            // A broken template is a bug the tests of this module catch.
            tracing::error!(template = name, error = %error, "a notification template does not parse");
        }
    }
    env
}

/// Inserts a value. In HTML every string that is not marked safe is escaped
/// with the five entities the portal's e-mails have always used (`&amp;`,
/// `&lt;`, `&gt;`, `&quot;`, `&#39;`); everything else is written the
/// engine's way.
fn format_value(out: &mut Output, state: &State, value: &Jinja) -> Result<(), Error> {
    match value.as_str() {
        Some(text) if state.auto_escape() == AutoEscape::Html && !value.is_safe() => {
            for c in text.chars() {
                match c {
                    '&' => out.write_str("&amp;")?,
                    '<' => out.write_str("&lt;")?,
                    '>' => out.write_str("&gt;")?,
                    '"' => out.write_str("&quot;")?,
                    '\'' => out.write_str("&#39;")?,
                    c => out.write_char(c)?,
                }
            }
            Ok(())
        }
        _ => minijinja::escape_formatter(out, state, value),
    }
}

/// A trimmed, non-empty string.
fn text(value: &Jinja) -> Option<&str> {
    value.as_str().map(str::trim).filter(|s| !s.is_empty())
}

/// `23. 12. 2026`, the Czech way.
pub fn czech_date(date: Date) -> String {
    format!("{}. {}. {}", date.day(), u8::from(date.month()), date.year())
}

fn parse_date(value: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(value.get(..10).unwrap_or(value), &format).ok()
}

fn parse_time(value: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(value, &time::format_description::well_known::Rfc3339).ok()
}

/// Czech plural: `1 den`, `2 dny`, `5 dní`.
fn plural(n: i64, one: &str, few: &str, many: &str) -> String {
    let word = match n.abs() {
        1 => one,
        2..=4 => few,
        _ => many,
    };
    format!("{n} {word}")
}

/// Amounts are in hellers; shown in crowns with two decimals when needed.
fn crowns(hellers: i64) -> String {
    if hellers % 100 == 0 {
        format!("{} Kč", hellers / 100)
    } else {
        format!("{},{:02} Kč", hellers / 100, (hellers % 100).abs())
    }
}

/// `dnes`, `zítra`, `za 7 dní`.
fn when(days: i64) -> String {
    match days {
        0 => "dnes".into(),
        1 => "zítra".into(),
        d => format!("za {}", plural(d, "den", "dny", "dní")),
    }
}

/// "Výpis z rejstříku trestů" → "výpis z rejstříku trestů", for the middle of a sentence.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

/// For reminders, the days from the event's day to the reminder's date: the
/// producer's `daysLeft` if given.
fn days_left(notice: &Notice, occurred_at: OffsetDateTime) -> Option<i64> {
    match notice {
        Notice::ExpiryReminder(reminder) | Notice::DeadlineReminder(reminder) => {
            Some(reminder.days_left.unwrap_or_else(|| (reminder.date - occurred_at.date()).whole_days()))
        }
        _ => None,
    }
}

/// Renders the named blocks of template `name`, each trimmed.
fn blocks<const N: usize>(name: &str, ctx: Jinja, names: [&str; N]) -> Result<[String; N], Error> {
    let mut captured = TEMPLATES.get_template(name)?.render_captured(ctx)?;
    let mut rendered: [String; N] = std::array::from_fn(|_| String::new());
    for (out, block) in rendered.iter_mut().zip(names) {
        *out = captured.with_state_mut(|state| state.render_block(block))?.trim().to_owned();
    }
    Ok(rendered)
}

/// Renders a whole template. The templates are fixed and tested, so a
/// failure is a bug: it is logged and the text left empty.
fn whole(name: &str, ctx: Jinja) -> String {
    TEMPLATES.get_template(name).and_then(|template| template.render(ctx)).unwrap_or_else(|error| {
        tracing::error!(template = name, error = %error, "a notification template failed");
        String::new()
    })
}

fn notice(name: &str, ctx: Jinja) -> Result<Rendered, Error> {
    let [title, body, sms, path] = blocks(name, ctx, ["title", "body", "sms", "path"])?;
    Ok(Rendered { title, body, sms, path, known: name != GENERIC })
}

/// The texts of a notification about `event`: its [`Notice`]'s template, or
/// the generic text (with a warning) when the event is not a notice.
pub fn render(event: &Event) -> Rendered {
    match Notice::from_event(event) {
        Ok(notice) => render_notice(&notice, event.occurred_at),
        Err(error) => {
            match &error {
                NoticeError::UnknownKind(_) => {
                    tracing::warn!(kind = %event.kind, "no template for this event kind; a generic notice is used");
                }
                // The error names the field, never its value (personal data).
                NoticeError::Payload { .. } => {
                    tracing::warn!(kind = %event.kind, error = %error, "the payload does not parse; a generic notice is used");
                }
            }
            generic()
        }
    }
}

/// The texts of `notice`, told at `occurred_at`.
fn render_notice(notice: &Notice, occurred_at: OffsetDateTime) -> Rendered {
    let name = format!("notices/{}.txt", notice.kind());
    let ctx = context! { data => Jinja::from_serialize(notice), days_left => days_left(notice, occurred_at) };
    self::notice(&name, ctx).unwrap_or_else(|error| {
        tracing::error!(kind = notice.kind(), error = %error, "a notice template failed; the generic text is used");
        generic()
    })
}

/// The neutral text of an event without a text of its own.
fn generic() -> Rendered {
    notice(GENERIC, context! {}).unwrap_or_else(|_| Rendered {
        title: String::new(),
        body: String::new(),
        sms: String::new(),
        path: "/".into(),
        known: false,
    })
}

/// The e-mail's text and HTML bodies for a notification.
pub fn email_bodies(title: &str, body: &str, link: &str) -> (String, String) {
    let ctx = context! { title, body, link };
    (whole("email/notice.txt", ctx.clone()), whole("email/notice.html", ctx))
}

/// The verification code's e-mail: subject, text and HTML.
pub fn verification_email(code: &str, minutes: u64) -> (String, String, String) {
    let [subject, body] =
        blocks("verification.txt", context! { code, minutes }, ["subject", "email"]).unwrap_or_else(|error| {
            tracing::error!(error = %error, "the verification template failed");
            Default::default()
        });
    let ctx = context! { subject, body, code };
    let (text, html) = (whole("email/verification.txt", ctx.clone()), whole("email/verification.html", ctx));
    (subject, text, html)
}

/// The verification code's SMS.
pub fn verification_sms(code: &str, minutes: u64) -> String {
    blocks("verification.txt", context! { code, minutes }, ["sms"]).map(|[sms]| sms).unwrap_or_else(|error| {
        tracing::error!(error = %error, "the verification template failed");
        String::new()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_events::kinds;
    use serde_json::{Value, json};
    use time::macros::datetime;

    fn event(kind: &str, data: Value) -> Event {
        Event::new(kind, "k", "DEMO%2Fjana", datetime!(2026-11-23 08:00 UTC), data)
    }

    #[test]
    fn every_template_parses() {
        for (name, _) in SOURCES {
            assert!(TEMPLATES.get_template(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn every_kind_of_notice_has_its_own_template() {
        for kind in Notice::KINDS {
            assert!(TEMPLATES.get_template(&format!("notices/{kind}.txt")).is_ok(), "{kind}");
        }
    }

    #[test]
    fn every_notification_kind_has_czech_text_and_a_short_sms() {
        let cases = [
            event(kinds::NEW_MESSAGE, json!({"messageId": "1", "sender": "Finanční úřad", "subject": "Výzva"})),
            event(
                kinds::DEEMED_DELIVERY_WARNING,
                json!({"messageId": "1", "sender": "Úřad", "subject": "Rozhodnutí", "deemedDeliveredAt": "2026-11-26T08:00:00Z"}),
            ),
            event(kinds::ARCHIVE_FINISHED, json!({"archived": 3})),
            event(kinds::CREDIT_LOW, json!({"creditHellers": 1550, "thresholdHellers": 2000})),
            event(kinds::CREDIT_PURCHASE_CONFIRMED, json!({"paymentId": "p", "amountHellers": 20000})),
            event(kinds::CREDIT_PURCHASE_DECLINED, json!({"paymentId": "p", "reason": "expired"})),
            event(kinds::EXPIRY_REMINDER, json!({"document": "passport", "date": "2026-12-23"})),
            event(kinds::DEADLINE_REMINDER, json!({"title": "Podání daňového přiznání", "date": "2026-11-30"})),
            event(kinds::DOCUMENT_FILED, json!({"title": "Výpis z rejstříku trestů"})),
            event(kinds::CONTACT_VERIFICATION, json!({})),
            event(kinds::EXTRACT_READY, json!({"title": "Výpis z rejstříku trestů"})),
            event("petitions.closed", json!({"title": "Za zelenou Vltavu"})),
            event("filings.deadline-passed", json!({"title": "Změna adresy", "agency": "MV", "canUrge": true})),
            event("petitions.blocked", json!({"title": "Za zelenou Vltavu", "reason": "Výzva k porušení zákona."})),
            event("petitions.unblocked", json!({"title": "Za zelenou Vltavu"})),
            event("petitions.handed-over", json!({"title": "Za zelenou Vltavu", "addressee": "Senát"})),
            event("petitions.senate-threshold-reached", json!({"title": "Za zelenou Vltavu"})),
            event(kinds::EXTRACT_FAILED, json!({"title": "Výpis z rejstříku trestů", "reason": "Registr neodpovídá."})),
            event(kinds::DATA_MESSAGE_SENT, json!({"subject": "Petice"})),
            event(kinds::DATA_MESSAGE_NOT_SENT, json!({"subject": "Petice", "reason": "Schránka neexistuje."})),
            event(
                kinds::NOTICE_BOARD_ITEM,
                json!({"board": "Město Žďár", "title": "Uzavírka silnice", "postedOn": "2026-11-20"}),
            ),
        ];
        for case in &cases {
            let rendered = render(case);
            assert!(rendered.known, "{}", case.kind);
            assert!(rendered.sms.chars().count() <= 160, "{}: {}", case.kind, rendered.sms);
            for secret in ["Finanční úřad", "Výzva", "Rozhodnutí", "Podání daňového", "Výpis z rejstříku"]
            {
                assert!(!rendered.sms.contains(secret), "{}: the SMS carries {secret}", case.kind);
            }
        }
        assert_eq!(
            render(&cases[3]).body,
            "Kredit pro poštovní datové zprávy klesl na 15,50 Kč. Dobít jej můžete v Portálu občana."
        );
        assert!(render(&cases[0]).body.contains("Finanční úřad"), "the inbox names the sender");
        assert!(render(&cases[1]).body.starts_with("Zprávu od odesílatele Úřad"));
        assert!(render(&cases[1]).body.contains("Dne 26. 11. 2026 bude"), "{}", render(&cases[1]).body);
        assert!(render(&cases[2]).body.contains("3 zprávy"));
        let board = render(cases.last().expect("a case"));
        assert_eq!(
            board.body,
            "Na úřední desce Město Žďár je nová informace, kterou hlídáte: „Uzavírka silnice“, vyvěšeno 20. 11. 2026. Podrobnosti najdete v Portálu občana."
        );
    }

    #[test]
    fn expiry_reminders_name_the_document_the_date_and_the_days_left() {
        let thirty = render(&event(kinds::EXPIRY_REMINDER, json!({"document": "id-card", "date": "2026-12-23"})));
        assert_eq!(thirty.title, "Blíží se konec platnosti dokladu: občanský průkaz");
        assert!(thirty.body.contains("23. 12. 2026") && thirty.body.contains("za 30 dní"), "{}", thirty.body);
        let week = render(&event(
            kinds::EXPIRY_REMINDER,
            json!({"document": "driving-licence", "date": "2026-11-30", "daysLeft": 7}),
        ));
        assert!(week.title.ends_with("řidičský průkaz"));
        assert!(week.sms.contains("řidičského průkazu") && week.sms.contains("za 7 dní"), "{}", week.sms);
        let today = render(&event(kinds::EXPIRY_REMINDER, json!({"document": "passport", "date": "2026-11-23"})));
        assert_eq!(today.title, "Dnes končí platnost dokladu: cestovní pas");
        assert!(today.body.contains("dnes") && today.sms.contains("dnes"), "{}", today.body);
    }

    #[test]
    fn unknown_kinds_get_a_neutral_text() {
        let rendered = render(&event("petitions.signed", json!({"title": "secret"})));
        assert!(!rendered.known);
        assert!(!rendered.body.contains("secret"));
    }

    #[test]
    fn a_known_kind_whose_payload_does_not_parse_gets_the_neutral_text() {
        let generic = render(&event("petitions.signed", json!({"title": "secret"})));
        let cases = [
            event(kinds::CREDIT_LOW, json!({"creditHellers": "a lot", "thresholdHellers": 2000})),
            event(kinds::NEW_MESSAGE, json!({"sender": "Finanční úřad"})),
            event(kinds::EXPIRY_REMINDER, json!({"document": "passport", "date": "next week"})),
            event("petitions.closed", json!("Za zelenou Vltavu")),
        ];
        for case in &cases {
            let rendered = render(case);
            assert!(!rendered.known, "{}", case.kind);
            assert_eq!(rendered, generic, "{}", case.kind);
            assert_eq!(rendered.title, "Nové oznámení");
            assert!(!rendered.body.contains("Finanční úřad") && !rendered.body.contains("Vltavu"));
        }
    }

    #[test]
    fn html_bodies_escape_every_inserted_value() {
        let (text, html) = email_bodies("A <b>", "Od <script>alert('x')</script> & spol.", "http://x/?a=1&b=\"2\"");
        assert!(text.contains("<script>"), "plain text stays plain");
        assert!(
            !html.contains("<script>") && html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; spol.")
        );
        assert!(html.contains("href=\"http://x/?a=1&amp;b=&quot;2&quot;\""));
    }
}
