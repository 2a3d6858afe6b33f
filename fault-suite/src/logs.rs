//! What the workers' JSON logs say about each game: how many times it was analysed,
//! and how many of those analyses were of a redelivered message (the consume span's
//! `redelivered` field). A redelivery is the broker handing back what a killed worker
//! (or a dropped connection) held: evidence the fault hit work in progress. A game
//! analysed twice is a redelivery the idempotent path absorbed: still one result, one
//! feed entry, one notification.

use std::collections::HashMap;
use std::path::PathBuf;

use serde_json::Value;

/// The message the worker logs once per completed analysis (`worker/handler.rs`).
const ANALYSED: &str = "Game analysed and reconciliation published.";

/// One game's analyses.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Analyses {
    pub total: u32,
    pub redelivered: u32,
}

/// Analyses per game id, over every incarnation of every worker.
pub fn analyses(logs: &[PathBuf]) -> HashMap<String, Analyses> {
    let mut counts: HashMap<String, Analyses> = HashMap::new();
    for log in logs {
        let Ok(text) = std::fs::read_to_string(log) else {
            continue;
        };
        for line in text.lines().filter(|l| l.contains(ANALYSED)) {
            let Ok(entry) = serde_json::from_str::<Value>(line) else {
                continue;
            };
            if entry["message"] == ANALYSED
                && let Some(game) = entry["game_id"].as_str()
            {
                let counted = counts.entry(game.to_owned()).or_default();
                counted.total += 1;
                if redelivered(&entry) {
                    counted.redelivered += 1;
                }
            }
        }
    }
    counts
}

/// Whether any span of the log line says the message was redelivered.
fn redelivered(entry: &Value) -> bool {
    entry["spans"]
        .as_array()
        .is_some_and(|spans| spans.iter().any(|span| span["redelivered"] == true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analyses_and_redeliveries_are_counted_per_game_across_logs() {
        let dir = std::env::temp_dir().join(format!("fault-logs-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("dir");
        let line = |game: &str, again: bool| {
            format!(
                r#"{{"level":"INFO","message":"{ANALYSED}","game_id":"{game}","spans":[{{"name":"consume","redelivered":{again}}}]}}"#
            )
        };
        let a = dir.join("a.log");
        let b = dir.join("b.log");
        let first = format!("{}\nnot json\n{}\n", line("g1", false), line("g2", false));
        std::fs::write(&a, first).expect("write");
        std::fs::write(&b, format!("--- restart ---\n{}\n", line("g1", true))).expect("write");
        let counts = analyses(&[a, b]);
        assert_eq!(
            counts.get("g1"),
            Some(&Analyses {
                total: 2,
                redelivered: 1
            })
        );
        assert_eq!(
            counts.get("g2"),
            Some(&Analyses {
                total: 1,
                redelivered: 0
            })
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
