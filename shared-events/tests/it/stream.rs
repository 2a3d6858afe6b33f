//! The history stream keeps every event and is read back from any point.

use std::time::Duration;

use shared_events::{Envelope, StreamReader, StreamStart};
use time::OffsetDateTime;

use crate::helpers::{TestBus, reconciliation};

async fn read(test: &TestBus, start: StreamStart, count: usize) -> Vec<(u64, Envelope)> {
    let mut reader = StreamReader::open(&test.bus, start)
        .await
        .expect("open stream");
    let mut records = Vec::new();
    while records.len() < count {
        let record = tokio::time::timeout(Duration::from_secs(10), reader.next())
            .await
            .expect("a record within 10 s")
            .expect("read")
            .expect("stream open");
        records.push((
            record.offset,
            Envelope::from_json(&record.body).expect("envelope"),
        ));
    }
    reader.close().await;
    records
}

#[tokio::test]
async fn events_are_read_back_from_first_from_an_offset_and_from_a_time() {
    let test = TestBus::new().await;
    let mut sent = Vec::new();
    for i in 0..5 {
        let event = reconciliation(&format!("early-{i}"));
        test.publisher.publish(&event).await.expect("publish");
        sent.push(event);
    }
    // Stream timestamps have second precision: leave a clear gap.
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let between = OffsetDateTime::now_utc();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    for i in 0..5 {
        let event = reconciliation(&format!("late-{i}"));
        test.publisher.publish(&event).await.expect("publish");
        sent.push(event);
    }

    let all = read(&test, StreamStart::First, 10).await;
    let ids: Vec<_> = all.iter().map(|(_, e)| e.id).collect();
    let sent_ids: Vec<_> = sent.iter().map(|e| e.id).collect();
    assert_eq!(ids, sent_ids, "from first: everything, in publish order");
    assert!(all.windows(2).all(|w| w[0].0 < w[1].0), "offsets increase");
    assert_eq!(all[3].1, sent[3], "envelopes come back intact");

    let from_offset = read(&test, StreamStart::Offset(all[6].0), 4).await;
    assert_eq!(
        from_offset[0].1.id, sent[6].id,
        "from an offset: starts exactly there"
    );
    assert_eq!(from_offset[3].1.id, sent[9].id);

    let from_time = read(&test, StreamStart::Time(between), 5).await;
    let late: Vec<_> = from_time.iter().map(|(_, e)| e.id).collect();
    assert_eq!(
        late,
        sent_ids[5..],
        "from a time: the events published after it"
    );
    test.cleanup().await;
}
