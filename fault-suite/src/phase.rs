//! One phase: load on, the fault, recovery measured under load, load off, the backlog
//! drained, and every check of the promise on the phase's uploads.

use std::time::{Duration, Instant};

use crate::faults::{self, FaultKind};
use crate::report::Row;
use crate::suite::Run;
use crate::tally::tally;
use crate::{inspect, logs, recovery, synced_keys};

impl Run {
    pub async fn phase(&mut self, index: usize, kind: FaultKind) -> anyhow::Result<Row> {
        println!("phase {index}: {}", kind.label());
        let started = Instant::now();
        self.load.start(index);
        tokio::time::sleep(self.plan.warmup).await;

        // What the sync job has saved of Redis, read just before Redis is wiped.
        let snapshot = match kind {
            FaultKind::RedisRestart => Some(synced_keys::load(&self.db).await?),
            _ => None,
        };
        let injected = faults::inject(
            kind,
            &mut self.servers,
            &mut self.system,
            &self.load,
            self.kills,
        )
        .await?;
        if kind == FaultKind::WorkerKill {
            self.kills += 1;
        }
        // A node left down must not be needed: recovery counts from the kill.
        let recover_from = match injected.node_down {
            Some(_) => injected.hit,
            None => injected.back,
        };
        let recovery = recovery::measure(
            &self.db,
            &self.ledger,
            index,
            recover_from,
            self.plan.recover_timeout,
        )
        .await;
        let mut down = injected.back.duration_since(injected.hit);
        if let Some(node) = injected.node_down {
            // Back under load, rejoining the cluster on its data.
            self.servers.rabbitmq.cluster.restart(node).await?;
            down = injected.hit.elapsed();
        }
        tokio::time::sleep(self.plan.after).await;
        self.load.pause();
        let paused = started.elapsed();

        let mut violations = Vec::new();
        if !self.settle().await {
            violations.push(format!(
                "{} uploads still unanswered at their deadline",
                self.load.busy()
            ));
        }
        let settled = started.elapsed();
        let drained = self.drain(index).await;
        if !drained {
            violations.push("the backlog did not drain before the deadline".into());
        }
        println!(
            "  load stopped at {:.0} s, every upload answered at {:.0} s, drained at {:.0} s",
            paused.as_secs_f64(),
            settled.as_secs_f64(),
            started.elapsed().as_secs_f64()
        );

        let uploads = self.ledger.uploads_of(index);
        let facts = inspect::facts(&self.db, &uploads).await?;
        let notices = self.ledger.notice_counts();
        let tally = tally(&uploads, &facts, &notices);

        let unfinished = inspect::unfinished(&self.db).await?;
        for (status, count) in &unfinished {
            violations.push(format!("{count} games in the store are `{status}`"));
        }
        violations.extend(self.system.crashed());
        let own = self.games_by_phone();
        violations.extend(notices.strays(&own).into_iter().take(10));

        let mut notes = Vec::new();
        if !injected.detail.is_empty() {
            notes.push(injected.detail.clone());
        }
        if let Some(snapshot) = snapshot {
            self.check_synced_keys(&snapshot, &mut notes, &mut violations)
                .await?;
        }
        let analyses = logs::analyses(&self.system.worker_logs());
        let of_phase: Vec<logs::Analyses> = uploads
            .iter()
            .filter_map(|u| analyses.get(u.game_id()?).copied())
            .collect();
        let reanalysed = of_phase.iter().filter(|a| a.total > 1).count();
        let redelivered = of_phase.iter().filter(|a| a.redelivered > 0).count();
        if kind == FaultKind::WorkerKill && redelivered == 0 {
            notes.push("no delivery was in hand at the kill".into());
        }
        let slowest_answer = uploads
            .iter()
            .filter_map(|u| Some(u.accepted_at?.duration_since(u.sent_at)))
            .max()
            .unwrap_or_default();
        let fault = match kind {
            FaultKind::WorkerKill => format!("{} (#{})", kind.label(), self.kills),
            _ => kind.label().to_owned(),
        };
        Ok(Row {
            fault,
            tally,
            reanalysed,
            redelivered,
            slowest_answer,
            down,
            recovery,
            notes,
            violations,
        })
    }

    /// Waits for every phone to finish the upload it was on (answered or past its
    /// deadline); `false` if some never did.
    async fn settle(&self) -> bool {
        let deadline = Instant::now() + self.plan.upload_deadline + Duration::from_secs(5);
        while self.load.busy() > 0 {
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        true
    }

    /// Waits until every accepted upload of the phase is processed and every socket
    /// phone has heard of each of its games; `false` at the drain deadline.
    async fn drain(&self, phase: usize) -> bool {
        let deadline = Instant::now() + self.plan.drain_timeout;
        loop {
            let uploads = self.ledger.uploads_of(phase);
            let games: Vec<String> = uploads
                .iter()
                .filter_map(|u| u.game_id().map(str::to_owned))
                .collect();
            let notices = self.ledger.notice_counts();
            let heard = uploads.iter().all(|u| match u.game_id() {
                Some(game) => notices.processed(u.phone, game) != Some(0),
                None => true,
            });
            if heard
                && let Ok(done) = inspect::processed(&self.db, &games).await
                && done.len() == games.len()
            {
                return true;
            }
            if Instant::now() > deadline {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Every game id each phone was answered, over the whole run.
    fn games_by_phone(&self) -> std::collections::HashMap<usize, Vec<String>> {
        let mut own: std::collections::HashMap<usize, Vec<String>> = Default::default();
        for upload in self.ledger.all_uploads() {
            if let Some(game) = upload.game_id() {
                own.entry(upload.phone).or_default().push(game.to_owned());
            }
        }
        own
    }

    /// After the Redis fault: every synced key of the last snapshot is back.
    async fn check_synced_keys(
        &self,
        snapshot: &synced_keys::Snapshot,
        notes: &mut Vec<String>,
        violations: &mut Vec<String>,
    ) -> anyhow::Result<()> {
        if snapshot.families == 0 {
            violations.push("no snapshot of the synced keys existed before Redis was wiped".into());
            return Ok(());
        }
        let missing = synced_keys::missing(&self.servers.redis_url(), snapshot).await?;
        if missing.is_empty() {
            notes.push(format!(
                "all {} snapshotted keys back in Redis without a restart",
                snapshot.keys.len()
            ));
        } else {
            violations.push(format!(
                "{} of the snapshotted Redis values are not back, e.g. {}",
                missing.len(),
                missing
                    .iter()
                    .take(3)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            ));
        }
        Ok(())
    }
}
