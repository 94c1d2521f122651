//! Czech texts for every notification kind, rendered from the event's `data`.
//!
//! One [`Rendered`] per event: the in-portal title and body (also the e-mail's
//! subject and text), a short SMS text, and the portal page it points to. SMS
//! texts carry no more personal data than the notice needs: never a message
//! subject, a sender's name or a deadline's title.
//!
//! The payloads read here are the producers' (`portal_events::kinds`):
//! - `databox.new-message`: `{messageId, sender, subject}`;
//! - `databox.deemed-delivery-warning`: `{messageId, sender, subject, deemedDeliveredAt}` (RFC 3339);
//! - `databox.archive-finished`: `{archived}`;
//! - `databox.credit-low`: `{creditHellers, thresholdHellers}`;
//! - `databox.credit-purchase-confirmed`: `{paymentId, amountHellers}`;
//! - `databox.credit-purchase-declined`: `{paymentId, reason}` (`declined`, `expired`);
//! - `calendar.expiry-reminder`: `{document, date, daysLeft?}` — `document` is
//!   `id-card`, `passport` or `driving-licence`, `date` the expiry
//!   (`YYYY-MM-DD`); without `daysLeft` the days are counted from the event's
//!   `occurredAt` date;
//! - `calendar.deadline-reminder`: `{title, date, daysLeft?}`;
//! - `documents.filed`: `{title?}`;
//! - `account.contact-verification`: `{channel?}`.
//!
//! A missing field renders as a neutral word rather than failing; an unknown
//! kind gets a neutral generic text (and the caller logs a warning).

use portal_events::{Event, kinds};
use serde_json::Value;
use time::{Date, OffsetDateTime};

/// What a notification says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    pub title: String,
    pub body: String,
    pub sms: String,
    /// The portal page (a path under the portal's URL).
    pub path: &'static str,
    /// False when the kind had no template of its own.
    pub known: bool,
}

const SMS_PREFIX: &str = "Portál občana:";

fn text<'v>(data: &'v Value, field: &str) -> Option<&'v str> {
    data.get(field).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
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

/// The document names: nominative and genitive.
fn document_names(kind: Option<&str>) -> (&'static str, &'static str) {
    match kind {
        Some("id-card") => ("občanský průkaz", "občanského průkazu"),
        Some("passport") => ("cestovní pas", "cestovního pasu"),
        Some("driving-licence") => ("řidičský průkaz", "řidičského průkazu"),
        _ => ("doklad", "dokladu"),
    }
}

/// Days from the event's day to `date`: the producer's `daysLeft` if given.
fn days_left(event: &Event, date: Option<Date>) -> Option<i64> {
    event
        .data
        .get("daysLeft")
        .and_then(Value::as_i64)
        .or_else(|| date.map(|d| (d - event.occurred_at.date()).whole_days()))
}

/// `dnes`, `zítra`, `za 7 dní`.
fn when(days: i64) -> String {
    match days {
        0 => "dnes".into(),
        1 => "zítra".into(),
        d => format!("za {}", plural(d, "den", "dny", "dní")),
    }
}

pub fn render(event: &Event) -> Rendered {
    let data = &event.data;
    let sender = text(data, "sender").unwrap_or("neuvedený odesílatel");
    let subject = text(data, "subject").unwrap_or("bez předmětu");
    let known =
        |title: String, body: String, sms: String, path: &'static str| Rendered { title, body, sms, path, known: true };
    match event.kind.as_str() {
        kinds::NEW_MESSAGE => known(
            "Nová zpráva v datové schránce".into(),
            format!("Do vaší datové schránky přišla nová zpráva od odesílatele {sender}: „{subject}“."),
            format!("{SMS_PREFIX} v datové schránce máte novou zprávu. Přečtete si ji po přihlášení."),
            "/datova-schranka",
        ),
        kinds::DEEMED_DELIVERY_WARNING => {
            let deemed = text(data, "deemedDeliveredAt").and_then(parse_time).map(|t| czech_date(t.date()));
            let (on, on_capitalised) = match deemed {
                Some(date) => (format!("dne {date}"), format!("Dne {date}")),
                None => ("za několik dní".to_owned(), "Za několik dní".to_owned()),
            };
            known(
                "Zpráva bude brzy považována za doručenou".into(),
                format!(
                    "Zprávu od odesílatele {sender} („{subject}“) jste dosud neotevřeli. {on_capitalised} bude považována za doručenou (fikce doručení), i když ji neotevřete."
                ),
                format!("{SMS_PREFIX} nepřečtená zpráva v datové schránce bude {on} považována za doručenou."),
                "/datova-schranka",
            )
        }
        kinds::ARCHIVE_FINISHED => {
            let n = data.get("archived").and_then(Value::as_i64).unwrap_or(0);
            known(
                "Archivace datových zpráv dokončena".into(),
                format!(
                    "Do vašich dokumentů jsme uložili {} z datové schránky, než je systém datových schránek smaže.",
                    plural(n, "zprávu", "zprávy", "zpráv")
                ),
                format!("{SMS_PREFIX} zprávy z datové schránky byly uloženy do dokumentů."),
                "/dokumenty",
            )
        }
        kinds::CREDIT_LOW => {
            let credit = data.get("creditHellers").and_then(Value::as_i64);
            let amount = credit.map_or_else(|| "nízkou částku".to_owned(), crowns);
            known(
                "Dochází kredit datové schránky".into(),
                format!("Kredit pro poštovní datové zprávy klesl na {amount}. Dobít jej můžete v Portálu občana."),
                format!("{SMS_PREFIX} dochází kredit datové schránky ({amount})."),
                "/datova-schranka/kredit",
            )
        }
        kinds::CREDIT_PURCHASE_CONFIRMED => {
            let amount =
                data.get("amountHellers").and_then(Value::as_i64).map_or_else(|| "objednaný".to_owned(), crowns);
            known(
                "Kredit datové schránky dobit".into(),
                format!(
                    "Platba proběhla a kredit datové schránky byl dobit o {amount}. Doklad o platbě najdete v dokumentech."
                ),
                format!("{SMS_PREFIX} kredit datové schránky byl dobit o {amount}."),
                "/datova-schranka/kredit",
            )
        }
        kinds::CREDIT_PURCHASE_DECLINED => {
            let why = match text(data, "reason") {
                Some("expired") => "Platbu jste nedokončili včas.",
                _ => "Platební brána platbu nepřijala.",
            };
            known(
                "Kredit datové schránky nebyl dobit".into(),
                format!("{why} Kredit datové schránky nebyl dobit a nic jsme vám neúčtovali."),
                format!("{SMS_PREFIX} kredit datové schránky nebyl dobit, platba neproběhla."),
                "/datova-schranka/kredit",
            )
        }
        kinds::EXPIRY_REMINDER => {
            let (name, genitive) = document_names(text(data, "document"));
            let date = text(data, "date").and_then(parse_date);
            let days = days_left(event, date);
            let on = date.map(czech_date);
            let (title, body, sms) = match (days, on) {
                (Some(0), Some(on)) => (
                    format!("Dnes končí platnost dokladu: {name}"),
                    format!("Platnost vašeho {genitive} končí dnes ({on}). Požádejte o nový doklad co nejdříve."),
                    format!("{SMS_PREFIX} platnost vašeho {genitive} končí dnes ({on})."),
                ),
                (Some(d), Some(on)) if d < 0 => (
                    format!("Skončila platnost dokladu: {name}"),
                    format!("Platnost vašeho {genitive} skončila {on}. Požádejte o nový doklad."),
                    format!("{SMS_PREFIX} platnost vašeho {genitive} skončila {on}."),
                ),
                (Some(d), Some(on)) => (
                    format!("Blíží se konec platnosti dokladu: {name}"),
                    format!(
                        "Platnost vašeho {genitive} skončí {on}, tedy {}. O nový doklad můžete požádat již nyní.",
                        when(d)
                    ),
                    format!("{SMS_PREFIX} platnost vašeho {genitive} skončí {on} ({}).", when(d)),
                ),
                _ => (
                    format!("Blíží se konec platnosti dokladu: {name}"),
                    format!("Platnost vašeho {genitive} brzy skončí. Podrobnosti najdete v kalendáři."),
                    format!("{SMS_PREFIX} platnost vašeho {genitive} brzy skončí."),
                ),
            };
            known(title, body, sms, "/kalendar")
        }
        kinds::DEADLINE_REMINDER => {
            let what = text(data, "title").unwrap_or("termín v kalendáři");
            let date = text(data, "date").and_then(parse_date);
            let days = days_left(event, date);
            let on = date.map_or_else(|| "brzy".to_owned(), czech_date);
            let relative = days.filter(|d| *d >= 0).map(|d| format!(" ({})", when(d))).unwrap_or_default();
            known(
                "Připomínka termínu".into(),
                format!("Blíží se termín: {what}, {on}{relative}."),
                format!("{SMS_PREFIX} blíží se termín v kalendáři, {on}{relative}. Podrobnosti po přihlášení."),
                "/kalendar",
            )
        }
        kinds::DOCUMENT_FILED => {
            let title = text(data, "title").map(|t| format!(" „{t}“")).unwrap_or_default();
            known(
                "Nový dokument".into(),
                format!("Do vašich dokumentů byl uložen dokument{title}."),
                format!("{SMS_PREFIX} do vašich dokumentů byl uložen nový dokument."),
                "/dokumenty",
            )
        }
        kinds::EXTRACT_READY => {
            let title = text(data, "title").unwrap_or("výpis");
            known(
                format!("Připraveno: {title}"),
                format!("Váš {} je připraven v dokumentech.", lowercase_first(title)),
                format!("{SMS_PREFIX} požadovaný výpis je připraven v dokumentech."),
                "/dokumenty",
            )
        }
        kinds::EXTRACT_FAILED => {
            let title = text(data, "title").unwrap_or("výpis");
            let reason = text(data, "reason").map(|r| format!(" {r}")).unwrap_or_default();
            known(
                format!("Nepodařilo se získat: {title}"),
                format!(
                    "Váš {} se nepodařilo získat z registrů.{reason} Zkuste o něj požádat znovu později.",
                    lowercase_first(title)
                ),
                format!("{SMS_PREFIX} výpis se nepodařilo získat, zkuste to později."),
                "/vypisy",
            )
        }
        kinds::DATA_MESSAGE_SENT => {
            let subject = text(data, "subject").map(|s| format!(" „{s}“")).unwrap_or_default();
            known(
                "Datová zpráva odeslána".into(),
                format!("Z vaší datové schránky jsme odeslali zprávu{subject}. Najdete ji mezi odeslanými zprávami."),
                format!("{SMS_PREFIX} z vaší datové schránky byla odeslána zpráva."),
                "/datova-schranka",
            )
        }
        kinds::DATA_MESSAGE_NOT_SENT => {
            let subject = text(data, "subject").map(|s| format!(" „{s}“")).unwrap_or_default();
            let reason = text(data, "reason").map(|r| format!(" Důvod: {r}")).unwrap_or_default();
            known(
                "Datovou zprávu se nepodařilo odeslat".into(),
                format!("Zprávu{subject} se z vaší datové schránky nepodařilo odeslat.{reason}"),
                format!("{SMS_PREFIX} datovou zprávu se nepodařilo odeslat, podrobnosti po přihlášení."),
                "/datova-schranka",
            )
        }
        "filings.deadline-passed" => {
            let title = text(data, "title").unwrap_or("podání");
            let agency = text(data, "agency").unwrap_or("úřad");
            let urge = if data.get("canUrge").and_then(Value::as_bool) == Some(true) {
                " Urgenci můžete úřadu poslat jedním kliknutím z vaší datové schránky."
            } else {
                ""
            };
            known(
                "Úřad nerozhodl v zákonné lhůtě".into(),
                format!(
                    "Na vaše podání „{title}“ měl úřad {agency} odpovědět do zákonné lhůty, ta však uplynula.{urge}"
                ),
                format!("{SMS_PREFIX} lhůta úřadu pro vyřízení vašeho podání uplynula."),
                "/podani",
            )
        }
        "petitions.closed" => {
            let title = text(data, "title").unwrap_or("petice");
            known(
                "Petice uzavřena".into(),
                format!(
                    "Sběr podpisů petice „{title}“ skončil. Výpis podpisů si stáhnete a petici předáte adresátovi v Portálu občana."
                ),
                format!("{SMS_PREFIX} sběr podpisů vaší petice skončil."),
                "/petice",
            )
        }
        "petitions.blocked" => {
            let title = text(data, "title").unwrap_or("petice");
            let reason = text(data, "reason").map(|r| format!(" Důvod: {r}")).unwrap_or_default();
            known(
                "Petice zablokována".into(),
                format!(
                    "Ministerstvo vnitra zablokovalo podepisování petice „{title}“ (§ 6a zákona o právu petičním).{reason}"
                ),
                format!("{SMS_PREFIX} podepisování vaší petice bylo zablokováno, podrobnosti po přihlášení."),
                "/petice",
            )
        }
        "petitions.unblocked" => {
            let title = text(data, "title").unwrap_or("petice");
            known(
                "Petice odblokována".into(),
                format!("Petici „{title}“ lze opět podepisovat."),
                format!("{SMS_PREFIX} vaši petici lze opět podepisovat."),
                "/petice",
            )
        }
        "petitions.handed-over" => {
            let title = text(data, "title").unwrap_or("petice");
            let addressee = text(data, "addressee").unwrap_or("adresát");
            known(
                "Petice předána".into(),
                format!(
                    "Petici „{title}“ jsme s výpisem podpisů odeslali z vaší datové schránky adresátovi: {addressee}. Adresát má na odpověď 30 dní."
                ),
                format!("{SMS_PREFIX} vaše petice byla předána adresátovi."),
                "/petice",
            )
        }
        "petitions.senate-threshold-reached" => {
            let title = text(data, "title").unwrap_or("petice");
            known(
                "Petice překročila 10 000 podpisů".into(),
                format!(
                    "Petici „{title}“ adresovanou Senátu podpořilo více než 10 000 lidí; Senát ji projedná na plenární schůzi."
                ),
                format!("{SMS_PREFIX} vaše petice Senátu překročila 10 000 podpisů."),
                "/petice",
            )
        }
        kinds::CONTACT_VERIFICATION => known(
            "Kontakt pro oznámení ověřen".into(),
            "Kontaktní údaj pro zasílání oznámení byl ověřen. Oznámení si nastavíte v Portálu občana.".into(),
            format!("{SMS_PREFIX} kontakt pro oznámení byl ověřen."),
            "/profil/oznameni",
        ),
        _ => Rendered {
            title: "Nové oznámení".into(),
            body: "V Portálu občana pro vás máme nové oznámení. Podrobnosti najdete po přihlášení.".into(),
            sms: format!("{SMS_PREFIX} máte nové oznámení. Podrobnosti po přihlášení."),
            path: "/",
            known: false,
        },
    }
}

/// "Výpis z rejstříku trestů" → "výpis z rejstříku trestů", for the middle of a sentence.
fn lowercase_first(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|first| first.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

/// Escapes text for HTML element content and attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

const TEXT_FOOTER: &str = "Tuto zprávu poslal automaticky Portál občana; neodpovídejte na ni. \
Zasílání oznámení e-mailem nastavíte nebo vypnete po přihlášení v Portálu občana.";

/// The e-mail's text and HTML bodies for a notification.
pub fn email_bodies(title: &str, body: &str, link: &str) -> (String, String) {
    let text = format!("{body}\n\nPodrobnosti: {link}\n\n--\n{TEXT_FOOTER}\n");
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"cs\"><head><meta charset=\"utf-8\"><title>{title}</title></head>\n<body>\n<h1>{title}</h1>\n<p>{body}</p>\n<p><a href=\"{link}\">Zobrazit v Portálu občana</a></p>\n<hr>\n<p><small>{footer}</small></p>\n</body></html>\n",
        title = html_escape(title),
        body = html_escape(body),
        link = html_escape(link),
        footer = html_escape(TEXT_FOOTER),
    );
    (text, html)
}

/// The verification code's e-mail: subject, text and HTML.
pub fn verification_email(code: &str, minutes: u64) -> (String, String, String) {
    let subject = "Ověřovací kód pro Portál občana".to_owned();
    let body = format!(
        "Váš ověřovací kód je {code}. Zadejte jej v Portálu občana do {minutes} minut. Pokud jste o kód nežádali, zprávu ignorujte."
    );
    let text = format!("{body}\n\n--\n{TEXT_FOOTER}\n");
    let html = format!(
        "<!DOCTYPE html>\n<html lang=\"cs\"><head><meta charset=\"utf-8\"><title>{s}</title></head>\n<body>\n<p>{b}</p>\n<p><strong>{c}</strong></p>\n<hr>\n<p><small>{f}</small></p>\n</body></html>\n",
        s = html_escape(&subject),
        b = html_escape(&body),
        c = html_escape(code),
        f = html_escape(TEXT_FOOTER),
    );
    (subject, text, html)
}

/// The verification code's SMS.
pub fn verification_sms(code: &str, minutes: u64) -> String {
    format!("{SMS_PREFIX} ověřovací kód {code}, platí {minutes} minut. Pokud jste o něj nežádali, zprávu ignorujte.")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::datetime;

    fn event(kind: &str, data: Value) -> Event {
        Event::new(kind, "k", "DEMO%2Fjana", datetime!(2026-11-23 08:00 UTC), data)
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
    fn html_bodies_escape_every_inserted_value() {
        let (text, html) = email_bodies("A <b>", "Od <script>alert('x')</script> & spol.", "http://x/?a=1&b=\"2\"");
        assert!(text.contains("<script>"), "plain text stays plain");
        assert!(
            !html.contains("<script>") && html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; spol.")
        );
        assert!(html.contains("href=\"http://x/?a=1&amp;b=&quot;2&quot;\""));
    }
}
