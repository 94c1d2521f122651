metadata name = 'App Service plan (Functions Elastic Premium)'
metadata description = 'Shaped like br/public:avm/res/web/serverfarm: a Linux Elastic Premium plan; instances stay warm, apps on it can have deployment slots.'

@description('Required. Name of the plan.')
param name string

@description('Optional. Location of the plan.')
param location string = resourceGroup().location

@description('Optional. Tags of the resource.')
param tags object = {}

@description('Optional. Elastic Premium size: EP1 (1 vCPU, 3.5 GB), EP2 (2 vCPU, 7 GB), EP3 (4 vCPU, 14 GB).')
@allowed([
  'EP1'
  'EP2'
  'EP3'
])
param skuName string = 'EP1'

@description('Optional. Always-ready instances (billed around the clock). Zone redundancy needs at least 2.')
@minValue(1)
@maxValue(20)
param minimumInstances int = 1

@description('Optional. Most instances the plan may scale out to.')
@minValue(1)
@maxValue(100)
param maximumElasticWorkerCount int = 20

@description('Optional. Spread the instances over the availability zones of the region (needs minimumInstances >= 2). On by default, as in the verified module; only the test environment turns it off.')
param zoneRedundant bool = true

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'elastic'
  sku: {
    name: skuName
    tier: 'ElasticPremium'
    capacity: minimumInstances
  }
  properties: {
    reserved: true
    maximumElasticWorkerCount: maximumElasticWorkerCount
    zoneRedundant: zoneRedundant
  }
}

@description('The resource ID of the plan.')
output resourceId string = plan.id

@description('The name of the plan.')
output name string = plan.name

@description('The name of the resource group the plan was deployed into.')
output resourceGroupName string = resourceGroup().name
