//! `ibench overhead`: what each interceptor costs, from the last `cargo bench` run.

use std::process::ExitCode;

use interceptor_bench::overhead::OverheadReport;
use interceptor_bench::results::Results;

use crate::results_args::ResultsArgs;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    results: ResultsArgs,
    /// Read the criterion baseline saved under this name (`--save-baseline NAME`) instead of the last run.
    #[arg(long, value_name = "NAME", default_value = Results::LAST_RUN)]
    baseline: String,
}

/// Exit 0 within budget, 1 when a stack or chain step is over budget, 2 when there is nothing
/// to read.
pub fn run(args: Args) -> ExitCode {
    let report = args
        .results
        .read(&args.baseline)
        .map_err(|e| e.to_string())
        .and_then(|results| OverheadReport::new(&results, args.results.budget).map_err(|e| e.to_string()));
    let report = match report {
        Ok(report) => report,
        Err(message) => {
            eprintln!("ibench overhead: {message}");
            return ExitCode::from(2);
        }
    };
    print!("{}", report.render(args.results.format));
    let breaches: Vec<String> = report
        .breaches()
        .map(|(suite, stack)| if suite.is_empty() { stack.to_owned() } else { format!("{suite}: {stack}") })
        .collect();
    if breaches.is_empty() {
        ExitCode::SUCCESS
    } else {
        eprintln!("ibench overhead: over budget: {}", breaches.join(", "));
        ExitCode::FAILURE
    }
}
