//! The client's address, for limits per client: taken only from what the
//! portal's own proxies wrote, never from a value the client could write.
//!
//! A client can send any `X-Forwarded-For`; each proxy in front of the portal
//! *appends* the address it received the request from. So with `N` trusted
//! proxies the last `N` entries are theirs and the entry the outermost one
//! wrote (the `N`-th from the right) is the client as the edge saw it. The
//! leftmost entry is the client's own text and is never used. Behind Azure
//! Front Door, which overwrites `X-Azure-ClientIP` with the address it saw,
//! that header is named instead.

use axum::http::{HeaderMap, HeaderName};

/// Where the client's address comes from (settings `PORTAL_CLIENT_IP_HEADER`
/// and `PORTAL_TRUSTED_PROXY_HOPS`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientAddressRule {
    /// A header a trusted edge overwrites with the client's address
    /// (Front Door: `X-Azure-ClientIP`); wins when present.
    header: Option<HeaderName>,
    /// How many trusted proxies append to `X-Forwarded-For`.
    trusted_hops: usize,
}

/// What a request without any address counts as.
pub const UNKNOWN_CLIENT: &str = "unknown";

impl ClientAddressRule {
    /// `header`: a header the edge overwrites (`None`: none); `trusted_hops`:
    /// how many proxies append to `X-Forwarded-For` (0: the request's own
    /// `X-Forwarded-For` is not trusted at all).
    pub fn new(header: Option<HeaderName>, trusted_hops: usize) -> Self {
        Self { header, trusted_hops }
    }

    /// The client's address for this request, or [`UNKNOWN_CLIENT`].
    pub fn client_address(&self, headers: &HeaderMap) -> String {
        if let Some(name) = &self.header
            && let Some(value) = headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim)
            && !value.is_empty()
        {
            return value.to_owned();
        }
        if self.trusted_hops == 0 {
            return UNKNOWN_CLIENT.to_owned();
        }
        // Several X-Forwarded-For headers are one list, in order.
        let entries: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        // Fewer entries than trusted hops: every entry is a proxy's; the
        // outermost one wrote the first.
        let index = entries.len().saturating_sub(self.trusted_hops);
        entries.get(index).map_or_else(|| UNKNOWN_CLIENT.to_owned(), |v| (*v).to_owned())
    }
}

impl Default for ClientAddressRule {
    /// One trusted hop (the platform's front end), no edge header.
    fn default() -> Self {
        Self::new(None, 1)
    }
}

#[cfg(test)]
mod tests {
    use axum::http::{HeaderMap, HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(HeaderName::from_static(name), HeaderValue::from_static(value));
        }
        map
    }

    #[test]
    fn a_client_written_forwarded_for_entry_is_never_the_address() {
        let rule = ClientAddressRule::new(None, 1);
        // The client wrote 203.0.113.7; the platform appended 198.51.100.1.
        let sent = headers(&[("x-forwarded-for", "203.0.113.7, 198.51.100.1")]);
        assert_eq!(rule.client_address(&sent), "198.51.100.1");
        let two_hops = ClientAddressRule::new(None, 2);
        let sent = headers(&[("x-forwarded-for", "10.9.9.9, 203.0.113.7"), ("x-forwarded-for", "198.51.100.1")]);
        assert_eq!(two_hops.client_address(&sent), "203.0.113.7");
        assert_eq!(ClientAddressRule::new(None, 0).client_address(&sent), UNKNOWN_CLIENT);
        assert_eq!(rule.client_address(&HeaderMap::new()), UNKNOWN_CLIENT);
    }

    #[test]
    fn the_edge_header_wins_when_configured() {
        let rule = ClientAddressRule::new(Some(HeaderName::from_static("x-azure-clientip")), 1);
        let sent = headers(&[("x-azure-clientip", "192.0.2.4"), ("x-forwarded-for", "1.1.1.1, 192.0.2.4")]);
        assert_eq!(rule.client_address(&sent), "192.0.2.4");
        let unconfigured = ClientAddressRule::new(None, 1);
        assert_eq!(unconfigured.client_address(&headers(&[("x-azure-clientip", "192.0.2.4")])), UNKNOWN_CLIENT);
    }
}
