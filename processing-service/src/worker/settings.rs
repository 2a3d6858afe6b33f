//! The worker's configuration, from `M2M_*` variables over defaults.

use std::net::SocketAddr;

use anyhow::Context as _;
use shared_events::BusSettings;
use shared_ops::OpsSettings;
use shared_store::StoreSettings;

use crate::analytics::AnalysisConfig;

/// Everything a worker needs to run.
#[derive(Debug, Clone)]
pub struct WorkerSettings {
    pub bus: BusSettings,
    pub store: StoreSettings,
    /// `M2M_PROCESSING_CONCURRENCY`: games analysed at once; default the number
    /// of cores, since analysis is CPU-bound and runs on blocking threads.
    pub concurrency: usize,
    /// `M2M_PROCESSING_PREFETCH`: unacked events held; default twice the
    /// concurrency, so a finished analysis finds the next recording already here
    /// without one process hoarding the queue from its peers.
    pub prefetch: u16,
    /// `M2M_OPS_ADDR` (default `127.0.0.1:9101`), where `/healthz`, `/readyz` and
    /// `/metrics` are served; `M2M_SHUTDOWN_DEADLINE_MS`, how long SIGTERM waits
    /// for the games in hand.
    pub ops: OpsSettings,
    /// `M2M_MAX_RECORDING_BYTES`: bound on a decompressed recording (16 MiB, the
    /// gateway's body limit), so a corrupt event cannot exhaust memory.
    pub max_recording_bytes: usize,
    /// `M2M_ANALYTICS_RAW=1` turns the angle pre-filter off.
    pub analysis: AnalysisConfig,
}

/// The processing service's own operations port.
pub const DEFAULT_OPS_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9101);

impl WorkerSettings {
    pub fn from_env() -> anyhow::Result<Self> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let number = |name: &str, default: u64| -> anyhow::Result<u64> {
            var(name).map_or(Ok(default), |v| {
                v.trim()
                    .parse()
                    .with_context(|| format!("{name}={v:?} is not a whole number"))
            })
        };
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        let concurrency =
            usize::try_from(number("M2M_PROCESSING_CONCURRENCY", cores as u64)?)?.max(1);
        let default_prefetch = u64::try_from(concurrency * 2)?;
        let prefetch = u16::try_from(number("M2M_PROCESSING_PREFETCH", default_prefetch)?)
            .context("M2M_PROCESSING_PREFETCH must be at most 65535")?;
        let raw = var("M2M_ANALYTICS_RAW").is_some_and(|v| v == "1" || v == "true");
        Ok(Self {
            bus: BusSettings::from_env()?,
            store: StoreSettings::from_env()?,
            concurrency,
            prefetch,
            ops: OpsSettings::from_env(DEFAULT_OPS_ADDR)?,
            max_recording_bytes: usize::try_from(number("M2M_MAX_RECORDING_BYTES", 16 << 20)?)?,
            analysis: if raw {
                AnalysisConfig::raw()
            } else {
                AnalysisConfig::default()
            },
        })
    }
}
