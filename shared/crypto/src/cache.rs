//! The bounded, expiring cache of unwrapped data keys.

use std::collections::{HashMap, VecDeque};
use std::time::Duration;

use time::OffsetDateTime;

/// Owner → unwrapped key (generic, so the cache knows nothing of the keyring), at most `capacity` entries, each for `ttl` after it
/// was loaded. The TTL is the same for every entry, so the entry loaded first
/// expires first and eviction is first-in, first-out. Keys are zeroized when
/// the last holder drops them ([`DataKey`](crate::DataKey) does it on drop).
#[derive(Debug)]
pub(crate) struct KeyCache<K> {
    capacity: usize,
    ttl: Duration,
    entries: HashMap<String, Entry<K>>,
    /// Insertion order; stale positions (replaced or removed entries) are skipped.
    order: VecDeque<(String, u64)>,
    next_seq: u64,
}

#[derive(Debug)]
struct Entry<K> {
    key: K,
    expires: OffsetDateTime,
    /// When the store last confirmed that the key was not shredded.
    checked: OffsetDateTime,
    seq: u64,
}

impl<K: Clone> KeyCache<K> {
    pub fn new(capacity: usize, ttl: Duration) -> Self {
        Self { capacity, ttl, entries: HashMap::new(), order: VecDeque::new(), next_seq: 0 }
    }

    /// The unexpired key of `owner` and when the store last confirmed it.
    pub fn get(&mut self, owner: &str, now: OffsetDateTime) -> Option<(K, OffsetDateTime)> {
        let entry = self.entries.get(owner)?;
        if entry.expires > now {
            return Some((entry.key.clone(), entry.checked));
        }
        self.entries.remove(owner);
        None
    }

    /// Records that the store confirmed `owner`'s key (still there) at `now`.
    pub fn confirm(&mut self, owner: &str, now: OffsetDateTime) {
        if let Some(entry) = self.entries.get_mut(owner) {
            entry.checked = entry.checked.max(now);
        }
    }

    /// Takes back a [`confirm`](Self::confirm) made at `at` whose check did not
    /// happen: the entry is confirmed as of `before` again (unless confirmed
    /// since, or replaced).
    pub fn unconfirm(&mut self, owner: &str, at: OffsetDateTime, before: OffsetDateTime) {
        if let Some(entry) = self.entries.get_mut(owner)
            && entry.checked == at
        {
            entry.checked = before;
        }
    }

    pub fn insert(&mut self, owner: &str, key: K, now: OffsetDateTime) {
        if self.capacity == 0 || self.ttl.is_zero() {
            return;
        }
        if !self.entries.contains_key(owner) {
            while self.entries.len() >= self.capacity {
                let Some((oldest, seq)) = self.order.pop_front() else { break };
                if self.entries.get(&oldest).is_some_and(|entry| entry.seq == seq) {
                    self.entries.remove(&oldest);
                }
            }
        }
        let seq = self.next_seq;
        self.next_seq += 1;
        self.entries.insert(owner.to_owned(), Entry { key, expires: now + self.ttl, checked: now, seq });
        self.order.push_back((owner.to_owned(), seq));
        if self.order.len() > 2 * self.capacity + 16 {
            let entries = &self.entries;
            self.order.retain(|(owner, seq)| entries.get(owner).is_some_and(|entry| entry.seq == *seq));
        }
    }

    pub fn remove(&mut self, owner: &str) {
        self.entries.remove(owner);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }
}
