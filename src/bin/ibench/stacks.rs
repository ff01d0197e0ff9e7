//! `ibench stacks`: the catalog and the ecosystem catalog, as a table or as JSON.

use std::process::ExitCode;

use interceptor_bench::stack::{catalog, ecosystem};

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON (`[{"name": ..., "interceptors": [...], "http_layers": [...]}]`) instead of a
    /// table: `interceptors` run inside the codec (RPC level), `http_layers` around it.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> ExitCode {
    let mut stacks = catalog();
    stacks.extend(ecosystem());
    if args.json {
        let listing: Vec<_> = stacks
            .iter()
            .map(|s| {
                serde_json::json!({"name": s.name(), "interceptors": s.interceptor_names(), "http_layers": s.http_layer_names()})
            })
            .collect();
        println!("{}", serde_json::Value::from(listing));
    } else {
        let width = stacks.iter().map(|s| s.name().len()).max().unwrap_or(0);
        for stack in &stacks {
            println!("{:width$}  {}", stack.name(), stack.describe());
        }
    }
    ExitCode::SUCCESS
}
