//! The conformance tool: the JSON-lines protocol over standard input and output.
//!
//! ```text
//! cargo run --release --example conformance            # answer requests from stdin
//! cargo run --release --example conformance -- --check test-vectors [more paths]
//! ```
//!
//! Without arguments it reads one request per line and writes one answer per line,
//! flushing after each, and never stops on a bad line. With `--check` it replays every
//! vector file (`*.jsonl`) under the given files or directories, prints the agreement
//! per file, and exits non-zero on any disagreement.

use std::io::{self, BufRead, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use matrix_serverlib::conformance::{self, VectorOutcome};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.split_first() {
        None => match serve() {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => {
                eprintln!("conformance: {error}");
                ExitCode::FAILURE
            }
        },
        Some((flag, paths)) if flag == "--check" && !paths.is_empty() => check(paths),
        _ => {
            eprintln!("usage: conformance [--check PATH...]");
            ExitCode::from(2)
        }
    }
}

/// Answers requests from standard input until it closes.
fn serve() -> io::Result<()> {
    let stdin = io::stdin();
    let mut input = stdin.lock();
    let stdout = io::stdout();
    let mut output = stdout.lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        if input.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        if let Some(answer) = conformance::answer_line(&line) {
            output.write_all(&answer)?;
            output.write_all(b"\n")?;
            output.flush()?;
        }
    }
}

/// Replays vector files and reports agreement.
fn check(paths: &[String]) -> ExitCode {
    let mut files = Vec::new();
    for path in paths {
        collect_vector_files(Path::new(path), &mut files);
    }
    files.sort();
    let (mut total, mut agreed, mut known) = (0usize, 0usize, 0usize);
    for file in &files {
        let text = match std::fs::read(file) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("{}: {error}", file.display());
                return ExitCode::FAILURE;
            }
        };
        let (mut file_total, mut file_agreed) = (0usize, 0usize);
        for (number, line) in text.split(|&byte| byte == b'\n').enumerate() {
            match conformance::replay_vector(line) {
                VectorOutcome::Blank => continue,
                VectorOutcome::Agree => file_agreed += 1,
                VectorOutcome::KnownDifference { reason } => {
                    known += 1;
                    file_agreed += 1;
                    eprintln!(
                        "{}:{}: deliberate difference: {reason}",
                        file.display(),
                        number + 1
                    );
                }
                outcome => report(file, number + 1, &outcome),
            }
            file_total += 1;
        }
        println!("{:>6}/{:<6} {}", file_agreed, file_total, file.display());
        total += file_total;
        agreed += file_agreed;
    }
    println!(
        "{}/{total} vectors agree, {known} differ as documented, {} disagree ({} files)",
        agreed - known,
        total - agreed,
        files.len()
    );
    if agreed == total {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn report(file: &Path, line: usize, outcome: &VectorOutcome) {
    match outcome {
        VectorOutcome::Disagree { expected, actual } => eprintln!(
            "{}:{line}: expected {} got {}",
            file.display(),
            matrix_serverlib::json::to_string(expected),
            matrix_serverlib::json::to_string(actual)
        ),
        VectorOutcome::UnexpectedAgreement => {
            eprintln!(
                "{}:{line}: marked as a difference but now agrees",
                file.display()
            );
        }
        VectorOutcome::Malformed { reason } => {
            eprintln!("{}:{line}: not a vector: {reason}", file.display());
        }
        _ => {}
    }
}

fn collect_vector_files(path: &Path, files: &mut Vec<PathBuf>) {
    if path.is_dir() {
        let Ok(entries) = std::fs::read_dir(path) else {
            return;
        };
        for entry in entries.flatten() {
            collect_vector_files(&entry.path(), files);
        }
    } else if path
        .extension()
        .is_some_and(|extension| extension == "jsonl")
    {
        files.push(path.to_path_buf());
    }
}
