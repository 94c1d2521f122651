//! The HTTP API contract: every HTTP function is one documented operation.
//!
//! A handler lives in its own file as `pub async fn handler(..)` with a
//! `#[utoipa::path(..)]` attribute that names its method, path (under `/api`),
//! operation id (the function's name), parameters, body and every response.
//! [`op!`](crate::op) pairs the handler with that description, and
//! [`Function::api`](crate::Function::api) declares the function from it, so
//! the router, the `function.json` manifests and the OpenAPI document
//! ([`document`]) all come from the same declaration.
//!
//! Requests come in through [`Body`] and [`Params`], whose rejections are
//! problems naming the field and the rule; responses are typed serde structs
//! that derive their schema.

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Method, StatusCode, header};
use serde::de::DeserializeOwned;
use serde_json::{Map, Value, json};
use utoipa::openapi::path::{HttpMethod, Operation};
use utoipa::openapi::schema::Schema;
use utoipa::openapi::{OpenApi, RefOr};

use crate::function::{Function, Trigger};
use crate::problem::{CONTENT_TYPE as PROBLEM_CONTENT_TYPE, FieldViolation, Problem};
use crate::runtime::DeclarationError;

/// The cookie a browser session travels in, and the header that must
/// accompany it on every state-changing request.
pub const SESSION_COOKIE: &str = "__Host-portal_session";
pub const CSRF_HEADER: &str = "X-CSRF-Token";

/// The operation and the schemas its types refer to.
pub type Description = (Operation, Vec<(String, RefOr<Schema>)>);

/// What the document says of one operation: taken from the handler's
/// `#[utoipa::path]` attribute and its module's `OPERATION` (the operation id,
/// which the attribute names too). Only the method, path and name are kept;
/// the description itself is built when the document is (on its first
/// request), not held for the life of the process nor even built at start
/// (issue 18: the descriptions were half of the start-up heap, and building
/// each one only to read its id paged in the code of every builder, a tenth
/// of the binary). The document refuses a name its operation does not carry.
#[derive(Clone)]
pub struct OperationDoc {
    pub method: Method,
    /// The path under which clients call it, `/api/...`.
    pub path: String,
    name: String,
    describe: fn() -> Description,
}

impl std::fmt::Debug for OperationDoc {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OperationDoc").field("method", &self.method).field("path", &self.path).finish_non_exhaustive()
    }
}

fn describe<P: utoipa::Path + utoipa::__dev::SchemaReferences>() -> Description {
    let mut schemas = Vec::new();
    P::schemas(&mut schemas);
    (P::operation(), schemas)
}

impl OperationDoc {
    /// The description `#[utoipa::path]` generated as `P`.
    ///
    /// # Panics
    /// If the attribute names no method or more than one: one function
    /// answers one method (a declaration error, caught by the declaration
    /// tests).
    pub fn of<P: utoipa::Path + utoipa::__dev::SchemaReferences>(name: &str) -> Self {
        let methods = P::methods();
        let [method] = methods.as_slice() else {
            panic!("operation at {} must declare exactly one method", P::path());
        };
        Self { method: http_method(method), path: P::path(), name: name.to_owned(), describe: describe::<P> }
    }

    /// The function's name: the operation id.
    pub fn name(&self) -> String {
        self.name.clone()
    }

    /// The operation's description and its schemas, built now.
    pub fn describe(&self) -> Description {
        (self.describe)()
    }

    /// The route relative to `/api`, as the Functions host and axum spell it.
    pub fn route(&self) -> &str {
        self.path.strip_prefix("/api/").unwrap_or(&self.path)
    }
}

fn http_method(method: &HttpMethod) -> Method {
    match method {
        HttpMethod::Get => Method::GET,
        HttpMethod::Post => Method::POST,
        HttpMethod::Put => Method::PUT,
        HttpMethod::Delete => Method::DELETE,
        HttpMethod::Options => Method::OPTIONS,
        HttpMethod::Head => Method::HEAD,
        HttpMethod::Patch => Method::PATCH,
        HttpMethod::Trace => Method::TRACE,
    }
}

/// A handler with its documented operation; made by [`op!`](crate::op).
#[derive(Debug)]
pub struct Endpoint<H> {
    pub handler: H,
    pub doc: OperationDoc,
}

/// The handler of an action module together with its operation: `op!(http::list_events)`
/// takes `http::list_events::handler`, the description its `#[utoipa::path]`
/// attribute generated and its `OPERATION`, the operation id the attribute
/// names (`operation_id = OPERATION`).
#[macro_export]
macro_rules! op {
    ($($action:ident)::+) => {
        $crate::api::Endpoint {
            handler: $($action)::+::handler,
            doc: $crate::api::OperationDoc::of::<$($action)::+::__path_handler>($($action)::+::OPERATION),
        }
    };
}

/// A JSON request body. Anything that is not the expected shape is a 422
/// naming the field (`attachments[2].name`, or `body` for the whole) and the
/// rule broken; a body over the function's limit is a 413.
#[derive(Debug, Clone, Copy, Default)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(request: Request, state: &S) -> Result<Self, Problem> {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .is_some_and(|media| {
                let media = media.trim();
                media.eq_ignore_ascii_case("application/json")
                    || media.get(media.len().saturating_sub(5)..).is_some_and(|end| end.eq_ignore_ascii_case("+json"))
            });
        if !json {
            return Err(Problem::validation(vec![FieldViolation::new(
                "body",
                "must be JSON sent with Content-Type: application/json",
            )]));
        }
        let bytes = Bytes::from_request(request, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                Problem::new(StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large", "The request body is too large")
            } else {
                Problem::bad_request("the request body could not be read")
            }
        })?;
        parse_json(&bytes).map(Body)
    }
}

/// Parses JSON into `T`, naming the field of the first broken rule.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = field_name(&error.path().to_string(), "body");
        Problem::validation(vec![FieldViolation::new(field, without_position(&error.inner().to_string()))])
    })?;
    deserializer.end().map_err(|error| {
        Problem::validation(vec![FieldViolation::new("body", without_position(&error.to_string()))])
    })?;
    Ok(value)
}

/// Query parameters. A parameter of the wrong shape is a 422 naming it.
#[derive(Debug, Clone, Copy, Default)]
pub struct Params<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Problem> {
        let query = parts.uri.query().unwrap_or("");
        let deserializer = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(deserializer).map(Params).map_err(|error| {
            let field = field_name(&error.path().to_string(), "query");
            Problem::validation(vec![FieldViolation::new(field, without_position(&error.inner().to_string()))])
        })
    }
}

fn field_name(path: &str, whole: &str) -> String {
    if path.is_empty() || path == "." || path == "?" { whole.to_owned() } else { path.to_owned() }
}

/// serde_json's messages end with " at line 1 column 17", which says nothing
/// to a client that sent one line.
fn without_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(at) => message[..at].to_owned(),
        None => message.to_owned(),
    }
}

/// Responses every operation can give whatever its handler does, added to the
/// document so that it lists every status a client may see.
fn common_responses(
    method: &Method,
    secured: bool,
    has_body: bool,
    has_query: bool,
) -> Vec<(&'static str, &'static str)> {
    let mut responses = vec![
        ("400", "Požadavek je poškozený (např. neplatný parametr v cestě)."),
        ("500", "Chyba na straně portálu; podrobnosti jsou v logu pod ID požadavku."),
        ("503", "Služba, na které portál závisí, je dočasně nedostupná; zkuste to později."),
    ];
    if secured {
        responses.push(("401", "Nejste přihlášeni, nebo vaše přihlášení vypršelo."));
        responses.push(("403", "Nemáte oprávnění: chybí hlavička X-CSRF-Token, nebo je potřeba vyšší úroveň ověření."));
        if !matches!(*method, Method::GET | Method::HEAD) {
            responses.push(("429", "Příliš mnoho požadavků; zkuste to za chvíli."));
        }
    }
    if has_body {
        responses.push(("413", "Tělo požadavku je příliš velké."));
    }
    if has_body || has_query {
        responses.push(("422", "Vstup porušuje jedno nebo více pravidel; `errors` jmenuje pole a pravidlo."));
    }
    responses
}

/// The documented operations of the HTTP functions in `functions`.
pub fn http_operations(functions: &[Function]) -> Vec<OperationDoc> {
    functions
        .iter()
        .filter(|function| matches!(function.trigger, Trigger::Http { .. }))
        .flat_map(|function| function.docs.iter().cloned())
        .collect()
}

/// The schemas every document has, whatever its operations.
fn base_schemas() -> Vec<(String, RefOr<Schema>)> {
    vec![
        ("Problem".to_owned(), <Problem as utoipa::PartialSchema>::schema()),
        ("FieldViolation".to_owned(), <FieldViolation as utoipa::PartialSchema>::schema()),
    ]
}

/// The OpenAPI 3.1 document of `operations` (see [`http_operations`]), or the
/// name of a schema that two types define differently.
pub fn document(operations: &[OperationDoc], version: &str) -> Result<Value, DeclarationError> {
    let mut api: OpenApi = utoipa::openapi::OpenApiBuilder::new()
        .info(
            utoipa::openapi::InfoBuilder::new()
                .title("Portál občana API")
                .version(version)
                .description(Some(
                    "The API of the Czech citizen portal (Portál občana) backend. Errors are \
                     application/problem+json (RFC 9457) with `errors: [{field, rule}]` for input that \
                     breaks a rule. Browsers authenticate with the session cookie and send the session's \
                     CSRF token in X-CSRF-Token on every state-changing request; apps use a bearer token.",
                ))
                .build(),
        )
        .build();
    let mut schemas = base_schemas();
    let mut paths = utoipa::openapi::path::Paths::new();
    for doc in operations {
        let method = match doc.method {
            Method::GET => HttpMethod::Get,
            Method::POST => HttpMethod::Post,
            Method::PUT => HttpMethod::Put,
            Method::DELETE => HttpMethod::Delete,
            Method::PATCH => HttpMethod::Patch,
            Method::HEAD => HttpMethod::Head,
            Method::OPTIONS => HttpMethod::Options,
            _ => HttpMethod::Trace,
        };
        let (operation, operation_schemas) = doc.describe();
        let documented = operation.operation_id.as_deref().unwrap_or_default();
        if documented != doc.name {
            return Err(DeclarationError::OperationIdMismatch(doc.name.clone(), documented.to_owned()));
        }
        paths.add_path_operation(&doc.path, vec![method], operation);
        schemas.extend(operation_schemas);
    }
    api.paths = paths;
    let mut components = utoipa::openapi::Components::new();
    for (name, schema) in schemas {
        if let Some(existing) = components.schemas.get(&name)
            && serde_json::to_value(existing).ok() != serde_json::to_value(&schema).ok()
        {
            return Err(DeclarationError::SchemaConflict(name));
        }
        components.schemas.insert(name, schema);
    }
    api.components = Some(components);
    let mut value = serde_json::to_value(&api).unwrap_or(Value::Null);
    finish_document(&mut value, operations);
    Ok(value)
}

/// What the generator does not write itself: the security schemes, CSRF on
/// cookie-authenticated writes, and the responses every operation can give.
fn finish_document(document: &mut Value, operations: &[OperationDoc]) {
    document["openapi"] = json!("3.1.0");
    document["components"]["securitySchemes"] = json!({
        "session": {
            "type": "apiKey", "in": "cookie", "name": SESSION_COOKIE,
            "description": "Relace prohlížeče po přihlášení přes NIA (identitu občana)."
        },
        "csrf": {
            "type": "apiKey", "in": "header", "name": CSRF_HEADER,
            "description": "CSRF token relace (z GET /api/me), povinný u každého zápisu s cookie relace."
        },
        "bearer": {
            "type": "http", "scheme": "bearer",
            "description": "Token pro mobilní aplikace (POST /api/auth/tokens)."
        }
    });
    let Some(paths) = document.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for doc in operations {
        let method = doc.method.as_str().to_ascii_lowercase();
        let Some(operation) = paths.get_mut(&doc.path).and_then(|item| item.get_mut(&method)) else { continue };
        let writes = !matches!(doc.method, Method::GET | Method::HEAD);
        let secured = operation.get("security").and_then(Value::as_array).is_some_and(|list| !list.is_empty());
        if secured
            && writes
            && let Some(requirements) = operation.get_mut("security").and_then(Value::as_array_mut)
        {
            for requirement in requirements.iter_mut() {
                if let Some(map) = requirement.as_object_mut().filter(|map| map.contains_key("session")) {
                    map.insert("csrf".to_owned(), json!([]));
                }
            }
        }
        // A request body, or query parameters read through `Params`, can break a rule (422).
        let has_query = operation
            .get("parameters")
            .and_then(Value::as_array)
            .is_some_and(|parameters| parameters.iter().any(|p| p["in"] == "query"));
        let has_body = operation.get("requestBody").is_some();
        let responses = operation
            .as_object_mut()
            .map(|op| op.entry("responses").or_insert_with(|| Value::Object(Map::new())))
            .and_then(Value::as_object_mut);
        let Some(responses) = responses else { continue };
        for (status, description) in common_responses(&doc.method, secured, has_body, has_query) {
            responses.entry(status.to_owned()).or_insert_with(|| problem_response(description));
        }
    }
}

/// A response whose body is a [`Problem`].
pub fn problem_response(description: &str) -> Value {
    json!({
        "description": description,
        "content": { PROBLEM_CONTENT_TYPE: { "schema": { "$ref": "#/components/schemas/Problem" } } }
    })
}

#[cfg(test)]
mod tests {
    use axum::body::Body as HttpBody;
    use axum::http::Request;
    use serde::{Deserialize, Serialize};
    use tower::ServiceExt as _;

    use super::*;
    use crate::runtime::{DeclarationError, LogFailures, Runtime};

    mod first {
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub struct Item {
            pub name: String,
        }

        /// The operation id: this function's name and its `operationId`.
        pub const OPERATION: &str = "First";

        #[utoipa::path(get, path = "/api/first", operation_id = OPERATION, responses((status = 200, description = "x", body = Item)))]
        pub async fn handler() -> axum::Json<Item> {
            axum::Json(Item { name: "a".into() })
        }
    }

    mod second {
        #[derive(serde::Serialize, utoipa::ToSchema)]
        pub struct Item {
            pub count: u32,
        }

        /// The operation id: this function's name and its `operationId`.
        pub const OPERATION: &str = "Second";

        #[utoipa::path(get, path = "/api/second", operation_id = OPERATION, responses((status = 200, description = "x", body = Item)))]
        pub async fn handler() -> axum::Json<Item> {
            axum::Json(Item { count: 1 })
        }
    }

    mod create {
        use super::*;

        #[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct Input {
            pub title: String,
            pub tags: Vec<Tag>,
        }

        #[derive(Debug, Deserialize, Serialize, utoipa::ToSchema)]
        pub struct Tag {
            pub name: String,
        }

        /// The operation id: this function's name and its `operationId`.
        pub const OPERATION: &str = "CreateThing";

        #[utoipa::path(post, path = "/api/things", operation_id = OPERATION, request_body = Input,
            responses((status = 200, description = "x", body = Input)))]
        pub async fn handler(Body(input): Body<Input>) -> axum::Json<Input> {
            axum::Json(input)
        }
    }

    mod misnamed {
        /// Not the id the attribute below documents.
        pub const OPERATION: &str = "Misnamed";

        #[utoipa::path(get, path = "/api/misnamed", operation_id = "Other", responses((status = 200, description = "x")))]
        pub async fn handler() -> &'static str {
            "x"
        }
    }

    #[test]
    fn a_function_named_otherwise_than_its_operation_is_a_declaration_error() {
        let functions = vec![Function::api(crate::op!(misnamed)).build()];
        let runtime = Runtime::new(functions, std::sync::Arc::new(LogFailures)).expect("declarations");
        let error = runtime.openapi().expect_err("a mismatch");
        assert_eq!(error, DeclarationError::OperationIdMismatch("Misnamed".into(), "Other".into()));
    }

    #[test]
    fn two_types_of_one_name_are_a_declaration_error_not_a_silent_overwrite() {
        let functions = vec![Function::api(crate::op!(first)).build(), Function::api(crate::op!(second)).build()];
        let runtime = Runtime::new(functions, std::sync::Arc::new(LogFailures)).expect("declarations");
        let error = runtime.openapi().expect_err("a conflict");
        assert_eq!(error, DeclarationError::SchemaConflict("Item".into()));
    }

    #[tokio::test]
    async fn a_document_with_a_conflict_is_not_served() {
        let functions = vec![Function::api(crate::op!(first)).build(), Function::api(crate::op!(second)).build()];
        let router = Runtime::new(functions, std::sync::Arc::new(LogFailures)).expect("declarations").router();
        let request = Request::get("/api/openapi.json").body(HttpBody::empty()).expect("request");
        let response = router.oneshot(request).await.expect("infallible");
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    async fn post(body: &str, content_type: &str) -> (u16, Value) {
        let router = Runtime::new(vec![Function::api(crate::op!(create)).build()], std::sync::Arc::new(LogFailures))
            .expect("declarations")
            .router();
        let request = Request::post("/api/things")
            .header("content-type", content_type)
            .body(HttpBody::from(body.to_owned()))
            .expect("request");
        let response = router.oneshot(request).await.expect("infallible");
        let status = response.status().as_u16();
        let bytes = http_body_util::BodyExt::collect(response.into_body()).await.expect("body").to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    #[tokio::test]
    async fn a_body_that_breaks_a_rule_is_a_422_naming_the_field() {
        let (status, problem) = post(r#"{"title": "x", "tags": [{"name": 7}]}"#, "application/json").await;
        assert_eq!(status, 422);
        assert_eq!(problem["errors"][0]["field"], "tags[0].name", "{problem}");
        let (status, problem) = post(r#"{"title": "x", "tags": [], "extra": 1}"#, "application/json").await;
        assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("extra")), "{problem}");
        assert!(problem["errors"][0]["rule"].as_str().is_some_and(|r| r.starts_with("unknown field")), "{problem}");
        let (status, problem) = post("{not json", "application/json").await;
        assert_eq!((status, problem["errors"][0]["field"].as_str()), (422, Some("body")));
        let (status, _) = post(r#"{"title": "x", "tags": []}"#, "text/plain").await;
        assert_eq!(status, 422, "JSON must say it is JSON");
        let (status, body) = post(r#"{"title": "x", "tags": []}"#, "application/json; charset=utf-8").await;
        assert_eq!((status, &body["title"]), (200, &Value::from("x")));
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_a_413_problem() {
        let big = format!(r#"{{"title": "{}", "tags": []}}"#, "x".repeat(3 * 1024 * 1024));
        let (status, problem) = post(&big, "application/json").await;
        assert_eq!(status, 413);
        assert_eq!(problem["type"], "/problems/payload-too-large");
    }
}
