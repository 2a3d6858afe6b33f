//! `--rate N/s`: a ceiling on how fast a replay republishes.

use std::str::FromStr;
use std::time::Duration;

use tokio::time::Instant;

/// Events per second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate(f64);

/// Why a rate could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a rate: give a positive number of events per second, e.g. 500 or 500/s")]
pub struct RateError(String);

impl FromStr for Rate {
    type Err = RateError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let number = text.trim().strip_suffix("/s").unwrap_or(text.trim());
        match number.trim().parse::<f64>() {
            Ok(rate) if rate.is_finite() && rate > 0.0 => Ok(Rate(rate)),
            _ => Err(RateError(text.to_owned())),
        }
    }
}

impl Rate {
    pub fn per_second(self) -> f64 {
        self.0
    }
}

/// Paces events against a start time rather than sleeping a fixed gap after each,
/// so the time spent publishing counts toward the budget and the average holds.
#[derive(Debug)]
pub struct Pacer {
    rate: Option<Rate>,
    start: Instant,
    sent: u64,
}

impl Pacer {
    pub fn new(rate: Option<Rate>) -> Self {
        Self {
            rate,
            start: Instant::now(),
            sent: 0,
        }
    }

    /// Waits until one more event fits under the rate.
    pub async fn wait(&mut self) {
        if let Some(rate) = self.rate {
            let due = self.start + Duration::from_secs_f64(self.sent as f64 / rate.per_second());
            tokio::time::sleep_until(due).await;
        }
        self.sent += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_a_positive_number_with_an_optional_per_second() {
        assert_eq!("500".parse::<Rate>().ok(), Some(Rate(500.0)));
        assert_eq!("2.5/s".parse::<Rate>().ok(), Some(Rate(2.5)));
        assert!("0".parse::<Rate>().is_err());
        assert!("-3/s".parse::<Rate>().is_err());
        assert!("fast".parse::<Rate>().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn the_pacer_spreads_events_over_time() {
        let mut pacer = Pacer::new(Some(Rate(10.0)));
        let start = Instant::now();
        for _ in 0..21 {
            pacer.wait().await;
        }
        // 21 events at 10/s: the last is due 2 s after the first (paused clock).
        assert_eq!(start.elapsed(), Duration::from_secs(2));
    }
}
