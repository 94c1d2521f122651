metadata name = 'Function app settings (production slot)'
metadata description = 'Shaped like br/public:avm/res/web/site/config: writes the appsettings of an app, keeping the settings this template does not own (WEBSITE_RUN_FROM_PACKAGE, which the release pipeline sets).'

@description('Required. Name of the function app.')
param appName string

@description('Required. App settings (name: value). They win over the current ones.')
param properties object

@description('Optional. Keep settings that are present on the app but not in `properties`, so that an infrastructure deployment does not unset the package the pipeline deployed.')
param retainCurrentAppSettings bool = true

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

var currentAppSettings = retainCurrentAppSettings ? list('${app.id}/config/appsettings', '2024-04-01').properties : {}
var mergedAppSettings = union(currentAppSettings, properties)

resource appSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: mergedAppSettings
}
