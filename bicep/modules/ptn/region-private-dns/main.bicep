metadata name = 'Region private DNS'
metadata description = 'Pattern module: the private DNS zones one region\'s virtual network resolves the private endpoints with. Deployed into a resource group of the region\'s own (<resource group>-dns-<region code>): Cosmos DB and Key Vault have one name each but a private endpoint in every region, and a zone holds one address per name, so each region needs its own zones; zone names are fixed, so they cannot share a resource group.'

targetScope = 'resourceGroup'

@description('Required. Names of the private DNS zones (privatelink.*).')
param zoneNames array

@description('Required. Resource ID of the region\'s virtual network (it may live in another resource group).')
param virtualNetworkResourceId string

@description('Required. Short code of the region, used in the link names.')
param regionCode string

@description('Optional. Tags of the resources.')
param tags object = {}

resource zones 'Microsoft.Network/privateDnsZones@2024-06-01' = [
  for zoneName in zoneNames: {
    name: zoneName
    location: 'global'
    tags: tags
  }
]

resource links 'Microsoft.Network/privateDnsZones/virtualNetworkLinks@2024-06-01' = [
  for (zoneName, i) in zoneNames: {
    parent: zones[i]
    name: 'vnet-${regionCode}'
    location: 'global'
    tags: tags
    properties: {
      registrationEnabled: false
      virtualNetwork: {
        id: virtualNetworkResourceId
      }
    }
  }
]

@description('The resource IDs of the zones, in the order of zoneNames.')
output zoneResourceIds array = [for (zoneName, i) in zoneNames: zones[i].id]
