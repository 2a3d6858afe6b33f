//! A simulated phone: an account, games uploaded one after another, each retried
//! under its own `Idempotency-Key` until the gateway answers `202` (as the app does
//! after a timeout, a dropped connection or a `5xx`), and, for some phones, a
//! notification socket ([`socket`]).
//!
//! The suite turns the load on and off through [`Load`]; a phone finishes the upload
//! it has started (retrying) before it idles, so every upload of a phase ends
//! answered or past its deadline.

pub mod socket;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use rand::Rng as _;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

use crate::ledger::Ledger;

/// How long one request may take before the phone gives up on it and retries: the
/// gateway waits up to `M2M_AMQP_TIMEOUT_MS` (10 s) for a confirm and a store call
/// waits up to the driver's server selection timeout (30 s) while MongoDB is down.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(40);
/// The longest pause between two attempts of one upload.
const MAX_PAUSE: Duration = Duration::from_secs(2);

/// A registered, logged-in phone.
#[derive(Debug, Clone)]
pub struct Account {
    pub index: usize,
    pub user_id: String,
    pub token: String,
    pub exercise: &'static str,
}

/// The exercises phones play, so several leaderboards and aggregates are written.
const EXERCISES: [&str; 3] = ["piano", "pinch", "grip"];

/// Registers and logs in phone `index`, retrying while the gateway is busy hashing.
pub async fn sign_up(http: &reqwest::Client, base: &str, index: usize) -> anyhow::Result<Account> {
    let username = format!(
        "fault-{index}-{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    let credentials = json!({ "username": username, "password": "fault suite password" });
    let registered = post_until_answered(http, &format!("{base}/register"), &credentials).await?;
    anyhow::ensure!(
        registered.0 == StatusCode::CREATED,
        "register answered {}: {}",
        registered.0,
        registered.1
    );
    let (status, login) = post_until_answered(http, &format!("{base}/login"), &credentials).await?;
    anyhow::ensure!(status == StatusCode::OK, "login answered {status}: {login}");
    Ok(Account {
        index,
        user_id: login["user_id"].as_str().context("no user_id")?.to_owned(),
        token: login["access_token"]
            .as_str()
            .context("no access_token")?
            .to_owned(),
        exercise: EXERCISES[index % EXERCISES.len()],
    })
}

/// POSTs JSON, retrying `503` (argon2 slots full) for up to a minute.
async fn post_until_answered(
    http: &reqwest::Client,
    url: &str,
    body: &Value,
) -> anyhow::Result<(StatusCode, Value)> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let response = http.post(url).json(body).send().await?;
        let status = response.status();
        if status != StatusCode::SERVICE_UNAVAILABLE || Instant::now() > deadline {
            return Ok((status, response.json().await.unwrap_or(Value::Null)));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// What every phone task watches: whether to upload, in which phase, and when to stop.
#[derive(Debug, Default)]
pub struct Load {
    on: AtomicBool,
    phase: AtomicUsize,
    /// Phones between the first request of an upload and its answer.
    busy: AtomicUsize,
    /// Wakes every phone that is pausing between games: they all upload at once.
    burst: Notify,
    pub stop: CancellationToken,
}

impl Load {
    pub fn start(&self, phase: usize) {
        self.phase.store(phase, Ordering::SeqCst);
        self.on.store(true, Ordering::SeqCst);
    }

    /// Stops new uploads; the ones under way carry on until answered.
    pub fn pause(&self) {
        self.on.store(false, Ordering::SeqCst);
    }

    pub fn busy(&self) -> usize {
        self.busy.load(Ordering::SeqCst)
    }

    /// Every phone between two games starts its next one now: a burst that fills the
    /// workers' prefetch.
    pub fn burst(&self) {
        self.burst.notify_waiters();
    }
}

/// What a phone uploads: a recording, and how long to wait between games.
#[derive(Debug)]
pub struct Workload {
    /// The `sensors` JSON object, shared by every upload.
    pub sensors: String,
    pub recording_secs: usize,
    pub think: Duration,
    /// How long a phone keeps retrying one upload.
    pub upload_deadline: Duration,
}

/// One phone's upload task.
#[derive(Debug, Clone)]
pub struct Phone {
    pub http: reqwest::Client,
    pub base: String,
    pub account: Account,
    pub workload: Arc<Workload>,
    pub load: Arc<Load>,
    pub ledger: Arc<Ledger>,
}

impl Phone {
    /// Uploads games while the load is on, until `load.stop`.
    pub async fn upload_loop(self) {
        let load = &self.load;
        loop {
            while !load.on.load(Ordering::SeqCst) {
                tokio::select! {
                    () = load.stop.cancelled() => return,
                    () = tokio::time::sleep(Duration::from_millis(50)) => {}
                }
            }
            load.busy.fetch_add(1, Ordering::SeqCst);
            let phase = load.phase.load(Ordering::SeqCst);
            let key = uuid::Uuid::new_v4().to_string();
            let account = &self.account;
            let upload = self
                .ledger
                .begin(account.index, &account.user_id, &key, phase);
            self.send_until_answered(&key, self.game_body(), upload)
                .await;
            load.busy.fetch_sub(1, Ordering::SeqCst);
            let jitter = rand::rng().random_range(0.5..1.5);
            tokio::select! {
                () = load.stop.cancelled() => return,
                () = load.burst.notified() => {}
                () = tokio::time::sleep(self.workload.think.mul_f64(jitter)) => {}
            }
        }
    }

    /// One game's body; a retry resends exactly these bytes (another body under the
    /// same key is a `422`).
    fn game_body(&self) -> Vec<u8> {
        let format = &time::format_description::well_known::Rfc3339;
        let end = time::OffsetDateTime::now_utc();
        let start = end - time::Duration::seconds(self.workload.recording_secs as i64);
        let score: u32 = rand::rng().random_range(0..10_000);
        format!(
            r#"{{"exercise":"{}","score":{score},"started_at":"{}","ended_at":"{}","sensors":{}}}"#,
            self.account.exercise,
            start.format(format).unwrap_or_default(),
            end.format(format).unwrap_or_default(),
            self.workload.sensors
        )
        .into_bytes()
    }

    /// Sends the upload until a `202` (or a refusal, or the deadline).
    async fn send_until_answered(&self, key: &str, body: Vec<u8>, upload: usize) {
        let give_up = Instant::now() + self.workload.upload_deadline;
        let mut pause = Duration::from_millis(250);
        loop {
            self.ledger.attempted(upload);
            let sent = self
                .http
                .post(format!("{}/game", self.base))
                .bearer_auth(&self.account.token)
                .header("Idempotency-Key", key)
                .header("Content-Type", "application/json")
                .body(body.clone())
                .timeout(REQUEST_TIMEOUT)
                .send()
                .await;
            let mut wait = pause;
            match sent {
                Ok(response) if response.status() == StatusCode::ACCEPTED => {
                    // A body cut off by a dying gateway is as good as no answer: retry.
                    if let Ok(answer) = response.json::<Value>().await {
                        return match answer["game_id"].as_str() {
                            Some(game_id) => self.ledger.accepted(upload, game_id),
                            None => self
                                .ledger
                                .refused(upload, format!("202 without a game_id: {answer}")),
                        };
                    }
                }
                Ok(response) if retryable(response.status()) => {
                    // A phone honours Retry-After (the gateway says 5 s on a 503).
                    if let Some(after) = retry_after(&response) {
                        wait = after.min(Duration::from_secs(5));
                    }
                }
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    return self.ledger.refused(upload, format!("{status}: {text}"));
                }
                // Refused, reset, timed out: the request may or may not have landed.
                Err(_) => {}
            }
            if Instant::now() > give_up || self.load.stop.is_cancelled() {
                return;
            }
            let jitter = rand::rng().random_range(0.8..1.2);
            tokio::time::sleep(wait.mul_f64(jitter)).await;
            pause = (pause * 2).min(MAX_PAUSE);
        }
    }
}

fn retryable(status: StatusCode) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || status == StatusCode::REQUEST_TIMEOUT
}

fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response.headers().get("retry-after")?.to_str().ok()?;
    value.trim().parse().ok().map(Duration::from_secs)
}
