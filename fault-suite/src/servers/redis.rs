//! A private `redis-server` without persistence: a restart loses every key.

use std::path::Path;
use std::time::Duration;

use crate::process::{Managed, Spec, find_program, free_port, wait_port};

#[derive(Debug)]
pub struct RedisServer {
    pub port: u16,
    process: Managed,
}

impl RedisServer {
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        let data = dir.join("redis");
        std::fs::create_dir_all(&data)?;
        let spec = Spec::new(
            "redis",
            find_program("redis-server", &[])?,
            &dir.join("redis.log"),
        )
        .arg("--bind")
        .arg("127.0.0.1")
        .arg("--port")
        .arg(port.to_string())
        // No RDB snapshots, no AOF: what a restart finds is nothing.
        .arg("--save")
        .arg("")
        .arg("--appendonly")
        .arg("no")
        .arg("--dir")
        .arg(data.display().to_string());
        let mut process = Managed::new(spec);
        process.start()?;
        wait_port(port, super::BOOT_TIMEOUT).await?;
        Ok(Self { port, process })
    }

    /// `kill -9`, a pause, and a fresh, empty start on the same port.
    pub async fn crash_and_restart(&mut self, down: Duration) -> anyhow::Result<()> {
        self.process.kill();
        tokio::time::sleep(down).await;
        self.process.start()?;
        wait_port(self.port, super::BOOT_TIMEOUT).await
    }

    pub fn stop(&mut self) {
        self.process.kill();
    }
}
