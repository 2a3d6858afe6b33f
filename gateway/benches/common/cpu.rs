//! CPU time of each part of the system under test, from `/proc` (Linux only; zero
//! where unreadable). CPU per upload stays meaningful on a machine shared with
//! other work, where throughput alone does not.

/// The runtime the in-process gateway runs on, as `main` would build it, with named
/// threads that outlive idle spells so [`CpuSample`] can count them.
pub fn server_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_name(SERVER_THREADS)
        .thread_keep_alive(std::time::Duration::from_secs(3600))
        .build()
}

/// A runtime for an in-process processing worker, named so that [`CpuSample`]
/// counts its threads (the analyses' blocking threads included) apart.
pub fn worker_runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .thread_name(WORKER_THREADS)
        .thread_keep_alive(std::time::Duration::from_secs(3600))
        .build()
}

/// CPU seconds used so far by each part of the system under test.
#[derive(Debug, Clone, Copy, Default)]
pub struct CpuSample {
    /// The gateway's runtime threads (named [`SERVER_THREADS`]).
    pub gateway: f64,
    /// In-process processing workers' threads (named [`WORKER_THREADS`]).
    pub workers: f64,
    /// The rest of the bench process: the load generator.
    pub client: f64,
    /// The MongoDB-compatible server (`secantusd-py` listening on
    /// `BENCH_MONGODB_PORT`, default 27017) and the broker (`beam.smp`), also busy
    /// with whatever else uses these shared servers meanwhile.
    pub mongodb: f64,
    pub broker: f64,
    /// Every `redis-server` on the machine.
    pub redis: f64,
}

/// The thread name of the in-process gateway's runtime.
pub const SERVER_THREADS: &str = "gateway-rt";

/// The thread name of in-process workers' runtimes.
pub const WORKER_THREADS: &str = "worker-rt";

/// `/proc` counts CPU in clock ticks; 100 per second on Linux x86-64.
const TICKS_PER_SECOND: f64 = 100.0;

impl CpuSample {
    pub fn now() -> Self {
        // The process total includes threads that have exited; the gateway's
        // runtime keeps its threads alive for the whole run (`server_runtime`).
        let total = cpu_seconds(std::path::Path::new("/proc/self"));
        let (mut gateway, mut workers) = (0.0, 0.0);
        if let Ok(tasks) = std::fs::read_dir("/proc/self/task") {
            for task in tasks.flatten() {
                let cpu = cpu_seconds(&task.path());
                let name = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
                if name.starts_with(SERVER_THREADS) {
                    gateway += cpu;
                } else if name.starts_with(WORKER_THREADS) {
                    workers += cpu;
                }
            }
        }
        Self {
            gateway,
            workers,
            client: total - gateway - workers,
            mongodb: process_cpu("secantusd-py", Some(&mongodb_port())),
            broker: process_cpu("beam.smp", None),
            redis: process_cpu("redis-server", None),
        }
    }

    /// CPU milliseconds per item of each part between `self` and `later`.
    pub fn per_item_ms(&self, later: &CpuSample, items: usize) -> CpuSample {
        let per = |a: f64, b: f64| (b - a) * 1e3 / items.max(1) as f64;
        CpuSample {
            gateway: per(self.gateway, later.gateway),
            workers: per(self.workers, later.workers),
            client: per(self.client, later.client),
            mongodb: per(self.mongodb, later.mongodb),
            broker: per(self.broker, later.broker),
            redis: per(self.redis, later.redis),
        }
    }

    pub fn sum(&self) -> f64 {
        self.gateway + self.workers + self.client + self.mongodb + self.broker + self.redis
    }

    /// One line, in milliseconds, of the parts that were busy.
    pub fn line(&self) -> String {
        let parts = [
            ("gateway", self.gateway),
            ("workers", self.workers),
            ("load generator", self.client),
            ("MongoDB", self.mongodb),
            ("broker", self.broker),
            ("Redis", self.redis),
        ];
        let busy: Vec<String> = parts
            .iter()
            .filter(|(_, ms)| *ms > 0.0)
            .map(|(name, ms)| format!("{name} {ms:.2}"))
            .collect();
        format!("{}; total {:.2}", busy.join(", "), self.sum())
    }
}

/// utime + stime of the process or thread at `dir` (a `/proc` entry), in seconds.
fn cpu_seconds(dir: &std::path::Path) -> f64 {
    let stat = std::fs::read_to_string(dir.join("stat")).unwrap_or_default();
    // Fields after the `(comm)`, which may contain spaces: state is field 3, utime 14.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / TICKS_PER_SECOND
}

fn mongodb_port() -> String {
    std::env::var("BENCH_MONGODB_PORT").unwrap_or_else(|_| "27017".to_owned())
}

/// CPU seconds of the processes named `comm`, only those started with `--port
/// <port>` when a port is given (other people's tests run private servers).
fn process_cpu(comm: &str, port: Option<&str>) -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return 0.0;
    };
    entries
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|b| b.is_ascii_digit())
        })
        .filter(|e| {
            std::fs::read_to_string(e.path().join("comm")).is_ok_and(|name| name.trim_end() == comm)
        })
        .filter(|e| {
            port.is_none_or(|port| {
                let cmdline = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
                let args: Vec<&[u8]> = cmdline.split(|&b| b == 0).collect();
                args.windows(2)
                    .any(|pair| pair[0] == b"--port" && pair[1] == port.as_bytes())
            })
        })
        .map(|e| cpu_seconds(&e.path()))
        .sum()
}
