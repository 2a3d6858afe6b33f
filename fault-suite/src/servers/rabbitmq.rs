//! A private RabbitMQ node: its own node name, AMQP and distribution ports, data,
//! logs, configuration and Erlang cookie under the run's directory.
//!
//! The Debian scripts in `/usr/sbin` switch to the `rabbitmq` user and read
//! `/etc/rabbitmq`; the suite runs the real scripts in `/usr/lib/rabbitmq/bin`
//! directly with every path pointed at its own directory, so the machine's shared
//! node and its files are never read or written. Every `rabbitmqctl` call names this
//! node with `-n`.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::Context;

use crate::process::{Managed, Spec, find_program, free_port, wait_port};

#[derive(Debug)]
pub struct RabbitNode {
    pub port: u16,
    pub node: String,
    ctl: PathBuf,
    env: Vec<(String, String)>,
    process: Managed,
    pid_file: PathBuf,
}

impl RabbitNode {
    pub async fn start(dir: &Path) -> anyhow::Result<Self> {
        let home = dir.join("rabbitmq");
        std::fs::create_dir_all(&home)?;
        let (port, dist_port) = (free_port()?, free_port()?);
        let node = format!("m2mfault{}@localhost", std::process::id());
        std::fs::write(
            home.join("rabbitmq.conf"),
            format!("listeners.tcp.local = 127.0.0.1:{port}\n"),
        )?;
        // No plugins: nothing else listens (no management or Prometheus port).
        std::fs::write(home.join("enabled_plugins"), "[].\n")?;
        // An empty environment file, so /etc/rabbitmq/rabbitmq-env.conf (the shared
        // node's name) is not read.
        std::fs::write(home.join("rabbitmq-env.conf"), "")?;
        let pid_file = home.join("node.pid");
        let path = |name: &str| home.join(name).display().to_string();
        let env: Vec<(String, String)> = [
            // The Erlang cookie lives in $HOME: a private one for this node and its CLI.
            ("HOME", home.display().to_string()),
            ("RABBITMQ_NODENAME", node.clone()),
            ("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1".to_owned()),
            ("RABBITMQ_NODE_PORT", port.to_string()),
            ("RABBITMQ_DIST_PORT", dist_port.to_string()),
            ("RABBITMQ_CONFIG_FILE", path("rabbitmq.conf")),
            ("RABBITMQ_CONF_ENV_FILE", path("rabbitmq-env.conf")),
            // Absent on purpose: nothing of /etc/rabbitmq is read.
            ("RABBITMQ_ADVANCED_CONFIG_FILE", path("advanced.config")),
            ("RABBITMQ_ENABLED_PLUGINS_FILE", path("enabled_plugins")),
            ("RABBITMQ_MNESIA_BASE", path("mnesia")),
            ("RABBITMQ_LOG_BASE", path("log")),
            ("RABBITMQ_PID_FILE", pid_file.display().to_string()),
            (
                "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS",
                "-kernel inet_dist_use_interface {127,0,0,1}".to_owned(),
            ),
            ("ERL_EPMD_ADDRESS", "127.0.0.1".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let scripts = [PathBuf::from("/usr/lib/rabbitmq/bin")];
        let preferred = |name: &str| scripts.iter().map(|d| d.join(name)).collect::<Vec<_>>();
        let server = find_program("rabbitmq-server", &preferred("rabbitmq-server"))?;
        let ctl = find_program("rabbitmqctl", &preferred("rabbitmqctl"))?;
        let spec = Spec::new("rabbitmq", server, &dir.join("rabbitmq.log")).envs(&env);
        let mut process = Managed::new(spec);
        process.start()?;
        let mut rabbit = Self {
            port,
            node,
            ctl,
            env,
            process,
            pid_file,
        };
        rabbit.await_startup().await?;
        Ok(rabbit)
    }

    /// Runs `rabbitmqctl -n <this node> <args>`; its standard output.
    pub async fn ctl(&self, args: &[&str]) -> anyhow::Result<String> {
        let mut command = Command::new(&self.ctl);
        command
            .arg("-n")
            .arg(&self.node)
            .args(args)
            .envs(self.env.iter().map(|(k, v)| (k, v)));
        let output = tokio::task::spawn_blocking(move || command.output())
            .await?
            .context("Failed to run rabbitmqctl")?;
        anyhow::ensure!(
            output.status.success(),
            "rabbitmqctl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }

    /// Waits until the node runs the broker and listens for AMQP.
    async fn await_startup(&mut self) -> anyhow::Result<()> {
        let deadline = tokio::time::Instant::now() + super::BOOT_TIMEOUT;
        // `await_startup` fails at once while the node has not registered yet.
        while self
            .ctl(&["await_startup", "--timeout", "10"])
            .await
            .is_err()
        {
            if let Some(status) = self.process.exited() {
                anyhow::bail!("the RabbitMQ node exited at start ({status}); see its log");
            }
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "the RabbitMQ node did not start"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        wait_port(self.port, super::BOOT_TIMEOUT).await
    }

    /// `stop_app`, a pause, `start_app`: every connection drops; durable queues and
    /// their messages stay.
    pub async fn restart_app(&mut self, down: Duration) -> anyhow::Result<()> {
        self.ctl(&["stop_app"]).await?;
        tokio::time::sleep(down).await;
        self.ctl(&["start_app"]).await?;
        self.await_startup().await
    }

    /// `kill -9` of the node's Erlang VM in the middle of its work, a pause, and a
    /// start on the same data: what a power cut or the OOM killer does. Quorum queues
    /// recover from their write-ahead log; a message the broker confirmed must be
    /// there.
    pub async fn crash_and_restart(&mut self, down: Duration) -> anyhow::Result<()> {
        self.kill_vm()?;
        // The start script whose child the VM was ends with it: reap it.
        self.process.kill();
        tokio::time::sleep(down).await;
        self.process.start()?;
        self.await_startup().await
    }

    /// `kill -9` of the node's Erlang VM, by the pid it wrote.
    fn kill_vm(&self) -> anyhow::Result<()> {
        let pid = std::fs::read_to_string(&self.pid_file)
            .context("The RabbitMQ node wrote no pid file")?;
        let pid: u32 = pid.trim().parse().context("A pid file without a pid")?;
        let killed = Command::new("kill")
            .arg("-KILL")
            .arg(pid.to_string())
            .output()
            .context("Failed to run kill")?;
        anyhow::ensure!(
            killed.status.success(),
            "kill -9 of the RabbitMQ node {pid} failed"
        );
        Ok(())
    }

    /// Halts the node and reaps its processes (by the pids it started).
    pub fn stop(&mut self) {
        if self.process.pid().is_none() {
            return;
        }
        let stopped = Command::new(&self.ctl)
            .arg("-n")
            .arg(&self.node)
            .arg("stop")
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .output()
            .is_ok_and(|out| out.status.success());
        // The node would not stop politely: its Erlang VM (a child of the start
        // script) is killed directly.
        if !stopped {
            let _ = self.kill_vm();
        }
        self.process.kill();
    }
}

impl Drop for RabbitNode {
    fn drop(&mut self) {
        self.stop();
    }
}
