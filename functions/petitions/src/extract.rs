//! The extract of signatures (výpis podpisů, §6a(4)): every standing signer
//! with the §4(1) data (name, surname, residence) and the §4(2) data of the
//! petition (its subject, the addressee, the petition committee, the dates
//! and the count). Only the creator gets it, once the petition is closed; it
//! is the only place the signers' sealed details are opened.
//!
//! **CSV**: UTF-8 with a byte-order mark (so Excel in a Czech locale reads the
//! diacritics), fields separated by `;` (the list separator of Czech Windows
//! locales, where `,` is the decimal mark), CRLF line ends and RFC 4180
//! quoting. Every record has four fields: first the petition's data as
//! `label;value;;`, an empty record, then the header
//! `Pořadí;Jméno;Příjmení;Bydliště` and one record per signer.
//!
//! **PDF**: the petition's full text and data, then the numbered list of
//! signers, written with the shared `portal_pdf` (Helvetica, Czech glyphs).

use base64::Engine as _;
use portal_pdf::PdfDocument;
use portal_store::{FilterOp, Query};
use time::OffsetDateTime;

use crate::model::{COLLECTION, CommitteeMember, Petition, PetitionId, czech_date, prague_date};
use crate::service::PetitionService;
use crate::signing::SIGNER_FIELD;
use crate::{ServiceError, Signer, corrupt};

/// The sealed committee's field (owner = creator, document = `petition-<id>`).
pub const COMMITTEE_FIELD: &str = "committee";

/// Everything an extract shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extract {
    pub petition: Petition,
    pub committee: Vec<CommitteeMember>,
    /// Sorted by surname, then name.
    pub signers: Vec<Signer>,
}

impl PetitionService {
    /// The committee, opened with the creator's key.
    pub async fn committee(&self, petition: &Petition) -> Result<Vec<CommitteeMember>, ServiceError> {
        let Some(sealed) = &petition.committee_sealed else { return Ok(Vec::new()) };
        let sealed = base64::engine::general_purpose::STANDARD.decode(sealed).map_err(corrupt)?;
        let id = PetitionId::parse(&petition.id).ok_or_else(|| corrupt("bad petition id"))?;
        let plain = self.petitions.sealer.decrypt(&petition.creator, &id.partition(), COMMITTEE_FIELD, &sealed).await?;
        serde_json::from_slice(&plain).map_err(corrupt)
    }

    /// Seals the committee with the creator's key.
    pub async fn seal_committee(
        &self,
        creator: &str,
        id: &PetitionId,
        committee: &[CommitteeMember],
    ) -> Result<Option<String>, ServiceError> {
        if committee.is_empty() {
            return Ok(None);
        }
        let plain = serde_json::to_vec(committee).map_err(corrupt)?;
        let sealed = self.petitions.sealer.encrypt(creator, &id.partition(), COMMITTEE_FIELD, &plain).await?;
        Ok(Some(base64::engine::general_purpose::STANDARD.encode(sealed)))
    }

    /// Opens every standing signature of the petition.
    pub async fn extract(&self, petition: &Petition) -> Result<Extract, ServiceError> {
        let id = PetitionId::parse(&petition.id).ok_or_else(|| corrupt("bad petition id"))?;
        let partition = id.partition();
        let mut signers = Vec::new();
        let mut continuation = None;
        loop {
            let query = Query::default()
                .filter("type", FilterOp::Eq, "signature")
                .page_size(Query::MAX_PAGE_SIZE)
                .after(continuation.take());
            let page = self.petitions.documents.query(COLLECTION, &partition, query).await?;
            for doc in &page.items {
                let signer_id = doc.id.strip_prefix("sig-").ok_or_else(|| corrupt("a signature with a bad id"))?;
                let sealed = doc.body["signer"].as_str().ok_or_else(|| corrupt("a signature without details"))?;
                let sealed = base64::engine::general_purpose::STANDARD.decode(sealed).map_err(corrupt)?;
                let plain = self.petitions.sealer.decrypt(&partition, signer_id, SIGNER_FIELD, &sealed).await?;
                signers.push(serde_json::from_slice::<Signer>(&plain).map_err(corrupt)?);
            }
            match page.continuation {
                Some(next) => continuation = Some(next),
                None => break,
            }
        }
        signers
            .sort_by_cached_key(|s| (s.family_name.to_lowercase(), s.given_name.to_lowercase(), s.residence.clone()));
        Ok(Extract { petition: petition.clone(), committee: self.committee(petition).await?, signers })
    }
}

fn date_of(at: Option<OffsetDateTime>) -> String {
    at.map(|at| czech_date(prague_date(at))).unwrap_or_default()
}

fn committee_text(committee: &[CommitteeMember]) -> String {
    committee.iter().map(|m| format!("{}, {}", m.name, m.residence)).collect::<Vec<_>>().join("; ")
}

/// The §4(2) data, label and value.
fn header(extract: &Extract) -> Vec<(&'static str, String)> {
    let p = &extract.petition;
    vec![
        ("Petice", p.title.clone()),
        ("Adresát", format!("{} (datová schránka {})", p.addressee.name, p.addressee.box_id)),
        ("Petiční výbor", committee_text(&extract.committee)),
        ("Zveřejněna", date_of(p.published_at)),
        ("Sběr podpisů ukončen", date_of(p.closed_at)),
        ("Počet podpisů", extract.signers.len().to_string()),
        ("Identifikátor petice", p.id.clone()),
    ]
}

fn csv_field(value: &str) -> String {
    if value.contains([';', '"', '\r', '\n']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

fn csv_record(out: &mut String, fields: [&str; 4]) {
    let line: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    out.push_str(&line.join(";"));
    out.push_str("\r\n");
}

/// The CSV extract (see the module documentation for its shape).
pub fn csv(extract: &Extract) -> Vec<u8> {
    let mut out = String::from("\u{feff}");
    for (label, value) in header(extract) {
        csv_record(&mut out, [label, &value, "", ""]);
    }
    csv_record(&mut out, ["", "", "", ""]);
    csv_record(&mut out, ["Pořadí", "Jméno", "Příjmení", "Bydliště"]);
    for (i, s) in extract.signers.iter().enumerate() {
        csv_record(&mut out, [&(i + 1).to_string(), &s.given_name, &s.family_name, &s.residence]);
    }
    out.into_bytes()
}

/// The PDF: the petition and the list of its signers.
pub fn pdf(extract: &Extract, created: OffsetDateTime) -> Result<Vec<u8>, portal_pdf::PdfError> {
    let p = &extract.petition;
    let mut doc = PdfDocument::new("Petice a výpis podpisů")
        .footer(format!("ePetice, Portál občana · petice {} · výpis podle § 6a zákona č. 85/1990 Sb.", p.id));
    doc.heading(p.title.clone());
    for (label, value) in header(extract) {
        if label != "Petice" {
            doc.field(label, value);
        }
    }
    doc.field("Výpis vyhotoven", portal_pdf::czech_time(created));
    doc.heading("Shrnutí");
    doc.paragraph(p.summary.clone());
    doc.heading("Text petice");
    for paragraph in p.text.split('\n').map(str::trim_end).filter(|l| !l.is_empty()) {
        doc.paragraph(paragraph);
    }
    if !extract.committee.is_empty() {
        doc.heading("Petiční výbor");
        for member in &extract.committee {
            doc.paragraph(format!("{}, bydliště {}", member.name, member.residence));
        }
    }
    doc.heading("Podpisy (jméno, příjmení, bydliště; § 4 odst. 1 zákona č. 85/1990 Sb.)");
    if extract.signers.is_empty() {
        doc.paragraph("Petici nikdo nepodepsal.");
    }
    for (i, s) in extract.signers.iter().enumerate() {
        doc.paragraph(format!("{}. {} {}, {}", i + 1, s.given_name, s.family_name, s.residence));
    }
    doc.render("Portál občana – ePetice", created)
}

#[cfg(test)]
mod tests {
    use time::macros::{date, datetime};

    use super::*;
    use crate::model::{Addressee, State};

    fn extract() -> Extract {
        Extract {
            petition: Petition {
                kind: "petition".into(),
                id: "0123456789abcdef0123456789abcdef".into(),
                state: State::Closed,
                creator: "c".into(),
                title: "Přechod; \"bezpečný\"".into(),
                summary: "s".into(),
                text: "t".into(),
                addressee: Addressee { name: "Úřad".into(), box_id: "simmuhl".into() },
                committee_sealed: None,
                ends_on: date!(2026 - 12 - 31),
                created_at: datetime!(2026-11-23 08:00 UTC),
                published_at: Some(datetime!(2026-11-23 08:00 UTC)),
                closed_at: Some(datetime!(2026-11-30 08:00 UTC)),
                closed_by: Some("creator".into()),
                handed_over_at: None,
                blocked_at: None,
                block_reason: None,
                shards: 16,
                senate: false,
                senate_threshold_reached_at: None,
                flagged_at: None,
                attachments: Vec::new(),
                hand_over: None,
            },
            committee: vec![],
            signers: vec![Signer {
                given_name: "Petr".into(),
                family_name: "Svoboda".into(),
                residence: "Dlouhá 1\nPraha".into(),
            }],
        }
    }

    #[test]
    fn csv_is_excel_friendly_rfc_4180() {
        let text = String::from_utf8(csv(&extract())).expect("utf-8");
        assert!(text.starts_with('\u{feff}'), "a byte-order mark");
        assert!(text.contains("Petice;\"Přechod; \"\"bezpečný\"\"\";;\r\n"), "{text}");
        assert!(
            text.contains("\r\nPořadí;Jméno;Příjmení;Bydliště\r\n1;Petr;Svoboda;\"Dlouhá 1\nPraha\"\r\n"),
            "{text}"
        );
    }
}
