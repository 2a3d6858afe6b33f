//! The suite's RabbitMQ: one private node, or a private cluster of three
//! (`--cluster`), started, killed and restarted through `scripts/cluster`
//! (`shared_events::private_cluster`), the repository's one recipe for private
//! nodes: their own names, ports, data, logs, configuration and Erlang cookie under
//! the run's directory, so the machine's shared node is never read, written or
//! addressed.

use std::path::Path;
use std::time::Duration;

use shared_events::private_cluster::PrivateCluster;

#[derive(Debug)]
pub struct Rabbit {
    pub cluster: PrivateCluster,
    /// The node name prefix (`<name>1@localhost`, ...).
    pub name: String,
}

impl Rabbit {
    /// Starts `nodes` nodes under `dir/rabbitmq`.
    pub async fn start(dir: &Path, nodes: usize) -> anyhow::Result<Self> {
        anyhow::ensure!(
            PrivateCluster::rabbitmq_installed(),
            "rabbitmq-server is not installed (scripts/services install)"
        );
        let name = format!("m2mfault{}n", std::process::id());
        let cluster = PrivateCluster::start(&dir.join("rabbitmq"), &name, nodes).await?;
        Ok(Self { cluster, name })
    }

    /// `M2M_AMQP_URL` for the services: every node.
    pub fn amqp_url(&self) -> String {
        self.cluster.url_list()
    }

    /// `rabbitmqctl stop_app`, a pause, `start_app` on node `node`: its connections
    /// drop; durable queues and their messages stay.
    pub async fn restart_app(&mut self, node: usize, down: Duration) -> anyhow::Result<()> {
        self.cluster.ctl(node, &["stop_app"]).await?;
        tokio::time::sleep(down).await;
        self.cluster.ctl(node, &["start_app"]).await?;
        self.cluster
            .ctl(node, &["await_startup", "--timeout", "120"])
            .await
            .map(drop)
    }

    /// `kill -9` of node `node`'s Erlang VM in the middle of its work, a pause, and
    /// a start on the same data: what a power cut or the OOM killer does. Quorum
    /// queues recover from their write-ahead log; a message the broker confirmed
    /// must be there.
    pub async fn crash_and_restart(&mut self, node: usize, down: Duration) -> anyhow::Result<()> {
        self.cluster.kill(node).await?;
        tokio::time::sleep(down).await;
        self.cluster.restart(node).await
    }

    /// Stops every node and deletes their data (also done on drop).
    pub fn stop(&mut self) {
        self.cluster.down();
    }
}
