//! The dashboard in a real browser: Debian's headless Chromium, driven over
//! WebDriver through chromedriver (the `chromium` and `chromium-driver`
//! packages, which `scripts/test` installs). An operator signs in, sees a dead
//! letter, redrives it; the broker then shows it gone from the dead-letter queue
//! and back on its work queue.
//!
//! Without chromedriver the test says so and passes, unless
//! `M2M_REQUIRE_BROWSER` is set (as `scripts/test` does), when it fails.

use std::future::Future;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use mongodb::bson::{DateTime, Document, doc};
use serde_json::json;
use shared_events::WorkQueue;
use shared_events::events::{Job, JobCompletedV1};
use shared_events::testing::{drain, wait_for_depth};
use time::OffsetDateTime;
use tokio::process::{Child, Command};

use crate::admin_helpers::{WAIT, spawn_admin_app};

/// The whole scenario's bound: a hung browser must fail the test, not the CI run.
const SCENARIO_LIMIT: Duration = Duration::from_secs(180);

#[tokio::test]
async fn an_operator_signs_in_sees_a_dead_letter_and_redrives_it_in_chromium() {
    let Some(driver) = ChromeDriver::start().await else {
        return;
    };
    let outcome = tokio::time::timeout(SCENARIO_LIMIT, scenario(&driver)).await;
    driver.stop().await;
    outcome.expect("the browser scenario finished in time");
}

async fn scenario(driver: &ChromeDriver) {
    let (app, token) = spawn_admin_app().await;
    let envelope = app.dead_letter("the recording is corrupt").await;
    let id = envelope.id.to_string();
    // A failed analysis, as the reconciliation leaves the game, and a backup run,
    // as the sync-worker announces it.
    let now = DateTime::now();
    let accepted = DateTime::from_millis(now.timestamp_millis() - 1_500);
    app.db
        .collection::<Document>("games")
        .insert_one(doc! { "_id": "game-1", "user_id": "u", "exercise": "piano",
        "created_at": accepted, "status": "failed", "failure_reason": "angles out of range",
        "analysed_at": now, "analytics_version": 3_i64 })
        .await
        .expect("game");
    app.publish_job_completed(JobCompletedV1 {
        job: Job::Backup,
        window: 42,
        finished_at: OffsetDateTime::now_utc(),
        summary: json!({ "archived": 17 }),
    })
    .await;
    let browser = driver.browser().await;

    browser
        .goto(&app.url("/admin"))
        .await
        .expect("the page loads");
    let field = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Id("token"))
        .await
        .expect("the sign-in form");
    field.send_keys(&token).await.expect("typing the token");
    browser
        .find(Locator::Id("sign-in"))
        .await
        .expect("the sign-in button")
        .click()
        .await
        .expect("signing in");

    // The dead letter shows with its reason and a redrive button.
    let row_selector = format!("#dead-letters tr[data-id=\"{id}\"]");
    let row = browser
        .wait()
        .at_most(WAIT)
        .for_element(Locator::Css(&row_selector))
        .await
        .expect("the dead letter is listed");
    let row_text = row.text().await.expect("row text");
    assert!(row_text.contains("the recording is corrupt"), "{row_text}");
    assert!(row_text.contains("processing.requested"), "{row_text}");
    let queues = browser
        .find(Locator::Id("queues"))
        .await
        .expect("the queue table");
    let processing = app.bus.topology().queue(WorkQueue::Processing);
    let queue_text = until("the queue depths", || async {
        let text = queues.text().await.ok()?;
        (!text.contains('…')).then_some(text)
    })
    .await;
    assert!(queue_text.contains(&processing), "{queue_text}");
    let shown = |id: &'static str| {
        let browser = &browser;
        async move {
            let text = browser
                .find(Locator::Id(id))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            (!text.contains('…') && !text.is_empty()).then_some(text)
        }
    };
    let failures = until("the failures", || shown("failures")).await;
    assert!(failures.contains("angles out of range"), "{failures}");
    assert_eq!(until("the latency", || shown("p50")).await, "1.5 s");
    let jobs = until("the job runs", || shown("jobs")).await;
    assert!(
        jobs.contains("backup") && jobs.contains(r#"{"archived":17}"#),
        "{jobs}"
    );
    save_screenshot(&browser, "admin-dashboard.png").await;

    row.find(Locator::Css("button.redrive"))
        .await
        .expect("the redrive button")
        .click()
        .await
        .expect("clicking redrive");
    let status = browser
        .find(Locator::Id("dlq-status"))
        .await
        .expect("the status line");
    let said = until("the redrive to be reported", || async {
        let text = status.text().await.ok()?;
        (text.starts_with("Redriven") || text.starts_with("Not redriven")).then_some(text)
    })
    .await;
    assert!(
        said.starts_with(&format!("Redriven {id} to {processing}")),
        "{said}"
    );

    // On the broker: out of the dead-letter queue, back on its work queue.
    let dead_letters = app.bus.topology().dead_letter_queue();
    assert_eq!(wait_for_depth(&app.bus, &dead_letters, 0, WAIT).await, 0);
    let back = drain(&app.bus, &processing).await;
    let ids: Vec<String> = back
        .iter()
        .filter_map(|m| {
            m.delivery
                .properties
                .message_id()
                .as_ref()
                .map(|i| i.to_string())
        })
        .collect();
    assert_eq!(ids, [id], "the message is on its work queue");

    // The listing catches up, and the token was asked for once: a reload of the
    // tab goes straight to the dashboard.
    until("the listing to empty", || async {
        let rows = browser.find_all(Locator::Css(&row_selector)).await.ok()?;
        rows.is_empty().then_some(())
    })
    .await;
    browser.refresh().await.expect("reload");
    let dashboard = browser
        .find(Locator::Id("dashboard"))
        .await
        .expect("the dashboard");
    until("the dashboard after a reload", || async {
        dashboard.is_displayed().await.ok()?.then_some(())
    })
    .await;
    let _ = browser.close().await;
}

/// Polls `probe` until it yields something, for at most [`WAIT`].
async fn until<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        if let Some(found) = probe().await {
            return found;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A picture of the dashboard beside the test's build, for people and CI logs.
async fn save_screenshot(browser: &Client, name: &str) {
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(name);
    if let Ok(png) = browser.screenshot().await
        && std::fs::write(&path, png).is_ok()
    {
        eprintln!("Dashboard screenshot: {}", path.display());
    }
}

/// A chromedriver process on a free port of the loopback interface.
struct ChromeDriver {
    process: Child,
    url: String,
}

impl ChromeDriver {
    /// Starts chromedriver, or `None` (with a note) when it is not installed and
    /// the browser test is not required.
    async fn start() -> Option<Self> {
        let Some(binary) = find(&["chromedriver"]) else {
            assert!(
                std::env::var_os("M2M_REQUIRE_BROWSER").is_none(),
                "chromedriver is required (M2M_REQUIRE_BROWSER) but not installed: \
                 apt-get install chromium chromium-driver"
            );
            eprintln!("Skipping the browser test: chromedriver is not installed.");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let process = Command::new(binary)
            .arg(format!("--port={port}"))
            .arg("--allowed-ips=127.0.0.1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        let status = format!("{url}/status");
        until("chromedriver to answer", || async {
            let response = reqwest::get(&status).await.ok()?;
            let body: serde_json::Value = response.json().await.ok()?;
            body["value"]["ready"].as_bool()?.then_some(())
        })
        .await;
        Some(Self { process, url })
    }

    /// A new headless Chromium session.
    async fn browser(&self) -> Client {
        let chromium = find(&["chromium", "chromium-browser", "google-chrome"])
            .expect("chromium is installed beside chromedriver");
        let capabilities = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                // No sandbox: CI runs as root, where Chromium's sandbox cannot start.
                "args": ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                         "--disable-gpu", "--window-size=1280,1400"],
            },
        });
        let serde_json::Value::Object(capabilities) = capabilities else {
            unreachable!("a JSON object literal")
        };
        ClientBuilder::new(HttpConnector::new())
            .capabilities(capabilities)
            .connect(&self.url)
            .await
            .expect("a browser session")
    }

    async fn stop(mut self) {
        let _ = self.process.kill().await;
    }
}

/// The first of `names` found on `PATH`.
fn find(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|name| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}
