//! `events trigger`, `events stats`, and how failures look.

use shared_events::events::{Job, TimerFiredV1};
use shared_events::lapin::options::{BasicConsumeOptions, BasicQosOptions};
use shared_events::lapin::types::FieldTable;
use shared_events::testing::drain;
use shared_events::{Envelope, Event, WorkQueue};
use uuid::Uuid;

use crate::helpers::{Stack, reconciliation};

#[tokio::test]
async fn a_trigger_publishes_a_timer_with_a_window_of_its_own() {
    let stack = Stack::new().await;
    stack.events(&["trigger", "backup"]).await.ok();
    stack.events(&["trigger", "backup"]).await.ok();
    let timers = drain(&stack.bus, &stack.queue(WorkQueue::Jobs)).await;
    let windows: Vec<i64> = timers
        .iter()
        .map(|m| {
            match Envelope::from_json(&m.delivery.data)
                .expect("envelope")
                .event
            {
                Event::TimerFiredV1(TimerFiredV1 {
                    job: Job::Backup,
                    window,
                }) => window,
                other => panic!("not a backup timer: {other:?}"),
            }
        })
        .collect();
    assert_eq!(windows.len(), 2);
    assert!(
        windows.iter().all(|w| *w < 0),
        "manual windows never meet scheduled ones"
    );
    assert_ne!(windows[0], windows[1], "each trigger runs the job again");

    stack
        .events(&["trigger", "sync", "--window", "42"])
        .await
        .ok();
    let timers = drain(&stack.bus, &stack.queue(WorkQueue::Jobs)).await;
    let event = Envelope::from_json(&timers[0].delivery.data)
        .expect("envelope")
        .event;
    assert_eq!(
        event,
        Event::TimerFiredV1(TimerFiredV1 {
            job: Job::Sync,
            window: 42
        })
    );
    stack.cleanup().await;
}

#[tokio::test]
async fn stats_reports_depths_consumers_and_the_stream_extent() {
    let stack = Stack::new().await;
    let sent: Vec<_> = (0..3)
        .map(|_| reconciliation(Uuid::now_v7(), Uuid::now_v7()))
        .collect();
    stack.publish(&sent).await;
    let connection = stack.bus.connect("test consumer").await.expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .basic_qos(1, BasicQosOptions::default())
        .await
        .expect("qos");
    let jobs = stack.queue(WorkQueue::Jobs);
    let consumer = channel
        .basic_consume(
            jobs.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");

    let run = stack.events(&["stats", "--json"]).await.ok();
    let stats = &run.json_lines()[0];
    let queue = |name: &str| {
        stats["queues"]
            .as_array()
            .expect("queues")
            .iter()
            .find(|q| q["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name} missing from {stats}"))
    };
    assert_eq!(queue(&stack.queue(WorkQueue::Reconciliation))["ready"], 3);
    assert_eq!(queue(&stack.queue(WorkQueue::Processing))["ready"], 0);
    assert_eq!(queue(&jobs)["consumers"], 1);
    assert_eq!(queue(&stack.dead_letters())["ready"], 0);
    assert_eq!(stats["stream"]["first_offset"], 0);
    assert_eq!(stats["stream"]["last_offset"], 2);
    assert_eq!(stats["stream"]["messages"], 3);
    assert!(
        stats["stream"]["bytes"].is_null(),
        "AMQP has no stream size"
    );

    let table = stack.events(&["stats"]).await.ok();
    assert!(
        table.stdout.contains("not available over AMQP"),
        "{}",
        table.stdout
    );
    drop(consumer);
    let _ = connection.close(200, "done".into()).await;
    stack.cleanup().await;
}

#[tokio::test]
async fn failures_are_one_clear_message_and_a_non_zero_exit() {
    let stack = Stack::new().await;
    let unreachable = stack
        .events_with(
            &["stats"],
            &[("M2M_AMQP_URL", "amqp://guest:guest@127.0.0.1:1/%2f")],
        )
        .await
        .failed();
    assert!(
        unreachable
            .stderr
            .contains("Failed to connect to the broker"),
        "{}",
        unreachable.stderr
    );
    assert!(
        !unreachable.stderr.contains("guest:guest"),
        "no password in errors"
    );

    let wrong_prefix = stack
        .events_with(&["tail"], &[("M2M_BUS_PREFIX", "no-such-stack")])
        .await
        .failed();
    assert!(
        wrong_prefix.stderr.contains("does not exist"),
        "{}",
        wrong_prefix.stderr
    );

    let backwards = stack
        .events(&["replay", "--from", "10", "--to", "5"])
        .await
        .failed();
    assert!(
        backwards.stderr.contains("bad range"),
        "{}",
        backwards.stderr
    );
    let future = stack
        .events(&["replay", "--from", "2999-01-01T00:00:00Z"])
        .await
        .failed();
    assert!(future.stderr.contains("in the future"), "{}", future.stderr);

    // Usage errors come from the argument parser: still a message, not a panic.
    let unknown_type = stack.events(&["tail", "--type", "game.deleted"]).await;
    assert!(!unknown_type.success);
    assert!(
        unknown_type
            .stderr
            .contains("unknown event type `game.deleted`"),
        "{}",
        unknown_type.stderr
    );
    let no_target = stack.events(&["dlq", "redrive"]).await;
    assert!(
        !no_target.success && !no_target.stderr.contains("panicked"),
        "{}",
        no_target.stderr
    );
    stack.cleanup().await;
}
