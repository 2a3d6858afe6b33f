//! The services as real processes: one gateway, two processing workers and a
//! sync-worker, each started from its binary with `M2M_*` variables pointing at the
//! private servers, logging JSON lines to its own file in the run's directory.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;

use crate::process::{Managed, Spec, free_port, wait_port};
use crate::servers::Servers;

/// How long a service may take to connect everything and listen.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// The database every service uses on the private server.
pub const DATABASE: &str = "m2m_fault";
/// `M2M_BUS_PREFIX` of every service.
pub const BUS_PREFIX: &str = "fault";

#[derive(Debug)]
pub struct System {
    pub gateway: Managed,
    pub workers: Vec<Managed>,
    pub sync_worker: Managed,
    pub gateway_port: u16,
}

impl System {
    /// Starts every service and waits for the gateway to listen.
    pub async fn start(bin_dir: &Path, servers: &Servers, dir: &Path) -> anyhow::Result<Self> {
        let gateway_port = free_port()?;
        let secret = format!(
            "{}{}",
            uuid::Uuid::new_v4().simple(),
            uuid::Uuid::new_v4().simple()
        );
        let common: Vec<(String, String)> = [
            ("M2M_AMQP_URL", servers.amqp_url()),
            ("M2M_BUS_PREFIX", BUS_PREFIX.to_owned()),
            ("M2M_REDIS_URL", servers.redis_url()),
            ("M2M_MONGODB_URL", servers.mongodb_url()),
            ("M2M_MONGODB_DB", DATABASE.to_owned()),
            ("M2M_LOG_FORMAT", "json".to_owned()),
            ("RUST_LOG", "info".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let binary = |name: &str| -> anyhow::Result<PathBuf> {
            let path = bin_dir.join(name);
            anyhow::ensure!(
                path.is_file(),
                "{} is missing: build it first",
                path.display()
            );
            Ok(path)
        };
        let log = |name: &str| dir.join(format!("{name}.log"));
        // Every worker serves /metrics on an ops port of its own: the defaults
        // (9101, 9102) would collide between the two workers, and with anything
        // else on the machine.
        let ops_addr = || -> anyhow::Result<String> { Ok(format!("127.0.0.1:{}", free_port()?)) };

        let gateway = Spec::new("gateway", binary("gateway")?, &log("gateway"))
            .envs(&common)
            .env("M2M_HTTP_ADDR", format!("127.0.0.1:{gateway_port}"))
            .env("M2M_JWT_SECRET", secret)
            // The run is longer than the default 15 min token life; phones here do not refresh.
            .env("M2M_ACCESS_TOKEN_TTL_SECS", "14400");
        let workers = (1..=2)
            .map(|n| {
                let name = format!("processing-{n}");
                Ok(Spec::new(&name, binary("processing-service")?, &log(&name))
                    .envs(&common)
                    .env("M2M_OPS_ADDR", ops_addr()?))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        // A sync window of 5 s (the default is an hour) so that Redis has a recent
        // snapshot in the store when the Redis fault comes.
        let sync_worker = Spec::new("sync-worker", binary("sync-worker")?, &log("sync-worker"))
            .envs(&common)
            .env("M2M_SYNC_INTERVAL_SECS", "5")
            .env("M2M_OPS_ADDR", ops_addr()?);

        let mut system = Self {
            gateway: Managed::new(gateway),
            workers: workers.into_iter().map(Managed::new).collect(),
            sync_worker: Managed::new(sync_worker),
            gateway_port,
        };
        system.sync_worker.start()?;
        for worker in &mut system.workers {
            worker.start()?;
        }
        system.start_gateway().await?;
        Ok(system)
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.gateway_port)
    }

    /// Starts the gateway and waits until it listens.
    pub async fn start_gateway(&mut self) -> anyhow::Result<()> {
        self.gateway.start()?;
        wait_port(self.gateway_port, START_TIMEOUT)
            .await
            .context("The gateway did not start; see gateway.log")
    }

    /// Processes that ended without the suite stopping them.
    pub fn crashed(&mut self) -> Vec<String> {
        let mut crashed = Vec::new();
        for process in std::iter::once(&mut self.gateway)
            .chain(self.workers.iter_mut())
            .chain(std::iter::once(&mut self.sync_worker))
        {
            if let Some(status) = process.exited() {
                crashed.push(format!("{} exited by itself ({status})", process.spec.name));
            }
        }
        crashed
    }

    /// The logs of the processing workers (every incarnation).
    pub fn worker_logs(&self) -> Vec<PathBuf> {
        self.workers.iter().map(|w| w.spec.log.clone()).collect()
    }

    /// SIGTERM to everything, as an orchestrator stops a deployment.
    pub fn stop(&mut self) {
        let grace = Duration::from_secs(15);
        self.gateway.terminate(grace);
        for worker in &mut self.workers {
            worker.terminate(grace);
        }
        self.sync_worker.terminate(grace);
    }
}
