metadata name = 'Region network'
metadata description = 'Pattern module: the virtual network of one region. The apps subnet (VNet integration of both slots of the region\'s function app) leaves through a NAT gateway with one static public address, the address the government systems (ISDS, registers gateway, NIA, SMTP relay) can allow; the private-endpoints subnet holds the region\'s private endpoints to Cosmos DB, storage and Key Vault.'

@description('Required. Prefix of the resource names (e.g. portal-prd-gwc).')
param namePrefix string

@description('Optional. Location of the network.')
param location string = resourceGroup().location

@description('Optional. Tags of the resources.')
param tags object = {}

@description('Required. Address space of the virtual network.')
param addressPrefix string

@description('Required. Prefix of the apps subnet (within addressPrefix; /26 at least, /24 leaves room to scale out both slots).')
param appsSubnetPrefix string

@description('Required. Prefix of the private endpoints subnet (within addressPrefix).')
param privateEndpointsSubnetPrefix string

@description('Optional. Minutes an idle outbound connection stays open in the NAT gateway.')
@minValue(4)
@maxValue(120)
param natIdleTimeoutMinutes int = 4

// No inbound rule of our own: the default rules allow traffic within the virtual network only. The apps take their
// requests through Front Door's private link; the private endpoints answer the apps subnet.
resource appsNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-${namePrefix}-apps'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource endpointsNsg 'Microsoft.Network/networkSecurityGroups@2024-05-01' = {
  name: 'nsg-${namePrefix}-pe'
  location: location
  tags: tags
  properties: {
    securityRules: []
  }
}

resource natAddress 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: 'pip-${namePrefix}-nat'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Regional'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
    publicIPAddressVersion: 'IPv4'
    idleTimeoutInMinutes: natIdleTimeoutMinutes
  }
}

resource nat 'Microsoft.Network/natGateways@2024-05-01' = {
  name: 'ng-${namePrefix}'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    idleTimeoutInMinutes: natIdleTimeoutMinutes
    publicIpAddresses: [
      {
        id: natAddress.id
      }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: 'vnet-${namePrefix}'
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: [
        addressPrefix
      ]
    }
    subnets: [
      {
        name: 'apps'
        properties: {
          addressPrefix: appsSubnetPrefix
          networkSecurityGroup: {
            id: appsNsg.id
          }
          natGateway: {
            id: nat.id
          }
          // Outbound only through the NAT gateway: no implicit default outbound address.
          defaultOutboundAccess: false
          delegations: [
            {
              name: 'function-apps'
              properties: {
                serviceName: 'Microsoft.Web/serverFarms'
              }
            }
          ]
        }
      }
      {
        name: 'private-endpoints'
        properties: {
          addressPrefix: privateEndpointsSubnetPrefix
          networkSecurityGroup: {
            id: endpointsNsg.id
          }
          defaultOutboundAccess: false
          privateEndpointNetworkPolicies: 'Enabled'
        }
      }
    ]
  }
}

@description('The resource ID of the virtual network.')
output resourceId string = vnet.id

@description('The resource ID of the apps subnet (VNet integration).')
output appsSubnetResourceId string = vnet.properties.subnets[0].id

@description('The resource ID of the private endpoints subnet.')
output privateEndpointsSubnetResourceId string = vnet.properties.subnets[1].id

@description('The static outbound address of the region (the NAT gateway\'s public IP).')
output outboundIpAddress string = natAddress.properties.ipAddress
