//! The benchmark handler: `greeter.v1.GreeterService` with `SayHello` and `SayGoodbye`.
//!
//! The wire shape is the seed's performance test server's, so the same k6 clients work:
//! request `{"name": "Ada"}`, response `{"message": "Hello, Ada!"}`. Its protobuf definition,
//! for gRPC and Connect clients and code generators, is `proto/greeter/v1/greeter.proto`.
//!
//! ```
//! use interceptor_bench::greeter::{Greeter, SAY_HELLO};
//! use interceptor_bench::rpc::RpcRequest;
//! use tower::ServiceExt;
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let request = RpcRequest::new(SAY_HELLO, serde_json::json!({"name": "Ada"}));
//! let response = Greeter::new().oneshot(request).await.unwrap();
//! assert_eq!(response.message["message"], "Hello, Ada!");
//! # });
//! ```

use std::future::{Ready, ready};
use std::task::{Context, Poll};

use serde_json::json;
use tower::Service;

use crate::connect::{ConnectService, Routes};
use crate::interceptors::method_filter::ProcedurePattern;
use crate::interceptors::validation::{FieldRule, ValidationLayer};
use crate::rpc::{Code, Field, FieldKind, MessageSchema, MethodSchema, RpcError, RpcRequest, RpcResponse, RpcResult};

/// The greeter service's fully qualified name.
pub const SERVICE: &str = "greeter.v1.GreeterService";
/// The `SayHello` procedure.
pub const SAY_HELLO: &str = "greeter.v1.GreeterService/SayHello";
/// The `SayGoodbye` procedure.
pub const SAY_GOODBYE: &str = "greeter.v1.GreeterService/SayGoodbye";

const NAME_FIELD: &[Field] = &[Field::new(1, "name", FieldKind::String)];
const MESSAGE_FIELD: &[Field] = &[Field::new(1, "message", FieldKind::String)];

/// The request of `SayHello`: `message SayHelloRequest { string name = 1; }`.
pub const SAY_HELLO_REQUEST: MessageSchema = MessageSchema::new("greeter.v1.SayHelloRequest", NAME_FIELD);
/// The request of `SayGoodbye`: `message SayGoodbyeRequest { string name = 1; }`.
pub const SAY_GOODBYE_REQUEST: MessageSchema = MessageSchema::new("greeter.v1.SayGoodbyeRequest", NAME_FIELD);
/// The response of `SayHello`: `message SayHelloResponse { string message = 1; }`.
pub const SAY_HELLO_RESPONSE: MessageSchema = MessageSchema::new("greeter.v1.SayHelloResponse", MESSAGE_FIELD);
/// The response of `SayGoodbye`: `message SayGoodbyeResponse { string message = 1; }`.
pub const SAY_GOODBYE_RESPONSE: MessageSchema = MessageSchema::new("greeter.v1.SayGoodbyeResponse", MESSAGE_FIELD);

/// The greeter's methods with their message schemas, for the codec's router.
pub const METHODS: &[MethodSchema] = &[
    MethodSchema { procedure: SAY_HELLO, request: SAY_HELLO_REQUEST, response: SAY_HELLO_RESPONSE },
    MethodSchema { procedure: SAY_GOODBYE, request: SAY_GOODBYE_REQUEST, response: SAY_GOODBYE_RESPONSE },
];

/// The greeter's validation rules, which every catalog stack's `validation` uses: on `SayHello`
/// and `SayGoodbye`, `name` is required and 1 to 100 characters long.
///
/// ```
/// use interceptor_bench::greeter::validation_rules;
/// let procedures: Vec<String> = validation_rules().rules().map(|(on, _)| on.to_string()).collect();
/// assert_eq!(procedures, ["greeter.v1.GreeterService/SayHello", "greeter.v1.GreeterService/SayGoodbye"]);
/// ```
pub fn validation_rules() -> ValidationLayer {
    [SAY_HELLO, SAY_GOODBYE].into_iter().fold(ValidationLayer::new(), |layer, procedure| {
        let procedure = ProcedurePattern::parse(procedure).expect("the greeter's procedures are valid patterns");
        layer.rule(procedure, FieldRule::new("name").required().length(1, 100))
    })
}

impl<S> ConnectService<S> {
    /// A codec routing the greeter's two methods to `inner`.
    pub fn greeter(inner: S) -> Self {
        Self::new(inner, Routes::new(METHODS))
    }
}

/// The greeter handler; stateless, always ready.
#[derive(Debug, Clone, Copy, Default)]
pub struct Greeter;

impl Greeter {
    /// A greeter.
    pub const fn new() -> Self {
        Greeter
    }

    fn answer(request: &RpcRequest) -> RpcResult {
        let greeting = match request.procedure.as_str() {
            SAY_HELLO => "Hello",
            SAY_GOODBYE => "Goodbye",
            other => return Err(RpcError::new(Code::Unimplemented, format!("{other} is not implemented"))),
        };
        // proto3: an absent or null string field is the empty string.
        let name = request.message.get("name").and_then(|name| name.as_str()).unwrap_or("");
        Ok(RpcResponse::new(json!({ "message": format!("{greeting}, {name}!") })))
    }
}

impl Service<RpcRequest> for Greeter {
    type Response = RpcResponse;
    type Error = RpcError;
    type Future = Ready<RpcResult>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: RpcRequest) -> Self::Future {
        ready(Self::answer(&request))
    }
}
