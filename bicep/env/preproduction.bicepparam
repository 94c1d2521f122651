// Pre-production: production's shape (zone redundancy, HSM key, 30-day backup) at smaller sizes; NIA's and ISDS's
// test environments. Releases and failovers are rehearsed here before production.
using '../main.bicep'

param environmentName = 'preproduction'
param primaryLocation = 'germanywestcentral'
param primaryRegionCode = 'gwc'
param secondaryLocation = 'swedencentral'
param secondaryRegionCode = 'sdc'
param activeRegion = 'primary'

param zoneRedundant = true
param planSku = 'EP1'
param primaryMinimumInstances = 2
// Zone-redundant in both regions: the standby takes the whole load after a failover, and a zone-redundant plan
// keeps at least two instances.
param secondaryMinimumInstances = 2
param maximumInstances = 6

param cosmosAutoscaleMaxThroughput = 1000
param cosmosBackupTier = 'Continuous30Days'
param keyVaultSku = 'premium'
param kekKeyType = 'RSA-HSM'
param kekKeySize = 3072
param logRetentionDays = 30
param logDailyQuotaGb = 10

param oidcDiscoveryUrl = 'https://tnia.identita.gov.cz/fpsts/oidc/openid-configuration'
param oidcClientId = 'portal-obcana-preproduction'
param isdsUrl = 'https://ws1c.czebox.cz/hspis/DS/'
param smtpHost = 'smtp.preproduction.portal.gov.cz'
param registersGatewayUrl = 'https://registers-gw.preproduction.portal.gov.cz/v1/'

param wafApiRequestsPerMinute = 1000
param wafAuthRequestsPerMinute = 60

param deployerPrincipalId = readEnvironmentVariable('DEPLOYER_PRINCIPAL_ID', '')
// Set by the release pipeline: the id of the citizens' files replication policy once it exists.
param citizensReplicationPolicyId = readEnvironmentVariable('CITIZENS_REPLICATION_POLICY_ID', '')

// Alerts go to the operators' shared mailbox; the on-call webhook comes from the GitHub environment secret
// ALERT_WEBHOOK_URL (empty = e-mail only).
param alertEmailAddress = 'portal-provoz-preprod@portal.gov.cz'
param alertWebhookUrl = readEnvironmentVariable('ALERT_WEBHOOK_URL', '')
param availabilityTestFrequencySeconds = 900
// In the billing currency of the subscription (USD assumed, as in docs/operations.md, "Monthly cost").
param monthlyBudget = 1400
param budgetStartDate = '2026-12-01'

param tags = {
  costCenter: 'portal-obcana'
}
