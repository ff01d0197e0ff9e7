//! `ibench baseline save|restore`: criterion's results to and from `baselines/<name>.json`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::Subcommand;
use interceptor_bench::baseline::runs::MIN_RUNS;
use interceptor_bench::baseline::{Baseline, BaselineError, DEFAULT_DIR, Provenance, path_of, validate_name};
use interceptor_bench::paired::{PairedError, SuiteResults, paired_dir};
use interceptor_bench::results::{Results, ResultsError, criterion_dir};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Save the last `cargo bench` run (its paired results and criterion's `new` results, whichever exist) as
    /// <DIR>/<NAME>.json; never overwrites without --force.
    Save(SaveArgs),
    /// Write <DIR>/<NAME>.json into criterion's directory as its baseline NAME, for `cargo bench -- --baseline NAME`.
    Restore(RestoreArgs),
}

#[derive(clap::Args)]
struct Where {
    /// The baseline's name: letters, digits, '.', '_' and '-'.
    name: String,
    /// The directory of baseline files.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_DIR)]
    dir: PathBuf,
    /// Criterion's results directory, which also holds the paired results (its ibench-paired/ folder) [default:
    /// $CRITERION_HOME, else $CARGO_TARGET_DIR/criterion, else target/criterion]
    #[arg(long, value_name = "DIR")]
    criterion_dir: Option<PathBuf>,
    /// Replace what is already there.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args)]
struct SaveArgs {
    #[command(flatten)]
    at: Where,
    /// The command that produced the results, recorded in the file (e.g. "cargo bench --bench in_process").
    #[arg(long, value_name = "COMMAND")]
    bench_command: Option<String>,
    /// Add the last run's paired ratios to <NAME>.json as one more run (creating it if missing) instead of refusing
    /// to replace it: after 3 or more runs `ibench compare` judges each pair against its own run-to-run scatter.
    /// Run `cargo bench --bench paired` and this once per run, e.g. five times.
    #[arg(long, conflicts_with = "force")]
    add_run: bool,
}

#[derive(clap::Args)]
struct RestoreArgs {
    #[command(flatten)]
    at: Where,
}

/// Exit 0 when done, 2 when the name, the results or the file are unusable or the target exists.
pub fn run(args: Args) -> ExitCode {
    let (verb, done) = match args.command {
        Command::Save(args) => ("save", save(args)),
        Command::Restore(args) => ("restore", restore(args)),
    };
    match done {
        Ok(message) => {
            println!("{message}");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("ibench baseline {verb}: {message}");
            ExitCode::from(2)
        }
    }
}

fn save(args: SaveArgs) -> Result<String, String> {
    let at = args.at;
    validate_name(&at.name).map_err(|e| e.to_string())?;
    let path = path_of(&at.dir, &at.name);
    let adding_to = args.add_run && path.exists();
    if !at.force && !adding_to && path.exists() {
        return Err(BaselineError::Exists { path }.to_string());
    }
    let criterion_dir = criterion_dir(at.criterion_dir.as_deref());
    let criterion = Results::read(&criterion_dir, Results::LAST_RUN);
    let paired_dir = paired_dir(&criterion_dir);
    let paired = match SuiteResults::read_dir(&paired_dir) {
        Ok(suites) => suites,
        Err(PairedError::NoResults { .. }) => Vec::new(),
        Err(e) => return Err(e.to_string()),
    };
    if adding_to {
        return add_run(&path, &at.dir, &paired, &paired_dir);
    }
    let argv: Vec<String> = std::env::args().collect();
    let command = shlex::try_join(argv.iter().map(String::as_str)).unwrap_or_else(|_| argv.join(" "));
    let provenance = Provenance::collect(&command, args.bench_command.as_deref());
    let pairs: usize = paired.iter().map(|suite| suite.pairs.len()).sum();
    let (baseline, from) = match criterion {
        Ok(results) => {
            let baseline = Baseline::from_results(&at.name, &results, provenance).map_err(|e| e.to_string())?;
            (
                baseline.with_paired(paired, &paired_dir),
                format!("{} and {}", results.dir().display(), paired_dir.display()),
            )
        }
        Err(ResultsError::NoResults { .. }) if !paired.is_empty() => {
            let baseline =
                Baseline::from_paired(&at.name, paired, &paired_dir, provenance).map_err(|e| e.to_string())?;
            (baseline, paired_dir.display().to_string())
        }
        Err(e) => return Err(format!("{e}; nor any paired results in {}", paired_dir.display())),
    };
    if baseline.paired.is_empty() {
        eprintln!(
            "ibench baseline save: no paired results in {}: `ibench compare` will fall back to criterion's unpaired \
             medians; run `cargo bench --bench paired` before saving",
            paired_dir.display()
        );
    }
    let path = baseline.save(&at.dir, at.force).map_err(|e| e.to_string())?;
    Ok(format!("saved {} benches and {pairs} pairs from {from} to {}", baseline.benches.len(), path.display()))
}

/// `--add-run` to an existing baseline: its runs gain the last run's paired ratios.
fn add_run(path: &Path, dir: &Path, paired: &[SuiteResults], paired_dir: &Path) -> Result<String, String> {
    if paired.is_empty() {
        return Err(format!(
            "--add-run: no paired results in {}: run `cargo bench --bench paired` first",
            paired_dir.display()
        ));
    }
    let baseline = Baseline::load(path).map_err(|e| e.to_string())?.with_run(paired);
    baseline.save(dir, true).map_err(|e| e.to_string())?;
    let runs = baseline.runs();
    let judged = if runs >= MIN_RUNS {
        "each pair is now judged against its own run-to-run scatter".to_owned()
    } else {
        format!("{} more for per-pair tolerances", MIN_RUNS - runs)
    };
    Ok(format!("added the run in {} to {}: {runs} runs; {judged}", paired_dir.display(), path.display()))
}

fn restore(args: RestoreArgs) -> Result<String, String> {
    let at = args.at;
    validate_name(&at.name).map_err(|e| e.to_string())?;
    let baseline = Baseline::load(&path_of(&at.dir, &at.name)).map_err(|e| e.to_string())?;
    let dir = criterion_dir(at.criterion_dir.as_deref());
    let benches = baseline.restore(&dir, &at.name, at.force).map_err(|e| e.to_string())?;
    Ok(format!(
        "restored {benches} benches into {} as criterion baseline {:?}: `cargo bench -- --baseline {}` compares against it",
        dir.display(),
        at.name,
        at.name
    ))
}
