//! The operators' HTTP functions, one file per action. All are anonymous:
//! the platform's probes call them without a session.

pub mod health;
pub mod ready;
pub mod version;

use std::sync::Arc;

use crate::Ops;

pub(crate) type Shared = Arc<Ops>;
