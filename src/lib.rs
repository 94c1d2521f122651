//! The `portal` binary's library: the CLI, the composition of capabilities,
//! the local host that stands in for the Functions host, and packaging.
//! `main.rs` only wires these together.

pub mod app;
pub mod cli;
pub mod local_host;
pub mod package;
pub mod replay;
pub mod server;
pub mod web;
