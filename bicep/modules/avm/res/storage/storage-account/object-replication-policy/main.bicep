metadata name = 'Storage object replication policy'
metadata description = 'Shaped like br/public:avm/res/storage/storage-account/object-replication-policy: replicates block blobs of containers from a source account to a destination account (asynchronously, usually within minutes), existing blobs included. The policy is created on the destination account first; its generated id names the policy on the source account. While the policy exists the destination containers are read-only.'

@description('Required. Name of the destination account (in the same resource group).')
param destinationAccountName string

@description('Required. Name of the source account (in the same resource group).')
param sourceAccountName string

@description('Required. Containers to replicate, each into the container of the same name (both must exist).')
param containerNames array

var rules = [
  for name in containerNames: {
    sourceContainer: name
    destinationContainer: name
    filters: {
      // Every blob, also the ones written before the policy existed.
      minCreationTime: '1601-01-01T00:00:00Z'
    }
  }
]

resource source 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: sourceAccountName
}

resource destination 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: destinationAccountName
}

// 'default' asks the destination account to create a policy and generate its id. Deploy this module only when the
// policy does not exist yet (main.bicep: citizensReplicationPolicyId is empty); an existing policy is left alone.
resource destinationPolicy 'Microsoft.Storage/storageAccounts/objectReplicationPolicies@2023-05-01' = {
  parent: destination
  name: 'default'
  properties: {
    sourceAccount: source.id
    destinationAccount: destination.id
    rules: rules
  }
}

// The same policy on the source account, named by the id the destination generated (a module, because a resource
// name must be known when the deployment starts).
module sourcePolicy 'source/main.bicep' = {
  name: '${uniqueString(deployment().name, sourceAccountName)}-or-source'
  params: {
    sourceAccountName: source.name
    destinationAccountResourceId: destination.id
    policyId: destinationPolicy.properties.policyId
    destinationRules: destinationPolicy.properties.rules
  }
}

@description('The id of the policy (the same on both accounts).')
output policyId string = destinationPolicy.properties.policyId
