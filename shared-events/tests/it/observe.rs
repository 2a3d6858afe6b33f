//! What the plumbing tells a `BusObserver` (metrics are built on it).

use std::sync::Arc;
use std::time::Duration;

use shared_events::{Settled, WorkQueue};

use crate::bus::{WAIT, start};
use crate::helpers::{Behaviour, Observed, Recorder, TestBus, reconciliation};

#[tokio::test]
async fn the_observer_hears_each_publish_and_each_delivery_settled() {
    let mut test = TestBus::new().await;
    let observed = Arc::new(Observed::default());
    test.observed_by(Arc::clone(&observed));
    let recorder = Recorder::new(Behaviour::FailTransiently(1));
    let (stop, task, stats) = start(&test, &recorder, |r| r);
    test.publisher
        .publish(&reconciliation("observed"))
        .await
        .expect("publish");
    assert_eq!(recorder.wait_for(2, WAIT).await.len(), 2);
    let deadline = tokio::time::Instant::now() + WAIT;
    while stats.snapshot().handled == 0 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    stop.cancel();
    task.await.expect("runner task");

    let queue = test.bus.topology().queue(WorkQueue::Reconciliation);
    let settled = observed.settled.lock().expect("lock").clone();
    let of = |outcome| (queue.clone(), "reconciliation.ready".to_owned(), outcome);
    assert_eq!(settled, [of(Settled::Retried), of(Settled::Handled)]);
    // The retry copy is not an event publication; the event is, once.
    let published = observed.published.lock().expect("lock").clone();
    assert_eq!(published, [("reconciliation.ready".to_owned(), true)]);
    test.cleanup().await;
}
