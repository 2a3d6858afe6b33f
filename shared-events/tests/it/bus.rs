//! Publishing, consuming, retrying, dead-lettering and reconnecting, for real.

use std::time::Duration;

use futures_util::StreamExt as _;
use lapin::options::{BasicConsumeOptions, BasicNackOptions, BasicQosOptions};
use lapin::types::{AMQPValue, FieldTable};
use shared_events::publisher::{OutgoingMessage, headers};
use shared_events::{ConsumerRunner, Envelope, PublishError, WorkQueue};
use tokio_util::sync::CancellationToken;

use crate::helpers::{Behaviour, Observed, Recorder, TestBus, amqp_base, reconciliation};

pub(crate) const WAIT: Duration = Duration::from_secs(15);

/// Starts a runner on the reconciliation queue; returns its stop token and task.
pub(crate) fn start(
    test: &TestBus,
    recorder: &Recorder,
    configure: impl FnOnce(ConsumerRunner<Recorder>) -> ConsumerRunner<Recorder>,
) -> (
    CancellationToken,
    tokio::task::JoinHandle<()>,
    std::sync::Arc<shared_events::consumer::RunnerStats>,
) {
    let runner = configure(ConsumerRunner::new(
        test.publisher.clone(),
        WorkQueue::Reconciliation,
        recorder.clone(),
    ));
    let stats = runner.stats();
    let stop = CancellationToken::new();
    let token = stop.clone();
    let task = tokio::spawn(async move { runner.run(token).await.expect("runner") });
    (stop, task, stats)
}

fn header_text(message: &lapin::message::BasicGetMessage, name: &str) -> Option<String> {
    match message
        .delivery
        .properties
        .headers()
        .as_ref()?
        .inner()
        .get(name)?
    {
        AMQPValue::LongString(text) => Some(text.to_string()),
        _ => None,
    }
}

#[tokio::test]
async fn a_confirmed_event_is_consumed_once_with_its_envelope_intact() {
    let test = TestBus::new().await;
    let recorder = Recorder::new(Behaviour::Succeed);
    let (stop, task, stats) = start(&test, &recorder, |r| r);

    let sent = reconciliation("piano");
    test.publisher
        .publish(&sent)
        .await
        .expect("confirmed publish");

    let seen = recorder.wait_for(1, WAIT).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, sent, "the envelope arrives exactly as sent");
    assert!(!seen[0].1.redelivered);
    // Give a duplicate every chance to show up before checking it did not.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(recorder.seen().len(), 1);
    stop.cancel();
    task.await.expect("runner task");
    assert_eq!(stats.snapshot().handled, 1);
    let queue = test.bus.topology().queue(WorkQueue::Reconciliation);
    assert!(test.get(&queue).await.is_none(), "the message was acked");
    test.cleanup().await;
}

#[tokio::test]
async fn an_unroutable_message_is_an_error_not_a_silent_drop() {
    let test = TestBus::new().await;
    let message = OutgoingMessage::from_envelope(&reconciliation("piano")).expect("encode");
    let result = test
        .publisher
        .publish_message("", "no-such-queue", message)
        .await;
    assert!(matches!(result, Err(PublishError::Unroutable(key)) if key == "no-such-queue"));
    // The publisher still works afterwards.
    test.publisher
        .publish(&reconciliation("piano"))
        .await
        .expect("publish");
    test.cleanup().await;
}

#[tokio::test]
async fn a_message_left_unacked_by_a_consumer_that_stops_goes_to_another() {
    let test = TestBus::new().await;
    let stuck = Recorder::new(Behaviour::Hang);
    let (stop_stuck, stuck_task, _) = start(&test, &stuck, |r| {
        r.concurrency(1).drain_timeout(Duration::from_millis(200))
    });
    let sent = reconciliation("piano");
    test.publisher.publish(&sent).await.expect("publish");
    assert_eq!(stuck.wait_for(1, WAIT).await.len(), 1);

    // The stuck consumer gives up on its message and closes its channel unacked.
    stop_stuck.cancel();
    stuck_task.await.expect("runner task");

    let healthy = Recorder::new(Behaviour::Succeed);
    let (stop, task, _) = start(&test, &healthy, |r| r);
    let seen = healthy.wait_for(1, WAIT).await;
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0.id, sent.id);
    assert!(seen[0].1.redelivered, "the broker marks it redelivered");
    stop.cancel();
    task.await.expect("runner task");
    test.cleanup().await;
}

#[tokio::test]
async fn shutdown_finishes_and_acks_the_message_in_hand() {
    let test = TestBus::new().await;
    let recorder = Recorder::new(Behaviour::Slow(Duration::from_millis(500)));
    let (stop, task, stats) = start(&test, &recorder, |r| r);
    test.publisher
        .publish(&reconciliation("piano"))
        .await
        .expect("publish");
    assert_eq!(recorder.wait_for(1, WAIT).await.len(), 1);

    stop.cancel(); // while the handler is still working
    task.await.expect("runner task");
    assert_eq!(
        stats.snapshot().handled,
        1,
        "the message in hand was finished"
    );
    // Its ack reached the broker before the connection closed: nothing comes back.
    let queue = test.bus.topology().queue(WorkQueue::Reconciliation);
    assert!(
        test.get(&queue).await.is_none(),
        "the finished message was acked"
    );
    test.cleanup().await;
}

#[tokio::test]
async fn a_permanent_failure_is_dead_lettered_with_its_reason() {
    let test = TestBus::new().await;
    let recorder = Recorder::new(Behaviour::FailPermanently);
    let (stop, task, stats) = start(&test, &recorder, |r| r);
    let sent = reconciliation("piano");
    test.publisher.publish(&sent).await.expect("publish");

    let dead = test
        .wait_for_message(&test.bus.topology().dead_letter_queue(), WAIT)
        .await
        .expect("a dead letter");
    let reason = header_text(&dead, headers::DEATH_REASON).expect("reason header");
    assert!(reason.contains("the recording is corrupt"), "{reason}");
    assert_eq!(
        header_text(&dead, headers::DEATH_QUEUE).as_deref(),
        Some(
            test.bus
                .topology()
                .queue(WorkQueue::Reconciliation)
                .as_str()
        )
    );
    assert_eq!(
        Envelope::from_json(&dead.delivery.data).expect("body intact"),
        sent
    );
    assert_eq!(
        recorder.seen().len(),
        1,
        "a permanent failure is not retried"
    );
    stop.cancel();
    task.await.expect("runner task");
    assert_eq!(stats.snapshot().dead_lettered, 1);
    test.cleanup().await;
}

#[tokio::test]
async fn an_event_of_an_unknown_future_version_is_dead_lettered_not_crashed_on() {
    let test = TestBus::new().await;
    let recorder = Recorder::new(Behaviour::Succeed);
    let (stop, task, _) = start(&test, &recorder, |r| r);
    let mut json: serde_json::Value =
        serde_json::from_slice(&reconciliation("piano").to_json().expect("encode")).expect("json");
    json["version"] = 99.into();
    let mut message = OutgoingMessage::from_envelope(&reconciliation("piano")).expect("encode");
    message.body = serde_json::to_vec(&json).expect("encode");
    let exchange = test.bus.topology().events_exchange();
    test.publisher
        .publish_message(&exchange, "reconciliation.ready", message)
        .await
        .expect("publish");

    let dead = test
        .wait_for_message(&test.bus.topology().dead_letter_queue(), WAIT)
        .await
        .expect("a dead letter");
    let reason = header_text(&dead, headers::DEATH_REASON).expect("reason");
    assert!(reason.contains("no schema version 99"), "{reason}");
    assert!(recorder.seen().is_empty(), "the handler never sees it");
    stop.cancel();
    task.await.expect("runner task");
    test.cleanup().await;
}

#[tokio::test]
async fn a_transient_failure_is_retried_after_the_delay_and_then_succeeds() {
    let test = TestBus::new().await;
    let recorder = Recorder::new(Behaviour::FailTransiently(1));
    let (stop, task, stats) = start(&test, &recorder, |r| r);
    let sent = reconciliation("piano");
    test.publisher.publish(&sent).await.expect("publish");

    let seen = recorder.wait_for(2, WAIT).await;
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].0, sent);
    assert_eq!(seen[0].1.retries, 0);
    assert_eq!(
        seen[1].1.retries, 1,
        "the second attempt came through the retry queue"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(recorder.seen().len(), 2, "no attempt after the success");
    stop.cancel();
    task.await.expect("runner task");
    let snapshot = stats.snapshot();
    assert_eq!((snapshot.retried, snapshot.handled), (1, 1));
    test.cleanup().await;
}

#[tokio::test]
async fn a_failure_that_outlasts_the_retry_budget_is_dead_lettered() {
    let test = TestBus::new().await; // max_retries = 2
    let recorder = Recorder::new(Behaviour::FailTransiently(usize::MAX));
    let (stop, task, _) = start(&test, &recorder, |r| r);
    test.publisher
        .publish(&reconciliation("piano"))
        .await
        .expect("publish");

    let dead = test
        .wait_for_message(&test.bus.topology().dead_letter_queue(), WAIT)
        .await
        .expect("a dead letter");
    let reason = header_text(&dead, headers::DEATH_REASON).expect("reason");
    assert!(
        reason.contains("after 2 retries") && reason.contains("database unavailable"),
        "{reason}"
    );
    assert_eq!(
        recorder.seen().len(),
        3,
        "the first attempt and two retries"
    );
    stop.cancel();
    task.await.expect("runner task");
    test.cleanup().await;
}

#[tokio::test]
async fn a_message_that_keeps_crashing_its_consumers_stops_at_the_delivery_limit() {
    let test = TestBus::new().await;
    test.publisher
        .publish(&reconciliation("piano"))
        .await
        .expect("publish");
    let queue = test.bus.topology().queue(WorkQueue::Reconciliation);

    // A consumer that hands every delivery back, as a crashing worker would.
    let connection = test
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
            queue.as_str().into(),
            "".into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await
        .expect("consume");
    let mut deliveries = 0;
    let dead_letter_queue = test.bus.topology().dead_letter_queue();
    let dead = loop {
        let next = tokio::time::timeout(Duration::from_millis(500), consumer.next()).await;
        if let Ok(Some(Ok(delivery))) = next {
            deliveries += 1;
            assert!(deliveries <= 10, "the message loops past any limit");
            delivery
                .nack(BasicNackOptions {
                    requeue: true,
                    multiple: false,
                })
                .await
                .expect("nack");
        } else if let Some(dead) = test.get(&dead_letter_queue).await {
            break dead;
        }
    };
    assert_eq!(
        deliveries as i64,
        shared_events::topology::DELIVERY_LIMIT + 1
    );
    let death = dead
        .delivery
        .properties
        .headers()
        .as_ref()
        .and_then(|h| h.inner().get("x-death").cloned());
    assert!(
        death.is_some(),
        "the broker records why it dead-lettered the message"
    );
    let _ = connection.close(200, "done".into()).await;
    test.cleanup().await;
}

/// Runs `rabbitmqctl` with `args`, panicking with its output if it fails.
async fn rabbitmqctl(args: &[&str]) {
    let output = tokio::process::Command::new("rabbitmqctl")
        .args(args)
        .output()
        .await
        .expect("rabbitmqctl must be installed where RabbitMQ runs");
    assert!(
        output.status.success(),
        "rabbitmqctl {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[tokio::test]
async fn a_consumer_whose_connection_is_closed_reconnects_and_goes_on() {
    // A vhost of its own, so closing its connections touches no other test.
    let vhost = format!("test-{}", uuid::Uuid::now_v7().simple());
    rabbitmqctl(&["add_vhost", &vhost]).await;
    rabbitmqctl(&["set_permissions", "-p", &vhost, "guest", ".*", ".*", ".*"]).await;
    let mut test = TestBus::on_url(format!("{}/{vhost}", amqp_base())).await;
    let observed = std::sync::Arc::new(Observed::default());
    test.observed_by(std::sync::Arc::clone(&observed));
    let recorder = Recorder::new(Behaviour::Succeed);
    let (stop, task, stats) = start(&test, &recorder, |r| r);

    test.publisher
        .publish(&reconciliation("before"))
        .await
        .expect("publish");
    assert_eq!(recorder.wait_for(1, WAIT).await.len(), 1);

    rabbitmqctl(&[
        "close_all_connections",
        "-p",
        &vhost,
        "closed by the reconnect test",
    ])
    .await;

    // The publisher's connection was closed too: it must reconnect on its own.
    let mut published = false;
    for _ in 0..50 {
        if test
            .publisher
            .publish(&reconciliation("after"))
            .await
            .is_ok()
        {
            published = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(published, "the publisher reconnected");
    let seen = recorder.wait_for(2, WAIT).await;
    assert_eq!(seen.len(), 2, "the consumer reconnected and consumed again");
    let exercises: Vec<_> = seen
        .iter()
        .map(|(envelope, _)| match &envelope.event {
            shared_events::Event::ReconciliationV1(event) => event.exercise.clone(),
            other => panic!("unexpected event {other:?}"),
        })
        .collect();
    assert_eq!(exercises, ["before", "after"]);
    assert!(stats.snapshot().recoveries >= 1);
    // Both reconnections were reported (metrics count them by connection).
    let queue = test.bus.topology().queue(WorkQueue::Reconciliation);
    let reconnected = observed.reconnected.lock().expect("lock").clone();
    assert!(
        reconnected.contains(&format!("consumer {queue}")),
        "{reconnected:?}"
    );
    assert!(
        reconnected.contains(&"test publisher".to_owned()),
        "{reconnected:?}"
    );
    stop.cancel();
    task.await.expect("runner task");
    test.publisher.close().await;
    rabbitmqctl(&["delete_vhost", &vhost]).await;
}
