//! Identity's part of the citizen's export: the profile (the identity
//! provider's attributes) and the whole access log.

use std::sync::Arc;

use portal_crypto::Sealer;
use portal_security::export::{ExportError, ExportFuture, ExportPart, ExportSource};
use portal_security::{AccessFilter, AccessLog, SubjectId};
use portal_store::DocumentStore;

use crate::http::my_access_log::AccessLogEntry;
use crate::profile;

/// Identity's [`ExportSource`]: `identity/profile.json` and
/// `identity/access-log.json` (oldest first).
#[derive(Debug, Clone)]
pub struct IdentityExport {
    pub documents: Arc<dyn DocumentStore>,
    pub sealer: Sealer,
    pub access_log: AccessLog,
}

impl ExportSource for IdentityExport {
    fn name(&self) -> &'static str {
        "identity"
    }

    fn export<'a>(&'a self, subject: &'a SubjectId) -> ExportFuture<'a> {
        Box::pin(async move {
            let profile = profile::load(self.documents.as_ref(), &self.sealer, subject)
                .await
                .map_err(|error| ExportError::of(&crate::IdentityError::from(error)))?;
            let mut log = Vec::new();
            let mut continuation = None;
            loop {
                let page = self.access_log.list(subject, &AccessFilter::default(), 500, continuation.take()).await?;
                log.extend(page.items.into_iter().map(AccessLogEntry::from));
                match page.continuation {
                    Some(next) => continuation = Some(next),
                    None => break,
                }
            }
            crate::http::my_access_log::open_references(&self.sealer, subject, &mut log)
                .await
                .map_err(|error| ExportError::of(&crate::IdentityError::from(error)))?;
            Ok(vec![ExportPart::json("profile.json", &profile)?, ExportPart::json("access-log.json", &log)?])
        })
    }
}
