//! One way for any error to reach the edge: an error type says once whether
//! trying again can help and which problem a client sees; `?` then turns it
//! into a [`Problem`] in an HTTP handler and into an [`InvocationError`] in a
//! queue or timer function.

use crate::function::InvocationError;
use crate::problem::Problem;
use crate::runtime::error_chain;

/// An error that knows whether a retry can help and what a client may see.
pub trait Failure: std::error::Error + Send + Sync + 'static {
    /// Whether the same operation may succeed if tried again later (a
    /// throttled store, a timed-out gateway).
    fn is_retryable(&self) -> bool;

    /// The problem an HTTP client sees. The default says nothing internal:
    /// 503 when a retry can help, 500 otherwise.
    fn problem(&self) -> Problem {
        if self.is_retryable() { Problem::unavailable("a service the portal depends on") } else { Problem::internal() }
    }
}

/// A 5xx logs the whole cause chain, once, here; the client sees only the
/// problem.
impl<E: Failure> From<E> for Problem {
    fn from(error: E) -> Self {
        let problem = error.problem();
        if problem.status >= 500 {
            tracing::error!(error = %error_chain(&error), status = problem.status, "request failed");
        }
        problem
    }
}

/// A queue or timer function's failure: retried by the host when a retry can
/// help, recorded and acknowledged when it cannot.
impl<E: Failure> From<E> for InvocationError {
    fn from(error: E) -> Self {
        if error.is_retryable() { InvocationError::retryable(error) } else { InvocationError::permanent(error) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("test failure")]
    struct Passing(bool);

    impl Failure for Passing {
        fn is_retryable(&self) -> bool {
            self.0
        }
    }

    fn invoke(retryable: bool) -> Result<(), InvocationError> {
        Err(Passing(retryable))?
    }

    fn handle(retryable: bool) -> Result<(), Problem> {
        Err(Passing(retryable))?
    }

    #[test]
    fn a_passing_fault_is_retried_and_a_permanent_one_is_not() {
        assert!(matches!(invoke(true), Err(InvocationError::Retryable(_))));
        assert!(matches!(invoke(false), Err(InvocationError::Permanent(_))));
    }

    #[test]
    fn clients_see_503_or_500_without_internal_text() {
        let unavailable = handle(true).expect_err("fails");
        assert_eq!(unavailable.status, 503);
        let internal = handle(false).expect_err("fails");
        assert_eq!(internal.status, 500);
        assert!(!internal.detail.unwrap_or_default().contains("test failure"));
    }
}
