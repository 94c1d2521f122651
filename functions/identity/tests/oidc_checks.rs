//! The relying party's checks of what the provider publishes and signs, run
//! against a stand-in provider whose discovery issuer and key-set status the
//! test controls (tokens signed with `jose::forge`). The full flow against a
//! real provider is in `login.rs`.

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::StatusCode;
use portal_identity::jose::forge;
use portal_identity::oidc::{DISCOVERY_REFETCH, OidcError, OidcSettings, Provider};
use portal_security::Loa;
use portal_store::{Clock as _, ManualClock};
use serde_json::json;
use time::OffsetDateTime;

struct StandIn {
    base: String,
    issuer: Arc<Mutex<String>>,
    jwks_status: Arc<AtomicU16>,
    signer: String,
}

async fn stand_in() -> StandIn {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("address"));
    let issuer = Arc::new(Mutex::new(base.clone()));
    let jwks_status = Arc::new(AtomicU16::new(200));
    let signer = forge::new_rsa_pem();
    let discovery = {
        let (base, issuer) = (base.clone(), issuer.clone());
        move || async move {
            axum::Json(json!({
                "issuer": *issuer.lock().expect("lock"),
                "authorization_endpoint": format!("{base}/authorize"),
                "token_endpoint": format!("{base}/token"),
                "jwks_uri": format!("{base}/jwks"),
            }))
        }
    };
    let jwks = {
        let (status, key) = (jwks_status.clone(), forge::public_jwk(&signer, "k1"));
        move || async move {
            let status = StatusCode::from_u16(status.load(Ordering::SeqCst)).expect("status");
            (status, axum::Json(json!({"keys": [key]})))
        }
    };
    let app = Router::new()
        .route("/.well-known/openid-configuration", axum::routing::get(discovery))
        .route("/jwks", axum::routing::get(jwks));
    tokio::spawn(async move { axum::serve(listener, app).await });
    StandIn { base, issuer, jwks_status, signer }
}

fn provider(stand_in: &StandIn, issuer: Option<String>, clock: Arc<ManualClock>) -> Provider {
    let settings = OidcSettings {
        discovery_url: format!("{}/.well-known/openid-configuration", stand_in.base),
        client_id: "portal".into(),
        client_secret: "secret".into(),
        redirect_url: "https://portal.test/api/auth/callback".into(),
        post_logout_redirect_url: None,
        issuer,
        decryption_key: None,
    };
    Provider::new(settings, clock)
}

fn token(stand_in: &StandIn, now: OffsetDateTime, acr: &str) -> String {
    token_with(stand_in, now, acr, None)
}

fn token_with(stand_in: &StandIn, now: OffsetDateTime, acr: &str, auth_time: Option<OffsetDateTime>) -> String {
    let mut claims = json!({
        "iss": stand_in.base, "aud": "portal", "nonce": "n0nce", "acr": acr,
        "iat": now.unix_timestamp(), "exp": now.unix_timestamp() + 300,
        "PersonIdentifier": "CZ/CZ/1234",
    });
    if let Some(at) = auth_time {
        claims["auth_time"] = json!(at.unix_timestamp());
    }
    forge::sign_rs256(&stand_in.signer, Some("k1"), &claims)
}

fn clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(OffsetDateTime::now_utc()))
}

#[tokio::test]
async fn only_the_exact_eidas_loa_uris_are_accepted_in_acr() {
    let stand_in = stand_in().await;
    let clock = clock();
    let provider = provider(&stand_in, None, clock.clone());
    for acr in [
        "high",
        "substantial",
        "HTTP://EIDAS.EUROPA.EU/LoA/high",
        "http://eidas.europa.eu/LoA/high ",
        "https://eidas.europa.eu/LoA/high",
        "http://eidas.europa.eu/LoA/high#x",
    ] {
        let refused = provider.verify(&token(&stand_in, clock.now(), acr), "n0nce").await;
        assert!(matches!(refused, Err(OidcError::Claim(_))), "{acr}: {refused:?}");
    }
    let login = provider.verify(&token(&stand_in, clock.now(), Loa::HIGH_URI), "n0nce").await.expect("eIDAS high");
    assert_eq!(login.loa, Loa::High);
}

#[tokio::test]
async fn a_key_set_answering_an_error_status_refuses_the_login() {
    let stand_in = stand_in().await;
    stand_in.jwks_status.store(503, Ordering::SeqCst);
    let clock = clock();
    let provider = provider(&stand_in, None, clock.clone());
    let refused = provider.verify(&token(&stand_in, clock.now(), Loa::SUBSTANTIAL_URI), "n0nce").await;
    let Err(OidcError::Refused(reason)) = refused else { panic!("{refused:?}") };
    assert!(reason.contains("503"), "{reason}");
}

#[tokio::test]
async fn the_discovery_document_is_fetched_again_daily_and_a_changed_issuer_is_refused() {
    let stand_in = stand_in().await;
    let clock = clock();
    let provider = provider(&stand_in, None, clock.clone());
    let first = provider.metadata().await.expect("discovery");
    assert_eq!(first.issuer, stand_in.base);

    *stand_in.issuer.lock().expect("lock") = "https://evil.example".into();
    assert!(provider.metadata().await.is_ok(), "within a day the cached document serves");
    clock.advance((DISCOVERY_REFETCH + time::Duration::minutes(1)).try_into().expect("duration"));
    let refused = provider.metadata().await;
    assert!(matches!(refused, Err(OidcError::Refused(_))), "{refused:?}");

    // A configured issuer is compared from the first fetch on.
    let configured = self::provider(&stand_in, Some(stand_in.base.clone()), clock.clone());
    assert!(matches!(configured.metadata().await, Err(OidcError::Refused(_))));
    *stand_in.issuer.lock().expect("lock") = stand_in.base.clone();
    assert_eq!(configured.metadata().await.expect("the configured issuer").issuer, stand_in.base);
}

#[tokio::test]
async fn a_step_up_login_needs_an_auth_time_within_max_age() {
    let stand_in = stand_in().await;
    let clock = clock();
    let provider = provider(&stand_in, None, clock.clone());
    let now = clock.now();
    let url = provider.authorization_url("s", "n", None, Some(600)).await.expect("url");
    assert!(url.contains("max_age=600"), "{url}");
    let high = Loa::SUBSTANTIAL_URI;
    let no_auth_time = provider.verify_login(&token(&stand_in, now, high), "n0nce", Some(600)).await;
    assert!(matches!(no_auth_time, Err(OidcError::Claim(_))), "{no_auth_time:?}");
    let old = token_with(&stand_in, now, high, Some(now - time::Duration::minutes(30)));
    assert!(matches!(provider.verify_login(&old, "n0nce", Some(600)).await, Err(OidcError::Claim(_))));
    let fresh_at = now - time::Duration::minutes(2);
    let fresh = token_with(&stand_in, now, high, Some(fresh_at));
    let login = provider.verify_login(&fresh, "n0nce", Some(600)).await.expect("a fresh authentication");
    assert_eq!(login.auth_time.map(|t| t.unix_timestamp()), Some(fresh_at.unix_timestamp()));
}
