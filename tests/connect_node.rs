//! The official Connect-ES client for Node (`@connectrpc/connect-node` 2.1, npm) against
//! `ibench serve`: its default binary protobuf transport, JSON mode and gRPC transport, each
//! calling SayHello and SayGoodbye and getting `invalid_argument` on the validation listener
//! (tests/clients/connect-node/client.mjs).
//!
//! Needs `node` and `npm ci` in tests/clients/connect-node (`.ci/run` does both). Skipped with
//! a message when either is missing, unless `CI` is set: then it fails.

mod support;

use std::path::Path;
use std::process::Command;

use support::{addr_of, start_stacks};

fn skip_or_fail(why: &str) {
    assert!(std::env::var_os("CI").is_none(), "CI must run the Connect-ES client test: {why}");
    eprintln!("skipping the Connect-ES client test: {why}");
}

#[test]
fn connect_es_for_node_speaks_binary_json_and_grpc_to_ibench_serve() {
    let client = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/connect-node");
    if Command::new("node").arg("--version").output().is_err() {
        return skip_or_fail("node is not installed");
    }
    if !client.join("node_modules/@connectrpc/connect-node").is_dir() {
        return skip_or_fail("run `npm ci` in tests/clients/connect-node first");
    }
    let (_serve, listeners) = start_stacks(&["baseline", "validation"], &[]);
    let url = |stack: &str| format!("http://{}", addr_of(&listeners, stack));
    let output = Command::new("node")
        .arg("client.mjs")
        .args([url("baseline"), url("validation")])
        .current_dir(&client)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "the Connect-ES client failed:\n{stdout}");
    for transport in ["connect binary (default)", "connect json", "connect binary over h2c", "grpc"] {
        assert!(stdout.contains(&format!("ok {transport}:")), "{transport} did not pass:\n{stdout}");
    }
}
