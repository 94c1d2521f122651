metadata name = 'Portal alerts'
metadata description = 'Pattern module: the alerts on the portal\'s own telemetry (requests and traces the binary exports to Application Insights, cloud role "portal") and the action group they notify.'

// What each alert reads (docs/operations.md, "Read the telemetry"):
// - AppRequests rows with AppRoleName 'portal': one per HTTP request (Properties.route set) and one per queue or timer
//   invocation (Properties.trigger 'queue' or 'timer'), named by the function. The Functions host writes its own rows
//   for the same invocations under the app's name; the alerts leave those out.
// - AppTraces rows with Message 'poison queue depth': written by the hourly Housekeeping timer, one per *-poison queue
//   (Properties.queue, Properties.depth). Azure Storage has no per-queue metric.

@description('Required. Prefix of the alert and action group names.')
param namePrefix string

@description('Optional. Location of the alert rules (the workspace\'s region).')
param location string = resourceGroup().location

@description('Optional. Tags of the resources.')
param tags object = {}

@description('Required. Resource ID of the Log Analytics workspace behind Application Insights.')
param workspaceResourceId string

@description('Optional. Who is notified by e-mail. Empty = the alerts fire (portal, Azure Monitor) without notifying anyone.')
param alertEmailAddress string = ''

@description('Optional. Alert when more than this percentage of HTTP requests answer 5xx within 15 minutes.')
@minValue(1)
@maxValue(100)
param serverErrorPercent int = 5

@description('Optional. The 5xx alert needs at least this many HTTP requests in the window (one failure at night is no outage).')
@minValue(1)
param serverErrorMinimumRequests int = 20

@description('Optional. Alert when the 95th percentile duration of one HTTP function exceeds this many milliseconds within 15 minutes.')
@minValue(100)
param latencyP95Ms int = 3000

@description('Optional. Alert when a poison queue holds more than this many messages.')
@minValue(0)
param poisonDepthThreshold int = 0

var actionGroupIds = empty(alertEmailAddress) ? [] : [actionGroup.id]
var portalRequests = 'AppRequests | where AppRoleName == "portal"'
var oneWindow = {
  numberOfEvaluationPeriods: 1
  minFailingPeriodsToAlert: 1
}

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = if (!empty(alertEmailAddress)) {
  name: 'ag-${namePrefix}'
  location: 'global'
  tags: tags
  properties: {
    groupShortName: take('portal${namePrefix}', 12)
    enabled: true
    emailReceivers: [
      {
        name: 'operators'
        emailAddress: alertEmailAddress
        useCommonAlertSchema: true
      }
    ]
  }
}

resource serverErrors 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-5xx'
  location: location
  tags: tags
  properties: {
    displayName: 'Portal: share of 5xx answers'
    description: 'More than ${serverErrorPercent} % of the HTTP requests answered 5xx in 15 minutes (at least ${serverErrorMinimumRequests} requests). Find the function and the failed dependency in docs/operations.md, "Read the telemetry".'
    severity: 1
    enabled: true
    scopes: [
      workspaceResourceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: '${portalRequests} | where isnotempty(tostring(Properties.route)) | summarize total = count(), failed = countif(toint(ResultCode) >= 500) | where total >= ${serverErrorMinimumRequests} | extend failedPercent = 100.0 * failed / total'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'failedPercent'
          operator: 'GreaterThan'
          threshold: serverErrorPercent
          failingPeriods: oneWindow
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

resource latency 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-p95'
  location: location
  tags: tags
  properties: {
    displayName: 'Portal: p95 latency of an HTTP function'
    description: 'The 95th percentile duration of an HTTP function exceeded ${latencyP95Ms} ms in 15 minutes. Its slowest dependencies show where the time goes (docs/operations.md).'
    severity: 2
    enabled: true
    scopes: [
      workspaceResourceId
    ]
    evaluationFrequency: 'PT5M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: '${portalRequests} | where isnotempty(tostring(Properties.route)) | summarize p95 = percentile(DurationMs, 95) by Name'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'p95'
          dimensions: [
            {
              name: 'Name'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: latencyP95Ms
          failingPeriods: oneWindow
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

resource poisonQueues 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-poison'
  location: location
  tags: tags
  properties: {
    displayName: 'Portal: messages in a poison queue'
    description: 'A *-poison queue holds more than ${poisonDepthThreshold} messages (reported hourly by the Housekeeping timer). Inspect and replay them as docs/operations.md says.'
    severity: 2
    enabled: true
    scopes: [
      workspaceResourceId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'PT2H'
    criteria: {
      allOf: [
        {
          query: 'AppTraces | where AppRoleName == "portal" and Message == "poison queue depth" | summarize depth = max(toint(Properties.depth)) by queue = tostring(Properties.queue)'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'depth'
          dimensions: [
            {
              name: 'queue'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: poisonDepthThreshold
          failingPeriods: oneWindow
        }
      ]
    }
    autoMitigate: true
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

resource failedTimers 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-timers'
  location: location
  tags: tags
  properties: {
    displayName: 'Portal: failed timer runs'
    description: 'A timer function failed (retryable or permanent) in the last hour. The run\'s traces say why (docs/operations.md).'
    severity: 2
    enabled: true
    scopes: [
      workspaceResourceId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT1H'
    criteria: {
      allOf: [
        {
          query: '${portalRequests} | where tostring(Properties.trigger) == "timer" and Success == false | summarize failed = count() by Name'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'failed'
          dimensions: [
            {
              name: 'Name'
              operator: 'Include'
              values: [
                '*'
              ]
            }
          ]
          operator: 'GreaterThan'
          threshold: 0
          failingPeriods: oneWindow
        }
      ]
    }
    autoMitigate: false
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

@description('The resource IDs of the alert rules.')
output alertRuleIds array = [
  serverErrors.id
  latency.id
  poisonQueues.id
  failedTimers.id
]

@description('The resource ID of the action group; empty when no e-mail address was given.')
output actionGroupId string = empty(alertEmailAddress) ? '' : actionGroup.id
