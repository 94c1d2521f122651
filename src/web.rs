//! The reference web client, served by the same app as the API: `GET /`
//! (the page) and the files of `web/public` (ES modules, CSS, fonts, icons),
//! compiled into the binary by `build.rs`. Everything else goes on to the
//! functions. The client routes with the URL fragment (`/#/dokumenty`), so
//! the server knows only `/` and the files themselves; an unknown path stays
//! the API's 404 problem.
//!
//! The page and its files carry a strict Content-Security-Policy: scripts,
//! styles, fonts and requests only from this origin, no inline script or
//! style, no framing, no plugins, forms posting only here. (The client sets
//! element styles through the CSSOM, which the policy allows, never through a
//! `style` attribute.)

use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use axum::response::Response;

mod files {
    include!(concat!(env!("OUT_DIR"), "/web_files.rs"));
}

/// The policy of every page and file of the client.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; font-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; \
     base-uri 'none'; object-src 'none'";

/// The client's file at a URL path (`/` is the page), with its ETag.
pub fn file(path: &str) -> Option<(&'static [u8], &'static str)> {
    let path = if path == "/" { "/index.html" } else { path };
    files::FILES.iter().find(|(name, _, _)| *name == path).map(|(_, bytes, etag)| (*bytes, *etag))
}

/// How many files the client has (0 when `web/public` was missing at build time).
pub fn file_count() -> usize {
    files::FILES.len()
}

/// The answer to a `GET`/`HEAD` of one of the client's files; `None` for
/// every other request, which goes on to the functions (the app's edge layer
/// in front of them asks this first).
pub fn answer<B>(request: &Request<B>) -> Option<Response> {
    let method = request.method();
    if (method != Method::GET && method != Method::HEAD) || request.uri().path().starts_with("/api/") {
        return None;
    }
    let (bytes, etag) = file(request.uri().path())?;
    let content_type = media_type(request.uri().path());
    let fresh = if_none_match(request.headers(), etag);
    let head = method == Method::HEAD;
    let mut response = if fresh {
        Response::builder().status(StatusCode::NOT_MODIFIED).body(Body::empty())
    } else if head {
        Response::builder()
            .header(header::CONTENT_TYPE, content_type)
            .header(header::CONTENT_LENGTH, bytes.len())
            .body(Body::empty())
    } else {
        Response::builder().header(header::CONTENT_TYPE, content_type).body(Body::from(bytes))
    }
    .unwrap_or_default();
    let headers = response.headers_mut();
    headers.insert(header::ETAG, HeaderValue::from_static(etag));
    // Revalidated on every use (a 304 when unchanged), so a new binary's
    // client is never mixed with an old cached module.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    headers.insert("permissions-policy", HeaderValue::from_static("camera=(), microphone=(), geolocation=()"));
    Some(response)
}

fn if_none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        })
}

fn media_type(path: &str) -> &'static str {
    let extension = path.rsplit_once('.').map(|(_, ext)| ext).unwrap_or("html");
    match extension {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "woff" => "font/woff",
        "txt" | "md" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_modules_are_compiled_in() {
        assert!(file("/").is_some_and(|(bytes, _)| bytes.starts_with(b"<!doctype html>")));
        assert!(file("/app/main.js").is_some());
        assert!(file("/nothing-here.js").is_none());
    }

    #[test]
    fn azure_serves_the_same_policy() {
        // In Azure the Static Web App serves the client (bicep/modules/ptn/portal-web) with these headers.
        let config: serde_json::Value =
            serde_json::from_str(include_str!("../web/staticwebapp.config.json")).expect("valid JSON");
        assert_eq!(config["globalHeaders"]["Content-Security-Policy"], CONTENT_SECURITY_POLICY);
    }

    #[test]
    fn media_types_by_extension() {
        assert_eq!(media_type("/app/main.js"), "text/javascript; charset=utf-8");
        assert_eq!(media_type("/vendor/gov/fonts/roboto-regular.woff2"), "font/woff2");
        assert_eq!(media_type("/index.html"), "text/html; charset=utf-8");
    }

    #[test]
    fn if_none_match_compares_strong_and_weak_tags() {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_NONE_MATCH, HeaderValue::from_static("\"other\", W/\"abc\""));
        assert!(if_none_match(&headers, "\"abc\""));
        assert!(!if_none_match(&headers, "\"abd\""));
    }
}
