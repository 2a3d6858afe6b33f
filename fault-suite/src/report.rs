//! One row per fault, printed as the Markdown table `RELIABILITY.md` shows.

use std::fmt::Write as _;
use std::time::Duration;

use crate::tally::Tally;

/// A phase's outcome.
#[derive(Debug, Clone)]
pub struct Row {
    pub fault: String,
    pub tally: Tally,
    /// Games of the phase analysed more than once (redeliveries absorbed).
    pub reanalysed: usize,
    /// Games of the phase whose analysis was of a redelivered message.
    pub redelivered: usize,
    /// The longest a phone waited from its first request to its `202`.
    pub slowest_answer: Duration,
    /// From the fault to the broken part being back.
    pub down: Duration,
    /// From the part being back to the system being whole; `None`: it never was.
    pub recovery: Option<Duration>,
    pub notes: Vec<String>,
    /// Violations found beyond the tally (stuck games, crashed services, Redis keys).
    pub violations: Vec<String>,
}

impl Row {
    pub fn passed(&self) -> bool {
        self.tally.held() && self.recovery.is_some() && self.violations.is_empty()
    }
}

/// The table, with a header.
pub fn markdown(rows: &[Row]) -> String {
    let mut out = String::from(
        "| fault | sent | accepted | processed | lost | duplicated | retried | redelivered | re-analysed | slowest 202 (s) | down (s) | recovery (s) | result | notes |\n\
         |---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n",
    );
    for row in rows {
        let t = &row.tally;
        let recovery = row
            .recovery
            .map_or_else(|| "never".to_owned(), |d| format!("{:.1}", d.as_secs_f64()));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {:.1} | {:.1} | {} | {} | {} |",
            row.fault,
            t.sent,
            t.accepted,
            t.processed,
            t.lost,
            t.duplicated,
            t.retried,
            row.redelivered,
            row.reanalysed,
            row.slowest_answer.as_secs_f64(),
            row.down.as_secs_f64(),
            recovery,
            if row.passed() { "ok" } else { "FAIL" },
            row.notes.join("; "),
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_row_that_never_recovered_fails_and_says_so() {
        let row = Row {
            fault: "x".into(),
            tally: Tally {
                sent: 3,
                accepted: 3,
                processed: 3,
                ..Tally::default()
            },
            reanalysed: 0,
            redelivered: 0,
            slowest_answer: Duration::from_millis(250),
            down: Duration::from_millis(1500),
            recovery: None,
            notes: vec![],
            violations: vec![],
        };
        assert!(!row.passed());
        let table = markdown(&[row]);
        assert!(
            table.contains("| x | 3 | 3 | 3 | 0 | 0 | 0 | 0 | 0 | 0.2 | 1.5 | never | FAIL |"),
            "{table}"
        );
    }
}
