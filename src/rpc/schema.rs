//! The shape of a message: which fields exist, their protobuf field numbers and what JSON kind
//! each takes. The codec checks JSON messages against it and transcodes protobuf binary
//! messages with it ([`MessageSchema::decode_proto`], [`MessageSchema::encode_proto`]).

use serde_json::Value;

/// The protobuf scalar type of a field, which decides its JSON kind in proto3 JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    /// `string` fields: a JSON string.
    String,
    /// `bool` fields: a JSON bool.
    Bool,
    /// `int64` fields: a JSON number, or a string of digits (proto3 JSON writes 64-bit
    /// integers as strings).
    Int64,
    /// `double` fields: a JSON number.
    Double,
}

impl FieldKind {
    fn accepts(self, value: &Value) -> bool {
        match self {
            FieldKind::String => value.is_string(),
            FieldKind::Bool => value.is_boolean(),
            FieldKind::Int64 => value.is_number() || value.is_string(),
            FieldKind::Double => value.is_number(),
        }
    }

    pub(crate) fn name(self) -> &'static str {
        match self {
            FieldKind::String => "string",
            FieldKind::Bool => "bool",
            FieldKind::Int64 => "int64",
            FieldKind::Double => "double",
        }
    }
}

/// One field of a message: its JSON name, protobuf field number and type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Field {
    /// The field's proto3 JSON name.
    pub name: &'static str,
    /// The protobuf field number.
    pub number: u32,
    /// The field's type.
    pub kind: FieldKind,
}

impl Field {
    /// Field `number`, called `name`, of type `kind`.
    pub const fn new(number: u32, name: &'static str, kind: FieldKind) -> Self {
        Field { name, number, kind }
    }
}

/// The fields of a message type, as the codec checks them.
///
/// Unknown fields are ignored, as Connect's JSON codecs do by default; `null` means the
/// field's default value, as in proto3 JSON.
///
/// ```
/// use interceptor_bench::rpc::{Field, FieldKind, MessageSchema};
/// use serde_json::json;
///
/// const FIELDS: &[Field] = &[Field::new(1, "name", FieldKind::String)];
/// let schema = MessageSchema::new("greeter.v1.SayHelloRequest", FIELDS);
/// assert!(schema.check(&json!({"name": "Ada", "extra": 1})).is_ok());
/// let err = schema.check(&json!({"name": 7})).unwrap_err();
/// assert_eq!(err.to_string(), "greeter.v1.SayHelloRequest.name: expected string, got 7");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageSchema {
    /// The protobuf message type's full name.
    pub type_name: &'static str,
    /// Its fields.
    pub fields: &'static [Field],
}

/// Why a message does not fit its schema.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SchemaViolation(pub(crate) String);

impl MessageSchema {
    /// A schema with the given type name and fields.
    pub const fn new(type_name: &'static str, fields: &'static [Field]) -> Self {
        MessageSchema { type_name, fields }
    }

    /// Checks that `message` is a JSON object whose known fields have the right kinds.
    pub fn check(&self, message: &Value) -> Result<(), SchemaViolation> {
        let object = message.as_object().ok_or_else(|| {
            SchemaViolation(format!("{}: expected a JSON object, got {}", self.type_name, kind_of(message)))
        })?;
        for Field { name, kind, .. } in self.fields {
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

/// A method: its procedure and the schemas of its request and response messages.
///
/// ```
/// use interceptor_bench::greeter;
///
/// let hello = &greeter::METHODS[0];
/// assert_eq!(hello.procedure, greeter::SAY_HELLO);
/// assert_eq!(hello.response.type_name, "greeter.v1.SayHelloResponse");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MethodSchema {
    /// The procedure, `package.Service/Method`.
    pub procedure: &'static str,
    /// The request message.
    pub request: MessageSchema,
    /// The response message.
    pub response: MessageSchema,
}
