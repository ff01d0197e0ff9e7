//! Exact allocation counts of one call per stack, with a counting global allocator.
//!
//! `cargo bench --bench allocations` counts, for every stack of the instruction bench (one
//! in-process RPC) and every HTTP-level stack (`ecosystem/baseline` and each ecosystem layer,
//! `ecosystem_4k/…` with a 4 KiB answer: one HTTP request through the codec), what one warmed
//! call allocates; each is counted twice on freshly built stacks and must agree. It prints a table and writes
//! `target/ibench/allocations.json`, which `ibench instructions compare` shows beside the
//! instruction counts. Exits 1 when a count is not repeatable.

use std::process::ExitCode;

use interceptor_bench::allocations::{Allocations, CountingAllocator, DEFAULT_RESULTS_FILE, StackAllocations, count};
use interceptor_bench::instructions::{counted_stacks, is_http_stack, prepare_one_call, prepare_one_http_call};

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// What one call of a freshly prepared stack allocates.
fn per_call(name: &str) -> Allocations {
    if is_http_stack(name) {
        let mut call = prepare_one_http_call(name);
        count(|| drop(call.run())).1
    } else {
        let mut call = prepare_one_call(name);
        count(|| drop(call.run())).1
    }
}

fn main() -> ExitCode {
    let mut rows = Vec::new();
    let mut unrepeatable = Vec::new();
    let names = counted_stacks();
    let width = names.iter().map(String::len).max().unwrap_or(0);
    println!("{:width$}  {:>11}  {:>8}", "stack", "allocations", "bytes");
    for name in names {
        let (first, second) = (per_call(&name), per_call(&name));
        let note = if first == second { "" } else { "  NOT REPEATABLE" };
        println!("{name:width$}  {:>11}  {:>8}{note}", first.allocations, first.bytes);
        if first != second {
            unrepeatable.push(format!("{name} ({} then {})", first.allocations, second.allocations));
        }
        rows.push(StackAllocations { name, per_call: first });
    }
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(DEFAULT_RESULTS_FILE);
    let written = std::fs::create_dir_all(path.parent().expect("a folder"))
        .and_then(|()| std::fs::write(&path, serde_json::to_string_pretty(&rows).expect("JSON") + "\n"));
    match written {
        Ok(()) => println!("wrote {}", path.display()),
        Err(e) => {
            eprintln!("cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if unrepeatable.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("allocation counts differ between two fresh stacks: {}", unrepeatable.join(", "));
        ExitCode::FAILURE
    }
}
