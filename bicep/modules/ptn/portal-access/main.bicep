metadata name = 'Portal access (role assignments)'
metadata description = 'Pattern module: what one region\'s app identities (its production and staging slot) may do, and nothing more: their own region\'s storage and Application Insights, the shared Cosmos DB database and key-encryption key. Deployed once per region, after the apps exist, because their principal ids are known only then.'

// Cosmos DB data contributor on the portal database, blob data contributor on the citizens' container, the host roles on
// the host storage account, crypto user on the key-encryption key, secrets user for Key Vault references, metrics
// publisher on Application Insights. No keys anywhere.

@description('Required. Principal ids of the region\'s app identities (production and staging slot).')
param appPrincipalIds array

@description('Optional. Principal id of the release pipeline\'s identity: it may upload packages to the region\'s deployment container. Empty = none.')
param deployerPrincipalId string = ''

@description('Required. Name of the Cosmos DB account.')
param cosmosAccountName string

@description('Required. Name of the Cosmos DB SQL database.')
param cosmosDatabaseName string

@description('Required. Name of the storage account holding the citizens\' content.')
param dataStorageAccountName string

@description('Required. Name of the citizens\' blob container.')
param dataContainerName string

@description('Required. Name of the host storage account (AzureWebJobsStorage: queues, timer leases, keys, deployment packages).')
param hostStorageAccountName string

@description('Required. Name of the deployment container in the host storage account.')
param deploymentContainerName string

@description('Required. Name of the Key Vault.')
param keyVaultName string

@description('Required. Name of the key-encryption key.')
param keyName string

@description('Required. Name of the Application Insights component.')
param appInsightsName string

var roles = {
  cosmosDataContributor: '00000000-0000-0000-0000-000000000002'
  storageBlobDataContributor: 'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultCryptoUser: '12338af0-0e69-4776-bea7-57ae8d3df424'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource cosmos 'Microsoft.DocumentDB/databaseAccounts@2024-11-15' existing = {
  name: cosmosAccountName
}

resource cosmosDatabase 'Microsoft.DocumentDB/databaseAccounts/sqlDatabases@2024-11-15' existing = {
  parent: cosmos
  name: cosmosDatabaseName
}

// Cosmos DB data-plane RBAC (not Azure RBAC): read, write, query and delete items in the portal database only.
resource cosmosData 'Microsoft.DocumentDB/databaseAccounts/sqlRoleAssignments@2024-11-15' = [
  for principalId in appPrincipalIds: {
    parent: cosmos
    name: guid(cosmos.id, cosmosDatabase.id, principalId, roles.cosmosDataContributor)
    properties: {
      roleDefinitionId: '${cosmos.id}/sqlRoleDefinitions/${roles.cosmosDataContributor}'
      principalId: principalId
      scope: cosmosDatabase.id
    }
  }
]

resource dataStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: dataStorageAccountName
}

resource dataBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: dataStorage
  name: 'default'
}

resource dataContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: dataBlobService
  name: dataContainerName
}

resource citizensBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in appPrincipalIds: {
    name: guid(dataContainer.id, principalId, roles.storageBlobDataContributor)
    scope: dataContainer
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource hostStorage 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: hostStorageAccountName
}

// The Functions host needs Blob Data Owner on AzureWebJobsStorage (it creates its containers, takes timer
// leases, keeps function keys) and reads the run-from-package blob with the same identity.
resource hostBlobs 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in appPrincipalIds: {
    name: guid(hostStorage.id, principalId, roles.storageBlobDataOwner)
    scope: hostStorage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

// Queue triggers and the portal's own QueueStore (the same account, AzureWebJobsStorage__queueServiceUri).
resource hostQueues 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in appPrincipalIds: {
    name: guid(hostStorage.id, principalId, roles.storageQueueDataContributor)
    scope: hostStorage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageQueueDataContributor)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

// The host writes its diagnostic events to table storage.
resource hostTables 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in appPrincipalIds: {
    name: guid(hostStorage.id, principalId, roles.storageTableDataContributor)
    scope: hostStorage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource hostBlobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' existing = {
  parent: hostStorage
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' existing = {
  parent: hostBlobService
  name: deploymentContainerName
}

resource deployerPackages 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (!empty(deployerPrincipalId)) {
  name: guid(deploymentContainer.id, deployerPrincipalId, roles.storageBlobDataContributor)
  scope: deploymentContainer
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataContributor)
    principalId: deployerPrincipalId
    principalType: 'ServicePrincipal'
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource kek 'Microsoft.KeyVault/vaults/keys@2023-07-01' existing = {
  parent: vault
  name: keyName
}

// Wrap and unwrap the citizens' data keys with the key-encryption key; nothing else in the vault.
resource kekCrypto 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in appPrincipalIds: {
    name: guid(kek.id, principalId, roles.keyVaultCryptoUser)
    scope: kek
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultCryptoUser)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

// Key Vault references in app settings (OIDC client secret, ISDS password) resolve with the app's identity.
resource vaultSecrets 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in appPrincipalIds: {
    name: guid(vault.id, principalId, roles.keyVaultSecretsUser)
    scope: vault
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

// Application Insights has local authentication off: telemetry is sent with the app's Entra ID token.
resource telemetry 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for principalId in appPrincipalIds: {
    name: guid(appInsights.id, principalId, roles.monitoringMetricsPublisher)
    scope: appInsights
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
      principalId: principalId
      principalType: 'ServicePrincipal'
    }
  }
]
