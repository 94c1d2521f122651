//! Functions are declared once, in Rust: a name, a trigger and a handler.
//! The router and the generated `function.json` files both come from these
//! declarations, so they cannot drift apart.

use std::fmt;
use std::future::Future;
use std::sync::Arc;

use axum::handler::Handler;
use axum::http::Method;
use axum::routing::MethodRouter;
use futures::future::BoxFuture;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::api::{Endpoint, OperationDoc};
use crate::envelope::{QueueMessageMetadata, RetryContext, TimerInfo};
use crate::ncrontab::Schedule;

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The binding names the generated manifests use.
pub const QUEUE_BINDING: &str = "message";
pub const TIMER_BINDING: &str = "timer";
/// The app setting (prefix) naming the storage account of queue triggers.
pub const DEFAULT_QUEUE_CONNECTION: &str = "AzureWebJobsStorage";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthLevel {
    /// No function key; the portal authenticates citizens itself.
    Anonymous,
    Function,
    Admin,
}

impl AuthLevel {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Anonymous => "anonymous",
            Self::Function => "function",
            Self::Admin => "admin",
        }
    }
}

/// What starts a function.
#[derive(Debug, Clone)]
pub enum Trigger {
    /// `route` is relative to `/api` and uses `{param}` / `{*rest}`, which both
    /// the Functions host and axum understand.
    Http {
        methods: Vec<Method>,
        route: String,
        auth: AuthLevel,
    },
    Queue {
        queue: String,
        connection: String,
    },
    Timer {
        schedule: Schedule,
        run_on_startup: bool,
    },
}

/// The outcome of a successful queue or timer invocation.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Outcome {
    /// Lines for the host's invocation log (Application Insights traces).
    pub logs: Vec<String>,
    pub outputs: Map<String, Value>,
    pub return_value: Value,
}

impl Outcome {
    pub fn done() -> Self {
        Self::default()
    }

    #[must_use]
    pub fn log(mut self, line: impl Into<String>) -> Self {
        self.logs.push(line.into());
        self
    }

    /// Adds a string value for output binding `binding`, protected against the
    /// host's base64 decoding ([`crate::output`]); repeated calls for one binding
    /// make an array (several queue messages).
    #[must_use]
    pub fn output_text(mut self, binding: &str, text: &str) -> Self {
        let value = crate::output::protected_text(text);
        match self.outputs.get_mut(binding) {
            Some(Value::Array(values)) => values.push(value),
            Some(existing) => *existing = Value::Array(vec![existing.take(), value]),
            None => {
                self.outputs.insert(binding.to_owned(), value);
            }
        }
        self
    }

    #[must_use]
    pub fn returning(mut self, value: Value) -> Self {
        self.return_value = value;
        self
    }
}

/// Why an invocation failed, and whether trying again can help.
#[derive(Debug, thiserror::Error)]
pub enum InvocationError {
    /// Transient (a store throttled, a gateway timed out): the handler answers
    /// non-2xx, so the host retries the message and poisons it after
    /// `maxDequeueCount` tries.
    #[error("retryable failure: {0}")]
    Retryable(#[source] BoxError),
    /// The message can never succeed (it is malformed, it names nothing): the
    /// failure is recorded and the message acknowledged.
    #[error("permanent failure: {0}")]
    Permanent(#[source] BoxError),
}

impl InvocationError {
    pub fn retryable(error: impl Into<BoxError>) -> Self {
        Self::Retryable(error.into())
    }

    pub fn permanent(error: impl Into<BoxError>) -> Self {
        Self::Permanent(error.into())
    }
}

/// One queue invocation with its typed message.
#[derive(Debug, Clone)]
pub struct QueueInvocation<M> {
    pub message: M,
    pub meta: QueueMessageMetadata,
    pub invocation_id: String,
    pub retry: Option<RetryContext>,
}

/// One timer invocation.
#[derive(Debug, Clone)]
pub struct TimerInvocation {
    pub info: TimerInfo,
    pub invocation_id: String,
}

pub(crate) type QueueHandlerFn =
    Arc<dyn Fn(QueueInvocation<String>) -> BoxFuture<'static, Result<Outcome, InvocationError>> + Send + Sync>;
pub(crate) type TimerHandlerFn =
    Arc<dyn Fn(TimerInvocation) -> BoxFuture<'static, Result<Outcome, InvocationError>> + Send + Sync>;

#[derive(Clone)]
pub(crate) enum FunctionHandler {
    Http(Box<MethodRouter>),
    Queue(QueueHandlerFn),
    Timer(TimerHandlerFn),
}

/// A declared function with its handler.
#[derive(Clone)]
pub struct Function {
    pub name: String,
    pub trigger: Trigger,
    /// An HTTP function's operations in the API document, one per method.
    pub docs: Vec<OperationDoc>,
    pub(crate) handler: FunctionHandler,
}

impl fmt::Debug for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Function").field("name", &self.name).field("trigger", &self.trigger).finish_non_exhaustive()
    }
}

impl Function {
    /// An HTTP function declared from its documented operation (see
    /// [`crate::api`]): its name is the operation id, its route the
    /// operation's path under `/api`, its one method the operation's.
    pub fn api<S, H, T>(endpoint: Endpoint<H>) -> HttpFunction<S>
    where
        S: Clone + Send + Sync + 'static,
        H: Handler<T, S>,
        T: 'static,
    {
        let doc = endpoint.doc;
        let method = doc.method.clone();
        let router = MethodRouter::new().on(
            axum::routing::MethodFilter::try_from(method.clone()).unwrap_or(axum::routing::MethodFilter::GET),
            endpoint.handler,
        );
        HttpFunction {
            name: doc.name(),
            route: doc.route().to_owned(),
            auth: AuthLevel::Anonymous,
            methods: vec![method],
            router,
            docs: vec![doc],
        }
    }

    /// A queue-triggered function whose message is JSON of type `M`. A message
    /// that does not parse as `M` is a permanent failure.
    pub fn queue<M, F, Fut>(name: &str, queue: &str, handler: F) -> Self
    where
        M: DeserializeOwned + Send + 'static,
        F: Fn(QueueInvocation<M>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Outcome, InvocationError>> + Send + 'static,
    {
        let handler = Arc::new(handler);
        let erased: QueueHandlerFn = Arc::new(move |raw: QueueInvocation<String>| {
            let handler = Arc::clone(&handler);
            Box::pin(async move {
                let message: M = serde_json::from_str(&raw.message).map_err(|error| {
                    InvocationError::permanent(format!("the message does not match the expected schema: {error}"))
                })?;
                handler(QueueInvocation { message, meta: raw.meta, invocation_id: raw.invocation_id, retry: raw.retry })
                    .await
            })
        });
        Self {
            name: name.to_owned(),
            trigger: Trigger::Queue { queue: queue.to_owned(), connection: DEFAULT_QUEUE_CONNECTION.to_owned() },
            docs: Vec::new(),
            handler: FunctionHandler::Queue(erased),
        }
    }

    /// A timer-triggered function on a six-field NCRONTAB schedule (UTC).
    ///
    /// # Panics
    /// If `schedule` is not valid NCRONTAB: schedules are constants in code,
    /// and the declaration tests parse every one of them.
    pub fn timer<F, Fut>(name: &str, schedule: &str, handler: F) -> Self
    where
        F: Fn(TimerInvocation) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Outcome, InvocationError>> + Send + 'static,
    {
        let schedule = Schedule::parse(schedule).unwrap_or_else(|error| panic!("function {name}: {error}"));
        let handler = Arc::new(handler);
        let erased: TimerHandlerFn = Arc::new(move |invocation| {
            let handler = Arc::clone(&handler);
            Box::pin(async move { handler(invocation).await })
        });
        Self {
            name: name.to_owned(),
            trigger: Trigger::Timer { schedule, run_on_startup: false },
            docs: Vec::new(),
            handler: FunctionHandler::Timer(erased),
        }
    }

    /// The HTTP path the function answers under (`/api/...`), or the invoke
    /// path (`/{name}`) for other triggers.
    pub fn path(&self) -> String {
        match &self.trigger {
            Trigger::Http { route, .. } => format!("/api/{route}"),
            _ => format!("/{}", self.name),
        }
    }
}

/// Builder for an HTTP function declared from its documented operation
/// ([`Function::api`]); [`HttpFunction::also`] adds a second method on the
/// same route. There is no other way to declare one, so an HTTP function
/// without an operation in the API document cannot exist.
pub struct HttpFunction<S = ()> {
    name: String,
    route: String,
    auth: AuthLevel,
    methods: Vec<Method>,
    router: MethodRouter<S>,
    docs: Vec<OperationDoc>,
}

impl<S> fmt::Debug for HttpFunction<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpFunction").field("name", &self.name).field("route", &self.route).finish_non_exhaustive()
    }
}

impl<S: Clone + Send + Sync + 'static> HttpFunction<S> {
    /// Lets this function read bodies up to `bytes` (uploads); the runtime's
    /// default is [`crate::runtime::HTTP_BODY_LIMIT`].
    #[must_use]
    pub fn with_body_limit(mut self, bytes: usize) -> Self {
        self.router = self.router.layer(axum::extract::DefaultBodyLimit::max(bytes));
        self
    }

    /// Another method on the same route, with its own documented operation
    /// (its own operation id; the function keeps its name).
    ///
    /// # Panics
    /// If the operation's path is not this function's route: a declaration
    /// error, caught by the declaration tests.
    #[must_use]
    pub fn also<H, T>(mut self, endpoint: Endpoint<H>) -> Self
    where
        H: Handler<T, S>,
        T: 'static,
    {
        let doc = endpoint.doc;
        assert_eq!(doc.route(), self.route, "function {}: every operation must be on its route", self.name);
        let method = doc.method.clone();
        self.router = std::mem::take(&mut self.router).on(
            axum::routing::MethodFilter::try_from(method.clone()).unwrap_or(axum::routing::MethodFilter::GET),
            endpoint.handler,
        );
        self.methods.push(method);
        self.docs.push(doc);
        self
    }

    /// The host's authorization level (function keys); the portal
    /// authenticates citizens itself, so most functions stay anonymous.
    #[must_use]
    pub fn with_auth(mut self, auth: AuthLevel) -> Self {
        self.auth = auth;
        self
    }

    /// Gives the handlers their state.
    pub fn with_state<S2>(self, state: S) -> HttpFunction<S2> {
        HttpFunction {
            name: self.name,
            route: self.route,
            auth: self.auth,
            methods: self.methods,
            router: self.router.with_state(state),
            docs: self.docs,
        }
    }
}

impl HttpFunction<()> {
    pub fn build(self) -> Function {
        Function {
            name: self.name,
            trigger: Trigger::Http { methods: self.methods, route: self.route, auth: self.auth },
            docs: self.docs,
            handler: FunctionHandler::Http(Box::new(self.router)),
        }
    }
}

impl From<HttpFunction<()>> for Function {
    fn from(function: HttpFunction<()>) -> Self {
        function.build()
    }
}
