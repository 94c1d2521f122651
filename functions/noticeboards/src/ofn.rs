//! The OFN "Úřední deska" format (otevřená formální norma, context
//! `https://ofn.gov.cz/úřední-desky/2021-07-20/kontexty/úřední-deska.jsonld`):
//! a board's JSON-LD read into items, its structure checked against the
//! vocabulary as the domain reference (§7.1) lists it. The official JSON
//! Schema could not be sourced offline; these are the rules:
//!
//! - the board: an object with `@context` naming the OFN context, `typ`
//!   "Úřední deska" and `informace`, an array (`provozovatel.ičo`, `iri`,
//!   `stránka` read when present);
//! - an item: `typ` including "Informace na úřední desce", an `iri` or a
//!   `url` (what identifies it across harvests), `název.cs` (a non-empty
//!   title); when present, `popis.cs`, `číslo_jednací` and `spisová_značka`
//!   are strings, `vyvěšení` and `relevantní_do` are "Časový okamžik" objects
//!   with `datum` (YYYY-MM-DD), `datum_a_čas` (RFC 3339 or a local time) or
//!   (for `relevantní_do`) `nespecifikovaný: true`, `agenda` is an array of
//!   objects with `název.cs`, `dokument` an array of objects with a `url`.
//!
//! A board that breaks a board rule is rejected whole; an item that breaks an
//! item rule is skipped and reported, and the rest of the board is kept.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The type every item carries.
pub const ITEM_TYPE: &str = "Informace na úřední desce";
/// The board's type.
pub const BOARD_TYPE: &str = "Úřední deska";

/// One item as the portal keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Item {
    /// What identifies the item: its `iri`, else its `url`.
    pub identity: String,
    pub iri: Option<String>,
    pub url: Option<String>,
    pub title: String,
    pub description: Option<String>,
    pub case_number: Option<String>,
    pub file_mark: Option<String>,
    /// YYYY-MM-DD.
    pub posted_on: Option<String>,
    /// YYYY-MM-DD; `None` when unspecified.
    pub relevant_until: Option<String>,
    pub agendas: Vec<String>,
    pub documents: Vec<Attachment>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    pub name: Option<String>,
    pub url: String,
}

/// A board read from its feed.
#[derive(Debug, Clone, PartialEq)]
pub struct Board {
    pub iri: Option<String>,
    pub page: Option<String>,
    pub operator_ico: Option<String>,
    /// The items that keep the rules, with the raw JSON each came from.
    pub items: Vec<(Item, Value)>,
    /// Identities of items skipped for a broken rule (they are not "removed").
    pub skipped_identities: Vec<String>,
    /// What was wrong with skipped items: `informace[3]: …`.
    pub problems: Vec<String>,
}

/// Why a feed is rejected whole.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FeedRejected {
    #[error("not JSON: {0}")]
    NotJson(String),
    #[error("not an OFN notice board: {0}")]
    Structure(String),
}

/// Reads and checks a feed.
pub fn parse(bytes: &[u8]) -> Result<Board, FeedRejected> {
    let value: Value = serde_json::from_slice(bytes).map_err(|e| FeedRejected::NotJson(e.to_string()))?;
    let Some(board) = value.as_object() else {
        return Err(FeedRejected::Structure("the document is not an object".into()));
    };
    let context_ok = match board.get("@context") {
        Some(Value::String(c)) => names_ofn_context(c),
        Some(Value::Array(list)) => list.iter().any(|c| c.as_str().is_some_and(names_ofn_context)),
        _ => false,
    };
    if !context_ok {
        return Err(FeedRejected::Structure("@context does not name the OFN úřední-desky context".into()));
    }
    if !has_type(board.get("typ"), BOARD_TYPE) {
        return Err(FeedRejected::Structure(format!("typ is not \"{BOARD_TYPE}\"")));
    }
    let Some(items) = board.get("informace").and_then(Value::as_array) else {
        return Err(FeedRejected::Structure("informace is missing or not an array".into()));
    };
    let operator_ico = match board.get("provozovatel") {
        None => None,
        Some(Value::Object(o)) => o.get("ičo").and_then(Value::as_str).map(str::to_owned),
        Some(_) => return Err(FeedRejected::Structure("provozovatel is not an object".into())),
    };
    let mut parsed = Board {
        iri: string(board.get("iri")),
        page: string(board.get("stránka")),
        operator_ico,
        items: Vec::new(),
        skipped_identities: Vec::new(),
        problems: Vec::new(),
    };
    for (index, raw) in items.iter().enumerate() {
        match item(raw) {
            Ok(item) => parsed.items.push((item, raw.clone())),
            Err(problem) => {
                if let Some(identity) = identity(raw) {
                    parsed.skipped_identities.push(identity);
                }
                parsed.problems.push(format!("informace[{index}]: {problem}"));
            }
        }
    }
    Ok(parsed)
}

fn names_ofn_context(context: &str) -> bool {
    context.starts_with("https://ofn.gov.cz/")
        && (context.contains("úřední-desky") || context.contains("%C3%BA%C5%99edn%C3%AD-desky"))
}

fn has_type(value: Option<&Value>, wanted: &str) -> bool {
    match value {
        Some(Value::String(t)) => t == wanted,
        Some(Value::Array(list)) => list.iter().any(|t| t.as_str() == Some(wanted)),
        _ => false,
    }
}

fn string(value: Option<&Value>) -> Option<String> {
    value.and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned)
}

fn identity(raw: &Value) -> Option<String> {
    string(raw.get("iri")).or_else(|| string(raw.get("url")))
}

/// `{"cs": "…"}` → the Czech text.
fn czech(value: Option<&Value>, field: &str) -> Result<Option<String>, String> {
    match value {
        None => Ok(None),
        Some(Value::Object(o)) => match o.get("cs") {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
            Some(_) => Err(format!("{field}.cs is not a string")),
        },
        Some(_) => Err(format!("{field} is not an object with cs")),
    }
}

fn optional_string(value: Option<&Value>, field: &str) -> Result<Option<String>, String> {
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_owned()).filter(|s| !s.is_empty())),
        Some(_) => Err(format!("{field} is not a string")),
    }
}

/// A "Časový okamžik": the day, `None` when unspecified (allowed only where
/// `unspecified_ok`).
fn instant(value: Option<&Value>, field: &str, unspecified_ok: bool) -> Result<Option<String>, String> {
    let Some(value) = value else { return Ok(None) };
    let Some(o) = value.as_object() else { return Err(format!("{field} is not an object")) };
    if let Some(t) = o.get("typ")
        && !has_type(Some(t), "Časový okamžik")
    {
        return Err(format!("{field}.typ is not \"Časový okamžik\""));
    }
    if let Some(day) = o.get("datum") {
        let day = day.as_str().filter(|d| is_day(d)).ok_or_else(|| format!("{field}.datum is not YYYY-MM-DD"))?;
        return Ok(Some(day.to_owned()));
    }
    if let Some(time) = o.get("datum_a_čas") {
        let time = time
            .as_str()
            .filter(|t| t.len() >= 10 && is_day(&t[..10]) && t.as_bytes().get(10) == Some(&b'T'))
            .ok_or_else(|| format!("{field}.datum_a_čas is not a date and time"))?;
        return Ok(Some(time[..10].to_owned()));
    }
    if unspecified_ok && o.get("nespecifikovaný") == Some(&Value::Bool(true)) {
        return Ok(None);
    }
    Err(format!("{field} has neither datum nor datum_a_čas"))
}

fn is_day(text: &str) -> bool {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    text.len() == 10 && time::Date::parse(text, &format).is_ok()
}

/// One item checked.
fn item(raw: &Value) -> Result<Item, String> {
    let Some(o) = raw.as_object() else { return Err("not an object".into()) };
    if !has_type(o.get("typ"), ITEM_TYPE) {
        return Err(format!("typ does not include \"{ITEM_TYPE}\""));
    }
    let iri = optional_string(o.get("iri"), "iri")?;
    let url = optional_string(o.get("url"), "url")?;
    let identity = iri.clone().or_else(|| url.clone()).ok_or("neither iri nor url")?;
    let title = czech(o.get("název"), "název")?.ok_or("název.cs is missing")?;
    let mut agendas = Vec::new();
    match o.get("agenda") {
        None => {}
        Some(Value::Array(list)) => {
            for agenda in list {
                if let Some(name) = czech(agenda.get("název"), "agenda.název")? {
                    agendas.push(name);
                }
            }
        }
        Some(_) => return Err("agenda is not an array".into()),
    }
    let mut documents = Vec::new();
    match o.get("dokument") {
        None => {}
        Some(Value::Array(list)) => {
            for document in list {
                let url = string(document.get("url")).ok_or("a dokument has no url")?;
                documents.push(Attachment { name: czech(document.get("název"), "dokument.název")?, url });
            }
        }
        Some(_) => return Err("dokument is not an array".into()),
    }
    Ok(Item {
        identity,
        iri,
        url,
        title,
        description: czech(o.get("popis"), "popis")?,
        case_number: optional_string(o.get("číslo_jednací"), "číslo_jednací")?,
        file_mark: optional_string(o.get("spisová_značka"), "spisová_značka")?,
        posted_on: instant(o.get("vyvěšení"), "vyvěšení", false)?,
        relevant_until: instant(o.get("relevantní_do"), "relevantní_do", true)?,
        agendas,
        documents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_mv_test_feed_reads() {
        let board = parse(include_bytes!("../fixtures/mv-opendata-test-board.jsonld")).expect("board");
        assert_eq!(board.operator_ico.as_deref(), Some("00007064"));
        assert_eq!(board.items.len(), 1);
        let item = &board.items[0].0;
        assert_eq!(item.title, "Informace k nemocenskému pojištění");
        assert_eq!(item.case_number.as_deref(), Some("PPR-3660-1/ČJ-2023-990764"));
        assert_eq!(item.posted_on.as_deref(), Some("2023-01-20"));
        assert_eq!(item.relevant_until, None);
        assert_eq!(item.documents.len(), 1);
        assert!(board.problems.is_empty());
    }

    #[test]
    fn board_rules_reject_and_item_rules_skip() {
        assert!(matches!(parse(b"{\"typ\": "), Err(FeedRejected::NotJson(_))));
        assert!(matches!(parse(b"[]"), Err(FeedRejected::Structure(_))));
        let no_context = r#"{"typ": "Úřední deska", "informace": []}"#.as_bytes();
        assert!(matches!(parse(no_context), Err(FeedRejected::Structure(_))));
        let feed = serde_json::json!({
            "@context": "https://ofn.gov.cz/úřední-desky/2021-07-20/kontexty/úřední-deska.jsonld",
            "typ": "Úřední deska",
            "informace": [
                {"typ": ["Informace na úřední desce"], "iri": "https://x/1", "název": {"cs": "Dobrá"}},
                {"typ": ["Informace na úřední desce"], "iri": "https://x/2"},
                {"typ": ["Informace na úřední desce"], "iri": "https://x/3", "název": {"cs": "Špatné datum"},
                 "vyvěšení": {"typ": "Časový okamžik", "datum": "20. 1. 2023"}},
                {"typ": ["Něco jiného"], "url": "https://x/4", "název": {"cs": "Jiný typ"}}
            ]
        });
        let board = parse(feed.to_string().as_bytes()).expect("board");
        assert_eq!(board.items.len(), 1);
        assert_eq!(board.skipped_identities, ["https://x/2", "https://x/3", "https://x/4"]);
        assert_eq!(board.problems.len(), 3);
        assert!(board.problems[1].contains("vyvěšení.datum"), "{:?}", board.problems);
    }
}
