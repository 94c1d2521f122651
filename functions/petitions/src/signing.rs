//! Signing and withdrawing (prohlášení o podpoře petice, §6a(2)).
//!
//! One signature per person per petition is the store's rule, not ours: the
//! signature's id is the signer id (a keyed hash of petition and subject) and
//! it is written create-only, in one batch with the increment of its counter
//! shard under that shard's ETag. Of any number of concurrent requests by one
//! citizen exactly one batch succeeds; the others find the id taken (409).
//! Signers of one instance never race for a shard: each leases one that no
//! other signer here holds ([`crate::counter::ShardLeases`]). A batch that
//! lost the counter race to a signer of another instance is prepared again, after
//! a random pause that doubles with each loss ([`after_lost_race`]) and on a
//! shard drawn afresh: signers who lost together do not all come back
//! together to the same shard (an immediate retry let a storm of 128 signers
//! on 16 shards starve some of them through all their attempts).
//!
//! A burst ([`crate::burst`]) is logged as a warning with the figures and
//! flags the petition for officials.
//!
//! **Nothing links the signer to the petition in clear.** Political opinion is
//! special-category data (GDPR art. 9), so no row of any store holds the
//! subject id next to the petition id: the signature's id is the keyed signer
//! id, its details are sealed under the petition's key, and the citizen's own
//! access-log line ("I signed a petition") names the petition only as a
//! [sealed reference](own_record) under the citizen's own key, which
//! crypto-shredding at erasure makes unreadable. Only the citizen (through
//! [`open_own_record`]) reads which petition it was.

use base64::Engine as _;
use portal_events::{Notice, SenateThresholdReached};
use portal_security::{AccessEntry, Action, Actor, SubjectId};
use portal_store::{BatchOp, NewDocument, StoreError};
use serde_json::json;

use crate::counter::{Counter, counter_id};
use crate::model::{COLLECTION, PetitionId, State, format_date};
use crate::service::PetitionService;
use crate::{MAX_ATTEMPTS, ServiceError, corrupt, events};

/// Why a signature (or its withdrawal) is refused; the routes answer each
/// with its problem.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignRefusal {
    NotFound,
    /// Not open for signing: the state it is in (published past its end date
    /// counts as closed).
    NotOpen(State),
    AlreadySigned,
    NotSigned,
    /// The identity carries no name or residence.
    NoDetails,
}

/// The signature document's id.
pub fn signature_id(signer_id: &str) -> String {
    format!("sig-{signer_id}")
}

/// The counter shard a signer id falls into (FNV-1a, stable everywhere).
pub fn shard_of(signer_id: &str, shards: u32) -> u32 {
    let hash = signer_id.bytes().fold(0x811c_9dc5_u32, |h, b| (h ^ u32::from(b)).wrapping_mul(0x0100_0193));
    hash % shards.max(1)
}

/// The pause after a counter shard's `If-Match` was lost `losses` times in a
/// row: a random share of 1 ms doubled per loss, at most 64 ms.
pub fn after_lost_race(losses: u32) -> std::time::Duration {
    let ceiling_us = 1000u64 << losses.min(6);
    std::time::Duration::from_micros(random() % ceiling_us.max(1))
}

/// A random number (from the operating system, through a version-4 UUID: its
/// low half, whose fixed variant bits are the top two, not the version's four
/// in the middle of the high half).
fn random() -> u64 {
    uuid::Uuid::new_v4().as_u64_pair().1
}

/// The field the signer's details are sealed under (owner `petition-<id>`,
/// document = the signer id).
pub const SIGNER_FIELD: &str = "signer";

/// The access-log resource type of a signature and of its withdrawal.
pub const SIGNATURE_RESOURCE: &str = "petition-signature";
/// How a sealed resource id starts in the access log.
pub const SEALED_PREFIX: &str = portal_crypto::SEALED_REFERENCE_PREFIX;

/// The petition id sealed under `subject`'s own key, as an access-log
/// resource id ([`portal_crypto::Sealer::seal_reference`]: `sealed:` and
/// base64url of the sealed bytes, a fresh nonce each time, so two lines about
/// one petition do not even match each other). The citizen's own access log
/// shows it opened.
pub async fn own_record(
    sealer: &portal_crypto::Sealer,
    subject: &SubjectId,
    id: &PetitionId,
) -> Result<String, ServiceError> {
    Ok(sealer.seal_reference(subject.as_str(), SIGNATURE_RESOURCE, id.as_str()).await?)
}

/// The petition an [`own_record`] names, opened with `subject`'s key; `None`
/// when it is not one (or the key is gone: erased).
pub async fn open_own_record(
    sealer: &portal_crypto::Sealer,
    subject: &SubjectId,
    resource_id: &str,
) -> Result<Option<PetitionId>, ServiceError> {
    let opened = sealer.open_reference(subject.as_str(), SIGNATURE_RESOURCE, resource_id).await?;
    Ok(opened.as_deref().and_then(PetitionId::parse))
}

impl PetitionService {
    fn not_open(&self, state: State) -> SignRefusal {
        SignRefusal::NotOpen(if state == State::Published { State::Closed } else { state })
    }

    /// Signs petition `id` as `subject`; the exact count after it.
    pub async fn sign(&self, id: &PetitionId, subject: &SubjectId) -> Result<Result<u64, SignRefusal>, ServiceError> {
        let p = &self.petitions;
        let today = self.today();
        let Some((petition, _)) = self.load(id).await? else { return Ok(Err(SignRefusal::NotFound)) };
        if petition.state == State::Draft {
            return Ok(Err(SignRefusal::NotFound));
        }
        if !petition.open_for_signing(today) {
            return Ok(Err(self.not_open(petition.state)));
        }
        let partition = id.partition();
        let signer_id = p.settings.signer_key.signer_id(id, subject);
        let doc_id = signature_id(&signer_id);
        if p.documents.get(COLLECTION, &partition, &doc_id).await?.is_some() {
            return Ok(Err(SignRefusal::AlreadySigned));
        }
        let Some(signer) = p.signer_details.details(subject).await? else { return Ok(Err(SignRefusal::NoDetails)) };
        let plain = serde_json::to_vec(&signer).map_err(corrupt)?;
        let sealed = p.sealer.encrypt(&partition, &signer_id, SIGNER_FIELD, &plain).await?;
        // Sealed before the signature is written: a first signature of a new
        // citizen creates their data key here, not after the batch.
        let own_reference = own_record(&p.sealer, subject, id).await?;
        let sealed = base64::engine::general_purpose::STANDARD.encode(sealed);
        let mut preferred = shard_of(&signer_id, petition.shards);
        let mut signed = false;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                let losses = u32::try_from(attempt).unwrap_or(u32::MAX);
                tokio::time::sleep(after_lost_race(losses)).await;
                preferred = u32::try_from(random() % u64::from(petition.shards.max(1))).unwrap_or(0);
            }
            // Held until the batch is answered: no other signer here writes
            // this shard meanwhile.
            let lease = self.shard_leases.lease(id, petition.shards, preferred).await;
            let shard = lease.shard();
            // The shard is the signature's own: its withdrawal decrements it.
            let signature = NewDocument::new(
                &partition,
                &doc_id,
                json!({
                    "type": "signature",
                    "shard": shard,
                    "signedOn": format_date(today),
                    "signer": sealed,
                }),
            );
            let Some(doc) = p.documents.get(COLLECTION, &partition, &counter_id(shard)).await? else {
                return Err(corrupt("a published petition without its counter shard"));
            };
            let counter: Counter = serde_json::from_value(doc.body).map_err(corrupt)?;
            if !counter.open {
                drop(lease);
                let state = self.load(id).await?.map_or(State::Closed, |(p, _)| p.state);
                return Ok(Err(self.not_open(state)));
            }
            let ops = vec![
                BatchOp::Create(signature),
                BatchOp::Replace { doc: counter.signed(today).document(&partition)?, if_match: doc.etag },
            ];
            let outcome = p.documents.batch(COLLECTION, &partition, ops).await;
            drop(lease);
            match outcome {
                Ok(_) => {
                    signed = true;
                    break;
                }
                Err(StoreError::Conflict) => return Ok(Err(SignRefusal::AlreadySigned)),
                Err(StoreError::PreconditionFailed) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        if !signed {
            return Err(ServiceError::Contended);
        }
        // The signer's own line and the catalogue's snapshot are independent
        // writes: both wait for their commit, side by side.
        let entry = AccessEntry::new(
            Actor::Citizen,
            Action::Create,
            SIGNATURE_RESOURCE,
            &own_reference,
            "podpis petice: jméno, příjmení a bydliště jsou uloženy zapečetěné pro výpis podpisů petice; \
             kterou petici jste podepsali, je zde zapečetěno vaším klíčem",
        );
        let (logged, count) = tokio::join!(
            p.access_log.record(subject, entry),
            self.refreshes.refresh(&self.petitions, id, petition.shards)
        );
        logged?;
        let count = count?;
        let now = p.clock.now();
        if let Some(in_window) = self.burst.record(id.as_str(), now) {
            tracing::warn!(
                petition = %id,
                signatures_in_window = in_window,
                window_seconds = 60,
                threshold = p.settings.burst_per_minute,
                "a burst of signatures on one petition; flagged for officials"
            );
            self.update(id, |petition| {
                petition.flagged_at.get_or_insert(now);
                Ok::<(), ()>(())
            })
            .await?
            .ok();
        }
        if petition.senate
            && petition.senate_threshold_reached_at.is_none()
            && count > p.settings.senate_threshold
            && let Ok(Some(marked)) = self
                .update(id, |petition| {
                    petition.senate_threshold_reached_at.get_or_insert(now);
                    Ok::<(), ()>(())
                })
                .await?
        {
            tracing::info!(petition = %id, signatures = count, "a petition to the Senate passed the threshold");
            let threshold = p.settings.senate_threshold;
            events::notify(p.queues.as_ref(), id.as_str(), &marked, now, |petition| {
                Notice::SenateThresholdReached(SenateThresholdReached { petition, signatures: count, threshold })
            })
            .await?;
        }
        Ok(Ok(count))
    }

    /// Withdraws `subject`'s signature while the petition is open.
    pub async fn withdraw(
        &self,
        id: &PetitionId,
        subject: &SubjectId,
    ) -> Result<Result<u64, SignRefusal>, ServiceError> {
        let p = &self.petitions;
        let Some((petition, _)) = self.load(id).await? else { return Ok(Err(SignRefusal::NotFound)) };
        if petition.state == State::Draft {
            return Ok(Err(SignRefusal::NotFound));
        }
        if !petition.open_for_signing(self.today()) {
            return Ok(Err(self.not_open(petition.state)));
        }
        let partition = id.partition();
        let doc_id = signature_id(&p.settings.signer_key.signer_id(id, subject));
        let mut withdrawn = false;
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(after_lost_race(u32::try_from(attempt).unwrap_or(u32::MAX))).await;
            }
            let Some(signature) = p.documents.get(COLLECTION, &partition, &doc_id).await? else {
                return Ok(Err(SignRefusal::NotSigned));
            };
            let shard = signature.body["shard"].as_u64().and_then(|s| u32::try_from(s).ok()).unwrap_or(0);
            let Some(doc) = p.documents.get(COLLECTION, &partition, &counter_id(shard)).await? else {
                return Err(corrupt("a signature without its counter shard"));
            };
            let counter: Counter = serde_json::from_value(doc.body).map_err(corrupt)?;
            if !counter.open {
                let state = self.load(id).await?.map_or(State::Closed, |(p, _)| p.state);
                return Ok(Err(self.not_open(state)));
            }
            let ops = vec![
                BatchOp::Delete { id: doc_id.clone(), if_match: Some(signature.etag) },
                BatchOp::Replace { doc: counter.withdrawn().document(&partition)?, if_match: doc.etag },
            ];
            match p.documents.batch(COLLECTION, &partition, ops).await {
                Ok(_) => {
                    withdrawn = true;
                    break;
                }
                Err(StoreError::PreconditionFailed | StoreError::NotFound) => continue,
                Err(error) => return Err(error.into()),
            }
        }
        if !withdrawn {
            return Err(ServiceError::Contended);
        }
        let entry = AccessEntry::new(
            Actor::Citizen,
            Action::Delete,
            SIGNATURE_RESOURCE,
            &own_record(&p.sealer, subject, id).await?,
            "odvolání podpisu petice: zapečetěné jméno a bydliště byly smazány",
        );
        p.access_log.record(subject, entry).await?;
        Ok(Ok(self.refreshes.refresh(&self.petitions, id, petition.shards).await?))
    }

    /// Whether `subject` has signed petition `id`.
    pub async fn has_signed(&self, id: &PetitionId, subject: &SubjectId) -> Result<bool, ServiceError> {
        let doc_id = signature_id(&self.petitions.settings.signer_key.signer_id(id, subject));
        Ok(self.petitions.documents.get(COLLECTION, &id.partition(), &doc_id).await?.is_some())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_spread_and_stay_in_range() {
        let mut seen = [0_u32; 16];
        for i in 0..1_000 {
            seen[shard_of(&format!("signer-{i}"), 16) as usize] += 1;
        }
        assert!(seen.iter().all(|&n| n > 20), "{seen:?}");
        assert_eq!(shard_of("x", 0), 0);
    }

    #[test]
    fn the_pause_after_a_lost_race_is_random_and_doubles_up_to_64_ms() {
        for (losses, ceiling_ms) in [(0, 1), (1, 2), (3, 8), (6, 64), (40, 64)] {
            let pauses: std::collections::HashSet<_> = (0..200).map(|_| after_lost_race(losses)).collect();
            let ceiling = std::time::Duration::from_millis(ceiling_ms);
            assert!(pauses.iter().all(|pause| *pause < ceiling), "after {losses}: {pauses:?}");
            assert!(pauses.len() > 50, "after {losses} losses the pauses differ: {}", pauses.len());
        }
    }
}
