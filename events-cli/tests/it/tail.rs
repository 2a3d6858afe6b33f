//! `events tail`: the history in order, filtered, and followed live.

use std::process::Stdio;
use std::time::Duration;

use shared_events::Envelope;
use shared_events::events::Job;
use shared_events::testing::processing_event;
use tokio::io::AsyncReadExt as _;
use uuid::Uuid;

use crate::helpers::{Stack, WAIT, reconciliation, timer};

#[tokio::test]
async fn tail_from_first_shows_the_history_in_order() {
    let stack = Stack::new().await;
    let user = Uuid::now_v7();
    let sent = vec![
        processing_event(user, Uuid::now_v7()),
        reconciliation(user, Uuid::now_v7()),
        timer(Job::Sync, 1),
        reconciliation(Uuid::now_v7(), Uuid::now_v7()),
        processing_event(user, Uuid::now_v7()),
    ];
    stack.publish(&sent).await;

    let run = stack
        .events(&["tail", "--from", "first", "--limit", "5"])
        .await
        .ok();
    let lines = run.json_lines();
    let shown: Vec<_> = lines
        .iter()
        .map(|l| l["id"].as_str().expect("id").to_owned())
        .collect();
    let sent_ids: Vec<_> = sent.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(shown, sent_ids, "in publish order");
    let offsets: Vec<_> = lines
        .iter()
        .map(|l| l["offset"].as_u64().expect("offset"))
        .collect();
    assert_eq!(offsets, [0, 1, 2, 3, 4]);
    let recording = lines[0]["data"]["recording"]["data"]
        .as_str()
        .expect("text");
    assert!(recording.contains("bytes of base64"), "{recording}");
    assert_eq!(lines[1]["type"], "reconciliation.ready");

    let pretty = stack
        .events(&["tail", "--from", "first", "--limit", "5", "--pretty"])
        .await
        .ok();
    let pretty_lines: Vec<_> = pretty.stdout.lines().collect();
    assert_eq!(pretty_lines.len(), 5);
    assert!(pretty_lines[2].starts_with("#2") && pretty_lines[2].contains("job=sync window=1"));

    let filtered = stack
        .events(&[
            "tail",
            "--from",
            "first",
            "--type",
            "processing.requested",
            "--user",
            &user.to_string(),
            "--limit",
            "2",
            "--full",
        ])
        .await
        .ok();
    let lines = filtered.json_lines();
    let shown: Vec<_> = lines
        .iter()
        .map(|l| l["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(shown, [sent_ids[0].clone(), sent_ids[4].clone()]);
    let full = Envelope::from_json(
        &serde_json::to_vec(&{
            let mut line = lines[0].clone();
            line.as_object_mut().expect("object").remove("offset");
            line
        })
        .expect("encode"),
    )
    .expect("with --full the line is the whole envelope");
    assert_eq!(full, sent[0]);
    stack.cleanup().await;
}

#[tokio::test]
async fn tail_follows_new_events_live() {
    let stack = Stack::new().await;
    let mut child = stack
        .command(&["tail", "--limit", "2"]) // from `next`: only what comes
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start tail");
    // Publish until the tail has seen two events: it may attach after the first.
    let mut sent = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while child.try_wait().expect("poll").is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "tail never saw two events"
        );
        let event = reconciliation(Uuid::now_v7(), Uuid::now_v7());
        stack.publish(std::slice::from_ref(&event)).await;
        sent.push(event.id.to_string());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut stdout = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut stdout)
        .await
        .expect("read");
    let shown: Vec<String> = stdout
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("json");
            value["id"].as_str().expect("id").to_owned()
        })
        .collect();
    assert_eq!(shown.len(), 2, "{stdout}");
    let at = sent
        .iter()
        .position(|id| *id == shown[0])
        .expect("one of ours");
    assert_eq!(shown[1], sent[at + 1], "consecutive, in order");
    stack.cleanup().await;
}
