//! Composition: stores chosen from configuration in one place, and the
//! capabilities this process serves.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use portal_config::{IdentityProvider, KeyEncryption, Settings, StoreSettings};
use portal_crypto::{CitizenKeys, KeyVaultWrapper, KeyWrapper, LocalKeyFile, Sealer};
use portal_host::runtime::{DeclarationError, Prelude};
use portal_host::{FailureSink, Function, InvocationFailure, Runtime};
use portal_identity::LoginProvider;
use portal_identity::jose::DecryptionKey;
use portal_identity::oidc::{OidcSettings, Provider};
use portal_security::{AccessLog, Authenticator, RateLimiter, SessionTimes, Sessions};
use portal_store::embedded::EmbeddedStore;
use portal_store::{BlobStore, Clock, DocumentStore, NewDocument, QueueStore, StoreError};
use tokio::sync::Notify;

/// Every capability the binary can serve, by name.
pub const CAPABILITIES: &[&str] = &[
    "ops",
    "identity",
    "databox",
    "documents",
    "calendar",
    "notifications",
    "registers",
    "petitions",
    "fees",
    "delegation",
    "pension",
    "noticeboards",
    "tiles",
];

/// Where permanent invocation failures are kept (90 days).
pub const FAILURES_COLLECTION: &str = "ops";
const FAILURES_PARTITION: &str = "invocation-failures";
const FAILURE_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error(transparent)]
    Config(#[from] portal_config::ConfigError),
    #[error("cannot open the store")]
    Store(#[from] StoreError),
    #[error("unknown capability '{name}'; known: {}", CAPABILITIES.join(", "))]
    UnknownCapability { name: String },
    #[error("invalid function declarations")]
    Declaration(#[from] DeclarationError),
    #[error("{context}")]
    Io { context: String, source: std::io::Error },
    #[error("cannot open the key-encryption key")]
    Keys(#[from] portal_crypto::WrapError),
    #[error("the petitions signer key is unusable: {0}")]
    SignerKey(String),
    #[error("the e-mail settings are unusable: {0}")]
    Mail(String),
    #[error("the OpenID Connect decryption key from {path} is unusable")]
    DecryptionKey { path: String, source: portal_identity::jose::JoseError },
}

/// Everything the capabilities share: stores, the citizens' keys, sessions,
/// the access log.
#[derive(Debug, Clone)]
pub struct Services {
    pub stores: Stores,
    pub sealer: Sealer,
    pub sessions: Sessions,
    pub access_log: AccessLog,
    pub authenticator: Arc<Authenticator>,
    /// Who may act for whom: the delegation capability, asked by every
    /// capability's `ActingFor` extractor (so it exists even on an instance
    /// that does not serve the delegation routes).
    pub delegations: Arc<portal_delegation::Delegations>,
    /// Keeps the temporary key folder of an in-memory run alive.
    _temp_keys: Option<Arc<tempfile::TempDir>>,
}

/// Login attempts per minute (and burst) per client address.
const LOGINS_PER_MINUTE: u32 = 20;

impl Services {
    pub async fn open(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Self, AppError> {
        let stores = Stores::open(settings, clock.clone()).await?;
        Self::with_stores(stores, settings).await
    }

    pub async fn with_stores(stores: Stores, settings: &Settings) -> Result<Self, AppError> {
        let clock = stores.clock.clone();
        let mut temp_keys = None;
        let wrapper: Arc<dyn KeyWrapper> = match (&settings.key_encryption, &settings.store) {
            (KeyEncryption::KeyVault { vault_url, key_name }, StoreSettings::Azure(azure)) => {
                let credential = azure_credential(&azure.credential).build()?;
                Arc::new(KeyVaultWrapper::new(vault_url, key_name, credential, None)?)
            }
            (KeyEncryption::KeyVault { .. }, StoreSettings::Embedded { .. }) => {
                return Err(AppError::Config(portal_config::ConfigError::Invalid {
                    name: "PORTAL_KEY_VAULT_URL",
                    reason: "Key Vault goes with the azure store; the embedded store uses local key files".into(),
                }));
            }
            (KeyEncryption::LocalFiles, StoreSettings::Embedded { in_memory: false, data_dir }) => {
                Arc::new(LocalKeyFile::open(data_dir.join("keys"))?)
            }
            (KeyEncryption::LocalFiles, _) => {
                let dir = tempfile::Builder::new().prefix("portal-keys-").tempdir().map_err(|source| AppError::Io {
                    context: "cannot create a temporary key folder".into(),
                    source,
                })?;
                let wrapper = Arc::new(LocalKeyFile::open(dir.path())?);
                temp_keys = Some(Arc::new(dir));
                wrapper
            }
        };
        // The calendar page's filters compare indexed values, not parsed bodies (issue 18).
        stores.documents.index_filters(portal_calendar::COLLECTION, portal_calendar::item::FILTERED_FIELDS).await?;
        let sealer = Sealer::new(Arc::new(CitizenKeys::new(stores.documents.clone(), wrapper, clock.clone())));
        let sessions = Sessions::new(stores.documents.clone(), clock.clone(), SessionTimes::default());
        let access_log = AccessLog::new(stores.documents.clone(), clock.clone());
        let authenticator = Arc::new(Authenticator {
            sessions: sessions.clone(),
            writes: Arc::new(RateLimiter::new(settings.writes_per_minute, settings.writes_per_minute, clock)),
        });
        let delegations = delegations(&stores, &sealer, &access_log, settings);
        Ok(Self { stores, sealer, sessions, access_log, authenticator, delegations, _temp_keys: temp_keys })
    }
}

/// The delegation capability over the stores. Representation by law comes from
/// the simulated registers wherever the registers are simulated; against the
/// real registers gateway the relationship queries (ROB parents and children,
/// ROS statutory bodies) are not built yet, so no representation is offered
/// there rather than a simulated one (`RegistersNotConnected`).
fn delegations(
    stores: &Stores,
    sealer: &Sealer,
    access_log: &AccessLog,
    settings: &Settings,
) -> Arc<portal_delegation::Delegations> {
    use portal_delegation::register::{NotConnected, Representations, SimulatedRegister};
    let register: Arc<dyn Representations> = match settings.registers {
        portal_config::RegistersGateway::Simulator => Arc::new(SimulatedRegister::default()),
        _ => Arc::new(NotConnected),
    };
    Arc::new(portal_delegation::Delegations {
        documents: stores.documents.clone(),
        queues: stores.queues.clone(),
        sealer: sealer.clone(),
        access_log: access_log.clone(),
        clock: stores.clock.clone(),
        names: Arc::new(ProfileNames { documents: stores.documents.clone(), sealer: sealer.clone() }),
        register,
    })
}

/// A citizen's name from their identity profile (NIA's attributes), for the
/// other side of a delegation.
#[derive(Debug)]
struct ProfileNames {
    documents: Arc<dyn DocumentStore>,
    sealer: Sealer,
}

#[async_trait]
impl portal_delegation::Names for ProfileNames {
    async fn name(
        &self,
        subject: &portal_security::SubjectId,
    ) -> Result<Option<String>, portal_delegation::NamesUnavailable> {
        let profile = portal_identity::profile::load(self.documents.as_ref(), &self.sealer, subject)
            .await
            .map_err(|error| portal_delegation::NamesUnavailable(error.to_string()))?;
        Ok(profile.map(|p| {
            [p.given_name, p.family_name].into_iter().flatten().filter(|s| !s.is_empty()).collect::<Vec<_>>().join(" ")
        }))
    }
}

fn azure_credential(credential: &portal_config::AzureCredential) -> portal_store::azure::AzureCredential {
    match credential {
        portal_config::AzureCredential::ManagedIdentity { client_id } => {
            portal_store::azure::AzureCredential::ManagedIdentity { client_id: client_id.clone() }
        }
        portal_config::AzureCredential::DeveloperTools => portal_store::azure::AzureCredential::DeveloperTools,
    }
}

/// The three stores, whichever backend holds them.
#[derive(Debug, Clone)]
pub struct Stores {
    pub documents: Arc<dyn DocumentStore>,
    pub blobs: Arc<dyn BlobStore>,
    pub queues: Arc<dyn QueueStore>,
    /// `embedded` or `azure`.
    pub kind: &'static str,
    /// Woken when a message is sent (embedded store only).
    pub queue_activity: Option<Arc<Notify>>,
    pub clock: Arc<dyn Clock>,
}

impl Stores {
    pub fn embedded(store: EmbeddedStore, clock: Arc<dyn Clock>) -> Self {
        let activity = store.queue_activity();
        let store = Arc::new(store);
        Self {
            documents: store.clone(),
            blobs: store.clone(),
            queues: store,
            kind: "embedded",
            queue_activity: Some(activity),
            clock,
        }
    }

    /// Opens the stores the settings name.
    pub async fn open(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Self, AppError> {
        match &settings.store {
            StoreSettings::Embedded { in_memory: true, .. } => {
                Ok(Self::embedded(EmbeddedStore::in_memory(clock.clone())?, clock))
            }
            StoreSettings::Embedded { data_dir, .. } => {
                Ok(Self::embedded(EmbeddedStore::open(data_dir, clock.clone())?, clock))
            }
            StoreSettings::Azure(azure) => {
                let stores = portal_store::azure::connect(&azure_settings(azure), clock.clone()).await?;
                Ok(Self {
                    documents: stores.documents,
                    blobs: stores.blobs,
                    queues: stores.queues,
                    kind: "azure",
                    queue_activity: None,
                    clock,
                })
            }
        }
    }
}

fn azure_settings(settings: &portal_config::AzureStoreSettings) -> portal_store::azure::AzureSettings {
    portal_store::azure::AzureSettings {
        cosmos_endpoint: settings.cosmos_endpoint.clone(),
        cosmos_database: settings.cosmos_database.clone(),
        cosmos_key: None,
        cosmos_region: settings.cosmos_region.clone(),
        blob_container_url: settings.blob_container_url.clone(),
        queue_service_url: settings.queue_service_url.clone(),
        credential: azure_credential(&settings.credential),
        extra_ca_certificate: None,
        emulator: false,
    }
}

/// Records permanent failures as documents operators can query, and keeps a
/// failed queue message whole, with its reason, as a
/// [`portal_host::PoisonRecord`] in `<queue>-poison`, where `portal
/// replay-poison <queue>` finds it.
#[derive(Debug)]
pub struct StoredFailures {
    pub documents: Arc<dyn DocumentStore>,
    pub queues: Arc<dyn QueueStore>,
}

#[async_trait]
impl FailureSink for StoredFailures {
    async fn record(&self, failure: InvocationFailure) -> Result<(), String> {
        tracing::error!(function = %failure.function, invocation_id = %failure.invocation_id, reason = %failure.reason,
            "permanent failure recorded");
        // The message itself first: without it nothing can be replayed, so a
        // failure here leaves the message unacknowledged.
        if let Some(record) = failure.poison_record() {
            let poison = portal_store::QueueName::parse(portal_host::PoisonRecord::poison_queue(&record.queue))
                .map_err(|error| error.to_string())?;
            let text = record.to_text();
            let sent = match self.queues.send(&poison, &text, None).await {
                Err(StoreError::NotFound) => match self.queues.ensure(&poison).await {
                    Ok(()) => self.queues.send(&poison, &text, None).await,
                    Err(error) => Err(error),
                },
                other => other,
            };
            sent.map_err(|error| format!("could not keep the message in {poison}: {error}"))?;
        }
        let body = serde_json::to_value(&failure).unwrap_or_default();
        let doc = NewDocument::new(FAILURES_PARTITION, failure.invocation_id.clone(), body).with_ttl(FAILURE_RETENTION);
        if let Err(error) = self.documents.upsert(FAILURES_COLLECTION, doc, None).await {
            tracing::error!(error = %error, "could not store the failure record; the log line above is the record");
        }
        Ok(())
    }
}

/// The citizen's export (`portal_identity::exports`): each capability's
/// part, identity's first, composed here so no capability imports another.
/// Built whichever capabilities this app serves: every source only reads the
/// shared stores. (The data box's part never calls ISDS: it reads the
/// portal's own archive.)
pub fn exports(services: &Services, settings: &Settings) -> Result<portal_identity::exports::Exports, AppError> {
    use portal_security::export::ExportSource;
    let stores = &services.stores;
    let mut exports = portal_identity::exports::Exports::new(
        stores.documents.clone(),
        stores.blobs.clone(),
        stores.queues.clone(),
        services.sealer.clone(),
        stores.clock.clone(),
        services.access_log.clone(),
    );
    let databox = databox(services, settings)?;
    let isds = databox.clone();
    let others: Vec<Arc<dyn ExportSource>> = vec![
        Arc::new(portal_documents::Documents {
            documents: stores.documents.clone(),
            blobs: stores.blobs.clone(),
            queues: stores.queues.clone(),
            sealer: services.sealer.clone(),
            access_log: services.access_log.clone(),
            clock: stores.clock.clone(),
            settings: portal_documents::DocumentsSettings::default(),
        }),
        Arc::new(portal_calendar::Calendar {
            documents: stores.documents.clone(),
            queues: stores.queues.clone(),
            sealer: services.sealer.clone(),
            access_log: services.access_log.clone(),
            clock: stores.clock.clone(),
            settings: portal_calendar::CalendarSettings::default(),
        }),
        Arc::new(notifications(services, settings)?),
        Arc::new(databox),
        Arc::new(registers(services, settings)?),
        Arc::new(portal_petitions::service::PetitionService::new(petitions(services, settings, isds)?)),
        Arc::new(fees(services, settings)),
        Arc::new(notice_boards(services, settings)),
        services.delegations.clone(),
        // Tiles' part reads only the citizen's stored layout and cached
        // summaries: no summary source, facts or breaker is asked.
        Arc::new(portal_tiles::Tiles {
            documents: stores.documents.clone(),
            queues: stores.queues.clone(),
            sealer: services.sealer.clone(),
            access_log: services.access_log.clone(),
            clock: stores.clock.clone(),
            facts: Arc::new(portal_tiles::NoFacts),
            sources: Arc::new(std::collections::BTreeMap::new()),
            breakers: portal_tiles::Breakers::new(portal_tiles::BreakerSettings::default(), stores.clock.clone()),
            settings: portal_tiles::TilesSettings::default(),
            background: portal_tiles::Background::default(),
            memory: portal_tiles::InstanceMemory::default(),
        }),
    ];
    exports.sources.extend(others);
    Ok(exports)
}

/// The functions of the chosen capabilities (all when `selected` is `None`).
pub fn functions(
    services: &Services,
    settings: &Settings,
    selected: Option<&[String]>,
) -> Result<Vec<Function>, AppError> {
    let stores = &services.stores;
    if let Some(selected) = selected
        && let Some(unknown) = selected.iter().find(|name| !CAPABILITIES.contains(&name.as_str()))
    {
        return Err(AppError::UnknownCapability { name: unknown.clone() });
    }
    let wanted = |name: &str| selected.is_none_or(|list| list.iter().any(|s| s == name));
    let mut functions = Vec::new();
    if wanted("ops") {
        functions.extend(portal_ops::functions(portal_ops::Ops {
            documents: stores.documents.clone(),
            blobs: stores.blobs.clone(),
            queues: stores.queues.clone(),
            store_kind: stores.kind,
            version: env!("CARGO_PKG_VERSION"),
            environment: settings.environment.as_str(),
        }));
    }
    if wanted("delegation") {
        functions.extend(portal_delegation::functions(services.delegations.clone()));
    }
    if wanted("identity") {
        let clock = stores.clock.clone();
        functions.extend(portal_identity::functions(portal_identity::Identity {
            provider: login_provider(settings, clock.clone())?,
            documents: stores.documents.clone(),
            queues: stores.queues.clone(),
            sessions: services.sessions.clone(),
            access_log: services.access_log.clone(),
            sealer: services.sealer.clone(),
            clock: clock.clone(),
            logins: Arc::new(RateLimiter::new(LOGINS_PER_MINUTE, LOGINS_PER_MINUTE, clock)),
            client_addresses: client_addresses(settings),
            exports: Arc::new(exports(services, settings)?),
        }));
    }
    // One ISDS port: the data box's, and the petitions' look-up of addressees.
    let databox = databox(services, settings)?;
    let isds = databox.clone();
    if wanted("databox") {
        functions.extend(portal_databox::functions(databox));
    }
    if wanted("documents") {
        functions.extend(portal_documents::functions(portal_documents::Documents {
            documents: stores.documents.clone(),
            blobs: stores.blobs.clone(),
            queues: stores.queues.clone(),
            sealer: services.sealer.clone(),
            access_log: services.access_log.clone(),
            clock: stores.clock.clone(),
            settings: portal_documents::DocumentsSettings {
                max_upload_bytes: settings.documents.max_upload_bytes,
                allowed_types: settings.documents.allowed_types.clone(),
                quota_bytes: settings.documents.quota_bytes,
                public_base_url: settings.public_url.clone(),
                malware_scan: if settings.documents.defender_scan {
                    portal_documents::scan::ScanMode::Defender
                } else {
                    portal_documents::scan::ScanMode::Simulator
                },
                ..portal_documents::DocumentsSettings::default()
            },
        }));
    }
    if wanted("calendar") {
        functions.extend(portal_calendar::functions(portal_calendar::Calendar {
            documents: stores.documents.clone(),
            queues: stores.queues.clone(),
            sealer: services.sealer.clone(),
            access_log: services.access_log.clone(),
            clock: stores.clock.clone(),
            settings: portal_calendar::CalendarSettings {
                public_base_url: settings.public_url.clone(),
                ..portal_calendar::CalendarSettings::default()
            },
        }));
    }
    if wanted("notifications") {
        functions.extend(portal_notifications::functions(notifications(services, settings)?));
    }
    if wanted("registers") {
        functions.extend(portal_registers::functions(registers(services, settings)?));
    }
    if wanted("fees") {
        functions.extend(portal_fees::functions(fees(services, settings)));
    }
    if wanted("petitions") {
        functions.extend(portal_petitions::functions(petitions(services, settings, isds)?));
    }
    if wanted("tiles") {
        functions.extend(portal_tiles::functions(tiles(services, settings)?));
    }
    if wanted("pension") {
        functions.extend(portal_pension::functions(pension(services, settings)));
    }
    if wanted("noticeboards") {
        functions.extend(portal_noticeboards::functions(notice_boards(services, settings)));
    }
    Ok(functions)
}

/// The pension calculator. The ČSSZ record comes through the calculator's own
/// port: the simulator (the demo citizens' records) where simulators run, and
/// "not connected" elsewhere (no ČSSZ interface is contracted yet).
fn pension(services: &Services, settings: &Settings) -> portal_pension::Pension {
    let simulated =
        matches!(settings.environment, portal_config::Environment::Local | portal_config::Environment::Test);
    let records: Arc<dyn portal_pension::InsuranceRecords> =
        if simulated { Arc::new(portal_pension::SimulatedCssz) } else { Arc::new(portal_pension::CsszNotConnected) };
    portal_pension::Pension {
        records,
        access_log: services.access_log.clone(),
        clock: services.stores.clock.clone(),
        settings: portal_pension::PensionSettings {
            adjustments: portal_pension::Adjustments {
                early_reduction_units: settings.pension.early_reduction_per_mille_percent,
                postponed_increase_units: settings.pension.postponed_increase_per_mille_percent,
            },
        },
    }
}

/// The notice boards: the simulated OFN feeds (served on 127.0.0.1 from the
/// first harvest on) or the feeds the settings list.
fn notice_boards(services: &Services, settings: &Settings) -> portal_noticeboards::NoticeBoards {
    let boards: Arc<dyn portal_noticeboards::BoardDirectory> = match &settings.notice_boards {
        portal_config::NoticeBoardsSettings::Simulator => Arc::new(portal_noticeboards::SimulatedBoards::new()),
        portal_config::NoticeBoardsSettings::Feeds(urls) => {
            Arc::new(portal_noticeboards::StaticBoards::from_urls(urls))
        }
    };
    let stores = &services.stores;
    portal_noticeboards::NoticeBoards {
        boards,
        documents: stores.documents.clone(),
        queues: stores.queues.clone(),
        sealer: services.sealer.clone(),
        access_log: services.access_log.clone(),
        clock: stores.clock.clone(),
        settings: portal_noticeboards::NoticeBoardSettings::default(),
    }
}

/// The citizen's name and date of birth from the identity profile (NIA's
/// attributes), for finding their data box in ISDS: like the signer's details,
/// read in the composition, not by either capability.
#[derive(Debug)]
struct ProfileIdentities {
    documents: Arc<dyn DocumentStore>,
    sealer: Sealer,
}

#[async_trait]
impl portal_databox::CitizenIdentities for ProfileIdentities {
    async fn person(&self, subject: &portal_security::SubjectId) -> Option<portal_databox::isds::PersonQuery> {
        let profile = portal_identity::profile::load(self.documents.as_ref(), &self.sealer, subject).await.ok()??;
        let format = time::macros::format_description!("[year]-[month]-[day]");
        Some(portal_databox::isds::PersonQuery {
            first_name: profile.given_name.filter(|s| !s.trim().is_empty())?,
            last_name: profile.family_name.filter(|s| !s.trim().is_empty())?,
            birth_date: time::Date::parse(profile.date_of_birth?.get(..10)?, &format).ok()?,
        })
    }
}

/// The person's data for creating their data box (`CreateDataBox2`), from
/// the same identity profile: names, date of birth and e-mail. NIA's
/// address arrives as one line and its place of birth is not kept, so those
/// go as nil; ISDS identifies the person in the register of inhabitants.
#[async_trait]
impl portal_databox::box_requests::OwnerIdentities for ProfileIdentities {
    async fn identity(
        &self,
        subject: &portal_security::SubjectId,
    ) -> Result<Option<portal_databox::box_requests::OwnerIdentity>, Box<dyn std::error::Error + Send + Sync>> {
        let profile = match portal_identity::profile::load(self.documents.as_ref(), &self.sealer, subject).await {
            Ok(Some(profile)) => profile,
            Ok(None) => return Ok(None),
            // Erased: nobody to create a box for.
            Err(error) if error.is_shredded() => return Ok(None),
            Err(error) => return Err(Box::new(error)),
        };
        let format = time::macros::format_description!("[year]-[month]-[day]");
        let known = |value: Option<String>| value.filter(|s| !s.trim().is_empty());
        let (Some(given_names), Some(last_name), Some(birth)) =
            (known(profile.given_name), known(profile.family_name), profile.date_of_birth)
        else {
            return Ok(None);
        };
        let Some(birth_date) = birth.get(..10).and_then(|day| time::Date::parse(day, &format).ok()) else {
            return Ok(None);
        };
        Ok(Some(portal_databox::box_requests::OwnerIdentity {
            given_names,
            last_name,
            birth_date,
            birth_city: None,
            birth_county: None,
            birth_state: None,
            address: None,
            nationality: None,
            last_name_at_birth: None,
            email: known(profile.email),
        }))
    }
}

/// Which subjects are companies, and their IČO: the register of persons the
/// delegation capability reads representations from.
#[derive(Debug)]
struct RegisterLegalPersons(Arc<dyn portal_delegation::register::Representations>);

#[async_trait]
impl portal_databox::LegalPersons for RegisterLegalPersons {
    async fn ico(&self, subject: &portal_security::SubjectId) -> Option<portal_databox::isds::Ico> {
        match self.0.ico_of(subject).await {
            Ok(ico) => portal_databox::isds::Ico::parse(&ico?).ok(),
            Err(error) => {
                tracing::warn!(error = %error, "the register of persons could not say whether this is a company");
                None
            }
        }
    }
}

/// The simulated ISDS's system box, where the portal's own searches run locally.
fn system_box_search(job: &'static str) -> portal_databox::isds::BoxContext {
    portal_databox::isds::BoxContext::for_job(
        portal_databox::isds::BoxId::parse(portal_databox::isds::simulator::SYSTEM_BOX).expect("a valid box id"),
        portal_databox::isds::Access::Simulated,
        job,
    )
}

fn databox(services: &Services, settings: &Settings) -> Result<portal_databox::Databox, AppError> {
    use portal_databox::isds::simulator::{IsdsSimulator, SimulatorSettings};
    use portal_databox::isds::soap::{SoapConfig, SoapIsds, SoapLogin, SoapTimeouts};
    use portal_databox::payments::{NotConnected, PaymentsNotConnected, SimulatedCreditSystem};
    use portal_databox::{Databox, DataboxSettings, IsdsCompanyDirectory, IsdsPersonDirectory, NoDirectory};
    let stores = &services.stores;
    let clock = stores.clock.clone();
    let databox_settings = DataboxSettings {
        archive_after_days: settings.archive_after_days,
        max_message_bytes: settings.max_message_bytes,
        credit_amounts_czk: settings.credit_amounts_czk.clone(),
        credit_low_hellers: settings.credit_low_hellers,
        simulated: matches!(settings.isds, portal_config::IsdsSettings::Simulator),
    };
    let base = |isds: Arc<dyn portal_databox::isds::Isds>,
                management: Arc<dyn portal_databox::box_requests::BoxManagement>,
                directory: Arc<dyn portal_databox::BoxDirectory>,
                payments: Arc<dyn portal_databox::payments::PaymentGateway>,
                credit: Arc<dyn portal_databox::payments::CreditSystem>,
                simulated_payments| Databox {
        isds,
        management,
        directory,
        payments,
        credit,
        documents: stores.documents.clone(),
        blobs: stores.blobs.clone(),
        queues: stores.queues.clone(),
        sealer: services.sealer.clone(),
        access_log: services.access_log.clone(),
        clock: clock.clone(),
        settings: databox_settings.clone(),
        simulated_payments,
    };
    Ok(match &settings.isds {
        portal_config::IsdsSettings::Simulator => {
            let simulator = Arc::new(IsdsSimulator::seeded(
                clock.clone(),
                SimulatorSettings { max_message_bytes: settings.max_message_bytes, ..SimulatorSettings::default() },
            ));
            let gateway = Arc::new(portal_databox::payments::simulated_gateway(clock.clone()));
            base(
                simulator.clone(),
                simulator.clone(),
                // The link comes from ISDS's own search by the citizen's
                // identity (FindPersonalDataBox), in the simulator's system box;
                // a company's box (for its statutory body) from FindDataBox by
                // the IČO the register of persons gives.
                Arc::new(IsdsCompanyDirectory {
                    isds: simulator.clone(),
                    companies: Arc::new(RegisterLegalPersons(services.delegations.register.clone())),
                    search_in: Some(system_box_search("company box lookup")),
                    citizens: Arc::new(IsdsPersonDirectory {
                        isds: simulator.clone(),
                        identities: Arc::new(ProfileIdentities {
                            documents: stores.documents.clone(),
                            sealer: services.sealer.clone(),
                        }),
                        search_in: Some(system_box_search("box link lookup")),
                    }),
                }),
                gateway.clone(),
                Arc::new(SimulatedCreditSystem::new(simulator)),
                Some(gateway),
            )
        }
        portal_config::IsdsSettings::Soap { url, login, zfo_trust, manage } => {
            use secrecy::ExposeSecret as _;
            let read = |pem: &portal_config::Pem| match pem {
                portal_config::Pem::Text(text) => Ok(text.expose_secret().to_owned()),
                portal_config::Pem::File(path) => std::fs::read_to_string(path)
                    .map_err(|source| AppError::Io { context: format!("cannot read {}", path.display()), source }),
            };
            // The portal acts in each citizen's own box: the hosted
            // records-system certificate, each call naming the box
            // (docs/architecture.md, "Data box: access to each citizen's box").
            // A user name and password log in to one box: never a shared login.
            let login = match login {
                portal_config::IsdsLogin::Password { .. } => {
                    return Err(AppError::Io {
                        context: "an ISDS user name and password log in to one data box; the portal serves each \
                                  citizen's own box: set PORTAL_ISDS_CERT and PORTAL_ISDS_KEY (the hosted \
                                  records-system certificate) and a …/hspis/DS/ URL"
                            .into(),
                        source: std::io::Error::other("isds"),
                    });
                }
                portal_config::IsdsLogin::Certificate { cert, key } => SoapLogin::HostedCertificate {
                    cert_pem: read(cert)?,
                    key_pem: secrecy::SecretString::from(read(key)?),
                },
            };
            let config = SoapConfig { base_url: url.clone(), login, timeouts: SoapTimeouts::default() };
            // The authorities ISDS's ZFOs chain to (PostSignum's qualified
            // CAs): without them no ZFO shows verified.
            let certificates: Vec<&[u8]> = zfo_trust.iter().map(Vec::as_slice).collect();
            let anchors = portal_databox::isds::zfo_verify::TrustAnchors::from_der(&certificates).map_err(|error| {
                AppError::Io {
                    context: format!("PORTAL_ISDS_ZFO_TRUST: {error}"),
                    source: std::io::Error::other("isds"),
                }
            })?;
            let isds = SoapIsds::new(config)
                .map_err(|error| AppError::Io {
                    context: format!("the ISDS client cannot be built: {error}"),
                    source: std::io::Error::other("isds"),
                })?
                .with_zfo_trust(anchors);
            // Box management (CreateDataBox2) runs with the operator's own
            // privileged system certificate, a login apart from the hosted
            // one; without it a request for a box waits (docs/architecture.md,
            // "Creating a data box").
            let management: Arc<dyn portal_databox::box_requests::BoxManagement> = match manage {
                None => Arc::new(portal_databox::box_requests::NotConnected),
                Some(manage) => {
                    let failed = |error: String| AppError::Io {
                        context: format!("ISDS box management (PORTAL_ISDS_MANAGE_*): {error}"),
                        source: std::io::Error::other("isds"),
                    };
                    let own_box = portal_databox::isds::BoxId::parse(&manage.own_box).map_err(|e| failed(e.into()))?;
                    let config = SoapConfig {
                        base_url: manage.url.clone(),
                        login: SoapLogin::Certificate {
                            cert_pem: read(&manage.cert)?,
                            key_pem: secrecy::SecretString::from(read(&manage.key)?),
                            own_box,
                        },
                        timeouts: SoapTimeouts::default(),
                    };
                    let identities =
                        ProfileIdentities { documents: stores.documents.clone(), sealer: services.sealer.clone() };
                    let management = portal_databox::isds::soap::manage::SoapBoxManagement::new(
                        config,
                        Arc::new(identities),
                        clock.clone(),
                    )
                    .map_err(|error| failed(error.to_string()))?;
                    Arc::new(management)
                }
            };
            base(
                Arc::new(isds),
                management,
                Arc::new(NoDirectory),
                Arc::new(PaymentsNotConnected),
                Arc::new(NotConnected),
                None,
            )
        }
    })
}

/// The signer's name and residence for ePetice, from the identity profile
/// (NIA's attributes): the one place a capability reads what identity stored,
/// so it lives in the composition, not in either capability.
#[derive(Debug)]
struct ProfileSignerDetails {
    documents: Arc<dyn DocumentStore>,
    sealer: Sealer,
}

#[async_trait]
impl portal_petitions::SignerDetails for ProfileSignerDetails {
    async fn details(
        &self,
        subject: &portal_security::SubjectId,
    ) -> Result<Option<portal_petitions::Signer>, portal_petitions::SignerDetailsError> {
        let profile = portal_identity::profile::load(self.documents.as_ref(), &self.sealer, subject)
            .await
            .map_err(|error| portal_petitions::SignerDetailsError(Box::new(error)))?;
        Ok(profile.and_then(|p| {
            Some(portal_petitions::Signer {
                given_name: p.given_name.filter(|s| !s.is_empty())?,
                family_name: p.family_name.filter(|s| !s.is_empty())?,
                residence: p.address.filter(|s| !s.is_empty())?,
            })
        }))
    }
}

/// The petitions' ISDS port over the data box's ISDS client: `FindDataBox` by
/// id (the simulator's directory in local mode) says whether an addressee is
/// an accessible box of a public authority. Every ISDS call runs in a box's
/// context: the operator's own box where one is configured (the simulator's
/// system box locally), else the creator's own box, from which the petition
/// is handed over too (a creator without a box is told so, 422).
#[derive(Debug)]
struct IsdsAddresseeDirectory {
    isds: Arc<dyn portal_databox::isds::Isds>,
    search_in: Option<portal_databox::isds::BoxContext>,
    databox: portal_databox::Databox,
}

#[async_trait]
impl portal_petitions::directory::AddresseeDirectory for IsdsAddresseeDirectory {
    async fn lookup(
        &self,
        creator: &portal_security::SubjectId,
        box_id: &str,
    ) -> Result<portal_petitions::directory::BoxLookup, portal_petitions::directory::DirectoryError> {
        use portal_databox::LinkError;
        use portal_databox::isds::{BoxId, BoxSearch, BoxState, IsdsError};
        use portal_petitions::directory::{BoxLookup, DirectoryError};
        let Ok(id) = BoxId::parse(box_id) else { return Ok(BoxLookup::Unknown) };
        let ctx = match &self.search_in {
            Some(ctx) => ctx.clone(),
            None => match self.databox.job_context(creator, "PetitionAddresseeLookup").await {
                Ok(ctx) => ctx,
                Err(LinkError::NoBox) => return Ok(BoxLookup::CreatorHasNoBox),
                Err(LinkError::Store(error)) => return Err(DirectoryError(Box::new(error))),
            },
        };
        match self.isds.find_boxes(&ctx, &BoxSearch::Id(id)).await {
            Ok(found) => Ok(found.first().map_or(BoxLookup::Unknown, |b| {
                BoxLookup::of(b.box_type, b.state == BoxState::Accessible, &b.owner_name)
            })),
            Err(IsdsError::NotFound) => Ok(BoxLookup::Unknown),
            Err(error) => Err(DirectoryError(Box::new(error))),
        }
    }
}

fn petitions(
    services: &Services,
    settings: &Settings,
    databox: portal_databox::Databox,
) -> Result<portal_petitions::Petitions, AppError> {
    use secrecy::ExposeSecret as _;
    let stores = &services.stores;
    let signer_key = match &settings.petitions.signer_key {
        Some(key) => {
            use base64::Engine as _;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(key.expose_secret().as_bytes())
                .map_err(|_| AppError::SignerKey("not base64".into()))?;
            portal_petitions::SignerKey::new(&bytes).map_err(|error| AppError::SignerKey(error.to_string()))?
        }
        None => {
            tracing::warn!("ePetice signs with the public development key (PORTAL_PETITIONS_SIGNER_KEY is empty)");
            portal_petitions::SignerKey::development()
        }
    };
    Ok(portal_petitions::Petitions {
        documents: stores.documents.clone(),
        blobs: stores.blobs.clone(),
        queues: stores.queues.clone(),
        sealer: services.sealer.clone(),
        access_log: services.access_log.clone(),
        clock: stores.clock.clone(),
        signer_details: Arc::new(ProfileSignerDetails {
            documents: stores.documents.clone(),
            sealer: services.sealer.clone(),
        }),
        directory: Arc::new(IsdsAddresseeDirectory {
            isds: databox.isds.clone(),
            // SIMULATOR: the simulated ISDS's system box; production: the creator's own box.
            search_in: matches!(settings.isds, portal_config::IsdsSettings::Simulator).then(|| {
                portal_databox::isds::BoxContext::for_job(
                    portal_databox::isds::BoxId::parse(portal_databox::isds::simulator::SYSTEM_BOX)
                        .expect("a valid box id"),
                    portal_databox::isds::Access::Simulated,
                    "petitions addressee lookup",
                )
            }),
            databox,
        }),
        settings: portal_petitions::PetitionsSettings {
            signer_key,
            officials: settings.petitions.officials.clone(),
            senate_box_id: settings.petitions.senate_box_id.clone(),
            // A hand-over is one data message: ISDS's limit, as the data box applies it.
            hand_over_max_bytes: settings.max_message_bytes,
            ..portal_petitions::PetitionsSettings::default()
        },
    })
}

/// Where a citizen lives, for the fees of their municipality: the address
/// of the identity profile (NIA's `CurrentAddress`), read here so the fees
/// capability never reads what identity stored.
#[derive(Debug)]
struct ProfileResidence {
    documents: Arc<dyn DocumentStore>,
    sealer: Sealer,
}

#[async_trait]
impl portal_fees::Residence for ProfileResidence {
    async fn address(
        &self,
        subject: &portal_security::SubjectId,
    ) -> Result<Option<String>, portal_fees::ResidenceError> {
        let profile = portal_identity::profile::load(self.documents.as_ref(), &self.sealer, subject)
            .await
            .map_err(|error| portal_fees::ResidenceError::Unavailable(Box::new(error)))?;
        Ok(profile.and_then(|p| p.address).filter(|a| !a.is_empty()))
    }
}

fn fees(services: &Services, settings: &Settings) -> portal_fees::Fees {
    use portal_payments::NotificationKey;
    use secrecy::ExposeSecret as _;
    let stores = &services.stores;
    let simulated = settings.fees.simulated;
    let notification_key = match &settings.fees.notification_secret {
        Some(secret) => NotificationKey::new(secret.expose_secret().as_bytes()),
        None if simulated => NotificationKey::development(),
        // No secret outside local mode: no notification verifies.
        None => NotificationKey::new(invocation_secret().as_bytes()),
    };
    let (fee_system, payments, simulated_payments): (
        Arc<dyn portal_fees::FeeSystem>,
        Arc<dyn portal_payments::PaymentGateway>,
        _,
    ) = if simulated {
        let gateway = Arc::new(portal_fees::simulated_gateway(stores.clock.clone(), notification_key.clone()));
        (Arc::new(portal_fees::SimulatedFeeSystem::new()), gateway.clone(), Some(gateway))
    } else {
        (Arc::new(portal_fees::FeesNotConnected), Arc::new(portal_payments::PaymentsNotConnected), None)
    };
    portal_fees::Fees {
        fee_system,
        residence: Arc::new(ProfileResidence { documents: stores.documents.clone(), sealer: services.sealer.clone() }),
        payments,
        simulated_payments,
        notification_key,
        documents: stores.documents.clone(),
        blobs: stores.blobs.clone(),
        queues: stores.queues.clone(),
        sealer: services.sealer.clone(),
        access_log: services.access_log.clone(),
        clock: stores.clock.clone(),
        settings: portal_fees::FeesSettings {
            simulated,
            public_base_url: settings.public_url.clone(),
            ..portal_fees::FeesSettings::default()
        },
    }
}

/// The facts the tiles' visibility rules ask about, from identity's profile
/// (NIA's attributes): the age from the date of birth, the municipality from
/// the address of residence. Whether the citizen is an entrepreneur or has a
/// data box is not in the profile: registers and the data box tell the tiles
/// by events (`portal_events::CITIZEN_FACTS_QUEUE`), which the tiles keep
/// sealed. Like `ProfileSignerDetails`, the one place that reads identity's
/// data for another capability.
#[derive(Debug)]
struct ProfileTileFacts {
    documents: Arc<dyn DocumentStore>,
    sealer: Sealer,
}

#[async_trait]
impl portal_tiles::FactsSource for ProfileTileFacts {
    async fn facts(
        &self,
        subject: &portal_security::SubjectId,
    ) -> Result<portal_tiles::CitizenFacts, portal_tiles::FactsError> {
        let profile = portal_identity::profile::load(self.documents.as_ref(), &self.sealer, subject)
            .await
            .map_err(|error| portal_tiles::FactsError(Box::new(error)))?;
        let Some(profile) = profile else { return Ok(portal_tiles::CitizenFacts::default()) };
        let day = time::macros::format_description!("[year]-[month]-[day]");
        Ok(portal_tiles::CitizenFacts {
            date_of_birth: profile.date_of_birth.as_deref().and_then(|text| time::Date::parse(text, &day).ok()),
            municipality: profile.address.as_deref().and_then(portal_tiles::definition::municipality_of_address),
            entrepreneur: None,
            has_data_box: None,
        })
    }
}

/// The tiles: every summary source `PORTAL_TILE_SOURCES` names (production
/// adapters over mutual TLS), and in local and test every seed portal's
/// simulator that is not named otherwise.
fn tiles(services: &Services, settings: &Settings) -> Result<portal_tiles::Tiles, AppError> {
    use portal_config::{SimulatorMode, TileSourceKind};
    use portal_tiles::source::simulator::Mode;
    let stores = &services.stores;
    let clock = stores.clock.clone();
    let config = &settings.tiles;
    let modes = config
        .sources
        .iter()
        .filter_map(|(id, kind)| match kind {
            TileSourceKind::Simulator(SimulatorMode::Normal) => Some((id.clone(), Mode::Normal)),
            TileSourceKind::Simulator(SimulatorMode::Down) => Some((id.clone(), Mode::Down)),
            TileSourceKind::Simulator(SimulatorMode::Hang) => Some((id.clone(), Mode::Hang)),
            TileSourceKind::Https { .. } => None,
        })
        .collect();
    let (simulators, _switches) = portal_tiles::simulated_sources(clock.clone(), &modes);
    let mut sources = std::collections::BTreeMap::new();
    for simulator in simulators {
        let named = config.sources.iter().find(|(id, _)| *id == simulator.id).map(|(_, kind)| kind);
        let wanted = match named {
            Some(TileSourceKind::Simulator(_)) => true,
            Some(TileSourceKind::Https { .. }) => false,
            None => config.simulate_unnamed,
        };
        if wanted {
            sources.insert(simulator.id.clone(), simulator);
        }
    }
    if !sources.is_empty() {
        tracing::warn!(count = sources.len(), "SIMULATOR: tile summaries come from simulated portals");
    }
    for (id, kind) in &config.sources {
        let TileSourceKind::Https { url, timeout_ms, cache_seconds } = kind else { continue };
        let (Some(cert), Some(key)) = (&config.client_cert_pem, &config.client_key_pem) else {
            return Err(AppError::Config(portal_config::ConfigError::Missing("PORTAL_TILES_CERT")));
        };
        let timeout = Duration::from_millis(*timeout_ms);
        let adapter = portal_tiles::HttpTileSource::new(&portal_tiles::HttpSourceConfig {
            base_url: url.clone(),
            client_cert_pem: cert.clone(),
            client_key_pem: key.clone(),
            extra_root_pem: config.ca_pem.clone(),
            connect_timeout: timeout,
            timeout,
        })
        .map_err(|error| AppError::Io {
            context: format!("the tile source {id} cannot be built: {error}"),
            source: std::io::Error::other("tile source"),
        })?;
        let source = portal_tiles::ConfiguredSource::new(id.clone(), Arc::new(adapter))
            .with_timeout(timeout)
            .with_cache_for(Duration::from_secs(*cache_seconds));
        sources.insert(id.clone(), source);
    }
    let tiles_settings = portal_tiles::TilesSettings {
        budget: Duration::from_millis(config.budget_ms),
        officials: config.officials.clone(),
        ..portal_tiles::TilesSettings::default()
    };
    Ok(portal_tiles::Tiles {
        documents: stores.documents.clone(),
        queues: stores.queues.clone(),
        sealer: services.sealer.clone(),
        access_log: services.access_log.clone(),
        clock: clock.clone(),
        facts: Arc::new(ProfileTileFacts { documents: stores.documents.clone(), sealer: services.sealer.clone() }),
        sources: Arc::new(sources),
        breakers: portal_tiles::Breakers::new(tiles_settings.breaker, clock),
        settings: tiles_settings,
        background: portal_tiles::Background::default(),
        memory: portal_tiles::InstanceMemory::default(),
    })
}

fn registers(services: &Services, settings: &Settings) -> Result<portal_registers::Registers, AppError> {
    let stores = &services.stores;
    let (gateway, simulated): (Arc<dyn portal_registers::RegistersGateway>, bool) = match &settings.registers {
        portal_config::RegistersGateway::Simulator => (portal_registers::simulated_gateway(stores.clock.clone()), true),
        portal_config::RegistersGateway::Https { url, client_cert_pem, client_key_pem, ca_pem } => {
            let config = portal_registers::HttpGatewayConfig {
                extra_root_pem: ca_pem.clone(),
                ..portal_registers::HttpGatewayConfig::new(url.clone(), client_cert_pem.clone(), client_key_pem.clone())
            };
            let gateway = portal_registers::HttpGateway::new(config).map_err(|error| AppError::Io {
                context: format!("the registers gateway client cannot be built: {error}"),
                source: std::io::Error::other("registers gateway"),
            })?;
            (Arc::new(gateway), false)
        }
    };
    // Fees (the driving licence) go through a payment gateway: only a simulator exists, alongside the registers one.
    let (payments, simulated_payments): (Arc<dyn portal_registers::PaymentGateway>, _) = if simulated {
        let gateway = Arc::new(portal_registers::payments::simulated_gateway(stores.clock.clone()));
        (gateway.clone(), Some(gateway))
    } else {
        (Arc::new(portal_registers::PaymentsNotConnected), None)
    };
    Ok(portal_registers::Registers {
        gateway,
        payments,
        simulated_payments,
        documents: stores.documents.clone(),
        blobs: stores.blobs.clone(),
        queues: stores.queues.clone(),
        sealer: services.sealer.clone(),
        access_log: services.access_log.clone(),
        clock: stores.clock.clone(),
        settings: portal_registers::RegistersSettings {
            simulated,
            // The committed test CA only with the simulator; elsewhere the configured qualified CAs or none.
            qualified_trust_anchors: match &settings.qualified_trust_anchors {
                Some(pem) => portal_registers::filings::certificate::TrustAnchors::from_pem(pem).map_err(|error| {
                    AppError::Io {
                        context: format!("PORTAL_QUALIFIED_TRUST_ANCHORS: {error}"),
                        source: std::io::Error::other("qualified trust anchors"),
                    }
                })?,
                None if simulated => portal_registers::RegistersSettings::default().qualified_trust_anchors,
                None => portal_registers::filings::certificate::TrustAnchors::default(),
            },
            ..portal_registers::RegistersSettings::default()
        },
    })
}

fn notifications(services: &Services, settings: &Settings) -> Result<portal_notifications::Notifications, AppError> {
    use portal_notifications::{Mailer, SimulatedMailer, SimulatedSms, SmsGateway, SmsNotConnected, SmtpMailer};
    let mailer: Arc<dyn Mailer> = match &settings.mail {
        portal_config::MailSettings::Simulator => {
            tracing::warn!("SIMULATOR: e-mail is not sent anywhere (PORTAL_SMTP_HOST is empty)");
            Arc::new(SimulatedMailer::new())
        }
        portal_config::MailSettings::Smtp(smtp) => {
            let extra_root_ca_pem =
                match &smtp.ca_file {
                    None => None,
                    Some(path) => Some(std::fs::read_to_string(path).map_err(|source| AppError::Io {
                        context: format!("cannot read {}", path.display()),
                        source,
                    })?),
                };
            let tls = match smtp.tls {
                portal_config::SmtpTls::Implicit => portal_notifications::SmtpTls::Implicit,
                portal_config::SmtpTls::StartTls => portal_notifications::SmtpTls::StartTls,
            };
            let config = portal_notifications::SmtpSettings {
                username: smtp.user.clone(),
                password: smtp.password.clone(),
                extra_root_ca_pem,
                ..portal_notifications::SmtpSettings::new(smtp.host.clone(), smtp.port, tls)
            };
            Arc::new(SmtpMailer::new(&config).map_err(|error| AppError::Mail(error.to_string()))?)
        }
    };
    let sms: Arc<dyn SmsGateway> = match settings.sms {
        portal_config::SmsSettings::Simulator => Arc::new(SimulatedSms::new()),
        portal_config::SmsSettings::NotConnected => Arc::new(SmsNotConnected),
    };
    let from_address = match &settings.mail {
        portal_config::MailSettings::Smtp(smtp) => smtp.from.clone(),
        portal_config::MailSettings::Simulator => "Portál občana <noreply@obcan.portal.gov.cz>".into(),
    };
    let notification_settings = portal_notifications::NotificationSettings {
        from_address,
        portal_url: settings.public_url.clone(),
        mail_per_minute: settings.mail_per_minute,
        ..portal_notifications::NotificationSettings::default()
    };
    notification_settings.check().map_err(AppError::Mail)?;
    let stores = &services.stores;
    Ok(portal_notifications::Notifications {
        documents: stores.documents.clone(),
        queues: stores.queues.clone(),
        sealer: services.sealer.clone(),
        access_log: services.access_log.clone(),
        clock: stores.clock.clone(),
        mailer,
        sms,
        mail_limit: portal_notifications::Notifications::mail_limiter(&notification_settings, stores.clock.clone()),
        settings: notification_settings,
    })
}

fn login_provider(settings: &Settings, clock: Arc<dyn Clock>) -> Result<LoginProvider, AppError> {
    use secrecy::ExposeSecret as _;
    let IdentityProvider::Nia(oidc) = &settings.identity else { return Ok(LoginProvider::Development) };
    let decryption_key = match (&oidc.decryption_key_pem, &oidc.decryption_key_file) {
        (Some(pem), _) => Some(Arc::new(
            DecryptionKey::from_pem(pem.expose_secret())
                .map_err(|source| AppError::DecryptionKey { path: "PORTAL_OIDC_DECRYPTION_KEY".into(), source })?,
        )),
        (None, None) => None,
        (None, Some(path)) => {
            let shown = path.display().to_string();
            let pem = std::fs::read_to_string(path)
                .map_err(|source| AppError::Io { context: format!("cannot read {shown}"), source })?;
            Some(Arc::new(
                DecryptionKey::from_pem(&pem).map_err(|source| AppError::DecryptionKey { path: shown, source })?,
            ))
        }
    };
    let settings = OidcSettings {
        discovery_url: oidc.discovery_url.clone(),
        client_id: oidc.client_id.clone(),
        client_secret: oidc.client_secret.expose_secret().to_owned(),
        redirect_url: oidc.redirect_url.clone(),
        post_logout_redirect_url: oidc.post_logout_redirect_url.clone(),
        issuer: oidc.issuer.clone(),
        decryption_key,
    };
    Ok(LoginProvider::Oidc(Arc::new(Provider::new(settings, clock))))
}

/// The served functions and what their requests need in their extensions.
#[derive(Debug, Clone)]
pub struct App {
    pub runtime: Runtime,
    /// The authenticator, the mandate check and the per-address write limit
    /// (state-changing requests per client address, besides per session).
    wiring: portal_security::RequestWiring,
}

/// A client address may make this many times the writes of one session (an
/// office or a mobile carrier puts many citizens behind one address).
const WRITES_PER_ADDRESS_FACTOR: u32 = 10;

impl App {
    /// The router: every function, with the `Citizen` extractor wired in, and
    /// the web client's files in front.
    ///
    /// Both in the runtime's one layer on each route (its prelude, before the
    /// request's span): every layer on an axum `Router` wraps each route in a
    /// boxed service that is cloned and whose future is boxed on every
    /// request (issue 18). The prelude answers `GET`/`HEAD` of the reference
    /// web client's files (`GET /` and its modules); every other request gets
    /// the app's [`RequestWiring`](portal_security::RequestWiring) in its
    /// extensions, where the `Citizen` extractor finds the authenticator and
    /// the per-address write limiter, and `ActingFor` the mandate check.
    pub fn router(&self) -> axum::Router {
        let wiring = self.wiring.clone();
        self.runtime.router_with(Some(Prelude::new(move |request: &mut axum::extract::Request| {
            if let Some(file) = crate::web::answer(request) {
                return Some(file);
            }
            request.extensions_mut().insert(wiring.clone());
            None
        })))
    }
}

/// Where the client's address comes from (the trusted edge's header or hops).
fn client_addresses(settings: &Settings) -> portal_security::ClientAddressRule {
    portal_security::ClientAddressRule::new(
        settings.client_ip_header.as_deref().and_then(|name| axum::http::HeaderName::try_from(name).ok()),
        settings.trusted_proxy_hops,
    )
}

/// The app serving the chosen capabilities.
pub fn app(services: &Services, settings: &Settings, selected: Option<&[String]>) -> Result<App, AppError> {
    let per_address = settings.writes_per_minute.saturating_mul(WRITES_PER_ADDRESS_FACTOR);
    let wiring = portal_security::RequestWiring::new(services.authenticator.clone())
        .with_mandates(portal_security::MandateCheck(services.delegations.clone()))
        .with_address_writes(portal_security::AddressWriteLimit {
            rule: client_addresses(settings),
            limiter: Arc::new(RateLimiter::new(per_address, per_address, services.stores.clock.clone())),
        });
    Ok(App { runtime: runtime(services, settings, selected)?, wiring })
}

/// The runtime serving the chosen capabilities.
pub fn runtime(services: &Services, settings: &Settings, selected: Option<&[String]>) -> Result<Runtime, AppError> {
    let failures = Arc::new(StoredFailures {
        documents: services.stores.documents.clone(),
        queues: services.stores.queues.clone(),
    });
    let runtime = Runtime::new(functions(services, settings, selected)?, failures)?
        .with_timers_enabled(settings.timers_enabled)
        // `main` exports spans exactly when a connection string is set (and
        // it serves: `package` exports nothing, and serves nothing either).
        // Keep the two in step if either rule changes.
        .with_export(settings.app_insights.is_some())
        .with_span_parent(portal_telemetry::join_traceparent);
    // Without the Functions host (no FUNCTIONS_CUSTOMHANDLER_PORT) the
    // handler's listener is the public one, so the queue and timer invocation
    // routes demand a per-process secret that only the local host knows.
    Ok(match settings.handler_port {
        Some(_) => runtime,
        None => runtime.with_invocation_secret(invocation_secret()),
    })
}

/// A fresh random secret for this process's invocation routes (244 bits).
fn invocation_secret() -> String {
    format!("{}{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple())
}
