//! The faults, and how each is injected and undone.
//!
//! Every injection returns two instants: when the fault hit, and when the broken part
//! was back (restarted, answering). What the system does after that is measured by
//! [`crate::recovery`].

use std::time::{Duration, Instant};

use clap::ValueEnum;

use crate::phone::Load;
use crate::servers::Servers;
use crate::system::System;

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
        }
    }
}

/// When a fault hit and when the broken part was back.
#[derive(Debug, Clone)]
pub struct Injected {
    pub hit: Instant,
    pub back: Instant,
    /// What exactly happened (which worker, caught busy or not).
    pub detail: String,
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
            servers.rabbitmq.restart_app(DOWN).await?;
        }
        FaultKind::RabbitmqKill => {
            hit = Instant::now();
            servers.rabbitmq.crash_and_restart(DOWN).await?;
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
    })
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
