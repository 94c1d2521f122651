//! Typed configuration, read once at start-up from environment variables (app
//! settings in Azure, `local.settings.json` under Core Tools). Nothing else in
//! the portal reads the environment. A missing or malformed setting stops
//! start-up with its name.

use std::collections::HashMap;
use std::path::PathBuf;

use secrecy::SecretString;

/// Every setting the binary reads, with its local default. The list is the
/// source of truth for `local.settings.example.json` and the Bicep app settings;
/// tests keep them in step.
pub const SETTINGS: &[Setting] = &[
    Setting { name: "PORTAL_ENVIRONMENT", example: "local", about: "local | test | preproduction | production" },
    Setting {
        name: "PORTAL_STORE",
        example: "embedded",
        about: "embedded (SQLite + files) | azure (Cosmos DB, Blob, Queue)",
    },
    Setting { name: "PORTAL_DATA_DIR", example: ".portal", about: "embedded store: data directory" },
    Setting { name: "PORTAL_CAPABILITIES", example: "", about: "comma-separated capabilities to serve; empty = all" },
    Setting {
        name: "PORTAL_TIMERS_ENABLED",
        example: "true",
        about: "false in the secondary region: timers run in the primary only",
    },
    Setting { name: "PORTAL_LOG", example: "info", about: "log filter (tracing EnvFilter syntax)" },
    Setting {
        name: "PORTAL_WRITES_PER_MINUTE",
        example: "120",
        about: "state-changing requests one session may make a minute (a burst of as many); default 120",
    },
    Setting {
        name: "PORTAL_TRUSTED_PROXY_HOPS",
        example: "1",
        about: "proxies in front of the portal that append to X-Forwarded-For; the client address for the login \
                limit is the entry the outermost one wrote (never the client's leftmost); default 1",
    },
    Setting {
        name: "PORTAL_CLIENT_IP_HEADER",
        example: "",
        about: "a header the edge overwrites with the client's address (Front Door: X-Azure-ClientIP); wins over \
                X-Forwarded-For when present; empty = none",
    },
    Setting {
        name: "PORTAL_LOG_FORMAT",
        example: "",
        about: "json | text; default json under the host, text in local mode",
    },
    Setting { name: "PORTAL_COSMOS_ENDPOINT", example: "", about: "azure store: Cosmos DB account endpoint" },
    Setting { name: "PORTAL_COSMOS_DATABASE", example: "portal", about: "azure store: Cosmos DB database" },
    Setting {
        name: "PORTAL_COSMOS_REGION",
        example: "",
        about: "azure store: the Azure region the app runs in; Cosmos DB reads go to the nearest account region first",
    },
    Setting {
        name: "PORTAL_BLOB_CONTAINER_URL",
        example: "",
        about: "azure store: blob container URL for citizens' content",
    },
    Setting {
        name: "AzureWebJobsStorage__queueServiceUri",
        example: "",
        about: "azure store: queue service URL; the host's queue triggers read the same account",
    },
    Setting {
        name: "PORTAL_AZURE_CREDENTIAL",
        example: "managed-identity",
        about: "managed-identity | developer-tools",
    },
    Setting { name: "AZURE_CLIENT_ID", example: "", about: "client id of a user-assigned managed identity, if used" },
    Setting {
        name: "PORTAL_IDENTITY_PROVIDER",
        example: "development",
        about: "development (demo citizens, local environment only) | nia (OpenID Connect)",
    },
    Setting { name: "PORTAL_OIDC_DISCOVERY_URL", example: "", about: "nia: the provider's discovery document URL" },
    Setting {
        name: "PORTAL_OIDC_ISSUER",
        example: "",
        about: "nia: the provider's issuer; the discovery document (fetched again daily) must name exactly it; \
                empty = the first document's issuer is pinned",
    },
    Setting { name: "PORTAL_OIDC_CLIENT_ID", example: "", about: "nia: the portal's client id" },
    Setting {
        name: "PORTAL_OIDC_CLIENT_SECRET",
        example: "",
        about: "nia: the client secret (secret; client_secret_post)",
    },
    Setting { name: "PORTAL_OIDC_REDIRECT_URL", example: "", about: "nia: https://<portal>/api/auth/callback" },
    Setting {
        name: "PORTAL_OIDC_POST_LOGOUT_REDIRECT_URL",
        example: "",
        about: "nia: where the provider sends the citizen after logout",
    },
    Setting {
        name: "PORTAL_OIDC_DECRYPTION_KEY",
        example: "",
        about: "nia: the same key as PKCS#8 PEM text, in Azure a Key Vault reference (secret; wins over the file)",
    },
    Setting {
        name: "PORTAL_OIDC_DECRYPTION_KEY_FILE",
        example: "",
        about: "nia: PKCS#8 PEM of the portal's key for encrypted ID tokens (secret)",
    },
    Setting {
        name: "PORTAL_KEY_VAULT_URL",
        example: "",
        about: "Key Vault holding the key-encryption key; empty = local key files",
    },
    Setting { name: "PORTAL_KEY_NAME", example: "citizen-kek", about: "name of the key-encryption key in Key Vault" },
    Setting {
        name: "PORTAL_ISDS",
        example: "simulator",
        about: "simulator (local and test only) | soap (the ISDS web services)",
    },
    Setting { name: "PORTAL_ISDS_URL", example: "", about: "soap: base URL of the ISDS web services (…/DS/)" },
    Setting { name: "PORTAL_ISDS_USER", example: "", about: "soap: user name for password login" },
    Setting { name: "PORTAL_ISDS_PASSWORD", example: "", about: "soap: password (secret)" },
    Setting { name: "PORTAL_ISDS_CERT_FILE", example: "", about: "soap: PEM client certificate for certificate login" },
    Setting { name: "PORTAL_ISDS_KEY_FILE", example: "", about: "soap: PEM private key of that certificate (secret)" },
    Setting {
        name: "PORTAL_ISDS_CERT",
        example: "",
        about: "soap: the client certificate as PEM text, in Azure a Key Vault reference (wins over the file)",
    },
    Setting {
        name: "PORTAL_ISDS_KEY",
        example: "",
        about: "soap: its private key as PEM text, in Azure a Key Vault reference (secret; wins over the file)",
    },
    Setting {
        name: "PORTAL_ISDS_ZFO_TRUST",
        example: "",
        about: "soap: PEM bundle of the certification authorities ISDS's ZFOs chain to (PostSignum Root QCA 4 and \
                Qualified CA 4, from postsignum.cz), in Azure a Key Vault reference; required, checked at start-up",
    },
    Setting {
        name: "PORTAL_ISDS_MANAGE_URL",
        example: "",
        about: "soap: base URL of ISDS box management (CreateDataBox2) with the operator's privileged system \
                certificate (…/cert/DS/); empty = requests for a data box wait, not connected",
    },
    Setting {
        name: "PORTAL_ISDS_MANAGE_BOX",
        example: "",
        about: "soap: the operator's own data box, the one its box-management certificate is registered to",
    },
    Setting {
        name: "PORTAL_ISDS_MANAGE_CERT",
        example: "",
        about: "soap: the box-management certificate as PEM text, in Azure a Key Vault reference (wins over the file)",
    },
    Setting {
        name: "PORTAL_ISDS_MANAGE_KEY",
        example: "",
        about: "soap: its private key as PEM text, in Azure a Key Vault reference (secret; wins over the file)",
    },
    Setting {
        name: "PORTAL_ISDS_MANAGE_CERT_FILE",
        example: "",
        about: "soap: PEM file of the box-management certificate",
    },
    Setting { name: "PORTAL_ISDS_MANAGE_KEY_FILE", example: "", about: "soap: PEM file of its private key (secret)" },
    Setting {
        name: "PORTAL_ARCHIVE_AFTER_DAYS",
        example: "80",
        about: "archive data messages delivered this many days ago (1-89; ISDS deletes at 90)",
    },
    Setting {
        name: "PORTAL_MAX_MESSAGE_MB",
        example: "100",
        about: "largest data message the portal sends, all files together, in MB: 1-100 (ISDS's limit since 2024; \
                over 20 MB a message goes by ISDS's VoDZ services)",
    },
    Setting {
        name: "PORTAL_DATABOX_CREDIT_AMOUNTS_CZK",
        example: "100,200,500,1000",
        about: "the amounts (CZK) a citizen may top up the data box credit with, comma-separated",
    },
    Setting {
        name: "PORTAL_DATABOX_CREDIT_LOW_CZK",
        example: "20",
        about: "below this credit (CZK) after sending a commercial message, the citizen is told",
    },
    Setting {
        name: "PORTAL_PUBLIC_URL",
        example: "http://localhost:7071",
        about: "the portal's public address, for links in e-mails, share links and calendar feeds",
    },
    Setting { name: "PORTAL_DOCUMENTS_MAX_UPLOAD_MB", example: "20", about: "largest document a citizen uploads, MB" },
    Setting { name: "PORTAL_DOCUMENTS_QUOTA_MB", example: "200", about: "storage for a citizen's own uploads, MB" },
    Setting {
        name: "PORTAL_DOCUMENTS_ALLOWED_TYPES",
        example: "application/pdf,image/jpeg,image/png,text/plain",
        about: "media types citizens may upload (comma-separated; the content is checked against the type)",
    },
    Setting {
        name: "PORTAL_MALWARE_SCAN",
        example: "simulator",
        about: "simulator (local and test only: flags the EICAR test file) | defender (Defender for Storage's blob index tag)",
    },
    Setting {
        name: "PORTAL_SMTP_HOST",
        example: "",
        about: "SMTP relay for e-mail; empty = the SIMULATOR mailer (local and test only)",
    },
    Setting { name: "PORTAL_SMTP_PORT", example: "465", about: "SMTP port (465 implicit TLS, 587 STARTTLS)" },
    Setting { name: "PORTAL_SMTP_TLS", example: "implicit", about: "implicit | starttls (plain SMTP is refused)" },
    Setting { name: "PORTAL_SMTP_USER", example: "", about: "SMTP user name; empty = no authentication" },
    Setting { name: "PORTAL_SMTP_PASSWORD", example: "", about: "SMTP password (secret)" },
    Setting {
        name: "PORTAL_SMTP_FROM",
        example: "Portál občana <noreply@obcan.portal.gov.cz>",
        about: "the From of every e-mail",
    },
    Setting {
        name: "PORTAL_MAIL_PER_MINUTE",
        example: "600",
        about: "e-mails one instance hands to the relay per minute (1-100000); more wait in the retry queue",
    },
    Setting {
        name: "PORTAL_SMTP_CA_FILE",
        example: "",
        about: "PEM of an extra root certificate the relay's certificate chains to (private relays, tests)",
    },
    Setting {
        name: "PORTAL_REGISTERS_GATEWAY",
        example: "simulator",
        about: "simulator (local and test only) | the https:// URL of the registers gateway (mutual TLS)",
    },
    Setting {
        name: "PORTAL_REGISTERS_CERT",
        example: "",
        about: "gateway: the portal's client certificate as PEM text, in Azure a Key Vault reference",
    },
    Setting {
        name: "PORTAL_REGISTERS_KEY",
        example: "",
        about: "gateway: its private key as PEM text, in Azure a Key Vault reference (secret)",
    },
    Setting {
        name: "PORTAL_REGISTERS_CA",
        example: "",
        about: "gateway: PEM of the CA its server certificate chains to, if not a public one",
    },
    Setting {
        name: "PORTAL_QUALIFIED_TRUST_ANCHORS",
        example: "",
        about: "PEM bundle of the qualified CAs (the EU trusted list's Czech providers) a citizen's qualified \
                certificate must chain to; empty = the committed test CA in local and test, none elsewhere",
    },
    Setting {
        name: "PORTAL_PETITIONS_SIGNER_KEY",
        example: "",
        about: "ePetice: base64 of 32+ random bytes keying the unlinkable signer ids (secret; empty = a public \
                development key, local only)",
    },
    Setting {
        name: "PORTAL_OFFICIALS",
        example: "",
        about: "ePetice: comma-separated subject ids of the Ministry of the Interior's officials",
    },
    Setting {
        name: "PORTAL_SENATE_BOX_ID",
        example: "",
        about: "ePetice: the Senate's data box id; petitions to it are marked past 10,000 signatures",
    },
    Setting {
        name: "PORTAL_TILE_SOURCES",
        example: "",
        about: "tiles: JSON object, summary source id -> \"simulator\" | \"simulator-down\" | \"simulator-hang\" \
                (local and test only) | {\"url\": \"https://...\", \"timeoutMs\": 600, \"cacheSeconds\": 300}; empty = \
                every seed portal simulated in local and test, no live summaries elsewhere",
    },
    Setting {
        name: "PORTAL_TILES_CERT",
        example: "",
        about: "tiles: the portal's client certificate for the summary sources (PEM), in Azure a Key Vault reference",
    },
    Setting {
        name: "PORTAL_TILES_KEY",
        example: "",
        about: "tiles: its private key (PEM), in Azure a Key Vault reference (secret)",
    },
    Setting {
        name: "PORTAL_TILES_CA",
        example: "",
        about: "tiles: PEM of a private CA the sources' certificates chain to, if any",
    },
    Setting {
        name: "PORTAL_TILES_BUDGET_MS",
        example: "800",
        about: "tiles: the dashboard answers within this many milliseconds whatever the sources do (100-10000)",
    },
    Setting {
        name: "PORTAL_TILES_OFFICIALS",
        example: "",
        about: "tiles: comma-separated subject ids of the officials who use the tile modeller (at LoA high)",
    },
    Setting {
        name: "PORTAL_SMS",
        example: "simulator",
        about: "simulator (local and test only) | not-connected (no SMS gateway contract yet: the SMS channel is off)",
    },
    Setting {
        name: "PORTAL_MUNICIPAL_FEES",
        example: "simulator",
        about: "municipal fees: simulator (local and test only: a simulated fee system and payment gateway) | \
                not-connected (no municipality's fee system or payment gateway contracted yet: fees say so)",
    },
    Setting {
        name: "PORTAL_PAYMENTS_NOTIFICATION_SECRET",
        example: "",
        about: "the payment gateway's shared secret for its signed notifications (HMAC-SHA256), 32+ characters \
                (secret; empty = the simulator's public development secret locally, notifications refused elsewhere)",
    },
    Setting {
        name: "PORTAL_PENSION_EARLY_REDUCTION",
        example: "1.5",
        about: "pension calculator: percent of the calculation base an early pension loses per begun 90 days \
                (0-10; the reference marks the rule unverified, so it is a setting and every answer says so)",
    },
    Setting {
        name: "PORTAL_PENSION_POSTPONED_INCREASE",
        example: "1.5",
        about: "pension calculator: percent of the calculation base a postponed pension gains per whole 90 days \
                (0-10; unverified, a setting like the reduction)",
    },
    Setting {
        name: "PORTAL_NOTICE_BOARDS",
        example: "simulator",
        about: "notice boards followed: simulator (local and test only: simulated OFN feeds on 127.0.0.1) | \
                comma-separated https:// URLs of OFN \"úřední deska\" feeds | empty = none followed",
    },
    Setting {
        name: "FUNCTIONS_CUSTOMHANDLER_PORT",
        example: "",
        about: "set by the Functions host: the port `portal serve` binds",
    },
    Setting { name: "APPLICATIONINSIGHTS_CONNECTION_STRING", example: "", about: "where traces go in Azure (secret)" },
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub name: &'static str,
    pub example: &'static str,
    pub about: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("setting {0} is required but missing")]
    Missing(&'static str),
    #[error("setting {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Local,
    Test,
    Preproduction,
    Production,
}

impl Environment {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Local => "local",
            Self::Test => "test",
            Self::Preproduction => "preproduction",
            Self::Production => "production",
        }
    }

    /// Development conveniences (the development identity provider, demo data)
    /// exist only here.
    pub fn is_local(self) -> bool {
        self == Self::Local
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AzureCredential {
    /// The function app's managed identity (user-assigned if a client id is set).
    ManagedIdentity { client_id: Option<String> },
    /// Azure CLI / azd sign-in on a developer's laptop.
    DeveloperTools,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AzureStoreSettings {
    pub cosmos_endpoint: String,
    pub cosmos_database: String,
    /// The region the app runs in (`germanywestcentral`): the Cosmos DB client
    /// prefers the account's regions nearest to it, so each region reads its
    /// own replica first. `None`: the account's own order.
    pub cosmos_region: Option<String>,
    pub blob_container_url: String,
    pub queue_service_url: String,
    pub credential: AzureCredential,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSettings {
    /// SQLite + files under `data_dir`, or in memory.
    Embedded {
        data_dir: PathBuf,
        in_memory: bool,
    },
    Azure(AzureStoreSettings),
}

#[derive(Debug, Clone)]
pub struct OidcSettings {
    pub discovery_url: String,
    pub client_id: String,
    pub client_secret: SecretString,
    pub redirect_url: String,
    pub post_logout_redirect_url: Option<String>,
    /// The issuer every discovery document must name; `None` pins the first.
    pub issuer: Option<String>,
    pub decryption_key_file: Option<PathBuf>,
    /// The key as PEM text (a Key Vault reference in Azure); wins over the file.
    pub decryption_key_pem: Option<SecretString>,
}

#[derive(Debug, Clone)]
pub enum IdentityProvider {
    /// Demo citizens on a login page; refused outside the local environment.
    Development,
    Nia(OidcSettings),
}

/// Where the key-encryption key of the citizens' data keys lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyEncryption {
    /// Key files under the data directory (local mode).
    LocalFiles,
    KeyVault {
        vault_url: String,
        key_name: String,
    },
}

/// PEM text given in a setting (a Key Vault reference in Azure) or a file.
#[derive(Debug, Clone)]
pub enum Pem {
    Text(SecretString),
    File(PathBuf),
}

#[derive(Debug, Clone)]
pub enum IsdsLogin {
    Password { user: String, password: SecretString },
    Certificate { cert: Pem, key: Pem },
}

#[derive(Debug, Clone)]
pub enum IsdsSettings {
    /// The deterministic simulator; refused outside the local and test environments.
    Simulator,
    Soap {
        url: String,
        login: IsdsLogin,
        /// The trust anchors for ZFO signatures (`PORTAL_ISDS_ZFO_TRUST`):
        /// each a DER certificate of a certification authority, checked here.
        zfo_trust: Vec<Vec<u8>>,
        /// Box management (`CreateDataBox2`) with the operator's privileged
        /// login; `None`: not connected, requests for a box wait.
        manage: Option<IsdsManage>,
    },
}

/// ISDS box management (`PORTAL_ISDS_MANAGE_*`): a system certificate
/// registered to the operator's own box, to which the ISDS administrator
/// granted the privilege to create boxes of natural persons.
#[derive(Debug, Clone)]
pub struct IsdsManage {
    /// Base URL (`…/cert/DS/`).
    pub url: String,
    /// The operator's box id (7 lowercase letters and digits).
    pub own_box: String,
    pub cert: Pem,
    pub key: Pem,
}

/// How e-mail leaves the portal.
#[derive(Debug, Clone)]
pub enum MailSettings {
    /// SIMULATOR: nothing is sent; local and test environments only.
    Simulator,
    Smtp(SmtpSettings),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmtpTls {
    /// TLS from the first byte (port 465).
    Implicit,
    /// STARTTLS, required: a relay that does not offer it is refused.
    StartTls,
}

#[derive(Debug, Clone)]
pub struct SmtpSettings {
    pub host: String,
    pub port: u16,
    pub tls: SmtpTls,
    pub user: Option<String>,
    pub password: Option<SecretString>,
    pub from: String,
    pub ca_file: Option<PathBuf>,
}

/// Where the base registers are reached.
#[derive(Debug, Clone)]
pub enum RegistersGateway {
    /// SIMULATOR; local and test environments only.
    Simulator,
    Https {
        url: String,
        client_cert_pem: String,
        client_key_pem: SecretString,
        ca_pem: Option<String>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SmsSettings {
    /// SIMULATOR; local and test environments only.
    Simulator,
    /// No SMS gateway is contracted yet: the SMS channel is off and says so.
    NotConnected,
}

/// Municipal fees and their payments.
#[derive(Debug, Clone)]
pub struct FeesSettings {
    /// True: the SIMULATOR fee system and payment gateway (local and test
    /// only); false: not connected.
    pub simulated: bool,
    /// The payment gateway's notification secret; `None`: the development
    /// secret locally, every notification refused elsewhere.
    pub notification_secret: Option<SecretString>,
}

/// ePetice.
#[derive(Debug, Clone)]
pub struct PetitionSettings {
    /// `None`: the public development key (local only).
    pub signer_key: Option<SecretString>,
    pub officials: Vec<String>,
    pub senate_box_id: Option<String>,
}

/// How the tiles reach one summary source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TileSourceKind {
    /// SIMULATOR; local and test environments only.
    Simulator(SimulatorMode),
    Https {
        url: String,
        timeout_ms: u64,
        cache_seconds: u64,
    },
}

/// How a simulated source behaves (to see what a failing portal does).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimulatorMode {
    Normal,
    /// Answers 503.
    Down,
    /// Never answers.
    Hang,
}

/// The tiles (dashboard of other portals).
#[derive(Debug, Clone)]
pub struct TileSettings {
    /// Sources named in `PORTAL_TILE_SOURCES`, by id.
    pub sources: Vec<(String, TileSourceKind)>,
    /// Whether every seed portal not named is simulated (local and test).
    pub simulate_unnamed: bool,
    pub client_cert_pem: Option<String>,
    pub client_key_pem: Option<SecretString>,
    pub ca_pem: Option<String>,
    pub budget_ms: u64,
    pub officials: Vec<String>,
}

/// `PORTAL_TILE_SOURCES`, read.
fn tile_sources(text: &str, simulators_allowed: bool) -> Result<Vec<(String, TileSourceKind)>, ConfigError> {
    const NAME: &str = "PORTAL_TILE_SOURCES";
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|_| invalid(NAME, "not JSON (an object of sources)".into()))?;
    let object = value.as_object().ok_or_else(|| invalid(NAME, "a JSON object of sources".into()))?;
    let mut sources = Vec::new();
    for (id, source) in object {
        if id.is_empty() || !id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-') {
            return Err(invalid(NAME, format!("'{id}' is not a source id (lowercase letters, digits, dashes)")));
        }
        let kind = match source {
            serde_json::Value::String(mode) => {
                let mode = match mode.as_str() {
                    "simulator" => SimulatorMode::Normal,
                    "simulator-down" => SimulatorMode::Down,
                    "simulator-hang" => SimulatorMode::Hang,
                    other => return Err(invalid(NAME, format!("{id}: '{other}' is not a simulator mode"))),
                };
                if !simulators_allowed {
                    return Err(invalid(NAME, format!("{id}: simulators run only in the local and test environments")));
                }
                TileSourceKind::Simulator(mode)
            }
            serde_json::Value::Object(fields) => {
                let url = fields.get("url").and_then(|v| v.as_str()).unwrap_or_default();
                if !url.starts_with("https://") {
                    return Err(invalid(NAME, format!("{id}: url must be an https:// URL")));
                }
                let number = |field: &str, default: u64, range: std::ops::RangeInclusive<u64>| match fields.get(field) {
                    None => Ok(default),
                    Some(v) => v
                        .as_u64()
                        .filter(|n| range.contains(n))
                        .ok_or_else(|| invalid(NAME, format!("{id}: {field} must be a whole number in {range:?}"))),
                };
                TileSourceKind::Https {
                    url: url.to_owned(),
                    timeout_ms: number("timeoutMs", 700, 50..=60_000)?,
                    cache_seconds: number("cacheSeconds", 300, 0..=86_400)?,
                }
            }
            _ => return Err(invalid(NAME, format!("{id}: a simulator mode or an object with url"))),
        };
        sources.push((id.clone(), kind));
    }
    Ok(sources)
}

/// The documents capability's limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocumentLimits {
    pub max_upload_bytes: u64,
    pub quota_bytes: u64,
    pub allowed_types: Vec<String>,
    /// Uploads are cleared by Defender for Storage's malware scan (else by
    /// the EICAR simulator, local and test only): `PORTAL_MALWARE_SCAN`.
    pub defender_scan: bool,
}

/// The pension calculator's rules that are settings (in 1/1000 of a percent
/// of the calculation base: 1.5 % = 1500).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PensionSettings {
    pub early_reduction_per_mille_percent: i64,
    pub postponed_increase_per_mille_percent: i64,
}

/// The notice boards the portal follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NoticeBoardsSettings {
    /// SIMULATED feeds served on 127.0.0.1 (local and test only).
    Simulator,
    /// OFN feeds by URL (none: nothing followed).
    Feeds(Vec<String>),
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub environment: Environment,
    pub store: StoreSettings,
    /// `None` serves every capability.
    pub capabilities: Option<Vec<String>>,
    pub timers_enabled: bool,
    /// State-changing requests one session may make a minute.
    pub writes_per_minute: u32,
    /// Proxies in front of the portal that append to `X-Forwarded-For`.
    pub trusted_proxy_hops: usize,
    /// A header the edge overwrites with the client's address, lowercase.
    pub client_ip_header: Option<String>,
    pub handler_port: Option<u16>,
    pub log_filter: String,
    /// `None`: JSON under the host, text in local mode.
    pub log_format: Option<LogFormat>,
    pub app_insights: Option<SecretString>,
    pub identity: IdentityProvider,
    pub key_encryption: KeyEncryption,
    pub isds: IsdsSettings,
    pub archive_after_days: u32,
    pub max_message_bytes: u64,
    /// The amounts (CZK) a citizen may top up with.
    pub credit_amounts_czk: Vec<u32>,
    /// Below this credit (hellers), the citizen is told.
    pub credit_low_hellers: i64,
    /// The portal's public address without a trailing slash. In local mode
    /// without `PORTAL_PUBLIC_URL`, the address the portal listens on
    /// ([`Settings::listening_on`]); elsewhere the setting is required.
    pub public_url: String,
    /// True when `public_url` came from `PORTAL_PUBLIC_URL`.
    pub public_url_configured: bool,
    pub documents: DocumentLimits,
    pub mail: MailSettings,
    /// E-mails one instance sends per minute (`PORTAL_MAIL_PER_MINUTE`).
    pub mail_per_minute: u32,
    pub sms: SmsSettings,
    pub registers: RegistersGateway,
    /// `PORTAL_QUALIFIED_TRUST_ANCHORS`: PEM of the qualified CAs.
    pub qualified_trust_anchors: Option<String>,
    pub petitions: PetitionSettings,
    pub tiles: TileSettings,
    pub pension: PensionSettings,
    pub notice_boards: NoticeBoardsSettings,
    pub fees: FeesSettings,
}

impl Settings {
    /// The portal now listens on `base` (`http://127.0.0.1:8080`): without
    /// `PORTAL_PUBLIC_URL`, links it hands out (share links, calendar feeds,
    /// e-mails) point there, not at a port it does not use.
    pub fn listening_on(&mut self, base: &str) {
        if !self.public_url_configured {
            self.public_url = base.trim_end_matches('/').to_owned();
        }
    }

    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        let vars: HashMap<String, String> = std::env::vars().collect();
        Self::from_lookup(|name| vars.get(name).cloned())
    }

    /// Reads settings through `lookup` (tests pass a map). Empty values count
    /// as unset, as in `local.settings.json`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &'static str| lookup(name).map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
        let required = |name: &'static str| get(name).ok_or(ConfigError::Missing(name));

        let environment = match get("PORTAL_ENVIRONMENT").as_deref() {
            None | Some("local") => Environment::Local,
            Some("test") => Environment::Test,
            Some("preproduction") => Environment::Preproduction,
            Some("production") => Environment::Production,
            Some(other) => {
                return Err(invalid(
                    "PORTAL_ENVIRONMENT",
                    format!("'{other}' is not local, test, preproduction or production"),
                ));
            }
        };
        let store = match get("PORTAL_STORE").as_deref() {
            None | Some("embedded") => StoreSettings::Embedded {
                data_dir: PathBuf::from(get("PORTAL_DATA_DIR").unwrap_or_else(|| ".portal".into())),
                in_memory: false,
            },
            Some("azure") => StoreSettings::Azure(AzureStoreSettings {
                cosmos_endpoint: url("PORTAL_COSMOS_ENDPOINT", required("PORTAL_COSMOS_ENDPOINT")?)?,
                cosmos_database: get("PORTAL_COSMOS_DATABASE").unwrap_or_else(|| "portal".into()),
                cosmos_region: get("PORTAL_COSMOS_REGION").filter(|region| !region.trim().is_empty()),
                blob_container_url: url("PORTAL_BLOB_CONTAINER_URL", required("PORTAL_BLOB_CONTAINER_URL")?)?,
                queue_service_url: url(
                    "AzureWebJobsStorage__queueServiceUri",
                    required("AzureWebJobsStorage__queueServiceUri")?.trim_end_matches('/').to_owned(),
                )?,
                credential: match get("PORTAL_AZURE_CREDENTIAL").as_deref() {
                    None | Some("managed-identity") => {
                        AzureCredential::ManagedIdentity { client_id: get("AZURE_CLIENT_ID") }
                    }
                    Some("developer-tools") => AzureCredential::DeveloperTools,
                    Some(other) => {
                        return Err(invalid(
                            "PORTAL_AZURE_CREDENTIAL",
                            format!("'{other}' is not managed-identity or developer-tools"),
                        ));
                    }
                },
            }),
            Some(other) => return Err(invalid("PORTAL_STORE", format!("'{other}' is not embedded or azure"))),
        };
        if !environment.is_local()
            && matches!(store, StoreSettings::Embedded { .. })
            && environment != Environment::Test
        {
            return Err(invalid(
                "PORTAL_STORE",
                format!("the {} environment needs the azure store", environment.as_str()),
            ));
        }
        let capabilities = get("PORTAL_CAPABILITIES").map(|list| parse_list(&list));
        let timers_enabled = match get("PORTAL_TIMERS_ENABLED").as_deref() {
            None | Some("true") => true,
            Some("false") => false,
            Some(other) => return Err(invalid("PORTAL_TIMERS_ENABLED", format!("'{other}' is not true or false"))),
        };
        let writes_per_minute = match get("PORTAL_WRITES_PER_MINUTE") {
            None => 120,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(invalid("PORTAL_WRITES_PER_MINUTE", format!("'{text}' is not a whole number from 1")));
                }
            },
        };
        let trusted_proxy_hops = match get("PORTAL_TRUSTED_PROXY_HOPS") {
            None => 1,
            Some(text) => match text.parse::<usize>() {
                Ok(n) if n <= 10 => n,
                _ => {
                    return Err(invalid("PORTAL_TRUSTED_PROXY_HOPS", format!("'{text}' is not a whole number 0-10")));
                }
            },
        };
        let client_ip_header = match get("PORTAL_CLIENT_IP_HEADER") {
            None => None,
            Some(name)
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
            {
                Some(name.to_ascii_lowercase())
            }
            Some(name) => {
                return Err(invalid("PORTAL_CLIENT_IP_HEADER", format!("'{name}' is not a header name")));
            }
        };
        let handler_port = get("FUNCTIONS_CUSTOMHANDLER_PORT")
            .map(|port| {
                port.parse::<u16>()
                    .map_err(|_| invalid("FUNCTIONS_CUSTOMHANDLER_PORT", format!("'{port}' is not a port")))
            })
            .transpose()?;
        let log_format = match get("PORTAL_LOG_FORMAT").as_deref() {
            None => None,
            Some("json") => Some(LogFormat::Json),
            Some("text") => Some(LogFormat::Text),
            Some(other) => return Err(invalid("PORTAL_LOG_FORMAT", format!("'{other}' is not json or text"))),
        };
        let identity = match get("PORTAL_IDENTITY_PROVIDER").as_deref() {
            None if environment.is_local() => IdentityProvider::Development,
            Some("development") if environment.is_local() => IdentityProvider::Development,
            Some("development") => {
                return Err(invalid(
                    "PORTAL_IDENTITY_PROVIDER",
                    "the development identity provider runs only in the local environment".into(),
                ));
            }
            None | Some("nia") => IdentityProvider::Nia(OidcSettings {
                discovery_url: url("PORTAL_OIDC_DISCOVERY_URL", required("PORTAL_OIDC_DISCOVERY_URL")?)?,
                client_id: required("PORTAL_OIDC_CLIENT_ID")?,
                client_secret: SecretString::from(required("PORTAL_OIDC_CLIENT_SECRET")?),
                redirect_url: url("PORTAL_OIDC_REDIRECT_URL", required("PORTAL_OIDC_REDIRECT_URL")?)?,
                post_logout_redirect_url: get("PORTAL_OIDC_POST_LOGOUT_REDIRECT_URL"),
                issuer: get("PORTAL_OIDC_ISSUER"),
                decryption_key_file: get("PORTAL_OIDC_DECRYPTION_KEY_FILE").map(PathBuf::from),
                decryption_key_pem: get("PORTAL_OIDC_DECRYPTION_KEY").map(SecretString::from),
            }),
            Some(other) => {
                return Err(invalid("PORTAL_IDENTITY_PROVIDER", format!("'{other}' is not development or nia")));
            }
        };
        // NIA sends ID tokens encrypted to the portal's key; without a key the
        // portal would accept a plain token as well. Only local runs may.
        if let IdentityProvider::Nia(oidc) = &identity
            && !environment.is_local()
            && oidc.decryption_key_pem.is_none()
            && oidc.decryption_key_file.is_none()
        {
            return Err(ConfigError::Missing("PORTAL_OIDC_DECRYPTION_KEY"));
        }
        let key_encryption = match get("PORTAL_KEY_VAULT_URL") {
            Some(vault_url) => KeyEncryption::KeyVault {
                vault_url: url("PORTAL_KEY_VAULT_URL", vault_url)?,
                key_name: get("PORTAL_KEY_NAME").unwrap_or_else(|| "citizen-kek".into()),
            },
            None if matches!(store, StoreSettings::Azure(_)) => {
                return Err(ConfigError::Missing("PORTAL_KEY_VAULT_URL"));
            }
            None => KeyEncryption::LocalFiles,
        };
        let simulators_allowed = matches!(environment, Environment::Local | Environment::Test);
        let isds = match get("PORTAL_ISDS").as_deref() {
            None if simulators_allowed => IsdsSettings::Simulator,
            Some("simulator") if simulators_allowed => IsdsSettings::Simulator,
            Some("simulator") => {
                return Err(invalid(
                    "PORTAL_ISDS",
                    "the ISDS simulator runs only in the local and test environments".into(),
                ));
            }
            None | Some("soap") => IsdsSettings::Soap {
                url: url("PORTAL_ISDS_URL", required("PORTAL_ISDS_URL")?)?,
                login: match (
                    pem(get("PORTAL_ISDS_CERT"), get("PORTAL_ISDS_CERT_FILE")),
                    pem(get("PORTAL_ISDS_KEY"), get("PORTAL_ISDS_KEY_FILE")),
                ) {
                    (Some(cert), Some(key)) => IsdsLogin::Certificate { cert, key },
                    (Some(_), None) => return Err(ConfigError::Missing("PORTAL_ISDS_KEY")),
                    (None, Some(_)) => return Err(ConfigError::Missing("PORTAL_ISDS_CERT")),
                    (None, None) => IsdsLogin::Password {
                        user: required("PORTAL_ISDS_USER")?,
                        password: SecretString::from(required("PORTAL_ISDS_PASSWORD")?),
                    },
                },
                // Without anchors no ZFO verifies: a portal that would show
                // every genuine message as unverified does not start.
                zfo_trust: ca_bundle("PORTAL_ISDS_ZFO_TRUST", &required("PORTAL_ISDS_ZFO_TRUST")?)?,
                manage: isds_manage(&get)?,
            },
            Some(other) => return Err(invalid("PORTAL_ISDS", format!("'{other}' is not simulator or soap"))),
        };
        let archive_after_days = match get("PORTAL_ARCHIVE_AFTER_DAYS") {
            None => 80,
            Some(text) => match text.parse::<u32>() {
                Ok(days) if (1..=89).contains(&days) => days,
                _ => {
                    return Err(invalid(
                        "PORTAL_ARCHIVE_AFTER_DAYS",
                        format!("'{text}' is not a number of days from 1 to 89"),
                    ));
                }
            },
        };
        // ISDS takes up to 100 MB since 1 January 2024 (czech-egov-domain.md
        // §1.7); over 20 MB the data box sends through ISDS's VoDZ services.
        // The operator plans more: raise the bound when ISDS does.
        let max_message_bytes = match get("PORTAL_MAX_MESSAGE_MB") {
            None => 100_000_000,
            Some(text) => match text.parse::<u64>() {
                Ok(mb) if (1..=100).contains(&mb) => mb * 1_000_000,
                _ => {
                    return Err(invalid(
                        "PORTAL_MAX_MESSAGE_MB",
                        format!("'{text}' is not a size from 1 to 100 MB (ISDS's limit for a data message)"),
                    ));
                }
            },
        };
        let credit_amounts_czk = match get("PORTAL_DATABOX_CREDIT_AMOUNTS_CZK") {
            None => vec![100, 200, 500, 1000],
            Some(text) => {
                let amounts: Option<Vec<u32>> = text
                    .split(',')
                    .map(|a| a.trim().parse::<u32>().ok().filter(|czk| (1..=100_000).contains(czk)))
                    .collect();
                match amounts {
                    Some(amounts) if !amounts.is_empty() => amounts,
                    _ => {
                        return Err(invalid(
                            "PORTAL_DATABOX_CREDIT_AMOUNTS_CZK",
                            format!("'{text}' is not a comma-separated list of amounts from 1 to 100000 CZK"),
                        ));
                    }
                }
            }
        };
        let credit_low_hellers = match get("PORTAL_DATABOX_CREDIT_LOW_CZK") {
            None => 2_000,
            Some(text) => match text.trim().parse::<i64>() {
                Ok(czk) if (0..=100_000).contains(&czk) => czk * 100,
                _ => {
                    return Err(invalid(
                        "PORTAL_DATABOX_CREDIT_LOW_CZK",
                        format!("'{text}' is not an amount from 0 to 100000 CZK"),
                    ));
                }
            },
        };
        let public_url_configured = get("PORTAL_PUBLIC_URL").is_some();
        let public_url = match get("PORTAL_PUBLIC_URL") {
            Some(value) => url("PORTAL_PUBLIC_URL", value.trim_end_matches('/').to_owned())?,
            // Until the local command knows its port (`listening_on`): the Functions host's default.
            None if environment.is_local() => "http://localhost:7071".to_owned(),
            None => return Err(ConfigError::Missing("PORTAL_PUBLIC_URL")),
        };
        let megabytes = |name: &'static str, default: u64, max: u64| match get(name) {
            None => Ok(default * 1_048_576),
            Some(text) => match text.parse::<u64>() {
                Ok(mb) if (1..=max).contains(&mb) => Ok(mb * 1_048_576),
                _ => Err(invalid(name, format!("'{text}' is not a size from 1 to {max} MB"))),
            },
        };
        let allowed_types = get("PORTAL_DOCUMENTS_ALLOWED_TYPES")
            .map(|list| parse_list(&list))
            .unwrap_or_else(|| ["application/pdf", "image/jpeg", "image/png", "text/plain"].map(str::to_owned).into());
        if let Some(bad) = allowed_types.iter().find(|t| !t.contains('/') || t.contains(';')) {
            return Err(invalid("PORTAL_DOCUMENTS_ALLOWED_TYPES", format!("'{bad}' is not a media type")));
        }
        let defender_scan = match get("PORTAL_MALWARE_SCAN").as_deref() {
            None if simulators_allowed => false,
            None => return Err(ConfigError::Missing("PORTAL_MALWARE_SCAN")),
            Some("simulator") if simulators_allowed => false,
            Some("simulator") => {
                return Err(invalid(
                    "PORTAL_MALWARE_SCAN",
                    "the malware-scan simulator runs only in the local and test environments".into(),
                ));
            }
            Some("defender") => true,
            Some(other) => {
                return Err(invalid("PORTAL_MALWARE_SCAN", format!("'{other}' is not simulator or defender")));
            }
        };
        let documents = DocumentLimits {
            max_upload_bytes: megabytes("PORTAL_DOCUMENTS_MAX_UPLOAD_MB", 20, 500)?,
            quota_bytes: megabytes("PORTAL_DOCUMENTS_QUOTA_MB", 200, 100_000)?,
            allowed_types,
            defender_scan,
        };
        let smtp_port = match get("PORTAL_SMTP_PORT") {
            None => 465,
            Some(port) => port
                .parse::<u16>()
                .ok()
                .filter(|p| *p > 0)
                .ok_or_else(|| invalid("PORTAL_SMTP_PORT", format!("'{port}' is not a port")))?,
        };
        let smtp_tls = match get("PORTAL_SMTP_TLS").as_deref() {
            None | Some("implicit") => SmtpTls::Implicit,
            Some("starttls") => SmtpTls::StartTls,
            Some(other) => {
                return Err(invalid(
                    "PORTAL_SMTP_TLS",
                    format!("'{other}' is not implicit or starttls (plain SMTP is not offered)"),
                ));
            }
        };
        let mail = match get("PORTAL_SMTP_HOST") {
            None if simulators_allowed => MailSettings::Simulator,
            None => return Err(ConfigError::Missing("PORTAL_SMTP_HOST")),
            Some(host) => MailSettings::Smtp(SmtpSettings {
                host,
                port: smtp_port,
                tls: smtp_tls,
                user: get("PORTAL_SMTP_USER"),
                password: get("PORTAL_SMTP_PASSWORD").map(SecretString::from),
                from: get("PORTAL_SMTP_FROM").unwrap_or_else(|| "Portál občana <noreply@obcan.portal.gov.cz>".into()),
                ca_file: get("PORTAL_SMTP_CA_FILE").map(PathBuf::from),
            }),
        };
        let mail_per_minute = match get("PORTAL_MAIL_PER_MINUTE") {
            None => 600,
            Some(text) => match text.parse::<u32>() {
                Ok(n) if (1..=100_000).contains(&n) => n,
                _ => {
                    return Err(invalid(
                        "PORTAL_MAIL_PER_MINUTE",
                        format!("'{text}' is not a number of e-mails from 1 to 100000"),
                    ));
                }
            },
        };
        let sms = match get("PORTAL_SMS").as_deref() {
            None if simulators_allowed => SmsSettings::Simulator,
            Some("simulator") if simulators_allowed => SmsSettings::Simulator,
            Some("simulator") => {
                return Err(invalid(
                    "PORTAL_SMS",
                    "the SMS simulator runs only in the local and test environments".into(),
                ));
            }
            None | Some("not-connected") => SmsSettings::NotConnected,
            Some(other) => return Err(invalid("PORTAL_SMS", format!("'{other}' is not simulator or not-connected"))),
        };
        let registers = match get("PORTAL_REGISTERS_GATEWAY").as_deref() {
            None if simulators_allowed => RegistersGateway::Simulator,
            Some("simulator") if simulators_allowed => RegistersGateway::Simulator,
            Some("simulator") => {
                return Err(invalid(
                    "PORTAL_REGISTERS_GATEWAY",
                    "the registers simulator runs only in the local and test environments".into(),
                ));
            }
            None => return Err(ConfigError::Missing("PORTAL_REGISTERS_GATEWAY")),
            Some(gateway) => {
                if !gateway.starts_with("https://") {
                    return Err(invalid("PORTAL_REGISTERS_GATEWAY", "must be simulator or an https:// URL".into()));
                }
                RegistersGateway::Https {
                    url: gateway.to_owned(),
                    client_cert_pem: required("PORTAL_REGISTERS_CERT")?,
                    client_key_pem: SecretString::from(required("PORTAL_REGISTERS_KEY")?),
                    ca_pem: get("PORTAL_REGISTERS_CA"),
                }
            }
        };
        let signer_key = get("PORTAL_PETITIONS_SIGNER_KEY");
        if let Some(key) = &signer_key {
            use base64::Engine as _;
            let decoded = base64::engine::general_purpose::STANDARD.decode(key.as_bytes());
            if !decoded.is_ok_and(|bytes| bytes.len() >= 32) {
                return Err(invalid("PORTAL_PETITIONS_SIGNER_KEY", "must be base64 of at least 32 bytes".into()));
            }
        } else if !environment.is_local() {
            return Err(ConfigError::Missing("PORTAL_PETITIONS_SIGNER_KEY"));
        }
        let senate_box_id = get("PORTAL_SENATE_BOX_ID");
        if let Some(id) = &senate_box_id
            && !(id.len() == 7 && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()))
        {
            return Err(invalid("PORTAL_SENATE_BOX_ID", format!("'{id}' is not a data box id (7 letters or digits)")));
        }
        let fees_simulated = match get("PORTAL_MUNICIPAL_FEES").as_deref() {
            None => simulators_allowed,
            Some("simulator") if simulators_allowed => true,
            Some("simulator") => {
                return Err(invalid(
                    "PORTAL_MUNICIPAL_FEES",
                    "the fees simulator runs only in the local and test environments".into(),
                ));
            }
            Some("not-connected") => false,
            Some(other) => {
                return Err(invalid("PORTAL_MUNICIPAL_FEES", format!("'{other}' is not simulator or not-connected")));
            }
        };
        let notification_secret = get("PORTAL_PAYMENTS_NOTIFICATION_SECRET");
        if notification_secret.as_ref().is_some_and(|secret| secret.len() < 32) {
            return Err(invalid("PORTAL_PAYMENTS_NOTIFICATION_SECRET", "must be at least 32 characters".into()));
        }
        let fees = FeesSettings {
            simulated: fees_simulated,
            notification_secret: notification_secret.map(SecretString::from),
        };
        let percent = |name: &'static str| -> Result<i64, ConfigError> {
            let Some(text) = get(name) else { return Ok(1500) };
            let (whole, fraction) = text.split_once('.').unwrap_or((text.as_str(), ""));
            let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
            if !digits(whole) || !(fraction.is_empty() || digits(fraction)) || fraction.len() > 3 || whole.len() > 2 {
                return Err(invalid(name, format!("'{text}' is not a percentage like 1.5")));
            }
            let units =
                whole.parse::<i64>().unwrap_or(0) * 1000 + format!("{fraction:0<3}").parse::<i64>().unwrap_or(0);
            if units > 10_000 {
                return Err(invalid(name, "must be 0 to 10".into()));
            }
            Ok(units)
        };
        let pension = PensionSettings {
            early_reduction_per_mille_percent: percent("PORTAL_PENSION_EARLY_REDUCTION")?,
            postponed_increase_per_mille_percent: percent("PORTAL_PENSION_POSTPONED_INCREASE")?,
        };
        let notice_boards = match get("PORTAL_NOTICE_BOARDS").as_deref() {
            None if simulators_allowed => NoticeBoardsSettings::Simulator,
            Some("simulator") if simulators_allowed => NoticeBoardsSettings::Simulator,
            Some("simulator") => {
                return Err(invalid(
                    "PORTAL_NOTICE_BOARDS",
                    "the notice-board simulator runs only in the local and test environments".into(),
                ));
            }
            None => NoticeBoardsSettings::Feeds(Vec::new()),
            Some(list) => {
                let urls = parse_list(list);
                if let Some(bad) = urls.iter().find(|u| !u.starts_with("https://")) {
                    return Err(invalid("PORTAL_NOTICE_BOARDS", format!("'{bad}' is not an https:// URL")));
                }
                NoticeBoardsSettings::Feeds(urls)
            }
        };
        let tile_sources = match get("PORTAL_TILE_SOURCES") {
            Some(text) => tile_sources(&text, simulators_allowed)?,
            None => Vec::new(),
        };
        let https_sources = tile_sources.iter().any(|(_, kind)| matches!(kind, TileSourceKind::Https { .. }));
        let tiles = TileSettings {
            sources: tile_sources,
            simulate_unnamed: simulators_allowed,
            client_cert_pem: if https_sources {
                Some(required("PORTAL_TILES_CERT")?)
            } else {
                get("PORTAL_TILES_CERT")
            },
            client_key_pem: if https_sources {
                Some(SecretString::from(required("PORTAL_TILES_KEY")?))
            } else {
                get("PORTAL_TILES_KEY").map(SecretString::from)
            },
            ca_pem: get("PORTAL_TILES_CA"),
            budget_ms: match get("PORTAL_TILES_BUDGET_MS") {
                None => 800,
                Some(text) => text
                    .parse::<u64>()
                    .ok()
                    .filter(|ms| (100..=10_000).contains(ms))
                    .ok_or_else(|| invalid("PORTAL_TILES_BUDGET_MS", "milliseconds in 100-10000".into()))?,
            },
            officials: get("PORTAL_TILES_OFFICIALS").map(|list| parse_list(&list)).unwrap_or_default(),
        };
        let petitions = PetitionSettings {
            signer_key: signer_key.map(SecretString::from),
            officials: get("PORTAL_OFFICIALS").map(|list| parse_list(&list)).unwrap_or_default(),
            senate_box_id,
        };
        Ok(Self {
            qualified_trust_anchors: get("PORTAL_QUALIFIED_TRUST_ANCHORS"),
            petitions,
            tiles,
            pension,
            notice_boards,
            fees,
            registers,
            public_url,
            public_url_configured,
            documents,
            mail,
            mail_per_minute,
            sms,
            environment,
            identity,
            key_encryption,
            isds,
            archive_after_days,
            max_message_bytes,
            credit_amounts_czk,
            credit_low_hellers,
            store,
            capabilities,
            timers_enabled,
            writes_per_minute,
            trusted_proxy_hops,
            client_ip_header,
            handler_port,
            log_filter: get("PORTAL_LOG").unwrap_or_else(|| "info".into()),
            log_format,
            app_insights: get("APPLICATIONINSIGHTS_CONNECTION_STRING").map(SecretString::from),
        })
    }
}

/// PEM text wins over a file.
/// `PORTAL_ISDS_MANAGE_*`: all of them, or none (not connected).
fn isds_manage(get: &dyn Fn(&'static str) -> Option<String>) -> Result<Option<IsdsManage>, ConfigError> {
    let cert = pem(get("PORTAL_ISDS_MANAGE_CERT"), get("PORTAL_ISDS_MANAGE_CERT_FILE"));
    let key = pem(get("PORTAL_ISDS_MANAGE_KEY"), get("PORTAL_ISDS_MANAGE_KEY_FILE"));
    let own_box = get("PORTAL_ISDS_MANAGE_BOX");
    let Some(base) = get("PORTAL_ISDS_MANAGE_URL") else {
        if cert.is_some() || key.is_some() || own_box.is_some() {
            return Err(ConfigError::Missing("PORTAL_ISDS_MANAGE_URL"));
        }
        return Ok(None);
    };
    let own_box = own_box.ok_or(ConfigError::Missing("PORTAL_ISDS_MANAGE_BOX"))?;
    if own_box.len() != 7 || !own_box.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()) {
        return Err(invalid("PORTAL_ISDS_MANAGE_BOX", "a data box id is 7 lowercase letters and digits".into()));
    }
    Ok(Some(IsdsManage {
        url: url("PORTAL_ISDS_MANAGE_URL", base)?,
        own_box,
        cert: cert.ok_or(ConfigError::Missing("PORTAL_ISDS_MANAGE_CERT"))?,
        key: key.ok_or(ConfigError::Missing("PORTAL_ISDS_MANAGE_KEY"))?,
    }))
}

fn pem(text: Option<String>, file: Option<String>) -> Option<Pem> {
    match (text, file) {
        (Some(text), _) => Some(Pem::Text(SecretString::from(text))),
        (None, Some(file)) => Some(Pem::File(PathBuf::from(file))),
        (None, None) => None,
    }
}

/// The certificates of a PEM bundle of certification authorities, as DER:
/// only `CERTIFICATE` blocks (text between them, as `openssl` writes, is
/// ignored), at least one, each an X.509 certificate of a CA (basic
/// constraints `cA`, or a version 1 root without extensions). Anything else
/// stops start-up naming the setting and the block.
fn ca_bundle(name: &'static str, text: &str) -> Result<Vec<Vec<u8>>, ConfigError> {
    use base64::Engine as _;
    use x509_cert::der::Decode as _;
    use x509_cert::ext::pkix::BasicConstraints;
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END ";
    if text.trim_start().starts_with("@Microsoft.KeyVault(") {
        return Err(invalid(
            name,
            "the Key Vault reference was not resolved (does the app's identity read it?)".into(),
        ));
    }
    let mut certificates = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let number = certificates.len() + 1;
        let after = &rest[start + BEGIN.len()..];
        let (label, body) = after.split_once("-----").unwrap_or((after, ""));
        if label != "CERTIFICATE" {
            let label: String = label.chars().take(40).collect();
            return Err(invalid(name, format!("block {number} is '{label}', not a CERTIFICATE: only certificates")));
        }
        let end_marker = format!("{END}CERTIFICATE-----");
        let end = body.find(&end_marker).ok_or_else(|| invalid(name, format!("block {number} has no {end_marker}")))?;
        let base64: String = body[..end].chars().filter(|c| !c.is_whitespace()).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(base64)
            .map_err(|_| invalid(name, format!("block {number} is not base64")))?;
        let certificate = x509_cert::Certificate::from_der(&der)
            .map_err(|error| invalid(name, format!("block {number} is not an X.509 certificate ({error})")))?;
        let tbs = certificate.tbs_certificate();
        let is_ca = matches!(tbs.get_extension::<BasicConstraints>(), Ok(Some((_, constraints))) if constraints.ca);
        if !is_ca && tbs.extensions().is_some() {
            return Err(invalid(
                name,
                format!("block {number} ({}) is not a certification authority's certificate", tbs.subject()),
            ));
        }
        certificates.push(der);
        rest = &body[end + end_marker.len()..];
    }
    if certificates.is_empty() {
        return Err(invalid(name, "no -----BEGIN CERTIFICATE----- block".into()));
    }
    Ok(certificates)
}

/// `a, b,,c` → `[a, b, c]`.
pub fn parse_list(list: &str) -> Vec<String> {
    list.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

fn invalid(name: &'static str, reason: String) -> ConfigError {
    ConfigError::Invalid { name, reason }
}

fn url(name: &'static str, value: String) -> Result<String, ConfigError> {
    if value.starts_with("https://") || value.starts_with("http://localhost") || value.starts_with("http://127.0.0.1") {
        Ok(value)
    } else {
        Err(invalid(name, "must be an https:// URL".into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pension_percentages_and_notice_boards() {
        let local = settings(&[]).expect("defaults");
        assert_eq!(local.pension.early_reduction_per_mille_percent, 1500);
        assert_eq!(local.notice_boards, NoticeBoardsSettings::Simulator);
        let set = settings(&[("PORTAL_PENSION_EARLY_REDUCTION", "1.25"), ("PORTAL_PENSION_POSTPONED_INCREASE", "2")])
            .expect("set");
        assert_eq!(set.pension.early_reduction_per_mille_percent, 1250);
        assert_eq!(set.pension.postponed_increase_per_mille_percent, 2000);
        for bad in ["1,5", "-1", "11", "1.2345", "x"] {
            assert!(settings(&[("PORTAL_PENSION_EARLY_REDUCTION", bad)]).is_err(), "{bad}");
        }
        let feeds = settings(&[("PORTAL_NOTICE_BOARDS", "https://a.example/deska.jsonld, https://b.example/d")])
            .expect("feeds");
        let urls = vec!["https://a.example/deska.jsonld".to_owned(), "https://b.example/d".to_owned()];
        assert_eq!(feeds.notice_boards, NoticeBoardsSettings::Feeds(urls));
        assert!(settings(&[("PORTAL_NOTICE_BOARDS", "http://a.example/d")]).is_err());
    }

    #[test]
    fn tile_sources_are_read_and_checked_by_name() {
        let local = settings(&[]).expect("defaults");
        assert!(local.tiles.sources.is_empty() && local.tiles.simulate_unnamed);
        assert_eq!(local.tiles.budget_ms, 800);
        let named = settings(&[
            (
                "PORTAL_TILE_SOURCES",
                r#"{"erecept": "simulator-down", "cssz": {"url": "https://cssz.example/", "timeoutMs": 500}}"#,
            ),
            ("PORTAL_TILES_CERT", "cert"),
            ("PORTAL_TILES_KEY", "key"),
            ("PORTAL_TILES_BUDGET_MS", "600"),
        ])
        .expect("named");
        assert_eq!(named.tiles.budget_ms, 600);
        assert_eq!(
            named.tiles.sources,
            vec![
                (
                    "cssz".to_owned(),
                    TileSourceKind::Https { url: "https://cssz.example/".into(), timeout_ms: 500, cache_seconds: 300 }
                ),
                ("erecept".to_owned(), TileSourceKind::Simulator(SimulatorMode::Down)),
            ]
        );
        let https_without_cert = settings(&[("PORTAL_TILE_SOURCES", r#"{"cssz": {"url": "https://cssz.example/"}}"#)]);
        assert_eq!(https_without_cert.expect_err("no certificate"), ConfigError::Missing("PORTAL_TILES_CERT"));
        for bad in [
            "not json",
            "[]",
            r#"{"cssz": {"url": "http://cssz.example/"}}"#,
            r#"{"cssz": "simulator-slow"}"#,
            r#"{"Cssz": "simulator"}"#,
            r#"{"cssz": {"url": "https://cssz.example/", "timeoutMs": 0}}"#,
        ] {
            let error = settings(&[("PORTAL_TILE_SOURCES", bad)]).expect_err(bad);
            assert!(matches!(error, ConfigError::Invalid { name: "PORTAL_TILE_SOURCES", .. }), "{bad}: {error}");
        }
        assert!(settings(&[("PORTAL_TILES_BUDGET_MS", "50")]).is_err());
    }

    /// PostSignum's qualified CAs as Datovka ships them (Root QCA, Qualified
    /// CA, Root QCA 2, Qualified CA 2, Qualified CA 3), kept with the ZFOs
    /// they verify.
    const POSTSIGNUM: &str = include_str!("../../../functions/databox/tests/fixtures/zfo/postsignum.pem");
    /// The ISDS test environment's seal certificate, taken from one of those
    /// ZFOs (`testdata/README.md`): a certificate, but no authority's.
    const ISDS_SEAL: &str = include_str!("../testdata/isds-test-seal.pem");

    fn settings(pairs: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let map: HashMap<String, String> = pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_are_a_safe_local_run() {
        let s = settings(&[]).expect("defaults");
        assert_eq!(s.environment, Environment::Local);
        assert_eq!(s.store, StoreSettings::Embedded { data_dir: PathBuf::from(".portal"), in_memory: false });
        assert!(s.timers_enabled && s.capabilities.is_none() && s.handler_port.is_none());
    }

    #[test]
    fn the_azure_store_names_each_missing_setting() {
        let error = settings(&[("PORTAL_STORE", "azure")]).expect_err("incomplete");
        assert_eq!(error, ConfigError::Missing("PORTAL_COSMOS_ENDPOINT"));
        assert_eq!(error.to_string(), "setting PORTAL_COSMOS_ENDPOINT is required but missing");
        let error =
            settings(&[("PORTAL_STORE", "azure"), ("PORTAL_COSMOS_ENDPOINT", "https://c.documents.azure.com:443/")])
                .expect_err("incomplete");
        assert_eq!(error, ConfigError::Missing("PORTAL_BLOB_CONTAINER_URL"));
    }

    #[test]
    fn production_needs_azure_and_valid_values() {
        let error = settings(&[("PORTAL_ENVIRONMENT", "production")]).expect_err("embedded in production");
        assert!(matches!(error, ConfigError::Invalid { name: "PORTAL_STORE", .. }));
        let s = settings(&[
            ("PORTAL_ENVIRONMENT", "production"),
            ("PORTAL_STORE", "azure"),
            ("PORTAL_COSMOS_ENDPOINT", "https://c.documents.azure.com:443/"),
            ("PORTAL_BLOB_CONTAINER_URL", "https://s.blob.core.windows.net/citizens"),
            ("AzureWebJobsStorage__queueServiceUri", "https://s.queue.core.windows.net/"),
            ("AZURE_CLIENT_ID", "00000000-0000-0000-0000-000000000001"),
            ("PORTAL_TIMERS_ENABLED", "false"),
            ("PORTAL_CAPABILITIES", "ops, databox,,"),
            ("FUNCTIONS_CUSTOMHANDLER_PORT", "40123"),
            ("PORTAL_KEY_VAULT_URL", "https://kv.vault.azure.net/"),
            ("PORTAL_OIDC_DISCOVERY_URL", "https://nia.identita.gov.cz/fpsts/oidc/openid-configuration"),
            ("PORTAL_OIDC_CLIENT_ID", "portal"),
            ("PORTAL_OIDC_CLIENT_SECRET", "s3cret"),
            ("PORTAL_OIDC_REDIRECT_URL", "https://obcan.example/api/auth/callback"),
            ("PORTAL_OIDC_DECRYPTION_KEY", "-----BEGIN PRIVATE KEY-----"),
            ("PORTAL_ISDS_URL", "https://ws1.mojedatovaschranka.cz/DS/"),
            ("PORTAL_ISDS_USER", "portal"),
            ("PORTAL_ISDS_PASSWORD", "s3cret"),
            ("PORTAL_ISDS_ZFO_TRUST", POSTSIGNUM),
            ("PORTAL_PUBLIC_URL", "https://obcan.example/"),
            ("PORTAL_SMTP_HOST", "smtp.example"),
            ("PORTAL_MALWARE_SCAN", "defender"),
            ("PORTAL_SMTP_TLS", "starttls"),
            ("PORTAL_SMTP_PORT", "587"),
            ("PORTAL_REGISTERS_GATEWAY", "https://registers.gw.example/v1/"),
            ("PORTAL_REGISTERS_CERT", "-----BEGIN CERTIFICATE-----"),
            ("PORTAL_REGISTERS_KEY", "-----BEGIN PRIVATE KEY-----"),
            ("PORTAL_PETITIONS_SIGNER_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
            ("PORTAL_OFFICIALS", "CZ%2F123, CZ%2F456"),
        ])
        .expect("complete");
        let StoreSettings::Azure(azure) = &s.store else { panic!("azure store") };
        assert_eq!(azure.queue_service_url, "https://s.queue.core.windows.net", "no trailing slash");
        assert_eq!(
            azure.credential,
            AzureCredential::ManagedIdentity { client_id: Some("00000000-0000-0000-0000-000000000001".into()) }
        );
        assert_eq!(s.capabilities, Some(vec!["ops".to_owned(), "databox".to_owned()]));
        assert_eq!((s.timers_enabled, s.handler_port), (false, Some(40123)));
        assert!(matches!(s.identity, IdentityProvider::Nia(_)));
        assert_eq!(s.public_url, "https://obcan.example", "no trailing slash");
        let MailSettings::Smtp(smtp) = &s.mail else { panic!("smtp") };
        assert_eq!((smtp.port, smtp.tls), (587, SmtpTls::StartTls));
        assert_eq!(s.sms, SmsSettings::NotConnected, "no SMS simulator outside local and test");
        assert!(s.documents.defender_scan, "uploads are cleared by Defender for Storage");
        assert_eq!(
            s.key_encryption,
            KeyEncryption::KeyVault { vault_url: "https://kv.vault.azure.net/".into(), key_name: "citizen-kek".into() }
        );
    }

    #[test]
    fn links_point_where_the_local_portal_listens_and_elsewhere_the_public_url_is_required() {
        let mut local = settings(&[]).expect("local");
        local.listening_on("http://127.0.0.1:18080/");
        assert_eq!(local.public_url, "http://127.0.0.1:18080", "the port it listens on, not 7071");
        let mut configured = settings(&[("PORTAL_PUBLIC_URL", "https://obcan.example/")]).expect("local");
        configured.listening_on("http://127.0.0.1:18080");
        assert_eq!(configured.public_url, "https://obcan.example", "a configured address wins");
        // Outside local mode there is no port to fall back on: start-up fails naming the setting.
        let error = settings(&[
            ("PORTAL_ENVIRONMENT", "test"),
            ("PORTAL_OIDC_DISCOVERY_URL", "https://tnia.identita.gov.cz/fpsts/oidc/openid-configuration"),
            ("PORTAL_OIDC_CLIENT_ID", "portal"),
            ("PORTAL_OIDC_CLIENT_SECRET", "s3cret"),
            ("PORTAL_OIDC_REDIRECT_URL", "https://obcan.example/api/auth/callback"),
            ("PORTAL_OIDC_DECRYPTION_KEY", "-----BEGIN PRIVATE KEY-----"),
        ])
        .expect_err("no public URL");
        assert!(matches!(error, ConfigError::Missing("PORTAL_PUBLIC_URL")), "{error}");
        assert!(error.to_string().contains("PORTAL_PUBLIC_URL"), "the message names it: {error}");
    }

    #[test]
    fn the_malware_scan_simulator_is_local_only_and_production_names_its_scanner() {
        assert!(!settings(&[]).expect("local").documents.defender_scan, "the EICAR simulator locally");
        let error = settings(&[("PORTAL_ENVIRONMENT", "production"), ("PORTAL_MALWARE_SCAN", "simulator")])
            .expect_err("simulator");
        assert!(matches!(error, ConfigError::Invalid { .. }), "{error}");
        let error = settings(&[("PORTAL_MALWARE_SCAN", "clamav")]).expect_err("unknown scanner");
        assert!(matches!(error, ConfigError::Invalid { name: "PORTAL_MALWARE_SCAN", .. }), "{error}");
    }

    #[test]
    fn the_isds_simulator_is_refused_in_production() {
        let error =
            settings(&[("PORTAL_ENVIRONMENT", "production"), ("PORTAL_ISDS", "simulator")]).expect_err("simulator");
        assert!(matches!(error, ConfigError::Invalid { .. }), "{error}");
        assert!(matches!(settings(&[]).expect("local").isds, IsdsSettings::Simulator));
        let error = settings(&[("PORTAL_ARCHIVE_AFTER_DAYS", "95")]).expect_err("too late");
        assert!(matches!(error, ConfigError::Invalid { name: "PORTAL_ARCHIVE_AFTER_DAYS", .. }));
    }

    #[test]
    fn isds_certificate_login_takes_pem_text_or_files() {
        let base = [
            ("PORTAL_ENVIRONMENT", "test"),
            ("PORTAL_ISDS", "soap"),
            ("PORTAL_ISDS_URL", "https://ws1.czebox.cz/DS/"),
            ("PORTAL_OIDC_DISCOVERY_URL", "https://tnia.identita.gov.cz/fpsts/oidc/openid-configuration"),
            ("PORTAL_OIDC_CLIENT_ID", "portal"),
            ("PORTAL_OIDC_CLIENT_SECRET", "s3cret"),
            ("PORTAL_OIDC_REDIRECT_URL", "https://obcan.example/api/auth/callback"),
            ("PORTAL_OIDC_DECRYPTION_KEY", "-----BEGIN PRIVATE KEY-----"),
            ("PORTAL_PUBLIC_URL", "https://obcan.example"),
            ("PORTAL_PETITIONS_SIGNER_KEY", "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="),
        ];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = base.to_vec();
            pairs.extend_from_slice(extra);
            settings(&pairs)
        };
        let s = with(&[
            ("PORTAL_ISDS_CERT", "-----BEGIN CERTIFICATE-----"),
            ("PORTAL_ISDS_KEY_FILE", "/k.pem"),
            ("PORTAL_ISDS_ZFO_TRUST", POSTSIGNUM),
        ])
        .expect("certificate login");
        let IsdsSettings::Soap { login: IsdsLogin::Certificate { cert, key }, .. } = s.isds else { panic!("cert") };
        assert!(matches!(cert, Pem::Text(_)) && matches!(key, Pem::File(_)));
        let error = with(&[("PORTAL_ISDS_CERT", "-----BEGIN CERTIFICATE-----")]).expect_err("no key");
        assert_eq!(error, ConfigError::Missing("PORTAL_ISDS_KEY"));
        let error = with(&[]).expect_err("neither a certificate nor a password");
        assert_eq!(error, ConfigError::Missing("PORTAL_ISDS_USER"));
    }

    #[test]
    fn the_isds_adapter_needs_a_bundle_of_authorities_for_zfo_signatures() {
        let soap = |trust: Option<&str>| {
            let mut pairs = vec![
                ("PORTAL_ISDS", "soap"),
                ("PORTAL_ISDS_URL", "https://ws1.czebox.cz/hspis/DS/"),
                ("PORTAL_ISDS_CERT", "-----BEGIN CERTIFICATE-----"),
                ("PORTAL_ISDS_KEY", "-----BEGIN PRIVATE KEY-----"),
            ];
            pairs.extend(trust.map(|text| ("PORTAL_ISDS_ZFO_TRUST", text)));
            settings(&pairs)
        };
        // The bundle as OpenSSL prints it, text between the blocks included.
        let s = soap(Some(&format!("subject=PostSignum\n{POSTSIGNUM}\n# end\n"))).expect("PostSignum's CAs");
        let IsdsSettings::Soap { zfo_trust, .. } = &s.isds else { panic!("soap") };
        assert_eq!(zfo_trust.len(), 5, "every certificate of the bundle");
        assert!(zfo_trust.iter().all(|der| der.first() == Some(&0x30)), "DER certificates");
        // The registers' simulated CA is an authority too (a bundle is not
        // checked to be PostSignum's: the operator chooses).
        let simulated = include_str!("../../../functions/registers/testdata/qualified-test-ca.pem");
        assert!(soap(Some(simulated)).is_ok());

        assert_eq!(soap(None).expect_err("none"), ConfigError::Missing("PORTAL_ISDS_ZFO_TRUST"));
        assert_eq!(soap(Some("")).expect_err("empty"), ConfigError::Missing("PORTAL_ISDS_ZFO_TRUST"));
        let bad = [
            ("PostSignum Root QCA 4", "no -----BEGIN CERTIFICATE----- block"),
            ("@Microsoft.KeyVault(VaultName=kv;SecretName=isds-zfo-trust)", "Key Vault reference was not resolved"),
            (ISDS_SEAL, "Informační systém datových schránek - zkušební prostředí,O=Ministerstvo vnitra"),
            ("-----BEGIN PRIVATE KEY-----\nMC4CAQA=\n-----END PRIVATE KEY-----", "'PRIVATE KEY', not a CERTIFICATE"),
            ("-----BEGIN CERTIFICATE-----\nMIIB", "has no -----END CERTIFICATE-----"),
            ("-----BEGIN CERTIFICATE-----\n*not base64*\n-----END CERTIFICATE-----", "is not base64"),
            ("-----BEGIN CERTIFICATE-----\nMC4CAQA=\n-----END CERTIFICATE-----", "not an X.509 certificate"),
        ];
        for (text, expected) in bad {
            let error = soap(Some(text)).expect_err(expected);
            let ConfigError::Invalid { name: "PORTAL_ISDS_ZFO_TRUST", reason } = &error else { panic!("{error}") };
            assert!(reason.contains(expected), "{text:?}: {reason}");
        }
        // One bad certificate spoils the bundle, and is named by its place.
        let error = soap(Some(&format!("{POSTSIGNUM}{ISDS_SEAL}"))).expect_err("a seal among the CAs");
        assert!(error.to_string().contains("block 6 (") && error.to_string().contains("not a certification authority"));
        assert!(error.to_string().starts_with("setting PORTAL_ISDS_ZFO_TRUST is invalid"), "{error}");
    }

    #[test]
    fn the_development_identity_provider_is_local_only() {
        assert!(matches!(settings(&[]).expect("local").identity, IdentityProvider::Development));
        let error = settings(&[("PORTAL_ENVIRONMENT", "test"), ("PORTAL_IDENTITY_PROVIDER", "development")])
            .expect_err("not local");
        assert!(matches!(error, ConfigError::Invalid { name: "PORTAL_IDENTITY_PROVIDER", .. }), "{error}");
        let error = settings(&[("PORTAL_ENVIRONMENT", "test")]).expect_err("nia needs its settings");
        assert_eq!(error, ConfigError::Missing("PORTAL_OIDC_DISCOVERY_URL"));
    }

    #[test]
    fn outside_local_mode_the_id_token_decryption_key_is_required() {
        let nia = [
            ("PORTAL_OIDC_DISCOVERY_URL", "https://tnia.identita.gov.cz/fpsts/oidc/openid-configuration"),
            ("PORTAL_OIDC_CLIENT_ID", "portal"),
            ("PORTAL_OIDC_CLIENT_SECRET", "s3cret"),
            ("PORTAL_OIDC_REDIRECT_URL", "https://obcan.example/api/auth/callback"),
            ("PORTAL_IDENTITY_PROVIDER", "nia"),
        ];
        let mut test = nia.to_vec();
        test.push(("PORTAL_ENVIRONMENT", "test"));
        let error = settings(&test).expect_err("no decryption key");
        assert_eq!(error, ConfigError::Missing("PORTAL_OIDC_DECRYPTION_KEY"));
        assert!(error.to_string().contains("PORTAL_OIDC_DECRYPTION_KEY"));
        let mut local = nia.to_vec();
        local.push(("PORTAL_ENVIRONMENT", "local"));
        assert!(matches!(settings(&local).map(|s| s.identity), Ok(IdentityProvider::Nia(_))), "local may omit it");
    }

    #[test]
    fn malformed_values_name_the_setting() {
        for (name, value) in [
            ("PORTAL_ENVIRONMENT", "prod"),
            ("PORTAL_STORE", "postgres"),
            ("PORTAL_TIMERS_ENABLED", "yes"),
            ("FUNCTIONS_CUSTOMHANDLER_PORT", "99999"),
            ("PORTAL_LOG_FORMAT", "xml"),
            ("PORTAL_SMTP_TLS", "none"),
            ("PORTAL_DOCUMENTS_QUOTA_MB", "0"),
            ("PORTAL_DOCUMENTS_ALLOWED_TYPES", "pdf"),
            ("PORTAL_SMS", "twilio"),
            ("PORTAL_PUBLIC_URL", "ftp://x"),
            ("PORTAL_REGISTERS_GATEWAY", "http://registers.example"),
            ("PORTAL_PETITIONS_SIGNER_KEY", "c2hvcnQ="),
            ("PORTAL_SENATE_BOX_ID", "senat"),
            ("PORTAL_TRUSTED_PROXY_HOPS", "-1"),
            ("PORTAL_CLIENT_IP_HEADER", "X Azure"),
        ] {
            let error = settings(&[(name, value)]).expect_err(name);
            assert!(matches!(&error, ConfigError::Invalid { name: n, .. } if *n == name), "{error}");
        }
        let error =
            settings(&[("PORTAL_STORE", "azure"), ("PORTAL_COSMOS_ENDPOINT", "ftp://nope")]).expect_err("bad url");
        assert!(matches!(error, ConfigError::Invalid { name: "PORTAL_COSMOS_ENDPOINT", .. }));
    }

    #[test]
    fn isds_box_management_is_connected_only_with_all_its_settings() {
        let soap = |extra: &[(&'static str, &'static str)]| {
            let mut pairs = vec![
                ("PORTAL_ISDS", "soap"),
                ("PORTAL_ISDS_URL", "https://ws1c.czebox.cz/hspis/DS/"),
                ("PORTAL_ISDS_CERT", "-----BEGIN CERTIFICATE-----"),
                ("PORTAL_ISDS_KEY", "-----BEGIN PRIVATE KEY-----"),
                ("PORTAL_ISDS_ZFO_TRUST", POSTSIGNUM),
            ];
            pairs.extend_from_slice(extra);
            settings(&pairs)
        };
        let IsdsSettings::Soap { manage, .. } = soap(&[]).expect("without").isds else { panic!("soap") };
        assert!(manage.is_none(), "not configured: not connected");
        let all = [
            ("PORTAL_ISDS_MANAGE_URL", "https://ws1c.czebox.cz/cert/DS/"),
            ("PORTAL_ISDS_MANAGE_BOX", "ovm4spr"),
            ("PORTAL_ISDS_MANAGE_CERT", "-----BEGIN CERTIFICATE-----"),
            ("PORTAL_ISDS_MANAGE_KEY_FILE", "/manage.key"),
        ];
        let IsdsSettings::Soap { manage: Some(manage), .. } = soap(&all).expect("all").isds else { panic!("manage") };
        assert_eq!((manage.url.as_str(), manage.own_box.as_str()), ("https://ws1c.czebox.cz/cert/DS/", "ovm4spr"));
        assert!(matches!((&manage.cert, &manage.key), (Pem::Text(_), Pem::File(_))));
        // Part of it is a mistake that stops start-up, naming what is missing.
        for (left_out, missing) in [
            ("PORTAL_ISDS_MANAGE_URL", "PORTAL_ISDS_MANAGE_URL"),
            ("PORTAL_ISDS_MANAGE_BOX", "PORTAL_ISDS_MANAGE_BOX"),
            ("PORTAL_ISDS_MANAGE_CERT", "PORTAL_ISDS_MANAGE_CERT"),
            ("PORTAL_ISDS_MANAGE_KEY_FILE", "PORTAL_ISDS_MANAGE_KEY"),
        ] {
            let some: Vec<_> = all.iter().copied().filter(|(name, _)| *name != left_out).collect();
            assert_eq!(soap(&some).expect_err(left_out), ConfigError::Missing(missing));
        }
        let mut bad = all;
        bad[1] = ("PORTAL_ISDS_MANAGE_BOX", "OVM-4");
        assert!(matches!(
            soap(&bad).expect_err("bad box"),
            ConfigError::Invalid { name: "PORTAL_ISDS_MANAGE_BOX", .. }
        ));
        bad = all;
        bad[0] = ("PORTAL_ISDS_MANAGE_URL", "http://ws1c.czebox.cz/cert/DS/");
        assert!(matches!(soap(&bad).expect_err("http"), ConfigError::Invalid { name: "PORTAL_ISDS_MANAGE_URL", .. }));
    }

    #[test]
    fn the_example_settings_file_lists_every_setting() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../local.settings.example.json");
        let text = std::fs::read_to_string(&path).expect("local.settings.example.json");
        let json: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
        let values = json["Values"].as_object().expect("Values");
        for setting in SETTINGS {
            assert_eq!(
                values.get(setting.name).and_then(|v| v.as_str()),
                Some(setting.example),
                "{} must be listed with its example value",
                setting.name
            );
        }
        let known: Vec<&str> =
            SETTINGS.iter().map(|s| s.name).chain(["FUNCTIONS_WORKER_RUNTIME", "AzureWebJobsStorage"]).collect();
        for name in values.keys() {
            assert!(known.contains(&name.as_str()), "{name} is listed but the binary does not read it");
        }
    }
}
