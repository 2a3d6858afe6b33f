//! The sync-worker's operations server (`M2M_OPS_ADDR`, default `127.0.0.1:9102`):
//! `/healthz`, `/readyz` (broker, MongoDB, Redis) and `/metrics`, where beside
//! the bus series of `shared_ops` it exports what [`JobStats`] counts:
//!
//! | series | labels | meaning |
//! |---|---|---|
//! | `m2m_job_runs_total` | `job` | runs of the job this process completed |
//! | `m2m_job_windows_skipped_total` | | timer messages acknowledged without a run (the window had already run, or a run of it was in progress) |

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use shared_events::events::Job;
use shared_ops::Metrics;

use crate::jobs::JobStats;

/// Reads [`JobStats`] at each scrape, so the counters stay where the jobs keep them.
#[derive(Debug)]
struct JobStatsCollector(Arc<JobStats>);

impl Collector for JobStatsCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let runs = ConstCounter::new(0u64);
        let mut family = encoder.encode_descriptor(
            "job_runs",
            "Job runs this process completed, by job",
            None,
            runs.metric_type(),
        )?;
        for job in [Job::Sync, Job::Backup] {
            let labels = [("job", job.as_str())];
            ConstCounter::new(self.0.runs(job)).encode(family.encode_family(&labels)?)?;
        }
        let skipped = ConstCounter::new(self.0.skipped.load(Ordering::Relaxed));
        let metric = encoder.encode_descriptor(
            "job_windows_skipped",
            "Timer messages acknowledged without a run",
            None,
            skipped.metric_type(),
        )?;
        skipped.encode(metric)
    }
}

/// Registers the job series of `stats` in `metrics`.
pub fn register(metrics: &mut Metrics, stats: Arc<JobStats>) {
    metrics
        .registry_mut()
        .register_collector(Box::new(JobStatsCollector(stats)));
}
