//! The invocation envelope of the Functions host for custom handlers: the
//! request `{"Data","Metadata"}` that the host POSTs to `/{FunctionName}` and the
//! response `{"Outputs","Logs","ReturnValue"}` it reads back.
//!
//! The host's value encoding has traps (see `docs/architecture.md` and the
//! protocol reference): strings and numbers are JSON-serialised once more, so a
//! queue message arrives as a JSON string holding a JSON string literal;
//! `DequeueCount` is a string; `Id` and `PopReceipt` carry embedded quotes; the
//! top-level fields of a JSON message are copied into `Metadata`. This module
//! decodes all of that once, at the edge, and also encodes it the same way for
//! the local host, so that local runs exercise the production decoding.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use time::OffsetDateTime;

/// Why an envelope could not be understood. The handler answers 400.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("the body is not a JSON invocation envelope: {0}")]
    NotJson(#[from] serde_json::Error),
    #[error("Data has no input binding named '{0}'")]
    MissingBinding(String),
    #[error("the '{binding}' binding is not a {expected}")]
    WrongShape { binding: String, expected: &'static str },
    #[error("Metadata.{0} is missing or malformed")]
    BadMetadata(&'static str),
}

/// What the host POSTs for every non-forwarded invocation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvocationRequest {
    #[serde(rename = "Data", default)]
    pub data: Map<String, Value>,
    #[serde(rename = "Metadata", default)]
    pub metadata: Map<String, Value>,
}

/// What the handler answers. Names are as the host writes them; the host reads
/// them case-insensitively.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct InvocationResponse {
    #[serde(rename = "Outputs", default)]
    pub outputs: Map<String, Value>,
    #[serde(rename = "Logs", default)]
    pub logs: Vec<String>,
    #[serde(rename = "ReturnValue", default)]
    pub return_value: Value,
}

/// `Metadata.sys`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SysMetadata {
    #[serde(rename = "MethodName")]
    pub method_name: String,
    #[serde(rename = "UtcNow")]
    pub utc_now: String,
    #[serde(rename = "RandGuid")]
    pub rand_guid: String,
}

/// `Metadata.RetryContext`, present when a host retry policy applies.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryContext {
    #[serde(rename = "RetryCount")]
    pub retry_count: u32,
    #[serde(rename = "MaxRetryCount")]
    pub max_retry_count: i32,
    #[serde(rename = "Exception", default)]
    pub exception: Option<Value>,
}

/// A timer trigger's value, `Data.<name>`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimerInfo {
    #[serde(rename = "Schedule", default)]
    pub schedule: Option<TimerSchedule>,
    /// Null when the schedule is not monitored (`useMonitor=false`).
    #[serde(rename = "ScheduleStatus", default)]
    pub schedule_status: Option<ScheduleStatus>,
    /// True when this run is late: an occurrence was missed (the host was down).
    #[serde(rename = "IsPastDue", default)]
    pub is_past_due: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimerSchedule {
    #[serde(rename = "AdjustForDST", default)]
    pub adjust_for_dst: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleStatus {
    #[serde(rename = "Last", with = "time::serde::rfc3339")]
    pub last: OffsetDateTime,
    #[serde(rename = "Next", with = "time::serde::rfc3339")]
    pub next: OffsetDateTime,
    #[serde(rename = "LastUpdated", with = "time::serde::rfc3339")]
    pub last_updated: OffsetDateTime,
}

/// A queue message's system properties, from `Metadata`, with the host's
/// quoting removed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessageMetadata {
    pub id: String,
    pub pop_receipt: Option<String>,
    pub dequeue_count: u32,
    pub insertion_time: Option<String>,
    pub expiration_time: Option<String>,
    pub next_visible_time: Option<String>,
}

/// The non-forwarded HTTP request object, `Data.req`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HttpRequestData {
    #[serde(rename = "Url")]
    pub url: String,
    #[serde(rename = "Method")]
    pub method: String,
    #[serde(rename = "Query", default)]
    pub query: Map<String, Value>,
    #[serde(rename = "Headers", default)]
    pub headers: Map<String, Value>,
    #[serde(rename = "Params", default)]
    pub params: Map<String, Value>,
    #[serde(rename = "Identities", default)]
    pub identities: Vec<Value>,
    /// Raw body text; base64 for octet-stream and multipart; absent when empty.
    #[serde(rename = "Body", default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl InvocationRequest {
    pub fn parse(body: &[u8]) -> Result<Self, EnvelopeError> {
        Ok(serde_json::from_slice(body)?)
    }

    fn binding(&self, name: &str) -> Result<&Value, EnvelopeError> {
        self.data.get(name).ok_or_else(|| EnvelopeError::MissingBinding(name.to_owned()))
    }

    /// The text of the queue message in binding `name`, decoded from the host's
    /// double JSON encoding.
    pub fn queue_message_text(&self, name: &str) -> Result<String, EnvelopeError> {
        match self.binding(name)? {
            // The usual case: a JSON string whose content is a JSON string
            // literal of the message text.
            Value::String(outer) => match serde_json::from_str::<Value>(outer) {
                Ok(Value::String(text)) => Ok(text),
                // Older hosts and `dataType` variants pass the text itself.
                _ => Ok(outer.clone()),
            },
            // A POCO is sent as a nested object.
            value @ (Value::Object(_) | Value::Array(_)) => Ok(value.to_string()),
            _ => Err(EnvelopeError::WrongShape { binding: name.to_owned(), expected: "queue message" }),
        }
    }

    /// The queue message's system properties.
    pub fn queue_metadata(&self) -> Result<QueueMessageMetadata, EnvelopeError> {
        let text = |key: &'static str| self.metadata.get(key).and_then(unquote);
        Ok(QueueMessageMetadata {
            id: text("Id").ok_or(EnvelopeError::BadMetadata("Id"))?,
            pop_receipt: text("PopReceipt"),
            dequeue_count: text("DequeueCount")
                .ok_or(EnvelopeError::BadMetadata("DequeueCount"))?
                .parse()
                .map_err(|_| EnvelopeError::BadMetadata("DequeueCount"))?,
            insertion_time: text("InsertionTime"),
            expiration_time: text("ExpirationTime"),
            next_visible_time: text("NextVisibleTime"),
        })
    }

    /// The timer trigger's value in binding `name`.
    pub fn timer_info(&self, name: &str) -> Result<TimerInfo, EnvelopeError> {
        let value = self.binding(name)?;
        let value = match value {
            // Tolerate a host that serialises the POCO as a string.
            Value::String(text) => serde_json::from_str(text)?,
            other => other.clone(),
        };
        serde_json::from_value(value)
            .map_err(|_| EnvelopeError::WrongShape { binding: name.to_owned(), expected: "TimerInfo" })
    }

    /// The non-forwarded HTTP request in binding `name`.
    pub fn http_request(&self, name: &str) -> Result<HttpRequestData, EnvelopeError> {
        serde_json::from_value(self.binding(name)?.clone())
            .map_err(|_| EnvelopeError::WrongShape { binding: name.to_owned(), expected: "HTTP request" })
    }

    pub fn retry_context(&self) -> Option<RetryContext> {
        self.metadata.get("RetryContext").and_then(|value| serde_json::from_value(value.clone()).ok())
    }

    pub fn sys(&self) -> Option<SysMetadata> {
        self.metadata.get("sys").and_then(|value| serde_json::from_value(value.clone()).ok())
    }
}

/// A metadata value as text: `"\"abc\""` → `abc`, `"5"` → `5`, `5` → `5`.
fn unquote(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::String(inner)) => Some(inner),
            _ => Some(text.clone()),
        },
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Encodes invocations exactly as the Functions host does (for the local host
/// and for tests). Strings and numbers go through one more JSON serialisation;
/// dates are formatted the way .NET's `DateTimeOffset` prints them.
pub mod host_side {
    use super::*;

    /// `JsonConvert.SerializeObject(value)` for a string.
    pub fn serialize_string(text: &str) -> Value {
        Value::String(Value::String(text.to_owned()).to_string())
    }

    fn sys(function: &str, now: OffsetDateTime) -> Value {
        serde_json::json!({
            "MethodName": function,
            "UtcNow": now.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
            "RandGuid": uuid::Uuid::new_v4().to_string(),
        })
    }

    /// `2026-11-20T09:15:02+00:00`: second precision, explicit offset.
    pub fn dotnet_offset_time(t: OffsetDateTime) -> String {
        let t = t.to_offset(time::UtcOffset::UTC);
        format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}+00:00",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }

    /// The queue message properties the host puts in `Metadata`.
    #[derive(Debug, Clone)]
    pub struct QueueMessageProperties {
        pub id: String,
        pub pop_receipt: String,
        pub dequeue_count: u32,
        pub insertion_time: OffsetDateTime,
        pub expiration_time: OffsetDateTime,
        pub next_visible_time: OffsetDateTime,
    }

    /// A queue trigger invocation for `text` in binding `binding`.
    pub fn queue_invocation(
        function: &str,
        binding: &str,
        text: &str,
        message: &QueueMessageProperties,
        now: OffsetDateTime,
    ) -> InvocationRequest {
        let mut metadata = Map::new();
        // Top-level fields of a JSON message come first so that the system
        // properties win on a name clash, as they do in the host.
        if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(text) {
            for (key, value) in fields {
                let encoded = match &value {
                    Value::String(s) => serialize_string(s),
                    Value::Number(_) | Value::Bool(_) => Value::String(value.to_string()),
                    Value::Null => Value::Null,
                    Value::Array(_) | Value::Object(_) => value,
                };
                metadata.insert(key, encoded);
            }
        }
        metadata.insert("DequeueCount".into(), Value::String(message.dequeue_count.to_string()));
        metadata.insert("ExpirationTime".into(), Value::String(dotnet_offset_time(message.expiration_time)));
        metadata.insert("Id".into(), serialize_string(&message.id));
        metadata.insert("InsertionTime".into(), Value::String(dotnet_offset_time(message.insertion_time)));
        metadata.insert("NextVisibleTime".into(), Value::String(dotnet_offset_time(message.next_visible_time)));
        metadata.insert("PopReceipt".into(), serialize_string(&message.pop_receipt));
        metadata.insert("sys".into(), sys(function, now));
        let mut data = Map::new();
        data.insert(binding.to_owned(), serialize_string(text));
        InvocationRequest { data, metadata }
    }

    /// A timer trigger invocation.
    pub fn timer_invocation(function: &str, binding: &str, info: &TimerInfo, now: OffsetDateTime) -> InvocationRequest {
        let mut data = Map::new();
        data.insert(binding.to_owned(), serde_json::to_value(info).unwrap_or(Value::Null));
        let mut metadata = Map::new();
        metadata.insert("sys".into(), sys(function, now));
        InvocationRequest { data, metadata }
    }
}

#[cfg(test)]
mod tests;
