//! `function.json` and `host.json`, generated from the declarations.

use serde_json::{Value, json};

use crate::function::{Function, QUEUE_BINDING, TIMER_BINDING, Trigger};

/// Queue settings of the host; the local host applies the same numbers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// Deliveries before a message moves to `<queue>-poison`.
    pub max_dequeue_count: u32,
    /// How long a failed message waits before it is delivered again.
    pub visibility_timeout_secs: u32,
    pub batch_size: u32,
    /// The longest the host waits between polls of an empty queue (it backs
    /// off up to this). Every poll is a billed `GetMessages` per queue and
    /// instance: at 2 s the portal's queues made about 62 million a month; at
    /// 10 s about a fifth of that, and a message on an idle queue waits at most
    /// 10 s (a busy queue is polled at once again).
    pub max_polling_interval_secs: u32,
}

pub const QUEUE_SETTINGS: QueueSettings =
    QueueSettings { max_dequeue_count: 5, visibility_timeout_secs: 10, batch_size: 16, max_polling_interval_secs: 10 };

/// The extension bundle range the generated host.json asks for.
pub const EXTENSION_BUNDLE: &str = "[4.*, 5.0.0)";

fn timespan(secs: u32) -> String {
    format!("{:02}:{:02}:{:02}", secs / 3600, (secs / 60) % 60, secs % 60)
}

/// The `function.json` of one function.
pub fn function_json(function: &Function) -> Value {
    let bindings = match &function.trigger {
        Trigger::Http { methods, route, auth } => json!([
            {
                "type": "httpTrigger",
                "direction": "in",
                "name": "req",
                "authLevel": auth.as_str(),
                "methods": methods.iter().map(|m| m.as_str().to_ascii_lowercase()).collect::<Vec<_>>(),
                "route": route,
            },
            {"type": "http", "direction": "out", "name": "res"},
        ]),
        Trigger::Queue { queue, connection } => json!([
            {"type": "queueTrigger", "direction": "in", "name": QUEUE_BINDING, "queueName": queue, "connection": connection},
        ]),
        Trigger::Timer { schedule, run_on_startup } => json!([
            {
                "type": "timerTrigger",
                "direction": "in",
                "name": TIMER_BINDING,
                "schedule": schedule.as_str(),
                "runOnStartup": run_on_startup,
                "useMonitor": schedule.is_monitored_by_default(),
            },
        ]),
    };
    json!({ "bindings": bindings })
}

/// The app's `host.json`: the custom handler is `executable` started with
/// `arguments`; HTTP requests are forwarded as they came.
pub fn host_json(executable: &str, arguments: &[String]) -> Value {
    let queues = QUEUE_SETTINGS;
    json!({
        "version": "2.0",
        "logging": {
            "logLevel": {"default": "Information", "Host.Results": "Information", "Function": "Information"},
            "applicationInsights": {"samplingSettings": {"isEnabled": true, "excludedTypes": "Request;Exception"}}
        },
        "extensionBundle": {"id": "Microsoft.Azure.Functions.ExtensionBundle", "version": EXTENSION_BUNDLE},
        "customHandler": {
            "description": {"defaultExecutablePath": executable, "arguments": arguments, "workingDirectory": ""},
            "enableForwardingHttpRequest": true
        },
        "extensions": {
            "http": {"routePrefix": "api"},
            "queues": {
                "maxDequeueCount": queues.max_dequeue_count,
                "visibilityTimeout": timespan(queues.visibility_timeout_secs),
                "batchSize": queues.batch_size,
                "maxPollingInterval": timespan(queues.max_polling_interval_secs),
                "messageEncoding": "base64"
            }
        },
        "functionTimeout": "00:10:00"
    })
}
