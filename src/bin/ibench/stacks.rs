//! `ibench stacks`: the catalog, as a table or as JSON.

use std::process::ExitCode;

use interceptor_bench::stack::catalog;

#[derive(clap::Args)]
pub struct Args {
    /// Print JSON (`[{"name": ..., "interceptors": [...]}]`) instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> ExitCode {
    let stacks = catalog();
    if args.json {
        let listing: Vec<_> = stacks
            .iter()
            .map(|s| serde_json::json!({"name": s.name(), "interceptors": s.interceptor_names()}))
            .collect();
        println!("{}", serde_json::Value::from(listing));
    } else {
        let width = stacks.iter().map(|s| s.name().len()).max().unwrap_or(0);
        for stack in &stacks {
            let chain =
                if stack.is_empty() { "(no interceptors)".to_owned() } else { stack.interceptor_names().join(" → ") };
            println!("{:width$}  {chain}", stack.name());
        }
    }
    ExitCode::SUCCESS
}
