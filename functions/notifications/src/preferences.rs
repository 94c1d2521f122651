//! Which categories of notice a citizen wants by e-mail and by SMS. The
//! in-portal inbox is always on and cannot be switched off. Defaults: e-mail
//! on for every category (it takes effect once an e-mail address is
//! verified), SMS off.
//!
//! Stored as one document `preferences` in the citizen's partition; absent
//! means the defaults.

use std::collections::BTreeMap;

use portal_host::FieldViolation;
use serde_json::{Map, Value, json};

use crate::channel::Channel;

pub const CATEGORIES: [&str; 7] = ["databox", "calendar", "documents", "registers", "filings", "petitions", "account"];
pub const DOCUMENT_ID: &str = "preferences";

/// The notification category of an event category (`databox.new-message` →
/// `databox`; the documents capability's kinds start `document.` or
/// `documents.`). `None` for a category no preference exists for.
pub fn category_of(event_category: &str) -> Option<&'static str> {
    let name = if event_category == "document" { "documents" } else { event_category };
    CATEGORIES.iter().copied().find(|c| *c == name)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preferences {
    /// category → (email, sms)
    choices: BTreeMap<&'static str, (bool, bool)>,
}

impl Default for Preferences {
    fn default() -> Self {
        Self { choices: CATEGORIES.iter().map(|c| (*c, (true, false))).collect() }
    }
}

impl Preferences {
    /// From the stored body; anything unreadable keeps the default.
    pub fn from_stored(body: &Value) -> Self {
        let mut preferences = Self::default();
        if let Some(categories) = body.get("categories").and_then(Value::as_object) {
            for (name, choice) in categories {
                let Some(category) = CATEGORIES.iter().copied().find(|c| c == name) else { continue };
                let entry = preferences.choices.entry(category).or_insert((true, false));
                if let Some(email) = choice.get("email").and_then(Value::as_bool) {
                    entry.0 = email;
                }
                if let Some(sms) = choice.get("sms").and_then(Value::as_bool) {
                    entry.1 = sms;
                }
            }
        }
        preferences
    }

    pub fn allows(&self, category: Option<&str>, channel: Channel) -> bool {
        let Some(category) = category else { return false };
        self.choices.get(category).is_some_and(|(email, sms)| match channel {
            Channel::Email => *email,
            Channel::Sms => *sms,
        })
    }

    /// Applies a client's change: `{"categories": {"databox": {"email": true,
    /// "sms": false}, ...}}`. Categories and channels left out keep their
    /// value. Every broken rule is reported, naming the field.
    pub fn apply(&mut self, change: &Value) -> Result<(), Vec<FieldViolation>> {
        let mut errors = Vec::new();
        let Some(object) = change.as_object() else {
            return Err(vec![FieldViolation::new("body", "a JSON object with \"categories\"")]);
        };
        for key in object.keys().filter(|k| *k != "categories" && *k != "inbox") {
            errors.push(FieldViolation::new(key.clone(), "unknown field; send \"categories\""));
        }
        if let Some(inbox) = object.get("inbox")
            && inbox != &Value::Bool(true)
            && inbox.get("enabled") != Some(&Value::Bool(true))
        {
            errors.push(FieldViolation::new("inbox", "in-portal notices are always on and cannot be switched off"));
        }
        let empty = Map::new();
        let categories = match object.get("categories") {
            Some(Value::Object(categories)) => categories,
            Some(_) => {
                errors.push(FieldViolation::new("categories", "an object of category → {email, sms}"));
                &empty
            }
            None => &empty,
        };
        let mut changed = self.choices.clone();
        for (name, choice) in categories {
            let field = format!("categories.{name}");
            let Some(category) = CATEGORIES.iter().copied().find(|c| c == name) else {
                errors.push(FieldViolation::new(field, format!("unknown category; one of {}", CATEGORIES.join(", "))));
                continue;
            };
            let Some(choice) = choice.as_object() else {
                errors.push(FieldViolation::new(field, "an object {\"email\": true|false, \"sms\": true|false}"));
                continue;
            };
            let entry = changed.entry(category).or_insert((true, false));
            for (channel, value) in choice {
                let field = format!("categories.{name}.{channel}");
                let Some(on) = value.as_bool() else {
                    if Channel::parse(channel).is_some() {
                        errors.push(FieldViolation::new(field, "true or false"));
                    } else {
                        errors.push(unknown_channel(field, channel));
                    }
                    continue;
                };
                match Channel::parse(channel) {
                    Some(Channel::Email) => entry.0 = on,
                    Some(Channel::Sms) => entry.1 = on,
                    None => errors.push(unknown_channel(field, channel)),
                }
            }
        }
        if errors.is_empty() {
            self.choices = changed;
            Ok(())
        } else {
            Err(errors)
        }
    }

    pub fn to_stored(&self) -> Value {
        json!({"type": "notification-preferences", "categories": self.categories_json()})
    }

    /// Every category with its choice: (category, e-mail, SMS).
    pub fn choices(&self) -> impl Iterator<Item = (&'static str, bool, bool)> + '_ {
        self.choices.iter().map(|(category, (email, sms))| (*category, *email, *sms))
    }

    pub fn categories_json(&self) -> Value {
        let map: Map<String, Value> = self
            .choices
            .iter()
            .map(|(category, (email, sms))| ((*category).to_owned(), json!({"email": email, "sms": sms})))
            .collect();
        Value::Object(map)
    }
}

fn unknown_channel(field: String, channel: &str) -> FieldViolation {
    if channel == "inbox" {
        FieldViolation::new(field, "in-portal notices are always on; the channels you can choose are email and sms")
    } else {
        FieldViolation::new(field, "unknown channel; one of email, sms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_email_on_and_sms_off() {
        let preferences = Preferences::default();
        for category in CATEGORIES {
            assert!(preferences.allows(Some(category), Channel::Email));
            assert!(!preferences.allows(Some(category), Channel::Sms));
        }
        assert!(!preferences.allows(None, Channel::Email), "no preference, no e-mail");
        assert_eq!(category_of("document"), Some("documents"));
        assert_eq!(category_of("nonsense"), None);
    }

    #[test]
    fn changes_are_partial_and_every_bad_field_is_named() {
        let mut preferences = Preferences::default();
        preferences.apply(&json!({"categories": {"calendar": {"sms": true}}})).expect("valid");
        assert!(preferences.allows(Some("calendar"), Channel::Sms));
        assert!(preferences.allows(Some("calendar"), Channel::Email), "left out, kept");
        let errors = preferences
            .apply(&json!({"categories": {"weather": {"email": true}, "databox": {"fax": true, "email": "yes"}}}))
            .expect_err("invalid");
        let mut fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["categories.databox.email", "categories.databox.fax", "categories.weather"]);
        assert!(preferences.allows(Some("databox"), Channel::Email), "a refused change changes nothing");
        let round_trip = Preferences::from_stored(&preferences.to_stored());
        assert_eq!(round_trip, preferences);
    }
}
