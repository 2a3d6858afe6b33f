//! Analyses per second on one core for one recording file.
//!
//! `cargo bench -p processing-service --bench analyze -- FILE [--seconds S] [--raw]`
//! prints one JSON line; `bench/compare_analytics.sh` runs it beside the NumPy
//! reference on the same file. The loop is single-threaded, so the rate is per core.

use std::hint::black_box;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use processing_service::analytics::{AnalysisConfig, Recording, analyze};

fn main() -> anyhow::Result<()> {
    let mut file = None;
    let mut seconds = 5.0;
    let mut config = AnalysisConfig::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            // cargo bench appends `--bench` to a harness-less bench's arguments.
            "--bench" => {}
            "--raw" => config = AnalysisConfig::raw(),
            "--seconds" => {
                seconds = args
                    .next()
                    .context("--seconds needs a value")?
                    .parse()
                    .context("--seconds is a number")?
            }
            other if file.is_none() && !other.starts_with("--") => file = Some(other.to_owned()),
            other => bail!("unexpected argument {other}"),
        }
    }
    let Some(file) = file else {
        bail!("usage: analyze FILE [--seconds S] [--raw]");
    };
    let bytes = std::fs::read(&file).with_context(|| format!("Failed to read {file}"))?;

    let parse_start = Instant::now();
    let recording = Recording::parse_json(&bytes).context("Invalid recording")?;
    let parse_ms = parse_start.elapsed().as_secs_f64() * 1e3;

    analyze(&recording, &config).context("Failed to analyse")?; // warm-up: FFT plans
    let budget = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut runs = 0u64;
    let elapsed = loop {
        black_box(analyze(black_box(&recording), &config).context("Failed to analyse")?);
        runs += 1;
        let elapsed = start.elapsed();
        if elapsed >= budget {
            break elapsed.as_secs_f64();
        }
    };
    println!(
        "{}",
        serde_json::json!({
            "impl": "rust",
            "runs": runs,
            "seconds": elapsed,
            "analyses_per_sec": runs as f64 / elapsed,
            "parse_ms": parse_ms,
            "samples": recording.len(),
        })
    );
    Ok(())
}
