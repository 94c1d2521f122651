metadata name = 'Portál občana backend'
metadata description = 'One environment of the portal in two regions that each stand alone: per region a function app (custom handler, Elastic Premium, staging slot) in its own virtual network, its own host storage (queues, timer leases, packages), its own copy of the citizens\' files and its own monitoring; shared Cosmos DB (both regions) and Key Vault (geo-replicated by the platform), reached through private endpoints; Front Door Premium with WAF in front of both regions. docs/operations.md says how to deploy, fail over and roll back.'

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

@description('Primary region: one of the two regions (the Cosmos DB account resource and Key Vault live here). Which region is active is activeRegion.')
param primaryLocation string = 'germanywestcentral'

@description('Short code of the primary region, used in names.')
@maxLength(4)
param primaryRegionCode string = 'gwc'

@description('Secondary region: the other region, with everything a region needs to serve alone.')
param secondaryLocation string = 'swedencentral'

@description('Short code of the secondary region, used in names.')
@maxLength(4)
param secondaryRegionCode string = 'sdc'

@description('Which region is active: it runs the timers, gets priority 1 in Front Door, is the Cosmos DB write region (failover priority 0) and the source of the citizens\' files replication. Set it to what is true in Azure (a deployment with the other value moves the write region): docs/operations.md, "Fail over".')
@allowed([
  'primary'
  'secondary'
])
param activeRegion string = 'primary'

@description('Spread the plans of both regions and the Cosmos DB replicas over availability zones. A zone-redundant plan keeps at least 2 always-ready instances, whatever the *MinimumInstances parameters say.')
param zoneRedundant bool = true

@description('Elastic Premium size of both plans.')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param planSku string = 'EP1'

@description('Always-ready instances in the primary region (at least 2 when zoneRedundant).')
@minValue(1)
param primaryMinimumInstances int = 1

@description('Always-ready instances in the secondary region (at least 2 when zoneRedundant).')
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

@description('ISDS: base URL of the hosted records-system web services (…/hspis/DS/). The portal acts in each citizen\'s own box with its hosted records-system certificate (Key Vault secrets isds-hosted-cert and isds-hosted-key), each call naming the box; never a shared login (docs/architecture.md, "Data box: access to each citizen\'s box"). The ZFOs\' signatures are verified against the PEM bundle of PostSignum\'s qualified CAs in the Key Vault secret isds-zfo-trust (docs/operations.md).')
param isdsUrl string

@description('ISDS box management (CreateDataBox2, issue 14 §6): base URL for the operator\'s own system certificate (…/cert/DS/), registered to the operator\'s box isdsManageBox, to which the ISDS administrator granted the privilege to create boxes of natural persons (docs/operations.md). Its certificate and key are the Key Vault secrets isds-manage-cert and isds-manage-key. Empty = not connected: citizens\' requests for a data box wait, retried hourly.')
param isdsManageUrl string = ''

@description('ISDS box management: the operator\'s own data box id (7 characters) its system certificate is registered to; with isdsManageUrl.')
param isdsManageBox string = ''

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

@description('PEM bundle of the qualified CAs (the EU trusted list\'s Czech providers) a citizen\'s qualified certificate must chain to. Empty = qualified-certificate entries are refused.')
param qualifiedTrustAnchors string = ''

@description('ePetice: subject ids (NIA pseudonyms, percent-encoded) of the Ministry of the Interior\'s officials, comma-separated. The signer key is the Key Vault secret petitions-signer-key.')
param petitionOfficials string = ''

@description('ePetice: the Senate\'s data box id; petitions to it are marked past 10,000 signatures. Empty = no mark.')
param senateBoxId string = ''

@description('Tiles: the summary sources, a JSON object of source id -> {"url": "https://...", "timeoutMs": 600, "cacheSeconds": 300} (docs/tile-summary-api.yaml). The client certificate and key are the Key Vault secrets tiles-client-cert and tiles-client-key. {} = no live summaries (every tile a link).')
param tileSources string = '{}'

@description('Tiles: PEM of a private CA the summary sources\' certificates chain to. Empty = public CAs.')
param tileSourcesCa string = ''

@description('Tiles: the dashboard answers within this many milliseconds whatever the sources do.')
param tilesBudgetMs int = 800

@description('Tiles: subject ids (NIA pseudonyms, percent-encoded) of the officials who use the tile modeller, comma-separated.')
param tileOfficials string = ''

@description('Notice boards (úřední desky) the portal follows: comma-separated https:// URLs of OFN feeds; empty = none.')
param noticeBoards string = ''

@description('Capabilities the apps serve (comma-separated); empty = all.')
param capabilities string = ''

@description('Log filter of the binary (tracing EnvFilter syntax).')
param logFilter string = 'info'

@description('Archive data messages delivered this many days ago (1-89; ISDS deletes at 90).')
@minValue(1)
@maxValue(89)
param archiveAfterDays int = 80

@description('Largest data message the portal sends, all files together, in MB: ISDS\'s limit is 100 MB since 2024 (over 20 MB the portal uses its VoDZ services).')
@minValue(1)
@maxValue(100)
param maxMessageMb int = 100

@description('Data box credit: the amounts (CZK) a citizen may top up with, comma-separated.')
param databoxCreditAmountsCzk string = '100,200,500,1000'

@description('Data box credit: below this credit (CZK) after sending a commercial message, the citizen is told.')
@minValue(0)
param databoxCreditLowCzk int = 20

@description('WAF: requests per minute one client address may send to /api/.')
param wafApiRequestsPerMinute int = 1000

@description('WAF: requests per minute one client address may send to /api/auth/.')
param wafAuthRequestsPerMinute int = 60

@description('Principal id of the release pipeline\'s identity (it uploads packages to the deployment container). Empty = none.')
param deployerPrincipalId string = ''

@description('Tags of every resource.')
param tags object = {}

@description('Alerts: the operators\' shared mailbox. Every environment has one: an alert nobody receives is no alert.')
@minLength(6)
param alertEmailAddress string

@description('Alerts: a webhook that pages the on-call person (the incident tool\'s incoming URL). Empty = e-mail only. It may carry a token, hence secure (the pipeline passes it from the GitHub environment secret ALERT_WEBHOOK_URL).')
@secure()
param alertWebhookUrl string = ''

@description('Alerts: fire when more than this percentage of HTTP requests answer 5xx within 15 minutes.')
@minValue(1)
@maxValue(100)
param alertServerErrorPercent int = 5

@description('Alerts: fire when the p95 duration of an HTTP function exceeds this many milliseconds within 15 minutes.')
@minValue(100)
param alertLatencyP95Ms int = 3000

@description('Alerts: fire when Cosmos DB throttles (HTTP 429) more than this many requests within 5 minutes.')
@minValue(1)
param alertCosmosThrottledRequests int = 100

@description('Alerts: fire when Front Door\'s health probes find an origin (region) healthy in fewer than this percentage of probes within 5 minutes.')
@minValue(1)
@maxValue(100)
param alertOriginHealthPercent int = 90

@description('Alerts: seconds between the availability tests from outside (five European test locations, through Front Door).')
@allowed([
  300
  600
  900
])
param availabilityTestFrequencySeconds int = 300

@description('Monthly budget of the environment\'s resource group, in the billing currency of the subscription; notifies at 80 % actual, 100 % actual and 100 % forecast.')
@minValue(1)
param monthlyBudget int

@description('First day of the budget (the first of a month, YYYY-MM-01; for a new budget not before the current month). Keep it once the budget exists.')
param budgetStartDate string

@description('WAF: ISO 3166 country codes the portal accepts requests from (by client address). Empty = every country. Citizens abroad and the availability test locations (NL, IE, FR, CH, GB) are blocked by a narrow list.')
param wafAllowedCountries array = []

@description('The primary region\'s virtual network: { addressPrefix, appsSubnetPrefix, privateEndpointsSubnetPrefix }.')
param primaryNetwork object = {
  addressPrefix: '10.40.0.0/22'
  appsSubnetPrefix: '10.40.0.0/24'
  privateEndpointsSubnetPrefix: '10.40.1.0/24'
}

@description('The secondary region\'s virtual network (not overlapping the primary\'s, so the two can be peered one day).')
param secondaryNetwork object = {
  addressPrefix: '10.41.0.0/22'
  appsSubnetPrefix: '10.41.0.0/24'
  privateEndpointsSubnetPrefix: '10.41.1.0/24'
}

@description('Resource groups of the regions\' private DNS zones are named <this>-<region code>; they exist beforehand (docs/operations.md, "One-time setup").')
param privateDnsResourceGroupPrefix string = '${resourceGroup().name}-dns'

@description('Id of the object replication policy of the citizens\' files, when it exists (the pipeline looks it up). Empty = create it, from the active region\'s account to the other\'s.')
param citizensReplicationPolicyId string = ''

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
var citizensContainerName = 'citizens'
var deploymentContainerName = 'deployments'

// What a region needs to serve alone, by role. Only values known before the deployment starts: loops over this array
// name resources. Everything that tells the active region from the standby one derives from activeRegion.
var regions = [
  {
    role: 'primary'
    location: primaryLocation
    code: primaryRegionCode
    active: activeRegion == 'primary'
    appName: 'func-${baseName}-${primaryRegionCode}-${suffix}'
    hostStorageName: take(toLower('st${namePrefix}${envCode}h${primaryRegionCode}${suffix}'), 24)
    dataStorageName: take(toLower('st${namePrefix}${envCode}d${primaryRegionCode}${suffix}'), 24)
    network: primaryNetwork
    dnsResourceGroupName: '${privateDnsResourceGroupPrefix}-${primaryRegionCode}'
    minimumInstances: zoneRedundant ? max(2, primaryMinimumInstances) : primaryMinimumInstances
    // Front Door: the active region has priority 1. The standby's origin stays enabled while the primary is active
    // (Front Door fails over to it by itself); after a failover to the secondary the primary's origin is disabled
    // until activeRegion is set back, so a flapping primary does not take traffic back.
    frontDoorPriority: activeRegion == 'primary' ? 1 : 2
    originEnabled: activeRegion == 'primary'
    // Cosmos DB: the active region is the write region. The app should read from its own region first.
    cosmosFailoverPriority: activeRegion == 'primary' ? 0 : 1
    cosmosPreferredRegions: [
      primaryLocation
      secondaryLocation
    ]
  }
  {
    role: 'secondary'
    location: secondaryLocation
    code: secondaryRegionCode
    active: activeRegion == 'secondary'
    appName: 'func-${baseName}-${secondaryRegionCode}-${suffix}'
    hostStorageName: take(toLower('st${namePrefix}${envCode}h${secondaryRegionCode}${suffix}'), 24)
    dataStorageName: take(toLower('st${namePrefix}${envCode}d${secondaryRegionCode}${suffix}'), 24)
    network: secondaryNetwork
    dnsResourceGroupName: '${privateDnsResourceGroupPrefix}-${secondaryRegionCode}'
    minimumInstances: zoneRedundant ? max(2, secondaryMinimumInstances) : secondaryMinimumInstances
    frontDoorPriority: activeRegion == 'secondary' ? 1 : 2
    originEnabled: true
    cosmosFailoverPriority: activeRegion == 'secondary' ? 0 : 1
    cosmosPreferredRegions: [
      secondaryLocation
      primaryLocation
    ]
  }
]

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
  {
    name: 'tiles'
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
  'citizen-facts'
  'citizen-facts-poison'
  'send-data-message'
  'send-data-message-poison'
  'petition-hand-overs'
  'petition-hand-overs-poison'
  'build-export'
  'build-export-poison'
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
  'erase-tiles'
  'erase-tiles-poison'
  'erase-fees'
  'erase-fees-poison'
  'erase-noticeboards'
  'erase-noticeboards-poison'
  'erase-delegations'
  'erase-delegations-poison'
  'settle-fee-payment'
  'settle-fee-payment-poison'
]

// Every timer of the app (its function manifests: tests/snapshots/manifests__function_manifests.snap) with its
// NCRONTAB schedule, and how many minutes after its last run the stale-timer alert fires: its period plus an hour.
// scripts/check-bicep-regions.py compares this list with the manifests.
var timers = [
  {
    name: 'AdvanceDataBoxRequests'
    schedule: '0 40 * * * *'
    staleAfterMinutes: 120
  }
  {
    name: 'ArchiveExpiringMessages'
    schedule: '0 0 2 * * *'
    staleAfterMinutes: 1500
  }
  {
    name: 'CheckFilingDeadlines'
    schedule: '0 30 7 * * *'
    staleAfterMinutes: 1500
  }
  {
    name: 'ClosePetitions'
    schedule: '0 5 0 * * *'
    staleAfterMinutes: 1500
  }
  {
    name: 'HarvestNoticeBoards'
    schedule: '0 10 * * * *'
    staleAfterMinutes: 120
  }
  {
    name: 'Housekeeping'
    schedule: '0 0 * * * *'
    staleAfterMinutes: 120
  }
  {
    name: 'NotifyEndedDelegations'
    schedule: '0 0 5 * * *'
    staleAfterMinutes: 1500
  }
  {
    name: 'ReconcileDataboxCredit'
    schedule: '0 30 4 * * *'
    staleAfterMinutes: 1500
  }
  {
    name: 'RewrapDataKeys'
    schedule: '0 15 3 * * *'
    staleAfterMinutes: 1500
  }
  {
    name: 'SendReminders'
    schedule: '0 0 7 * * *'
    staleAfterMinutes: 1500
  }
  {
    name: 'WarnBeforeDeemedDelivery'
    schedule: '0 20 * * * *'
    staleAfterMinutes: 120
  }
]

// The private DNS zones each region resolves its private endpoints with (one set per region: see
// modules/ptn/region-private-dns). Order matters: modules below pick the zone ids by position.
var privateDnsZoneNames = [
  'privatelink.blob.${environment().suffixes.storage}'
  'privatelink.queue.${environment().suffixes.storage}'
  'privatelink.table.${environment().suffixes.storage}'
  'privatelink.documents.azure.com'
  'privatelink.vaultcore.azure.net'
]

// The WAF's managed rules (DRS 2.1) misfire on two parts of the portal's own traffic; Front Door exclusions apply to
// every path, so they name the exact arguments:
// - the OpenID Connect callback (GET /api/auth/callback?code=…&state=…): NIA's authorization code and our state are
//   long opaque tokens that match SQL-injection and anomaly rules;
// - the petition text (POST/PUT /api/petitions, JSON title, summary, text): free Czech prose up to 3,500 characters
//   with quotes, dashes and parentheses, which the SQL-injection and XSS rules flag. The portal stores and renders it
//   as text (problem+json escapes, the client never injects HTML), so these fields are not an injection path.
var wafExclusions = [
  {
    matchVariable: 'QueryStringArgNames'
    selectorMatchOperator: 'Equals'
    selector: 'code'
  }
  {
    matchVariable: 'QueryStringArgNames'
    selectorMatchOperator: 'Equals'
    selector: 'state'
  }
  {
    matchVariable: 'RequestBodyJsonArgNames'
    selectorMatchOperator: 'Equals'
    selector: 'title'
  }
  {
    matchVariable: 'RequestBodyJsonArgNames'
    selectorMatchOperator: 'Equals'
    selector: 'summary'
  }
  {
    matchVariable: 'RequestBodyJsonArgNames'
    selectorMatchOperator: 'Equals'
    selector: 'text'
  }
]

// ---------------------------------------------------------------------------------------------------------------------
// Per region: monitoring, storage, network. Each region's own, so that it keeps running when the other is lost.
// ---------------------------------------------------------------------------------------------------------------------

module workspaces 'modules/avm/res/operational-insights/workspace/main.bicep' = [
  for region in regions: {
    name: 'logs-${region.code}'
    params: {
      name: 'log-${baseName}-${region.code}'
      location: region.location
      tags: allTags
      dataRetention: logRetentionDays
      dailyQuotaGb: logDailyQuotaGb
    }
  }
]

module appInsights 'modules/avm/res/insights/component/main.bicep' = [
  for (region, i) in regions: {
    name: 'app-insights-${region.code}'
    params: {
      name: 'appi-${baseName}-${region.code}'
      location: region.location
      tags: allTags
      workspaceResourceId: workspaces[i].outputs.resourceId
    }
  }
]

// Host storage (AzureWebJobsStorage): the region's queues and their poison queues, timer leases, function keys and the
// deployment container with the packages the region's app runs. GZRS: three zones, and a copy in the region's pair
// from which an account failover recovers the queued messages if the region is lost for good.
module hostStorages 'modules/avm/res/storage/storage-account/main.bicep' = [
  for (region, i) in regions: {
    name: 'host-storage-${region.code}'
    params: {
      name: region.hostStorageName
      location: region.location
      tags: union(allTags, {
        'portal-role': 'host'
        'portal-region': region.role
      })
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
      diagnosticWorkspaceResourceId: workspaces[i].outputs.resourceId
    }
  }
]

// The citizens' files, one account per region. GZRS keeps each account through the loss of a zone and, after an
// account failover, of its region; but the geo copy lives in the region's pair (Germany North, Sweden South), is
// writable only after a failover of about an hour, and is not where the other app runs. So the files are also
// replicated to the other region's account by object replication (below): minutes behind, readable at once.
module dataStorages 'modules/avm/res/storage/storage-account/main.bicep' = [
  for (region, i) in regions: {
    name: 'data-storage-${region.code}'
    params: {
      name: region.dataStorageName
      location: region.location
      tags: union(allTags, {
        'portal-role': 'citizens'
        'portal-region': region.role
      })
      skuName: 'Standard_GZRS'
      blobContainers: [
        citizensContainerName
      ]
      deleteRetentionDays: 30
      diagnosticWorkspaceResourceId: workspaces[i].outputs.resourceId
    }
  }
]

// Defender for Storage with on-upload malware scanning on each citizens' account: every new blob is scanned and the
// verdict written as its blob index tag "Malware Scanning scan result". The documents capability keeps an upload
// quarantined until that tag on its plain quarantine copy says "No threats found" (PORTAL_MALWARE_SCAN=defender).
resource dataStorageAccounts 'Microsoft.Storage/storageAccounts@2023-05-01' existing = [
  for region in regions: {
    name: region.dataStorageName
  }
]

resource malwareScanning 'Microsoft.Security/defenderForStorageSettings@2022-12-01-preview' = [
  for (region, i) in regions: {
    name: 'current'
    scope: dataStorageAccounts[i]
    properties: {
      isEnabled: true
      overrideSubscriptionLevelSettings: true
      malwareScanning: {
        onUpload: {
          isEnabled: true
          capGBPerMonth: 5000
        }
      }
      sensitiveDataDiscovery: {
        isEnabled: false
      }
    }
    dependsOn: [
      dataStorages
    ]
  }
]

// Object replication of the citizens' files from the active region's account to the standby's (whose container is
// read-only while the policy exists). Created once; a failover deletes it and the next deployment creates it the
// other way round (docs/operations.md, "Fail over").
module citizensReplication 'modules/avm/res/storage/storage-account/object-replication-policy/main.bicep' = if (empty(citizensReplicationPolicyId)) {
  name: 'citizens-replication'
  params: {
    sourceAccountName: activeRegion == 'primary' ? dataStorages[0].outputs.name : dataStorages[1].outputs.name
    destinationAccountName: activeRegion == 'primary' ? dataStorages[1].outputs.name : dataStorages[0].outputs.name
    containerNames: [
      citizensContainerName
    ]
  }
}

module networks 'modules/ptn/region-network/main.bicep' = [
  for region in regions: {
    name: 'network-${region.code}'
    params: {
      namePrefix: '${baseName}-${region.code}'
      location: region.location
      tags: allTags
      addressPrefix: region.network.addressPrefix
      appsSubnetPrefix: region.network.appsSubnetPrefix
      privateEndpointsSubnetPrefix: region.network.privateEndpointsSubnetPrefix
    }
  }
]

module privateDns 'modules/ptn/region-private-dns/main.bicep' = [
  for (region, i) in regions: {
    name: 'private-dns-${region.code}'
    scope: resourceGroup(region.dnsResourceGroupName)
    params: {
      zoneNames: privateDnsZoneNames
      virtualNetworkResourceId: networks[i].outputs.resourceId
      regionCode: region.code
      tags: allTags
    }
  }
]

// ---------------------------------------------------------------------------------------------------------------------
// Shared: Cosmos DB in both regions, Key Vault (replicated by the platform), Front Door with its WAF
// ---------------------------------------------------------------------------------------------------------------------

module cosmos 'modules/avm/res/document-db/database-account/main.bicep' = {
  name: 'cosmos'
  params: {
    name: cosmosAccountName
    location: primaryLocation
    tags: allTags
    // Priorities follow activeRegion, so a deployment during or after a failover keeps the write region where it is.
    failoverLocations: [
      for region in regions: {
        locationName: region.location
        failoverPriority: region.cosmosFailoverPriority
        isZoneRedundant: zoneRedundant
      }
    ]
    enableAutomaticFailover: true
    defaultConsistencyLevel: 'Session'
    continuousBackupTier: cosmosBackupTier
    databaseName: cosmosDatabaseName
    autoscaleMaxThroughput: cosmosAutoscaleMaxThroughput
    containers: cosmosContainers
    diagnosticWorkspaceResourceIds: [
      workspaces[0].outputs.resourceId
      workspaces[1].outputs.resourceId
    ]
  }
}

// One vault: the key-encryption key cannot be copied to a vault in another geography (a key backup restores only
// within its own), and every citizen's data key is wrapped by it. Key Vault keeps a read-only replica in the primary
// region's pair and fails over to it by itself; wrap, unwrap and reading secrets work there. Each region reaches the
// vault through a private endpoint of its own.
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
    diagnosticWorkspaceResourceIds: [
      workspaces[0].outputs.resourceId
      workspaces[1].outputs.resourceId
    ]
  }
}

module privateEndpoints 'modules/ptn/region-private-endpoints/main.bicep' = [
  for (region, i) in regions: {
    name: 'private-endpoints-${region.code}'
    params: {
      namePrefix: '${baseName}-${region.code}'
      location: region.location
      tags: allTags
      subnetResourceId: networks[i].outputs.privateEndpointsSubnetResourceId
      hostStorageResourceId: hostStorages[i].outputs.resourceId
      dataStorageResourceId: dataStorages[i].outputs.resourceId
      cosmosResourceId: cosmos.outputs.resourceId
      keyVaultResourceId: keyVault.outputs.resourceId
      dnsZoneResourceIds: {
        blob: privateDns[i].outputs.zoneResourceIds[0]
        queue: privateDns[i].outputs.zoneResourceIds[1]
        table: privateDns[i].outputs.zoneResourceIds[2]
        cosmos: privateDns[i].outputs.zoneResourceIds[3]
        vault: privateDns[i].outputs.zoneResourceIds[4]
      }
    }
  }
]

module waf 'modules/avm/res/network/front-door-web-application-firewall-policy/main.bicep' = {
  name: 'waf'
  params: {
    name: '${replace(namePrefix, '-', '')}${envCode}waf'
    tags: allTags
    // Detection first: outside production the managed rules only log, and their misfires are found in
    // FrontDoorWebApplicationFirewallLog before production blocks anything (docs/operations.md, "WAF").
    mode: environmentName == 'production' ? 'Prevention' : 'Detection'
    managedRuleExclusions: wafExclusions
    allowedCountries: wafAllowedCountries
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
    diagnosticWorkspaceResourceIds: [
      workspaces[0].outputs.resourceId
      workspaces[1].outputs.resourceId
    ]
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
  // Front Door overwrites X-Azure-ClientIP with the address it saw; the login limit keys on it.
  PORTAL_CLIENT_IP_HEADER: 'X-Azure-ClientIP'
  PORTAL_TRUSTED_PROXY_HOPS: '1'
  PORTAL_COSMOS_ENDPOINT: cosmos.outputs.endpoint
  PORTAL_COSMOS_DATABASE: cosmosDatabaseName
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
  PORTAL_ISDS_CERT: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=isds-hosted-cert)'
  PORTAL_ISDS_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=isds-hosted-key)'
  PORTAL_ISDS_ZFO_TRUST: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=isds-zfo-trust)'
  PORTAL_ISDS_MANAGE_URL: isdsManageUrl
  PORTAL_ISDS_MANAGE_BOX: isdsManageBox
  PORTAL_ISDS_MANAGE_CERT: empty(isdsManageUrl) ? '' : '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=isds-manage-cert)'
  PORTAL_ISDS_MANAGE_KEY: empty(isdsManageUrl) ? '' : '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=isds-manage-key)'
  PORTAL_ARCHIVE_AFTER_DAYS: string(archiveAfterDays)
  PORTAL_MAX_MESSAGE_MB: string(maxMessageMb)
  PORTAL_DATABOX_CREDIT_AMOUNTS_CZK: databoxCreditAmountsCzk
  PORTAL_DATABOX_CREDIT_LOW_CZK: string(databoxCreditLowCzk)
  PORTAL_PUBLIC_URL: 'https://${publicHost}'
  PORTAL_DOCUMENTS_MAX_UPLOAD_MB: string(documentsMaxUploadMb)
  PORTAL_DOCUMENTS_QUOTA_MB: string(documentsQuotaMb)
  PORTAL_DOCUMENTS_ALLOWED_TYPES: 'application/pdf,image/jpeg,image/png,text/plain'
  // Uploads are cleared by Defender for Storage's on-upload malware scanning of the data account (its blob index tag).
  PORTAL_MALWARE_SCAN: 'defender'
  PORTAL_SMTP_HOST: smtpHost
  PORTAL_SMTP_PORT: string(smtpPort)
  PORTAL_SMTP_TLS: smtpTls
  PORTAL_SMTP_USER: smtpUser
  PORTAL_SMTP_PASSWORD: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=smtp-password)'
  PORTAL_SMTP_FROM: smtpFrom
  // Per instance; the relay's own limit divided by the instances the plan may run.
  PORTAL_MAIL_PER_MINUTE: '600'
  // No SMS gateway is contracted yet (docs/operations.md): the SMS channel is off and the preferences say so.
  PORTAL_SMS: 'not-connected'
  // No municipality's fee system or payment gateway is contracted yet (docs/architecture.md, fees): fees say so.
  PORTAL_MUNICIPAL_FEES: 'not-connected'
  PORTAL_PAYMENTS_NOTIFICATION_SECRET: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=payments-notification-secret)'
  PORTAL_REGISTERS_GATEWAY: registersGatewayUrl
  PORTAL_REGISTERS_CERT: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=registers-client-cert)'
  PORTAL_REGISTERS_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=registers-client-key)'
  PORTAL_REGISTERS_CA: registersGatewayCa
  PORTAL_QUALIFIED_TRUST_ANCHORS: qualifiedTrustAnchors
  PORTAL_PETITIONS_SIGNER_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=petitions-signer-key)'
  PORTAL_OFFICIALS: petitionOfficials
  PORTAL_SENATE_BOX_ID: senateBoxId
  PORTAL_TILE_SOURCES: tileSources
  PORTAL_TILES_CERT: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=tiles-client-cert)'
  PORTAL_TILES_KEY: '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName=tiles-client-key)'
  PORTAL_TILES_CA: tileSourcesCa
  PORTAL_TILES_BUDGET_MS: string(tilesBudgetMs)
  PORTAL_TILES_OFFICIALS: tileOfficials
  // The pension calculator's unverified rules (docs/architecture.md, pension): settings until a source confirms them.
  PORTAL_PENSION_EARLY_REDUCTION: '1.5'
  PORTAL_PENSION_POSTPONED_INCREASE: '1.5'
  PORTAL_NOTICE_BOARDS: noticeBoards
}

var hostSettings = {
  FUNCTIONS_EXTENSION_VERSION: '~4'
  FUNCTIONS_WORKER_RUNTIME: 'custom'
  // AzureWebJobsStorage through the app's identity (no connection string); the region's endpoints are below.
  AzureWebJobsStorage__credential: 'managedidentity'
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
  // The release pipeline sets WEBSITE_RUN_FROM_PACKAGE to the package blob in the region's own host storage; the app
  // reads it with its own identity.
  WEBSITE_RUN_FROM_PACKAGE_BLOB_MI_RESOURCE_ID: 'SystemAssigned'
}

// Each region stands alone: its own host storage (queues, timer leases, the package it runs), its own copy of the
// citizens' files and its own Application Insights. Nothing here names the other region's resources
// (scripts/check-bicep-regions.py checks it). Not a credential: Application Insights has local authentication off,
// ingestion needs the app's Entra ID token.
var primaryRegionSettings = {
  PORTAL_COSMOS_REGION: primaryLocation
  PORTAL_BLOB_CONTAINER_URL: '${dataStorages[0].outputs.primaryEndpoints.blob}${citizensContainerName}'
  AzureWebJobsStorage__queueServiceUri: hostStorages[0].outputs.primaryEndpoints.queue
  AzureWebJobsStorage__blobServiceUri: hostStorages[0].outputs.primaryEndpoints.blob
  AzureWebJobsStorage__tableServiceUri: hostStorages[0].outputs.primaryEndpoints.table
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights[0].outputs.connectionString
}

var secondaryRegionSettings = {
  PORTAL_COSMOS_REGION: secondaryLocation
  PORTAL_BLOB_CONTAINER_URL: '${dataStorages[1].outputs.primaryEndpoints.blob}${citizensContainerName}'
  AzureWebJobsStorage__queueServiceUri: hostStorages[1].outputs.primaryEndpoints.queue
  AzureWebJobsStorage__blobServiceUri: hostStorages[1].outputs.primaryEndpoints.blob
  AzureWebJobsStorage__tableServiceUri: hostStorages[1].outputs.primaryEndpoints.table
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights[1].outputs.connectionString
}

// The active region runs the timers: a timer's singleton lock is per host id, so both regions would run each job.
var timersOn = {
  PORTAL_TIMERS_ENABLED: 'true'
  'AzureWebJobs.Housekeeping.Disabled': 'false'
  'AzureWebJobs.RewrapDataKeys.Disabled': 'false'
  'AzureWebJobs.ArchiveExpiringMessages.Disabled': 'false'
  'AzureWebJobs.WarnBeforeDeemedDelivery.Disabled': 'false'
  'AzureWebJobs.AdvanceDataBoxRequests.Disabled': 'false'
  'AzureWebJobs.ReconcileDataboxCredit.Disabled': 'false'
  'AzureWebJobs.SendReminders.Disabled': 'false'
  'AzureWebJobs.CheckFilingDeadlines.Disabled': 'false'
  'AzureWebJobs.ClosePetitions.Disabled': 'false'
  'AzureWebJobs.HarvestNoticeBoards.Disabled': 'false'
  'AzureWebJobs.NotifyEndedDelegations.Disabled': 'false'
  'AzureWebJobs.PurchaseCredit.Disabled': 'false'
  'AzureWebJobs.FileDocument.Disabled': 'false'
  'AzureWebJobs.FileCalendarEntry.Disabled': 'false'
  'AzureWebJobs.SendNotification.Disabled': 'false'
  'AzureWebJobs.RetryNotification.Disabled': 'false'
  'AzureWebJobs.FetchExtract.Disabled': 'false'
  'AzureWebJobs.RecordFiling.Disabled': 'false'
  'AzureWebJobs.SettleFilingPayment.Disabled': 'false'
  'AzureWebJobs.SettleFeePayment.Disabled': 'false'
  'AzureWebJobs.EraseFeesData.Disabled': 'false'
  'AzureWebJobs.EraseNoticeBoardsData.Disabled': 'false'
  'AzureWebJobs.EraseDelegationsData.Disabled': 'false'
  'AzureWebJobs.RefreshOnSignIn.Disabled': 'false'
  'AzureWebJobs.RecordCitizenFact.Disabled': 'false'
  'AzureWebJobs.SendDataMessageOnBehalf.Disabled': 'false'
  'AzureWebJobs.BuildExport.Disabled': 'false'
  'AzureWebJobs.EraseDocumentsData.Disabled': 'false'
  'AzureWebJobs.EraseCalendarData.Disabled': 'false'
  'AzureWebJobs.EraseNotificationsData.Disabled': 'false'
  'AzureWebJobs.EraseRegistersData.Disabled': 'false'
  'AzureWebJobs.EraseDataboxData.Disabled': 'false'
  'AzureWebJobs.ErasePetitionsData.Disabled': 'false'
  'AzureWebJobs.RecordPetitionHandOver.Disabled': 'false'
  'AzureWebJobs.EraseTilesData.Disabled': 'false'
}

// The standby region serves HTTP and consumes queues (handlers are idempotent), but runs no timer.
var timersOff = {
  PORTAL_TIMERS_ENABLED: 'false'
  'AzureWebJobs.Housekeeping.Disabled': 'true'
  'AzureWebJobs.RewrapDataKeys.Disabled': 'true'
  'AzureWebJobs.ArchiveExpiringMessages.Disabled': 'true'
  'AzureWebJobs.WarnBeforeDeemedDelivery.Disabled': 'true'
  'AzureWebJobs.AdvanceDataBoxRequests.Disabled': 'true'
  'AzureWebJobs.ReconcileDataboxCredit.Disabled': 'true'
  'AzureWebJobs.SendReminders.Disabled': 'true'
  'AzureWebJobs.CheckFilingDeadlines.Disabled': 'true'
  'AzureWebJobs.ClosePetitions.Disabled': 'true'
  'AzureWebJobs.HarvestNoticeBoards.Disabled': 'true'
  'AzureWebJobs.NotifyEndedDelegations.Disabled': 'true'
  'AzureWebJobs.PurchaseCredit.Disabled': 'false'
  'AzureWebJobs.FileDocument.Disabled': 'false'
  'AzureWebJobs.FileCalendarEntry.Disabled': 'false'
  'AzureWebJobs.SendNotification.Disabled': 'false'
  'AzureWebJobs.RetryNotification.Disabled': 'false'
  'AzureWebJobs.FetchExtract.Disabled': 'false'
  'AzureWebJobs.RecordFiling.Disabled': 'false'
  'AzureWebJobs.SettleFilingPayment.Disabled': 'false'
  'AzureWebJobs.SettleFeePayment.Disabled': 'false'
  'AzureWebJobs.EraseFeesData.Disabled': 'false'
  'AzureWebJobs.EraseNoticeBoardsData.Disabled': 'false'
  'AzureWebJobs.EraseDelegationsData.Disabled': 'false'
  'AzureWebJobs.RefreshOnSignIn.Disabled': 'false'
  'AzureWebJobs.RecordCitizenFact.Disabled': 'false'
  'AzureWebJobs.SendDataMessageOnBehalf.Disabled': 'false'
  'AzureWebJobs.BuildExport.Disabled': 'false'
  'AzureWebJobs.EraseDocumentsData.Disabled': 'false'
  'AzureWebJobs.EraseCalendarData.Disabled': 'false'
  'AzureWebJobs.EraseNotificationsData.Disabled': 'false'
  'AzureWebJobs.EraseRegistersData.Disabled': 'false'
  'AzureWebJobs.EraseDataboxData.Disabled': 'false'
  'AzureWebJobs.ErasePetitionsData.Disabled': 'false'
  'AzureWebJobs.RecordPetitionHandOver.Disabled': 'false'
  'AzureWebJobs.EraseTilesData.Disabled': 'false'
}

// A staging slot only waits for a release and its smoke test: no timers, no queue consumption.
var stagingSlotSettings = {
  PORTAL_TIMERS_ENABLED: 'false'
  'AzureWebJobs.Housekeeping.Disabled': 'true'
  'AzureWebJobs.RewrapDataKeys.Disabled': 'true'
  'AzureWebJobs.ArchiveExpiringMessages.Disabled': 'true'
  'AzureWebJobs.WarnBeforeDeemedDelivery.Disabled': 'true'
  'AzureWebJobs.AdvanceDataBoxRequests.Disabled': 'true'
  'AzureWebJobs.ReconcileDataboxCredit.Disabled': 'true'
  'AzureWebJobs.SendReminders.Disabled': 'true'
  'AzureWebJobs.CheckFilingDeadlines.Disabled': 'true'
  'AzureWebJobs.ClosePetitions.Disabled': 'true'
  'AzureWebJobs.HarvestNoticeBoards.Disabled': 'true'
  'AzureWebJobs.NotifyEndedDelegations.Disabled': 'true'
  'AzureWebJobs.PurchaseCredit.Disabled': 'true'
  'AzureWebJobs.FileDocument.Disabled': 'true'
  'AzureWebJobs.FileCalendarEntry.Disabled': 'true'
  'AzureWebJobs.SendNotification.Disabled': 'true'
  'AzureWebJobs.RetryNotification.Disabled': 'true'
  'AzureWebJobs.FetchExtract.Disabled': 'true'
  'AzureWebJobs.RecordFiling.Disabled': 'true'
  'AzureWebJobs.SettleFilingPayment.Disabled': 'true'
  'AzureWebJobs.SettleFeePayment.Disabled': 'true'
  'AzureWebJobs.EraseFeesData.Disabled': 'true'
  'AzureWebJobs.EraseNoticeBoardsData.Disabled': 'true'
  'AzureWebJobs.EraseDelegationsData.Disabled': 'true'
  'AzureWebJobs.RefreshOnSignIn.Disabled': 'true'
  'AzureWebJobs.RecordCitizenFact.Disabled': 'true'
  'AzureWebJobs.SendDataMessageOnBehalf.Disabled': 'true'
  'AzureWebJobs.BuildExport.Disabled': 'true'
  'AzureWebJobs.EraseDocumentsData.Disabled': 'true'
  'AzureWebJobs.EraseCalendarData.Disabled': 'true'
  'AzureWebJobs.EraseNotificationsData.Disabled': 'true'
  'AzureWebJobs.EraseRegistersData.Disabled': 'true'
  'AzureWebJobs.EraseDataboxData.Disabled': 'true'
  'AzureWebJobs.ErasePetitionsData.Disabled': 'true'
  'AzureWebJobs.RecordPetitionHandOver.Disabled': 'true'
  'AzureWebJobs.EraseTilesData.Disabled': 'true'
}

// Slot settings stay with their slot on a swap; everything else (including WEBSITE_RUN_FROM_PACKAGE) travels with it.
// A deployment writes the staging slots only; the release pipeline sets the production slot's values of these
// (outputs.regions[].productionSlotSettings) while the region is out of Front Door, before it swaps.
var stickySettingNames = [
  'PORTAL_TIMERS_ENABLED'
  'AzureWebJobs.Housekeeping.Disabled'
  'AzureWebJobs.RewrapDataKeys.Disabled'
  'AzureWebJobs.ArchiveExpiringMessages.Disabled'
  'AzureWebJobs.WarnBeforeDeemedDelivery.Disabled'
  'AzureWebJobs.AdvanceDataBoxRequests.Disabled'
  'AzureWebJobs.ReconcileDataboxCredit.Disabled'
  'AzureWebJobs.SendReminders.Disabled'
  'AzureWebJobs.CheckFilingDeadlines.Disabled'
  'AzureWebJobs.ClosePetitions.Disabled'
  'AzureWebJobs.HarvestNoticeBoards.Disabled'
  'AzureWebJobs.NotifyEndedDelegations.Disabled'
  'AzureWebJobs.PurchaseCredit.Disabled'
  'AzureWebJobs.FileDocument.Disabled'
  'AzureWebJobs.FileCalendarEntry.Disabled'
  'AzureWebJobs.SendNotification.Disabled'
  'AzureWebJobs.RetryNotification.Disabled'
  'AzureWebJobs.FetchExtract.Disabled'
  'AzureWebJobs.RecordFiling.Disabled'
  'AzureWebJobs.SettleFilingPayment.Disabled'
  'AzureWebJobs.SettleFeePayment.Disabled'
  'AzureWebJobs.EraseFeesData.Disabled'
  'AzureWebJobs.EraseNoticeBoardsData.Disabled'
  'AzureWebJobs.EraseDelegationsData.Disabled'
  'AzureWebJobs.RefreshOnSignIn.Disabled'
  'AzureWebJobs.RecordCitizenFact.Disabled'
  'AzureWebJobs.SendDataMessageOnBehalf.Disabled'
  'AzureWebJobs.BuildExport.Disabled'
  'AzureWebJobs.EraseDocumentsData.Disabled'
  'AzureWebJobs.EraseCalendarData.Disabled'
  'AzureWebJobs.EraseNotificationsData.Disabled'
  'AzureWebJobs.EraseRegistersData.Disabled'
  'AzureWebJobs.EraseDataboxData.Disabled'
  'AzureWebJobs.ErasePetitionsData.Disabled'
  'AzureWebJobs.RecordPetitionHandOver.Disabled'
  'AzureWebJobs.EraseTilesData.Disabled'
  'AzureFunctionsWebHost__hostid'
]

// The slots of a region share its host storage account, so each gets its own host id (otherwise production and
// staging collide).
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

// Per-slot settings of each region: the staging slot gets everything (a deployment writes nothing else); the
// production slot's own (sticky) values go out as outputs.regions[].productionSlotSettings for the release pipeline.
var primaryStagingSettings = union(portalSettings, hostSettings, primaryRegionSettings, stagingSlotSettings, primaryStagingHostIds)
var secondaryStagingSettings = union(portalSettings, hostSettings, secondaryRegionSettings, stagingSlotSettings, secondaryStagingHostIds)
var primaryProductionSlotSettings = union(activeRegion == 'primary' ? timersOn : timersOff, primaryHostIds)
var secondaryProductionSlotSettings = union(activeRegion == 'secondary' ? timersOn : timersOff, secondaryHostIds)

// ---------------------------------------------------------------------------------------------------------------------
// Per region, one region after the other: an Elastic Premium plan and the function app with its staging slot
// ---------------------------------------------------------------------------------------------------------------------

@batchSize(1)
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
      zoneRedundant: zoneRedundant
    }
  }
]

// One region at a time, so a deployment that goes wrong stops with the other region untouched. The production slots
// are not restarted at all: settings go to the staging slots (modules/avm/res/web/site).
@batchSize(1)
module apps 'modules/avm/res/web/site/main.bicep' = [
  for (region, i) in regions: {
    name: 'app-${region.code}'
    params: {
      name: region.appName
      location: region.location
      tags: allTags
      serverFarmResourceId: plans[i].outputs.resourceId
      virtualNetworkSubnetId: networks[i].outputs.appsSubnetResourceId
      stagingAppSettings: region.role == 'primary' ? primaryStagingSettings : secondaryStagingSettings
      stickySettingNames: stickySettingNames
      frontDoorId: frontDoor.outputs.frontDoorId
      healthCheckPath: '/api/health'
      minimumElasticInstanceCount: region.minimumInstances
    }
    dependsOn: [
      privateEndpoints[i]
    ]
  }
]

// ---------------------------------------------------------------------------------------------------------------------
// Access of each region's identities (no keys) to its own storage and monitoring and to the shared Cosmos DB and key,
// then Front Door's origins and route
// ---------------------------------------------------------------------------------------------------------------------

module access 'modules/ptn/portal-access/main.bicep' = [
  for (region, i) in regions: {
    name: 'portal-access-${region.code}'
    params: {
      appPrincipalIds: [
        apps[i].outputs.systemAssignedMIPrincipalId
        apps[i].outputs.stagingSystemAssignedMIPrincipalId
      ]
      deployerPrincipalId: deployerPrincipalId
      cosmosAccountName: cosmos.outputs.name
      cosmosDatabaseName: cosmos.outputs.databaseName
      dataStorageAccountName: dataStorages[i].outputs.name
      dataContainerName: citizensContainerName
      hostStorageAccountName: hostStorages[i].outputs.name
      deploymentContainerName: deploymentContainerName
      keyVaultName: keyVault.outputs.name
      keyName: kekName
      appInsightsName: appInsights[i].outputs.name
    }
  }
]

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
        enabled: region.originEnabled
        privateLinkResourceId: apps[i].outputs.resourceId
        privateLinkLocation: region.location
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

// The reference web client (web/public) as a Static Web App behind the same endpoint: /* there, /api/* above.
module web 'modules/ptn/portal-web/main.bicep' = {
  name: 'portal-web'
  params: {
    namePrefix: baseName
    profileName: frontDoor.outputs.name
    endpointName: frontDoor.outputs.endpointName
    tags: allTags
  }
}

// ---------------------------------------------------------------------------------------------------------------------
// Alerts. The action group, the metric alerts on Front Door and Cosmos DB and the budget are global; each region has
// its own log alerts and availability test on its own workspace, so losing a region does not silence the other.
// ---------------------------------------------------------------------------------------------------------------------

module sharedAlerts 'modules/ptn/portal-alerts-shared/main.bicep' = {
  name: 'portal-alerts-shared'
  params: {
    namePrefix: baseName
    tags: allTags
    alertEmailAddress: alertEmailAddress
    alertWebhookUrl: alertWebhookUrl
    frontDoorResourceId: frontDoor.outputs.resourceId
    originHealthPercent: alertOriginHealthPercent
    cosmosResourceId: cosmos.outputs.resourceId
    cosmosThrottledRequests: alertCosmosThrottledRequests
    monthlyBudget: monthlyBudget
    budgetStartDate: budgetStartDate
  }
}

module alerts 'modules/ptn/portal-alerts/main.bicep' = [
  for (region, i) in regions: {
    name: 'portal-alerts-${region.code}'
    params: {
      namePrefix: '${baseName}-${region.code}'
      location: region.location
      tags: allTags
      workspaceResourceId: workspaces[i].outputs.resourceId
      appInsightsResourceId: appInsights[i].outputs.resourceId
      actionGroupResourceId: sharedAlerts.outputs.actionGroupResourceId
      serverErrorPercent: alertServerErrorPercent
      latencyP95Ms: alertLatencyP95Ms
      timers: timers
      // Only the active region runs timers; its stale-timer alert is the one that watches them.
      timersExpected: region.active
      availabilityTestUrl: 'https://${publicHost}/api/ready'
      availabilityTestFrequencySeconds: availabilityTestFrequencySeconds
    }
  }
]

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

@description('The web client\'s Static Web App (the release deploys web/public and web/staticwebapp.config.json to it).')
output webSiteName string = web.outputs.siteName

@description('Per region: role (= Front Door origin name), whether it is active, its Front Door priority (1 = active) and origin state, app, host names of the production and staging slots, where its packages go, its outbound address, and the slot (sticky) settings its production slot must have.')
output regions array = [
  for (region, i) in regions: {
    role: region.role
    location: region.location
    active: region.active
    frontDoorPriority: region.frontDoorPriority
    originEnabled: region.originEnabled
    appName: apps[i].outputs.name
    appResourceId: apps[i].outputs.resourceId
    hostName: apps[i].outputs.defaultHostname
    stagingHostName: apps[i].outputs.stagingDefaultHostname
    packages: {
      storageAccountName: hostStorages[i].outputs.name
      storageAccountResourceId: hostStorages[i].outputs.resourceId
      containerName: deploymentContainerName
      blobEndpoint: hostStorages[i].outputs.primaryEndpoints.blob
    }
    citizensStorageAccountName: dataStorages[i].outputs.name
    outboundIpAddress: networks[i].outputs.outboundIpAddress
    // Cosmos DB regions nearest first, for the app's preferred regions (the binary does not read such a setting yet).
    cosmosPreferredRegions: region.cosmosPreferredRegions
    productionSlotSettings: region.role == 'primary' ? primaryProductionSlotSettings : secondaryProductionSlotSettings
  }
]

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
