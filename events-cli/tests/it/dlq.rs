//! `events dlq`: what died, why, and getting it processed once the fault is fixed.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::StreamExt as _;
use shared_events::lapin::options::{
    BasicConsumeOptions, BasicNackOptions, BasicQosOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use shared_events::lapin::types::FieldTable;
use shared_events::publisher::{OutgoingMessage, headers};
use shared_events::testing::{depth, drain, processing_event, wait_for_depth};
use shared_events::{ConsumerRunner, DeliveryContext, Envelope, Handler, HandlerError, WorkQueue};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use crate::helpers::{Stack, WAIT, header_text, ids, reconciliation};

/// A handler that fails every message permanently, or handles it, and remembers.
#[derive(Clone)]
struct Worker {
    fixed: bool,
    seen: Arc<Mutex<Vec<(Envelope, DeliveryContext)>>>,
}

impl Worker {
    fn new(fixed: bool) -> Self {
        Self {
            fixed,
            seen: Arc::default(),
        }
    }

    fn seen(&self) -> Vec<(Envelope, DeliveryContext)> {
        self.seen.lock().expect("lock").clone()
    }

    async fn wait_for(&self, count: usize) -> Vec<(Envelope, DeliveryContext)> {
        let deadline = tokio::time::Instant::now() + WAIT;
        while self.seen().len() < count && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        self.seen()
    }
}

impl Handler for Worker {
    async fn handle(
        &self,
        envelope: Envelope,
        context: DeliveryContext,
    ) -> Result<(), HandlerError> {
        self.seen.lock().expect("lock").push((envelope, context));
        if self.fixed {
            Ok(())
        } else {
            Err(HandlerError::permanent(anyhow::anyhow!(
                "the recording is corrupt"
            )))
        }
    }
}

fn run_worker(stack: &Stack, worker: &Worker) -> (CancellationToken, tokio::task::JoinHandle<()>) {
    let runner = ConsumerRunner::new(
        stack.publisher.clone(),
        WorkQueue::Processing,
        worker.clone(),
    );
    let stop = CancellationToken::new();
    let token = stop.clone();
    let task = tokio::spawn(async move { runner.run(token).await.expect("runner") });
    (stop, task)
}

#[tokio::test]
async fn a_poison_message_shows_its_reason_and_once_fixed_a_redrive_gets_it_processed() {
    let stack = Stack::new().await;
    let (user, game) = (Uuid::now_v7(), Uuid::now_v7());
    let poison = processing_event(user, game);
    let broken = Worker::new(false);
    let (stop, task) = run_worker(&stack, &broken);
    stack.publish(std::slice::from_ref(&poison)).await;
    assert_eq!(
        wait_for_depth(&stack.bus, &stack.dead_letters(), 1, WAIT).await,
        1
    );
    stop.cancel();
    task.await.expect("runner");

    let listed = stack
        .events(&["dlq", "list", "--json"])
        .await
        .ok()
        .json_lines();
    assert_eq!(listed.len(), 1);
    let dead = &listed[0];
    assert_eq!(dead["id"], poison.id.to_string());
    assert_eq!(dead["type"], "processing.requested");
    assert_eq!(dead["by"], "runner");
    assert!(
        dead["reason"]
            .as_str()
            .expect("reason")
            .contains("the recording is corrupt")
    );
    assert_eq!(dead["queue"], stack.queue(WorkQueue::Processing));
    assert_eq!(dead["tries"], 1);
    assert_eq!(dead["user_id"], user.to_string());
    assert_eq!(dead["game_id"], game.to_string());
    assert!(dead["died_at"].is_string());

    // Browsing took nothing away: it is all still there, and shows in detail.
    let table = stack.events(&["dlq", "list"]).await.ok();
    assert!(
        table.stdout.contains(&poison.id.to_string()),
        "{}",
        table.stdout
    );
    let shown = stack
        .events(&["dlq", "show", &poison.id.to_string()])
        .await
        .ok();
    assert!(
        shown
            .stdout
            .contains("x-m2m-death-reason: the recording is corrupt"),
        "{}",
        shown.stdout
    );
    assert!(shown.stdout.contains("bytes of base64"), "{}", shown.stdout);
    assert_eq!(depth(&stack.bus, &stack.dead_letters()).await, 1);

    // The fault is fixed: a healthy worker, and the message redriven.
    let fixed = Worker::new(true);
    let (stop, task) = run_worker(&stack, &fixed);
    let run = stack
        .events(&["dlq", "redrive", &poison.id.to_string()])
        .await
        .ok();
    assert!(
        run.stdout.contains("Redrove 1 dead letters"),
        "{}",
        run.stdout
    );
    let seen = fixed.wait_for(1).await;
    assert_eq!(seen.len(), 1, "processed once redriven");
    assert_eq!(seen[0].0, poison, "the same event, intact");
    assert_eq!(seen[0].1.retries, 0, "its retry count starts over");
    assert_eq!(
        depth(&stack.bus, &stack.dead_letters()).await,
        0,
        "gone from the DLQ"
    );
    stop.cancel();
    task.await.expect("runner");

    stack
        .events(&["dlq", "redrive", &poison.id.to_string()])
        .await
        .failed();
    stack.cleanup().await;
}

/// Hands a message back until the broker dead-letters it past the delivery limit.
async fn crash_on_every_delivery(stack: &Stack, queue: &str) {
    let connection = stack
        .bus
        .connect("crashing consumer")
        .await
        .expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .basic_qos(1, BasicQosOptions::default())
        .await
        .expect("qos");
    let mut consumer = channel
        .basic_consume(
            queue.into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let deadline = tokio::time::Instant::now() + WAIT;
    while depth(&stack.bus, &stack.dead_letters()).await == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never dead-lettered"
        );
        if let Ok(Some(Ok(delivery))) =
            tokio::time::timeout(Duration::from_millis(300), consumer.next()).await
        {
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    multiple: false,
                })
                .await
                .expect("nack");
        }
    }
    let _ = connection.close(200, "done".into()).await;
}

#[tokio::test]
async fn a_message_the_broker_dead_lettered_shows_x_death_and_redrives_where_told() {
    let stack = Stack::new().await;
    let event = reconciliation(Uuid::now_v7(), Uuid::now_v7());
    stack.publish(std::slice::from_ref(&event)).await;
    let queue = stack.queue(WorkQueue::Reconciliation);
    crash_on_every_delivery(&stack, &queue).await;

    let listed = stack
        .events(&["dlq", "list", "--json"])
        .await
        .ok()
        .json_lines();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], event.id.to_string());
    assert_eq!(listed[0]["by"], "broker");
    assert!(
        listed[0]["reason"]
            .as_str()
            .expect("reason")
            .starts_with("delivery_limit")
    );
    assert_eq!(listed[0]["queue"], queue);
    assert_eq!(
        listed[0]["tries"],
        shared_events::topology::DELIVERY_LIMIT + 1
    );

    // Redrive to a parking queue of the operator's choosing.
    let parking = format!("{}.parking", stack.bus.settings().prefix);
    let connection = stack.bus.connect("test parking").await.expect("connect");
    let channel = connection.create_channel().await.expect("channel");
    channel
        .queue_declare(
            parking.as_str().into(),
            QueueDeclareOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("declare parking");
    stack
        .events(&["dlq", "redrive", "--all", "--to", &parking])
        .await
        .ok();
    let parked = drain(&stack.bus, &parking).await;
    assert_eq!(ids(&parked), [event.id]);
    let headers_left = parked[0]
        .delivery
        .properties
        .headers()
        .clone()
        .unwrap_or_default();
    assert!(!headers_left.contains_key("x-death"), "{headers_left:?}");
    assert!(!headers_left.contains_key("x-first-death-reason"));
    assert_eq!(
        header_text(&parked[0], headers::USER_ID),
        event.event.user_id().map(|u| u.to_string())
    );
    assert_eq!(depth(&stack.bus, &stack.dead_letters()).await, 0);
    let _ = channel
        .queue_delete(parking.as_str().into(), QueueDeleteOptions::default())
        .await;
    let _ = connection.close(200, "done".into()).await;
    stack.cleanup().await;
}

#[tokio::test]
async fn purge_refuses_without_yes() {
    let stack = Stack::new().await;
    let exchange = stack.bus.topology().dead_letter_exchange();
    for _ in 0..2 {
        let message =
            OutgoingMessage::from_envelope(&reconciliation(Uuid::now_v7(), Uuid::now_v7()))
                .expect("encode");
        stack
            .publisher
            .publish_message(&exchange, "reconciliation.ready", message)
            .await
            .expect("publish");
    }
    assert_eq!(
        wait_for_depth(&stack.bus, &stack.dead_letters(), 2, WAIT).await,
        2
    );

    let refused = stack.events(&["dlq", "purge"]).await.failed();
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(
        depth(&stack.bus, &stack.dead_letters()).await,
        2,
        "nothing deleted"
    );

    let run = stack.events(&["dlq", "purge", "--yes"]).await.ok();
    assert!(run.stdout.contains("Purged 2"), "{}", run.stdout);
    assert_eq!(depth(&stack.bus, &stack.dead_letters()).await, 0);
    stack.cleanup().await;
}
