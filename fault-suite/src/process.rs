//! A child process the suite starts, kills and starts again, always by its own pid.
//!
//! Its output goes to a log file opened for appending, so the log of a process that
//! was killed and restarted holds every incarnation in order. Dropping a [`Managed`]
//! kills what is still running: an aborted run leaves no process behind.

use std::fs::OpenOptions;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// How to start a process: program, arguments, environment, log file.
#[derive(Debug, Clone)]
pub struct Spec {
    pub name: String,
    pub program: PathBuf,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub log: PathBuf,
}

impl Spec {
    pub fn new(name: &str, program: impl Into<PathBuf>, log: &Path) -> Self {
        Self {
            name: name.to_owned(),
            program: program.into(),
            args: Vec::new(),
            env: Vec::new(),
            log: log.to_owned(),
        }
    }

    pub fn arg(mut self, arg: impl Into<String>) -> Self {
        self.args.push(arg.into());
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<String>) -> Self {
        self.env.push((key.to_owned(), value.into()));
        self
    }

    pub fn envs(mut self, vars: &[(String, String)]) -> Self {
        self.env.extend(vars.iter().cloned());
        self
    }
}

/// A process started from a [`Spec`], at most one incarnation at a time.
#[derive(Debug)]
pub struct Managed {
    pub spec: Spec,
    child: Option<Child>,
    /// Incarnations started so far.
    pub starts: u32,
}

impl Managed {
    pub fn new(spec: Spec) -> Self {
        Self {
            spec,
            child: None,
            starts: 0,
        }
    }

    /// Starts a new incarnation (the previous one must be gone).
    pub fn start(&mut self) -> anyhow::Result<()> {
        anyhow::ensure!(
            self.child.is_none(),
            "{} is already running",
            self.spec.name
        );
        let mut log = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.spec.log)
            .with_context(|| format!("Failed to open {}", self.spec.log.display()))?;
        writeln!(log, "--- fault-suite: starting {} ---", self.spec.name)?;
        let child = Command::new(&self.spec.program)
            .args(&self.spec.args)
            .envs(self.spec.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .spawn()
            .with_context(|| format!("Failed to start {}", self.spec.program.display()))?;
        self.child = Some(child);
        self.starts += 1;
        Ok(())
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// `kill -9`, then reaps it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then `kill -9` if it has not exited within `grace`.
    pub fn terminate(&mut self, grace: Duration) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        // `kill(1)` by pid: the crate forbids the unsafe a direct libc call needs.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + grace;
        while Instant::now() < deadline {
            if let Ok(Some(_)) = child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// How the current incarnation ended, if it has (a crash the suite did not cause).
    pub fn exited(&mut self) -> Option<ExitStatus> {
        self.child
            .as_mut()
            .and_then(|c| c.try_wait().ok().flatten())
    }
}

impl Drop for Managed {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The first of `preferred` that exists, else `program` on `PATH`.
pub fn find_program(program: &str, preferred: &[PathBuf]) -> anyhow::Result<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .map(|dir| dir.join(program));
    preferred
        .iter()
        .cloned()
        .chain(on_path)
        .find(|candidate| candidate.is_file())
        .with_context(|| format!("`{program}` not found (scripts/services install puts it there)"))
}

/// Waits until something accepts TCP connections on `127.0.0.1:port`.
pub async fn wait_port(port: u16, within: Duration) -> anyhow::Result<()> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return Ok(());
        }
        anyhow::ensure!(
            tokio::time::Instant::now() < deadline,
            "nothing listens on port {port} after {within:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A port nothing listens on now (the kernel's pick for port 0).
pub fn free_port() -> anyhow::Result<u16> {
    let listener =
        std::net::TcpListener::bind(("127.0.0.1", 0)).context("Failed to bind a port")?;
    Ok(listener.local_addr()?.port())
}
