metadata name = 'Function app (custom handler, Linux, Elastic Premium) with a staging slot'
metadata description = 'Shaped like br/public:avm/res/web/site: kind functionapp,linux, system-assigned identity, reachable only through Front Door, a staging slot for zero-downtime releases (deploy to staging, smoke-test, swap).'

@description('Required. Name of the function app (globally unique; keep it under 32 characters: the host id is derived from it).')
@maxLength(40)
param name string

@description('Optional. Location of the app.')
param location string = resourceGroup().location

@description('Optional. Tags of the resource.')
param tags object = {}

@description('Required. Resource ID of the Elastic Premium plan.')
param serverFarmResourceId string

@description('Required. App settings of the production slot (name: value).')
param appSettings object

@description('Required. App settings of the staging slot (name: value).')
param stagingAppSettings object

@description('Optional. App settings that stay with their slot when the slots are swapped (deployment slot settings).')
param stickySettingNames array = []

@description('Optional. Name of the staging slot.')
param stagingSlotName string = 'staging'

@description('Required. The Front Door profile id (X-Azure-FDID): only requests from this profile are let in.')
param frontDoorId string

@description('Optional. Path the platform health check calls on every instance; an instance that keeps failing it is replaced.')
param healthCheckPath string = '/api/health'

@description('Optional. Always-ready instances of this app on its Elastic Premium plan.')
@minValue(1)
param minimumElasticInstanceCount int = 1

@description('Optional. Pre-warmed instances kept ready for scale-out.')
@minValue(1)
param preWarmedInstanceCount int = 1

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: serverFarmResourceId
    reserved: true
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: 'SystemAssigned'
    // The same siteConfig as the staging slot's below: change both.
    siteConfig: {
      // Custom handler: no language stack; the host starts the executable that host.json names.
      linuxFxVersion: ''
      use32BitWorkerProcess: false
      http20Enabled: true
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      remoteDebuggingEnabled: false
      detailedErrorLoggingEnabled: true
      httpLoggingEnabled: true
      requestTracingEnabled: true
      healthCheckPath: healthCheckPath
      minimumElasticInstanceCount: minimumElasticInstanceCount
      preWarmedInstanceCount: preWarmedInstanceCount
      // Only Front Door (its service tag plus this profile's id header) reaches the app; the release pipeline
      // adds a temporary rule for its own address while it smoke-tests a slot.
      ipSecurityRestrictionsDefaultAction: 'Deny'
      ipSecurityRestrictions: [
        {
          name: 'front-door'
          action: 'Allow'
          priority: 100
          tag: 'ServiceTag'
          ipAddress: 'AzureFrontDoor.Backend'
          headers: {
            'x-azure-fdid': [
              frontDoorId
            ]
          }
        }
      ]
      // The deployment (Kudu) site takes no traffic at all: packages are run from blob storage.
      scmIpSecurityRestrictionsUseMain: false
      scmIpSecurityRestrictionsDefaultAction: 'Deny'
    }
  }
}

resource stagingSlot 'Microsoft.Web/sites/slots@2024-04-01' = {
  parent: app
  name: stagingSlotName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: serverFarmResourceId
    reserved: true
    httpsOnly: true
    clientCertEnabled: false
    publicNetworkAccess: 'Enabled'
    keyVaultReferenceIdentity: 'SystemAssigned'
    // The same siteConfig as the production slot's above: change both.
    siteConfig: {
      // Custom handler: no language stack; the host starts the executable that host.json names.
      linuxFxVersion: ''
      use32BitWorkerProcess: false
      http20Enabled: true
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      remoteDebuggingEnabled: false
      detailedErrorLoggingEnabled: true
      httpLoggingEnabled: true
      requestTracingEnabled: true
      healthCheckPath: healthCheckPath
      minimumElasticInstanceCount: minimumElasticInstanceCount
      preWarmedInstanceCount: preWarmedInstanceCount
      // Only Front Door (its service tag plus this profile's id header) reaches the app; the release pipeline
      // adds a temporary rule for its own address while it smoke-tests a slot.
      ipSecurityRestrictionsDefaultAction: 'Deny'
      ipSecurityRestrictions: [
        {
          name: 'front-door'
          action: 'Allow'
          priority: 100
          tag: 'ServiceTag'
          ipAddress: 'AzureFrontDoor.Backend'
          headers: {
            'x-azure-fdid': [
              frontDoorId
            ]
          }
        }
      ]
      // The deployment (Kudu) site takes no traffic at all: packages are run from blob storage.
      scmIpSecurityRestrictionsUseMain: false
      scmIpSecurityRestrictionsDefaultAction: 'Deny'
    }
  }
}

// No FTP or Kudu basic-auth publishing credentials on either slot.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

resource stagingFtpCredentials 'Microsoft.Web/sites/slots/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: stagingSlot
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource stagingScmCredentials 'Microsoft.Web/sites/slots/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: stagingSlot
  name: 'scm'
  properties: {
    allow: false
  }
}

resource slotConfigNames 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'slotConfigNames'
  properties: {
    appSettingNames: stickySettingNames
  }
}

module productionSettings 'config/main.bicep' = {
  name: '${uniqueString(deployment().name, name)}-appsettings'
  params: {
    appName: app.name
    properties: appSettings
  }
  dependsOn: [
    slotConfigNames
  ]
}

module stagingSettings 'slot/config/main.bicep' = {
  name: '${uniqueString(deployment().name, name)}-staging-appsettings'
  params: {
    appName: app.name
    slotName: stagingSlot.name
    properties: stagingAppSettings
  }
  dependsOn: [
    slotConfigNames
  ]
}

@description('The resource ID of the app.')
output resourceId string = app.id

@description('The name of the app.')
output name string = app.name

@description('The default host name of the production slot.')
output defaultHostname string = app.properties.defaultHostName

@description('The default host name of the staging slot.')
output stagingDefaultHostname string = stagingSlot.properties.defaultHostName

@description('The principal ID of the production slot\'s system-assigned identity.')
output systemAssignedMIPrincipalId string = app.identity.principalId

@description('The principal ID of the staging slot\'s system-assigned identity (slots have identities of their own).')
output stagingSystemAssignedMIPrincipalId string = stagingSlot.identity.principalId

@description('The name of the resource group the app was deployed into.')
output resourceGroupName string = resourceGroup().name

@description('The location the app was deployed into.')
output location string = app.location
