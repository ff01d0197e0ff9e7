//! `Procedure::parse` on any string and `MessageSchema::check` on any JSON: an answer, never a
//! panic; a parsed procedure splits back into the string it came from.
#![no_main]

use interceptor_bench::greeter::SAY_HELLO_REQUEST;
use interceptor_bench::rpc::Procedure;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        if let Ok(procedure) = Procedure::parse(text) {
            assert_eq!(format!("{}/{}", procedure.service(), procedure.method()), procedure.as_str());
        }
    }
    if let Ok(message) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = SAY_HELLO_REQUEST.check(&message);
    }
});
