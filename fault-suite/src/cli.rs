//! The command line, and the two presets: the full local run and the shorter CI run.

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;

use crate::faults::FaultKind;

/// Injects faults into the whole system under a steady upload load and checks that
/// every acknowledged upload ends processed exactly once. Exits non-zero on any
/// violation.
#[derive(Debug, Parser)]
#[command(name = "fault-suite")]
pub struct Cli {
    /// Directory with the `gateway`, `processing-service` and `sync-worker` binaries.
    #[arg(long)]
    pub bin_dir: PathBuf,
    /// The shorter preset CI runs (fewer phones, shorter recordings and phases).
    #[arg(long)]
    pub ci: bool,
    /// RabbitMQ as a private cluster of three nodes, and the cluster faults by
    /// default (a leader's node killed, the gateway's node killed, a rolling
    /// restart).
    #[arg(long)]
    pub cluster: bool,
    /// Simulated phones uploading games.
    #[arg(long)]
    pub phones: Option<usize>,
    /// How many of them hold a notification socket.
    #[arg(long)]
    pub socket_phones: Option<usize>,
    /// Length of each uploaded recording (100 Hz, every channel).
    #[arg(long)]
    pub recording_secs: Option<usize>,
    /// Mean pause between two games of one phone, in milliseconds.
    #[arg(long)]
    pub think_ms: Option<u64>,
    /// Load before each fault, in seconds.
    #[arg(long)]
    pub warmup_secs: Option<u64>,
    /// Load after the system recovered, in seconds.
    #[arg(long)]
    pub after_secs: Option<u64>,
    /// The faults, in order (default: baseline, three worker kills, then RabbitMQ,
    /// Redis and MongoDB restarts, a gateway killed, a gateway stopped; with
    /// `--cluster`: baseline and the three cluster faults).
    #[arg(long, value_enum, value_delimiter = ',')]
    pub faults: Option<Vec<FaultKind>>,
    /// Also write the table to this file.
    #[arg(long)]
    pub report: Option<PathBuf>,
    /// Keep the run's directory (data and logs) even when everything passed.
    #[arg(long)]
    pub keep: bool,
}

/// What a run does, presets and options applied.
#[derive(Debug, Clone)]
pub struct Plan {
    pub phones: usize,
    pub socket_phones: usize,
    pub recording_secs: usize,
    /// Mean pause between two games of one phone.
    pub think: Duration,
    pub warmup: Duration,
    pub after: Duration,
    pub faults: Vec<FaultKind>,
    /// RabbitMQ nodes: 1, or 3 with `--cluster`.
    pub rabbitmq_nodes: usize,
    /// How long the system may take to recover before the phase fails.
    pub recover_timeout: Duration,
    /// How long the backlog may take to drain once the load stops.
    pub drain_timeout: Duration,
    /// How long a phone retries one upload.
    pub upload_deadline: Duration,
}

impl Cli {
    pub fn plan(&self) -> Plan {
        // The load stays below what the slowest part sustains on two cores (the
        // SecantusDB server: ~15-20 games/s here, falling as the patients' histories
        // grow), so that recovery times measure the fault, not an overload.
        let (phones, sockets, recording, think_ms, warmup, after) = if self.ci {
            (6, 3, 5, 1_000, 3, 4)
        } else {
            (40, 20, 20, 4_000, 5, 10)
        };
        let phones = self.phones.unwrap_or(phones).max(1);
        Plan {
            phones,
            socket_phones: self.socket_phones.unwrap_or(sockets).min(phones),
            recording_secs: self.recording_secs.unwrap_or(recording).max(1),
            think: Duration::from_millis(self.think_ms.unwrap_or(think_ms)),
            warmup: Duration::from_secs(self.warmup_secs.unwrap_or(warmup)),
            after: Duration::from_secs(self.after_secs.unwrap_or(after)),
            faults: self.faults.clone().unwrap_or_else(|| {
                if self.cluster {
                    cluster_faults()
                } else {
                    default_faults()
                }
            }),
            rabbitmq_nodes: if self.cluster { 3 } else { 1 },
            recover_timeout: Duration::from_secs(120),
            drain_timeout: Duration::from_secs(120),
            upload_deadline: Duration::from_secs(150),
        }
    }
}

fn default_faults() -> Vec<FaultKind> {
    use FaultKind::*;
    vec![
        Baseline,
        WorkerKill,
        WorkerKill,
        WorkerKill,
        RabbitmqRestart,
        RabbitmqKill,
        RedisRestart,
        MongodbRestart,
        GatewayRestart,
        GatewayStop,
    ]
}

fn cluster_faults() -> Vec<FaultKind> {
    use FaultKind::*;
    vec![
        Baseline,
        ClusterLeaderKill,
        ClusterGatewayNodeKill,
        ClusterRollingRestart,
    ]
}

impl Plan {
    /// Faults this plan cannot inject (a cluster fault without `--cluster`).
    pub fn impossible_faults(&self) -> Vec<FaultKind> {
        self.faults
            .iter()
            .copied()
            .filter(|fault| fault.needs_cluster() && self.rabbitmq_nodes < 3)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_override_the_preset_and_sockets_never_outnumber_phones() {
        let cli = Cli::parse_from([
            "fault-suite",
            "--bin-dir",
            "x",
            "--ci",
            "--phones",
            "3",
            "--faults",
            "worker-kill,redis-restart",
        ]);
        let plan = cli.plan();
        assert_eq!(plan.phones, 3);
        assert_eq!(plan.socket_phones, 3);
        assert_eq!(plan.recording_secs, 5);
        assert_eq!(
            plan.faults,
            [FaultKind::WorkerKill, FaultKind::RedisRestart]
        );
    }

    #[test]
    fn the_cluster_preset_runs_three_nodes_and_the_cluster_faults() {
        let plan = Cli::parse_from(["fault-suite", "--bin-dir", "x", "--cluster"]).plan();
        assert_eq!(plan.rabbitmq_nodes, 3);
        assert_eq!(plan.faults, cluster_faults());
        assert!(plan.impossible_faults().is_empty());
    }

    #[test]
    fn a_cluster_fault_without_a_cluster_is_impossible() {
        let plan = Cli::parse_from([
            "fault-suite",
            "--bin-dir",
            "x",
            "--faults",
            "baseline,cluster-rolling-restart",
        ])
        .plan();
        assert_eq!(plan.rabbitmq_nodes, 1);
        assert_eq!(plan.impossible_faults(), [FaultKind::ClusterRollingRestart]);
    }
}
