//! A private SecantusDB (MongoDB wire-compatible) on disk: a restart keeps the data,
//! as a `mongod` restart does.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::process::{Managed, Spec, find_program, free_port, wait_port};

/// How long a stop may take before it becomes a `kill -9`.
const STOP_GRACE: Duration = Duration::from_secs(20);

#[derive(Debug)]
pub struct MongoServer {
    pub port: u16,
    process: Managed,
}

impl MongoServer {
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let port = free_port()?;
        let data = dir.join("mongodb");
        std::fs::create_dir_all(&data)?;
        let program = find_program("secantusd-py", &user_bin("secantusd-py"))?;
        // Standalone: the one-node replica-set mode slows writes down sharply after
        // ~10k of them (docs/ARCHITECTURE.md); the services need no transactions.
        let spec = Spec::new("secantusdb", program, &dir.join("mongodb.log"))
            .arg("--host")
            .arg("127.0.0.1")
            .arg("--port")
            .arg(port.to_string())
            .arg("--storage-path")
            .arg(data.display().to_string())
            .arg("--standalone");
        let mut process = Managed::new(spec);
        process.start()?;
        wait_port(port, super::BOOT_TIMEOUT).await?;
        Ok(Self { port, process })
    }

    /// Stops it (SIGTERM), pauses, starts it again on the same storage.
    pub async fn restart(&mut self, down: Duration) -> anyhow::Result<()> {
        let process = &mut self.process;
        tokio::task::block_in_place(|| process.terminate(STOP_GRACE));
        tokio::time::sleep(down).await;
        self.process.start()?;
        wait_port(self.port, super::BOOT_TIMEOUT).await
    }

    pub fn stop(&mut self) {
        self.process.terminate(STOP_GRACE);
    }
}

/// Where `pip install --user` puts scripts, for a `secantusd-py` not on `PATH`.
fn user_bin(program: &str) -> Vec<PathBuf> {
    std::process::Command::new("python3")
        .args(["-m", "site", "--user-base"])
        .output()
        .ok()
        .and_then(|out| String::from_utf8(out.stdout).ok())
        .map(|base| vec![PathBuf::from(base.trim()).join("bin").join(program)])
        .unwrap_or_default()
}
