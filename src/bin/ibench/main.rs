//! `ibench`: the command line of interceptor-bench. Thin by design: each subcommand parses its
//! flags, calls the library and prints.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod ab;
mod baseline;
mod compare;
#[cfg(test)]
mod extreme_values;
mod flags;
mod instructions;
mod load;
mod overhead;
#[cfg(test)]
mod readme_commands;
mod report;
mod results_args;
mod serve;
mod stacks;

/// What does each interceptor in a tower RPC stack cost, and did this change make it worse?
#[derive(Parser)]
#[command(name = "ibench", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List every stack in the catalog with its interceptors, outermost first.
    Stacks(stacks::Args),
    /// What each interceptor costs, from the paired results (run `cargo bench` first).
    Overhead(overhead::Args),
    /// Save the last `cargo bench` run as a committed baseline, or restore one into criterion's directory.
    Baseline(baseline::Args),
    /// The regression gate: the last `cargo bench` run against a saved baseline; exits 1 on a regression or budget breach.
    Compare(compare::Args),
    /// Run a load scenario (the seed's k6 scenarios, or your own TOML) against loopback listeners.
    Load(Box<load::Args>),
    /// Serve the seed's stacks (or your choice) over HTTP/1.1 and h2c, one port per stack.
    Serve(Box<serve::Args>),
    /// A self-contained HTML report with charts of a load run and of the bench results.
    Report(report::Args),
    /// Instruction-count baselines: save the last Callgrind bench run, or compare it (exit 1 on regression).
    Instructions(instructions::Args),
    /// Build against build: the working tree vs a base revision, run alternately in one run; exits 1 on a regression.
    Ab(Box<ab::Args>),
    /// The worker side of `ibench ab` (speaks a line protocol on stdin/stdout).
    #[command(hide = true)]
    AbWorker,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Stacks(args) => stacks::run(args),
        Command::Overhead(args) => overhead::run(args),
        Command::Baseline(args) => baseline::run(args),
        Command::Compare(args) => compare::run(args),
        Command::Load(args) => load::run(*args),
        Command::Serve(args) => serve::run(*args),
        Command::Report(args) => report::run(args),
        Command::Instructions(args) => instructions::run(args),
        Command::Ab(args) => ab::run(*args),
        Command::AbWorker => ab::worker(),
    }
}
