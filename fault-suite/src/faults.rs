//! The faults, and how each is injected and undone.
//!
//! Every injection returns two instants: when the fault hit, and when the broken part
//! was back (restarted, answering). What the system does after that is measured by
//! [`crate::recovery`].

use std::time::{Duration, Instant};

use clap::ValueEnum;
use shared_events::{Topology, WorkQueue};

use crate::phone::Load;
use crate::servers::Servers;
use crate::system::{self, System};

/// How long a broken part stays down before it is brought back (an orchestrator
/// noticing and restarting it).
pub const DOWN: Duration = Duration::from_secs(2);
/// How long a stopping gateway may drain (its own deadline is 10 s for requests
/// and 20 s for the consumers) before it is killed.
const GATEWAY_GRACE: Duration = Duration::from_secs(40);

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FaultKind {
    /// No fault: the same load and checks, for comparison.
    Baseline,
    /// `kill -9` of a processing worker caught busy, then a restart.
    WorkerKill,
    /// `rabbitmqctl stop_app`, `start_app`.
    RabbitmqRestart,
    /// `kill -9` of the RabbitMQ node's VM, then a start on its data.
    RabbitmqKill,
    /// `kill -9` of Redis and a start without its data.
    RedisRestart,
    /// SecantusDB stopped and started on its data.
    MongodbRestart,
    /// `kill -9` of the gateway in the middle of uploads, then a restart.
    GatewayRestart,
    /// The gateway stopped as a deployment stops it (`SIGTERM`: it drains), then
    /// started again.
    GatewayStop,
    /// `--cluster`: `kill -9` of the node holding the most quorum-queue leaders; it
    /// stays down until the system has recovered without it, then starts again.
    ClusterLeaderKill,
    /// `--cluster`: `kill -9` of the node the gateway's notification listener is
    /// connected to; down until the system has recovered without it.
    ClusterGatewayNodeKill,
    /// `--cluster`: every node stopped (cleanly) and started again, one at a time.
    ClusterRollingRestart,
}

impl FaultKind {
    /// The row label in the report.
    pub fn label(self) -> &'static str {
        match self {
            Self::Baseline => "none (baseline)",
            Self::WorkerKill => "`kill -9` processing worker",
            Self::RabbitmqRestart => "RabbitMQ restart (`stop_app`/`start_app`)",
            Self::RabbitmqKill => "`kill -9` RabbitMQ node, restart",
            Self::RedisRestart => "Redis restart, data lost",
            Self::MongodbRestart => "MongoDB-compatible server restart",
            Self::GatewayRestart => "`kill -9` gateway mid-upload, restart",
            Self::GatewayStop => "gateway `SIGTERM` mid-upload (drain), restart",
            Self::ClusterLeaderKill => "cluster: `kill -9` of the queue leaders' node",
            Self::ClusterGatewayNodeKill => "cluster: `kill -9` of the gateway's node",
            Self::ClusterRollingRestart => "cluster: rolling restart of the 3 nodes",
        }
    }

    /// Whether the fault needs the three-node cluster of `--cluster`.
    pub fn needs_cluster(self) -> bool {
        matches!(
            self,
            Self::ClusterLeaderKill | Self::ClusterGatewayNodeKill | Self::ClusterRollingRestart
        )
    }
}

/// When a fault hit and when the broken part was back.
#[derive(Debug, Clone)]
pub struct Injected {
    pub hit: Instant,
    pub back: Instant,
    /// What exactly happened (which worker, caught busy or not).
    pub detail: String,
    /// A broker node left down on purpose: the system must recover without it
    /// (measured from `hit`); the phase starts it again afterwards.
    pub node_down: Option<usize>,
}

/// Injects `kind`; `kills` counts worker kills so far (victims alternate).
pub async fn inject(
    kind: FaultKind,
    servers: &mut Servers,
    system: &mut System,
    load: &Load,
    kills: usize,
) -> anyhow::Result<Injected> {
    let mut detail = String::new();
    let mut node_down = None;
    let hit;
    match kind {
        FaultKind::Baseline => hit = Instant::now(),
        FaultKind::WorkerKill => {
            let victim = kills % system.workers.len();
            let busy = wait_until_busy(system, load, victim).await;
            hit = Instant::now();
            system.workers[victim].kill();
            detail = format!(
                "worker {} killed{}",
                victim + 1,
                if busy {
                    " while analysing"
                } else {
                    " (seen idle)"
                }
            );
            tokio::time::sleep(DOWN).await;
            system.workers[victim].start()?;
        }
        FaultKind::RabbitmqRestart => {
            hit = Instant::now();
            servers.rabbitmq.restart_app(1, DOWN).await?;
        }
        FaultKind::RabbitmqKill => {
            hit = Instant::now();
            servers.rabbitmq.crash_and_restart(1, DOWN).await?;
        }
        FaultKind::ClusterLeaderKill => {
            let (victim, leaders) = leaders_node(servers).await?;
            hit = Instant::now();
            servers.rabbitmq.cluster.kill(victim).await?;
            detail = format!("node {victim} killed, leader of {leaders}");
            node_down = Some(victim);
        }
        FaultKind::ClusterGatewayNodeKill => {
            let (victim, connections) = gateway_node(servers).await?;
            hit = Instant::now();
            servers.rabbitmq.cluster.kill(victim).await?;
            detail = format!("node {victim} killed, with the gateway's {connections}");
            node_down = Some(victim);
        }
        FaultKind::ClusterRollingRestart => {
            hit = Instant::now();
            let mut steps = Vec::new();
            for node in 1..=servers.rabbitmq.cluster.nodes() {
                let started = Instant::now();
                servers.rabbitmq.cluster.stop(node).await?;
                servers.rabbitmq.cluster.restart(node).await?;
                steps.push(format!("{node}: {:.0} s", started.elapsed().as_secs_f64()));
            }
            detail = format!("node restarts {}", steps.join(", "));
        }
        FaultKind::RedisRestart => {
            hit = Instant::now();
            servers.redis.crash_and_restart(DOWN).await?;
        }
        FaultKind::MongodbRestart => {
            hit = Instant::now();
            servers.mongodb.restart(DOWN).await?;
        }
        FaultKind::GatewayRestart => {
            hit = Instant::now();
            system.gateway.kill();
            tokio::time::sleep(DOWN).await;
            system.start_gateway().await?;
        }
        FaultKind::GatewayStop => {
            hit = Instant::now();
            let gateway = &mut system.gateway;
            tokio::task::block_in_place(|| gateway.terminate(GATEWAY_GRACE));
            tokio::time::sleep(DOWN).await;
            system.start_gateway().await?;
        }
    }
    Ok(Injected {
        hit,
        back: Instant::now(),
        detail,
        node_down,
    })
}

/// The node leading the most work queues, and which ones it leads.
async fn leaders_node(servers: &Servers) -> anyhow::Result<(usize, String)> {
    let topology = Topology::new(system::BUS_PREFIX);
    let cluster = &servers.rabbitmq.cluster;
    let mut led: Vec<Vec<&str>> = vec![Vec::new(); cluster.nodes() + 1];
    for queue in WorkQueue::ALL {
        let name = topology.queue(queue);
        if let Some((leader, _)) = cluster.leader_of(1, &name).await? {
            led[leader].push(queue.event_type());
        }
    }
    let victim = (1..=cluster.nodes())
        .max_by_key(|node| led[*node].len())
        .unwrap_or(1);
    anyhow::ensure!(!led[victim].is_empty(), "no work queue has a leader");
    Ok((victim, format!("the {} queue(s)", led[victim].join(", "))))
}

/// The node the gateway's notification listener is connected to, and which of the
/// gateway's connections are there.
async fn gateway_node(servers: &Servers) -> anyhow::Result<(usize, String)> {
    let connections = servers.rabbitmq.cluster.connections(1).await?;
    let victim = connections
        .iter()
        .find(|(name, _)| name.starts_with("gateway notifications"))
        .map(|(_, node)| *node)
        .ok_or_else(|| anyhow::anyhow!("the gateway's notification listener is not connected"))?;
    let mut on_victim: Vec<&str> = connections
        .iter()
        .filter(|(name, node)| *node == victim && name.starts_with("gateway"))
        .map(|(name, _)| {
            name.trim_start_matches("gateway ")
                .split(' ')
                .next()
                .unwrap_or(name)
        })
        .collect();
    on_victim.sort_unstable();
    Ok((victim, format!("{} connection(s)", on_victim.join(", "))))
}

/// Makes the phones upload at once and waits until worker `victim` is on a CPU (some
/// thread in state `R`: decoding, analysing or saving a game), trying for up to 20 s;
/// returns whether it caught it busy. The kill then lands in the middle of work, which
/// shows afterwards as redelivered analyses ([`crate::logs`]).
async fn wait_until_busy(system: &System, load: &Load, victim: usize) -> bool {
    let Some(pid) = system.workers[victim].pid() else {
        return false;
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        load.burst();
        let attempt = Instant::now() + Duration::from_secs(2);
        while Instant::now() < attempt {
            if running(pid) {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    }
    false
}

/// Whether a thread of process `pid` is running now, from `/proc/<pid>/task/*/stat`
/// (Linux): the state is the field after the parenthesised command name.
fn running(pid: u32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        std::fs::read_to_string(task.path().join("stat")).is_ok_and(|stat| {
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('R'))
        })
    })
}
