metadata name = 'Cosmos DB account (NoSQL)'
metadata description = 'Shaped like br/public:avm/res/document-db/database-account: several regions with service-managed failover, Session consistency, continuous backup, Entra ID only; one SQL database with shared autoscale throughput and its containers.'

@description('Required. Name of the account (3-44 lowercase letters, digits and hyphens, globally unique).')
@minLength(3)
@maxLength(44)
param name string

@description('Optional. Location of the account resource (its first region).')
param location string = resourceGroup().location

@description('Optional. Tags of the resource.')
param tags object = {}

@description('Required. Regions: [{ locationName, failoverPriority, isZoneRedundant }]; failover priority 0 is the write region. Pass the priorities the account has now (after a failover, the secondary is 0): a deployment with other priorities moves the write region.')
param failoverLocations array

@description('Optional. Service-managed failover: the service moves the write region when the write region is lost.')
param enableAutomaticFailover bool = true

@description('Optional. Default consistency.')
@allowed([
  'Session'
  'BoundedStaleness'
  'Strong'
  'ConsistentPrefix'
  'Eventual'
])
param defaultConsistencyLevel string = 'Session'

@description('Optional. Continuous backup window: Continuous7Days or Continuous30Days (point-in-time restore within it).')
@allowed([
  'Continuous7Days'
  'Continuous30Days'
])
param continuousBackupTier string = 'Continuous30Days'

@description('Required. Name of the SQL database.')
param databaseName string

@description('Optional. Highest RU/s the shared autoscale throughput of the database may reach (scales between 10 % of it and it).')
@minValue(1000)
param autoscaleMaxThroughput int = 4000

@description('Required. Containers: [{ name, compositeIndexes? }]. Partition key /pk, per-item TTL on (default TTL -1), consistent indexing of every path.')
param containers array

@description('Optional. Resource IDs of the Log Analytics workspaces for control-plane logs and metrics (one diagnostic setting each: every region keeps its own copy). Empty = no diagnostic setting.')
param diagnosticWorkspaceResourceIds array = []

resource account 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' = {
  name: name
  location: location
  tags: tags
  kind: 'GlobalDocumentDB'
  properties: {
    databaseAccountOfferType: 'Standard'
    locations: failoverLocations
    enableAutomaticFailover: enableAutomaticFailover
    enableMultipleWriteLocations: false
    consistencyPolicy: {
      defaultConsistencyLevel: defaultConsistencyLevel
    }
    backupPolicy: {
      type: 'Continuous'
      continuousModeProperties: {
        tier: continuousBackupTier
      }
    }
    // Entra ID (data-plane RBAC) only: no account keys, no resource tokens.
    disableLocalAuth: true
    // Databases, containers and throughput change only through ARM (this template), never through the data plane.
    disableKeyBasedMetadataWriteAccess: true
    minimalTlsVersion: 'Tls12'
    // Reached through a private endpoint in each region only.
    publicNetworkAccess: 'Disabled'
    networkAclBypass: 'None'
    isVirtualNetworkFilterEnabled: false
    enableFreeTier: false
    enableAnalyticalStorage: false
    capabilities: []
  }
}

resource database 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' = {
  parent: account
  name: databaseName
  properties: {
    resource: {
      id: databaseName
    }
    options: {
      autoscaleSettings: {
        maxThroughput: autoscaleMaxThroughput
      }
    }
  }
}

resource databaseContainers 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases/containers@2024-11-15' = [
  for container in containers: {
    parent: database
    name: container.name
    properties: {
      resource: {
        id: container.name
        partitionKey: {
          paths: [
            '/pk'
          ]
          kind: 'Hash'
          version: 2
        }
        // -1: TTL is on, items without their own `ttl` never expire.
        defaultTtl: -1
        indexingPolicy: {
          indexingMode: 'consistent'
          automatic: true
          includedPaths: [
            {
              path: '/*'
            }
          ]
          excludedPaths: [
            {
              path: '/"_etag"/?'
            }
          ]
          compositeIndexes: container.?compositeIndexes ?? []
        }
      }
    }
  }
]

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = [
  for workspaceId in diagnosticWorkspaceResourceIds: {
    name: 'to-${last(split(workspaceId, '/'))}'
    scope: account
    properties: {
      workspaceId: workspaceId
      logAnalyticsDestinationType: 'Dedicated'
      logs: [
        {
          category: 'ControlPlaneRequests'
          enabled: true
        }
      ]
      metrics: [
        {
          category: 'Requests'
          enabled: true
        }
      ]
    }
  }
]


@description('The resource ID of the account.')
output resourceId string = account.id

@description('The name of the account.')
output name string = account.name

@description('The document endpoint of the account.')
output endpoint string = account.properties.documentEndpoint

@description('The name of the SQL database.')
output databaseName string = database.name

@description('The name of the resource group the account was deployed into.')
output resourceGroupName string = resourceGroup().name
