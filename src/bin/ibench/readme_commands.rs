//! Every `ibench` command in README.md and docs/*.md is one a user can paste: the fenced `sh`
//! blocks are split into shell commands, and each `ibench …` (or `cargo run [--release] -- …`)
//! is parsed by the CLI's own clap definition — flags, values and their parsers — without running
//! it. And README's test command is the one `.ci/run` runs.

use std::path::Path;

use clap::Parser;
use clap::error::ErrorKind;

use crate::Cli;

/// The words `sh` splits a command at, which end one command and start the next.
const SEPARATORS: [&str; 5] = ["&&", "||", ";", "|", "&"];

/// The body of every fenced ```` ```sh ```` block of a Markdown text.
fn sh_blocks(markdown: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in markdown.lines() {
        let fence = line.trim_start();
        match current.as_mut() {
            None if fence.strip_prefix("```").is_some_and(|info| info.trim() == "sh") => {
                current = Some(String::new());
            }
            Some(_) if fence.starts_with("```") => blocks.extend(current.take()),
            Some(block) => {
                block.push_str(line);
                block.push('\n');
            }
            None => {}
        }
    }
    blocks
}

/// The simple commands of a shell block, as words: continuation lines joined, comments dropped,
/// command substitutions and variables replaced by `1` (a valid PID, port or count), split at
/// `&&`, `||`, `;`, `|` and `&`.
fn commands(block: &str) -> Vec<Vec<String>> {
    let substitution = regex::Regex::new(r"\$\([^)]*\)|\$!|\$\{?[A-Za-z_][A-Za-z0-9_]*\}?").expect("a valid pattern");
    let joined = block.replace("\\\n", " ");
    let mut commands = Vec::new();
    for line in joined.lines() {
        let line = substitution.replace_all(line, "1");
        let mut command = Vec::new();
        for word in shlex::Shlex::new(&line) {
            let (word, ends) = match word.strip_suffix(';') {
                Some(word) if !word.is_empty() => (word.to_owned(), true),
                _ => (word, false),
            };
            if SEPARATORS.contains(&word.as_str()) {
                commands.push(std::mem::take(&mut command));
            } else {
                command.push(word);
                if ends {
                    commands.push(std::mem::take(&mut command));
                }
            }
        }
        commands.push(command);
    }
    commands.retain(|command| !command.is_empty());
    commands
}

/// The arguments a command gives `ibench`, if it runs it: `ibench ARGS`, or
/// `cargo run [cargo flags] -- ARGS` (not `--example` or another binary), after any leading
/// `NAME=value` environment assignments.
fn ibench_args(command: &[String]) -> Option<&[String]> {
    let is_assignment = |word: &String| {
        word.split_once('=')
            .is_some_and(|(name, _)| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
    };
    let command = &command[command.iter().take_while(|word| is_assignment(word)).count()..];
    match command {
        [program, args @ ..] if program == "ibench" => Some(args),
        [cargo, run, rest @ ..] if cargo == "cargo" && run == "run" => {
            let dashes = rest.iter().position(|word| word == "--")?;
            let other_target =
                rest[..dashes].iter().any(|word| matches!(word.as_str(), "--example" | "--bin" | "-p" | "--package"));
            (!other_target).then(|| &rest[dashes + 1..])
        }
        _ => None,
    }
}

/// Every `ibench` invocation in a Markdown text, and the ones clap refuses, with its message.
fn check(markdown: &str) -> (usize, Vec<String>) {
    let mut checked = 0;
    let mut refused = Vec::new();
    for block in sh_blocks(markdown) {
        for command in commands(&block) {
            let Some(args) = ibench_args(&command) else { continue };
            checked += 1;
            let argv = std::iter::once("ibench").chain(args.iter().map(String::as_str));
            if let Err(error) = Cli::try_parse_from(argv)
                && !matches!(error.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion)
            {
                let first_line = error.to_string().lines().next().unwrap_or_default().to_owned();
                refused.push(format!("ibench {}: {first_line}", args.join(" ")));
            }
        }
    }
    (checked, refused)
}

/// README.md and every Markdown file under docs/.
fn documents() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths = vec![root.join("README.md")];
    let mut guides: Vec<_> = std::fs::read_dir(root.join("docs"))
        .expect("docs/ is readable")
        .map(|entry| entry.expect("a docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    guides.sort();
    paths.extend(guides);
    paths
        .into_iter()
        .map(|path| {
            let text = std::fs::read_to_string(&path).expect("a readable Markdown file");
            (path.strip_prefix(root).expect("under the crate").display().to_string(), text)
        })
        .collect()
}

#[test]
fn every_ibench_command_in_readme_and_docs_parses() {
    let mut checked = 0;
    let mut refused = Vec::new();
    for (path, text) in documents() {
        let (count, errors) = check(&text);
        checked += count;
        refused.extend(errors.into_iter().map(|error| format!("{path}: {error}")));
    }
    assert!(refused.is_empty(), "commands clap refuses:\n{}", refused.join("\n"));
    // The docs hold over seventy; far fewer means the extraction stopped finding them.
    assert!(checked >= 60, "only {checked} ibench commands found in README.md and docs/");
}

#[test]
fn a_wrong_flag_or_value_is_reported_with_its_command() {
    let markdown = "text\n```sh\nibench serve --discard-logs &   # fine\n\
        cargo run --release -- load basic-load --no-such-flag\n\
        IBENCH_X=1 ibench load basic-load --duration-scale fast && ibench stacks\n\
        ibench overhead \\\n  --format yaml\n```\n\
        ```text\nibench --not-checked\n```\n";
    let (checked, refused) = check(markdown);
    assert_eq!(checked, 5, "{refused:?}");
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert!(refused[0].starts_with("ibench load basic-load --no-such-flag: error:"), "{refused:?}");
    assert!(refused[1].contains("--duration-scale fast"), "{refused:?}");
    assert!(refused[2].contains("--format yaml"), "{refused:?}");
}

#[test]
fn commands_are_split_like_sh_and_other_programs_skipped() {
    let block = "ibench serve --stack full=0 & PID=$!  # the server\n\
        ibench load x.toml --server-pid \"$(pgrep -n ibench)\" | tee out; ibench stacks\n\
        cargo run --release --example throughput -- --rounds 3\n";
    let commands = commands(block);
    let words: Vec<Vec<&str>> = commands.iter().map(|c| c.iter().map(String::as_str).collect()).collect();
    assert_eq!(
        words,
        [
            vec!["ibench", "serve", "--stack", "full=0"],
            vec!["PID=1"],
            vec!["ibench", "load", "x.toml", "--server-pid", "1"],
            vec!["tee", "out"],
            vec!["ibench", "stacks"],
            vec!["cargo", "run", "--release", "--example", "throughput", "--", "--rounds", "3"],
        ]
    );
    let runs: Vec<_> = commands.iter().filter_map(|c| ibench_args(c)).collect();
    assert_eq!(runs.len(), 3);
}

/// README's test command is the one CI runs, so a reader runs what CI does.
#[test]
fn readme_test_command_is_what_ci_runs() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let readme = std::fs::read_to_string(root.join("README.md")).expect("README.md");
    let ci = std::fs::read_to_string(root.join(".ci/run")).expect(".ci/run");
    let command = "cargo test --locked && cargo test --locked --benches";
    let in_readme = sh_blocks(&readme)
        .iter()
        .any(|block| block.lines().any(|line| line.split('#').next().is_some_and(|c| c.trim() == command)));
    assert!(in_readme, "README.md's sh blocks no longer give the test command `{command}`");
    for step in command.split(" && ") {
        assert!(
            ci.lines().any(|line| line.trim() == step),
            ".ci/run no longer runs `{step}`, README.md's test command"
        );
    }
}
