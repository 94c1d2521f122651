metadata name = 'Storage account'
metadata description = 'Shaped like br/public:avm/res/storage/storage-account: Entra ID only (no shared keys), no public network access (private endpoints only), geo-zone-redundant, blob soft delete and versioning, with its containers and queues.'

@description('Required. Name of the account (3-24 lowercase letters and digits, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Optional. Location of the account.')
param location string = resourceGroup().location

@description('Optional. Tags of the resource.')
param tags object = {}

@description('Optional. Redundancy. Standard_GZRS: three zones in the region plus an asynchronous copy in the paired region; Standard_RAGZRS also allows reading that copy.')
@allowed([
  'Standard_GZRS'
  'Standard_RAGZRS'
])
param skuName string = 'Standard_GZRS'

@description('Optional. Blob containers to create (names).')
param blobContainers array = []

@description('Optional. Queues to create (names). List the -poison queues too: the host creates them on first use, and they should exist before anyone looks for them.')
param queues array = []

@description('Optional. Days deleted blobs and containers can be restored.')
@minValue(1)
@maxValue(365)
param deleteRetentionDays int = 30

@description('Optional. Days after which previous blob versions are deleted by the lifecycle policy; 0 = keep them.')
param deletePreviousVersionsAfterDays int = 0

@description('Optional. Blob name prefixes (container/prefix) whose current blobs are deleted after deleteBlobsAfterDays; for release packages.')
param deleteBlobsPrefixes array = []

@description('Optional. Days after which blobs under deleteBlobsPrefixes are deleted.')
param deleteBlobsAfterDays int = 180

@description('Optional. Resource ID of the Log Analytics workspace that receives the blob and queue logs. Empty = no diagnostic setting.')
param diagnosticWorkspaceResourceId string = ''

@description('Optional. Also log reads (StorageRead). Off by default: the host polls every queue of every instance (tens of millions of GetMessages a month), and each poll would be a billed log row. Writes and deletes are always logged.')
param logReads bool = false

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    // Only Entra ID tokens: no account keys, no SAS signed with them.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowCrossTenantReplication: false
    // Reached through private endpoints only. The release pipeline opens the public endpoint to its own address for
    // the minute it uploads a package (docs/operations.md, "Deploy"); the next deployment closes it again in any case.
    publicNetworkAccess: 'Disabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Deny'
      ipRules: []
      virtualNetworkRules: []
    }
    encryption: {
      keySource: 'Microsoft.Storage'
      requireInfrastructureEncryption: true
      services: {
        blob: {
          enabled: true
          keyType: 'Account'
        }
        file: {
          enabled: true
          keyType: 'Account'
        }
        queue: {
          enabled: true
          keyType: 'Account'
        }
        table: {
          enabled: true
          keyType: 'Account'
        }
      }
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    isVersioningEnabled: true
    changeFeed: {
      enabled: true
      retentionInDays: deleteRetentionDays
    }
    deleteRetentionPolicy: {
      enabled: true
      days: deleteRetentionDays
    }
    containerDeleteRetentionPolicy: {
      enabled: true
      days: deleteRetentionDays
    }
  }
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = [
  for container in blobContainers: {
    parent: blobService
    name: container
    properties: {
      publicAccess: 'None'
    }
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {}
}

resource accountQueues 'Microsoft.Storage/storageAccounts/queueServices/queues@2023-05-01' = [
  for queue in queues: {
    parent: queueService
    name: queue
    properties: {
      metadata: {}
    }
  }
]

var versionRules = deletePreviousVersionsAfterDays > 0 ? [
  {
    name: 'delete-previous-versions'
    enabled: true
    type: 'Lifecycle'
    definition: {
      filters: {
        blobTypes: [
          'blockBlob'
        ]
      }
      actions: {
        version: {
          delete: {
            daysAfterCreationGreaterThan: deletePreviousVersionsAfterDays
          }
        }
      }
    }
  }
] : []

var prefixRules = !empty(deleteBlobsPrefixes) ? [
  {
    name: 'delete-old-release-packages'
    enabled: true
    type: 'Lifecycle'
    definition: {
      filters: {
        blobTypes: [
          'blockBlob'
        ]
        prefixMatch: deleteBlobsPrefixes
      }
      actions: {
        baseBlob: {
          delete: {
            daysAfterModificationGreaterThan: deleteBlobsAfterDays
          }
        }
      }
    }
  }
] : []

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = if (!empty(concat(versionRules, prefixRules))) {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: concat(versionRules, prefixRules)
    }
  }
}

resource blobDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(diagnosticWorkspaceResourceId)) {
  name: 'to-log-analytics'
  scope: blobService
  properties: {
    workspaceId: diagnosticWorkspaceResourceId
    logs: [
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

resource queueDiagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = if (!empty(diagnosticWorkspaceResourceId)) {
  name: 'to-log-analytics'
  scope: queueService
  properties: {
    workspaceId: diagnosticWorkspaceResourceId
    logs: [
      {
        category: 'StorageRead'
        enabled: logReads
      }
      {
        category: 'StorageWrite'
        enabled: true
      }
      {
        category: 'StorageDelete'
        enabled: true
      }
    ]
  }
}

@description('The resource ID of the account.')
output resourceId string = account.id

@description('The name of the account.')
output name string = account.name

@description('The primary endpoints of the account (blob, queue, table, ...).')
output primaryEndpoints object = account.properties.primaryEndpoints

@description('The name of the resource group the account was deployed into.')
output resourceGroupName string = resourceGroup().name

@description('The location the account was deployed into.')
output location string = account.location
