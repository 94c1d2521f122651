metadata name = 'Log Analytics workspace'
metadata description = 'Shaped like br/public:avm/res/operational-insights/workspace: one workspace for the logs of every resource of an environment.'

@description('Required. Name of the workspace.')
param name string

@description('Optional. Location of the workspace.')
param location string = resourceGroup().location

@description('Optional. Tags of the resource.')
param tags object = {}

@description('Optional. Days the analytics tables keep data (30-730).')
@minValue(30)
@maxValue(730)
param dataRetention int = 90

@description('Optional. Daily ingestion cap in GB; -1 = no cap. A cap protects the budget but drops logs once reached.')
param dailyQuotaGb int = -1

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: dataRetention
    workspaceCapping: {
      dailyQuotaGb: dailyQuotaGb
    }
    features: {
      // Only Entra ID (RBAC) access to the data, no workspace shared keys for queries.
      enableLogAccessUsingOnlyResourcePermissions: true
      disableLocalAuth: true
    }
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

@description('The resource ID of the workspace.')
output resourceId string = workspace.id

@description('The name of the workspace.')
output name string = workspace.name

@description('The name of the resource group the workspace was deployed into.')
output resourceGroupName string = resourceGroup().name

@description('The location the workspace was deployed into.')
output location string = workspace.location
