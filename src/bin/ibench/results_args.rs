//! The flags shared by the commands that read bench results (`overhead`, `compare`).

use std::path::PathBuf;
use std::time::Duration;

use interceptor_bench::overhead::Format;
use interceptor_bench::paired::{PairedError, SuiteResults, paired_dir};
use interceptor_bench::results::{Results, ResultsError, criterion_dir};

#[derive(clap::Args)]
pub struct ResultsArgs {
    /// Per-interceptor overhead budget (e.g. 2ms, 500us, 1.5µs; the seed's target is 2ms); a stack of n
    /// interceptors gets n budgets.
    #[arg(long, default_value = "2ms", value_parser = crate::flags::positive_duration)]
    pub budget: Duration,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Criterion's results directory, which also holds the paired results (its ibench-paired/ folder) [default:
    /// $CRITERION_HOME, else $CARGO_TARGET_DIR/criterion, else target/criterion]
    #[arg(long, value_name = "DIR")]
    pub criterion_dir: Option<PathBuf>,
}

impl ResultsArgs {
    /// The results criterion saved under `baseline` (`Results::LAST_RUN` for the last run).
    pub fn read(&self, baseline: &str) -> Result<Results, ResultsError> {
        Results::read(&criterion_dir(self.criterion_dir.as_deref()), baseline)
    }

    /// The paired results directory.
    pub fn paired_dir(&self) -> PathBuf {
        paired_dir(&criterion_dir(self.criterion_dir.as_deref()))
    }

    /// Every suite's paired results.
    pub fn read_paired(&self) -> Result<Vec<SuiteResults>, PairedError> {
        SuiteResults::read_dir(&self.paired_dir())
    }
}
