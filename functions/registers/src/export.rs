//! Registers' part of the citizen's export (`portal_security::export`):
//! `cache.json` (the register data the portal keeps for a day, opened, or
//! `null`), `extracts.json` (every extract request, without the sealed copy
//! of the PDF it sent on: the extracts' PDFs are filed in Documents and
//! exported there, opened) and `filings.json` (every filing
//! with its status history and its kind-specific data, opened).

use base64::Engine as _;
use portal_security::SubjectId;
use portal_security::export::{ExportError, ExportFuture, ExportPart, ExportSource};
use serde_json::Value;

use crate::my_data::{CACHE_FIELD, CACHE_ID, MyRegisters};
use crate::{COLLECTION, Registers, extracts, filings};

impl ExportSource for Registers {
    fn name(&self) -> &'static str {
        "registers"
    }

    fn export<'a>(&'a self, subject: &'a SubjectId) -> ExportFuture<'a> {
        Box::pin(export_parts(self, subject))
    }
}

fn corrupt(error: impl std::fmt::Display) -> ExportError {
    ExportError::permanent(format!("a stored register record is unreadable: {error}"))
}

async fn export_parts(registers: &Registers, subject: &SubjectId) -> Result<Vec<ExportPart>, ExportError> {
    let owner = subject.as_str();
    let cache: Option<MyRegisters> = match registers.documents.get(COLLECTION, owner, CACHE_ID).await? {
        Some(doc) => {
            let sealed = base64::engine::general_purpose::STANDARD
                .decode(doc.body["sealed"].as_str().unwrap_or_default())
                .map_err(corrupt)?;
            let plain = registers
                .sealer
                .decrypt(owner, CACHE_ID, CACHE_FIELD, &sealed)
                .await
                .map_err(|error| ExportError::of(&crate::my_data::MyDataError::from(error)))?;
            Some(serde_json::from_slice(&plain).map_err(corrupt)?)
        }
        None => None,
    };
    // The job keeps the event it sent to Documents, with the PDF sealed in
    // it: the PDF is in the documents' part, opened; here only the job.
    let jobs: Vec<Value> = extracts::list(registers, subject)
        .await
        .map_err(|error| ExportError::of(&error))?
        .iter()
        .map(|job| {
            let mut value = serde_json::to_value(job).unwrap_or(Value::Null);
            if let Some(object) = value.as_object_mut() {
                object.remove("filed");
            }
            value
        })
        .collect();
    let mut all = Vec::new();
    let mut continuation = None;
    loop {
        let (page, next) =
            filings::list(registers, owner, 100, continuation.take()).await.map_err(|error| ExportError::of(&error))?;
        for filing in page {
            let data: Option<Value> =
                filings::open_data(registers, owner, &filing).await.map_err(|error| ExportError::of(&error))?;
            let mut value = serde_json::to_value(&filing).map_err(corrupt)?;
            if let Some(object) = value.as_object_mut() {
                object.remove("sealedData");
                object.insert("data".into(), data.unwrap_or(Value::Null));
            }
            all.push(value);
        }
        match next {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    Ok(vec![
        ExportPart::json("cache.json", &cache)?,
        ExportPart::json("extracts.json", &jobs)?,
        ExportPart::json("filings.json", &all)?,
    ])
}
