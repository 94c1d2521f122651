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
param secondaryMinimumInstances = 1
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
param isdsUrl = 'https://ws1.czebox.cz/DS/'
param isdsUser = 'portal-preproduction'
param smtpHost = 'smtp.preproduction.portal.gov.cz'
param registersGatewayUrl = 'https://registers-gw.preproduction.portal.gov.cz/v1/'

param wafApiRequestsPerMinute = 1000
param wafAuthRequestsPerMinute = 60

param deployerPrincipalId = readEnvironmentVariable('DEPLOYER_PRINCIPAL_ID', '')

param tags = {
  costCenter: 'portal-obcana'
}
