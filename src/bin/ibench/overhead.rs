//! `ibench overhead`: what each interceptor costs, from the last `cargo bench` run.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use interceptor_bench::overhead::{Format, OverheadReport};
use interceptor_bench::results::{Results, criterion_dir};

#[derive(clap::Args)]
pub struct Args {
    /// Per-interceptor budget (e.g. 2ms, 500us; the seed's target is 2ms); a stack of n interceptors gets n budgets.
    #[arg(long, default_value = "2ms", value_parser = humantime::parse_duration)]
    budget: Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Criterion's results directory [default: $CRITERION_HOME, else $CARGO_TARGET_DIR/criterion, else target/criterion]
    #[arg(long, value_name = "DIR")]
    criterion_dir: Option<PathBuf>,
    /// Read the criterion baseline saved under this name (`--save-baseline NAME`) instead of the last run.
    #[arg(long, value_name = "NAME", default_value = Results::LAST_RUN)]
    baseline: String,
}

/// Exit 0 within budget, 1 when a stack or chain step is over budget, 2 when there is nothing
/// to read.
pub fn run(args: Args) -> ExitCode {
    let dir = criterion_dir(args.criterion_dir.as_deref());
    let report = Results::read(&dir, &args.baseline)
        .map_err(|e| e.to_string())
        .and_then(|results| OverheadReport::new(&results, args.budget).map_err(|e| e.to_string()));
    let report = match report {
        Ok(report) => report,
        Err(message) => {
            eprintln!("ibench overhead: {message}");
            return ExitCode::from(2);
        }
    };
    print!("{}", report.render(args.format));
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
