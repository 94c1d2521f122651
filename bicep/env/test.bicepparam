// The test environment: smallest sizes, both regions (failover and the release procedure are rehearsed here),
// NIA's and ISDS's test environments. Secrets (oidc-client-secret, isds-hosted-cert, isds-hosted-key, isds-zfo-trust, smtp-password, registers-client-cert, registers-client-key, petitions-signer-key) live in the Key Vault only.
using '../main.bicep'

param environmentName = 'test'
param primaryLocation = 'germanywestcentral'
param primaryRegionCode = 'gwc'
param secondaryLocation = 'swedencentral'
param secondaryRegionCode = 'sdc'
param activeRegion = 'primary'

param zoneRedundant = false
param planSku = 'EP1'
param primaryMinimumInstances = 1
param secondaryMinimumInstances = 1
param maximumInstances = 4

param cosmosAutoscaleMaxThroughput = 1000
param cosmosBackupTier = 'Continuous7Days'
param keyVaultSku = 'standard'
param kekKeyType = 'RSA'
param kekKeySize = 3072
param logRetentionDays = 30
param logDailyQuotaGb = 5

param oidcDiscoveryUrl = 'https://tnia.identita.gov.cz/fpsts/oidc/openid-configuration'
param oidcClientId = 'portal-obcana-test'
param isdsUrl = 'https://ws1c.czebox.cz/hspis/DS/'
param smtpHost = 'smtp.test.portal.gov.cz'
param registersGatewayUrl = 'https://registers-gw.test.portal.gov.cz/v1/'

param wafApiRequestsPerMinute = 1000
param wafAuthRequestsPerMinute = 60

// Set by the release pipeline from the azure/login identity (its object id).
param deployerPrincipalId = readEnvironmentVariable('DEPLOYER_PRINCIPAL_ID', '')
// Set by the release pipeline: the id of the citizens' files replication policy once it exists.
param citizensReplicationPolicyId = readEnvironmentVariable('CITIZENS_REPLICATION_POLICY_ID', '')

// Alerts go to the operators' shared mailbox; the on-call webhook comes from the GitHub environment secret
// ALERT_WEBHOOK_URL (empty = e-mail only).
param alertEmailAddress = 'portal-provoz-test@portal.gov.cz'
param alertWebhookUrl = readEnvironmentVariable('ALERT_WEBHOOK_URL', '')
param availabilityTestFrequencySeconds = 900
// In the billing currency of the subscription (USD assumed, as in docs/operations.md, "Monthly cost").
param monthlyBudget = 1100
param budgetStartDate = '2026-12-01'

param tags = {
  costCenter: 'portal-obcana'
}
