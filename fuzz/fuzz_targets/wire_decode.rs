//! The protobuf, gRPC framing and gzip decoders on any bytes: an answer, never a panic, and
//! never more than the limit decompressed; what decodes re-encodes to the same message.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use interceptor_bench::connect::unframe_grpc;
use interceptor_bench::greeter::SAY_HELLO_REQUEST;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    /// Read the gRPC message as gzip when its flag says so (as with `grpc-encoding: gzip`).
    gzip: bool,
    /// The decompressed size limit, kept small so that bombs are cheap to find.
    limit: u16,
    body: Vec<u8>,
}

fuzz_target!(|input: Input| {
    let limit = usize::from(input.limit);
    // The body as one protobuf message.
    if let Ok(message) = SAY_HELLO_REQUEST.decode_proto(&input.body) {
        let again = SAY_HELLO_REQUEST.encode_proto(&message).expect("a decoded message encodes");
        assert_eq!(SAY_HELLO_REQUEST.decode_proto(&again).expect("what we encode decodes"), message);
    }
    // The body as a gRPC unary request body, possibly gzipped.
    if let Ok(message) = unframe_grpc(&Bytes::from(input.body), input.gzip, limit) {
        assert!(message.len() <= limit, "{} bytes past the limit of {limit}", message.len());
        let _ = SAY_HELLO_REQUEST.decode_proto(&message);
    }
});
