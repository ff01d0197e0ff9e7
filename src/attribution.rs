//! Which layer the time goes to: per-layer attribution of a sampled profile, and its call
//! stacks rewritten so that a flamegraph's frames carry layer names.
//!
//! A flamegraph of a tower stack is a wall of `<… as Service<Request>>::call` and
//! `Future::poll` frames. Here every sample is given to the *innermost* frame that belongs to
//! one of the project's interceptors or one of the ecosystem's layers ([`layer_of`]): the work
//! a layer does, including the libraries it calls (the logger's formatting, the serializer's
//! `serde_json`), counts for that layer; the glue between layers counts for the layer it runs
//! in. The benches' profiler (`benches/support`) writes [`Attribution`] as
//! `profile/attribution.json` beside each flamegraph and [`fold_by_layer`]'s stacks as
//! `profile/flamegraph-layers.svg`; the HTML report shows both.
//!
//! ```
//! use interceptor_bench::attribution::{Attribution, layer_of};
//!
//! assert_eq!(layer_of("<interceptor_bench::interceptors::logger::Logger<S> as tower_service::Service<R>>::call"), Some("logger"));
//! assert_eq!(layer_of("serde_json::ser::to_vec"), None);
//!
//! // Two samples, leaf first: serde_json under the serializer, and one in the harness.
//! let samples = [
//!     (vec!["serde_json::ser::to_vec".to_owned(), "interceptor_bench::interceptors::serializer::encode".to_owned()], 3),
//!     (vec!["criterion::bencher::iter".to_owned()], 1),
//! ];
//! let attribution = Attribution::of(samples.iter().map(|(s, n)| (s.as_slice(), *n)));
//! assert_eq!(attribution.samples, 4);
//! assert_eq!(attribution.layers[0].layer, "serializer");
//! assert_eq!(attribution.layers[0].share, 0.75);
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// The layers attributed, as (module path prefix, layer name): the project's interceptors, its
/// codec and handler, and the ecosystem catalog's layers.
const LAYERS: [(&str, &str); 27] = [
    ("interceptor_bench::interceptors::error_handler::", "error_handler"),
    ("interceptor_bench::interceptors::timeout::", "timeout"),
    ("interceptor_bench::interceptors::bulkhead::", "bulkhead"),
    ("interceptor_bench::interceptors::circuit_breaker::", "circuit_breaker"),
    ("interceptor_bench::interceptors::retry::", "retry"),
    ("interceptor_bench::interceptors::fallback::", "fallback"),
    ("interceptor_bench::interceptors::validation::", "validation"),
    ("interceptor_bench::interceptors::serializer::", "serializer"),
    ("interceptor_bench::interceptors::logger::", "logger"),
    ("interceptor_bench::interceptors::otel::", "otel"),
    ("interceptor_bench::interceptors::method_filter::", "method_filter"),
    ("interceptor_bench::connect::", "connect codec"),
    ("interceptor_bench::greeter::", "greeter"),
    ("tower_http::trace::", "tower_http_trace"),
    ("tower_http::compression", "tower_http_compression"),
    ("tower_http::cors::", "tower_http_cors"),
    ("tower_http::request_id::", "tower_http_request_id"),
    ("tower_http::sensitive_headers::", "tower_http_sensitive_headers"),
    ("tower_http::catch_panic::", "tower_http_catch_panic"),
    ("tower_http::timeout::", "tower_http_timeout"),
    ("tower_http::limit::", "tower_http_body_limit"),
    ("tower_http::validate_request::", "tower_http_validate_bearer"),
    ("tower_http::auth::", "tower_http_validate_bearer"),
    ("tower::limit::concurrency::", "tower_concurrency_limit"),
    ("tower::limit::rate::", "tower_rate_limit"),
    ("tower::load_shed::", "tower_load_shed"),
    ("tower::buffer::", "tower_buffer"),
];

/// The layer a demangled symbol belongs to, if any: the symbol's own path (inside `<…>` for a
/// trait method, inside `drop_in_place<…>` for a drop) starts with a layer's module.
pub fn layer_of(symbol: &str) -> Option<&'static str> {
    let mut path = symbol.trim_start_matches('<');
    if let Some(dropped) = path.strip_prefix("core::ptr::drop_in_place<") {
        path = dropped.trim_start_matches('<');
    }
    LAYERS.iter().find(|(prefix, _)| path.starts_with(prefix)).map(|(_, layer)| *layer)
}

/// One layer's part of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LayerShare {
    /// The layer (an interceptor, `connect codec`, `greeter`, or an ecosystem layer).
    pub layer: String,
    /// Samples whose innermost layer frame is this layer's.
    pub samples: u64,
    /// `samples` as a fraction of all the profile's samples.
    pub share: f64,
}

/// A profile's samples by layer, largest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Attribution {
    /// All samples of the profile.
    pub samples: u64,
    /// Each layer that has samples, largest first; the rest is outside every layer (the
    /// harness, the runtime).
    pub layers: Vec<LayerShare>,
}

impl Attribution {
    /// Attributes `samples`: each a call stack (demangled symbols, leaf first) and its count.
    pub fn of<'a>(samples: impl IntoIterator<Item = (&'a [String], u64)>) -> Attribution {
        let mut by_layer: BTreeMap<&'static str, u64> = BTreeMap::new();
        let mut total = 0;
        for (stack, count) in samples {
            total += count;
            if let Some(layer) = stack.iter().find_map(|symbol| layer_of(symbol)) {
                *by_layer.entry(layer).or_default() += count;
            }
        }
        let mut layers: Vec<LayerShare> = by_layer
            .into_iter()
            .map(|(layer, samples)| LayerShare {
                layer: layer.to_owned(),
                samples,
                share: if total == 0 { 0.0 } else { samples as f64 / total as f64 },
            })
            .collect();
        layers.sort_by(|a, b| b.samples.cmp(&a.samples).then_with(|| a.layer.cmp(&b.layer)));
        Attribution { samples: total, layers }
    }

    /// A few lines for a terminal: each layer's share, largest first.
    pub fn to_table(&self) -> String {
        let width = self.layers.iter().map(|l| l.layer.len()).max().unwrap_or(0);
        let mut out = String::new();
        for layer in &self.layers {
            out += &format!("  {:width$}  {:>5.1}%  ({} samples)\n", layer.layer, layer.share * 100.0, layer.samples);
        }
        let outside: u64 = self.samples - self.layers.iter().map(|l| l.samples).sum::<u64>();
        out +=
            &format!("  {:width$}  {:>5.1}%  (harness, runtime)\n", "outside layers", percent(outside, self.samples));
        out
    }

    /// Reads an `attribution.json`.
    ///
    /// # Errors
    /// The file cannot be read or is no attribution.
    pub fn read(path: &Path) -> Result<Attribution, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 * 100.0 / whole as f64 }
}

/// `stack` (leaf first) as one folded-stack line, root first, with its frames grouped by layer:
/// everything outside the outermost layer becomes `harness`, each layer's frames (and the glue
/// between it and the next layer) become the layer's name, and the frames inside the innermost
/// layer (the libraries it calls) keep their own names. A stack with no layer frame is
/// `harness;<its leaf>`.
///
/// ```
/// use interceptor_bench::attribution::fold_by_layer;
/// let stack: Vec<String> = [
///     "serde_json::ser::to_vec",
///     "interceptor_bench::interceptors::serializer::encode",
///     "tower::util::boxed::call",
///     "<interceptor_bench::interceptors::logger::Logger<S> as Service>::call",
///     "criterion::bencher::iter",
/// ].map(String::from).to_vec();
/// assert_eq!(fold_by_layer(&stack, 7), "harness;logger;serializer;serde_json::ser::to_vec 7");
/// ```
pub fn fold_by_layer(stack: &[String], count: u64) -> String {
    let innermost = stack.iter().position(|symbol| layer_of(symbol).is_some());
    let mut frames: Vec<&str> = vec!["harness"];
    match innermost {
        None => frames.extend(stack.first().map(String::as_str)),
        Some(innermost) => {
            for layer in stack[innermost..].iter().rev().filter_map(|symbol| layer_of(symbol)) {
                if frames.last() != Some(&layer) {
                    frames.push(layer);
                }
            }
            frames.extend(stack[..innermost].iter().rev().map(String::as_str));
        }
    }
    // `;` separates frames in the folded format (the count follows the last space).
    let frames: Vec<String> = frames.iter().map(|frame| frame.replace(';', ":")).collect();
    format!("{} {count}", frames.join(";"))
}
