// Production: 8,000 concurrent citizens at peak, 18,000 a day (sizing and cost in docs/operations.md).
// The primary region carries the traffic; the secondary is a warm standby that takes over through Front Door.
using '../main.bicep'

param environmentName = 'production'
param primaryLocation = 'germanywestcentral'
param primaryRegionCode = 'gwc'
param secondaryLocation = 'swedencentral'
param secondaryRegionCode = 'sdc'
param activeRegion = 'primary'

param zoneRedundant = true
param planSku = 'EP2'
param primaryMinimumInstances = 2
// Zone-redundant in both regions: the standby takes the whole load after a failover, and a zone-redundant plan
// keeps at least two instances.
param secondaryMinimumInstances = 2
param maximumInstances = 20

// The request units the main endpoints use (`cargo bench --bench request_units`, docs/benchmarks.md): about
// 14 RU a request of the peak mix, so ~3,800 RU/s at the expected 270 requests/s and ~11,100 RU/s at the 800
// the portal must carry. Autoscale bills the highest RU/s of each hour, at least 10 % of this ceiling (1,200).
param cosmosAutoscaleMaxThroughput = 12000
param cosmosBackupTier = 'Continuous30Days'
param keyVaultSku = 'premium'
param kekKeyType = 'RSA-HSM'
param kekKeySize = 3072
param logRetentionDays = 90
param logDailyQuotaGb = -1

param oidcDiscoveryUrl = 'https://nia.identita.gov.cz/fpsts/oidc/openid-configuration'
param oidcClientId = 'portal-obcana'
param isdsUrl = 'https://ws1c.mojedatovaschranka.cz/hspis/DS/'
param smtpHost = 'smtp.portal.gov.cz'
param registersGatewayUrl = 'https://registers-gw.portal.gov.cz/v1/'

// Many citizens share an address (mobile carriers' NAT, offices): keep the per-address limits generous.
param wafApiRequestsPerMinute = 3000
param wafAuthRequestsPerMinute = 120

param deployerPrincipalId = readEnvironmentVariable('DEPLOYER_PRINCIPAL_ID', '')
// Set by the release pipeline: the id of the citizens' files replication policy once it exists.
param citizensReplicationPolicyId = readEnvironmentVariable('CITIZENS_REPLICATION_POLICY_ID', '')

// Alerts go to the operators' shared mailbox; the on-call webhook comes from the GitHub environment secret
// ALERT_WEBHOOK_URL (empty = e-mail only).
param alertEmailAddress = 'portal-provoz@portal.gov.cz'
param alertWebhookUrl = readEnvironmentVariable('ALERT_WEBHOOK_URL', '')
param availabilityTestFrequencySeconds = 300
// In the billing currency of the subscription (USD assumed, as in docs/operations.md, "Monthly cost").
param monthlyBudget = 3300
param budgetStartDate = '2026-12-01'

param tags = {
  costCenter: 'portal-obcana'
}
