//! Closing a petition: by its creator (`POST /api/petitions/{id}/close`) or
//! by the timer `ClosePetitions` once its end date has passed in Prague.
//!
//! The timer reads the catalogue's published entries whose end day is before
//! today (one partition, one query) and closes each; the close is an
//! ETag-guarded change of the petition and its counter shards, so signing
//! stops in the same write. A second run, or a run after a crash, finds the
//! petition closed and only publishes the creator's notification again (its
//! id is fixed, the consumer drops the repeat).

use portal_events::{Notice, PetitionClosed};
use portal_security::SubjectId;

use crate::ServiceError;
use crate::events;
use crate::model::{Petition, PetitionId, State};
use crate::service::PetitionService;

pub const JOB: &str = "ClosePetitions";
/// Daily at 00:05 UTC (01:05 or 02:05 in Prague: the Prague date has turned).
pub const SCHEDULE: &str = "0 5 0 * * *";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClosedBy {
    Creator,
    EndDate,
}

impl ClosedBy {
    fn as_str(self) -> &'static str {
        match self {
            Self::Creator => "creator",
            Self::EndDate => "end-date",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CloseRefusal {
    NotFound,
    /// Only a published petition can be closed.
    NotPublished(State),
    /// The timer found a petition whose end date has not passed.
    NotDue,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClosingReport {
    pub due: u64,
    pub closed: u64,
    pub failed: u64,
}

impl PetitionService {
    /// Closes the petition. `creator`: only that citizen's petition (the
    /// route); `None`: the timer. Closing a closed petition again is fine.
    pub async fn close(
        &self,
        id: &PetitionId,
        by: ClosedBy,
        creator: Option<&SubjectId>,
    ) -> Result<Result<Petition, CloseRefusal>, ServiceError> {
        let now = self.petitions.clock.now();
        let today = self.today();
        let changed = self
            .update(id, |p| {
                if p.state == State::Draft || creator.is_some_and(|c| c.as_str() != p.creator) {
                    return Err(CloseRefusal::NotFound);
                }
                match p.state {
                    State::Closed => Ok(()),
                    State::Published if by == ClosedBy::EndDate && today <= p.ends_on => Err(CloseRefusal::NotDue),
                    State::Published => {
                        p.state = State::Closed;
                        p.closed_at = Some(now);
                        p.closed_by = Some(by.as_str().to_owned());
                        Ok(())
                    }
                    other => Err(CloseRefusal::NotPublished(other)),
                }
            })
            .await?;
        let petition = match changed {
            Ok(Some(petition)) => petition,
            Ok(None) => return Ok(Err(CloseRefusal::NotFound)),
            Err(refusal) => return Ok(Err(refusal)),
        };
        let closed_by = petition.closed_by.clone().unwrap_or_default();
        let at = petition.closed_at.unwrap_or(now);
        let queues = self.petitions.queues.as_ref();
        let closed = |petition| Notice::PetitionClosed(PetitionClosed { petition, closed_by: closed_by.clone() });
        events::notify(queues, id.as_str(), &petition, at, closed).await?;
        if closed_by == ClosedBy::Creator.as_str() {
            let cancelled = events::end_date_entry(&petition, true);
            events::calendar(queues, events::END_DATE, &format!("{id}:cancelled"), &petition, at, &cancelled).await?;
        }
        Ok(Ok(petition))
    }
}

/// The timer `ClosePetitions`: closes every published petition whose end
/// date is past. One petition's failure is counted and retried next run.
pub async fn run(service: &PetitionService) -> Result<ClosingReport, ServiceError> {
    let today = service.today();
    let mut report = ClosingReport::default();
    for id in crate::catalogue::due_for_closing(&service.petitions, today.to_julian_day()).await? {
        report.due += 1;
        match service.close(&id, ClosedBy::EndDate, None).await {
            Ok(Ok(_)) => report.closed += 1,
            Ok(Err(refusal)) => tracing::info!(petition = %id, ?refusal, "a due petition was not closed"),
            Err(error) => {
                report.failed += 1;
                tracing::warn!(petition = %id, error = %portal_host::runtime::error_chain(&error), "closing a petition failed; retried next run");
            }
        }
    }
    tracing::info!(
        due = report.due,
        closed = report.closed,
        failed = report.failed,
        "petitions past their end date closed"
    );
    Ok(report)
}
