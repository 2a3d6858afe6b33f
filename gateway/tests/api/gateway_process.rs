//! The gateway binary run as a child process, for what a test cannot see of a gateway
//! running inside its own process: its memory high-water mark, its open sockets and
//! everything it logs.

use std::io::{BufRead, BufReader, Read};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use gateway::config::Settings;
use serde_json::Value;
use shared_store::{RedisKeys, connect_mongodb, connect_redis};

use crate::helpers::{TestApp, test_vars};

/// A gateway process with its own database, Redis prefix and bus prefix, logging
/// JSON lines; killed, and its data removed, on drop.
pub struct GatewayProcess {
    /// The usual handles (address, client, stores); its drop removes the data.
    pub app: TestApp,
    child: Child,
    output: Arc<Mutex<String>>,
}

impl GatewayProcess {
    /// Starts the gateway with `overrides` and the log filter `rust_log` (at least
    /// `info`: the port is read from the "listening" line), and waits until it listens.
    pub async fn start(overrides: &[(&str, &str)], rust_log: &str) -> Self {
        let (mut vars, jwt_secret) = test_vars(overrides);
        vars.insert("M2M_LOG_FORMAT".into(), "json".into());
        vars.insert("RUST_LOG".into(), rust_log.into());
        let mut child = Command::new(env!("CARGO_BIN_EXE_gateway"))
            .envs(&vars)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the gateway binary starts");
        let output = Arc::new(Mutex::new(String::new()));
        let (port_tx, port_rx) = mpsc::channel();
        let stdout = child.stdout.take().expect("piped stdout");
        let stderr = child.stderr.take().expect("piped stderr");
        collect(stdout, Arc::clone(&output), Some(port_tx));
        collect(stderr, Arc::clone(&output), None);

        let port: u16 =
            tokio::task::spawn_blocking(move || port_rx.recv_timeout(Duration::from_secs(120)))
                .await
                .expect("the waiting thread")
                .unwrap_or_else(|_| {
                    panic!(
                        "the gateway did not start listening:\n{}",
                        output.lock().expect("output")
                    )
                });

        let settings = Settings::from_lookup(|name| vars.get(name).cloned()).expect("settings");
        let store = settings.store.clone();
        let app = TestApp {
            address: format!("http://127.0.0.1:{port}"),
            client: reqwest::Client::new(),
            db: connect_mongodb(&store, "gateway-tests")
                .await
                .expect("mongodb"),
            redis: connect_redis(&store).await.expect("redis"),
            keys: RedisKeys::new(&store.redis_prefix),
            jwt_secret,
            bus: shared_events::Bus::new(settings.bus.clone()),
            store,
            settings,
        };
        Self { app, child, output }
    }

    /// `host:port` for raw TCP clients.
    pub fn socket_address(&self) -> String {
        self.app.address.trim_start_matches("http://").to_owned()
    }

    /// Everything the process has written to stdout and stderr so far.
    pub fn output(&self) -> String {
        self.output.lock().expect("output").clone()
    }

    /// The most resident memory the process has had, in bytes (`VmHWM`).
    pub fn peak_rss_bytes(&self) -> u64 {
        self.status_kib("VmHWM:") * 1024
    }

    /// The process's open sockets: its connections, listener and store clients.
    pub fn open_sockets(&self) -> usize {
        let Ok(entries) = std::fs::read_dir(format!("/proc/{}/fd", self.child.id())) else {
            return 0;
        };
        entries
            .filter_map(Result::ok)
            .filter_map(|entry| std::fs::read_link(entry.path()).ok())
            .filter(|target| target.to_string_lossy().starts_with("socket:"))
            .count()
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("/proc status of the gateway");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc status"))
    }
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Appends every line of `stream` to `output`; on stdout, sends the port of the
/// "listening" log line.
fn collect(
    stream: impl Read + Send + 'static,
    output: Arc<Mutex<String>>,
    port_tx: Option<mpsc::Sender<u16>>,
) {
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines() {
            let Ok(line) = line else { break };
            if let Some(tx) = &port_tx
                && let Ok(event) = serde_json::from_str::<Value>(&line)
                && event["message"] == "The gateway is listening"
                && let Some(port) = event["port"].as_u64().and_then(|p| u16::try_from(p).ok())
            {
                let _ = tx.send(port);
            }
            let mut output = output.lock().expect("output");
            output.push_str(&line);
            output.push('\n');
        }
    });
}
