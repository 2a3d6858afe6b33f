//! The dashboard's arithmetic: rates of change between polls, and percentiles.
//!
//! AMQP 0.9.1 tells a queue's depth, not how fast messages come and go, so the
//! rate shown is the depth's change per second between two looks, whoever polled
//! (several open dashboards share one baseline). A positive rate means the
//! queue grows: producers outpace consumers.

use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Looks closer together than this reuse the last rate: over a few milliseconds
/// a depth's change says nothing.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);

/// The last depth seen of each queue, and the rate computed then.
#[derive(Debug, Default)]
pub struct RateTracker {
    last: HashMap<String, Sample>,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    ready: u32,
    at: Instant,
    rate: Option<f64>,
}

impl RateTracker {
    /// Records that `queue` held `ready` messages at `at`, and returns its change
    /// per second since the previous look (`None` on the first look).
    pub fn observe(&mut self, queue: &str, ready: u32, at: Instant) -> Option<f64> {
        let Some(previous) = self.last.get(queue).copied() else {
            self.last.insert(
                queue.to_owned(),
                Sample {
                    ready,
                    at,
                    rate: None,
                },
            );
            return None;
        };
        let elapsed = at.saturating_duration_since(previous.at);
        if elapsed < MIN_INTERVAL {
            // Keep the older baseline, so the next rate spans a real interval.
            return previous.rate;
        }
        let rate = (f64::from(ready) - f64::from(previous.ready)) / elapsed.as_secs_f64();
        self.last.insert(
            queue.to_owned(),
            Sample {
                ready,
                at,
                rate: Some(rate),
            },
        );
        Some(rate)
    }
}

/// The `p`-th percentile (0 < p <= 100) of `sorted` (ascending), by nearest rank:
/// the smallest value with at least `p`% of the values at or below it. Always a
/// value that occurred, never an interpolation.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_look_has_no_rate_and_later_ones_the_change_per_second() {
        let start = Instant::now();
        let mut rates = RateTracker::default();
        assert_eq!(rates.observe("q", 10, start), None);
        let rate = rates.observe("q", 40, start + Duration::from_secs(2));
        assert_eq!(rate, Some(15.0));
        let draining = rates.observe("q", 0, start + Duration::from_secs(6));
        assert_eq!(draining, Some(-10.0));
    }

    #[test]
    fn looks_too_close_together_reuse_the_last_rate_and_keep_the_baseline() {
        let start = Instant::now();
        let mut rates = RateTracker::default();
        rates.observe("q", 0, start);
        assert_eq!(
            rates.observe("q", 5, start + Duration::from_secs(1)),
            Some(5.0)
        );
        // 100 ms later: too soon to say anything new.
        assert_eq!(
            rates.observe("q", 500, start + Duration::from_millis(1_100)),
            Some(5.0)
        );
        // Measured from the baseline at 1 s, not from the look at 1.1 s.
        assert_eq!(
            rates.observe("q", 25, start + Duration::from_secs(3)),
            Some(10.0)
        );
    }

    #[test]
    fn queues_are_tracked_apart() {
        let start = Instant::now();
        let mut rates = RateTracker::default();
        rates.observe("a", 0, start);
        rates.observe("b", 100, start);
        let later = start + Duration::from_secs(4);
        assert_eq!(rates.observe("a", 8, later), Some(2.0));
        assert_eq!(rates.observe("b", 80, later), Some(-5.0));
    }

    #[test]
    fn percentiles_are_values_that_occurred_by_nearest_rank() {
        let values: Vec<i64> = (1..=100).collect();
        assert_eq!(percentile(&values, 50.0), Some(50));
        assert_eq!(percentile(&values, 99.0), Some(99));
        assert_eq!(percentile(&values, 100.0), Some(100));
        assert_eq!(percentile(&[7, 9, 30], 50.0), Some(9));
        assert_eq!(percentile(&[7, 9, 30], 99.0), Some(30));
        assert_eq!(percentile(&[42], 1.0), Some(42));
    }

    #[test]
    fn no_values_or_a_meaningless_rank_give_no_percentile() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[1, 2], 0.0), None);
        assert_eq!(percentile(&[1, 2], 101.0), None);
        assert_eq!(percentile(&[1, 2], f64::NAN), None);
    }
}
