//! Queue function `BuildExport` (on [`crate::exports::QUEUE`]): builds a
//! citizen's export, or deletes it once it expired (see [`crate::exports`]).

use std::sync::Arc;

use portal_host::{Function, InvocationError, Outcome, QueueInvocation};
use portal_security::SubjectId;
use serde_json::json;

use crate::exports::{ExportMessage, ExportStep, Exports, parse_export_id};

/// The function's name.
pub const FUNCTION: &str = "BuildExport";

/// `BuildExport` on queue [`crate::exports::QUEUE`].
pub fn function(exports: Arc<Exports>) -> Function {
    Function::queue(FUNCTION, crate::exports::QUEUE, move |invocation: QueueInvocation<ExportMessage>| {
        let exports = exports.clone();
        async move { build_export(&exports, &invocation.message).await }
    })
}

/// One delivery: idempotent, and a rerun after a crash builds the same archive.
pub async fn build_export(exports: &Exports, message: &ExportMessage) -> Result<Outcome, InvocationError> {
    let subject = SubjectId::parse(message.subject.clone())
        .map_err(|_| InvocationError::permanent("the message's subject is not a subject id"))?;
    let export = parse_export_id(&message.export).ok_or_else(|| InvocationError::permanent("bad export id"))?;
    match message.step {
        ExportStep::Build => {
            // Erasure is final: nothing is built (or sealed) for an erased citizen.
            exports.sealer.keys().refuse_erased(subject.as_str()).await?;
            let job = exports.build(&subject, export).await?;
            Ok(Outcome::done().returning(json!({"built": job.is_some()})))
        }
        ExportStep::Expire => {
            exports.remove(&subject, export).await?;
            Ok(Outcome::done().returning(json!({"removed": true})))
        }
    }
}
