//! `ibench overhead`: what each interceptor costs, from the last `cargo bench` run.

use std::process::ExitCode;

use interceptor_bench::overhead::{OverheadReport, Source};
use interceptor_bench::paired::PairedError;
use interceptor_bench::results::Results;

use crate::results_args::ResultsArgs;

#[derive(clap::Args)]
pub struct Args {
    #[command(flatten)]
    results: ResultsArgs,
    /// Where the figures come from: paired measurements (`cargo bench --bench paired`, each stack interleaved in time
    /// with its reference) or criterion's per-bench medians (`cargo bench --bench in_process`, not paired)
    /// [default: paired, or criterion with a warning when there are no paired results]
    #[arg(long, value_enum)]
    source: Option<Source>,
    /// Read the criterion baseline saved under this name (`--save-baseline NAME`) instead of the last run (implies
    /// --source criterion).
    #[arg(long, value_name = "NAME", default_value = Results::LAST_RUN)]
    baseline: String,
}

/// Exit 0 within budget, 1 when a stack or chain step is over budget, 2 when there is nothing
/// to read.
pub fn run(args: Args) -> ExitCode {
    let report = report(&args);
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

fn report(args: &Args) -> Result<OverheadReport, String> {
    let budget = args.results.budget;
    let criterion = || {
        let results = args.results.read(&args.baseline).map_err(|e| e.to_string())?;
        OverheadReport::new(&results, budget).map_err(|e| e.to_string())
    };
    let source = args.source.or((args.baseline != Results::LAST_RUN).then_some(Source::Criterion));
    match source {
        Some(Source::Criterion) => criterion(),
        Some(Source::Paired) | None => {
            let dir = args.results.paired_dir();
            match args.results.read_paired() {
                Ok(suites) => OverheadReport::from_paired(&suites, &dir, budget).map_err(|e| e.to_string()),
                Err(PairedError::NoResults { .. }) if source.is_none() => {
                    eprintln!(
                        "ibench overhead: no paired results in {} (run `cargo bench --bench paired`); showing criterion's \
                         per-bench medians, which are not paired: their differences carry the machine's drift",
                        dir.display()
                    );
                    criterion()
                }
                Err(e) => Err(e.to_string()),
            }
        }
    }
}
