//! The command line: `processing-service` (the worker) and `processing-service analyze`.
//!
//! The worker is the default so that deployments start the binary with no
//! arguments; `analyze` runs the same analytics on a file for people and tests.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Parser, Subcommand};

use crate::analytics::filter::LowPass;
use crate::analytics::report::DEFAULT_ANGLE_CUTOFF_HZ;
use crate::analytics::{AnalysisConfig, Recording, analyze};
use crate::worker::{Worker, WorkerSettings};

#[derive(Debug, Parser)]
#[command(
    version,
    about = "Glove recording analytics: the queue worker, or one file on demand"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Analyse one recording (a `POST /game` body or its `sensors` object) and print
    /// the metrics as one JSON object.
    Analyze {
        /// The JSON file to read.
        file: PathBuf,
        /// Compute the metrics on the signals exactly as given (no angle low-pass).
        #[arg(long)]
        raw: bool,
        /// Cut-off of the zero-phase Butterworth low-pass applied to angles, in Hz.
        #[arg(long, default_value_t = DEFAULT_ANGLE_CUTOFF_HZ, conflicts_with = "raw")]
        lowpass_hz: f64,
    },
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Some(Command::Analyze {
            file,
            raw,
            lowpass_hz,
        }) => {
            let config = if raw {
                AnalysisConfig::raw()
            } else {
                AnalysisConfig {
                    angle_lowpass: Some(LowPass {
                        cutoff_hz: lowpass_hz,
                    }),
                }
            };
            let json = analyze_file(&file, &config)?;
            let mut stdout = std::io::stdout().lock();
            writeln!(stdout, "{json}").context("Failed to write the report to stdout")?;
            Ok(())
        }
        None => run_worker(),
    }
}

/// The worker: configuration from the environment, consume until SIGTERM.
fn run_worker() -> anyhow::Result<()> {
    shared_events::telemetry::init("processing-service");
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("Failed to start the async runtime")?;
    runtime.block_on(async {
        let settings = WorkerSettings::from_env().context("Invalid configuration")?;
        let worker = Worker::build(settings).await?;
        worker
            .run_until_stopped(shared_events::shutdown::token_on_signal())
            .await
    })
}

/// Reads, validates and analyses `path`, returning the report as compact JSON.
pub fn analyze_file(path: &Path, config: &AnalysisConfig) -> anyhow::Result<String> {
    let bytes =
        std::fs::read(path).with_context(|| format!("Failed to read {}", path.display()))?;
    let recording = Recording::parse_json(&bytes)
        .with_context(|| format!("Invalid recording in {}", path.display()))?;
    let report = analyze(&recording, config).context("Failed to analyse the recording")?;
    serde_json::to_string(&report).context("Failed to serialise the report")
}
