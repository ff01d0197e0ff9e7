//! `ibench`: the command line of interceptor-bench. Thin by design: each subcommand parses its
//! flags, calls the library and prints.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod instructions;
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
    /// Instruction-count baselines: save the last Callgrind bench run, or compare it (exit 1 on regression).
    Instructions(instructions::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Stacks(args) => stacks::run(args),
        Command::Instructions(args) => instructions::run(args),
    }
}
