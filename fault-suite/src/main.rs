//! `fault-suite`: see the library's documentation and `RELIABILITY.md`.

use std::process::ExitCode;

use clap::Parser as _;
use fault_suite::cli::Cli;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = tokio::select! {
        outcome = fault_suite::suite::run(&cli) => outcome,
        // Dropping the run (servers, processes) on ctrl-c stops everything it started.
        _ = tokio::signal::ctrl_c() => Err(anyhow::anyhow!("interrupted")),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("fault suite: error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
