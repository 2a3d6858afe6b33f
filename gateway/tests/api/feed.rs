//! The change feed's storage: concurrent appends for one patient take consecutive
//! positions, and the same change is stored once.

use gateway::store::ChangeFeed;
use gateway::store::feed::{Appended, NewEntry};
use serde_json::json;

use crate::helpers::spawn_app;

fn entry(user_id: &str, game: usize) -> NewEntry {
    NewEntry {
        user_id: user_id.into(),
        game_id: format!("game-{game}"),
        change: "game.processed".into(),
        dedupe: format!("game-{game}:r1"),
        exercise: "piano".into(),
        entry: json!({ "type": "game.processed", "game": { "game_id": format!("game-{game}") } }),
        progress: None,
    }
}

#[tokio::test]
async fn racing_appends_take_consecutive_positions_and_duplicates_collapse() {
    let app = spawn_app().await;
    let feed = ChangeFeed::new(&app.db);
    feed.ensure_indexes().await.expect("indexes");
    // 20 changes, each appended twice, all at once.
    let appends = (0..40).map(|i| {
        let feed = feed.clone();
        tokio::spawn(async move { feed.append(&entry("patient", i % 20)).await })
    });
    let mut new = Vec::new();
    for append in appends {
        if let Appended::New(seq) = append.await.expect("task").expect("appended") {
            new.push(seq);
        }
    }
    new.sort_unstable();
    assert_eq!(new, (1..=20).collect::<Vec<u64>>());

    let stored = feed.after("patient", 0, 100).await.expect("read");
    let seqs: Vec<u64> = stored.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=20).collect::<Vec<u64>>());
    let games: std::collections::HashSet<String> = stored
        .iter()
        .map(|e| e.entry["game"]["game_id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(games.len(), 20);
    assert_eq!(feed.last_seq("patient").await.expect("end"), 20);
    assert_eq!(feed.last_seq("nobody").await.expect("end"), 0);
    // Another patient's feed starts at 1.
    assert_eq!(
        feed.append(&entry("other", 0)).await.expect("appended"),
        Appended::New(1)
    );
}

#[tokio::test]
async fn instances_appending_in_turn_leave_no_gap_and_no_repeat() {
    let app = spawn_app().await;
    // Two gateway instances: each remembers only the positions it wrote itself.
    let (a, b) = (ChangeFeed::new(&app.db), ChangeFeed::new(&app.db));
    a.ensure_indexes().await.expect("indexes");
    let turns = [&a, &b, &b, &a, &b, &a, &a, &b];
    let mut positions = Vec::new();
    for (game, feed) in turns.iter().enumerate() {
        positions.push(
            feed.append(&entry("patient", game))
                .await
                .expect("appended"),
        );
    }
    let expected: Vec<Appended> = (1..=8).map(Appended::New).collect();
    assert_eq!(positions, expected);

    // A change already in the feed is found by either instance, whatever it
    // remembers, and nothing is added.
    assert_eq!(
        a.append(&entry("patient", 1)).await.expect("appended"),
        Appended::Existing(2)
    );
    assert_eq!(
        b.append(&entry("patient", 7)).await.expect("appended"),
        Appended::Existing(8)
    );
    assert_eq!(b.last_seq("patient").await.expect("end"), 8);
    assert_eq!(a.after("patient", 0, 100).await.expect("read").len(), 8);
}
