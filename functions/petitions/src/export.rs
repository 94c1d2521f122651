//! Petitions' part of the citizen's export (`portal_security::export`):
//! `created.json` (every petition the citizen created, as they see it) with
//! `attachments/<petition>/<n>-<name>` (the PDFs they attached), and
//! `signed.json` (the petitions they signed and have not withdrawn, and every
//! signing and withdrawal with its time). Which petitions a citizen signed is
//! stored nowhere in clear: it is read from their own access-log lines, each
//! naming the petition sealed under the citizen's own key
//! ([`crate::signing::open_own_record`]), so only this export, run for them,
//! can put it together.

use portal_security::export::{ExportError, ExportFuture, ExportPart, ExportSource};
use portal_security::{AccessFilter, Action, SubjectId};
use portal_store::{FilterOp, Order, Query};
use serde_json::json;

use crate::http::{PublicPetition, my_view};
use crate::model::{COLLECTION, PetitionId};
use crate::service::PetitionService;
use crate::signing::{SIGNATURE_RESOURCE, open_own_record};

impl ExportSource for PetitionService {
    fn name(&self) -> &'static str {
        "petitions"
    }

    fn export<'a>(&'a self, subject: &'a SubjectId) -> ExportFuture<'a> {
        Box::pin(async move { export_parts(self, subject).await.map_err(|error| ExportError::of(&error)) })
    }
}

async fn export_parts(s: &PetitionService, subject: &SubjectId) -> Result<Vec<ExportPart>, crate::ServiceError> {
    let mut parts = Vec::new();
    let query = Query::default()
        .filter("type", FilterOp::Eq, "my-petition")
        .order_by("createdAtNanos", Order::Descending)
        .page_size(1000);
    let mut created = Vec::new();
    for doc in s.petitions.documents.query(COLLECTION, subject.as_str(), query).await?.items {
        let Some(id) = doc.body["petitionId"].as_str().and_then(PetitionId::parse) else { continue };
        let Some((petition, _)) = s.load(&id).await? else { continue };
        if petition.creator != subject.as_str() {
            continue;
        }
        for attachment in &petition.attachments {
            if let Some((entry, content)) = s.attachment_content(&petition, attachment.index).await? {
                parts.push(ExportPart::file(format!("attachments/{id}/{}-{}", entry.index, entry.file_name), content));
            }
        }
        created.push(my_view(s, &petition).await?);
    }

    let mut acts = Vec::new();
    let mut signed_ids: Vec<PetitionId> = Vec::new();
    let filter = AccessFilter { resource_type: Some(SIGNATURE_RESOURCE.into()), ..AccessFilter::default() };
    let mut continuation = None;
    loop {
        let page = s.petitions.access_log.list(subject, &filter, 500, continuation.take()).await?;
        for entry in page.items {
            let Some(id) = open_own_record(&s.petitions.sealer, subject, &entry.resource_id).await? else { continue };
            let act = match entry.action {
                Action::Create => "signed",
                Action::Delete => "withdrawn",
                _ => continue,
            };
            let at = entry.at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
            acts.push(json!({"petitionId": id.as_str(), "act": act, "at": at}));
            if !signed_ids.contains(&id) {
                signed_ids.push(id);
            }
        }
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => break,
        }
    }
    let mut signed = Vec::new();
    for id in &signed_ids {
        if !s.has_signed(id, subject).await? {
            continue;
        }
        if let Some((petition, _)) = s.load(id).await? {
            let count = s.count(id, petition.shards).await?;
            signed.push(PublicPetition::of(&petition, count));
        }
    }
    let failed = |error: ExportError| crate::corrupt(error.message);
    parts.push(ExportPart::json("created.json", &created).map_err(failed)?);
    parts.push(ExportPart::json("signed.json", &json!({"petitions": signed, "acts": acts})).map_err(failed)?);
    Ok(parts)
}
