//! A replay's range, checked before anything is read.

use shared_events::StreamStart;
use time::OffsetDateTime;

use crate::position::{Bound, CLOCK_MARGIN, Position};
use crate::stream_end::StreamEnd;

/// Where a replay starts and stops, and the time bounds its filter applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    from: Position,
    to: Option<Bound>,
}

/// A range that cannot be replayed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RangeError {
    #[error("bad range: replay needs a fixed start (first, an offset or a time), not `{0}`")]
    MovingStart(String),
    #[error("bad range: --to ({to}) is before --from ({from})")]
    Backwards { from: String, to: String },
    #[error("bad range: --from ({0}) is in the future")]
    Future(String),
}

impl Range {
    pub fn new(from: Position, to: Option<Bound>, now: OffsetDateTime) -> Result<Self, RangeError> {
        match from {
            Position::Last | Position::Next => {
                return Err(RangeError::MovingStart(from.to_string()));
            }
            Position::Time(time) if time > now => return Err(RangeError::Future(from.to_string())),
            _ => {}
        }
        let backwards = match (from, to) {
            (Position::Offset(start), Some(Bound::Offset(end))) => end < start,
            (Position::Time(start), Some(Bound::Time(end))) => end <= start,
            _ => false,
        };
        if backwards {
            return Err(RangeError::Backwards {
                from: from.to_string(),
                to: to.map(|to| to.to_string()).unwrap_or_default(),
            });
        }
        Ok(Self { from, to })
    }

    pub fn start(&self) -> StreamStart {
        self.from.stream_start()
    }

    /// The first offset the range can hold, when the start is an offset.
    pub fn first_offset(&self) -> Option<u64> {
        match self.from {
            Position::Offset(offset) => Some(offset),
            Position::First => Some(0),
            _ => None,
        }
    }

    /// The last offset to read: `--to` if it is an offset, but never past the end
    /// of the stream when the replay started.
    pub fn stop_offset(&self, end: &StreamEnd) -> u64 {
        match self.to {
            Some(Bound::Offset(to)) => to.min(end.last_offset),
            _ => end.last_offset,
        }
    }

    /// Events that occurred at or after this time (a time `--from`).
    pub fn since(&self) -> Option<OffsetDateTime> {
        match self.from {
            Position::Time(time) => Some(time),
            _ => None,
        }
    }

    /// Events that occurred before this time (a time `--to`).
    pub fn before(&self) -> Option<OffsetDateTime> {
        match self.to {
            Some(Bound::Time(time)) => Some(time),
            _ => None,
        }
    }

    /// Reading can stop at an event this late: the stream is in publish order, and
    /// an event's `occurred_at` trails its place by far less than the margin.
    pub fn is_past(&self, occurred_at: OffsetDateTime) -> bool {
        self.before()
            .is_some_and(|before| occurred_at >= before + CLOCK_MARGIN)
    }

    /// True when nothing in the stream can be in range, known without reading it.
    pub fn is_empty(&self, end: &StreamEnd) -> bool {
        let after_end = self
            .first_offset()
            .is_some_and(|first| first > self.stop_offset(end));
        let after_latest = match (self.since(), end.latest_event) {
            (Some(since), Some(latest)) => since > latest + CLOCK_MARGIN,
            _ => false,
        };
        after_end || after_latest
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    const NOW: OffsetDateTime = datetime!(2026-11-22 12:00 UTC);

    fn end(last_offset: u64) -> StreamEnd {
        StreamEnd {
            last_offset,
            latest_event: Some(datetime!(2026-11-22 11:00 UTC)),
        }
    }

    #[test]
    fn a_replay_cannot_start_at_a_moving_point() {
        assert!(matches!(
            Range::new(Position::Next, None, NOW),
            Err(RangeError::MovingStart(_))
        ));
        assert!(Range::new(Position::Last, None, NOW).is_err());
    }

    #[test]
    fn a_backwards_or_future_range_is_refused() {
        assert!(matches!(
            Range::new(Position::Offset(10), Some(Bound::Offset(5)), NOW),
            Err(RangeError::Backwards { .. })
        ));
        let t = datetime!(2026-11-22 10:00 UTC);
        assert!(Range::new(Position::Time(t), Some(Bound::Time(t)), NOW).is_err());
        let error = Range::new(Position::Time(NOW + time::Duration::hours(1)), None, NOW)
            .expect_err("future");
        assert!(error.to_string().contains("in the future"), "{error}");
        assert!(Range::new(Position::Offset(5), Some(Bound::Offset(5)), NOW).is_ok());
    }

    #[test]
    fn the_stop_is_the_earlier_of_to_and_the_end() {
        let range = Range::new(Position::First, Some(Bound::Offset(50)), NOW).expect("valid");
        assert_eq!(range.stop_offset(&end(99)), 50);
        assert_eq!(range.stop_offset(&end(20)), 20);
        let open = Range::new(Position::First, None, NOW).expect("valid");
        assert_eq!(open.stop_offset(&end(99)), 99);
    }

    #[test]
    fn a_range_past_the_end_is_empty_without_reading() {
        let range = Range::new(Position::Offset(100), None, NOW).expect("valid");
        assert!(range.is_empty(&end(99)));
        assert!(!range.is_empty(&end(100)));
        let late =
            Range::new(Position::Time(datetime!(2026-11-22 11:30 UTC)), None, NOW).expect("valid");
        assert!(late.is_empty(&end(99)), "after the latest event");
    }
}
