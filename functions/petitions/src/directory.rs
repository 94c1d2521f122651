//! The ISDS port of the petitions capability: is a data box id the box of a
//! public authority (orgán veřejné moci, OVM) that can receive a petition?
//! Asked when a draft is saved and again at the hand-over (a box can be
//! closed in between), from the creator's own data box (ISDS's port takes
//! every call in a citizen's box context; the petition is handed over from
//! that box too). The composition (`src/app.rs`) adapts the data box
//! capability's ISDS client (`FindDataBox` by id, the simulator's directory
//! locally); [`SimulatedDirectory`] serves tests with the same demo boxes.
//!
//! ePetice lets the creator choose only OVM addressees (portal.gov.cz, the
//! form's addressee field); ISDS types 10–18 are the OVM kinds (`dbType`
//! OVM, OVM_NOTAR, OVM_EXEKUT, OVM_REQ, OVM_FO, OVM_PFO, OVM_PO…).

use std::collections::BTreeMap;

/// What ISDS says about a box id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BoxLookup {
    /// An accessible box of a public authority, with the owner's name.
    PublicAuthority { name: String },
    /// A box, but of a person or company: not an addressee of a petition.
    NotPublicAuthority,
    /// A public authority's box that cannot receive messages now (closed,
    /// not yet active).
    Inaccessible,
    /// No such box.
    Unknown,
    /// The creator has no data box linked: ISDS cannot be asked from it,
    /// and the petition could not be handed over from it either.
    CreatorHasNoBox,
}

impl BoxLookup {
    /// What the ISDS answer (`dbType`, `dbState` 1 = accessible, the owner's
    /// name) means for a petition.
    pub fn of(box_type: u8, accessible: bool, name: &str) -> Self {
        match (is_ovm_type(box_type), accessible) {
            (false, _) => Self::NotPublicAuthority,
            (true, false) => Self::Inaccessible,
            (true, true) => Self::PublicAuthority { name: name.to_owned() },
        }
    }

    /// The rule a refused box id broke, for the problem's `errors`.
    pub fn refusal(&self) -> Option<&'static str> {
        match self {
            Self::PublicAuthority { .. } => None,
            Self::NotPublicAuthority => {
                Some("the box of a public authority (OVM); this data box belongs to a person or a company")
            }
            Self::Inaccessible => Some("a data box that can receive messages; this one is not accessible in ISDS"),
            Self::Unknown => Some("an existing data box of a public authority (OVM); ISDS knows no box with this id"),
            Self::CreatorHasNoBox => Some(
                "a box looked up from your own data box, and you have none linked: request or link one at \
                 /api/databox/box-requests (the petition is handed over from it)",
            ),
        }
    }
}

/// ISDS box types of public authorities (`dbType` 10–18).
pub fn is_ovm_type(box_type: u8) -> bool {
    (10..=18).contains(&box_type)
}

#[derive(Debug, thiserror::Error)]
#[error("the data box directory is unavailable")]
pub struct DirectoryError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

#[async_trait::async_trait]
pub trait AddresseeDirectory: Send + Sync + std::fmt::Debug {
    /// What ISDS says of `box_id`, asked from `creator`'s own box.
    async fn lookup(&self, creator: &portal_security::SubjectId, box_id: &str) -> Result<BoxLookup, DirectoryError>;
}

/// SIMULATOR: the data box simulator's boxes (`functions/databox`'s
/// `isds::simulator`): the demo public authorities, a company and the demo
/// citizens' boxes.
#[derive(Debug, Clone)]
pub struct SimulatedDirectory {
    boxes: BTreeMap<String, BoxLookup>,
}

impl Default for SimulatedDirectory {
    fn default() -> Self {
        let ovm = |name: &str| BoxLookup::PublicAuthority { name: name.to_owned() };
        let boxes = BTreeMap::from([
            ("simmuhl".to_owned(), ovm("Městský úřad Horní Lhota (simulace)")),
            ("simfuhl".to_owned(), ovm("Finanční úřad pro Simulovaný kraj (simulace)")),
            ("simcssz".to_owned(), ovm("Česká správa sociálního zabezpečení (simulace)")),
            ("simoshl".to_owned(), ovm("Okresní soud v Horní Lhotě (simulace)")),
            ("simenhl".to_owned(), BoxLookup::NotPublicAuthority),
            ("sim4jan".to_owned(), BoxLookup::NotPublicAuthority),
            ("sim4jir".to_owned(), BoxLookup::NotPublicAuthority),
            ("sim4lud".to_owned(), BoxLookup::NotPublicAuthority),
        ]);
        Self { boxes }
    }
}

impl SimulatedDirectory {
    /// The demo boxes and `box_id` as `lookup` (a Senate box in a test, say).
    #[must_use]
    pub fn with(mut self, box_id: &str, lookup: BoxLookup) -> Self {
        self.boxes.insert(box_id.to_owned(), lookup);
        self
    }
}

#[async_trait::async_trait]
impl AddresseeDirectory for SimulatedDirectory {
    async fn lookup(&self, _creator: &portal_security::SubjectId, box_id: &str) -> Result<BoxLookup, DirectoryError> {
        Ok(self.boxes.get(box_id).cloned().unwrap_or(BoxLookup::Unknown))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_accessible_public_authorities_are_addressees() {
        assert_eq!(BoxLookup::of(10, true, "Úřad"), BoxLookup::PublicAuthority { name: "Úřad".into() });
        assert_eq!(BoxLookup::of(16, true, "PO OVM"), BoxLookup::PublicAuthority { name: "PO OVM".into() });
        assert_eq!(BoxLookup::of(10, false, "Úřad"), BoxLookup::Inaccessible);
        assert_eq!(BoxLookup::of(20, true, "s.r.o."), BoxLookup::NotPublicAuthority);
        assert_eq!(BoxLookup::of(40, true, "Jana"), BoxLookup::NotPublicAuthority);
        assert!(BoxLookup::Unknown.refusal().is_some_and(|r| r.contains("ISDS knows no box")));
    }
}
