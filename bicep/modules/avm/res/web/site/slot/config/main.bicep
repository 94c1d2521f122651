metadata name = 'Function app settings (a deployment slot)'
metadata description = 'Shaped like br/public:avm/res/web/site/slot/config: writes the appsettings of a slot, keeping the settings this template does not own (WEBSITE_RUN_FROM_PACKAGE, which the release pipeline sets).'

@description('Required. Name of the function app.')
param appName string

@description('Required. Name of the slot.')
param slotName string

@description('Required. App settings (name: value). They win over the current ones.')
param properties object

@description('Optional. Keep settings that are present on the slot but not in `properties`, so that an infrastructure deployment does not unset the package the pipeline deployed.')
param retainCurrentAppSettings bool = true

resource app 'Microsoft.Web/sites@2024-04-01' existing = {
  name: appName
}

resource slot 'Microsoft.Web/sites/slots@2024-04-01' existing = {
  parent: app
  name: slotName
}

var currentAppSettings = retainCurrentAppSettings ? list('${slot.id}/config/appsettings', '2024-04-01').properties : {}
var mergedAppSettings = union(currentAppSettings, properties)

resource slotAppSettings 'Microsoft.Web/sites/slots/config@2024-04-01' = {
  parent: slot
  name: 'appsettings'
  properties: mergedAppSettings
}
