//! Where to start and stop reading the history stream, as typed on the command line.

use std::fmt;
use std::str::FromStr;

use shared_events::StreamStart;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// A starting point: `first`, `last`, `next`, an offset, or an RFC 3339 time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    First,
    Last,
    Next,
    Offset(u64),
    Time(OffsetDateTime),
}

/// An end point: the last offset to include, or a time before which events occurred.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bound {
    Offset(u64),
    Time(OffsetDateTime),
}

/// How far before a requested time the stream is opened. The broker positions a
/// time by when it *wrote* a chunk, while filters use the event's `occurred_at`
/// (set by its producer): opening a little early and filtering exactly keeps an
/// event whose producer's clock runs ahead of the broker's.
pub const CLOCK_MARGIN: time::Duration = time::Duration::seconds(10);

impl Position {
    /// The broker-side starting point. A time starts [`CLOCK_MARGIN`] early; the
    /// caller filters on `occurred_at`.
    pub fn stream_start(self) -> StreamStart {
        match self {
            Position::First => StreamStart::First,
            Position::Last => StreamStart::Last,
            Position::Next => StreamStart::Next,
            Position::Offset(offset) => StreamStart::Offset(offset),
            Position::Time(time) => StreamStart::Time(time - CLOCK_MARGIN),
        }
    }
}

/// Why a position could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error(
    "`{0}` is not first, last, next, an offset or an RFC 3339 time (e.g. 2026-11-22T10:00:00Z)"
)]
pub struct PositionError(String);

impl FromStr for Position {
    type Err = PositionError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.trim() {
            "first" => Ok(Position::First),
            "last" => Ok(Position::Last),
            "next" => Ok(Position::Next),
            other => match parse_offset_or_time(other) {
                Some(Bound::Offset(offset)) => Ok(Position::Offset(offset)),
                Some(Bound::Time(time)) => Ok(Position::Time(time)),
                None => Err(PositionError(text.to_owned())),
            },
        }
    }
}

/// Why an end bound could not be parsed.
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not an offset or an RFC 3339 time (e.g. 2026-11-22T10:00:00Z)")]
pub struct BoundError(String);

impl FromStr for Bound {
    type Err = BoundError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        parse_offset_or_time(text.trim()).ok_or_else(|| BoundError(text.to_owned()))
    }
}

fn parse_offset_or_time(text: &str) -> Option<Bound> {
    if let Ok(offset) = text.parse::<u64>() {
        return Some(Bound::Offset(offset));
    }
    OffsetDateTime::parse(text, &Rfc3339).ok().map(Bound::Time)
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Position::First => f.write_str("first"),
            Position::Last => f.write_str("last"),
            Position::Next => f.write_str("next"),
            Position::Offset(offset) => write!(f, "offset {offset}"),
            Position::Time(time) => write!(f, "{}", rfc3339(*time)),
        }
    }
}

impl fmt::Display for Bound {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Bound::Offset(offset) => write!(f, "offset {offset}"),
            Bound::Time(time) => write!(f, "{}", rfc3339(*time)),
        }
    }
}

/// A time as RFC 3339, for messages and output.
pub fn rfc3339(time: OffsetDateTime) -> String {
    time.format(&Rfc3339)
        .unwrap_or_else(|_| time.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn names_offsets_and_times_are_positions() {
        assert_eq!("first".parse::<Position>().ok(), Some(Position::First));
        assert_eq!("next".parse::<Position>().ok(), Some(Position::Next));
        assert_eq!("42".parse::<Position>().ok(), Some(Position::Offset(42)));
        assert_eq!(
            "2026-11-22T10:00:00.5+01:00".parse::<Position>().ok(),
            Some(Position::Time(datetime!(2026-11-22 09:00:00.5 UTC)))
        );
    }

    #[test]
    fn anything_else_is_refused_with_the_accepted_forms() {
        let error = "yesterday".parse::<Position>().expect_err("not a position");
        assert!(error.to_string().contains("RFC 3339"), "{error}");
        assert!("-1".parse::<Position>().is_err());
        assert!(
            "first".parse::<Bound>().is_err(),
            "an end is an offset or a time"
        );
    }

    #[test]
    fn a_time_opens_the_stream_a_margin_early() {
        let time = datetime!(2026-11-22 10:00:00 UTC);
        assert_eq!(
            Position::Time(time).stream_start(),
            StreamStart::Time(datetime!(2026-11-22 09:59:50 UTC))
        );
    }
}
