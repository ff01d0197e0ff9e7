//! `ibench instructions`: save the instruction counts of the last
//! `cargo bench --features instructions --bench instructions` run as a baseline, or compare
//! them with one. Exit 0 ok, 1 regression, 2 unusable input.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use interceptor_bench::allocations;
use interceptor_bench::baseline::compare::Threshold;
use interceptor_bench::instructions::{
    Baseline, DEFAULT_RESULTS_DIR, allocations_table, baseline_path, compare, read_results,
};
use interceptor_bench::overhead::Format;

/// The command that produces the results this subcommand reads.
const BENCH_COMMAND: &str = "GUNGRAUN_SAVE_SUMMARY=json cargo bench --features instructions --bench instructions";

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
}

#[derive(clap::Subcommand)]
enum Action {
    /// Save the last bench run's counts as `baselines/instructions-NAME.json`.
    Save {
        /// The baseline name (or a path ending in `.json`).
        name: String,
        /// Replace an existing baseline.
        #[arg(long)]
        force: bool,
        /// Where the bench left its gungraun results.
        #[arg(long, default_value = DEFAULT_RESULTS_DIR)]
        results: PathBuf,
    },
    /// Compare the last bench run's counts with a baseline; exit 1 when a stack regressed.
    Compare {
        /// The baseline name (`baselines/instructions-NAME.json`) or a path.
        #[arg(long)]
        baseline: String,
        /// Fail when a stack's instructions grow by more than this: a percentage (2%) or a fraction below 1 (0.02).
        #[arg(long, default_value = "2%")]
        threshold: Threshold,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// Where the bench left its gungraun results.
        #[arg(long, default_value = DEFAULT_RESULTS_DIR)]
        results: PathBuf,
    },
}

pub fn run(args: Args) -> ExitCode {
    match args.action {
        Action::Save { name, force, results } => {
            let counts = match read_results(&results) {
                Ok(counts) => counts,
                Err(e) => return unusable(e),
            };
            let path = baseline_path(&name);
            let command = std::env::args().collect::<Vec<_>>().join(" ");
            match Baseline::new(counts, &command, BENCH_COMMAND).write(&path, force) {
                Ok(()) => {
                    println!("saved {}", path.display());
                    ExitCode::SUCCESS
                }
                Err(e) => unusable(e),
            }
        }
        Action::Compare { baseline, threshold, format, results } => {
            compare_counts(&baseline, threshold, format, &results)
        }
    }
}

/// Compares the counts the bench left in `results` with the baseline `name_or_path`: exit 0
/// when no stack grew by more than `threshold`, 1 when one did, 2 on unusable input. Also what
/// `ibench compare --instructions` runs.
pub fn compare_counts(name_or_path: &str, threshold: Threshold, format: Format, results: &Path) -> ExitCode {
    let baseline = match Baseline::read(&baseline_path(name_or_path)) {
        Ok(baseline) => baseline,
        Err(e) => return unusable(e),
    };
    let counts = match read_results(results) {
        Ok(counts) => counts,
        Err(e) => return unusable(e),
    };
    let comparison = compare(&baseline, &counts, threshold.fraction() * 100.0);
    // Allocation counts, when `cargo bench --bench allocations` left them, go beside the instructions.
    let allocations = allocations::read_results(Path::new(allocations::DEFAULT_RESULTS_FILE)).ok();
    match format {
        Format::Table => print!("{}", comparison.to_table()),
        Format::Markdown => print!("{}", comparison.to_markdown()),
        Format::Json => {
            let mut json = comparison.to_json();
            if let Some(allocations) = &allocations {
                json["allocations"] = serde_json::json!(allocations);
            }
            println!("{json}");
        }
    }
    if let Some(allocations) = allocations.filter(|_| format != Format::Json) {
        print!("{}", allocations_table(&allocations, &counts, format == Format::Markdown));
    }
    if comparison.regressed().is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) }
}

fn unusable(error: impl std::fmt::Display) -> ExitCode {
    eprintln!("ibench instructions: {error}");
    ExitCode::from(2)
}
