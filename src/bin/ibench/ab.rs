//! `ibench ab`: the working tree against a base revision, both built and run alternately in
//! one run; and `ibench ab-worker`, the hidden side of it that each build runs.

use std::io;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use interceptor_bench::baseline::compare::Threshold;
use interceptor_bench::overhead::Format;
use interceptor_bench::paired::ab::{AbOptions, Builds, DEFAULT_ROUNDS, compare_builds};
use interceptor_bench::paired::{Schedule, worker};
use regex::Regex;

/// Build the base revision and the working tree, run both builds' catalogs alternately (each job's calls
/// interleaved in time, base and candidate in turn) and judge each job's change; exit 1 on a regression.
///
/// Unlike `ibench compare`, this needs no stored timing baseline and sees a change that slows every stack alike
/// (the codec, the handler). Both builds are release builds of `ibench` under --work-dir (the base's files are
/// exported there with `git archive`), every function aligned to 64 bytes (RUSTFLAGS gains
/// `-C llvm-args=-align-all-functions=6`) so that a change to one stack does not move the others' code layout;
/// build --base-bin/--candidate-bin the same way. The first run builds the dependencies once, later runs reuse them.
/// Revisions from before `ibench ab` existed have no worker and are refused.
#[derive(clap::Args)]
#[command(verbatim_doc_comment)]
pub struct Args {
    /// The revision to compare against (a commit, branch or tag, e.g. main or HEAD~1).
    #[arg(long, value_name = "REV", required_unless_present = "base_bin")]
    base: Option<String>,
    /// Compare these prebuilt ibench binaries instead of building (both needed).
    #[arg(long, value_name = "PATH", requires = "candidate_bin", conflicts_with = "base")]
    base_bin: Option<PathBuf>,
    /// The candidate binary, with --base-bin.
    #[arg(long, value_name = "PATH", requires = "base_bin")]
    candidate_bin: Option<PathBuf>,
    /// The smallest change of a job's time that counts as a regression (a percentage or a fraction below 1).
    #[arg(long, default_value = "3%")]
    threshold: Threshold,
    /// How long to sample each job (both builds together).
    #[arg(long, default_value = "1s", value_parser = parse_time)]
    time: Duration,
    /// How many rounds share each job's --time, each with a fresh pair of worker processes; the change is the median
    /// of the rounds' ratios, its interval over the rounds (fewer than 6 rounds: their whole range, below 95%
    /// confidence).
    #[arg(long, default_value_t = DEFAULT_ROUNDS as u32, value_parser = clap::value_parser!(u32).range(1..=100))]
    rounds: u32,
    /// Only the jobs whose id matches this regex, e.g. '^in_process/' or 'logger'.
    #[arg(long, value_name = "REGEX")]
    filter: Option<Regex>,
    /// Where the base's files, the shared build cache and the two binaries go.
    #[arg(long, value_name = "DIR", default_value = "target/ibench-ab")]
    work_dir: PathBuf,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
}

fn parse_time(text: &str) -> Result<Duration, String> {
    let time = humantime::parse_duration(text).map_err(|e| e.to_string())?;
    if time.is_zero() || time > Duration::from_secs(600) {
        return Err("must be above 0 and at most 10 minutes".to_owned());
    }
    Ok(time)
}

/// Exit 0 when no job regressed, 1 when one did, 2 when the builds cannot be made or compared.
pub fn run(args: Args) -> ExitCode {
    let builds = match (&args.base, args.base_bin, args.candidate_bin) {
        (_, Some(base), Some(candidate)) => Ok(Builds::from_binaries(base, candidate)),
        (Some(revision), _, _) => Builds::from_revision(".".as_ref(), revision, &args.work_dir),
        _ => unreachable!("clap requires --base or both binaries"),
    };
    let options = AbOptions {
        threshold: args.threshold,
        schedule: Schedule::default().time(args.time),
        filter: args.filter,
        rounds: args.rounds as usize,
        ..AbOptions::default()
    };
    let report = match builds.and_then(|builds| compare_builds(&builds, &options)) {
        Ok(report) => report,
        Err(error) => {
            eprintln!("ibench ab: {error}");
            return ExitCode::from(2);
        }
    };
    print!("{}", report.render(args.format));
    if report.passed() {
        ExitCode::SUCCESS
    } else {
        eprintln!("ibench ab: {}", report.summary());
        ExitCode::FAILURE
    }
}

/// The worker side of `ibench ab`, on standard input and output.
pub fn worker() -> ExitCode {
    match worker::serve(io::stdin().lock(), io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ibench ab-worker: {error}");
            ExitCode::from(2)
        }
    }
}
