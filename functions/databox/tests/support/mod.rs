//! What several of this crate's tests share (each test file is a crate of
//! its own and uses part of it).
#![allow(dead_code)]

pub mod zfo;

use std::sync::Arc;

use portal_databox::box_requests::BoxManagement;
use portal_databox::isds::Isds;
use portal_databox::payments::{NotConnected, PaymentsNotConnected};
use portal_databox::{BoxDirectory, Databox, DataboxSettings};
use portal_testkit::Harness;

/// The capability as production composes it, on the harness's stores, keys
/// and clock: the given ISDS adapter, box management and directory, no
/// payment gateway or credit system, nothing simulated.
pub fn databox_on(
    harness: &Harness,
    isds: Arc<dyn Isds>,
    management: Arc<dyn BoxManagement>,
    directory: Arc<dyn BoxDirectory>,
) -> Databox {
    Databox {
        isds,
        management,
        directory,
        payments: Arc::new(PaymentsNotConnected),
        credit: Arc::new(NotConnected),
        documents: harness.documents.clone(),
        blobs: harness.store.clone(),
        queues: harness.store.clone(),
        sealer: harness.sealer.clone(),
        access_log: harness.access_log.clone(),
        clock: harness.clock.clone(),
        settings: DataboxSettings { simulated: false, ..DataboxSettings::default() },
        simulated_payments: None,
    }
}
