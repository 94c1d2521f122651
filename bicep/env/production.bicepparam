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
param secondaryMinimumInstances = 1
param maximumInstances = 20

param cosmosAutoscaleMaxThroughput = 4000
param cosmosBackupTier = 'Continuous30Days'
param keyVaultSku = 'premium'
param kekKeyType = 'RSA-HSM'
param kekKeySize = 3072
param logRetentionDays = 90
param logDailyQuotaGb = -1

param oidcDiscoveryUrl = 'https://nia.identita.gov.cz/fpsts/oidc/openid-configuration'
param oidcClientId = 'portal-obcana'
param isdsUrl = 'https://ws1.mojedatovaschranka.cz/DS/'
param isdsUser = 'portal-obcana'
param smtpHost = 'smtp.portal.gov.cz'
param registersGatewayUrl = 'https://registers-gw.portal.gov.cz/v1/'

// Many citizens share an address (mobile carriers' NAT, offices): keep the per-address limits generous.
param wafApiRequestsPerMinute = 3000
param wafAuthRequestsPerMinute = 120

param deployerPrincipalId = readEnvironmentVariable('DEPLOYER_PRINCIPAL_ID', '')

param tags = {
  costCenter: 'portal-obcana'
}
