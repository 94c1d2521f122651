metadata name = 'Storage object replication policy (source side)'
metadata description = 'The source account\'s half of an object replication policy whose destination half already exists.'

@description('Required. Name of the source account.')
param sourceAccountName string

@description('Required. Resource ID of the destination account.')
param destinationAccountResourceId string

@description('Required. The policy id the destination account generated.')
param policyId string

@description('Required. The rules of the destination\'s policy, with their generated rule ids.')
param destinationRules array

resource source 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: sourceAccountName
}

resource sourcePolicy 'Microsoft.Storage/storageAccounts/objectReplicationPolicies@2023-05-01' = {
  parent: source
  name: policyId
  properties: {
    sourceAccount: source.id
    destinationAccount: destinationAccountResourceId
    rules: [
      for rule in destinationRules: {
        ruleId: rule.ruleId
        sourceContainer: rule.sourceContainer
        destinationContainer: rule.destinationContainer
        filters: rule.?filters
      }
    ]
  }
}
