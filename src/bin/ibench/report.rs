//! `ibench report`: one self-contained HTML page with charts of a load run and of the bench
//! results; exit 0 when written, 2 when an input cannot be read or the output cannot be written.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use interceptor_bench::report::{Benches, HtmlReport, LoadRun, ReportError, directory_of};
use interceptor_bench::results::{Results, criterion_dir};

#[derive(clap::Args)]
pub struct Args {
    /// A load run's JSON (`ibench load --out json=FILE`).
    #[arg(long, value_name = "FILE.json")]
    load: Option<PathBuf>,
    /// Criterion's results directory; read by default when --load is not given
    /// [default: $CRITERION_HOME, else $CARGO_TARGET_DIR/criterion, else target/criterion]
    #[arg(long, value_name = "DIR")]
    criterion_dir: Option<PathBuf>,
    /// Per-interceptor budget for the overhead chart (e.g. 2ms, 500us).
    #[arg(long, default_value = "2ms", value_parser = crate::flags::positive_duration)]
    budget: Duration,
    /// The report's title.
    #[arg(long, default_value = "interceptor-bench report")]
    title: String,
    /// Where to write the HTML.
    #[arg(short, long, value_name = "FILE.html")]
    output: PathBuf,
    /// Replace the output file if it exists (atomically).
    #[arg(long)]
    force: bool,
}

fn build(args: &Args) -> Result<HtmlReport, ReportError> {
    let mut report = HtmlReport::new(args.title.as_str());
    if let Some(path) = &args.load {
        report = report.load_run(LoadRun::read(path)?);
    }
    if args.criterion_dir.is_some() || args.load.is_none() {
        let results = Results::read(&criterion_dir(args.criterion_dir.as_deref()), Results::LAST_RUN)?;
        report = report.benches(Benches::new(&results, args.budget, directory_of(&args.output))?);
    }
    Ok(report)
}

pub fn run(args: Args) -> ExitCode {
    match build(&args).and_then(|report| report.write(&args.output, args.force)) {
        Ok(()) => {
            println!("wrote {}", args.output.display());
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("ibench report: {error}");
            ExitCode::from(2)
        }
    }
}
