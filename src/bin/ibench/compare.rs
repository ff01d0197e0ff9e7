//! `ibench compare`: the regression gate, the last `cargo bench` run against a saved baseline.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::instructions;
use crate::results_args::ResultsArgs;
use interceptor_bench::baseline::compare::{Comparison, Options, Signal, Threshold};
use interceptor_bench::baseline::{Baseline, DEFAULT_DIR, path_of, validate_name};
use interceptor_bench::instructions::DEFAULT_RESULTS_DIR;
use interceptor_bench::report::{self, Benches, HtmlReport, ReportError, directory_of};
use interceptor_bench::results::Results;

#[derive(clap::Args)]
pub struct Args {
    /// The saved baseline to compare with: <DIR>/<NAME>.json.
    #[arg(long, value_name = "NAME")]
    baseline: String,
    /// The directory of baseline files.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DIR)]
    dir: PathBuf,
    /// The smallest change that counts as a regression: a percentage or a fraction below 1 (0.1)
    /// [default: 10% for timings, 2% with --instructions]
    #[arg(long)]
    threshold: Option<Threshold>,
    /// Compare instruction counts (`baselines/instructions-NAME.json`, from
    /// `cargo bench --features instructions --bench instructions`) instead of criterion's timings.
    #[arg(long, conflicts_with_all = ["signal", "budget", "report", "criterion_dir", "dir"])]
    instructions: bool,
    /// With --instructions: where the instruction bench left its gungraun results.
    #[arg(long, value_name = "DIR", requires = "instructions", default_value = DEFAULT_RESULTS_DIR)]
    results: PathBuf,
    /// Which change the gate judges: each bench relative to its group's baseline bench in the same run (robust to a
    /// slower machine), its absolute time, or both.
    #[arg(long, value_enum, default_value_t = Signal::Relative)]
    signal: Signal,
    #[command(flatten)]
    results_args: ResultsArgs,
    /// Also write the comparison, with the last run's overhead charts, as a self-contained HTML page.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Replace the --report file if it exists (atomically).
    #[arg(long, requires = "report")]
    force: bool,
}

/// The HTML page of `ibench compare --report`: the comparison and the last run's benches.
fn write_report(args: &Args, path: &Path, gate: &Comparison, results: &Results) -> Result<(), ReportError> {
    let benches = Benches::new(results, args.results_args.budget, directory_of(path))?;
    HtmlReport::new(format!("ibench compare --baseline {}", args.baseline))
        .benches(benches)
        .comparison(report::Comparison::from(gate))
        .write(path, args.force)
}

/// Exit 0 when nothing regressed and every stack is within budget, 1 on a regression or a
/// budget breach, 2 when the baseline or the results are missing or unusable.
pub fn run(args: Args) -> ExitCode {
    if args.instructions {
        let threshold = args.threshold.unwrap_or_else(|| "2%".parse().expect("a valid threshold"));
        return instructions::compare_counts(&args.baseline, threshold, args.results_args.format, &args.results);
    }
    if let Some(path) = args.report.as_deref().filter(|path| !args.force && path.exists()) {
        eprintln!("ibench compare: {} exists; pass --force to replace it", path.display());
        return ExitCode::from(2);
    }
    let comparison = validate_name(&args.baseline).map_err(|e| e.to_string()).and_then(|()| {
        let path = path_of(&args.dir, &args.baseline);
        let baseline = Baseline::load(&path).map_err(|e| e.to_string())?;
        let results = args.results_args.read(Results::LAST_RUN).map_err(|e| e.to_string())?;
        let options = Options {
            threshold: args.threshold.unwrap_or_default(),
            signal: args.signal,
            budget: args.results_args.budget,
        };
        let comparison = Comparison::new(&baseline, &path, &results, options).map_err(|e| e.to_string())?;
        if let Some(report) = &args.report {
            write_report(&args, report, &comparison, &results).map_err(|e| e.to_string())?;
            eprintln!("ibench compare: wrote {}", report.display());
        }
        Ok(comparison)
    });
    let comparison = match comparison {
        Ok(comparison) => comparison,
        Err(message) => {
            eprintln!("ibench compare: {message}");
            return ExitCode::from(2);
        }
    };
    print!("{}", comparison.render(args.results_args.format));
    if comparison.passed {
        ExitCode::SUCCESS
    } else {
        eprintln!("ibench compare: {}", comparison.summary());
        if let Some(filter) = comparison.rerun_filter() {
            eprintln!(
                "ibench compare: to confirm on a noisy machine, rerun just those (cargo bench <same --bench flags> -- '{filter}') and compare again"
            );
        }
        ExitCode::FAILURE
    }
}
