//! The promise, checked: every upload that got a `202` ends processed exactly once.
//!
//! Pure: the store's facts and the ledger in, counts and the first problems out.
//! Per accepted upload, with `g` the game its `202` named:
//! - *lost* if `g` is missing from `games`, not `processed` there, has no result,
//!   has no change-feed entry, or (for a phone holding a socket) was never notified;
//! - *duplicated* if its key answered two game ids, the store holds two games for its
//!   key, the feed holds two entries for `g`, or a socket was notified twice of `g`;
//! - *processed* if it is neither.

use std::collections::HashMap;

use crate::ledger::{NoticeCounts, Upload};

/// What the store holds about the uploads' games.
#[derive(Debug, Default, Clone)]
pub struct StoreFacts {
    /// `games`: game id -> status.
    pub status: HashMap<String, String>,
    /// `results`: game id -> status (one document per game: `_id` is the game id).
    pub results: HashMap<String, String>,
    /// `change_feed`: entries per game id.
    pub feed: HashMap<String, u32>,
    /// `games` per `(user_id, idempotency_key)` of the uploads.
    pub per_key: HashMap<(String, String), u32>,
}

/// One phase's counts.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Tally {
    pub sent: usize,
    pub accepted: usize,
    pub processed: usize,
    pub lost: usize,
    pub duplicated: usize,
    /// Uploads that never got a `202` (the phone gave up at the deadline, or was
    /// refused): the system did not recover to take them.
    pub unanswered: usize,
    /// Uploads that needed more than one request.
    pub retried: usize,
    /// The first problems found, in words.
    pub problems: Vec<String>,
}

/// How many problems are described (the counts cover all of them).
const DESCRIBED: usize = 20;

pub fn tally(uploads: &[Upload], facts: &StoreFacts, notices: &NoticeCounts) -> Tally {
    let mut tally = Tally {
        sent: uploads.len(),
        ..Tally::default()
    };
    for upload in uploads {
        if upload.attempts > 1 {
            tally.retried += 1;
        }
        let Some(game) = upload.game_id() else {
            tally.unanswered += 1;
            let why = upload
                .refused
                .as_deref()
                .unwrap_or("no 202 before the deadline");
            tally.note(format!("phone {} key {}: {why}", upload.phone, upload.key));
            continue;
        };
        tally.accepted += 1;
        let (lost, duplicated) = (
            lost_because(upload, game, facts, notices),
            duplicated_because(upload, game, facts, notices),
        );
        if let Some(why) = &lost {
            tally.lost += 1;
            tally.note(format!("LOST game {game} (phone {}): {why}", upload.phone));
        }
        if let Some(why) = &duplicated {
            tally.duplicated += 1;
            tally.note(format!(
                "DUPLICATED game {game} (phone {}): {why}",
                upload.phone
            ));
        }
        if lost.is_none() && duplicated.is_none() {
            tally.processed += 1;
        }
    }
    tally
}

fn lost_because(
    upload: &Upload,
    game: &str,
    facts: &StoreFacts,
    notices: &NoticeCounts,
) -> Option<String> {
    match facts.status.get(game).map(String::as_str) {
        None => return Some("not in the games collection".into()),
        Some("processed") => {}
        Some(status) => return Some(format!("status is `{status}`")),
    }
    if !facts.results.contains_key(game) {
        return Some("no result document".into());
    }
    if facts.feed.get(game).copied().unwrap_or(0) == 0 {
        return Some("no change-feed entry".into());
    }
    if notices.processed(upload.phone, game) == Some(0) {
        return Some("its phone's socket was never notified".into());
    }
    None
}

fn duplicated_because(
    upload: &Upload,
    game: &str,
    facts: &StoreFacts,
    notices: &NoticeCounts,
) -> Option<String> {
    if upload.answers.iter().any(|other| other != game) {
        return Some(format!("one key answered {:?}", upload.answers));
    }
    let stored = facts
        .per_key
        .get(&(upload.user_id.clone(), upload.key.clone()))
        .copied()
        .unwrap_or(0);
    if stored > 1 {
        return Some(format!("{stored} games stored for one key"));
    }
    let feed = facts.feed.get(game).copied().unwrap_or(0);
    if feed > 1 {
        return Some(format!("{feed} change-feed entries"));
    }
    match notices.processed(upload.phone, game) {
        Some(n) if n > 1 => Some(format!("its phone's socket was notified {n} times")),
        _ => None,
    }
}

impl Tally {
    fn note(&mut self, problem: String) {
        if self.problems.len() < DESCRIBED {
            self.problems.push(problem);
        }
    }

    /// Whether the promise held.
    pub fn held(&self) -> bool {
        self.lost == 0 && self.duplicated == 0 && self.unanswered == 0
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;
    use crate::ledger::Ledger;

    fn upload(phone: usize, key: &str, answers: &[&str]) -> Upload {
        Upload {
            phone,
            user_id: format!("user-{phone}"),
            key: key.into(),
            phase: 0,
            sent_at: Instant::now(),
            attempts: 1,
            answers: answers.iter().map(|a| a.to_string()).collect(),
            accepted_at: (!answers.is_empty()).then(Instant::now),
            refused: None,
        }
    }

    /// Facts of a store where each game is processed once.
    fn healthy(games: &[(usize, &str, &str)]) -> StoreFacts {
        let mut facts = StoreFacts::default();
        for (phone, key, game) in games {
            facts.status.insert(game.to_string(), "processed".into());
            facts.results.insert(game.to_string(), "processed".into());
            facts.feed.insert(game.to_string(), 1);
            facts
                .per_key
                .insert((format!("user-{phone}"), key.to_string()), 1);
        }
        facts
    }

    fn no_sockets() -> NoticeCounts {
        NoticeCounts::default()
    }

    #[test]
    fn games_stored_processed_and_fed_once_are_processed() {
        let uploads = [upload(0, "k1", &["g1"]), upload(1, "k2", &["g2", "g2"])];
        let facts = healthy(&[(0, "k1", "g1"), (1, "k2", "g2")]);
        let tally = tally(&uploads, &facts, &no_sockets());
        assert_eq!((tally.sent, tally.accepted, tally.processed), (2, 2, 2));
        assert!(tally.held(), "{tally:?}");
    }

    #[test]
    fn an_acknowledged_game_stuck_queued_or_without_a_feed_entry_is_lost() {
        let uploads = [
            upload(0, "k1", &["g1"]),
            upload(0, "k2", &["g2"]),
            upload(0, "k3", &["g3"]),
        ];
        let mut facts = healthy(&[(0, "k1", "g1"), (0, "k2", "g2")]);
        facts.status.insert("g1".into(), "queued".into());
        facts.feed.remove("g2");
        let tally = tally(&uploads, &facts, &no_sockets());
        assert_eq!(tally.lost, 3, "{tally:?}");
        assert_eq!(tally.processed, 0);
        assert!(!tally.held());
    }

    #[test]
    fn two_games_for_one_key_or_two_feed_entries_are_duplicates() {
        let uploads = [
            upload(0, "k1", &["g1", "g9"]),
            upload(0, "k2", &["g2"]),
            upload(0, "k3", &["g3"]),
        ];
        let mut facts = healthy(&[(0, "k1", "g1"), (0, "k2", "g2"), (0, "k3", "g3")]);
        facts.per_key.insert(("user-0".into(), "k2".into()), 2);
        facts.feed.insert("g3".into(), 2);
        let tally = tally(&uploads, &facts, &no_sockets());
        assert_eq!((tally.duplicated, tally.lost, tally.processed), (3, 0, 0));
    }

    #[test]
    fn a_socket_phone_must_hear_of_each_of_its_games_exactly_once() {
        let ledger = Ledger::default();
        ledger.holds_socket(0);
        ledger.notified(0, "g1", "game.processed");
        ledger.notified(0, "g2", "game.processed");
        ledger.notified(0, "g2", "game.processed");
        let uploads = [
            upload(0, "k1", &["g1"]),
            upload(0, "k2", &["g2"]),
            upload(0, "k3", &["g3"]),
            upload(1, "k4", &["g4"]),
        ];
        let facts = healthy(&[
            (0, "k1", "g1"),
            (0, "k2", "g2"),
            (0, "k3", "g3"),
            (1, "k4", "g4"),
        ]);
        let tally = tally(&uploads, &facts, &ledger.notice_counts());
        // g2 twice, g3 never; phone 1 has no socket, so g4 needs no notification.
        assert_eq!(
            (tally.processed, tally.duplicated, tally.lost),
            (2, 1, 1),
            "{tally:?}"
        );
    }

    #[test]
    fn an_upload_never_acknowledged_is_unanswered_not_lost() {
        let mut refused = upload(0, "k2", &[]);
        refused.refused = Some("422".into());
        let uploads = [upload(0, "k1", &[]), refused];
        let tally = tally(&uploads, &StoreFacts::default(), &no_sockets());
        assert_eq!((tally.accepted, tally.unanswered, tally.lost), (0, 2, 0));
        assert!(!tally.held());
    }

    #[test]
    fn a_notification_about_another_phones_game_is_a_stray() {
        let ledger = Ledger::default();
        ledger.holds_socket(0);
        ledger.notified(0, "g1", "game.processed");
        ledger.notified(0, "g7", "game.processed");
        let own = HashMap::from([(0, vec!["g1".to_owned()])]);
        assert_eq!(ledger.notice_counts().strays(&own).len(), 1);
    }
}
