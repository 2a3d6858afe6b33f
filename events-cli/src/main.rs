//! The `events` binary: parse, run, report. See the library for the commands.

use std::process::ExitCode;

use clap::Parser as _;
use events_cli::cli::Cli;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // Logs (warnings from the shared plumbing) go to stderr; RUST_LOG=debug shows more.
    if std::env::var_os("RUST_LOG").is_some() {
        shared_events::telemetry::init("events");
    }
    // One thread is plenty for a tool that waits on the broker, and leaves the
    // other core to a broker on the same machine (a multi-threaded runtime cost
    // ~15% more CPU per replayed event here, in wake-ups between its workers).
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: cannot start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(events_cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        // `events tail | head`: the reader has all it wanted.
        Err(error) if events_cli::out::is_closed_pipe(&error) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {}", message(&error));
            ExitCode::FAILURE
        }
    }
}

/// The error and its causes on one line, each said once: lapin's errors and the
/// shared plumbing's repeat their source in their own text.
fn message(error: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in error.chain() {
        let cause = cause.to_string();
        if !text.contains(&cause) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&cause);
        }
    }
    text
}
