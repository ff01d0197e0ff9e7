//! Allocation counts per call are exact and repeatable.

use interceptor_bench::allocations::{CountingAllocator, count, installed};
use interceptor_bench::instructions::{prepare_one_call, prepare_one_http_call};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

fn rpc(name: &str) -> u64 {
    let mut call = prepare_one_call(name);
    count(|| drop(call.run())).1.allocations
}

fn http(name: &str) -> u64 {
    let mut call = prepare_one_http_call(name);
    count(|| drop(call.run())).1.allocations
}

#[test]
fn counting_counts_exactly_what_the_closure_allocates() {
    assert!(installed());
    let (_, counted) = count(|| (Box::new(1u64), vec![0u8; 100], String::from("x")));
    assert_eq!((counted.allocations, counted.bytes), (3, 8 + 100 + 1));
    let (_, nested) = count(|| count(|| Box::new(1u8)));
    assert_eq!(nested.allocations, 1, "the inner count's allocation counts for the outer one too");
}

#[test]
fn one_call_allocates_the_same_twice_and_more_with_more_interceptors() {
    for name in ["baseline", "logger", "full"] {
        assert_eq!(rpc(name), rpc(name), "{name}");
    }
    assert!(rpc("baseline") > 0);
    assert!(rpc("logger") > rpc("baseline"));
    assert!(rpc("full") > rpc("logger"));
    for name in ["ecosystem/baseline", "ecosystem/tower_http_trace", "ecosystem/tower_http_request_id"] {
        assert_eq!(http(name), http(name), "{name}");
    }
    assert!(http("ecosystem/tower_http_request_id") > http("ecosystem/baseline"));
}
