//! Declarative field rules on request messages; a call that breaks any is rejected with
//! `invalid_argument`, naming every violated field, before it reaches the inner service.
//!
//! Rules are keyed by a [`ProcedurePattern`] (`*`, `package.Service/*` or
//! `package.Service/Method`) and apply to top-level fields of the proto3 JSON message:
//! required, length in characters (Unicode scalar values, not bytes), numeric range, and a
//! regular expression, compiled once by you. Procedures no rule matches pass through.
//! [`ValidationLayer::default`] has no rules; the greeter's (on both greeter procedures, `name`
//! is required and 1 to 100 characters long) are [`crate::greeter::validation_rules`], which the
//! catalog's stacks use.
//!
//! ```
//! use interceptor_bench::greeter::{Greeter, SAY_HELLO};
//! use interceptor_bench::interceptors::validation::{FieldRule, ValidationLayer};
//! use interceptor_bench::rpc::{Code, RpcRequest};
//! use serde_json::json;
//! use tower::{Layer, ServiceExt};
//!
//! let layer = ValidationLayer::new()
//!     .rule("greeter.v1.GreeterService/*".parse().unwrap(), FieldRule::new("name").required().length(1, 10))
//!     .rule("*".parse().unwrap(), FieldRule::new("age").range(0.0, 150.0));
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let request = RpcRequest::new(SAY_HELLO, json!({"name": "Bartholomew Jr.", "age": 200}));
//! let error = layer.layer(Greeter::new()).oneshot(request).await.unwrap_err();
//! assert_eq!(error.code, Code::InvalidArgument);
//! assert_eq!(
//!     error.message,
//!     "invalid request: name: must be at most 10 characters, got 15; age: must be at most 150, got 200"
//! );
//! # });
//! ```

use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use pin_project_lite::pin_project;
use regex::Regex;
use serde_json::Value;
use tower::{Layer, Service};

use super::method_filter::ProcedurePattern;
use crate::interceptors::early::CalledOrRejected;
use crate::rpc::{Code, RpcError, RpcRequest, RpcResponse};

/// The checks on one top-level field of a message.
///
/// A field that is absent or `null` breaks only `required`; the other checks apply to the
/// value when there is one, and a value of the wrong JSON kind breaks them (proto3 JSON 64-bit
/// integers written as strings count as numbers).
///
/// ```
/// use interceptor_bench::interceptors::validation::FieldRule;
/// use regex::Regex;
/// use serde_json::json;
///
/// let rule = FieldRule::new("code").required().pattern(Regex::new("^[A-Z]{3}$").unwrap());
/// assert!(rule.violations(&json!({"code": "EUR"})).is_empty());
/// assert_eq!(rule.violations(&json!({"code": "eur"})), ["code: must match ^[A-Z]{3}$"]);
/// assert_eq!(rule.violations(&json!({})), ["code: is required"]);
/// ```
#[derive(Debug, Clone)]
pub struct FieldRule {
    field: String,
    required: bool,
    min_chars: Option<usize>,
    max_chars: Option<usize>,
    min: Option<f64>,
    max: Option<f64>,
    pattern: Option<Regex>,
}

impl FieldRule {
    /// A rule on `field` that checks nothing yet.
    pub fn new(field: impl Into<String>) -> Self {
        FieldRule {
            field: field.into(),
            required: false,
            min_chars: None,
            max_chars: None,
            min: None,
            max: None,
            pattern: None,
        }
    }

    /// The field must be present and not `null`.
    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }

    /// The field must be a string of `min` to `max` characters, both inclusive.
    pub fn length(mut self, min: usize, max: usize) -> Self {
        self.min_chars = Some(min);
        self.max_chars = Some(max);
        self
    }

    /// The field must be a number from `min` to `max`, both inclusive.
    pub fn range(mut self, min: f64, max: f64) -> Self {
        self.min = Some(min);
        self.max = Some(max);
        self
    }

    /// The field must be a string matching `pattern` (anchor it with `^…$` to match whole).
    pub fn pattern(mut self, pattern: Regex) -> Self {
        self.pattern = Some(pattern);
        self
    }

    /// The field the rule checks.
    pub fn field(&self) -> &str {
        &self.field
    }

    /// Every check of this rule that `message` breaks, each as `field: what is wrong`.
    pub fn violations(&self, message: &Value) -> Vec<String> {
        let mut violations = Vec::new();
        self.check(message, |violation| violations.push(violation));
        violations
    }

    fn check(&self, message: &Value, mut report: impl FnMut(String)) {
        let field = &self.field;
        let value = match message.get(field) {
            None | Some(Value::Null) => {
                if self.required {
                    report(format!("{field}: is required"));
                }
                return;
            }
            Some(value) => value,
        };
        if self.min_chars.is_some() || self.max_chars.is_some() || self.pattern.is_some() {
            let Some(text) = value.as_str() else {
                return report(format!("{field}: must be a string"));
            };
            let chars = text.chars().count();
            if let Some(min) = self.min_chars.filter(|&min| chars < min) {
                report(format!("{field}: must be at least {min} characters, got {chars}"));
            }
            if let Some(max) = self.max_chars.filter(|&max| chars > max) {
                report(format!("{field}: must be at most {max} characters, got {chars}"));
            }
            if let Some(pattern) = self.pattern.as_ref().filter(|pattern| !pattern.is_match(text)) {
                report(format!("{field}: must match {pattern}"));
            }
        }
        if self.min.is_some() || self.max.is_some() {
            let number = match value {
                Value::Number(number) => number.as_f64(),
                Value::String(text) => text.parse::<f64>().ok(),
                _ => None,
            };
            let Some(number) = number else {
                return report(format!("{field}: must be a number"));
            };
            if let Some(min) = self.min.filter(|&min| number < min) {
                report(format!("{field}: must be at least {min}, got {number}"));
            }
            if let Some(max) = self.max.filter(|&max| number > max) {
                report(format!("{field}: must be at most {max}, got {number}"));
            }
        }
    }
}

/// Checks [`FieldRule`]s on the request messages of the procedures they are keyed by; see the
/// [module docs](self).
///
/// ```
/// use interceptor_bench::interceptors::validation::ValidationLayer;
/// assert_eq!(ValidationLayer::new().rules().count(), 0);
/// assert_eq!(interceptor_bench::greeter::validation_rules().rules().count(), 2); // `name` on SayHello and SayGoodbye
/// ```
#[derive(Debug, Clone, Default)]
pub struct ValidationLayer {
    rules: Arc<Vec<(ProcedurePattern, FieldRule)>>,
}

impl ValidationLayer {
    /// A layer with no rules: every call passes.
    pub fn new() -> Self {
        ValidationLayer { rules: Arc::new(Vec::new()) }
    }

    /// Adds `rule` for the procedures matching `procedures`.
    pub fn rule(mut self, procedures: ProcedurePattern, rule: FieldRule) -> Self {
        Arc::make_mut(&mut self.rules).push((procedures, rule));
        self
    }

    /// The rules, with the procedures each applies to, in the order they were added.
    pub fn rules(&self) -> impl Iterator<Item = (&ProcedurePattern, &FieldRule)> {
        self.rules.iter().map(|(procedures, rule)| (procedures, rule))
    }
}

impl<S> Layer<S> for ValidationLayer {
    type Service = Validation<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Validation { rules: self.rules.clone(), inner }
    }
}

/// The validating service; see the [module docs](self).
#[derive(Debug, Clone)]
pub struct Validation<S> {
    rules: Arc<Vec<(ProcedurePattern, FieldRule)>>,
    inner: S,
}

impl<S> Validation<S> {
    define_inner_service_accessors!();

    /// `Some(error)` naming every broken rule, or `None` when the request passes.
    fn validate(&self, request: &RpcRequest) -> Option<RpcError> {
        let mut message = String::new();
        let applicable = self.rules.iter().filter(|(procedures, _)| procedures.matches(&request.procedure));
        for (_, rule) in applicable {
            rule.check(&request.message, |violation| {
                let separator = if message.is_empty() { "invalid request: " } else { "; " };
                let _ = write!(message, "{separator}{violation}");
            });
        }
        (!message.is_empty()).then(|| RpcError::new(Code::InvalidArgument, message))
    }
}

impl<S> Service<RpcRequest> for Validation<S>
where
    S: Service<RpcRequest, Response = RpcResponse, Error = RpcError>,
{
    type Response = RpcResponse;
    type Error = RpcError;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: RpcRequest) -> Self::Future {
        match self.validate(&request) {
            Some(error) => ResponseFuture { inner: CalledOrRejected::rejected(error) },
            None => ResponseFuture { inner: CalledOrRejected::called(self.inner.call(request)) },
        }
    }
}

pin_project! {
    /// The response future of [`Validation`].
    #[derive(Debug)]
    pub struct ResponseFuture<F> {
        #[pin]
        inner: CalledOrRejected<F>,
    }
}

impl<F> Future for ResponseFuture<F>
where
    F: Future<Output = Result<RpcResponse, RpcError>>,
{
    type Output = Result<RpcResponse, RpcError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().inner.poll(cx)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use tower::ServiceExt;

    use super::*;
    use crate::greeter::{Greeter, SAY_GOODBYE, SAY_HELLO, validation_rules};
    use crate::rpc::RpcResult;

    async fn call(layer: &ValidationLayer, procedure: &str, message: Value) -> RpcResult {
        layer.layer(Greeter::new()).oneshot(RpcRequest::new(procedure, message)).await
    }

    async fn rejection(layer: &ValidationLayer, procedure: &str, message: Value) -> String {
        let error = call(layer, procedure, message).await.unwrap_err();
        assert_eq!(error.code, Code::InvalidArgument);
        error.message.into_owned()
    }

    #[tokio::test]
    async fn default_rules_reject_a_bad_name_on_both_greeter_procedures() {
        let layer = validation_rules();
        for procedure in [SAY_HELLO, SAY_GOODBYE] {
            assert_eq!(
                rejection(&layer, procedure, json!({"name": ""})).await,
                "invalid request: name: must be at least 1 characters, got 0"
            );
            assert_eq!(
                rejection(&layer, procedure, json!({"name": "a".repeat(101)})).await,
                "invalid request: name: must be at most 100 characters, got 101"
            );
            assert_eq!(rejection(&layer, procedure, json!({})).await, "invalid request: name: is required");
            assert_eq!(rejection(&layer, procedure, json!({"name": null})).await, "invalid request: name: is required");
            assert_eq!(
                rejection(&layer, procedure, json!({"name": 7})).await,
                "invalid request: name: must be a string"
            );
        }
    }

    #[tokio::test]
    async fn default_rules_accept_a_good_name() {
        let layer = validation_rules();
        let response = call(&layer, SAY_HELLO, json!({"name": "a".repeat(100)})).await.unwrap();
        assert_eq!(response.message["message"], format!("Hello, {}!", "a".repeat(100)));
        assert!(call(&layer, SAY_GOODBYE, json!({"name": "Ada"})).await.is_ok());
    }

    #[tokio::test]
    async fn length_counts_characters_not_bytes() {
        let layer = validation_rules();
        // 100 three-byte characters: 300 bytes, 100 characters.
        assert!(call(&layer, SAY_HELLO, json!({"name": "語".repeat(100)})).await.is_ok());
        assert_eq!(
            rejection(&layer, SAY_HELLO, json!({"name": "😀".repeat(101)})).await,
            "invalid request: name: must be at most 100 characters, got 101"
        );
    }

    #[tokio::test]
    async fn procedures_without_rules_pass_through() {
        let layer = validation_rules();
        // The greeter answers `unimplemented`: the call got past validation despite the empty name.
        let error = call(&layer, "other.v1.Other/Do", json!({"name": ""})).await.unwrap_err();
        assert_eq!(error.code, Code::Unimplemented);
        assert!(call(&ValidationLayer::new(), SAY_HELLO, json!({})).await.is_ok());
    }

    #[tokio::test]
    async fn every_violated_field_is_named() {
        let layer = validation_rules()
            .rule(ProcedurePattern::any(), FieldRule::new("age").required().range(0.0, 150.0))
            .rule(ProcedurePattern::any(), FieldRule::new("code").pattern(Regex::new("^[A-Z]{3}$").unwrap()));
        assert_eq!(
            rejection(&layer, SAY_HELLO, json!({"name": "", "age": -1, "code": "eur"})).await,
            "invalid request: name: must be at least 1 characters, got 0; age: must be at least 0, got -1; \
             code: must match ^[A-Z]{3}$"
        );
        assert_eq!(
            rejection(&layer, SAY_HELLO, json!({"name": "Ada", "age": "old"})).await,
            "invalid request: age: must be a number"
        );
        assert!(call(&layer, SAY_HELLO, json!({"name": "Ada", "age": "42", "code": "EUR"})).await.is_ok());
        assert!(call(&layer, SAY_HELLO, json!({"name": "Ada", "age": 150})).await.is_ok());
    }
}
