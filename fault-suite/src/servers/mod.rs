//! The suite's own RabbitMQ node, Redis and MongoDB-compatible server, on free ports
//! with their data in the run's directory.
//!
//! They are private so the suite can stop and restart them while other people's
//! tests use the machine's shared servers, which it never touches: the RabbitMQ node
//! has its own name, ports, data and cookie, and every command the suite sends it
//! names that node.
//!
//! Each is restarted the way the fault it stands for happens in production:
//! - Redis: `kill -9` and a fresh start without persistence, so its data is lost;
//! - SecantusDB: stopped (SIGTERM) and started on the same storage, like a `mongod`
//!   restart that keeps its data;
//! - RabbitMQ: `rabbitmqctl stop_app` / `start_app` (durable queues and their
//!   messages survive, connections do not), or `kill -9` and a start on its data; on
//!   a cluster (`--cluster`), one node at a time.

mod mongodb;
mod rabbitmq;
mod redis;

use std::path::Path;
use std::time::{Duration, Instant};

pub use self::mongodb::MongoServer;
pub use self::rabbitmq::Rabbit;
pub use self::redis::RedisServer;

/// The three servers of a run.
#[derive(Debug)]
pub struct Servers {
    pub redis: RedisServer,
    pub mongodb: MongoServer,
    pub rabbitmq: Rabbit,
}

impl Servers {
    /// Starts all three under `dir`, RabbitMQ as `rabbitmq_nodes` clustered nodes;
    /// prints how long it took.
    pub async fn start(dir: &Path, rabbitmq_nodes: usize) -> anyhow::Result<Self> {
        let started = Instant::now();
        let redis = RedisServer::start(dir).await?;
        let mongodb = MongoServer::start(dir).await?;
        let rabbitmq = Rabbit::start(dir, rabbitmq_nodes).await?;
        println!(
            "servers: redis :{}, secantusdb :{}, rabbitmq {}1..{}@localhost {} ({:.1} s)",
            redis.port,
            mongodb.port,
            rabbitmq.name,
            rabbitmq_nodes,
            shared_events::settings::redact_url(&rabbitmq.amqp_url()),
            started.elapsed().as_secs_f64()
        );
        Ok(Self {
            redis,
            mongodb,
            rabbitmq,
        })
    }

    pub fn amqp_url(&self) -> String {
        self.rabbitmq.amqp_url()
    }

    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.redis.port)
    }

    pub fn mongodb_url(&self) -> String {
        format!("mongodb://127.0.0.1:{}", self.mongodb.port)
    }

    /// Stops everything (also done on drop, less politely).
    pub fn stop(&mut self) {
        self.rabbitmq.stop();
        self.mongodb.stop();
        self.redis.stop();
    }
}

/// How long a server may take to come up on this kind of machine (a loaded two-core
/// box boots RabbitMQ in 5-15 s).
pub const BOOT_TIMEOUT: Duration = Duration::from_secs(120);
