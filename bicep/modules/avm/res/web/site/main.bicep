metadata name = 'Function app (custom handler, Linux, Elastic Premium) with a staging slot'
metadata description = 'Shaped like br/public:avm/res/web/site: kind functionapp,linux, system-assigned identity, VNet integration (all outbound traffic through the region\'s virtual network), no public network access (Front Door reaches it through Private Link), a staging slot for zero-downtime releases (deploy to staging, smoke-test, swap). An infrastructure deployment writes app settings to the staging slot only: they reach production with the next swap, so a deployment never restarts a serving slot.'

@description('Required. Name of the function app (globally unique; keep it under 32 characters: the host id is derived from it).')
@maxLength(40)
param name string

@description('Optional. Location of the app.')
param location string = resourceGroup().location

@description('Optional. Tags of the resource.')
param tags object = {}

@description('Required. Resource ID of the Elastic Premium plan.')
param serverFarmResourceId string

@description('Required. App settings of the staging slot (name: value). The production slot gets them with the next swap; its slot (sticky) settings are set by the release pipeline while the region is out of Front Door.')
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

@description('Required. Resource ID of the subnet both slots integrate with (delegated to Microsoft.Web/serverFarms, with the region\'s NAT gateway).')
param virtualNetworkSubnetId string

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
    // Front Door reaches the slot through Private Link. The release pipeline opens the public endpoint to its own
    // address (access restriction below) while it smoke-tests the slot, and closes it again.
    publicNetworkAccess: 'Disabled'
    keyVaultReferenceIdentity: 'SystemAssigned'
    // Every outbound call (Cosmos DB, storage, Key Vault, the government systems) leaves through the region's
    // virtual network: private endpoints for Azure services, the NAT gateway's static address for the rest.
    virtualNetworkSubnetId: virtualNetworkSubnetId
    vnetRouteAllEnabled: true
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
    // Front Door reaches the slot through Private Link. The release pipeline opens the public endpoint to its own
    // address (access restriction below) while it smoke-tests the slot, and closes it again.
    publicNetworkAccess: 'Disabled'
    keyVaultReferenceIdentity: 'SystemAssigned'
    // Every outbound call (Cosmos DB, storage, Key Vault, the government systems) leaves through the region's
    // virtual network: private endpoints for Azure services, the NAT gateway's static address for the rest.
    virtualNetworkSubnetId: virtualNetworkSubnetId
    vnetRouteAllEnabled: true
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

// Which settings stay with their slot on a swap. Writing this list restarts nothing.
resource slotConfigNames 'Microsoft.Web/sites/config@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: a slotConfigNames resource has no publicNetworkAccess; the app and its slot above set it to Disabled
  parent: app
  name: 'slotConfigNames'
  properties: {
    appSettingNames: stickySettingNames
  }
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
