metadata name = 'Portál občana backend'
metadata description = 'One environment of the portal in two regions: a function app per region (custom handler, Elastic Premium, staging slot), shared Cosmos DB, storage, Key Vault and monitoring, and Front Door Premium with WAF in front of both regions. docs/operations.md says how to deploy, fail over and roll back.'

targetScope = 'resourceGroup'

// ---------------------------------------------------------------------------------------------------------------------
// Parameters (bicep/env/<environment>.bicepparam sets them)
// ---------------------------------------------------------------------------------------------------------------------

@description('The environment: the binary refuses simulators and the embedded store outside local, and test/preproduction/production differ only in sizes and endpoints.')
@allowed([
  'test'
  'preproduction'
  'production'
])
param environmentName string

@description('Prefix of every resource name (letters and digits).')
@minLength(2)
@maxLength(8)
param namePrefix string = 'portal'

@description('Primary region: the Cosmos DB write region, the storage accounts, Key Vault and monitoring live here.')
param primaryLocation string = 'germanywestcentral'

@description('Short code of the primary region, used in names.')
@maxLength(4)
param primaryRegionCode string = 'gwc'

@description('Secondary region: the second function app and the Cosmos DB failover region.')
param secondaryLocation string = 'swedencentral'

@description('Short code of the secondary region, used in names.')
@maxLength(4)
param secondaryRegionCode string = 'sdc'

@description('Which region is active: it runs the timers and gets priority 1 in Front Door. Switch to secondary for a lasting failover (docs/operations.md).')
@allowed([
  'primary'
  'secondary'
])
param activeRegion string = 'primary'

@description('Spread plans and Cosmos DB replicas over availability zones (zone-redundant plans need at least 2 instances).')
param zoneRedundant bool = true

@description('Elastic Premium size of both plans.')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param planSku string = 'EP1'

@description('Always-ready instances in the primary region.')
@minValue(1)
param primaryMinimumInstances int = 1

@description('Always-ready instances in the secondary region.')
@minValue(1)
param secondaryMinimumInstances int = 1

@description('Most instances a plan may scale out to.')
@minValue(1)
param maximumInstances int = 20

@description('Highest RU/s of the shared autoscale throughput of the portal database (it scales between 10 % of this and this, in each region).')
@minValue(1000)
param cosmosAutoscaleMaxThroughput int = 4000

@description('Continuous backup window of Cosmos DB.')
@allowed([
  'Continuous7Days'
  'Continuous30Days'
])
param cosmosBackupTier string = 'Continuous30Days'

@description('Key Vault SKU: premium keeps the key-encryption key in an HSM (kekKeyType RSA-HSM).')
@allowed([
  'standard'
  'premium'
])
param keyVaultSku string = 'standard'

@description('Key type of the key-encryption key: RSA (software) or RSA-HSM (needs keyVaultSku premium).')
@allowed([
  'RSA'
  'RSA-HSM'
])
param kekKeyType string = 'RSA'

@description('Size of the key-encryption key.')
@allowed([
  3072
  4096
])
param kekKeySize int = 3072

@description('Days Log Analytics keeps logs and traces.')
@minValue(30)
@maxValue(730)
param logRetentionDays int = 90

@description('Daily ingestion cap of Log Analytics in GB; -1 = none.')
param logDailyQuotaGb int = -1

@description('Public host name the citizens use (a custom domain already attached to the Front Door endpoint). Empty = the Front Door endpoint host name.')
param publicHostName string = ''

@description('NIA: the OpenID Connect discovery document URL.')
param oidcDiscoveryUrl string

@description('NIA: the portal\'s client id.')
param oidcClientId string

@description('NIA: where the provider sends the citizen after logout. Empty = the provider\'s default.')
param oidcPostLogoutRedirectUrl string = ''

@description('ISDS: base URL of the web services (…/DS/).')
param isdsUrl string

@description('ISDS: user name of the portal\'s system account (password login; the password is the Key Vault secret isds-password).')
param isdsUser string

@description('SMTP relay for e-mail notifications (implicit TLS on smtpPort, or STARTTLS; the password is the Key Vault secret smtp-password).')
param smtpHost string

@description('SMTP port: 465 for implicit TLS, 587 for STARTTLS.')
param smtpPort int = 465

@description('SMTP TLS mode.')
@allowed([
  'implicit'
  'starttls'
])
param smtpTls string = 'implicit'

@description('SMTP user name of the portal. Empty = the relay authenticates by network.')
param smtpUser string = ''

@description('The From of every e-mail.')
param smtpFrom string = 'Portál občana <noreply@obcan.portal.gov.cz>'

@description('Largest document a citizen uploads, MB.')
@minValue(1)
@maxValue(500)
param documentsMaxUploadMb int = 20

@description('Storage for each citizen\'s own uploads, MB (documents the state files do not count).')
@minValue(1)
param documentsQuotaMb int = 200

@description('The registers gateway in the government data centre (JSON over HTTPS with mutual TLS; the client certificate and key are the Key Vault secrets registers-client-cert and registers-client-key).')
param registersGatewayUrl string

@description('PEM of the CA the registers gateway\'s server certificate chains to. Empty = a public CA.')
param registersGatewayCa string = ''

@description('ePetice: subject ids (NIA pseudonyms, percent-encoded) of the Ministry of the Interior\'s officials, comma-separated. The signer key is the Key Vault secret petitions-signer-key.')
param petitionOfficials string = ''

@description('ePetice: the Senate\'s data box id; petitions to it are marked past 10,000 signatures. Empty = no mark.')
param senateBoxId string = ''

@description('Capabilities the apps serve (comma-separated); empty = all.')
param capabilities string = ''

@description('Log filter of the binary (tracing EnvFilter syntax).')
param logFilter string = 'info'

@description('Archive data messages delivered this many days ago (1-89; ISDS deletes at 90).')
@minValue(1)
@maxValue(89)
param archiveAfterDays int = 80

@description('Largest data message ISDS accepts, in MB.')
@minValue(1)
@maxValue(1000)
param maxMessageMb int = 100

@description('WAF: requests per minute one client address may send to /api/.')
param wafApiRequestsPerMinute int = 1000

@description('WAF: requests per minute one client address may send to /api/auth/.')
param wafAuthRequestsPerMinute int = 60

@description('Principal id of the release pipeline\'s identity (it uploads packages to the deployment container). Empty = none.')
param deployerPrincipalId string = ''

@description('Tags of every resource.')
param tags object = {}

@description('Alerts: who is notified by e-mail (the operators\' shared mailbox). Empty = alerts fire without notifying anyone.')
param alertEmailAddress string = ''

@description('Alerts: fire when more than this percentage of HTTP requests answer 5xx within 15 minutes.')
@minValue(1)
@maxValue(100)
param alertServerErrorPercent int = 5

@description('Alerts: fire when the p95 duration of an HTTP function exceeds this many milliseconds within 15 minutes.')
@minValue(100)
param alertLatencyP95Ms int = 3000

// ---------------------------------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------------------------------

var environmentCodes = {
  test: 'tst'
  preproduction: 'ppr'
  production: 'prd'
}
var envCode = environmentCodes[environmentName]
var baseName = '${namePrefix}-${envCode}'
var suffix = take(uniqueString(resourceGroup().id), 6)
var allTags = union(tags, {
  application: 'portal-obcana'
  environment: environmentName
})

var cosmosAccountName = 'cosmos-${baseName}-${suffix}'
var cosmosDatabaseName = 'portal'
var keyVaultName = take('kv-${baseName}-${suffix}', 24)
var kekName = 'citizen-kek'
var dataStorageName = take(toLower('st${namePrefix}${envCode}data${suffix}'), 24)
var hostStorageName = take(toLower('st${namePrefix}${envCode}host${suffix}'), 24)
var citizensContainerName = 'citizens'
var deploymentContainerName = 'deployments'
var primaryAppName = 'func-${baseName}-${primaryRegionCode}-${suffix}'
var secondaryAppName = 'func-${baseName}-${secondaryRegionCode}-${suffix}'

// The Cosmos DB containers ("collections" of the DocumentStore port; shared/store). `localhost` is local-only and
// not created. Ordered queries with an equality filter get a composite index (filter field, sort field) and one for
// the adapter's tie-break on id.
var cosmosContainers = [
  {
    name: 'ops'
  }
  {
    name: 'sessions'
  }
  {
    name: 'logins'
  }
  {
    name: 'profiles'
  }
  {
    name: 'keys'
  }
  {
    name: 'access-log'
    compositeIndexes: [
      [
        {
          path: '/doc/resourceType'
          order: 'ascending'
        }
        {
          path: '/doc/atNanos'
          order: 'ascending'
        }
      ]
      [
        {
          path: '/doc/atNanos'
          order: 'ascending'
        }
        {
          path: '/id'
          order: 'ascending'
        }
      ]
    ]
  }
  {
    name: 'databox'
    compositeIndexes: [
      [
        {
          path: '/doc/type'
          order: 'ascending'
        }
        {
          path: '/doc/archivedAtNanos'
          order: 'descending'
        }
      ]
      [
        {
          path: '/doc/archivedAtNanos'
          order: 'descending'
        }
        {
          path: '/id'
          order: 'descending'
        }
      ]
    ]
  }
  {
    name: 'jobs'
  }
  {
    name: 'documents'
    compositeIndexes: [
      [
        {
          path: '/doc/type'
          order: 'ascending'
        }
        {
          path: '/doc/createdAtNanos'
          order: 'descending'
        }
      ]
      [
        {
          path: '/doc/createdAtNanos'
          order: 'descending'
        }
        {
          path: '/id'
          order: 'descending'
        }
      ]
    ]
  }
  {
    name: 'calendar'
    compositeIndexes: [
      [
        {
          path: '/doc/type'
          order: 'ascending'
        }
        {
          path: '/doc/date'
          order: 'ascending'
        }
      ]
      [
        {
          path: '/doc/date'
          order: 'ascending'
        }
        {
          path: '/id'
          order: 'ascending'
        }
      ]
    ]
  }
  {
    name: 'notifications'
    compositeIndexes: [
      [
        {
          path: '/doc/type'
          order: 'ascending'
        }
        {
          path: '/doc/sortKey'
          order: 'descending'
        }
      ]
      [
        {
          path: '/doc/sortKey'
          order: 'descending'
        }
        {
          path: '/id'
          order: 'descending'
        }
      ]
    ]
  }
  {
    name: 'registers'
  }
  {
    name: 'petitions'
  }
]

// Queues the portal sends to or triggers on, each with the poison queue the host moves a message to after 5 tries.
var queueNames = [
  'purchase-credit'
  'purchase-credit-poison'
  'send-notification'
  'send-notification-poison'
  'document-filed'
  'document-filed-poison'
  'calendar-entry'
  'calendar-entry-poison'
  'notification-retry'
  'notification-retry-poison'
  'fetch-extract'
  'fetch-extract-poison'
  'filing-recorded'
  'filing-recorded-poison'
  'settle-filing-payment'
  'settle-filing-payment-poison'
  'citizen-signed-in'
  'citizen-signed-in-poison'
  'send-data-message'
  'send-data-message-poison'
  'erase-documents'
  'erase-documents-poison'
  'erase-calendar'
  'erase-calendar-poison'
  'erase-notifications'
  'erase-notifications-poison'
  'erase-registers'
  'erase-registers-poison'
  'erase-databox'
  'erase-databox-poison'
  'erase-petitions'
  'erase-petitions-poison'
]

// ---------------------------------------------------------------------------------------------------------------------
// Shared resources
// ---------------------------------------------------------------------------------------------------------------------

module logs 'modules/avm/res/operational-insights/workspace/main.bicep' = {
  name: 'logs'
  params: {
    name: 'log-${baseName}'
    location: primaryLocation
    tags: allTags
    dataRetention: logRetentionDays
    dailyQuotaGb: logDailyQuotaGb
  }
}

module appInsights 'modules/avm/res/insights/component/main.bicep' = {
  name: 'app-insights'
  params: {
    name: 'appi-${baseName}'
    location: primaryLocation
    tags: allTags
    workspaceResourceId: logs.outputs.resourceId
  }
}

module cosmos 'modules/avm/res/document-db/database-account/main.bicep' = {
  name: 'cosmos'
  params: {
    name: cosmosAccountName
    location: primaryLocation
    tags: allTags
    failoverLocations: [
      {
        locationName: primaryLocation
        failoverPriority: 0
        isZoneRedundant: zoneRedundant
      }
      {
        locationName: secondaryLocation
        failoverPriority: 1
        isZoneRedundant: zoneRedundant
      }
    ]
    enableAutomaticFailover: true
    defaultConsistencyLevel: 'Session'
    continuousBackupTier: cosmosBackupTier
    databaseName: cosmosDatabaseName
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
    containers: cosmosContainers
    diagnosticWorkspaceResourceId: logs.outputs.resourceId
  }
}

module dataStorage 'modules/avm/res/storage/storage-account/main.bicep' = {
  name: 'data-storage'
  params: {
    name: dataStorageName
    location: primaryLocation
    tags: allTags
    skuName: 'Standard_GZRS'
    blobContainers: [
      citizensContainerName
    ]
    deleteRetentionDays: 30
    diagnosticWorkspaceResourceId: logs.outputs.resourceId
  }
}

module hostStorage 'modules/avm/res/storage/storage-account/main.bicep' = {
  name: 'host-storage'
  params: {
    name: hostStorageName
    location: primaryLocation
    tags: allTags
    skuName: 'Standard_GZRS'
    blobContainers: [
      deploymentContainerName
    ]
    queues: queueNames
    deleteRetentionDays: 14
    // Timer status blobs are rewritten on every run; keep a week of their versions, not all of them.
    deletePreviousVersionsAfterDays: 7
    deleteBlobsPrefixes: [
      '${deploymentContainerName}/releases/'
    ]
    deleteBlobsAfterDays: 180
    diagnosticWorkspaceResourceId: logs.outputs.resourceId
  }
}

module keyVault 'modules/avm/res/key-vault/vault/main.bicep' = {
  name: 'key-vault'
  params: {
    name: keyVaultName
    location: primaryLocation
    tags: allTags
    sku: keyVaultSku
    keys: [
      {
        name: kekName
        kty: kekKeyType
        keySize: kekKeySize
        // RSA-OAEP-256 wrap and unwrap of the citizens' data keys, nothing else.
        keyOps: [
          'wrapKey'
          'unwrapKey'
        ]
        // A new version every year (RewrapDataKeys then rewraps every data key under it); each version expires after
        // two years, so an old version is never the newest when it expires. Unwrapping still works with an expired version.
        rotateAfter: 'P1Y'
        expiryTime: 'P2Y'
        notifyBeforeExpiry: 'P30D'
      }
    ]
    diagnosticWorkspaceResourceId: logs.outputs.resourceId
  }
}

module waf 'modules/avm/res/network/front-door-web-application-firewall-policy/main.bicep' = {
  name: 'waf'
  params: {
    name: '${replace(namePrefix, '-', '')}${envCode}waf'
    tags: allTags
    mode: 'Prevention'
    apiRequestsPerMinute: wafApiRequestsPerMinute
    authRequestsPerMinute: wafAuthRequestsPerMinute
  }
}

module frontDoor 'modules/avm/res/cdn/profile/main.bicep' = {
  name: 'front-door'
  params: {
    name: 'afd-${baseName}'
    tags: allTags
    endpointName: '${baseName}-${suffix}'
    wafPolicyResourceId: waf.outputs.resourceId
    diagnosticWorkspaceResourceId: logs.outputs.resourceId
  }
}

var publicHost = empty(publicHostName) ? frontDoor.outputs.endpointHostName : publicHostName

// ==== BEGIN app settings =============================================================================================
// Every setting the binary reads (shared/config/src/lib.rs `SETTINGS`, listed in local.settings.example.json) that
// applies in Azure, then the settings of the Functions host and platform. tests/bicep_settings.rs checks this block
// against local.settings.example.json: add a setting to the binary and that test tells you to add it here.
// Secrets are Key Vault references, resolved by the app's identity; their values are put into the vault by hand
// (docs/operations.md), never into a template or a pipeline.

var portalSettings = {
  PORTAL_ENVIRONMENT: environmentName
  PORTAL_STORE: 'azure'
  PORTAL_CAPABILITIES: capabilities
  PORTAL_LOG: logFilter
  PORTAL_LOG_FORMAT: 'json'
  PORTAL_COSMOS_ENDPOINT: cosmos.outputs.endpoint
  PORTAL_COSMOS_DATABASE: cosmosDatabaseName
  PORTAL_BLOB_CONTAINER_URL: '${dataStorage.outputs.primaryEndpoints.blob}${citizensContainerName}'
  AzureWebJobsStorage__queueServiceUri: hostStorage.outputs.primaryEndpoints.queue
  PORTAL_AZURE_CREDENTIAL: 'managed-identity'
  PORTAL_IDENTITY_PROVIDER: 'nia'
  PORTAL_OIDC_DISCOVERY_URL: oidcDiscoveryUrl
  PORTAL_OIDC_CLIENT_ID: oidcClientId
  PORTAL_OIDC_CLIENT_SECRET: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=oidc-client-secret)'
  PORTAL_OIDC_REDIRECT_URL: 'https://${publicHost}/api/auth/callback'
  PORTAL_OIDC_POST_LOGOUT_REDIRECT_URL: oidcPostLogoutRedirectUrl
  PORTAL_OIDC_DECRYPTION_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=oidc-decryption-key)'
  PORTAL_KEY_VAULT_URL: keyVault.outputs.uri
  PORTAL_KEY_NAME: kekName
  PORTAL_ISDS: 'soap'
  PORTAL_ISDS_URL: isdsUrl
  PORTAL_ISDS_USER: isdsUser
  PORTAL_ISDS_PASSWORD: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=isds-password)'
  PORTAL_ARCHIVE_AFTER_DAYS: string(archiveAfterDays)
  PORTAL_MAX_MESSAGE_MB: string(maxMessageMb)
  PORTAL_PUBLIC_URL: 'https://${publicHost}'
  PORTAL_DOCUMENTS_MAX_UPLOAD_MB: string(documentsMaxUploadMb)
  PORTAL_DOCUMENTS_QUOTA_MB: string(documentsQuotaMb)
  PORTAL_DOCUMENTS_ALLOWED_TYPES: 'application/pdf,image/jpeg,image/png,text/plain'
  PORTAL_SMTP_HOST: smtpHost
  PORTAL_SMTP_PORT: string(smtpPort)
  PORTAL_SMTP_TLS: smtpTls
  PORTAL_SMTP_USER: smtpUser
  PORTAL_SMTP_PASSWORD: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=smtp-password)'
  PORTAL_SMTP_FROM: smtpFrom
  // No SMS gateway is contracted yet (docs/operations.md): the SMS channel is off and the preferences say so.
  PORTAL_SMS: 'not-connected'
  PORTAL_REGISTERS_GATEWAY: registersGatewayUrl
  PORTAL_REGISTERS_CERT: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=registers-client-cert)'
  PORTAL_REGISTERS_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=registers-client-key)'
  PORTAL_REGISTERS_CA: registersGatewayCa
  PORTAL_PETITIONS_SIGNER_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=petitions-signer-key)'
  PORTAL_OFFICIALS: petitionOfficials
  PORTAL_SENATE_BOX_ID: senateBoxId
  // Not a credential here: Application Insights has local authentication off, ingestion needs the app's Entra ID token.
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.outputs.connectionString
}

var hostSettings = {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'custom'
  // AzureWebJobsStorage through the app's identity (no connection string); queueServiceUri is in portalSettings.
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__blobServiceUri: hostStorage.outputs.primaryEndpoints.blob
  AzureWebJobsStorage__tableServiceUri: hostStorage.outputs.primaryEndpoints.table
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
  // The release pipeline sets WEBSITE_RUN_FROM_PACKAGE to the package blob; the app reads it with its own identity.
  WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: 'SystemAssigned'
}

// The active region runs the timers: a timer's singleton lock is per host id, so both regions would run each job.
var timersOn = {
  PORTAL_TIMERS_ENABLED: 'true'
  'AzureWebJobs.Housekeeping.Disabled': 'false'
  'AzureWebJobs.RewrapDataKeys.Disabled': 'false'
  'AzureWebJobs.ArchiveExpiringMessages.Disabled': 'false'
  'AzureWebJobs.WarnBeforeDeemedDelivery.Disabled': 'false'
  'AzureWebJobs.SendReminders.Disabled': 'false'
  'AzureWebJobs.CheckFilingDeadlines.Disabled': 'false'
  'AzureWebJobs.ClosePetitions.Disabled': 'false'
  'AzureWebJobs.PurchaseCredit.Disabled': 'false'
  'AzureWebJobs.FileDocument.Disabled': 'false'
  'AzureWebJobs.FileCalendarEntry.Disabled': 'false'
  'AzureWebJobs.SendNotification.Disabled': 'false'
  'AzureWebJobs.RetryNotification.Disabled': 'false'
  'AzureWebJobs.FetchExtract.Disabled': 'false'
  'AzureWebJobs.RecordFiling.Disabled': 'false'
  'AzureWebJobs.SettleFilingPayment.Disabled': 'false'
  'AzureWebJobs.RefreshOnSignIn.Disabled': 'false'
  'AzureWebJobs.SendDataMessageOnBehalf.Disabled': 'false'
  'AzureWebJobs.EraseDocumentsData.Disabled': 'false'
  'AzureWebJobs.EraseCalendarData.Disabled': 'false'
  'AzureWebJobs.EraseNotificationsData.Disabled': 'false'
  'AzureWebJobs.EraseRegistersData.Disabled': 'false'
  'AzureWebJobs.EraseDataboxData.Disabled': 'false'
  'AzureWebJobs.ErasePetitionsData.Disabled': 'false'
}

// The standby region serves HTTP and consumes queues (handlers are idempotent), but runs no timer.
var timersOff = {
  PORTAL_TIMERS_ENABLED: 'false'
  'AzureWebJobs.Housekeeping.Disabled': 'true'
  'AzureWebJobs.RewrapDataKeys.Disabled': 'true'
  'AzureWebJobs.ArchiveExpiringMessages.Disabled': 'true'
  'AzureWebJobs.WarnBeforeDeemedDelivery.Disabled': 'true'
  'AzureWebJobs.SendReminders.Disabled': 'true'
  'AzureWebJobs.CheckFilingDeadlines.Disabled': 'true'
  'AzureWebJobs.ClosePetitions.Disabled': 'true'
  'AzureWebJobs.PurchaseCredit.Disabled': 'false'
  'AzureWebJobs.FileDocument.Disabled': 'false'
  'AzureWebJobs.FileCalendarEntry.Disabled': 'false'
  'AzureWebJobs.SendNotification.Disabled': 'false'
  'AzureWebJobs.RetryNotification.Disabled': 'false'
  'AzureWebJobs.FetchExtract.Disabled': 'false'
  'AzureWebJobs.RecordFiling.Disabled': 'false'
  'AzureWebJobs.SettleFilingPayment.Disabled': 'false'
  'AzureWebJobs.RefreshOnSignIn.Disabled': 'false'
  'AzureWebJobs.SendDataMessageOnBehalf.Disabled': 'false'
  'AzureWebJobs.EraseDocumentsData.Disabled': 'false'
  'AzureWebJobs.EraseCalendarData.Disabled': 'false'
  'AzureWebJobs.EraseNotificationsData.Disabled': 'false'
  'AzureWebJobs.EraseRegistersData.Disabled': 'false'
  'AzureWebJobs.EraseDataboxData.Disabled': 'false'
  'AzureWebJobs.ErasePetitionsData.Disabled': 'false'
}

// A staging slot only waits for a release and its smoke test: no timers, no queue consumption.
var stagingSlotSettings = {
  PORTAL_TIMERS_ENABLED: 'false'
  'AzureWebJobs.Housekeeping.Disabled': 'true'
  'AzureWebJobs.RewrapDataKeys.Disabled': 'true'
  'AzureWebJobs.ArchiveExpiringMessages.Disabled': 'true'
  'AzureWebJobs.WarnBeforeDeemedDelivery.Disabled': 'true'
  'AzureWebJobs.SendReminders.Disabled': 'true'
  'AzureWebJobs.CheckFilingDeadlines.Disabled': 'true'
  'AzureWebJobs.ClosePetitions.Disabled': 'true'
  'AzureWebJobs.PurchaseCredit.Disabled': 'true'
  'AzureWebJobs.FileDocument.Disabled': 'true'
  'AzureWebJobs.FileCalendarEntry.Disabled': 'true'
  'AzureWebJobs.SendNotification.Disabled': 'true'
  'AzureWebJobs.RetryNotification.Disabled': 'true'
  'AzureWebJobs.FetchExtract.Disabled': 'true'
  'AzureWebJobs.RecordFiling.Disabled': 'true'
  'AzureWebJobs.SettleFilingPayment.Disabled': 'true'
  'AzureWebJobs.RefreshOnSignIn.Disabled': 'true'
  'AzureWebJobs.SendDataMessageOnBehalf.Disabled': 'true'
  'AzureWebJobs.EraseDocumentsData.Disabled': 'true'
  'AzureWebJobs.EraseCalendarData.Disabled': 'true'
  'AzureWebJobs.EraseNotificationsData.Disabled': 'true'
  'AzureWebJobs.EraseRegistersData.Disabled': 'true'
  'AzureWebJobs.EraseDataboxData.Disabled': 'true'
  'AzureWebJobs.ErasePetitionsData.Disabled': 'true'
}

// Slot settings stay with their slot on a swap; everything else (including WEBSITE_RUN_FROM_PACKAGE) travels with it.
var stickySettingNames = [
  'PORTAL_TIMERS_ENABLED'
  'AzureWebJobs.Housekeeping.Disabled'
  'AzureWebJobs.RewrapDataKeys.Disabled'
  'AzureWebJobs.ArchiveExpiringMessages.Disabled'
  'AzureWebJobs.WarnBeforeDeemedDelivery.Disabled'
  'AzureWebJobs.SendReminders.Disabled'
  'AzureWebJobs.CheckFilingDeadlines.Disabled'
  'AzureWebJobs.ClosePetitions.Disabled'
  'AzureWebJobs.PurchaseCredit.Disabled'
  'AzureWebJobs.FileDocument.Disabled'
  'AzureWebJobs.FileCalendarEntry.Disabled'
  'AzureWebJobs.SendNotification.Disabled'
  'AzureWebJobs.RetryNotification.Disabled'
  'AzureWebJobs.FetchExtract.Disabled'
  'AzureWebJobs.RecordFiling.Disabled'
  'AzureWebJobs.SettleFilingPayment.Disabled'
  'AzureWebJobs.RefreshOnSignIn.Disabled'
  'AzureWebJobs.SendDataMessageOnBehalf.Disabled'
  'AzureWebJobs.EraseDocumentsData.Disabled'
  'AzureWebJobs.EraseCalendarData.Disabled'
  'AzureWebJobs.EraseNotificationsData.Disabled'
  'AzureWebJobs.EraseRegistersData.Disabled'
  'AzureWebJobs.EraseDataboxData.Disabled'
  'AzureWebJobs.ErasePetitionsData.Disabled'
  'AzureFunctionsWebHost__hostid'
]

// Slots share the host storage account, so each gets its own host id (otherwise production and staging collide).
var primaryHostIds = {
  AzureFunctionsWebHost__hostid: '${baseName}-${primaryRegionCode}'
}
var primaryStagingHostIds = {
  AzureFunctionsWebHost__hostid: '${baseName}-${primaryRegionCode}-stg'
}
var secondaryHostIds = {
  AzureFunctionsWebHost__hostid: '${baseName}-${secondaryRegionCode}'
}
var secondaryStagingHostIds = {
  AzureFunctionsWebHost__hostid: '${baseName}-${secondaryRegionCode}-stg'
}
// ==== END app settings ===============================================================================================

// Per-slot settings of each region.
var primarySettings = union(portalSettings, hostSettings, activeRegion == 'primary' ? timersOn : timersOff, primaryHostIds)
var primaryStagingSettings = union(portalSettings, hostSettings, stagingSlotSettings, primaryStagingHostIds)
var secondarySettings = union(portalSettings, hostSettings, activeRegion == 'secondary' ? timersOn : timersOff, secondaryHostIds)
var secondaryStagingSettings = union(portalSettings, hostSettings, stagingSlotSettings, secondaryStagingHostIds)

// Only values known before the deployment starts: loops over this array name resources.
var regions = [
  {
    role: 'primary'
    location: primaryLocation
    code: primaryRegionCode
    appName: primaryAppName
    minimumInstances: primaryMinimumInstances
    frontDoorPriority: activeRegion == 'primary' ? 1 : 2
  }
  {
    role: 'secondary'
    location: secondaryLocation
    code: secondaryRegionCode
    appName: secondaryAppName
    minimumInstances: secondaryMinimumInstances
    frontDoorPriority: activeRegion == 'secondary' ? 1 : 2
  }
]

// ---------------------------------------------------------------------------------------------------------------------
// Per region: an Elastic Premium plan and the function app with its staging slot
// ---------------------------------------------------------------------------------------------------------------------

module plans 'modules/avm/res/web/serverfarm/main.bicep' = [
  for region in regions: {
    name: 'plan-${region.code}'
    params: {
      name: 'plan-${baseName}-${region.code}'
      location: region.location
      tags: allTags
      skuName: planSku
      minimumInstances: region.minimumInstances
      maximumElasticWorkerCount: maximumInstances
      zoneRedundant: zoneRedundant && region.minimumInstances >= 2
    }
  }
]

module apps 'modules/avm/res/web/site/main.bicep' = [
  for (region, i) in regions: {
    name: 'app-${region.code}'
    params: {
      name: region.appName
      location: region.location
      tags: allTags
      serverFarmResourceId: plans[i].outputs.resourceId
      appSettings: region.role == 'primary' ? primarySettings : secondarySettings
      stagingAppSettings: region.role == 'primary' ? primaryStagingSettings : secondaryStagingSettings
      stickySettingNames: stickySettingNames
      frontDoorId: frontDoor.outputs.frontDoorId
      healthCheckPath: '/api/health'
      minimumElasticInstanceCount: region.minimumInstances
    }
  }
]

// ---------------------------------------------------------------------------------------------------------------------
// Access of the apps' identities (no keys), then Front Door's origins and route
// ---------------------------------------------------------------------------------------------------------------------

module access 'modules/ptn/portal-access/main.bicep' = {
  name: 'portal-access'
  params: {
    appPrincipalIds: [
      apps[0].outputs.systemAssignedMIPrincipalId
      apps[0].outputs.stagingSystemAssignedMIPrincipalId
      apps[1].outputs.systemAssignedMIPrincipalId
      apps[1].outputs.stagingSystemAssignedMIPrincipalId
    ]
    deployerPrincipalId: deployerPrincipalId
    cosmosAccountName: cosmos.outputs.name
    cosmosDatabaseName: cosmos.outputs.databaseName
    dataStorageAccountName: dataStorage.outputs.name
    dataContainerName: citizensContainerName
    hostStorageAccountName: hostStorage.outputs.name
    deploymentContainerName: deploymentContainerName
    keyVaultName: keyVault.outputs.name
    keyName: kekName
    appInsightsName: appInsights.outputs.name
  }
}

module originGroup 'modules/avm/res/cdn/profile/origin-group/main.bicep' = {
  name: 'origin-group'
  params: {
    profileName: frontDoor.outputs.name
    name: 'portal-api'
    probePath: '/api/health'
    origins: [
      for (region, i) in regions: {
        name: region.role
        hostName: apps[i].outputs.defaultHostname
        priority: region.frontDoorPriority
        weight: 1000
        enabled: true
      }
    ]
  }
}

module route 'modules/avm/res/cdn/profile/afd-endpoint/route/main.bicep' = {
  name: 'route'
  params: {
    profileName: frontDoor.outputs.name
    endpointName: frontDoor.outputs.endpointName
    name: 'api'
    originGroupResourceId: originGroup.outputs.resourceId
    patternsToMatch: [
      '/api/*'
    ]
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Alerts on the portal's own telemetry (5xx share, p95 latency, poison queues, failed timer runs)
// ---------------------------------------------------------------------------------------------------------------------

module alerts 'modules/ptn/portal-alerts/main.bicep' = {
  name: 'portal-alerts'
  params: {
    namePrefix: baseName
    location: primaryLocation
    tags: allTags
    workspaceResourceId: logs.outputs.resourceId
    alertEmailAddress: alertEmailAddress
    serverErrorPercent: alertServerErrorPercent
    latencyP95Ms: alertLatencyP95Ms
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Outputs the release pipeline reads (az deployment group show --query properties.outputs)
// ---------------------------------------------------------------------------------------------------------------------

@description('Front Door: profile, endpoint host name, origin group; the origins are named primary and secondary.')
output frontDoor object = {
  profileName: frontDoor.outputs.name
  endpointName: frontDoor.outputs.endpointName
  hostName: frontDoor.outputs.endpointHostName
  originGroupName: originGroup.outputs.name
}

@description('Per region: role (= Front Door origin name), its Front Door priority (1 = active), app name, host names of the production and staging slots.')
output regions array = [
  for (region, i) in regions: {
    role: region.role
    location: region.location
    frontDoorPriority: region.frontDoorPriority
    appName: apps[i].outputs.name
    hostName: apps[i].outputs.defaultHostname
    stagingHostName: apps[i].outputs.stagingDefaultHostname
  }
]

@description('Where release packages go: the host storage account and its deployment container.')
output packages object = {
  storageAccountName: hostStorage.outputs.name
  containerName: deploymentContainerName
  blobEndpoint: hostStorage.outputs.primaryEndpoints.blob
}

@description('Cosmos DB account and database.')
output cosmos object = {
  accountName: cosmos.outputs.name
  databaseName: cosmos.outputs.databaseName
}

@description('Key Vault and the key-encryption key.')
output keyVault object = {
  name: keyVault.outputs.name
  keyName: kekName
}
