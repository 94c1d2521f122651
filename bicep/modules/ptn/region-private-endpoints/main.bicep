metadata name = 'Region private endpoints'
metadata description = 'Pattern module: the private endpoints one region\'s apps reach their data services through, registered in the region\'s own private DNS zones: the region\'s host storage (blob, queue, table) and citizens\' files (blob), and the shared Cosmos DB account and Key Vault.'

@description('Required. Prefix of the endpoint names (e.g. portal-prd-gwc).')
param namePrefix string

@description('Optional. Location of the endpoints (the region).')
param location string = resourceGroup().location

@description('Optional. Tags of the resources.')
param tags object = {}

@description('Required. Resource ID of the region\'s private endpoints subnet.')
param subnetResourceId string

@description('Required. Resource ID of the region\'s host storage account.')
param hostStorageResourceId string

@description('Required. Resource ID of the region\'s storage account with the citizens\' files.')
param dataStorageResourceId string

@description('Required. Resource ID of the Cosmos DB account.')
param cosmosResourceId string

@description('Required. Resource ID of the Key Vault.')
param keyVaultResourceId string

@description('Required. The region\'s private DNS zones: { blob, queue, table, cosmos, vault } → zone resource ID.')
param dnsZoneResourceIds object

var endpoints = [
  {
    name: 'host-blob'
    target: hostStorageResourceId
    groupId: 'blob'
    zone: dnsZoneResourceIds.blob
  }
  {
    name: 'host-queue'
    target: hostStorageResourceId
    groupId: 'queue'
    zone: dnsZoneResourceIds.queue
  }
  {
    name: 'host-table'
    target: hostStorageResourceId
    groupId: 'table'
    zone: dnsZoneResourceIds.table
  }
  {
    name: 'data-blob'
    target: dataStorageResourceId
    groupId: 'blob'
    zone: dnsZoneResourceIds.blob
  }
  {
    name: 'cosmos'
    target: cosmosResourceId
    groupId: 'Sql'
    zone: dnsZoneResourceIds.cosmos
  }
  {
    name: 'vault'
    target: keyVaultResourceId
    groupId: 'vault'
    zone: dnsZoneResourceIds.vault
  }
]

resource privateEndpoints 'Microsoft.Network/privateEndpoints@2024-05-01' = [
  for endpoint in endpoints: {
    name: 'pe-${namePrefix}-${endpoint.name}'
    location: location
    tags: tags
    properties: {
      subnet: {
        id: subnetResourceId
      }
      customNetworkInterfaceName: 'nic-pe-${namePrefix}-${endpoint.name}'
      privateLinkServiceConnections: [
        {
          name: endpoint.name
          properties: {
            privateLinkServiceId: endpoint.target
            groupIds: [
              endpoint.groupId
            ]
          }
        }
      ]
    }
  }
]

resource zoneGroups 'Microsoft.Network/privateEndpoints/privateDnsZoneGroups@2024-05-01' = [
  for (endpoint, i) in endpoints: {
    parent: privateEndpoints[i]
    name: 'default'
    properties: {
      privateDnsZoneConfigs: [
        {
          name: endpoint.groupId
          properties: {
            privateDnsZoneId: endpoint.zone
          }
        }
      ]
    }
  }
]

@description('The resource IDs of the private endpoints.')
output resourceIds array = [for (endpoint, i) in endpoints: privateEndpoints[i].id]
