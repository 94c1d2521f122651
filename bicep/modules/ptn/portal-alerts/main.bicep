metadata name = 'Portal alerts (one region)'
metadata description = 'Pattern module: the alerts on one region\'s telemetry (requests and traces the binary exports to the region\'s Application Insights, cloud role "portal", and the Functions host\'s own traces) and the availability test from outside, all notifying the environment\'s action group. Each region has its own, in its own region.'

// What each alert reads (docs/operations.md, "Read the telemetry"):
// - AppRequests rows with AppRoleName 'portal': one per HTTP request (Properties.route set) and one per queue or timer
//   invocation (Properties.trigger 'queue' or 'timer'), named by the function. The Functions host writes its own rows
//   for the same invocations under the app's name; the alerts leave those out.
// - AppTraces rows with Message 'poison queue depth': written by the hourly Housekeeping timer (active region only), one
//   per *-poison queue (Properties.queue, Properties.depth). Azure Storage has no per-queue metric.
// - The host's trace when it moves a message to a poison queue ("Message has reached MaxDequeueCount of 5. Moving
//   message to queue '<queue>-poison'."), in whichever region: the standby's queues have no Housekeeping count.

@description('Required. Prefix of the alert names (e.g. portal-prd-gwc).')
param namePrefix string

@description('Optional. Location of the alert rules and the availability test (the workspace\'s region).')
param location string = resourceGroup().location

@description('Optional. Tags of the resources.')
param tags object = {}

@description('Required. Resource ID of the region\'s Log Analytics workspace behind its Application Insights.')
param workspaceResourceId string

@description('Required. Resource ID of the region\'s Application Insights component (the availability test belongs to it).')
param appInsightsResourceId string

@description('Required. Resource ID of the action group the alerts notify.')
param actionGroupResourceId string

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

@description('Required. The app\'s timers: [{ name, schedule, staleAfterMinutes }] (main.bicep `timers`).')
param timers array

@description('Required. Whether this region runs the timers (the active region): only then does a timer that has not run in its period alert.')
param timersExpected bool

@description('Required. URL the availability test calls from outside (through Front Door).')
param availabilityTestUrl string

@description('Optional. Seconds between availability tests.')
@allowed([
  300
  600
  900
])
param availabilityTestFrequencySeconds int = 300

@description('Optional. Availability test locations (Application Insights location ids): West Europe, North Europe, France Central, France South, UK West.')
param availabilityTestLocations array = [
  'emea-nl-ams-azr'
  'emea-gb-db3-azr'
  'emea-fr-pra-edge'
  'emea-ch-zrh-edge'
  'emea-se-sto-edge'
]

var actionGroupIds = [
  actionGroupResourceId
]
var portalRequests = 'AppRequests | where AppRoleName == "portal"'
var oneWindow = {
  numberOfEvaluationPeriods: 1
  minFailingPeriodsToAlert: 1
}
var timerRows = [for timer in timers: '"${timer.name}", ${timer.staleAfterMinutes}']
var availabilityTestName = 'webtest-${namePrefix}-ready'

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

// A data message ISDS deletes within 10 days that the archive could not copy (ArchiveExpiringMessages logs each
// one, functions/databox/src/archive.rs AT_RISK_LOG): the citizen would lose it.
resource archiveAtRisk 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-archive-at-risk'
  location: location
  tags: tags
  properties: {
    displayName: 'Portal: data message at risk of deletion, not archived'
    description: 'The data box archive failed for a message that ISDS deletes within 10 days; it is retried daily. The run\'s traces (message "one message could not be archived") say why.'
    severity: 1
    enabled: true
    scopes: [
      workspaceResourceId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'P1D'
    criteria: {
      allOf: [
        {
          query: 'AppTraces | where AppRoleName == "portal" and Message == "data message at risk of deletion" | summarize atRisk = count()'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'atRisk'
          operator: 'GreaterThan'
          threshold: 0
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

// The data box credit ledger differs from the credit ISDS reports (ReconcileDataboxCredit logs each difference,
// functions/databox/src/reconcile.rs MISMATCH_LOG): a top-up recorded but not carried out, or with another amount.
resource creditMismatch 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-credit-mismatch'
  location: location
  tags: tags
  properties: {
    displayName: 'Portal: data box credit differs from the ledger'
    description: 'ReconcileDataboxCredit found a top-up in the portal\'s ledger that ISDS does not show, or shows with another amount. The run\'s result lists the payment ids; settle them with the credit system.'
    severity: 2
    enabled: true
    scopes: [
      workspaceResourceId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'P1D'
    criteria: {
      allOf: [
        {
          query: 'AppTraces | where AppRoleName == "portal" and Message == "data box credit differs from the ledger" | summarize differences = count()'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'differences'
          operator: 'GreaterThan'
          threshold: 0
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

// A timer that has not run within its period (plus an hour) in the active region: disabled by a setting (a failover
// that switched only some timers), its host stopped, or its run never reaching telemetry. Every timer is listed, so a
// timer that never ran at all is caught too.
resource staleTimers 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-stale-timers'
  location: location
  tags: tags
  properties: {
    displayName: 'Portal: a timer has not run in its period'
    description: 'A timer function has not run within its period plus an hour in this (the active) region. Check its AzureWebJobs.<name>.Disabled setting on the production slot (docs/operations.md, "Fail over") and the host\'s logs.'
    severity: 2
    enabled: timersExpected
    scopes: [
      workspaceResourceId
    ]
    evaluationFrequency: 'PT1H'
    windowSize: 'P2D'
    criteria: {
      allOf: [
        {
          query: 'let expected = datatable(Name: string, staleAfterMinutes: int) [${join(timerRows, ', ')}]; let runs = ${portalRequests} | where tostring(Properties.trigger) == "timer" | summarize lastRun = max(TimeGenerated) by Name; expected | join kind=leftouter runs on Name | extend minutesSince = iff(isnull(lastRun), 2880.0, (now() - lastRun) / 1m) | where minutesSince > staleAfterMinutes | project Name, minutesSince'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'minutesSince'
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
    autoMitigate: true
    actions: {
      actionGroups: actionGroupIds
    }
  }
}

// The host moved a message to a poison queue, in this region (the standby's queues included).
resource poisonMoves 'Microsoft.Insights/scheduledQueryRules@2023-12-01' = {
  name: 'alert-${namePrefix}-poison-moves'
  location: location
  tags: tags
  properties: {
    displayName: 'Portal: a message went to a poison queue'
    description: 'The Functions host moved a message to a *-poison queue after 5 failed deliveries. Fix the cause, then replay (docs/operations.md, "Replay poison messages").'
    severity: 2
    enabled: true
    scopes: [
      workspaceResourceId
    ]
    evaluationFrequency: 'PT15M'
    windowSize: 'PT15M'
    criteria: {
      allOf: [
        {
          query: 'AppTraces | where Message has "MaxDequeueCount" and Message has "-poison" | extend queue = extract("queue .([a-z0-9-]+-poison)", 1, Message) | summarize moved = count() by queue'
          timeAggregation: 'Maximum'
          metricMeasureColumn: 'moved'
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
          threshold: 0
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

// From outside, through Front Door: the whole path a citizen takes (WAF, routing, the active region's app and its
// stores). One per region, so the test runs while either region's Application Insights is available.
resource availabilityTest 'Microsoft.Insights/webtests@2022-06-15' = {
  name: availabilityTestName
  location: location
  tags: union(tags, {
    'hidden-link:${appInsightsResourceId}': 'Resource'
  })
  kind: 'standard'
  properties: {
    SyntheticMonitorId: availabilityTestName
    Name: 'Portal ready through Front Door (${namePrefix})'
    Description: 'GET ${availabilityTestUrl} from five European locations; 200 expected.'
    Enabled: true
    Frequency: availabilityTestFrequencySeconds
    Timeout: 30
    Kind: 'standard'
    RetryEnabled: true
    Locations: [
      for locationId in availabilityTestLocations: {
        Id: locationId
      }
    ]
    Request: {
      RequestUrl: availabilityTestUrl
      HttpVerb: 'GET'
      ParseDependentRequests: false
    }
    ValidationRules: {
      ExpectedHttpStatusCode: 200
      SSLCheck: true
      SSLCertRemainingLifetimeCheck: 14
    }
  }
}

resource availability 'Microsoft.Insights/metricAlerts@2018-03-01' = {
  name: 'alert-${namePrefix}-availability'
  location: 'global'
  tags: tags
  properties: {
    description: 'The portal did not answer ${availabilityTestUrl} with 200 from at least two test locations. Citizens see the outage too; see docs/operations.md, "Fail over".'
    severity: 1
    enabled: true
    scopes: [
      availabilityTest.id
      appInsightsResourceId
    ]
    evaluationFrequency: 'PT1M'
    windowSize: 'PT15M'
    criteria: {
      'odata.type': 'Microsoft.Azure.Monitor.WebtestLocationAvailabilityCriteria'
      webTestId: availabilityTest.id
      componentId: appInsightsResourceId
      failedLocationCount: 2
    }
    autoMitigate: true
    actions: [
      {
        actionGroupId: actionGroupResourceId
      }
    ]
  }
}

@description('The resource IDs of the alert rules and the availability test.')
output alertRuleIds array = [
  serverErrors.id
  latency.id
  poisonQueues.id
  failedTimers.id
  staleTimers.id
  poisonMoves.id
  archiveAtRisk.id
  creditMismatch.id
  availabilityTest.id
  availability.id
]
