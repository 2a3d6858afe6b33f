//! A whole run: private servers, the services, the phones, then one phase per fault
//! ([`crate::phase`]), the final checks, the table.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use tokio::task::JoinSet;

use crate::cli::{Cli, Plan};
use crate::inspect;
use crate::ledger::Ledger;
use crate::phone::socket::{self, SocketStats};
use crate::phone::{self, Load, Phone, Workload};
use crate::report::{self, Row};
use crate::servers::Servers;
use crate::system::{self, System};

/// Everything a phase works with.
#[derive(Debug)]
pub struct Run {
    pub plan: Plan,
    pub servers: Servers,
    pub system: System,
    pub db: mongodb::Database,
    pub ledger: Arc<Ledger>,
    pub load: Arc<Load>,
    pub sockets: Arc<SocketStats>,
    /// Worker kills so far (the victim alternates).
    pub kills: usize,
    pub dir: PathBuf,
}

/// Runs the suite; `Ok(true)` when every check held.
pub async fn run(cli: &Cli) -> anyhow::Result<bool> {
    let plan = cli.plan();
    let impossible = plan.impossible_faults();
    anyhow::ensure!(
        impossible.is_empty(),
        "{impossible:?} need the three-node cluster: add --cluster"
    );
    let dir = std::env::temp_dir().join(format!("m2m-fault-suite-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    println!(
        "fault suite: {plan:?}\nfault suite: data and logs in {}",
        dir.display()
    );
    let started = Instant::now();
    let mut run = Run::start(plan, &cli.bin_dir, &dir).await?;
    let mut tasks = run.start_phones().await?;

    let mut rows: Vec<Row> = Vec::new();
    for (index, kind) in run.plan.faults.clone().into_iter().enumerate() {
        let row = run.phase(index, kind).await?;
        println!(
            "{}",
            report::markdown(std::slice::from_ref(&row))
                .lines()
                .nth(2)
                .unwrap_or_default()
        );
        for violation in row.violations.iter().chain(&row.tally.problems) {
            println!("  ! {violation}");
        }
        rows.push(row);
    }
    let final_violations = run.final_checks().await?;
    run.load.stop.cancel();
    tasks.abort_all();
    run.system.stop();
    run.servers.stop();

    let table = report::markdown(&rows);
    println!("\n{table}");
    for violation in &final_violations {
        println!("! {violation}");
    }
    let passed = rows.iter().all(Row::passed) && final_violations.is_empty();
    println!(
        "fault suite: {} in {:.0} s",
        if passed { "PASSED" } else { "FAILED" },
        started.elapsed().as_secs_f64()
    );
    if let Some(path) = &cli.report {
        std::fs::write(path, &table)
            .with_context(|| format!("Failed to write {}", path.display()))?;
    }
    if !passed {
        print_log_tails(&dir);
    } else if !cli.keep {
        let _ = std::fs::remove_dir_all(&dir);
    }
    Ok(passed)
}

impl Run {
    async fn start(plan: Plan, bin_dir: &Path, dir: &Path) -> anyhow::Result<Self> {
        let servers = Servers::start(dir, plan.rabbitmq_nodes).await?;
        let system = System::start(bin_dir, &servers, dir).await?;
        // A short server selection timeout: the suite polls, and must not hang for
        // 30 s on each poll while the store is down.
        let url = format!("{}/?serverSelectionTimeoutMS=3000", servers.mongodb_url());
        let db = mongodb::Client::with_uri_str(&url)
            .await?
            .database(system::DATABASE);
        Ok(Self {
            plan,
            servers,
            system,
            db,
            ledger: Arc::default(),
            load: Arc::default(),
            sockets: Arc::default(),
            kills: 0,
            dir: dir.to_owned(),
        })
    }

    /// Signs the phones up, opens their sockets, and starts their upload tasks (idle
    /// until a phase turns the load on).
    async fn start_phones(&mut self) -> anyhow::Result<JoinSet<()>> {
        let http = reqwest::Client::new();
        let base = self.system.base_url();
        let sensors =
            shared_events::recording::synthetic_sensors_json(self.plan.recording_secs, 100);
        let workload = Arc::new(Workload {
            sensors: String::from_utf8(sensors).context("The synthetic recording is not UTF-8")?,
            recording_secs: self.plan.recording_secs,
            think: self.plan.think,
            upload_deadline: self.plan.upload_deadline,
        });
        let mut tasks = JoinSet::new();
        let started = Instant::now();
        for index in 0..self.plan.phones {
            // One at a time: the gateway hashes passwords on one slot here.
            let account = phone::sign_up(&http, &base, index).await?;
            if index < self.plan.socket_phones {
                tasks.spawn(socket::hold(
                    base.clone(),
                    account.clone(),
                    Arc::clone(&self.ledger),
                    Arc::clone(&self.sockets),
                    self.load.stop.clone(),
                ));
            }
            let phone = Phone {
                http: http.clone(),
                base: base.clone(),
                account,
                workload: Arc::clone(&workload),
                load: Arc::clone(&self.load),
                ledger: Arc::clone(&self.ledger),
            };
            tasks.spawn(phone.upload_loop());
        }
        let deadline = Instant::now() + Duration::from_secs(60);
        while self.sockets.ready.load(std::sync::atomic::Ordering::SeqCst) < self.plan.socket_phones
        {
            anyhow::ensure!(
                Instant::now() < deadline,
                "the phones' sockets did not open"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        println!(
            "phones: {} signed up, {} holding a notification socket; {} s recordings ({:.0} s)",
            self.plan.phones,
            self.plan.socket_phones,
            self.plan.recording_secs,
            started.elapsed().as_secs_f64()
        );
        Ok(tasks)
    }

    /// Across the whole run: no stored game that no phone was answered for.
    async fn final_checks(&mut self) -> anyhow::Result<Vec<String>> {
        let uploads = self.ledger.all_uploads();
        let unacknowledged = inspect::unacknowledged(&self.db, &uploads).await?;
        Ok(unacknowledged
            .iter()
            .take(10)
            .map(|game| format!("game {game} is stored but no phone was ever answered for it"))
            .collect())
    }
}

/// The last lines of every log in `dir`, to see why a run failed.
fn print_log_tails(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_some_and(|e| e == "log")
            && let Ok(text) = std::fs::read_to_string(&path)
        {
            let lines: Vec<&str> = text.lines().collect();
            println!("--- last lines of {} ---", path.display());
            for line in &lines[lines.len().saturating_sub(10)..] {
                println!("{}", line.chars().take(400).collect::<String>());
            }
        }
    }
}
