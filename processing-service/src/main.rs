use std::process::ExitCode;

use clap::Parser;
use processing_service::cli::{Cli, run};

fn main() -> ExitCode {
    match run(Cli::parse()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // One line with the whole context chain: "Invalid recording in F: path: reason".
            eprintln!("Error: {error:#}");
            ExitCode::FAILURE
        }
    }
}
