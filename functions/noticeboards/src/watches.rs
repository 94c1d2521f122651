//! A citizen's watch: keywords, a case number (číslo jednací or spisová
//! značka), a place, optionally limited to some boards. Sealed under the
//! citizen's key; the harvester opens it only to match new items, and each
//! such read is in the citizen's access log.

use base64::Engine as _;
use portal_store::{Document, FilterOp, NewDocument, Query};
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::ofn::Item;
use crate::{COLLECTION, NoticeBoardError, NoticeBoards, WATCH_INDEX_PARTITION};

/// The document type of a watch in the citizen's partition.
pub const WATCH_TYPE: &str = "notice-board-watch";
/// The sealed field's name.
const FIELD: &str = "watch";

/// What the citizen watches for. Criteria given together must all hold; of
/// the keywords, one is enough.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Watch {
    pub keywords: Vec<String>,
    pub case_number: Option<String>,
    pub place: Option<String>,
    /// Board ids; empty = every board.
    pub boards: Vec<String>,
}

impl Watch {
    /// Whether `item` on `board` is what the watch looks for. Text compares
    /// without case and diacritics ("Uzavírka" finds "UZAVIRKA").
    pub fn matches(&self, board: &str, item: &Item) -> bool {
        if !self.boards.is_empty() && !self.boards.iter().any(|b| b == board) {
            return false;
        }
        let mut text = vec![item.title.as_str()];
        text.extend(item.description.as_deref());
        text.extend(item.agendas.iter().map(String::as_str));
        text.extend(item.documents.iter().filter_map(|d| d.name.as_deref()));
        let text = fold(&text.join("\n"));
        let keywords = self.keywords.is_empty() || self.keywords.iter().any(|k| text.contains(&fold(k)));
        let case = self.case_number.as_ref().is_none_or(|wanted| {
            let wanted = fold(wanted);
            [&item.case_number, &item.file_mark].into_iter().flatten().any(|n| fold(n) == wanted)
        });
        let place = self.place.as_ref().is_none_or(|p| text.contains(&fold(p)));
        keywords && case && place
    }
}

/// Lowercase without Czech diacritics, whitespace collapsed.
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut space = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        let c = match c {
            'á' => 'a',
            'č' => 'c',
            'ď' => 'd',
            'é' | 'ě' => 'e',
            'í' => 'i',
            'ň' => 'n',
            'ó' | 'ö' => 'o',
            'ř' => 'r',
            'š' => 's',
            'ť' => 't',
            'ú' | 'ů' | 'ü' => 'u',
            'ý' => 'y',
            'ž' => 'z',
            other => other,
        };
        if c.is_whitespace() {
            if !space && !out.is_empty() {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    out.trim_end().to_owned()
}

impl NoticeBoards {
    /// The sealed form of a watch.
    pub async fn seal_watch(&self, owner: &str, id: &str, watch: &Watch) -> Result<String, NoticeBoardError> {
        let plain = serde_json::to_vec(watch).map_err(|e| NoticeBoardError::Corrupt(e.to_string()))?;
        let sealed = self.sealer.encrypt(owner, id, FIELD, &plain).await?;
        Ok(base64::engine::general_purpose::STANDARD.encode(sealed))
    }

    /// Opens a stored watch document.
    pub async fn open_watch(&self, owner: &str, doc: &Document) -> Result<Watch, NoticeBoardError> {
        let sealed =
            doc.body["sealed"].as_str().ok_or_else(|| NoticeBoardError::Corrupt("watch without seal".into()))?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(sealed)
            .map_err(|_| NoticeBoardError::Corrupt("sealed watch is not base64".into()))?;
        let plain = self.sealer.decrypt(owner, &doc.id, FIELD, &bytes).await?;
        serde_json::from_slice(&plain).map_err(|e| NoticeBoardError::Corrupt(e.to_string()))
    }

    /// The citizen's watch documents, oldest first.
    pub async fn watch_documents(&self, owner: &str) -> Result<Vec<Document>, NoticeBoardError> {
        let query = Query::default()
            .filter("type", FilterOp::Eq, WATCH_TYPE)
            .order_by("createdAt", portal_store::Order::Ascending)
            .page_size(1000);
        Ok(self.documents.query(COLLECTION, owner, query).await?.items)
    }

    /// The index entry that lets the harvester find the watch.
    pub fn index_entry(&self, owner: &str, id: &str) -> NewDocument {
        let now = self.clock.now().format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
        NewDocument::new(
            WATCH_INDEX_PARTITION,
            id,
            json!({"type": "notice-board-watch-index", "owner": owner, "createdAt": now}),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(title: &str) -> Item {
        Item {
            identity: "i".into(),
            iri: None,
            url: None,
            title: title.into(),
            description: Some("Silnice II/353 u Žďáru".into()),
            case_number: Some("MZR/2026/4711".into()),
            file_mark: None,
            posted_on: None,
            relevant_until: None,
            agendas: vec![],
            documents: vec![],
        }
    }

    #[test]
    fn watches_match_without_case_and_diacritics_and_all_criteria_hold() {
        let w = |keywords: &[&str], case: Option<&str>, place: Option<&str>| Watch {
            keywords: keywords.iter().map(|k| (*k).to_owned()).collect(),
            case_number: case.map(str::to_owned),
            place: place.map(str::to_owned),
            boards: vec![],
        };
        let i = item("Oznámení o UZAVIRCE a uzavírka silnice");
        assert!(w(&["uzavírka"], None, None).matches("b", &i));
        assert!(w(&["Uzavirka", "jiné"], None, None).matches("b", &i));
        assert!(!w(&["kácení"], None, None).matches("b", &i));
        assert!(w(&[], Some("mzr/2026/4711"), None).matches("b", &i));
        assert!(!w(&["uzavírka"], Some("MZR/2026/1"), None).matches("b", &i));
        assert!(w(&["uzavírka"], None, Some("Žďáru")).matches("b", &i));
        assert!(!w(&["uzavírka"], None, Some("Brno")).matches("b", &i));
        let mut only = w(&["uzavírka"], None, None);
        only.boards = vec!["other".into()];
        assert!(!only.matches("b", &i));
        assert_eq!(fold("  Uzavírka   SILNICE "), "uzavirka silnice");
    }
}
