//! Output values that survive the host.
//!
//! For an output binding (or `$return`) whose `dataType` is not binary, the
//! host tries `Convert.FromBase64String` on every string value and, if that
//! works, writes the decoded bytes: a queue message `"abcd"` silently becomes
//! three bytes of garbage. We therefore always send string outputs base64
//! encoded ourselves; the host's decoding then yields exactly our text.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

/// A string output value that reaches the binding unchanged.
pub fn protected_text(text: &str) -> Value {
    Value::String(STANDARD.encode(text))
}

/// A JSON output value, serialised and protected like text.
pub fn protected_json(value: &Value) -> Value {
    protected_text(&value.to_string())
}

/// What the host hands the binding for an output value: the base64-decoded
/// bytes of a string if it decodes, else its UTF-8; other values as JSON text.
/// The local host uses this so that local runs see what Azure would write.
pub fn host_decode(value: &Value) -> Vec<u8> {
    match value {
        Value::String(text) => STANDARD.decode(text).unwrap_or_else(|_| text.as_bytes().to_vec()),
        other => other.to_string().into_bytes(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_string_that_looks_like_base64_is_corrupted_by_the_host() {
        for text in ["abcd", "test1234"] {
            assert_ne!(host_decode(&Value::String(text.into())), text.as_bytes(), "{text} is mangled when sent raw");
        }
    }

    #[test]
    fn outcome_outputs_are_protected_and_collect_into_arrays() {
        let outcome = crate::Outcome::done().output_text("events", "abcd").output_text("events", "test1234");
        let values = outcome.outputs["events"].as_array().expect("two messages make an array");
        let decoded: Vec<Vec<u8>> = values.iter().map(host_decode).collect();
        assert_eq!(decoded, [b"abcd".to_vec(), b"test1234".to_vec()]);
    }

    #[test]
    fn protected_values_arrive_unchanged() {
        for text in ["abcd", "test1234", "", "Výpis z rejstříku trestů", "{\"id\":\"1\"}", "a\nb"] {
            assert_eq!(host_decode(&protected_text(text)), text.as_bytes(), "{text:?}");
        }
        let json = serde_json::json!({"id": "abcd", "n": 5});
        assert_eq!(host_decode(&protected_json(&json)), json.to_string().into_bytes());
    }
}
