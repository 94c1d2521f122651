metadata name = 'Front Door (Premium) profile'
metadata description = 'Shaped like br/public:avm/res/cdn/profile: a Premium Azure Front Door profile with one endpoint and its WAF security policy. Origin groups and routes are child modules, deployed once the regional apps exist.'

@description('Required. Name of the profile.')
param name string

@description('Optional. Tags of the resource.')
param tags object = {}

@description('Required. Name of the endpoint (its host name is <name>-<hash>.z01.azurefd.net).')
param endpointName string

@description('Required. Resource ID of the WAF policy applied to every request of the endpoint.')
param wafPolicyResourceId string

@description('Optional. Seconds Front Door waits for an origin to answer.')
@minValue(16)
@maxValue(240)
param originResponseTimeoutSeconds int = 120

@description('Optional. Resource IDs of the Log Analytics workspaces for access, WAF and health-probe logs (one diagnostic setting each: every region keeps its own copy). Empty = no diagnostic setting.')
param diagnosticWorkspaceResourceIds array = []

resource profile 'Microsoft.Cdn/profiles@2024-02-01' = {
  name: name
  location: 'global'
  tags: tags
  sku: {
    name: 'Premium_AzureFrontDoor'
  }
  properties: {
    originResponseTimeoutSeconds: originResponseTimeoutSeconds
  }
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2024-02-01' = {
  parent: profile
  name: endpointName
  location: 'global'
  tags: tags
  properties: {
    enabledState: 'Enabled'
  }
}

resource securityPolicy 'Microsoft.Cdn/profiles/securityPolicies@2024-02-01' = {
  parent: profile
  name: 'waf'
  properties: {
    parameters: {
      type: 'WebApplicationFirewall'
      wafPolicy: {
        id: wafPolicyResourceId
      }
      associations: [
        {
          domains: [
            {
              id: endpoint.id
            }
          ]
          patternsToMatch: [
            '/*'
          ]
        }
      ]
    }
  }
}

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = [
  for workspaceId in diagnosticWorkspaceResourceIds: {
    name: 'to-${last(split(workspaceId, '/'))}'
    scope: profile
    properties: {
      workspaceId: workspaceId
      logs: [
        {
          category: 'FrontDoorAccessLog'
          enabled: true
        }
        {
          category: 'FrontDoorWebApplicationFirewallLog'
          enabled: true
        }
        {
          category: 'FrontDoorHealthProbeLog'
          enabled: true
        }
      ]
      metrics: [
        {
          category: 'AllMetrics'
          enabled: true
        }
      ]
    }
  }
]


@description('The resource ID of the profile.')
output resourceId string = profile.id

@description('The name of the profile.')
output name string = profile.name

@description('The Front Door id that every forwarded request carries in X-Azure-FDID.')
output frontDoorId string = profile.properties.frontDoorId

@description('The name of the endpoint.')
output endpointName string = endpoint.name

@description('The host name of the endpoint.')
output endpointHostName string = endpoint.properties.hostName

@description('The name of the resource group the profile was deployed into.')
output resourceGroupName string = resourceGroup().name
