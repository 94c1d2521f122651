//! What each extract says, in Czech, laid out as a [`PdfDocument`]. Only
//! data from the gateway and the job goes in, so the same job and the same
//! answer give the same PDF.

use time::{Date, OffsetDateTime};

use crate::extracts::ExtractKind;
use crate::gateway::{CriminalRecordExtract, DriverPoints, PersonRecord, Properties, TradeRegisterExtract, Vehicles};
use crate::pdf::PdfDocument;

/// The banner on every page of a PDF made from simulator data.
pub const SIMULATOR_BANNER: &str = "SIMULÁTOR — nejde o skutečný výpis";
pub const PRODUCER: &str = "Portál občana (portal-registers)";

/// What the gateway answered for one extract.
#[derive(Debug, Clone, PartialEq)]
pub enum ExtractData {
    Person(PersonRecord),
    CriminalRecord(CriminalRecordExtract),
    /// `None`: the person is not in the trade register (a "no record" answer).
    TradeRegister(Option<TradeRegisterExtract>),
    DriverPoints(DriverPoints),
    Vehicles(Vehicles),
    Properties(Properties),
}

impl ExtractData {
    /// Whether the SIMULATOR produced the data.
    pub fn simulated(&self) -> bool {
        match self {
            Self::Person(d) => d.simulated,
            Self::CriminalRecord(d) => d.simulated,
            Self::TradeRegister(d) => d.as_ref().is_some_and(|d| d.simulated),
            Self::DriverPoints(d) => d.simulated,
            Self::Vehicles(d) => d.simulated,
            Self::Properties(d) => d.simulated,
        }
    }
}

/// `14. 3. 1985`.
pub fn czech_date(date: Date) -> String {
    format!("{}. {}. {}", date.day(), u8::from(date.month()), date.year())
}

/// `23. 11. 2026 9:00`: Prague's wall-clock time (CET/CEST), as Czech documents write it.
pub fn czech_time(at: OffsetDateTime) -> String {
    crate::pdf::czech_time(at)
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(' ');
        }
        out.push(c);
    }
    out
}

/// The PDF of one extract. `simulated` adds the banner (set when either
/// the data or the capability's settings say so).
pub fn extract_pdf(
    kind: ExtractKind,
    data: &ExtractData,
    job_id: &str,
    requested_at: OffsetDateTime,
    simulated: bool,
) -> Result<Vec<u8>, crate::pdf::PdfError> {
    let mut doc = PdfDocument::new(kind.title()).footer(format!("Portál občana • žádost {job_id}"));
    if simulated {
        doc = doc.banner(SIMULATOR_BANNER);
    }
    doc.field("Žádost", job_id);
    doc.field("Vyžádáno", czech_time(requested_at));
    match data {
        ExtractData::Person(p) => person(&mut doc, p),
        ExtractData::CriminalRecord(c) => criminal_record(&mut doc, c),
        ExtractData::TradeRegister(t) => trade_register(&mut doc, t.as_ref()),
        ExtractData::DriverPoints(d) => driver_points(&mut doc, d),
        ExtractData::Vehicles(v) => vehicles(&mut doc, v),
        ExtractData::Properties(p) => properties(&mut doc, p),
    }
    doc.gap();
    if simulated {
        doc.paragraph(
            "Tento dokument vytvořil simulátor registrů pro vývoj a předvádění portálu. Údaje jsou smyšlené \
             a dokument nemá žádné právní účinky.",
        );
    } else {
        doc.paragraph("Dokument obsahuje údaje předané z registrů veřejné správy v okamžiku vyhotovení.");
    }
    doc.render(PRODUCER, requested_at)
}

fn person(doc: &mut PdfDocument, p: &PersonRecord) {
    doc.heading("Údaje o osobě");
    doc.field("Jméno a příjmení", format!("{} {}", p.given_name, p.family_name));
    doc.field("Datum narození", czech_date(p.date_of_birth));
    doc.field("Místo narození", &p.place_of_birth);
    doc.field("Adresa místa pobytu", &p.residence.formatted);
    doc.field(
        "Doručovací adresa",
        p.delivery_address.as_ref().map_or_else(|| "není vedena".to_owned(), |a| a.formatted.clone()),
    );
    doc.field("Státní občanství", p.citizenships.iter().map(|c| citizenship(c)).collect::<Vec<_>>().join(", "));
    doc.field("Datová schránka", p.data_box_id.clone().unwrap_or_else(|| "není zřízena".to_owned()));
    doc.heading("Doklady");
    if p.identity_documents.is_empty() {
        doc.paragraph("Registr nevede žádný doklad.");
    }
    for d in &p.identity_documents {
        let validity =
            d.expires_on.map_or_else(|| "bez omezení".to_owned(), |e| format!("platný do {}", czech_date(e)));
        doc.field(d.kind.czech_name(), format!("č. {}, {validity}", d.number));
    }
    if !p.changes.is_empty() {
        doc.heading("Poslední změny údajů");
        for change in &p.changes {
            doc.field(&change.item, czech_time(change.changed_at));
        }
    }
}

fn citizenship(code: &str) -> String {
    match code {
        "CZ" => "Česká republika".to_owned(),
        "SK" => "Slovenská republika".to_owned(),
        other => other.to_owned(),
    }
}

fn criminal_record(doc: &mut PdfDocument, c: &CriminalRecordExtract) {
    doc.field("Číslo výpisu", &c.extract_number);
    doc.field("Vydáno", czech_time(c.issued_at));
    doc.heading("Osoba");
    doc.field("Jméno a příjmení", &c.full_name);
    doc.field("Datum narození", czech_date(c.date_of_birth));
    doc.field("Místo narození", &c.place_of_birth);
    doc.heading("Záznamy");
    if c.convictions.is_empty() {
        doc.paragraph("Bez záznamu. V evidenci Rejstříku trestů není o osobě žádný záznam.");
    }
    for (i, conviction) in c.convictions.iter().enumerate() {
        doc.paragraph(format!("{}. odsouzení", i + 1));
        doc.field("Soud", &conviction.court);
        doc.field("Spisová značka", &conviction.file_number);
        doc.field("Právní moc", czech_date(conviction.final_on));
        doc.field("Trestný čin", &conviction.offence);
        doc.field("Trest", &conviction.sentence);
    }
}

fn trade_register(doc: &mut PdfDocument, t: Option<&TradeRegisterExtract>) {
    let Some(t) = t else {
        doc.heading("Výsledek");
        doc.paragraph(
            "V živnostenském rejstříku není k vaší osobě zapsáno žádné podnikání ani živnostenské oprávnění.",
        );
        return;
    };
    doc.field("Vydáno", czech_time(t.issued_at));
    doc.heading("Podnikatel");
    doc.field("Obchodní firma / jméno", &t.name);
    doc.field("IČO", &t.ico);
    doc.field("Sídlo", &t.registered_office.formatted);
    doc.heading("Živnostenská oprávnění");
    for licence in &t.licences {
        let period = match licence.until {
            Some(until) => format!("od {} do {}", czech_date(licence.since), czech_date(until)),
            None => format!("od {}", czech_date(licence.since)),
        };
        let status = match licence.status.as_str() {
            "active" => "trvá",
            "suspended" => "přerušeno",
            "ended" => "zaniklo",
            other => other,
        };
        doc.field("Předmět podnikání", &licence.subject);
        doc.field("Druh, vznik, stav", format!("{}, {period}, {status}", licence.kind));
        doc.gap();
    }
}

fn driver_points(doc: &mut PdfDocument, d: &DriverPoints) {
    doc.heading("Bodové hodnocení");
    doc.field("Stav ke dni", czech_date(d.as_of));
    doc.field("Celkem bodů", format!("{} z {}", d.total, d.limit));
    let left = d.limit.saturating_sub(d.total);
    // Czech plural: 1 bod, 2–4 body, 0 and 5+ bodů.
    let (verb, noun) = match left {
        1 => ("zbývá", "bod"),
        2..=4 => ("zbývají", "body"),
        _ => ("zbývá", "bodů"),
    };
    doc.paragraph(format!(
        "Po dosažení {} bodů řidič pozbývá řidičské oprávnění na jeden rok (zákon č. 361/2000 Sb., § 123c). \
         Do limitu {verb} {left} {noun}.",
        d.limit
    ));
    doc.paragraph(format!(
        "Za každých {} po sobě jdoucích měsíců bez bodovaného přestupku se odečítají {} body.",
        d.reduction.after_months, d.reduction.points
    ));
    if let Some(next) = d.reduction.next_on {
        doc.field("Nejbližší odečet", format!("{} (pokud mezitím nedojde k přestupku)", czech_date(next)));
    }
    doc.heading("Zaznamenané přestupky");
    if d.offences.is_empty() {
        doc.paragraph("Žádný bodovaný přestupek není zaznamenán.");
    }
    for offence in &d.offences {
        doc.field(czech_date(offence.committed_on), format!("{} b. – {}", offence.points, offence.description));
    }
}

fn vehicles(doc: &mut PdfDocument, v: &Vehicles) {
    doc.heading("Vozidla, u nichž jste vlastníkem nebo provozovatelem");
    if v.items.is_empty() {
        doc.paragraph("V registru silničních vozidel nejste veden(a) jako vlastník ani provozovatel žádného vozidla.");
    }
    for vehicle in &v.items {
        doc.field("Vozidlo", format!("{} {} ({})", vehicle.make, vehicle.model, vehicle.category));
        doc.field("Registrační značka", &vehicle.registration_plate);
        doc.field("VIN", vehicle.vin.as_str());
        doc.field("První registrace", czech_date(vehicle.first_registered_on));
        doc.field("Vztah k vozidlu", vehicle.relation.czech_name());
        if let Some(until) = vehicle.inspection_valid_until {
            doc.field("Technická prohlídka platí do", czech_date(until));
        }
        doc.gap();
    }
}

fn properties(doc: &mut PdfDocument, p: &Properties) {
    doc.field("Stav ke dni", czech_time(p.as_of));
    doc.heading("Nemovitosti");
    if p.items.is_empty() {
        doc.paragraph("V katastru nemovitostí nejste zapsán(a) jako vlastník žádné nemovitosti.");
    }
    for item in &p.items {
        doc.field("Druh", &item.kind);
        doc.field("Katastrální území", &item.cadastral_area);
        doc.field("List vlastnictví", &item.title_deed);
        doc.field("Označení", &item.designation);
        doc.field("Podíl", &item.share);
        if let Some(area) = item.area_m2 {
            doc.field("Výměra", format!("{} m²", thousands(area)));
        }
        if let Some(address) = &item.address {
            doc.field("Adresa", address);
        }
        doc.gap();
    }
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;

    #[test]
    fn czech_formats() {
        assert_eq!(czech_date(date!(1985 - 03 - 14)), "14. 3. 1985");
        assert_eq!(czech_time(datetime!(2026-11-23 08:05 UTC)), "23. 11. 2026 9:05", "Prague's winter time");
        assert_eq!(thousands(1_234_567), "1 234 567");
        assert_eq!(thousands(450), "450");
    }
}
