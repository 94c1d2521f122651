metadata name = 'Portal alerts (global)'
metadata description = 'Pattern module: the action group every alert notifies (e-mail and an optional webhook), the metric alerts on the global and multi-region resources (Front Door origin health, Cosmos DB throttling) and the monthly budget. None of these lives in one region, so losing a region does not silence them.'

@description('Required. Prefix of the names (e.g. portal-prd).')
param namePrefix string

@description('Optional. Tags of the resources.')
param tags object = {}

@description('Required. The operators\' shared mailbox.')
@minLength(6)
param alertEmailAddress string

@description('Optional. A webhook that pages the on-call person. Empty = e-mail only.')
@secure()
param alertWebhookUrl string = ''

@description('Required. Resource ID of the Front Door profile.')
param frontDoorResourceId string

@description('Optional. Alert when an origin is healthy in fewer than this percentage of Front Door\'s probes within 5 minutes.')
@minValue(1)
@maxValue(100)
param originHealthPercent int = 90

@description('Required. Resource ID of the Cosmos DB account.')
param cosmosResourceId string

@description('Optional. Alert when Cosmos DB throttles (429) more than this many requests within 5 minutes.')
@minValue(1)
param cosmosThrottledRequests int = 100

@description('Required. Monthly budget of the resource group, in the subscription\'s billing currency.')
@minValue(1)
param monthlyBudget int

@description('Required. First day of the budget, YYYY-MM-01.')
param budgetStartDate string

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: 'ag-${namePrefix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: take(replace(namePrefix, '-', ''), 12)
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmailAddress
        useCommonAlertSchema: true
      }
    ]
    webhookReceivers: empty(alertWebhookUrl) ? [] : [
      {
        name: 'on-call'
        serviceUri: alertWebhookUrl
        useCommonAlertSchema: true
      }
    ]
  }
}

// A region Front Door cannot reach is a region that would not take over: the standby's origin matters as much as the
// active one's. A disabled origin (during a release, or the primary after a failover) is not probed and reports nothing.
resource originHealth 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${namePrefix}-origin-health'
  location: 'global'
  tags: tags
  properties: {
    description: 'Front Door found a region (origin) healthy in fewer than ${originHealthPercent} % of its /api/health probes within 5 minutes. See FrontDoorHealthProbeLog, then docs/operations.md, "Fail over".'
    severity: 1
    enabled: true
    scopes: [
      frontDoorResourceId
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'origin-health'
          metricNamespace: 'Microsoft.Cdn/profiles'
          metricName: 'OriginHealthPercentage'
          dimensions: [
            {
              name: 'Origin'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'LessThan'
          threshold: originHealthPercent
          timeAggregation: 'Average'
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

// Throttling means the autoscale maximum is too low for the load (or a query scans too much): requests are retried
// and get slow, then fail.
resource cosmosThrottling 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${namePrefix}-cosmos-429'
  location: 'global'
  tags: tags
  properties: {
    description: 'Cosmos DB throttled (HTTP 429) more than ${cosmosThrottledRequests} requests within 5 minutes. Find the container and operation in the Cosmos DB metrics (split TotalRequests by CollectionName, OperationType); raise cosmosAutoscaleMaxThroughput or fix the query.'
    severity: 2
    enabled: true
    scopes: [
      cosmosResourceId
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT5M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.SingleResourceMultipleMetricCriteria'
      allOf: [
        {
          criterionType: 'StaticThresholdCriterion'
          name: 'throttled-requests'
          metricNamespace: 'Microsoft.DocumentDB/databaseAccounts'
          metricName: 'TotalRequests'
          dimensions: [
            {
              name: 'StatusCode'
              operator: 'Include'
              values: [
                '429'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: cosmosThrottledRequests
          timeAggregation: 'Count'
        }
      ]
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroup.id
      }
    ]
  }
}

// The environment's resource group (every resource of the environment except the two small private DNS groups).
resource budget 'Microsoft.Consumption/budgets@2023-11-01' = {
  name: 'budget-${namePrefix}'
  properties: {
    category: 'Cost'
    amount: monthlyBudget
    timeGrain: 'Monthly'
    timePeriod: {
      startDate: budgetStartDate
    }
    notifications: {
      actual80: {
        enabled: true
        operator: 'GreaterThanOrEqualTo'
        threshold: 80
        thresholdType: 'Actual'
        contactEmails: [
          alertEmailAddress
        ]
        contactGroups: [
          actionGroup.id
        ]
      }
      actual100: {
        enabled: true
        operator: 'GreaterThanOrEqualTo'
        threshold: 100
        thresholdType: 'Actual'
        contactEmails: [
          alertEmailAddress
        ]
        contactGroups: [
          actionGroup.id
        ]
      }
      forecast100: {
        enabled: true
        operator: 'GreaterThanOrEqualTo'
        threshold: 100
        thresholdType: 'Forecasted'
        contactEmails: [
          alertEmailAddress
        ]
        contactGroups: [
          actionGroup.id
        ]
      }
    }
  }
}

@description('The resource ID of the action group every alert notifies.')
output actionGroupResourceId string = actionGroup.id

@description('The resource IDs of the global alert rules and the budget.')
output alertResourceIds array = [
  originHealth.id
  cosmosThrottling.id
  budget.id
]
