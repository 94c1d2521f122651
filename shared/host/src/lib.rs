//! The Azure Functions custom-handler protocol and runtime.
//!
//! - [`api`]: HTTP functions as documented operations, the OpenAPI document
//!   and the request extractors whose rejections are problems;
//! - [`failure`]: one trait that turns any error into a problem or an
//!   invocation failure through `?`;
//! - [`envelope`]: the invocation request and response as the host sends and
//!   reads them, with its encoding traps decoded at the edge;
//! - [`function`]: functions declared once, in Rust (name, trigger, handler);
//! - [`manifest`]: `function.json` and `host.json` generated from them;
//! - [`runtime`]: the router serving them, with a span per request and invocation
//!   (made, with the request's log line, by the one layer in `edge`);
//! - [`ncrontab`]: timer schedules; [`problem`]: RFC 9457 errors;
//!   [`output`]: output values the host's base64 decoding cannot corrupt;
//! - [`download`]: the `Content-Disposition` of file downloads;
//!   [`upload`]: how file uploads are refused;
//!   [`prague`]: Europe/Prague dates without a time-zone database;
//! - [`poison`]: the one record shape of every `-poison` queue.

pub mod api;
pub mod download;
mod edge;
pub mod envelope;
pub mod failure;
pub mod function;
pub mod manifest;
pub mod ncrontab;
pub mod output;
pub mod poison;
pub mod prague;
pub mod problem;
pub mod runtime;
pub mod telemetry;
pub mod upload;

pub use api::{Body, Params};
pub use failure::Failure;
pub use function::{
    AuthLevel, Function, HttpFunction, InvocationError, Outcome, QueueInvocation, TimerInvocation, Trigger,
};
pub use poison::PoisonRecord;
pub use problem::{FieldViolation, Problem};
pub use runtime::{FailureSink, InvocationFailure, Runtime};
