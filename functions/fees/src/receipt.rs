//! The receipt of a paid fee (potvrzení o zaplacení místního poplatku), a PDF
//! made with `portal-pdf` from the payment record and its details only, so
//! the same payment always gives the same PDF.

use portal_pdf::PdfDocument;

use crate::payment::{PaymentDetails, PaymentRecord};

pub const PRODUCER: &str = "Portál občana (portal-fees)";
/// The banner on every page of a receipt for a simulated payment.
pub const SIMULATOR_BANNER: &str = "SIMULÁTOR — žádné peníze nebyly převedeny, nejde o skutečné potvrzení";

/// `1 500,00 Kč`.
pub fn crowns(hellers: i64) -> String {
    let whole = (hellers / 100).to_string();
    let mut grouped = String::new();
    for (i, c) in whole.chars().enumerate() {
        if i > 0 && (whole.len() - i).is_multiple_of(3) {
            grouped.push(' ');
        }
        grouped.push(c);
    }
    format!("{grouped},{:02} Kč", (hellers % 100).abs())
}

/// The receipt's title in Documents.
pub fn title(details: &PaymentDetails) -> String {
    format!("Potvrzení o zaplacení: {} {}", details.kind.czech_name().to_lowercase(), details.period)
}

fn czech_date(date: time::Date) -> String {
    format!("{}. {}. {}", date.day(), u8::from(date.month()), date.year())
}

/// The receipt as a PDF.
pub fn pdf(record: &PaymentRecord, details: &PaymentDetails) -> Result<Vec<u8>, portal_pdf::PdfError> {
    let paid_at = record.paid_at.unwrap_or(record.updated_at);
    let mut doc = PdfDocument::new("Potvrzení o zaplacení místního poplatku")
        .footer(format!("Platba {} · Portál občana", record.id));
    if record.simulated {
        doc = doc.banner(SIMULATOR_BANNER);
    }
    doc.heading("Potvrzení o zaplacení místního poplatku");
    doc.paragraph(format!(
        "Portál občana potvrzuje, že platba místního poplatku byla platební bránou přijata dne {}.",
        portal_pdf::czech_time(paid_at)
    ));
    doc.gap();
    doc.field("Poplatek", details.kind.czech_name());
    doc.field("Období", details.period.to_string());
    doc.field("Předmět poplatku", details.detail.clone());
    doc.field("Částka", crowns(details.amount_hellers));
    doc.field("Variabilní symbol", details.variable_symbol.clone());
    doc.field("Splatnost", czech_date(details.due_date));
    doc.gap();
    doc.field("Obec", format!("{} (kód obce {})", details.municipality.name, details.municipality.code));
    doc.field("Správce poplatku", details.municipality.office.clone());
    doc.field("Účet správce", details.municipality.iban.clone());
    doc.gap();
    doc.field("Způsob platby", "platební karta přes platební bránu");
    doc.field("Identifikátor platby", record.id.clone());
    doc.paragraph(
        "Platbu eviduje správce poplatku ve svém systému; toto potvrzení vydal Portál občana \
         na základě oznámení platební brány.",
    );
    doc.render(PRODUCER, paid_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_are_written_the_czech_way() {
        assert_eq!(crowns(150_000), "1 500,00 Kč");
        assert_eq!(crowns(20_050), "200,50 Kč");
        assert_eq!(crowns(123_456_789), "1 234 567,89 Kč");
    }
}
