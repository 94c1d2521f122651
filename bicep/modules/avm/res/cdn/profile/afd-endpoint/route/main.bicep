metadata name = 'Front Door route'
metadata description = 'Shaped like br/public:avm/res/cdn/profile/afd-endpoint/route: HTTPS only (HTTP redirected), no caching, to one origin group.'

@description('Required. Name of the Front Door profile.')
param profileName string

@description('Required. Name of the endpoint.')
param endpointName string

@description('Required. Name of the route.')
param name string

@description('Required. Resource ID of the origin group.')
param originGroupResourceId string

@description('Optional. Paths the route serves.')
param patternsToMatch array = [
  '/api/*'
]

@description('Optional. Resource IDs of custom domains (Microsoft.Cdn/profiles/customDomains) served by this route, besides the endpoint host name.')
param customDomainResourceIds array = []

resource profile 'Microsoft.Cdn/profiles@2024-02-01' existing = {
  name: profileName
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2024-02-01' existing = {
  parent: profile
  name: endpointName
}

resource route 'Microsoft.Cdn/profiles/afdEndpoints/routes@2024-02-01' = {
  parent: endpoint
  name: name
  properties: {
    originGroup: {
      id: originGroupResourceId
    }
    customDomains: [for id in customDomainResourceIds: {
      id: id
    }]
    supportedProtocols: [
      'Http'
      'Https'
    ]
    httpsRedirect: 'Enabled'
    forwardingProtocol: 'HttpsOnly'
    linkToDefaultDomain: 'Enabled'
    patternsToMatch: patternsToMatch
    enabledState: 'Enabled'
  }
}

@description('The resource ID of the route.')
output resourceId string = route.id
