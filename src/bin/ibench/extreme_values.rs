//! Every numeric flag of every subcommand, fed extreme values (0, negative, NaN, infinity,
//! 1e18, `u64::MAX`, empty): each is refused with exit 2 — by clap, or by the checks the
//! subcommand makes before it does anything — and none panics. The flags are found by walking
//! clap's definitions and telling numeric ones by their value parser's type, so a new flag is
//! covered without touching this file. Nothing is bound, contacted or written.

use std::any::TypeId;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::time::Duration;

use clap::{CommandFactory, Parser};
use interceptor_bench::baseline::compare::Threshold;

use crate::{Cli, Command, load, serve};

/// Flags for which 0 is meaningful: no offset, a free port, no grace period, any growth fails.
const ZERO_ALLOWED: [&str; 5] = ["port_offset", "stacks", "grace", "grace_period", "threshold"];

/// What a subcommand's positional and required arguments get, so that only the flag under
/// test can be wrong; `load` runs the open model, where every one of its flags applies, or a
/// breakpoint search for the flags that shape one (see [`executor_for`]).
fn base_value(arg: &str) -> &'static str {
    match arg {
        "scenario" => "basic-load",
        "name" | "baseline" => "reference",
        "output" => "ibench-extreme-values.html",
        other => panic!("add a valid value for the required argument {other:?} to base_value"),
    }
}

/// The `ibench load` executor under which `arg` applies: its breakpoint flags shape a search,
/// every other one applies to the open model.
fn executor_for(arg: &clap::Arg) -> &'static str {
    if arg.get_help_heading() == Some("Breakpoint search") { "breakpoint" } else { "open" }
}

/// A value `arg` accepts: its kind's, unless that is out of the flag's own range.
fn valid_value(arg: &clap::Arg, kind: Kind) -> String {
    match arg.get_id().as_str() {
        // The rate must climb.
        "rate_factor" => "2".to_owned(),
        // At least the default start rate, 1000/s.
        "max_rate" => "1000".to_owned(),
        _ => kind.valid(),
    }
}

/// How to write values of one kind of numeric flag.
#[derive(Debug, Clone, Copy)]
enum Kind {
    /// An integer or a float.
    Number,
    /// A threshold: a percentage or a fraction below 1.
    Fraction,
    /// A humantime duration.
    Duration,
    /// `NAME=PORT`: a number after a prefix.
    Port(&'static str),
}

impl Kind {
    fn of(arg: &clap::Arg) -> Option<Kind> {
        let parsed = arg.get_value_parser().type_id();
        let numbers =
            [TypeId::of::<u16>(), TypeId::of::<u32>(), TypeId::of::<u64>(), TypeId::of::<usize>(), TypeId::of::<f64>()];
        let value_name = arg.get_value_names().and_then(|names| names.first()).map(|name| name.as_str());
        if numbers.iter().any(|number| parsed == *number) {
            Some(Kind::Number)
        } else if parsed == TypeId::of::<Threshold>() {
            Some(Kind::Fraction)
        } else if parsed == TypeId::of::<Duration>() {
            Some(Kind::Duration)
        } else if value_name.is_some_and(|name| name.split('|').any(|form| form == "NAME=PORT")) {
            // `--stack NAME=PORT|NAME=CHAIN@PORT`: the catalog form.
            Some(Kind::Port("baseline="))
        } else {
            let looks_numeric =
                value_name.is_some_and(|name| ["N", "BYTES", "DURATION"].contains(&name) || name.contains("PORT"));
            assert!(
                !looks_numeric,
                "--{}: a numeric-looking flag of no known kind; add its kind to Kind::of",
                arg.get_id()
            );
            None
        }
    }

    /// A value every flag of this kind accepts.
    fn valid(self) -> String {
        match self {
            Kind::Number => "1".to_owned(),
            Kind::Fraction => "0.5".to_owned(),
            Kind::Duration => "1s".to_owned(),
            Kind::Port(prefix) => format!("{prefix}1"),
        }
    }

    fn zero(self) -> String {
        match self {
            Kind::Duration => "0s".to_owned(),
            Kind::Port(prefix) => format!("{prefix}0"),
            Kind::Number | Kind::Fraction => "0".to_owned(),
        }
    }

    /// Values no flag of this kind may accept.
    fn refused(self) -> Vec<String> {
        let numbers = ["-1", "NaN", "inf", "1e18", "18446744073709551615", ""];
        match self {
            Kind::Duration => ["-1s", "NaN", "1e18s", "18446744073709551615s", "99999999999999999999h", ""]
                .map(str::to_owned)
                .to_vec(),
            Kind::Port(prefix) => numbers.iter().map(|n| format!("{prefix}{n}")).collect(),
            Kind::Number | Kind::Fraction => numbers.map(str::to_owned).to_vec(),
        }
    }
}

/// The checks a subcommand makes before it does anything (the others check every numeric
/// flag in its value parser).
fn validate(command: Command) -> Result<(), String> {
    match command {
        Command::Load(args) => load::prepare(*args).map(drop),
        Command::Serve(args) => serve::prepare(&args).map(drop),
        _ => Ok(()),
    }
}

/// `Ok` when accepted, else the exit code; fails the test on a panic.
fn outcome(argv: &[String]) -> Result<(), i32> {
    let checked = catch_unwind(AssertUnwindSafe(|| match Cli::try_parse_from(argv) {
        Err(error) => Err(error.exit_code()),
        Ok(cli) => validate(cli.command).map_err(|_| 2),
    }));
    checked.unwrap_or_else(|_| panic!("{} panicked", argv.join(" ")))
}

/// Every leaf subcommand, as the words that name it, with its clap definition.
fn leaves(path: Vec<String>, command: &clap::Command, found: &mut Vec<(Vec<String>, clap::Command)>) {
    if command.has_subcommands() {
        for sub in command.get_subcommands() {
            let mut path = path.clone();
            path.push(sub.get_name().to_owned());
            leaves(path, sub, found);
        }
    } else {
        found.push((path, command.clone()));
    }
}

#[test]
fn every_numeric_flag_refuses_extreme_values_with_exit_2_and_never_panics() {
    let mut commands = Vec::new();
    leaves(vec!["ibench".to_owned()], &Cli::command(), &mut commands);
    let (mut flags, mut cases, mut wrong) = (0, 0, Vec::new());
    for (path, command) in &commands {
        let mut base = path.clone();
        for arg in command.get_arguments().filter(|arg| arg.is_positional() || arg.is_required_set()) {
            if let Some(long) = arg.get_long() {
                base.push(format!("--{long}"));
            }
            base.push(base_value(arg.get_id().as_str()).to_owned());
        }
        // Required unless another flag is given: clap's definitions do not say so.
        if path[1] == "ab" {
            base.extend(["--base".to_owned(), "main".to_owned()]);
        }
        for arg in command.get_arguments() {
            let (Some(kind), Some(long)) = (Kind::of(arg), arg.get_long()) else { continue };
            if arg.is_required_set() {
                continue;
            }
            flags += 1;
            let mut base = base.clone();
            if path[1] == "load" {
                base.extend(["--executor".to_owned(), executor_for(arg).to_owned()]);
            }
            let with = |value: &str| [&base[..], &[format!("--{long}"), value.to_owned()]].concat();
            let valid = with(&valid_value(arg, kind));
            assert_eq!(outcome(&valid), Ok(()), "a valid value is refused: {}", valid.join(" "));
            let zero_allowed = ZERO_ALLOWED.contains(&arg.get_id().as_str());
            let expected = |value: &str| if zero_allowed && value == kind.zero() { Ok(()) } else { Err(2) };
            for value in std::iter::once(kind.zero()).chain(kind.refused()) {
                cases += 1;
                let argv = with(&value);
                let got = outcome(&argv);
                if got != expected(&value) {
                    wrong.push(format!("{}: expected {:?}, got {got:?}", argv.join(" "), expected(&value)));
                }
            }
        }
    }
    eprintln!("{flags} numeric flags, {cases} extreme values");
    assert!(flags >= 20, "only {flags} numeric flags found: is Kind::of still recognising them?");
    assert!(wrong.is_empty(), "{wrong:#?}");
}
