//! The protobuf binary form of a message, transcoded to and from its proto3 JSON form with
//! the message's [`MessageSchema`].
//!
//! Interceptors see every message as proto3 JSON ([`Message`]), whatever the wire codec, so
//! the codec needs `binary <-> serde_json::Value`, not generated Rust types. The schema already
//! lists each field's name, number and scalar type; this module walks it with prost's wire
//! primitives (`prost::encoding`: keys, varints, length-delimited strings, `skip_field` for
//! unknown fields — the functions prost's generated code calls), so any flat message the
//! router is given works with no generated code, no descriptor pool and no `protoc`.
//! prost-reflect's dynamic messages would do the same through a descriptor pool (and protox to
//! build it without `protoc`), for messages of one or two scalar fields.
//!
//! Decoding follows proto3: unknown fields are skipped, the last value of a repeated scalar
//! wins, absent fields stay absent (their default); a wrong wire type, a truncated varint or
//! length and invalid UTF-8 are errors. Encoding omits default values (`""`, `false`, `0`).
//!
//! ```
//! use interceptor_bench::greeter::SAY_HELLO_REQUEST;
//! use serde_json::json;
//!
//! let bytes = SAY_HELLO_REQUEST.encode_proto(&json!({"name": "Ada"})).unwrap();
//! assert_eq!(bytes, b"\x0a\x03Ada");
//! assert_eq!(SAY_HELLO_REQUEST.decode_proto(&bytes).unwrap(), json!({"name": "Ada"}));
//! assert!(SAY_HELLO_REQUEST.decode_proto(b"\x0a\x09Ada").is_err()); // length past the end
//! ```

use prost::encoding::{self, DecodeContext, WireType};
use serde_json::{Map, Value};

use super::Message;
use super::schema::{Field, FieldKind, MessageSchema, SchemaViolation};

/// Why bytes are not a protobuf message of the expected type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed protobuf {type_name}: {reason}")]
pub struct ProtoDecodeError {
    type_name: &'static str,
    reason: String,
}

impl MessageSchema {
    /// Decodes the protobuf binary form into the proto3 JSON form.
    ///
    /// # Errors
    /// A truncated varint or length, a wrong wire type for a known field, invalid UTF-8 in a
    /// string, an out-of-range field number.
    pub fn decode_proto(&self, mut bytes: &[u8]) -> Result<Message, ProtoDecodeError> {
        let error = |e: prost::DecodeError| ProtoDecodeError { type_name: self.type_name, reason: e.to_string() };
        let mut object = Map::new();
        while !bytes.is_empty() {
            let (number, wire_type) = encoding::decode_key(&mut bytes).map_err(error)?;
            let Some(field) = self.fields.iter().find(|field| field.number == number) else {
                encoding::skip_field(wire_type, number, &mut bytes, DecodeContext::default()).map_err(error)?;
                continue;
            };
            let value = decode_value(field, wire_type, &mut bytes).map_err(error)?;
            object.insert(field.name.to_owned(), value);
        }
        Ok(Value::Object(object))
    }

    /// Encodes the proto3 JSON form into the protobuf binary form, fields in schema order.
    /// Fields the schema does not name are dropped, as a protobuf encoder would not know them.
    ///
    /// # Errors
    /// When `message` is not an object or a known field has the wrong JSON kind.
    pub fn encode_proto(&self, message: &Message) -> Result<Vec<u8>, SchemaViolation> {
        self.check(message)?;
        let mut buf = Vec::new();
        for field in self.fields {
            let Some(value) = message.get(field.name).filter(|value| !value.is_null()) else { continue };
            let wrong = || {
                SchemaViolation(format!(
                    "{}.{}: expected {}, got {value}",
                    self.type_name,
                    field.name,
                    field.kind.name()
                ))
            };
            let tag = field.number;
            match field.kind {
                FieldKind::String => {
                    let text = value.as_str().ok_or_else(wrong)?;
                    if !text.is_empty() {
                        encoding::encode_key(tag, WireType::LengthDelimited, &mut buf);
                        encoding::encode_varint(text.len() as u64, &mut buf);
                        buf.extend_from_slice(text.as_bytes());
                    }
                }
                FieldKind::Bool => {
                    if value.as_bool().ok_or_else(wrong)? {
                        encoding::bool::encode(tag, &true, &mut buf);
                    }
                }
                FieldKind::Int64 => {
                    let number = match value {
                        Value::String(digits) => digits.parse::<i64>().ok(),
                        other => other.as_i64(),
                    }
                    .ok_or_else(wrong)?;
                    if number != 0 {
                        encoding::int64::encode(tag, &number, &mut buf);
                    }
                }
                FieldKind::Double => {
                    let number = value.as_f64().ok_or_else(wrong)?;
                    if number != 0.0 {
                        encoding::double::encode(tag, &number, &mut buf);
                    }
                }
            }
        }
        Ok(buf)
    }
}

fn decode_value(field: &Field, wire_type: WireType, bytes: &mut &[u8]) -> Result<Value, prost::DecodeError> {
    let context = DecodeContext::default();
    Ok(match field.kind {
        FieldKind::String => {
            let mut text = String::new();
            encoding::string::merge(wire_type, &mut text, bytes, context)?;
            Value::String(text)
        }
        FieldKind::Bool => {
            let mut flag = false;
            encoding::bool::merge(wire_type, &mut flag, bytes, context)?;
            Value::Bool(flag)
        }
        FieldKind::Int64 => {
            let mut number = 0i64;
            encoding::int64::merge(wire_type, &mut number, bytes, context)?;
            // proto3 JSON writes 64-bit integers as strings.
            Value::String(number.to_string())
        }
        FieldKind::Double => {
            let mut number = 0f64;
            encoding::double::merge(wire_type, &mut number, bytes, context)?;
            serde_json::Number::from_f64(number).map_or(Value::String(number.to_string()), Value::Number)
        }
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const ALL_KINDS: MessageSchema = MessageSchema::new(
        "test.AllKinds",
        &[
            Field::new(1, "name", FieldKind::String),
            Field::new(2, "flag", FieldKind::Bool),
            Field::new(3, "count", FieldKind::Int64),
            Field::new(4, "ratio", FieldKind::Double),
        ],
    );

    #[test]
    fn every_kind_survives_the_round_trip_and_defaults_are_omitted() {
        let message = json!({"name": "Ada", "flag": true, "count": "-42", "ratio": 1.5});
        let bytes = ALL_KINDS.encode_proto(&message).unwrap();
        assert_eq!(ALL_KINDS.decode_proto(&bytes).unwrap(), message);
        let defaults = json!({"name": "", "flag": false, "count": 0, "ratio": 0.0});
        assert!(ALL_KINDS.encode_proto(&defaults).unwrap().is_empty());
    }

    #[test]
    fn unknown_fields_are_skipped_and_the_last_value_wins() {
        // field 9 (varint 7), field 1 "a", field 1 "b"
        let bytes = b"\x48\x07\x0a\x01a\x0a\x01b";
        assert_eq!(ALL_KINDS.decode_proto(bytes).unwrap(), json!({"name": "b"}));
    }

    #[test]
    fn malformed_bytes_are_errors() {
        for (case, bytes) in [
            ("truncated varint", &b"\x18\xff"[..]),
            ("wrong wire type", b"\x0d\x00\x00\x00\x00"),
            ("length past the end", b"\x0a\x05ab"),
            ("invalid UTF-8", b"\x0a\x02\xff\xfe"),
            ("field number 0", b"\x00\x01"),
        ] {
            let error = ALL_KINDS.decode_proto(bytes).unwrap_err();
            assert!(error.to_string().starts_with("malformed protobuf test.AllKinds: "), "{case}: {error}");
        }
    }

    #[test]
    fn wrong_json_kinds_do_not_encode() {
        assert!(ALL_KINDS.encode_proto(&json!({"name": 7})).is_err());
        assert!(ALL_KINDS.encode_proto(&json!({"count": "seven"})).is_err());
        assert!(ALL_KINDS.encode_proto(&json!([1])).is_err());
    }
}
