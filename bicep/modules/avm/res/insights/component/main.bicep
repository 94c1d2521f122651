metadata name = 'Application Insights'
metadata description = 'Shaped like br/public:avm/res/insights/component: workspace-based, local (instrumentation key) authentication off.'

@description('Required. Name of the Application Insights component.')
param name string

@description('Optional. Location of the component.')
param location string = resourceGroup().location

@description('Optional. Tags of the resource.')
param tags object = {}

@description('Required. Resource ID of the Log Analytics workspace that stores the telemetry.')
param workspaceResourceId string

@description('Optional. Percentage of telemetry kept by ingestion sampling (100 = all).')
param samplingPercentage int = 100

resource component 'Microsoft.Insights/components@2020-02-02' = {
  name: name
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspaceResourceId
    IngestionMode: 'LogAnalytics'
    // Telemetry is accepted only with an Entra ID token (APPLICATIONINSIGHTS_AUTHENTICATION_STRING=Authorization=AAD).
    DisableLocalAuth: true
    DisableIpMasking: false
    SamplingPercentage: samplingPercentage
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

@description('The resource ID of the component.')
output resourceId string = component.id

@description('The name of the component.')
output name string = component.name

@description('The connection string of the component. Not a credential: local authentication is disabled, ingestion needs an Entra ID token.')
output connectionString string = component.properties.ConnectionString

@description('The name of the resource group the component was deployed into.')
output resourceGroupName string = resourceGroup().name
