//! `ibench compare`: the regression gate, the last `cargo bench` run against a saved baseline.
//!
//! By default it judges paired ratios (`cargo bench --bench paired`); a baseline saved before
//! paired measurement falls back to criterion's relative signal with a deprecation warning.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::instructions;
use crate::results_args::ResultsArgs;
use interceptor_bench::baseline::compare::{Comparison, Options, Signal, Threshold, default_threshold};
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
    /// The smallest change that counts as a regression: a percentage or a fraction below 1 (0.1). Against a
    /// baseline of 3 or more runs (`ibench baseline save NAME --add-run`) each pair tolerates the larger of this and
    /// 8 × its own run-to-run scatter in those runs. [default: 3% for a paired baseline of 3+ runs, 10% for one
    /// run or criterion's signals, 2% with --instructions]
    #[arg(long)]
    threshold: Option<Threshold>,
    /// Compare instruction counts (`baselines/instructions-NAME.json`, from
    /// `cargo bench --features instructions --bench instructions`) instead of criterion's timings.
    #[arg(long, conflicts_with_all = ["signal", "budget", "report", "criterion_dir", "dir"])]
    instructions: bool,
    /// With --instructions: where the instruction bench left its gungraun results.
    #[arg(long, value_name = "DIR", requires = "instructions", default_value = DEFAULT_RESULTS_DIR)]
    results: PathBuf,
    /// Which change the gate judges. paired: each stack's time over its reference's, the two interleaved in time
    /// (`cargo bench --bench paired`); a slower machine moves both alike. relative: each criterion bench over its
    /// group's baseline bench, measured seconds apart (not paired); absolute: each criterion bench's own median;
    /// both: relative or absolute. [default: paired; relative, with a warning, for a baseline without paired results]
    ///
    /// A regression verdict means the two runs' 95% intervals of that quantity are apart by more than the threshold:
    /// the change exceeds the threshold unless an interval missed or the machine treated stack and reference
    /// differently in the two runs by more than the threshold. Each row shows the smallest change it could detect.
    #[arg(long, value_enum, verbatim_doc_comment)]
    signal: Option<Signal>,
    #[command(flatten)]
    results_args: ResultsArgs,
    /// Also write the comparison, with the last run's overhead charts, as a self-contained HTML page.
    #[arg(long, value_name = "FILE.html")]
    report: Option<PathBuf>,
    /// Replace the --report file if it exists (atomically).
    #[arg(long, requires = "report")]
    force: bool,
}

/// The HTML page of `ibench compare --report`: the comparison and the last run's overhead
/// (the gate's own table, with links to criterion's pages when there are criterion results).
fn write_report(args: &Args, path: &Path, gate: &Comparison, results: Option<&Results>) -> Result<(), ReportError> {
    let mut page = HtmlReport::new(format!("ibench compare --baseline {}", args.baseline));
    if let Some(overhead) = gate.overhead.clone() {
        page = page.benches(Benches::from_report(overhead, results, directory_of(path)));
    }
    page.comparison(report::Comparison::from(gate)).write(path, args.force)
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
        let signal = match args.signal {
            Some(signal) => signal,
            None if baseline.paired.is_empty() => {
                eprintln!(
                    "ibench compare: warning: baseline {:?} has no paired results (saved before paired measurement), so \
                     this compares criterion's unpaired medians (--signal relative), which drift between runs; re-save \
                     it after `cargo bench --bench paired` (`ibench baseline save {} --force`)",
                    args.baseline, args.baseline
                );
                Signal::Relative
            }
            None => Signal::Paired,
        };
        let threshold = args.threshold.unwrap_or_else(|| match signal {
            Signal::Paired => default_threshold(&baseline),
            _ => Threshold::default(),
        });
        let options = Options { threshold, signal, budget: args.results_args.budget };
        let criterion = args.results_args.read(Results::LAST_RUN);
        let comparison = if signal == Signal::Paired {
            if baseline.paired.is_empty() {
                return Err(format!(
                    "baseline {:?} has no paired results to compare: re-save it after `cargo bench --bench paired`",
                    args.baseline
                ));
            }
            let now = args.results_args.read_paired().map_err(|e| e.to_string())?;
            let dir = args.results_args.paired_dir();
            Comparison::paired(&baseline, &path, &now, &dir, options).map_err(|e| e.to_string())?
        } else {
            let results = criterion.as_ref().map_err(|e| e.to_string())?;
            Comparison::new(&baseline, &path, results, options).map_err(|e| e.to_string())?
        };
        if let Some(report) = &args.report {
            write_report(&args, report, &comparison, criterion.as_ref().ok()).map_err(|e| e.to_string())?;
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
