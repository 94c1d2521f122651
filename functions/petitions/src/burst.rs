//! The burst detector: more than
//! [`crate::PetitionsSettings::burst_per_minute`] signatures on one petition
//! within a minute, counted per instance, is logged as a warning with the
//! figures and flags the petition for officials.

use std::collections::HashMap;
use std::sync::Mutex;

use time::OffsetDateTime;

/// Signatures per petition per minute, in memory (per instance).
#[derive(Debug)]
pub struct BurstDetector {
    threshold: u32,
    windows: Mutex<HashMap<String, (i64, u32)>>,
}

impl BurstDetector {
    pub fn new(threshold: u32) -> Self {
        Self { threshold, windows: Mutex::new(HashMap::new()) }
    }

    /// Counts one signature; the count in the minute when it just passed the
    /// threshold (once per petition and minute), else `None`.
    pub fn record(&self, petition: &str, now: OffsetDateTime) -> Option<u32> {
        if self.threshold == 0 {
            return None;
        }
        let minute = now.unix_timestamp().div_euclid(60);
        let mut windows = self.windows.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if windows.len() > 10_000 {
            windows.retain(|_, (m, _)| *m == minute);
        }
        let window = windows.entry(petition.to_owned()).or_insert((minute, 0));
        if window.0 != minute {
            *window = (minute, 0);
        }
        window.1 += 1;
        (window.1 == self.threshold + 1).then_some(window.1)
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    #[test]
    fn a_burst_is_reported_once_per_minute() {
        let detector = BurstDetector::new(3);
        let at = datetime!(2026-11-23 08:00:10 UTC);
        let reports: Vec<_> = (0..6).map(|_| detector.record("p", at)).collect();
        assert_eq!(reports, [None, None, None, Some(4), None, None]);
        assert_eq!(detector.record("other", at), None, "per petition");
        assert_eq!(detector.record("p", datetime!(2026-11-23 08:01:00 UTC)), None, "a new minute starts at zero");
    }
}
