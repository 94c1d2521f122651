metadata name = 'Portal web client'
metadata description = 'Pattern module: the reference web client (web/public: static files, no server code) as an Azure Static Web App, served through the portal\'s own Front Door endpoint on the same host name as the API: a route for /* to the static site beside the /api/* route to the function apps, so the session cookie, the CSRF header and the Content-Security-Policy (connect-src \'self\') work unchanged. The site\'s headers (the same strict policy as the binary serves locally) come from web/staticwebapp.config.json, deployed with the files.'

@description('Required. Name prefix of the resources.')
param namePrefix string

@description('Optional. Region of the Static Web App resource (its content is served from the platform\'s global edge; the resource itself lives in one of the regions Static Web Apps offers).')
@allowed([
  'westeurope'
  'centralus'
  'eastus2'
  'westus2'
  'eastasia'
])
param location string = 'westeurope'

@description('Required. Name of the Front Door profile.')
param profileName string

@description('Required. Name of the Front Door endpoint.')
param endpointName string

@description('Optional. Resource IDs of the custom domains the API route also serves.')
param customDomainResourceIds array = []

@description('Optional. Tags of the resources.')
param tags object = {}

resource site 'Microsoft.Web/staticSites@2023-12-01' = {
  name: '${namePrefix}-web'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
    tier: 'Standard'
  }
  properties: {
    // Content comes from the release pipeline (the files of web/public, checked by the browser tests), not a repo link.
    provider: 'None'
    stagingEnvironmentPolicy: 'Disabled'
    allowConfigFileUpdates: true
    enterpriseGradeCdnStatus: 'Disabled'
  }
}

resource profile 'Microsoft.Cdn/profiles@2024-02-01' existing = {
  name: profileName
}

resource endpoint 'Microsoft.Cdn/profiles/afdEndpoints@2024-02-01' existing = {
  parent: profile
  name: endpointName
}

resource originGroup 'Microsoft.Cdn/profiles/originGroups@2024-02-01' = {
  parent: profile
  name: 'portal-web'
  properties: {
    sessionAffinityState: 'Disabled'
    loadBalancingSettings: {
      sampleSize: 4
      successfulSamplesRequired: 3
      additionalLatencyInMilliseconds: 50
    }
    healthProbeSettings: {
      probePath: '/'
      probeRequestType: 'HEAD'
      probeProtocol: 'Https'
      probeIntervalInSeconds: 60
    }
  }
}

resource origin 'Microsoft.Cdn/profiles/originGroups/origins@2024-02-01' = {
  parent: originGroup
  name: 'static-web-app'
  properties: {
    hostName: site.properties.defaultHostname
    originHostHeader: site.properties.defaultHostname
    httpPort: 80
    httpsPort: 443
    priority: 1
    weight: 1000
    enabledState: 'Enabled'
    enforceCertificateNameCheck: true
  }
}

// Front Door picks the most specific pattern: /api/* stays with the function apps, everything else is the client.
resource route 'Microsoft.Cdn/profiles/afdEndpoints/routes@2024-02-01' = {
  parent: endpoint
  name: 'web'
  dependsOn: [
    origin
  ]
  properties: {
    originGroup: {
      id: originGroup.id
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
    patternsToMatch: [
      '/*'
    ]
    enabledState: 'Enabled'
  }
}

@description('The Static Web App\'s name (the release pipeline deploys web/public to it).')
output siteName string = site.name

@description('The Static Web App\'s own host name (reached through Front Door).')
output defaultHostname string = site.properties.defaultHostname
