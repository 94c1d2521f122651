metadata name = 'Front Door origin group'
metadata description = 'Shaped like br/public:avm/res/cdn/profile/origin-group: one origin per region reached through Private Link (the apps have no public network access), health probes, priority routing (active-passive).'

@description('Required. Name of the Front Door profile.')
param profileName string

@description('Required. Name of the origin group.')
param name string

@description('Optional. Path every origin is probed on. It must not touch dependencies, or a dependency hiccup would take a region out.')
param probePath string = '/api/health'

@description('Optional. Seconds between probes from each Front Door point of presence.')
@minValue(5)
@maxValue(255)
param probeIntervalInSeconds int = 30

@description('Required. Origins: [{ name, hostName, priority (1 = active, 2 = standby), weight, enabled, privateLinkResourceId (the function app), privateLinkLocation (its region) }]. Each origin asks the app for a private endpoint connection; it is approved once (the release pipeline does it).')
param origins array

resource profile 'Microsoft.Cdn/profiles@2024-02-01' existing = {
  name: profileName
}

resource originGroup 'Microsoft.Cdn/profiles/originGroups@2024-02-01' = {
  parent: profile
  name: name
  properties: {
    sessionAffinityState: 'Disabled'
    loadBalancingSettings: {
      sampleSize: 4
      successfulSamplesRequired: 3
      additionalLatencyInMilliseconds: 50
    }
    healthProbeSettings: {
      probePath: probePath
      probeRequestType: 'GET'
      probeProtocol: 'Https'
      probeIntervalInSeconds: probeIntervalInSeconds
    }
  }
}

resource groupOrigins 'Microsoft.Cdn/profiles/originGroups/origins@2024-02-01' = [
  for origin in origins: {
    parent: originGroup
    name: origin.name
    properties: {
      hostName: origin.hostName
      originHostHeader: origin.hostName
      httpPort: 80
      httpsPort: 443
      priority: origin.priority
      weight: origin.weight
      enabledState: origin.enabled ? 'Enabled' : 'Disabled'
      enforceCertificateNameCheck: true
      sharedPrivateLinkResource: {
        privateLink: {
          id: origin.privateLinkResourceId
        }
        groupId: 'sites'
        privateLinkLocation: origin.privateLinkLocation
        requestMessage: 'Front Door ${profileName}, origin ${origin.name}'
      }
    }
  }
]

@description('The resource ID of the origin group.')
output resourceId string = originGroup.id

@description('The name of the origin group.')
output name string = originGroup.name
