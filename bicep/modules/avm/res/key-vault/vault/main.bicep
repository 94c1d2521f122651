metadata name = 'Key Vault'
metadata description = 'Shaped like br/public:avm/res/key-vault/vault: RBAC authorization, purge protection, and the keys it holds (with their rotation policies).'

@description('Required. Name of the vault (3-24 characters, globally unique).')
@minLength(3)
@maxLength(24)
param name string

@description('Optional. Location of the vault.')
param location string = resourceGroup().location

@description('Optional. Tags of the resource.')
param tags object = {}

@description('Optional. standard (software-protected keys) or premium (HSM-protected keys, kty RSA-HSM).')
@allowed([
  'standard'
  'premium'
])
param sku string = 'standard'

@description('Optional. Days a deleted vault or object can be recovered (7-90).')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

@description('''Optional. Keys to create. Each: { name, kty ('RSA' | 'RSA-HSM'), keySize (3072 | 4096), keyOps, expiryTime (ISO 8601 duration of each version, e.g. P2Y),
rotateAfter (ISO 8601 duration after creation, e.g. P1Y), notifyBeforeExpiry (e.g. P30D) }. A key that already exists is left as it is:
ARM creates only the first version, later versions come from the rotation policy or `az keyvault key rotate`.''')
param keys array = []

@description('Optional. Expiry of the first version of each key, as a date-time. Later versions get their expiry from the rotation policy.')
param firstVersionExpiry string = dateTimeAdd(utcNow(), 'P2Y')

@description('Optional. Resource IDs of the Log Analytics workspaces that receive the audit log (one diagnostic setting each: every region keeps its own copy). Empty = no diagnostic setting.')
param diagnosticWorkspaceResourceIds array = []

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: sku
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    enablePurgeProtection: true
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    // Reached through a private endpoint in each region only. A person putting a secret in opens the firewall to
    // their own address for that step (docs/operations.md, "One-time setup"); the next deployment closes it again.
    publicNetworkAccess: 'Disabled'
    networkAcls: {
      bypass: 'AzureServices'
      defaultAction: 'Deny'
      ipRules: []
      virtualNetworkRules: []
    }
  }
}

resource vaultKeys 'Microsoft.KeyVault/vaults/keys@2023-07-01' = [
  for key in keys: {
    parent: vault
    name: key.name
    tags: tags
    properties: {
      kty: key.kty
      keySize: key.keySize
      keyOps: key.keyOps
      attributes: {
        enabled: true
        exportable: false
        exp: dateTimeToEpoch(firstVersionExpiry)
      }
      rotationPolicy: {
        attributes: {
          expiryTime: key.expiryTime
        }
        lifetimeActions: [
          {
            trigger: {
              timeAfterCreate: key.rotateAfter
            }
            action: {
              type: 'rotate'
            }
          }
          {
            trigger: {
              timeBeforeExpiry: key.notifyBeforeExpiry
            }
            action: {
              type: 'notify'
            }
          }
        ]
      }
    }
  }
]

resource diagnostics 'Microsoft.Insights/diagnosticSettings@2021-05-01-preview' = [
  for workspaceId in diagnosticWorkspaceResourceIds: {
    name: 'to-${last(split(workspaceId, '/'))}'
    scope: vault
    properties: {
      workspaceId: workspaceId
      logs: [
        {
          categoryGroup: 'audit'
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


@description('The resource ID of the vault.')
output resourceId string = vault.id

@description('The name of the vault.')
output name string = vault.name

@description('The URI of the vault.')
output uri string = vault.properties.vaultUri

@description('The name of the resource group the vault was deployed into.')
output resourceGroupName string = resourceGroup().name

@description('The location the vault was deployed into.')
output location string = vault.location
