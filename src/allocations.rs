//! Exact allocation counts per call: a counting global allocator, and what one call through a
//! stack allocates — a deterministic figure, like instructions, that no noisy machine moves.
//!
//! Counting needs [`CountingAllocator`] installed as the binary's global allocator; the crate's
//! `benches/allocations.rs` does, and writes [`DEFAULT_RESULTS_FILE`], which `ibench
//! instructions compare` prints beside the instruction counts. Only the allocations of the
//! counting thread inside [`count`] are counted, so other threads (and the test harness) do
//! not disturb the figure.
//!
//! ```
//! use interceptor_bench::allocations::{CountingAllocator, count};
//!
//! // In your bench or test binary:
//! // #[global_allocator]
//! // static ALLOCATOR: CountingAllocator = CountingAllocator;
//! let (_, counted) = count(|| vec![1u8; 16]);
//! // Without the allocator installed nothing is counted; `installed()` tells.
//! assert_eq!(counted.allocations > 0, interceptor_bench::allocations::installed());
//! # let _ = CountingAllocator;
//! ```

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// Where `benches/allocations.rs` writes its counts, relative to the crate root.
pub const DEFAULT_RESULTS_FILE: &str = "target/ibench/allocations.json";

/// The system allocator, counting the allocations (and reallocations) of the thread inside
/// [`count`].
#[derive(Debug, Clone, Copy, Default)]
pub struct CountingAllocator;

thread_local! {
    /// `Some((allocations, bytes))` while this thread counts.
    static COUNTS: Cell<Option<(u64, u64)>> = const { Cell::new(None) };
}

fn record(bytes: usize) {
    // `try_with`: a thread being torn down may still allocate.
    let _ = COUNTS.try_with(|counts| {
        if let Some((allocations, total)) = counts.get() {
            counts.set(Some((allocations + 1, total + bytes as u64)));
        }
    });
}

// SAFETY: every call is forwarded to `System` unchanged; counting touches only a const-initialised
// thread-local `Cell` without a destructor, which never allocates.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        record(layout.size());
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        record(new_size);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }
}

/// What a piece of code allocated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Allocations {
    /// Allocations and reallocations.
    pub allocations: u64,
    /// Bytes asked for by them.
    pub bytes: u64,
}

/// Runs `f`, counting what this thread allocates meanwhile (nothing unless [`CountingAllocator`]
/// is the global allocator).
pub fn count<R>(f: impl FnOnce() -> R) -> (R, Allocations) {
    let outer = COUNTS.with(|counts| counts.replace(Some((0, 0))));
    let result = f();
    let (allocations, bytes) = COUNTS.with(|counts| counts.replace(outer)).unwrap_or_default();
    if let Some((outer_allocations, outer_bytes)) = outer {
        COUNTS.with(|counts| counts.set(Some((outer_allocations + allocations, outer_bytes + bytes))));
    }
    (result, Allocations { allocations, bytes })
}

/// True when [`CountingAllocator`] is the global allocator (a boxed value is counted).
pub fn installed() -> bool {
    count(|| std::hint::black_box(Box::new(0u64))).1.allocations > 0
}

/// One stack's allocations for one call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StackAllocations {
    /// The stack, named as in the instruction counts (`ecosystem/<layer>` for HTTP-level stacks).
    pub name: String,
    /// What one call allocated, after warm-up.
    #[serde(flatten)]
    pub per_call: Allocations,
}

/// Reads the counts `benches/allocations.rs` wrote.
///
/// # Errors
/// The file is missing or malformed; the message says what to run.
pub fn read_results(path: &Path) -> Result<Vec<StackAllocations>, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("{}: {e}; run `cargo bench --bench allocations` first", path.display()))?;
    serde_json::from_str(&text)
        .map_err(|e| format!("{}: malformed ({e}); re-run `cargo bench --bench allocations`", path.display()))
}
