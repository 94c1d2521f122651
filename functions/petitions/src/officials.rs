//! The module for officials (§6a(5)): officials of the Ministry of the
//! Interior log in like citizens and are authorised by the list in
//! [`crate::PetitionsSettings::officials`]. They list petitions (filter by
//! state and by the burst detector's flag), block a petition whose content
//! breaks §1(3)/(4) with a written reason (signing stops in the same write;
//! the creator is told), unblock it, and read statistics.
//!
//! Blocking and unblocking go into the creator's access log with
//! `Actor::Official { id }` where `id` is the official's pseudonymous
//! reference ([`PetitionService::official_reference`]: `MV-` and a keyed hash
//! of the subject id), never the subject id itself: the creator can quote it
//! to the Ministry, which alone can tell whose it is (it holds the key and the
//! list of its officials). Every official read (the list, the statistics) goes
//! into the official's own access log under the same reference, and every
//! official action is a log line naming the official by a fingerprint.

use std::collections::BTreeMap;

use portal_events::{Notice, PetitionBlocked, PetitionUnblocked};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use serde::Serialize;
use time::Duration;

use crate::ServiceError;
use crate::catalogue;
use crate::events;
use crate::model::Petition;
use crate::model::{PetitionId, State, format_date};
use crate::service::PetitionService;

pub const MIN_REASON: usize = 10;
pub const MAX_REASON: usize = 2_000;
/// Days of the per-day statistics.
pub const STATS_DAYS: i64 = 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockRefusal {
    NotFound,
    WrongState(State),
}

/// Statistics for officials.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Petitions ever published.
    pub petitions: u64,
    /// Petitions per state (`published`, `closed`, `handed-over`, `blocked`).
    pub by_state: BTreeMap<String, u64>,
    /// Petitions the burst detector flagged.
    pub flagged: u64,
    /// Standing signatures on all published, closed, handed-over and
    /// blocked petitions.
    pub signatures: u64,
    /// Signatures given per Prague day, the last 30 days, oldest first.
    pub per_day: Vec<DayCount>,
}

/// Signatures given on one Prague day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DayCount {
    /// `YYYY-MM-DD`.
    pub date: String,
    pub signatures: u64,
}

/// How logs name an official: a fingerprint of the subject id.
pub fn fingerprint(subject: &SubjectId) -> String {
    format!("{subject:?}")
}

impl PetitionService {
    pub fn is_official(&self, subject: &SubjectId) -> bool {
        self.petitions.settings.officials.iter().any(|official| official == subject.as_str())
    }

    /// The official's pseudonymous reference: `MV-` and 16 characters of
    /// base64url(HMAC-SHA256(signer key, "official" ‖ 0x00 ‖ subject)).
    /// Stable for one official, unlinkable to the subject id without the key.
    pub fn official_reference(&self, official: &SubjectId) -> String {
        let keyed = self.petitions.settings.signer_key.keyed("official", official.as_str());
        format!("MV-{}", &keyed[..16])
    }

    /// Records an official's read (`resource_type`: `petitions-list`,
    /// `petition-statistics`) in the official's own access log.
    pub async fn record_official_read(
        &self,
        official: &SubjectId,
        resource_type: &str,
        resource_id: &str,
        purpose: &str,
    ) -> Result<(), ServiceError> {
        let entry = AccessEntry::new(
            Actor::Official { id: self.official_reference(official) },
            Action::Read,
            resource_type,
            resource_id,
            purpose,
        );
        self.petitions.access_log.record(official, entry).await?;
        Ok(())
    }

    async fn record_official(
        &self,
        petition: &Petition,
        official: &SubjectId,
        purpose: &str,
    ) -> Result<(), ServiceError> {
        let Ok(creator) = SubjectId::parse(&petition.creator) else { return Ok(()) };
        let entry = AccessEntry::new(
            Actor::Official { id: self.official_reference(official) },
            Action::Update,
            "petition",
            &petition.id,
            purpose,
        );
        self.petitions.access_log.record(&creator, entry).await?;
        Ok(())
    }

    /// Blocks signing of a published petition.
    pub async fn block(
        &self,
        id: &PetitionId,
        official: &SubjectId,
        reason: &str,
    ) -> Result<Result<Petition, BlockRefusal>, ServiceError> {
        let now = self.petitions.clock.now();
        let changed = self
            .update(id, |p| match p.state {
                State::Draft => Err(BlockRefusal::NotFound),
                State::Blocked => Ok(()),
                State::Published => {
                    p.state = State::Blocked;
                    p.blocked_at = Some(now);
                    p.block_reason = Some(reason.to_owned());
                    Ok(())
                }
                other => Err(BlockRefusal::WrongState(other)),
            })
            .await?;
        let petition = match changed {
            Ok(Some(petition)) => petition,
            Ok(None) => return Ok(Err(BlockRefusal::NotFound)),
            Err(refusal) => return Ok(Err(refusal)),
        };
        let at = petition.blocked_at.unwrap_or(now);
        self.record_official(
            &petition,
            official,
            "zablokování petice ministerstvem vnitra (§ 6a odst. 5 zákona č. 85/1990 Sb.)",
        )
        .await?;
        tracing::info!(official = %fingerprint(official), action = "block", petition = %id, "official action");
        let key = format!("{id}:{}", at.unix_timestamp());
        let reason = petition.block_reason.clone();
        let blocked = |petition| Notice::PetitionBlocked(PetitionBlocked { petition, reason, blocked_at: Some(at) });
        events::notify(self.petitions.queues.as_ref(), &key, &petition, at, blocked).await?;
        Ok(Ok(petition))
    }

    /// Lifts a block: published again, or closed if its end date has passed.
    pub async fn unblock(
        &self,
        id: &PetitionId,
        official: &SubjectId,
    ) -> Result<Result<Petition, BlockRefusal>, ServiceError> {
        let now = self.petitions.clock.now();
        let today = self.today();
        let mut blocked_at = None;
        let changed = self
            .update(id, |p| match p.state {
                State::Blocked => {
                    blocked_at = p.blocked_at;
                    p.blocked_at = None;
                    p.block_reason = None;
                    if today > p.ends_on {
                        p.state = State::Closed;
                        p.closed_at = Some(now);
                        p.closed_by = Some("end-date".into());
                    } else {
                        p.state = State::Published;
                    }
                    Ok(())
                }
                State::Draft => Err(BlockRefusal::NotFound),
                other => Err(BlockRefusal::WrongState(other)),
            })
            .await?;
        let petition = match changed {
            Ok(Some(petition)) => petition,
            Ok(None) => return Ok(Err(BlockRefusal::NotFound)),
            Err(refusal) => return Ok(Err(refusal)),
        };
        self.record_official(&petition, official, "odblokování petice ministerstvem vnitra").await?;
        tracing::info!(official = %fingerprint(official), action = "unblock", petition = %id, "official action");
        let key = format!("{id}:{}", blocked_at.unwrap_or(now).unix_timestamp());
        let state = petition.state.as_str().to_owned();
        let unblocked = |petition| Notice::PetitionUnblocked(PetitionUnblocked { petition, state });
        events::notify(self.petitions.queues.as_ref(), &key, &petition, now, unblocked).await?;
        Ok(Ok(petition))
    }

    /// Counts by state, signatures in total and per day.
    pub async fn stats(&self) -> Result<Stats, ServiceError> {
        let today = self.today();
        let days: Vec<String> = (0..STATS_DAYS).rev().map(|back| format_date(today - Duration::days(back))).collect();
        let mut per_day: BTreeMap<String, u64> = days.iter().map(|d| (d.clone(), 0)).collect();
        let mut stats =
            Stats { petitions: 0, by_state: BTreeMap::new(), flagged: 0, signatures: 0, per_day: Vec::new() };
        for entry in catalogue::all(&self.petitions).await? {
            stats.petitions += 1;
            let state = entry.body["state"].as_str().unwrap_or("unknown").to_owned();
            *stats.by_state.entry(state).or_insert(0) += 1;
            if entry.body["flagged"] == true {
                stats.flagged += 1;
            }
            let Some(id) = PetitionId::parse(&entry.id) else { continue };
            let shards = entry.body["shards"].as_u64().and_then(|s| u32::try_from(s).ok()).unwrap_or(0);
            for (counter, _) in self.counters(&id, shards).await? {
                stats.signatures += counter.count;
                for (day, n) in counter.days {
                    if let Some(total) = per_day.get_mut(&day) {
                        *total += n;
                    }
                }
            }
        }
        stats.per_day = per_day.into_iter().map(|(date, signatures)| DayCount { date, signatures }).collect();
        Ok(stats)
    }
}

/// The statistics as CSV (`;`, UTF-8 with BOM, CRLF): `metric;key;value`.
pub fn stats_csv(stats: &Stats) -> Vec<u8> {
    let mut out = String::from("\u{feff}metric;key;value\r\n");
    out.push_str(&format!("petitions;all;{}\r\n", stats.petitions));
    for (state, n) in &stats.by_state {
        out.push_str(&format!("state;{state};{n}\r\n"));
    }
    out.push_str(&format!("flagged;all;{}\r\n", stats.flagged));
    out.push_str(&format!("signatures;all;{}\r\n", stats.signatures));
    for day in &stats.per_day {
        out.push_str(&format!("day;{};{}\r\n", day.date, day.signatures));
    }
    out.into_bytes()
}
