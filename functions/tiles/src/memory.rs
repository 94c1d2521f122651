//! What one instance keeps in memory beside the store: the published
//! catalogue for a few seconds, and a turn per citizen for the writers of
//! the citizen's sealed document ([`crate::personal`]).
//!
//! **The catalogue** is the same for every citizen and changes only when an
//! official publishes, unpublishes or rolls back, so a dashboard need not
//! read the modeller's records (and rebuild the 49 built-in tiles) on every
//! view. It is kept for [`crate::TilesSettings::catalogue_for`] (5 s by
//! default). A change through this instance's modeller forgets it at once
//! (`modeller::save`); other instances see the change when their copy
//! expires, within that time. A read that started before a change never
//! puts back what it read (a generation counter), so this instance never
//! serves a catalogue older than its last change. Nothing personal is kept.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::definition::TileDefinition;

/// How many locks the citizens' writers share (by a hash of the subject).
const WRITER_STRIPES: usize = 64;

#[derive(Debug, Default)]
struct CatalogueSlot {
    /// Bumped by every change: a read from before it is not kept.
    generation: u64,
    held: Option<(Instant, Arc<Vec<TileDefinition>>)>,
}

/// See the module's documentation. Cheap to clone; clones share.
#[derive(Debug, Clone)]
pub struct InstanceMemory {
    catalogue: Arc<std::sync::Mutex<CatalogueSlot>>,
    writers: Arc<Vec<tokio::sync::Mutex<()>>>,
}

impl Default for InstanceMemory {
    fn default() -> Self {
        Self {
            catalogue: Arc::default(),
            writers: Arc::new((0..WRITER_STRIPES).map(|_| tokio::sync::Mutex::new(())).collect()),
        }
    }
}

/// A catalogue to read from the store, to be kept with [`InstanceMemory::keep_catalogue`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogueTicket(u64);

impl InstanceMemory {
    fn slot(&self) -> std::sync::MutexGuard<'_, CatalogueSlot> {
        // The slot is only ever left consistent, so a panic elsewhere
        // holding the lock leaves nothing half-written.
        self.catalogue.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The catalogue kept within `max_age`, or a ticket to keep a fresh read.
    pub fn catalogue(&self, max_age: Duration) -> Result<Arc<Vec<TileDefinition>>, CatalogueTicket> {
        let slot = self.slot();
        match &slot.held {
            Some((at, catalogue)) if at.elapsed() < max_age => Ok(catalogue.clone()),
            _ => Err(CatalogueTicket(slot.generation)),
        }
    }

    /// Keeps a catalogue read from the store, unless it changed since the
    /// ticket was taken.
    pub fn keep_catalogue(&self, ticket: CatalogueTicket, catalogue: Arc<Vec<TileDefinition>>) {
        let mut slot = self.slot();
        if slot.generation == ticket.0 {
            slot.held = Some((Instant::now(), catalogue));
        }
    }

    /// Forgets the catalogue: a definition changed through this instance.
    pub fn forget_catalogue(&self) {
        let mut slot = self.slot();
        slot.generation += 1;
        slot.held = None;
    }

    /// Waits for the turn to write `owner`'s sealed document on this instance.
    pub async fn writer_turn(&self, owner: &str) -> tokio::sync::MutexGuard<'_, ()> {
        use std::hash::Hasher;
        let mut hasher = std::hash::DefaultHasher::new();
        hasher.write(owner.as_bytes());
        let stripe = usize::try_from(hasher.finish() % WRITER_STRIPES as u64).unwrap_or(0);
        self.writers[stripe].lock().await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_forgets_the_catalogue_and_an_older_read_is_not_kept() {
        let memory = InstanceMemory::default();
        let long = Duration::from_secs(60);
        let ticket = memory.catalogue(long).expect_err("nothing kept yet");
        memory.keep_catalogue(ticket, Arc::new(Vec::new()));
        assert!(memory.catalogue(long).is_ok(), "kept");
        assert!(memory.catalogue(Duration::ZERO).is_err(), "too old for a zero age");

        let before_change = memory.catalogue(Duration::ZERO).expect_err("stale");
        memory.forget_catalogue();
        assert!(memory.catalogue(long).is_err(), "forgotten at once");
        memory.keep_catalogue(before_change, Arc::new(Vec::new()));
        assert!(memory.catalogue(long).is_err(), "a read from before the change is not kept");
        let after = memory.catalogue(long).expect_err("nothing kept");
        memory.keep_catalogue(after, Arc::new(Vec::new()));
        assert!(memory.catalogue(long).is_ok());
    }
}
