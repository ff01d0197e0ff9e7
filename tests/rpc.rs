//! The RPC model: Connect codes and their HTTP statuses, procedures, the stack catalog.

use interceptor_bench::rpc::{Code, Procedure};
use interceptor_bench::stack::{Interceptor, catalog, cumulative_chain, find, seed_stacks};

#[test]
fn every_connect_code_maps_to_the_status_the_protocol_says() {
    let expected = [
        ("canceled", 499),
        ("unknown", 500),
        ("invalid_argument", 400),
        ("deadline_exceeded", 504),
        ("not_found", 404),
        ("already_exists", 409),
        ("permission_denied", 403),
        ("resource_exhausted", 429),
        ("failed_precondition", 400),
        ("aborted", 409),
        ("out_of_range", 400),
        ("unimplemented", 501),
        ("internal", 500),
        ("unavailable", 503),
        ("data_loss", 500),
        ("unauthenticated", 401),
    ];
    assert_eq!(Code::ALL.len(), expected.len());
    for (code, (name, status)) in Code::ALL.into_iter().zip(expected) {
        assert_eq!(code.as_str(), name);
        assert_eq!(code.http_status(), status, "{name}");
        assert_eq!(code.status_code().as_u16(), status);
        assert_eq!(name.parse::<Code>(), Ok(code));
    }
    assert!("Internal".parse::<Code>().is_err());
}

#[test]
fn procedures_must_be_package_service_slash_method() {
    for bad in ["", "/", "SayHello", "Greeter/SayHello", "pkg.Greeter/", "/SayHello", "pkg.Greeter/a/b", ".Greeter/M"] {
        assert!(Procedure::parse(bad).is_err(), "{bad:?} was accepted");
    }
    let procedure = Procedure::parse("a.b.C/D").unwrap();
    assert_eq!((procedure.service(), procedure.method()), ("a.b.C", "D"));
}

#[test]
fn the_full_stack_is_the_seed_chain_in_order() {
    let full = find("full").unwrap();
    assert_eq!(
        full.interceptor_names(),
        [
            "error_handler",
            "timeout",
            "bulkhead",
            "circuit_breaker",
            "retry",
            "validation",
            "serializer",
            "logger",
            "otel"
        ]
    );
}

#[test]
fn the_catalog_has_the_seed_stacks_first_and_every_interceptor_alone_once() {
    let names: Vec<String> = catalog().iter().map(|s| s.name().to_owned()).collect();
    assert_eq!(&names[..5], ["full", "baseline", "validation", "logger", "tracing"]);
    let mut unique = names.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), names.len(), "stack names are unique: {names:?}");
    for interceptor in Interceptor::ALL {
        let alone = catalog().into_iter().filter(|s| s.interceptor_names() == [interceptor.name()]).count();
        assert_eq!(alone, 1, "{interceptor} alone appears once");
    }
    assert!(find("baseline").unwrap().is_empty());
    assert_eq!(seed_stacks().len(), 5);
}

#[test]
fn the_cumulative_chain_adds_one_interceptor_at_a_time() {
    let chain = cumulative_chain();
    assert_eq!(chain.len(), 9);
    for (n, stack) in chain.iter().enumerate() {
        assert_eq!(stack.len(), n + 1);
        assert_eq!(stack.interceptor_names(), find("full").unwrap().interceptor_names()[..=n]);
    }
}

#[test]
fn unknown_names_are_clear_errors() {
    let error = find("fastest").unwrap_err();
    assert!(error.contains("fastest") && error.contains("full"), "{error}");
    let error = "cache".parse::<Interceptor>().unwrap_err().to_string();
    assert!(error.contains("cache") && error.contains("circuit_breaker"), "{error}");
}
