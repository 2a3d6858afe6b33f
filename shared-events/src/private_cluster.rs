//! A private RabbitMQ cluster for tests and the fault suite, driven through
//! `scripts/cluster`, the repository's one recipe for private nodes (their names,
//! ports, data, cookie, and how they are started, killed and rejoined).
//!
//! Behind the `testing` feature. Dropping a [`PrivateCluster`] stops its nodes and
//! deletes their data, so a failed test or an aborted run leaves no node behind
//! (only a `kill -9` of the test process itself can).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::Context as _;

/// Where the RabbitMQ scripts of Debian's package live (what `scripts/cluster` runs).
const RABBITMQ_SERVER: &str = "/usr/lib/rabbitmq/bin/rabbitmq-server";

/// A running cluster of private nodes, numbered from 1 as the script numbers them.
#[derive(Debug)]
pub struct PrivateCluster {
    dir: PathBuf,
    /// Each node's AMQP URL (guest/guest, vhost `/`), node 1 first.
    urls: Vec<String>,
    stopped: bool,
}

impl PrivateCluster {
    /// The script, from this crate's place in the repository.
    pub fn script() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/cluster")
    }

    /// Whether Debian's RabbitMQ package is installed (`scripts/services install`).
    pub fn rabbitmq_installed() -> bool {
        Path::new(RABBITMQ_SERVER).is_file()
    }

    /// Starts `nodes` nodes named `<name>1@localhost`... on free ports, with their
    /// data under `dir` (which must not hold another cluster).
    pub async fn start(dir: &Path, name: &str, nodes: usize) -> anyhow::Result<Self> {
        let mut cluster = Self {
            dir: dir.to_owned(),
            urls: Vec::new(),
            stopped: false,
        };
        let output = cluster
            .run(
                &["up"],
                &[
                    ("M2M_CLUSTER_NODES", nodes.to_string()),
                    ("M2M_CLUSTER_NAME", name.to_owned()),
                    ("M2M_CLUSTER_PORT", "auto".to_owned()),
                ],
            )
            .await?;
        let last = output.lines().last().unwrap_or_default();
        cluster.urls = last.split(',').map(str::to_owned).collect();
        anyhow::ensure!(
            cluster.urls.len() == nodes && cluster.urls.iter().all(|u| u.starts_with("amqp://")),
            "scripts/cluster up printed no URL list: {last:?}"
        );
        Ok(cluster)
    }

    /// The comma-separated list, as `M2M_AMQP_URL` takes it.
    pub fn url_list(&self) -> String {
        self.urls.join(",")
    }

    /// Node `node`'s URL alone.
    pub fn url(&self, node: usize) -> &str {
        &self.urls[node - 1]
    }

    pub fn nodes(&self) -> usize {
        self.urls.len()
    }

    /// The node whose AMQP port is `port`.
    pub fn node_on_port(&self, port: u16) -> Option<usize> {
        let suffix = format!(":{port}/");
        self.urls
            .iter()
            .position(|u| u.contains(&suffix))
            .map(|i| i + 1)
    }

    /// `kill -9` of node `node`'s Erlang VM; returns once it is gone.
    pub async fn kill(&self, node: usize) -> anyhow::Result<()> {
        self.run(&["kill", &node.to_string()], &[]).await.map(drop)
    }

    /// A clean stop of node `node`.
    pub async fn stop(&self, node: usize) -> anyhow::Result<()> {
        self.run(&["stop", &node.to_string()], &[]).await.map(drop)
    }

    /// Starts node `node` again on its data; returns once it runs and listens.
    pub async fn restart(&self, node: usize) -> anyhow::Result<()> {
        self.run(&["start", &node.to_string()], &[]).await.map(drop)
    }

    /// `rabbitmqctl` against node `node`; its standard output.
    pub async fn ctl(&self, node: usize, args: &[&str]) -> anyhow::Result<String> {
        let node = node.to_string();
        let mut all = vec!["ctl", node.as_str()];
        all.extend_from_slice(args);
        self.run(&all, &[]).await
    }

    /// The node each connection named `name` (the name a client gives it) is
    /// connected to, asked of node `via`.
    pub async fn nodes_of_connection(&self, via: usize, name: &str) -> anyhow::Result<Vec<usize>> {
        Ok(self
            .connections(via)
            .await?
            .into_iter()
            .filter(|(connection, _)| connection == name)
            .map(|(_, node)| node)
            .collect())
    }

    /// Every client connection of the cluster, by the name its client gave it, with
    /// the node it is on, asked of node `via` (any running node knows them all).
    pub async fn connections(&self, via: usize) -> anyhow::Result<Vec<(String, usize)>> {
        let listing = self
            .ctl(
                via,
                &[
                    "list_connections",
                    "-q",
                    "--formatter",
                    "json",
                    "port",
                    "client_properties",
                ],
            )
            .await?;
        let connections: Vec<serde_json::Value> =
            serde_json::from_str(&listing).context("Unreadable list_connections output")?;
        Ok(connections
            .iter()
            .filter_map(|connection| {
                // Each property is `[key, type, value]`; the node is told by the port
                // the client connected to, one per node.
                let name = connection["client_properties"]
                    .as_array()?
                    .iter()
                    .find(|property| property[0] == "connection_name")?[2]
                    .as_str()?
                    .to_owned();
                let port = u16::try_from(connection["port"].as_u64()?).ok()?;
                Some((name, self.node_on_port(port)?))
            })
            .collect())
    }

    /// The node holding the leader of quorum queue (or stream) `queue`, and how many
    /// members it has, asked of node `via`.
    pub async fn leader_of(
        &self,
        via: usize,
        queue: &str,
    ) -> anyhow::Result<Option<(usize, usize)>> {
        let listing = self
            .ctl(
                via,
                &[
                    "list_queues",
                    "-q",
                    "--no-table-headers",
                    "name",
                    "leader",
                    "members",
                ],
            )
            .await?;
        Ok(listing.lines().find_map(|line| {
            let mut fields = line.split('\t');
            (fields.next()? == queue).then_some(())?;
            let leader = fields.next()?;
            let members = fields.next()?.matches('@').count();
            let node = self.node_named(leader)?;
            Some((node, members))
        }))
    }

    /// The number of node `<name><N>@localhost`.
    fn node_named(&self, node_name: &str) -> Option<usize> {
        let (name, _) = node_name.trim().split_once('@')?;
        // The script numbers nodes 1-9 after the prefix, which may hold digits too.
        let number = name.chars().last()?.to_digit(10)? as usize;
        (1..=self.nodes()).contains(&number).then_some(number)
    }

    /// Stops every node and deletes the data (also done on drop).
    pub fn down(&mut self) {
        if self.stopped {
            return;
        }
        self.stopped = true;
        let _ = self.command(&["down"], &[]).output();
    }

    fn command(&self, args: &[&str], env: &[(&str, String)]) -> Command {
        let mut command = Command::new(Self::script());
        command
            .args(args)
            .env("M2M_CLUSTER_DIR", &self.dir)
            .envs(env.iter().map(|(k, v)| (k, v)));
        command
    }

    async fn run(&self, args: &[&str], env: &[(&str, String)]) -> anyhow::Result<String> {
        let mut command = self.command(args, env);
        let what = format!("scripts/cluster {}", args.join(" "));
        let output = tokio::task::spawn_blocking(move || command.output())
            .await?
            .with_context(|| format!("Failed to run {what}"))?;
        anyhow::ensure!(
            output.status.success(),
            "{what} failed: {}",
            String::from_utf8_lossy(&output.stderr).trim()
        );
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        self.down();
    }
}
