//! A circuit breaker per summary source, per instance: after
//! [`BreakerSettings::failures_to_open`] failures in a row the source is not
//! called for [`BreakerSettings::open_for`]; then one call probes it
//! (half-open): a success closes the breaker, a failure opens it again. Time
//! is the portal's [`Clock`], so tests move it by hand.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use portal_store::Clock;
use time::OffsetDateTime;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BreakerSettings {
    pub failures_to_open: u32,
    pub open_for: Duration,
}

impl Default for BreakerSettings {
    fn default() -> Self {
        Self { failures_to_open: 5, open_for: Duration::from_secs(30) }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed {
        failures: u32,
    },
    Open {
        until: OffsetDateTime,
    },
    /// One probe is out.
    HalfOpen,
}

/// What the breaker says about calling a source now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permit {
    Call,
    /// Open: do not call.
    Refused,
}

#[derive(Debug, Clone)]
pub struct Breakers {
    settings: BreakerSettings,
    clock: Arc<dyn Clock>,
    states: Arc<Mutex<HashMap<String, State>>>,
}

impl Breakers {
    pub fn new(settings: BreakerSettings, clock: Arc<dyn Clock>) -> Self {
        Self { settings, clock, states: Arc::new(Mutex::new(HashMap::new())) }
    }

    fn states(&self) -> std::sync::MutexGuard<'_, HashMap<String, State>> {
        self.states.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// May `source` be called now? An open breaker past its time lets one
    /// probe through.
    pub fn permit(&self, source: &str) -> Permit {
        let now = self.clock.now();
        let mut states = self.states();
        let state = states.entry(source.to_owned()).or_insert(State::Closed { failures: 0 });
        match *state {
            State::Closed { .. } => Permit::Call,
            State::Open { until } if now >= until => {
                *state = State::HalfOpen;
                Permit::Call
            }
            State::Open { .. } | State::HalfOpen => Permit::Refused,
        }
    }

    pub fn success(&self, source: &str) {
        self.states().insert(source.to_owned(), State::Closed { failures: 0 });
    }

    /// A failed or timed-out call.
    pub fn failure(&self, source: &str) {
        let until = self.clock.now() + self.settings.open_for;
        let mut states = self.states();
        let state = states.entry(source.to_owned()).or_insert(State::Closed { failures: 0 });
        *state = match *state {
            State::Closed { failures } if failures + 1 < self.settings.failures_to_open => {
                State::Closed { failures: failures + 1 }
            }
            _ => State::Open { until },
        };
    }

    /// Whether the breaker of `source` is open (for the dashboard's message).
    pub fn is_open(&self, source: &str) -> bool {
        matches!(self.states().get(source), Some(State::Open { .. } | State::HalfOpen))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use portal_store::ManualClock;
    use time::macros::datetime;

    #[test]
    fn opens_after_repeated_failures_and_probes_once_later() {
        let clock = Arc::new(ManualClock::new(datetime!(2026-11-23 08:00 UTC)));
        let breakers =
            Breakers::new(BreakerSettings { failures_to_open: 3, open_for: Duration::from_secs(30) }, clock.clone());
        for _ in 0..2 {
            assert_eq!(breakers.permit("cssz"), Permit::Call);
            breakers.failure("cssz");
        }
        assert_eq!(breakers.permit("cssz"), Permit::Call, "two failures keep it closed");
        breakers.failure("cssz");
        assert_eq!(breakers.permit("cssz"), Permit::Refused, "the third opens it");
        assert_eq!(breakers.permit("erecept"), Permit::Call, "per source");
        clock.advance(Duration::from_secs(31));
        assert_eq!(breakers.permit("cssz"), Permit::Call, "one probe after the pause");
        assert_eq!(breakers.permit("cssz"), Permit::Refused, "only one");
        breakers.failure("cssz");
        assert_eq!(breakers.permit("cssz"), Permit::Refused, "a failed probe opens it again");
        clock.advance(Duration::from_secs(31));
        assert_eq!(breakers.permit("cssz"), Permit::Call);
        breakers.success("cssz");
        assert_eq!(breakers.permit("cssz"), Permit::Call);
        assert_eq!(breakers.permit("cssz"), Permit::Call, "closed again");
        assert!(!breakers.is_open("cssz"));
    }
}
