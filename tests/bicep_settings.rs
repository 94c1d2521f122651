//! The app settings Bicep gives the function apps (the block between `==== BEGIN app settings` and `==== END app
//! settings` in bicep/main.bicep) and the settings the binary reads (local.settings.example.json, generated from
//! `portal_config::SETTINGS`) stay in step: every setting the binary reads that applies in Azure is set, and Bicep
//! sets nothing the binary does not read except the host's and the platform's own settings. Every exception is
//! listed below with its reason. Plain string scanning: the block is written to be scanned (one `key: value` a line).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Settings the binary reads that Bicep deliberately leaves unset in Azure.
const NOT_SET_IN_AZURE: &[(&str, &str)] = &[
    ("PORTAL_DATA_DIR", "the embedded store's folder; Azure runs PORTAL_STORE=azure"),
    (
        "AZURE_CLIENT_ID",
        "names a user-assigned identity; the apps use their system-assigned one, and setting it would make the \
         credential ask for a user-assigned identity that does not exist",
    ),
    ("FUNCTIONS_CUSTOMHANDLER_PORT", "the Functions host sets it for each worker process it starts"),
    (
        "AzureWebJobsStorage",
        "a connection string with an account key; Azure uses the identity-based AzureWebJobsStorage__* settings and \
         the storage accounts refuse shared keys",
    ),
    (
        "PORTAL_OIDC_DECRYPTION_KEY_FILE",
        "a path to a PEM file, for laptops: Azure sets PORTAL_OIDC_DECRYPTION_KEY (the PEM itself) from a Key Vault \
         reference, since a file share would need an account key",
    ),
    (
        "PORTAL_ISDS_CERT_FILE",
        "certificate login from a file, for laptops; Azure would use the PEM text settings (PORTAL_ISDS_CERT)",
    ),
    ("PORTAL_ISDS_KEY_FILE", "certificate login, see PORTAL_ISDS_CERT_FILE"),
    (
        "PORTAL_ISDS_USER",
        "a password logs in to one data box; Azure uses the hosted records-system certificate (PORTAL_ISDS_CERT and \
         PORTAL_ISDS_KEY from Key Vault) and the app refuses to start with a password",
    ),
    ("PORTAL_ISDS_PASSWORD", "see PORTAL_ISDS_USER"),
    (
        "PORTAL_ISDS_MANAGE_CERT_FILE",
        "box management from files, for laptops; Azure uses the PEM text settings (PORTAL_ISDS_MANAGE_CERT)",
    ),
    ("PORTAL_ISDS_MANAGE_KEY_FILE", "box management, see PORTAL_ISDS_MANAGE_CERT_FILE"),
    (
        "PORTAL_OIDC_ISSUER",
        "NIA's issuer is not yet confirmed in writing for each environment: until it is, the issuer of the first \
         discovery document an instance reads is pinned and a changed one is refused",
    ),
    (
        "PORTAL_WRITES_PER_MINUTE",
        "the default (120 a minute per session) is the production limit; only the API fuzzing run raises it",
    ),
    (
        "PORTAL_SMTP_CA_FILE",
        "an extra root for private relays and tests; the production relay has a certificate from a public CA",
    ),
];

/// Settings Bicep sets that the binary does not read (a `*` stands for any text).
const HOST_SETTINGS: &[(&str, &str)] = &[
    ("FUNCTIONS_EXTENSION_VERSION", "the Functions runtime version (~4)"),
    (
        "AzureWebJobsStorage__*",
        "the host's storage (timer leases, keys, queue triggers) through the app's identity; the binary reads \
         AzureWebJobsStorage__queueServiceUri as well, so its queues and the triggers' are the same",
    ),
    (
        "AzureWebJobs.*.Disabled",
        "turns a timer (or queue) function off in the standby region and in the staging slots: the host does not \
         even schedule it",
    ),
    ("AzureFunctionsWebHost__hostid", "one host id per slot: production and staging share the host storage account"),
    (
        "WEBSITE_*",
        "App Service platform settings (the package is fetched with the app's identity; the pipeline sets \
         WEBSITE_RUN_FROM_PACKAGE)",
    ),
    (
        "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
        "the host sends telemetry with the app's Entra ID token (Application Insights has local auth off)",
    ),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("cannot read {}: {error}", path.display()))
}

/// The names in local.settings.example.json's "Values".
fn binary_settings() -> BTreeSet<String> {
    let text = read(&root().join("local.settings.example.json"));
    let json: serde_json::Value = serde_json::from_str(&text).expect("local.settings.example.json is JSON");
    json["Values"].as_object().expect("a Values object").keys().cloned().collect()
}

/// The lines of the app settings block of bicep/main.bicep.
fn settings_block() -> Vec<String> {
    let text = read(&root().join("bicep/main.bicep"));
    let begin = text.find("==== BEGIN app settings").expect("bicep/main.bicep has a `==== BEGIN app settings` line");
    let end = text.find("==== END app settings").expect("bicep/main.bicep has a `==== END app settings` line");
    assert!(begin < end, "BEGIN comes before END");
    text[begin..end].lines().skip(1).map(str::to_owned).collect()
}

/// `key: value` of one line of the block, the key without its quotes; `None` for other lines.
fn key_value(line: &str) -> Option<(String, String)> {
    let line = line.trim();
    if line.starts_with("//") || line.starts_with("var ") {
        return None;
    }
    let (key, value) = line.split_once(':')?;
    let key = key.trim().trim_matches('\'');
    let is_name = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.');
    is_name.then(|| (key.to_owned(), value.trim().to_owned()))
}

/// Every key set anywhere in the block.
fn bicep_settings() -> BTreeSet<String> {
    settings_block().iter().map(String::as_str).filter_map(key_value).map(|(key, _)| key).collect()
}

/// The objects of the block by variable name (`var x = {` … `}`), key → value as written.
fn bicep_objects() -> BTreeMap<String, BTreeMap<String, String>> {
    let mut objects = BTreeMap::new();
    let mut current: Option<(String, BTreeMap<String, String>)> = None;
    for line in settings_block() {
        if let Some(rest) = line.strip_prefix("var ")
            && let Some((name, open)) = rest.split_once('=')
            && open.trim() == "{"
        {
            current = Some((name.trim().to_owned(), BTreeMap::new()));
        } else if line == "}" {
            if let Some((name, object)) = current.take() {
                objects.insert(name, object);
            }
        } else if let (Some((_, object)), Some((key, value))) = (current.as_mut(), key_value(&line)) {
            object.insert(key, value);
        }
    }
    objects
}

/// The quoted strings of an array variable of the block (`var x = [` … `]`).
fn bicep_array(name: &str) -> BTreeSet<String> {
    let block = settings_block();
    let header = format!("var {name} = [");
    let start =
        block.iter().position(|line| line.trim() == header).unwrap_or_else(|| panic!("the block has `var {name} = [`"));
    block[start + 1..]
        .iter()
        .take_while(|line| line.trim() != "]")
        .map(|line| line.trim().trim_matches('\'').to_owned())
        .collect()
}

fn matches(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        Some((prefix, suffix)) => {
            name.len() >= prefix.len() + suffix.len() && name.starts_with(prefix) && name.ends_with(suffix)
        }
        None => pattern == name,
    }
}

/// Names of the functions declared with `Function::<kind>("Name"` in the capability crates.
/// The names of the declared functions with this trigger kind (`timer` or `queue`), from the app itself: every
/// capability, as `portal package` would write them.
fn declared_functions(kind: &str) -> BTreeSet<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio");
    runtime.block_on(async {
        use std::sync::Arc;
        let clock = Arc::new(portal_store::SystemClock);
        let store = portal_store::embedded::EmbeddedStore::in_memory(clock.clone()).expect("store");
        let stores = portal::app::Stores::embedded(store, clock);
        let mut settings = portal_config::Settings::from_lookup(|_| None).expect("defaults");
        settings.store = portal_config::StoreSettings::Embedded { data_dir: ".portal".into(), in_memory: true };
        let services = portal::app::Services::with_stores(stores, &settings).await.expect("services");
        let runtime = portal::app::runtime(&services, &settings, None).expect("runtime");
        runtime
            .functions()
            .iter()
            .filter(|function| match &function.trigger {
                portal_host::Trigger::Timer { .. } => kind == "timer",
                portal_host::Trigger::Queue { .. } => kind == "queue",
                portal_host::Trigger::Http { .. } => false,
            })
            .map(|function| function.name.clone())
            .collect()
    })
}

#[test]
fn every_setting_the_binary_reads_is_set_in_bicep_or_excused() {
    let binary = binary_settings();
    let bicep = bicep_settings();
    let missing: Vec<&String> = binary
        .iter()
        .filter(|name| !bicep.contains(*name) && !NOT_SET_IN_AZURE.iter().any(|(excused, _)| excused == name))
        .collect();
    assert!(
        missing.is_empty(),
        "the binary reads {missing:?} but bicep/main.bicep does not set them: add them to the app settings block, \
         or to NOT_SET_IN_AZURE here with the reason"
    );
    for (name, reason) in NOT_SET_IN_AZURE {
        assert!(binary.contains(*name), "{name} is excused ({reason}) but the binary no longer reads it: remove it");
        assert!(!bicep.contains(*name), "{name} is excused ({reason}) but Bicep sets it: remove one of the two");
    }
}

#[test]
fn bicep_sets_nothing_the_binary_does_not_read() {
    let binary = binary_settings();
    let bicep = bicep_settings();
    let unknown: Vec<&String> = bicep
        .iter()
        .filter(|name| !binary.contains(*name) && !HOST_SETTINGS.iter().any(|(pattern, _)| matches(pattern, name)))
        .collect();
    assert!(
        unknown.is_empty(),
        "bicep/main.bicep sets {unknown:?}, which the binary does not read (local.settings.example.json) and which \
         are not host settings: a typo, or a setting removed from shared/config"
    );
    for (pattern, reason) in HOST_SETTINGS {
        assert!(
            bicep.iter().any(|name| matches(pattern, name) && !binary.contains(name)),
            "no setting in Bicep matches the host exception {pattern} ({reason}): remove the exception"
        );
    }
}

#[test]
fn azure_gets_the_production_adapters_and_secrets_from_key_vault() {
    let objects = bicep_objects();
    let portal = objects.get("portalSettings").expect("a portalSettings object in the block");
    let host = objects.get("hostSettings").expect("a hostSettings object in the block");
    let expected = [
        ("PORTAL_STORE", "'azure'"),
        ("PORTAL_IDENTITY_PROVIDER", "'nia'"),
        ("PORTAL_ISDS", "'soap'"),
        ("PORTAL_AZURE_CREDENTIAL", "'managed-identity'"),
        ("PORTAL_LOG_FORMAT", "'json'"),
        ("PORTAL_ENVIRONMENT", "environmentName"),
        ("PORTAL_KEY_NAME", "kekName"),
    ];
    for (name, value) in expected {
        assert_eq!(portal.get(name).map(String::as_str), Some(value), "{name} in portalSettings");
    }
    assert_eq!(host.get("FUNCTIONS_WORKER_RUNTIME").map(String::as_str), Some("'custom'"));
    assert_eq!(host.get("AzureWebJobsStorage__credential").map(String::as_str), Some("'managedidentity'"));
    for secret in [
        "PORTAL_OIDC_CLIENT_SECRET",
        "PORTAL_ISDS_CERT",
        "PORTAL_ISDS_KEY",
        "PORTAL_OIDC_DECRYPTION_KEY",
        // Not secret, but kept with the ISDS certificate it goes with, and changed without a deployment.
        "PORTAL_ISDS_ZFO_TRUST",
    ] {
        let value = portal.get(secret).unwrap_or_else(|| panic!("{secret} in portalSettings"));
        assert!(value.starts_with("'@Microsoft.KeyVault("), "{secret} must be a Key Vault reference, not {value}");
    }
    // A Key Vault reference, or one only when an optional adapter is
    // configured (`empty(param) ? '' : '@Microsoft.KeyVault(…)'`).
    let key_vault = |v: &str| {
        v.starts_with("'@Microsoft.KeyVault(")
            || v.split_once(" ? '' : ").is_some_and(|(condition, reference)| {
                condition.starts_with("empty(") && reference.starts_with("'@Microsoft.KeyVault(")
            })
    };
    for name in objects.values().flat_map(|object| object.keys()) {
        assert!(
            !name.contains("KEY")
                || name == "PORTAL_KEY_NAME"
                || name == "PORTAL_KEY_VAULT_URL"
                || objects.values().any(|o| o.get(name.as_str()).is_some_and(|v| key_vault(v))),
            "{name}: no keys in app settings, only Key Vault references"
        );
    }
}

#[test]
fn timers_run_in_the_active_region_only_and_never_in_a_staging_slot() {
    let timers = declared_functions("timer");
    let queues = declared_functions("queue");
    for expected in ["Housekeeping", "RewrapDataKeys", "ArchiveExpiringMessages", "WarnBeforeDeemedDelivery"] {
        assert!(timers.contains(expected), "{expected} is declared as a timer (found {timers:?})");
    }
    let disabled = |name: &str| format!("AzureWebJobs.{name}.Disabled");
    let objects = bicep_objects();
    let object = |name: &str| objects.get(name).unwrap_or_else(|| panic!("a {name} object in the block")).clone();
    let (on, off, staging) = (object("timersOn"), object("timersOff"), object("stagingSlotSettings"));

    assert_eq!(on.get("PORTAL_TIMERS_ENABLED").map(String::as_str), Some("'true'"));
    assert_eq!(off.get("PORTAL_TIMERS_ENABLED").map(String::as_str), Some("'false'"));
    assert_eq!(staging.get("PORTAL_TIMERS_ENABLED").map(String::as_str), Some("'false'"));
    for timer in &timers {
        assert_eq!(on.get(&disabled(timer)).map(String::as_str), Some("'false'"), "{timer} runs in the active region");
        assert_eq!(off.get(&disabled(timer)).map(String::as_str), Some("'true'"), "{timer} is off in the standby");
        assert_eq!(staging.get(&disabled(timer)).map(String::as_str), Some("'true'"), "{timer} is off in staging");
    }
    for queue in &queues {
        assert_eq!(on.get(&disabled(queue)).map(String::as_str), Some("'false'"), "{queue} consumes when active");
        assert_eq!(off.get(&disabled(queue)).map(String::as_str), Some("'false'"), "{queue} consumes in standby");
        assert_eq!(staging.get(&disabled(queue)).map(String::as_str), Some("'true'"), "{queue} is off in staging");
    }
    let functions: BTreeSet<&String> = timers.iter().chain(&queues).collect();
    for object in [&on, &off, &staging] {
        for name in object.keys().filter_map(|key| key.strip_prefix("AzureWebJobs.")?.strip_suffix(".Disabled")) {
            assert!(functions.contains(&name.to_owned()), "{name} is disabled in Bicep but not declared as a function");
        }
    }

    // What differs between slots must stay with its slot on a swap.
    let sticky = bicep_array("stickySettingNames");
    for name in on.keys() {
        assert!(sticky.contains(name), "{name} differs between slots, so it must be a slot (sticky) setting");
    }
    assert!(sticky.contains("AzureFunctionsWebHost__hostid"), "each slot keeps its own host id");
}
