//! Applies an inner layer only to the procedures that match a pattern.
//!
//! A [`ProcedurePattern`] is `*` (every procedure), `package.Service/*` (every method of one
//! service) or `package.Service/Method` (one procedure). Calls to matching procedures go
//! through the inner layer's service; all others go straight to the wrapped service.
//!
//! ```
//! use interceptor_bench::greeter::{Greeter, SAY_GOODBYE, SAY_HELLO};
//! use interceptor_bench::interceptors::method_filter::MethodFilterLayer;
//! use interceptor_bench::interceptors::validation::ValidationLayer;
//! use interceptor_bench::rpc::{Code, RpcRequest};
//! use serde_json::json;
//! use tower::{Layer, ServiceExt};
//!
//! // Validate SayHello only.
//! let layer = MethodFilterLayer::new(SAY_HELLO, interceptor_bench::greeter::validation_rules()).unwrap();
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let hello = layer.layer(Greeter::new()).oneshot(RpcRequest::new(SAY_HELLO, json!({"name": ""}))).await;
//! assert_eq!(hello.unwrap_err().code, Code::InvalidArgument);
//! let goodbye = layer.layer(Greeter::new()).oneshot(RpcRequest::new(SAY_GOODBYE, json!({"name": ""}))).await;
//! assert!(goodbye.is_ok());
//! # });
//! assert!(MethodFilterLayer::new("greeter.v1.GreeterService/Say*", ValidationLayer::new()).is_err());
//! ```
//!
//! Readiness: the filter reports ready when the wrapped service is; a call that matches drives
//! a clone of the inner layer's service to readiness inside its response future, so a layer
//! that waits or rejects in `poll_ready` (a bulkhead) never holds back calls it does not apply to.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::str::FromStr;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use tower::util::Oneshot;
use tower::{Layer, Service, ServiceExt};

use crate::rpc::{Procedure, RpcError, RpcRequest, RpcResponse};

/// Which procedures an interceptor applies to: `*`, `package.Service/*` or
/// `package.Service/Method`.
///
/// ```
/// use interceptor_bench::interceptors::method_filter::ProcedurePattern;
/// use interceptor_bench::rpc::Procedure;
///
/// let hello = Procedure::parse("greeter.v1.GreeterService/SayHello").unwrap();
/// let service: ProcedurePattern = "greeter.v1.GreeterService/*".parse().unwrap();
/// assert!(service.matches(&hello));
/// assert!(!"other.v1.Other/*".parse::<ProcedurePattern>().unwrap().matches(&hello));
/// assert!("*".parse::<ProcedurePattern>().unwrap().matches(&hello));
/// assert!("greeter.v1.GreeterService".parse::<ProcedurePattern>().is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ProcedurePattern(Matcher);

#[derive(Clone, PartialEq, Eq, Hash)]
enum Matcher {
    Any,
    Service(Box<str>),
    Exact(Box<str>),
}

/// The error for a string that is not `*`, `package.Service/*` or `package.Service/Method`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid procedure pattern {0:?}: expected `*`, `package.Service/*` or `package.Service/Method`")]
pub struct InvalidPattern(pub String);

impl ProcedurePattern {
    /// The pattern that matches every procedure, `*`.
    pub const fn any() -> Self {
        ProcedurePattern(Matcher::Any)
    }

    /// Parses `*`, `package.Service/*` or `package.Service/Method`.
    pub fn parse(pattern: &str) -> Result<Self, InvalidPattern> {
        let invalid = || InvalidPattern(pattern.to_owned());
        if pattern == "*" {
            return Ok(ProcedurePattern::any());
        }
        if let Some(service) = pattern.strip_suffix("/*") {
            // A service is valid when `service/M` is a valid procedure.
            let well_formed = !service.contains('*') && Procedure::parse(&format!("{service}/M")).is_ok();
            return well_formed.then(|| ProcedurePattern(Matcher::Service(service.into()))).ok_or_else(invalid);
        }
        if pattern.contains('*') {
            return Err(invalid());
        }
        let procedure = Procedure::parse(pattern).map_err(|_| invalid())?;
        Ok(ProcedurePattern(Matcher::Exact(procedure.as_str().into())))
    }

    /// True when `procedure` is one this pattern names.
    pub fn matches(&self, procedure: &Procedure) -> bool {
        match &self.0 {
            Matcher::Any => true,
            Matcher::Service(service) => procedure.service() == &**service,
            Matcher::Exact(name) => procedure.as_str() == &**name,
        }
    }
}

impl FromStr for ProcedurePattern {
    type Err = InvalidPattern;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProcedurePattern::parse(s)
    }
}

impl fmt::Display for ProcedurePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Matcher::Any => f.write_str("*"),
            Matcher::Service(service) => write!(f, "{service}/*"),
            Matcher::Exact(name) => f.write_str(name),
        }
    }
}

impl fmt::Debug for ProcedurePattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ProcedurePattern({self})")
    }
}

/// Applies the layer `L` to the procedures matching a [`ProcedurePattern`]; see the
/// [module docs](self).
#[derive(Debug, Clone)]
pub struct MethodFilterLayer<L> {
    pattern: ProcedurePattern,
    layer: L,
}

impl<L> MethodFilterLayer<L> {
    /// Applies `layer` to the procedures matching `pattern`; an invalid pattern is an error.
    ///
    /// ```
    /// use interceptor_bench::interceptors::method_filter::MethodFilterLayer;
    /// use tower::layer::util::Identity;
    /// assert!(MethodFilterLayer::new("greeter.v1.GreeterService/*", Identity::new()).is_ok());
    /// assert!(MethodFilterLayer::new("nope", Identity::new()).is_err());
    /// ```
    pub fn new(pattern: &str, layer: L) -> Result<Self, InvalidPattern> {
        Ok(MethodFilterLayer::with_pattern(ProcedurePattern::parse(pattern)?, layer))
    }

    /// Applies `layer` to the procedures matching an already parsed `pattern`.
    pub const fn with_pattern(pattern: ProcedurePattern, layer: L) -> Self {
        MethodFilterLayer { pattern, layer }
    }

    /// The pattern.
    pub fn pattern(&self) -> &ProcedurePattern {
        &self.pattern
    }
}

impl<L, S> Layer<S> for MethodFilterLayer<L>
where
    L: Layer<S>,
    S: Clone,
{
    type Service = MethodFilter<L::Service, S>;

    fn layer(&self, inner: S) -> Self::Service {
        MethodFilter { pattern: self.pattern.clone(), filtered: self.layer.layer(inner.clone()), inner }
    }
}

/// Routes matching procedures through `F` (the inner layer around a clone of `S`) and the rest
/// straight to `S`; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct MethodFilter<F, S> {
    pattern: ProcedurePattern,
    filtered: F,
    inner: S,
}

impl<F, S> MethodFilter<F, S> {
    define_inner_service_accessors!();
}

impl<F, S> Service<RpcRequest> for MethodFilter<F, S>
where
    F: Service<RpcRequest, Response = RpcResponse, Error = RpcError> + Clone,
    S: Service<RpcRequest, Response = RpcResponse, Error = RpcError>,
{
    type Response = RpcResponse;
    type Error = RpcError;
    type Future = ResponseFuture<F, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: RpcRequest) -> Self::Future {
        if self.pattern.matches(&request.procedure) {
            ResponseFuture { kind: Kind::Filtered { future: self.filtered.clone().oneshot(request) } }
        } else {
            ResponseFuture { kind: Kind::Bypassed { future: self.inner.call(request) } }
        }
    }
}

pin_project! {
    /// The response future of [`MethodFilter`].
    #[derive(Debug)]
    pub struct ResponseFuture<F, B>
    where
        F: Service<RpcRequest>,
    {
        #[pin]
        kind: Kind<F, B>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<F, B>
    where
        F: Service<RpcRequest>,
    {
        // The call matched: the inner layer's service, driven to readiness then called.
        Filtered { #[pin] future: Oneshot<F, RpcRequest> },
        // The call did not match: the wrapped service's own future.
        Bypassed { #[pin] future: B },
    }
}

impl<F, B> Future for ResponseFuture<F, B>
where
    F: Service<RpcRequest, Response = RpcResponse, Error = RpcError>,
    B: Future<Output = Result<RpcResponse, RpcError>>,
{
    type Output = Result<RpcResponse, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project().kind.project() {
            KindProj::Filtered { future } => future.poll(cx),
            KindProj::Bypassed { future } => future.poll(cx),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tower::ServiceExt;
    use tower::layer::layer_fn;
    use tower::service_fn;

    use super::*;
    use crate::greeter::{Greeter, SAY_GOODBYE, SAY_HELLO};
    use crate::rpc::{Code, RpcResult};

    /// A layer that answers every call it sees with `permission_denied`, to show which path ran.
    fn deny_layer<S>() -> impl Layer<S, Service: Service<RpcRequest, Response = RpcResponse, Error = RpcError> + Clone>
    {
        layer_fn(|_inner: S| {
            service_fn(|_request: RpcRequest| async { RpcResult::Err(RpcError::new(Code::PermissionDenied, "denied")) })
        })
    }

    async fn call(pattern: &str, procedure: &str) -> RpcResult {
        let service = MethodFilterLayer::new(pattern, deny_layer()).unwrap().layer(Greeter::new());
        service.oneshot(RpcRequest::new(procedure, json!({"name": "Ada"}))).await
    }

    #[tokio::test]
    async fn matching_procedures_go_through_the_layer() {
        for pattern in ["*", "greeter.v1.GreeterService/*", SAY_HELLO] {
            assert_eq!(call(pattern, SAY_HELLO).await.unwrap_err().code, Code::PermissionDenied, "{pattern}");
        }
    }

    #[tokio::test]
    async fn other_procedures_bypass_the_layer() {
        for pattern in ["other.v1.Other/*", SAY_GOODBYE, "greeter.v1.GreeterServiceX/*"] {
            let response = call(pattern, SAY_HELLO).await.unwrap();
            assert_eq!(response.message["message"], "Hello, Ada!", "{pattern}");
        }
    }

    #[tokio::test]
    async fn the_stack_builder_applies_an_interceptor_to_matching_procedures_only() {
        use crate::stack::{Interceptor, Interceptors, Stack};
        let stack = Stack::builder("hello-only").interceptor_for(SAY_HELLO, Interceptor::Validation).unwrap().build();
        let service = stack.service(&Interceptors::default(), Greeter::new());
        let hello = service.clone().oneshot(RpcRequest::new(SAY_HELLO, json!({"name": ""}))).await;
        assert_eq!(hello.unwrap_err().code, Code::InvalidArgument);
        let goodbye = service.oneshot(RpcRequest::new(SAY_GOODBYE, json!({"name": ""}))).await;
        assert_eq!(goodbye.unwrap().message["message"], "Goodbye, !");
    }

    #[test]
    fn invalid_patterns_are_errors() {
        for pattern in [
            "",
            "**",
            "greeter.v1.GreeterService",
            "greeter.v1.GreeterService/",
            "greeter.v1.GreeterService/Say*",
            "greeter.*/*",
            "Greeter/*",
            "/*",
            "a.B/C/D",
        ] {
            let error = MethodFilterLayer::new(pattern, tower::layer::util::Identity::new()).unwrap_err();
            assert_eq!(error, InvalidPattern(pattern.to_owned()));
        }
    }

    #[test]
    fn patterns_display_as_written() {
        for pattern in ["*", "greeter.v1.GreeterService/*", SAY_HELLO] {
            assert_eq!(ProcedurePattern::parse(pattern).unwrap().to_string(), pattern);
        }
    }
}
