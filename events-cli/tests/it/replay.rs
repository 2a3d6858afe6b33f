//! `events replay`: exactly the range, to the right queues, marked, and only once.

use shared_events::publisher::headers;
use shared_events::testing::{depth, drain, processing_event};
use shared_events::{Envelope, WorkQueue};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::helpers::{Stack, header_text, ids, reconciliation, rfc3339, timer};
use shared_events::events::Job;

/// The history stream's last offset, as `events stats` reports it.
async fn last_offset(stack: &Stack) -> u64 {
    let run = stack.events(&["stats", "--json"]).await.ok();
    let stats = &run.json_lines()[0];
    stats["stream"]["last_offset"]
        .as_u64()
        .expect("a last offset")
}

#[tokio::test]
async fn a_replay_of_a_time_range_republishes_exactly_the_events_in_it() {
    let stack = Stack::new().await;
    let user = Uuid::now_v7();
    let before: Vec<Envelope> = (0..3)
        .map(|_| reconciliation(user, Uuid::now_v7()))
        .collect();
    stack.publish(&before).await;
    let from = OffsetDateTime::now_utc();
    let inside = vec![
        processing_event(user, Uuid::now_v7()),
        reconciliation(user, Uuid::now_v7()),
        timer(Job::Sync, 7),
        processing_event(user, Uuid::now_v7()),
        reconciliation(user, Uuid::now_v7()),
    ];
    stack.publish(&inside).await;
    let to = OffsetDateTime::now_utc();
    let after: Vec<Envelope> = (0..3)
        .map(|_| processing_event(user, Uuid::now_v7()))
        .collect();
    stack.publish(&after).await;
    // The originals went to the work queues too; keep only what the replay sends.
    stack.purge_work_queues().await;
    let history_end = last_offset(&stack).await;
    assert_eq!(history_end, 10);

    let run = stack
        .events(&["replay", "--from", &rfc3339(from), "--to", &rfc3339(to)])
        .await
        .ok();
    assert!(
        run.stderr.contains("republished 5 of 5 matching events"),
        "{}",
        run.stderr
    );

    let replayed_processing = drain(&stack.bus, &stack.queue(WorkQueue::Processing)).await;
    let replayed_reconciliation = drain(&stack.bus, &stack.queue(WorkQueue::Reconciliation)).await;
    let replayed_jobs = drain(&stack.bus, &stack.queue(WorkQueue::Jobs)).await;
    assert_eq!(ids(&replayed_processing), [inside[0].id, inside[3].id]);
    assert_eq!(ids(&replayed_reconciliation), [inside[1].id, inside[4].id]);
    assert_eq!(ids(&replayed_jobs), [inside[2].id]);
    let all: Vec<_> = [
        &replayed_processing,
        &replayed_reconciliation,
        &replayed_jobs,
    ]
    .into_iter()
    .flatten()
    .collect();
    let first_replay = header_text(all[0], headers::REPLAY).expect("replay header");
    for message in &all {
        assert_eq!(
            header_text(message, headers::REPLAY).as_deref(),
            Some(first_replay.as_str()),
            "every event is marked with the one replay's id"
        );
        let envelope = Envelope::from_json(&message.delivery.data).expect("envelope");
        let original = inside
            .iter()
            .find(|e| e.id == envelope.id)
            .expect("from the range");
        assert_eq!(&envelope, original, "republished intact");
        assert!(header_text(message, "x-stream-offset").is_none());
    }
    assert_eq!(
        last_offset(&stack).await,
        history_end,
        "replays do not re-enter the history"
    );

    // A second replay sends the same envelopes again: idempotent consumers
    // recognise them by id, so results cannot duplicate.
    stack
        .events(&["replay", "--from", &rfc3339(from), "--to", &rfc3339(to)])
        .await
        .ok();
    let again = drain(&stack.bus, &stack.queue(WorkQueue::Processing)).await;
    assert_eq!(ids(&again), ids(&replayed_processing));
    let second_replay = header_text(&again[0], headers::REPLAY).expect("replay header");
    assert_ne!(second_replay, first_replay, "each replay has its own id");
    stack.cleanup().await;
}

#[tokio::test]
async fn a_dry_run_lists_the_matching_events_and_publishes_nothing() {
    let stack = Stack::new().await;
    let sent: Vec<Envelope> = (0..4)
        .map(|_| processing_event(Uuid::now_v7(), Uuid::now_v7()))
        .collect();
    stack.publish(&sent).await;
    stack.purge_work_queues().await;

    let run = stack
        .events(&["replay", "--from", "first", "--dry-run"])
        .await
        .ok();
    let listed: Vec<String> = run
        .json_lines()
        .iter()
        .map(|line| line["id"].as_str().expect("id").to_owned())
        .collect();
    let sent_ids: Vec<String> = sent.iter().map(|e| e.id.to_string()).collect();
    assert_eq!(listed, sent_ids);
    assert!(
        run.stderr.contains("4 events match (dry run"),
        "{}",
        run.stderr
    );
    for queue in WorkQueue::ALL {
        assert_eq!(depth(&stack.bus, &stack.queue(queue)).await, 0, "{queue:?}");
    }
    stack.cleanup().await;
}

#[tokio::test]
async fn type_user_and_game_filters_select_exactly_what_they_say() {
    let stack = Stack::new().await;
    let (alice, bob) = (Uuid::now_v7(), Uuid::now_v7());
    let (g1, g2, g3) = (Uuid::now_v7(), Uuid::now_v7(), Uuid::now_v7());
    let events = vec![
        processing_event(alice, g1),
        reconciliation(alice, g1),
        processing_event(bob, g2),
        reconciliation(bob, g2),
        processing_event(alice, g3),
        timer(Job::Backup, 3),
    ];
    stack.publish(&events).await;
    let id = |i: usize| events[i].id;
    let alice_text = alice.to_string();
    let g2_text = g2.to_string();

    // Each filter, and the envelope ids it must put in the processing,
    // reconciliation and jobs queues.
    let cases: [(Vec<&str>, [Vec<Uuid>; 3]); 5] = [
        (
            vec!["--type", "reconciliation.ready", "--user", &alice_text],
            [vec![], vec![id(1)], vec![]],
        ),
        (vec!["--game", &g2_text], [vec![id(2)], vec![id(3)], vec![]]),
        (
            vec!["--user", &alice_text],
            [vec![id(0), id(4)], vec![id(1)], vec![]],
        ),
        (vec!["--type", "timer.fired"], [vec![], vec![], vec![id(5)]]),
        (
            vec!["--type", "timer.fired", "--type", "processing.requested"],
            [vec![id(0), id(2), id(4)], vec![], vec![id(5)]],
        ),
    ];
    let queues = [
        stack.queue(WorkQueue::Processing),
        stack.queue(WorkQueue::Reconciliation),
        stack.queue(WorkQueue::Jobs),
    ];
    for (filter, wanted) in cases {
        stack.purge_work_queues().await;
        let mut args = vec!["replay", "--from", "first"];
        args.extend(filter.iter().copied());
        stack.events(&args).await.ok();
        for (queue, want) in queues.iter().zip(wanted) {
            assert_eq!(
                ids(&drain(&stack.bus, queue).await),
                want,
                "{filter:?} into {queue}"
            );
        }
    }
    stack.cleanup().await;
}

#[tokio::test]
async fn an_offset_range_includes_both_ends_and_stops_at_the_end_of_the_stream() {
    let stack = Stack::new().await;
    let sent: Vec<Envelope> = (0..6)
        .map(|_| reconciliation(Uuid::now_v7(), Uuid::now_v7()))
        .collect();
    stack.publish(&sent).await;
    stack.purge_work_queues().await;
    let queue = stack.queue(WorkQueue::Reconciliation);

    stack
        .events(&["replay", "--from", "2", "--to", "4"])
        .await
        .ok();
    assert_eq!(
        ids(&drain(&stack.bus, &queue).await),
        [sent[2].id, sent[3].id, sent[4].id]
    );

    // Far past the end: stops at the end as it was, paced, and finishes.
    stack
        .events(&[
            "replay", "--from", "3", "--to", "1000000", "--rate", "200/s",
        ])
        .await
        .ok();
    assert_eq!(
        ids(&drain(&stack.bus, &queue).await),
        [sent[3].id, sent[4].id, sent[5].id]
    );

    // Nothing in range is not an error.
    let run = stack.events(&["replay", "--from", "50"]).await.ok();
    assert!(run.stderr.contains("nothing to replay"), "{}", run.stderr);
    stack.cleanup().await;
}
