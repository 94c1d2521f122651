metadata name = 'Front Door WAF policy'
metadata description = 'Shaped like br/public:avm/res/network/front-door-web-application-firewall-policy: Premium, Microsoft managed rule sets with exclusions where they misfire on the portal\'s own traffic, rate limiting per client address, an optional country rule.'

@description('Required. Name of the policy (letters and digits, starting with a letter).')
param name string

@description('Optional. Tags of the resource.')
param tags object = {}

@description('Optional. Prevention blocks what the rules match; Detection only logs it (rate limits included). main.bicep: Detection outside production, so misfiring rules are found in the logs before they block citizens.')
@allowed([
  'Prevention'
  'Detection'
])
param mode string = 'Prevention'

@description('Optional. Requests per minute one client address may send to /api/ before it is blocked for the rest of the minute.')
@minValue(100)
param apiRequestsPerMinute int = 1000

@description('Optional. Requests per minute one client address may send to /api/auth/ (login, callback, token).')
@minValue(10)
param authRequestsPerMinute int = 60

@description('''Optional. Request parts the managed rule set (DRS 2.1) does not inspect: [{ matchVariable (QueryStringArgNames | RequestBodyPostArgNames |
RequestBodyJsonArgNames | RequestCookieNames | RequestHeaderNames), selectorMatchOperator (Equals | StartsWith | ...), selector }].
Front Door exclusions apply to every path, so name the exact argument.''')
param managedRuleExclusions array = []

@description('Optional. ISO 3166 country codes requests may come from (by client address); others are blocked. Empty = no country rule.')
param allowedCountries array = []

// A country rule first (when the ministry wants one), then the rate limits.
var countryRules = empty(allowedCountries) ? [] : [
  {
    name: 'AllowedCountries'
    priority: 5
    enabledState: 'Enabled'
    ruleType: 'MatchRule'
    matchConditions: [
      {
        matchVariable: 'RemoteAddr'
        operator: 'GeoMatch'
        negateCondition: true
        matchValue: allowedCountries
      }
    ]
    action: 'Block'
  }
]

var rateLimitRules = [
  {
    name: 'RateLimitAuth'
    priority: 10
    enabledState: 'Enabled'
    ruleType: 'RateLimitRule'
    rateLimitDurationInMinutes: 1
    rateLimitThreshold: authRequestsPerMinute
    matchConditions: [
      {
        matchVariable: 'RequestUri'
        operator: 'Contains'
        negateCondition: false
        matchValue: [
          '/api/auth/'
        ]
        transforms: [
          'Lowercase'
        ]
      }
    ]
    action: 'Block'
  }
  {
    name: 'RateLimitApi'
    priority: 20
    enabledState: 'Enabled'
    ruleType: 'RateLimitRule'
    rateLimitDurationInMinutes: 1
    rateLimitThreshold: apiRequestsPerMinute
    matchConditions: [
      {
        matchVariable: 'RequestUri'
        operator: 'Contains'
        negateCondition: false
        matchValue: [
          '/api/'
        ]
        transforms: [
          'Lowercase'
        ]
      }
    ]
    action: 'Block'
  }
]

resource policy 'Microsoft.Network/FrontDoorWebApplicationFirewallPolicies@2024-02-01' = {
  name: name
  location: 'Global'
  tags: tags
  sku: {
    name: 'Premium_AzureFrontDoor'
  }
  properties: {
    policySettings: {
      enabledState: 'Enabled'
      mode: mode
      requestBodyCheck: 'Enabled'
      customBlockResponseStatusCode: 403
    }
    managedRules: {
      managedRuleSets: [
        {
          ruleSetType: 'Microsoft_DefaultRuleSet'
          ruleSetVersion: '2.1'
          ruleSetAction: 'Block'
          exclusions: managedRuleExclusions
        }
        {
          ruleSetType: 'Microsoft_BotManagerRuleSet'
          ruleSetVersion: '1.1'
        }
      ]
    }
    customRules: {
      rules: concat(countryRules, rateLimitRules)
    }
  }
}

@description('The resource ID of the policy.')
output resourceId string = policy.id

@description('The name of the policy.')
output name string = policy.name

@description('The name of the resource group the policy was deployed into.')
output resourceGroupName string = resourceGroup().name
