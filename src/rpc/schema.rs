//! The shape of a message: which fields exist and what JSON kind each takes.

use serde_json::Value;

/// The JSON kind a proto3 field takes in its JSON form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// `string` fields.
    String,
    /// `bool` fields.
    Bool,
    /// Numeric fields (a JSON number; proto3 JSON also allows 64-bit integers as strings).
    Number,
}

impl FieldKind {
    fn accepts(self, value: &Value) -> bool {
        match self {
            FieldKind::String => value.is_string(),
            FieldKind::Bool => value.is_boolean(),
            FieldKind::Number => value.is_number() || value.is_string(),
        }
    }

    fn name(self) -> &'static str {
        match self {
            FieldKind::String => "string",
            FieldKind::Bool => "bool",
            FieldKind::Number => "number",
        }
    }
}

/// The fields of a message type, as the codec checks them.
///
/// Unknown fields are ignored, as Connect's JSON codecs do by default; `null` means the
/// field's default value, as in proto3 JSON.
///
/// ```
/// use interceptor_bench::rpc::{FieldKind, MessageSchema};
/// use serde_json::json;
///
/// let schema = MessageSchema::new("greeter.v1.SayHelloRequest", &[("name", FieldKind::String)]);
/// assert!(schema.check(&json!({"name": "Ada", "extra": 1})).is_ok());
/// let err = schema.check(&json!({"name": 7})).unwrap_err();
/// assert_eq!(err.to_string(), "greeter.v1.SayHelloRequest.name: expected string, got 7");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageSchema {
    /// The protobuf message type's full name.
    pub type_name: &'static str,
    /// Each field's JSON name and kind.
    pub fields: &'static [(&'static str, FieldKind)],
}

/// Why a message does not fit its schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaViolation(String);

impl MessageSchema {
    /// A schema with the given type name and fields.
    pub const fn new(type_name: &'static str, fields: &'static [(&'static str, FieldKind)]) -> Self {
        MessageSchema { type_name, fields }
    }

    /// Checks that `message` is a JSON object whose known fields have the right kinds.
    pub fn check(&self, message: &Value) -> Result<(), SchemaViolation> {
        let object = message.as_object().ok_or_else(|| {
            SchemaViolation(format!("{}: expected a JSON object, got {}", self.type_name, kind_of(message)))
        })?;
        for (name, kind) in self.fields {
            match object.get(*name) {
                None | Some(Value::Null) => {}
                Some(value) if kind.accepts(value) => {}
                Some(value) => {
                    return Err(SchemaViolation(format!(
                        "{}.{name}: expected {}, got {value}",
                        self.type_name,
                        kind.name()
                    )));
                }
            }
        }
        Ok(())
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a bool",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
