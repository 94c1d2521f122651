//! Tile definitions (dlaždice): what a tile says, where it leads, who sees it
//! and which summary source fills it. The seed's tiles and the 36 city
//! portals are data files in the crate (`data/tiles.json`,
//! `data/cities.json`); officials change or add tiles in the modeller, whose
//! published versions override these ([`crate::modeller`]).
//!
//! A definition is checked in two steps ([`check`]): the JSON Schema
//! `data/tile-definition.schema.json` (draft 2020-12, with `boon`), then the
//! rules a schema cannot say: the URL's host is on the allow-list of portal
//! domains, an uploaded icon is a real PNG or SVG of an allowed size, the
//! summary source exists, the age range is not empty.

use std::sync::OnceLock;

use base64::Engine as _;
use portal_host::FieldViolation;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use time::Date;
use utoipa::ToSchema;

const SEED_TILES: &str = include_str!("../data/tiles.json");
const SEED_CITIES: &str = include_str!("../data/cities.json");
/// The JSON Schema of a definition, served to officials as it is.
pub const SCHEMA: &str = include_str!("../data/tile-definition.schema.json");

/// Czech and English text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Texts {
    pub cs: String,
    pub en: String,
}

/// Who sees a tile. Every rule given must hold; a rule on a fact the portal
/// does not know about the citizen does not hold (the tile stays hidden).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Visibility {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_age: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u32>,
    /// RÚIAN municipality codes (kód obce) of the citizen's residence.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub municipalities: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entrepreneur: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_data_box: Option<bool>,
}

/// The live summary behind a tile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SourceRef {
    /// The summary source (`PORTAL_TILE_SOURCES` names them).
    pub id: String,
    /// What the access log says the citizen's data was read for
    /// ("Finanční správa: stav daňového účtu").
    pub purpose: String,
}

/// One tile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schema(example = json!({"id": "financni-sprava", "title": {"cs": "Finanční správa", "en": "Financial Administration"},
    "description": {"cs": "Stav daňového účtu.", "en": "Tax account balance."}, "category": "dane", "icon": "tax",
    "url": "https://mojedane.gov.cz/", "visibility": {"minAge": 18},
    "source": {"id": "financni-sprava", "purpose": "Finanční správa: stav daňového účtu"}}))]
pub struct TileDefinition {
    pub id: String,
    pub title: Texts,
    pub description: Texts,
    /// `socialni-zabezpeceni`, `dane`, `prace`, `zdravi`, `doprava`, `finance`, `obec`, `ostatni`.
    pub category: String,
    /// An icon name of the portal's set, or a `data:` URI of a PNG or SVG.
    pub icon: String,
    /// The portal, reached through the citizen's NIA single sign-on.
    pub url: String,
    pub visibility: Visibility,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceRef>,
}

/// What the portal knows about a citizen that visibility rules ask about,
/// from the composition's [`crate::FactsSource`]. `None`: not known.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CitizenFacts {
    pub date_of_birth: Option<Date>,
    /// RÚIAN code of the municipality of residence.
    pub municipality: Option<String>,
    pub entrepreneur: Option<bool>,
    pub has_data_box: Option<bool>,
}

/// Full years between `born` and `today`.
pub fn age_on(born: Date, today: Date) -> u32 {
    let mut years = today.year() - born.year();
    if (today.month() as u8, today.day()) < (born.month() as u8, born.day()) {
        years -= 1;
    }
    u32::try_from(years).unwrap_or(0)
}

impl Visibility {
    /// Whether a citizen with these facts sees the tile today.
    pub fn admits(&self, facts: &CitizenFacts, today: Date) -> bool {
        let age = facts.date_of_birth.map(|born| age_on(born, today));
        let age_ok = match (self.min_age, self.max_age) {
            (None, None) => true,
            (min, max) => age.is_some_and(|age| min.is_none_or(|m| age >= m) && max.is_none_or(|m| age <= m)),
        };
        let municipality_ok = self
            .municipalities
            .as_ref()
            .is_none_or(|codes| facts.municipality.as_ref().is_some_and(|code| codes.iter().any(|c| c == code)));
        let flag = |rule: Option<bool>, fact: Option<bool>| rule.is_none_or(|wanted| fact == Some(wanted));
        age_ok
            && municipality_ok
            && flag(self.entrepreneur, facts.entrepreneur)
            && flag(self.has_data_box, facts.has_data_box)
    }
}

// ---------------------------------------------------------------- seed data

#[derive(Debug, Deserialize)]
struct SeedFile {
    tiles: Vec<TileDefinition>,
}

/// One city portal of `data/cities.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct City {
    pub name: String,
    /// RÚIAN code (kód obce).
    pub municipality_code: String,
    pub district: String,
    /// `None` until a public source names the portal.
    pub url: Option<String>,
    /// Where the URL comes from, or `to confirm`.
    pub url_source: String,
}

#[derive(Debug, Deserialize)]
struct CitiesFile {
    cities: Vec<City>,
}

/// The seed's tiles as the data file has them.
pub fn seed_tiles() -> &'static [TileDefinition] {
    static TILES: OnceLock<Vec<TileDefinition>> = OnceLock::new();
    TILES.get_or_init(|| match serde_json::from_str::<SeedFile>(SEED_TILES) {
        Ok(file) => file.tiles,
        Err(error) => {
            // A test parses and checks the file; a broken build shows no seed tiles rather than panic.
            tracing::error!(%error, "data/tiles.json does not parse");
            Vec::new()
        }
    })
}

/// The 36 city portals.
pub fn cities() -> &'static [City] {
    static CITIES: OnceLock<Vec<City>> = OnceLock::new();
    CITIES.get_or_init(|| match serde_json::from_str::<CitiesFile>(SEED_CITIES) {
        Ok(file) => file.cities,
        Err(error) => {
            tracing::error!(%error, "data/cities.json does not parse");
            Vec::new()
        }
    })
}

/// The tile id of a city portal.
pub fn city_tile_id(city: &City) -> String {
    format!("mesto-{}", city.municipality_code)
}

/// A city portal as a tile: only a city whose portal URL is sourced is a
/// tile a citizen can see; the others wait in the modeller (`to confirm`).
pub fn city_tile(city: &City) -> Option<TileDefinition> {
    let url = city.url.clone()?;
    Some(TileDefinition {
        id: city_tile_id(city),
        title: Texts { cs: format!("Portál města {}", city.name), en: format!("{} city portal", city.name) },
        description: Texts {
            cs: format!("Služby města {} pro jeho obyvatele.", city.name),
            en: format!("The services of {} for its residents.", city.name),
        },
        category: "obec".into(),
        icon: "city".into(),
        url,
        visibility: Visibility { municipalities: Some(vec![city.municipality_code.clone()]), ..Visibility::default() },
        source: None,
    })
}

/// Every built-in tile: the seed's, then the city portals with a sourced URL.
pub fn built_in() -> &'static [TileDefinition] {
    static ALL: OnceLock<Vec<TileDefinition>> = OnceLock::new();
    ALL.get_or_init(|| seed_tiles().iter().cloned().chain(cities().iter().filter_map(city_tile)).collect())
}

/// The RÚIAN code of the municipality named in an address the way the
/// population register writes it (`…, 602 00 Brno`, `…, 100 00 Praha 10`),
/// when it is Prague or one of the 36 cities; `None` otherwise.
pub fn municipality_of_address(address: &str) -> Option<String> {
    let last = address.rsplit(',').next()?.trim();
    // Drop the postcode (`602 00`), then a Prague district number (`Praha 10`).
    let town: String = last.trim_start_matches(|c: char| c.is_ascii_digit() || c == ' ').to_owned();
    let town = town.trim_end_matches(|c: char| c.is_ascii_digit() || c == ' ').trim();
    if town == "Praha" {
        return Some(PRAGUE.to_owned());
    }
    cities().iter().find(|c| c.name == town).map(|c| c.municipality_code.clone())
}

/// RÚIAN code of the capital city of Prague.
pub const PRAGUE: &str = "554782";

// ---------------------------------------------------------------- checking

/// The portal domains a tile may lead to (a host equal to one, or under it).
pub const DEFAULT_ALLOWED_DOMAINS: &[&str] = &[
    "gov.cz",
    "cssz.cz",
    "mfcr.cz",
    "uradprace.cz",
    "mpsv.cz",
    "epreskripce.cz",
    "sukl.cz",
    "uzis.cz",
    "celnisprava.cz",
    "vzp.cz",
    "ozp.cz",
    "portalprazana.cz",
    "praha.eu",
    "caa.cz",
    "sporicidluhopisycr.cz",
    "portaldopravy.cz",
    "portalobcanaznojmo.cz",
];

/// Icon names of the portal's own set.
pub const ICON_NAMES: &[&str] =
    &["pension", "tax", "work", "health", "insurance", "city", "drone", "finance", "car", "document", "other"];

/// The largest uploaded icon, decoded.
pub const MAX_ICON_BYTES: usize = 16 * 1024;
/// A PNG icon is square, between these many pixels a side.
pub const ICON_PIXELS: (u32, u32) = (32, 512);

struct CompiledSchema {
    schemas: boon::Schemas,
    index: boon::SchemaIndex,
}

fn compiled() -> Option<&'static CompiledSchema> {
    static SCHEMA_CELL: OnceLock<Option<CompiledSchema>> = OnceLock::new();
    SCHEMA_CELL
        .get_or_init(|| {
            let value: Value = serde_json::from_str(SCHEMA).ok()?;
            let mut schemas = boon::Schemas::new();
            let mut compiler = boon::Compiler::new();
            compiler.add_resource("urn:portal:tile-definition", value).ok()?;
            let index = compiler.compile("urn:portal:tile-definition", &mut schemas).ok()?;
            Some(CompiledSchema { schemas, index })
        })
        .as_ref()
}

/// The leaf errors of a schema validation, as field violations (the field is
/// the JSON pointer of the value, `body` for the whole).
fn schema_violations(value: &Value) -> Vec<FieldViolation> {
    let Some(schema) = compiled() else {
        return vec![FieldViolation::new("body", "the definition schema is unavailable")];
    };
    let Err(error) = schema.schemas.validate(value, schema.index) else { return Vec::new() };
    let mut found = Vec::new();
    let mut stack = vec![&error];
    while let Some(error) = stack.pop() {
        if error.causes.is_empty() {
            let location = error.instance_location.to_string();
            let field = if location.is_empty() { "body".to_owned() } else { pointer_to_field(&location) };
            found.push(FieldViolation::new(field, error.kind.to_string()));
        } else {
            stack.extend(error.causes.iter());
        }
    }
    found.sort_by(|a, b| a.field.cmp(&b.field));
    found
}

/// `/title/cs` → `title.cs`, `/visibility/municipalities/0` → `visibility.municipalities[0]`.
fn pointer_to_field(pointer: &str) -> String {
    let mut field = String::new();
    for token in pointer.trim_start_matches('/').split('/') {
        if token.chars().all(|c| c.is_ascii_digit()) && !token.is_empty() {
            field.push_str(&format!("[{token}]"));
        } else {
            if !field.is_empty() {
                field.push('.');
            }
            field.push_str(&token.replace("~1", "/").replace("~0", "~"));
        }
    }
    field
}

/// What a definition is checked against besides its schema.
#[derive(Debug, Clone)]
pub struct CheckRules<'a> {
    pub allowed_domains: &'a [String],
    /// The summary sources this portal is configured with.
    pub sources: &'a [String],
}

/// Checks a definition: the schema, then the allow-list of domains, the
/// icon, the summary source and the age range. Every broken rule at once.
pub fn check(value: &Value, rules: &CheckRules<'_>) -> Result<TileDefinition, Vec<FieldViolation>> {
    let mut errors = schema_violations(value);
    if !errors.is_empty() {
        return Err(errors);
    }
    let definition: TileDefinition = match serde_json::from_value(value.clone()) {
        Ok(definition) => definition,
        Err(error) => return Err(vec![FieldViolation::new("body", error.to_string())]),
    };
    if let Some(rule) = url_rule(&definition.url, rules.allowed_domains) {
        errors.push(FieldViolation::new("url", rule));
    }
    if let Some(rule) = icon_rule(&definition.icon) {
        errors.push(FieldViolation::new("icon", rule));
    }
    if let Some(source) = &definition.source
        && !rules.sources.iter().any(|s| s == &source.id)
    {
        errors.push(FieldViolation::new(
            "source.id",
            format!("one of the configured summary sources: {}", rules.sources.join(", ")),
        ));
    }
    if let (Some(min), Some(max)) = (definition.visibility.min_age, definition.visibility.max_age)
        && min > max
    {
        errors.push(FieldViolation::new("visibility.maxAge", "not below minAge"));
    }
    if errors.is_empty() { Ok(definition) } else { Err(errors) }
}

/// Why a tile's URL is refused, if it is.
pub fn url_rule(text: &str, allowed: &[String]) -> Option<String> {
    let Ok(url) = url::Url::parse(text) else { return Some("an absolute https:// URL".into()) };
    if url.scheme() != "https" {
        return Some("https only".into());
    }
    if !url.username().is_empty() || url.password().is_some() || url.port().is_some() {
        return Some("no credentials or port in the URL".into());
    }
    let Some(url::Host::Domain(host)) = url.host() else { return Some("a domain name, not an address".into()) };
    let host = host.to_ascii_lowercase();
    let listed = allowed.iter().any(|domain| host == *domain || host.ends_with(&format!(".{domain}")));
    if listed { None } else { Some(format!("a host under one of the portal domains: {}", allowed.join(", "))) }
}

/// Why an icon is refused, if it is: a name of the set, or a PNG (square,
/// 32–512 px, from its IHDR) or an SVG (an `<svg>` root, no scripts, no
/// external references), at most 16 KiB decoded.
pub fn icon_rule(icon: &str) -> Option<String> {
    if ICON_NAMES.contains(&icon) {
        return None;
    }
    let (media_type, data) = if let Some(rest) = icon.strip_prefix("data:image/png;base64,") {
        ("png", rest)
    } else if let Some(rest) = icon.strip_prefix("data:image/svg+xml;base64,") {
        ("svg", rest)
    } else {
        return Some(format!("an icon name ({}) or a data: URI of a PNG or SVG", ICON_NAMES.join(", ")));
    };
    let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(data) else {
        return Some("base64 of the image".into());
    };
    if bytes.len() > MAX_ICON_BYTES {
        return Some(format!("at most {MAX_ICON_BYTES} bytes"));
    }
    match media_type {
        "png" => png_rule(&bytes),
        _ => svg_rule(&bytes),
    }
}

fn png_rule(bytes: &[u8]) -> Option<String> {
    const SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.len() < 33 || !bytes.starts_with(SIGNATURE) || &bytes[12..16] != b"IHDR" {
        return Some("a PNG image (signature and IHDR)".into());
    }
    let be = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    let (width, height) = (be(16), be(20));
    let (min, max) = ICON_PIXELS;
    if width != height || !(min..=max).contains(&width) {
        return Some(format!("a square PNG of {min}–{max} pixels a side (this one is {width}×{height})"));
    }
    None
}

fn svg_rule(bytes: &[u8]) -> Option<String> {
    let Ok(text) = std::str::from_utf8(bytes) else { return Some("an SVG in UTF-8".into()) };
    let lower = text.to_ascii_lowercase();
    let root = lower.trim_start().trim_start_matches(|c| c != '<');
    let starts_svg = lower.contains("<svg") && (root.starts_with("<svg") || root.starts_with("<?xml"));
    if !starts_svg {
        return Some("an SVG document (an <svg> root)".into());
    }
    for forbidden in ["<script", "<foreignobject", "javascript:", " on", "xlink:href=\"http", "href=\"http", "<!entity"]
    {
        if (forbidden == " on" && has_event_attribute(&lower)) || (forbidden != " on" && lower.contains(forbidden)) {
            return Some("an SVG without scripts, event handlers, external references or entities".into());
        }
    }
    None
}

/// An `on…=` attribute (onload, onclick…).
fn has_event_attribute(lower: &str) -> bool {
    lower.match_indices(" on").any(|(at, _)| {
        let rest = &lower[at + 3..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphabetic()).collect();
        !name.is_empty() && rest[name.len()..].trim_start().starts_with('=')
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use time::macros::date;

    fn rules() -> (Vec<String>, Vec<String>) {
        (
            DEFAULT_ALLOWED_DOMAINS.iter().map(|s| (*s).to_owned()).collect(),
            seed_tiles().iter().filter_map(|t| t.source.as_ref().map(|s| s.id.clone())).collect(),
        )
    }

    #[test]
    fn every_built_in_tile_passes_the_schema_and_the_rules() {
        let (domains, sources) = rules();
        let rules = CheckRules { allowed_domains: &domains, sources: &sources };
        assert_eq!(seed_tiles().len(), 13);
        assert_eq!(cities().len(), 36);
        for tile in built_in() {
            let value = serde_json::to_value(tile).expect("json");
            assert_eq!(check(&value, &rules).map_err(|e| format!("{} {e:?}", tile.id)), Ok(tile.clone()));
        }
        let codes: std::collections::BTreeSet<_> = cities().iter().map(|c| &c.municipality_code).collect();
        assert_eq!(codes.len(), 36, "one entry per municipality");
        for city in cities() {
            assert!(city.url.is_some() || city.url_source == "to confirm", "{}: a URL needs its source", city.name);
        }
    }

    #[test]
    fn the_schema_names_each_broken_field() {
        let (domains, sources) = rules();
        let rules = CheckRules { allowed_domains: &domains, sources: &sources };
        let bad = json!({"id": "X", "title": {"cs": ""}, "description": {"cs": "a", "en": "b"}, "category": "jine",
            "icon": "tax", "url": "http://example.com", "visibility": {"minAge": -1}, "extra": 1});
        let fields: Vec<String> = check(&bad, &rules).expect_err("invalid").into_iter().map(|v| v.field).collect();
        for field in ["id", "title", "title.cs", "category", "url", "visibility.minAge", "body"] {
            assert!(fields.iter().any(|f| f == field), "{field} in {fields:?}");
        }
    }

    #[test]
    fn urls_must_be_https_on_the_allow_list() {
        let allowed = vec!["gov.cz".to_owned()];
        assert_eq!(url_rule("https://mojedane.gov.cz/x", &allowed), None);
        assert_eq!(url_rule("https://gov.cz/", &allowed), None);
        assert!(url_rule("http://mojedane.gov.cz/", &allowed).is_some());
        assert!(url_rule("https://evilgov.cz/", &allowed).is_some());
        assert!(url_rule("https://gov.cz.evil.example/", &allowed).is_some());
        assert!(url_rule("https://user@mojedane.gov.cz/", &allowed).is_some());
        assert!(url_rule("https://10.0.0.1/", &allowed).is_some());
    }

    fn png(width: u32, height: u32) -> Vec<u8> {
        let mut bytes = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR".to_vec();
        bytes.extend(width.to_be_bytes());
        bytes.extend(height.to_be_bytes());
        bytes.extend([8, 6, 0, 0, 0, 0, 0, 0, 0]);
        bytes
    }

    fn data(media: &str, bytes: &[u8]) -> String {
        format!("data:{media};base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
    }

    #[test]
    fn icons_are_checked_by_format_and_size() {
        assert_eq!(icon_rule("tax"), None);
        assert_eq!(icon_rule(&data("image/png", &png(64, 64))), None);
        assert!(icon_rule(&data("image/png", &png(64, 32))).is_some(), "not square");
        assert!(icon_rule(&data("image/png", &png(16, 16))).is_some(), "too small");
        assert!(icon_rule(&data("image/png", &png(1024, 1024))).is_some(), "too large");
        assert!(icon_rule(&data("image/png", b"GIF89a............................")).is_some());
        let svg = br#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M0 0h24v24H0z"/></svg>"#;
        assert_eq!(icon_rule(&data("image/svg+xml", svg)), None);
        let script = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
        assert!(icon_rule(&data("image/svg+xml", script)).is_some());
        let handler = br#"<svg xmlns="http://www.w3.org/2000/svg" onload = "x()"></svg>"#;
        assert!(icon_rule(&data("image/svg+xml", handler)).is_some());
        assert!(icon_rule(&data("image/png", &vec![0; MAX_ICON_BYTES + 1])).is_some());
        assert!(icon_rule("bell").is_some());
    }

    #[test]
    fn visibility_rules_need_known_facts() {
        let adults = Visibility { min_age: Some(18), ..Visibility::default() };
        let today = date!(2026 - 11 - 23);
        let jana = CitizenFacts {
            date_of_birth: Some(date!(1985 - 03 - 14)),
            municipality: Some(PRAGUE.into()),
            ..CitizenFacts::default()
        };
        assert!(adults.admits(&jana, today));
        assert!(!adults.admits(&CitizenFacts::default(), today), "an unknown age does not pass an age rule");
        let child = CitizenFacts { date_of_birth: Some(date!(2008 - 11 - 24)), ..CitizenFacts::default() };
        assert!(!adults.admits(&child, today), "17 until tomorrow");
        let prague = Visibility { municipalities: Some(vec![PRAGUE.into()]), ..Visibility::default() };
        assert!(prague.admits(&jana, today));
        assert!(!prague.admits(&child, today));
        let entrepreneurs = Visibility { entrepreneur: Some(true), ..Visibility::default() };
        assert!(!entrepreneurs.admits(&jana, today));
        assert!(entrepreneurs.admits(&CitizenFacts { entrepreneur: Some(true), ..CitizenFacts::default() }, today));
        assert!(Visibility::default().admits(&CitizenFacts::default(), today));
    }

    #[test]
    fn the_municipality_comes_from_the_registered_address() {
        assert_eq!(municipality_of_address("Vinohradská 1511/230, 100 00 Praha 10").as_deref(), Some(PRAGUE));
        assert_eq!(municipality_of_address("náměstí Svobody 94/4, 602 00 Brno").as_deref(), Some("582786"));
        assert_eq!(municipality_of_address("Masarykovo náměstí 1, 591 01 Žďár nad Sázavou").as_deref(), Some("595209"));
        assert_eq!(municipality_of_address("Náves 1, 123 45 Horní Dolní"), None);
    }
}
