//! Which events a command selects: by type, patient, game and time.

use std::fmt;
use std::str::FromStr;

use shared_events::Event;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::cli::FilterArgs;
use crate::record::Peek;

/// An event type this build knows, checked when the command line is parsed so a
/// typo is an error rather than a filter that silently matches nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct EventType(&'static str);

impl EventType {
    /// The contract's own list, so a new event type is known here at once.
    pub const ALL: [&'static str; Event::TYPES.len()] = Event::TYPES;

    pub fn as_str(self) -> &'static str {
        self.0
    }
}

/// Why a type name was refused.
#[derive(Debug, thiserror::Error)]
#[error("unknown event type `{0}`; known types: {known}", known = EventType::ALL.join(", "))]
pub struct UnknownType(String);

impl FromStr for EventType {
    type Err = UnknownType;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|known| *known == name.trim())
            .map(EventType)
            .ok_or_else(|| UnknownType(name.to_owned()))
    }
}

impl fmt::Display for EventType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A selection of events. Every condition must hold; an absent one holds always.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    types: Vec<EventType>,
    user: Option<Uuid>,
    game: Option<Uuid>,
    /// `occurred_at` at or after this...
    since: Option<OffsetDateTime>,
    /// ...and before this.
    before: Option<OffsetDateTime>,
}

impl Filter {
    pub fn new(args: &FilterArgs) -> Self {
        Self {
            types: args.types.clone(),
            user: args.user,
            game: args.game,
            since: None,
            before: None,
        }
    }

    pub fn since(mut self, time: Option<OffsetDateTime>) -> Self {
        self.since = time;
        self
    }

    pub fn before(mut self, time: Option<OffsetDateTime>) -> Self {
        self.before = time;
        self
    }

    pub fn matches(&self, event: &Peek) -> bool {
        (self.types.is_empty() || self.types.iter().any(|t| t.as_str() == event.event_type))
            && self
                .user
                .is_none_or(|user| event.data.user_id == Some(user))
            && self
                .game
                .is_none_or(|game| event.data.game_id == Some(game))
            && self.since.is_none_or(|since| event.occurred_at >= since)
            && self.before.is_none_or(|before| event.occurred_at < before)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::PeekData;
    use shared_events::WorkQueue;
    use time::macros::datetime;

    fn peek(event_type: &str, user: Option<Uuid>, at: OffsetDateTime) -> Peek {
        Peek {
            id: Uuid::now_v7(),
            event_type: event_type.into(),
            occurred_at: at,
            data: PeekData {
                user_id: user,
                game_id: None,
            },
        }
    }

    #[test]
    fn every_known_type_but_the_live_notifications_has_a_work_queue() {
        for name in EventType::ALL {
            // `feed.appended` goes to one transient queue per gateway instance,
            // which a replay cannot target: it counts as having no queue.
            let expected = name != Event::FEED_APPENDED;
            assert_eq!(
                WorkQueue::for_event_type(name).is_some(),
                expected,
                "{name}"
            );
        }
    }

    #[test]
    fn an_unknown_type_is_refused_with_the_known_ones() {
        let error = "processing".parse::<EventType>().expect_err("unknown");
        assert!(
            error.to_string().contains("processing.requested"),
            "{error}"
        );
    }

    #[test]
    fn an_empty_filter_matches_everything() {
        let at = datetime!(2026-11-22 10:00 UTC);
        assert!(Filter::default().matches(&peek("timer.fired", None, at)));
    }

    #[test]
    fn every_condition_must_hold() {
        let user = Uuid::now_v7();
        let at = datetime!(2026-11-22 10:00 UTC);
        let filter = Filter::new(&FilterArgs {
            types: vec!["reconciliation.ready".parse().expect("known")],
            user: Some(user),
            game: None,
        })
        .since(Some(at))
        .before(Some(at + time::Duration::seconds(1)));
        assert!(filter.matches(&peek("reconciliation.ready", Some(user), at)));
        assert!(!filter.matches(&peek("processing.requested", Some(user), at)));
        assert!(!filter.matches(&peek("reconciliation.ready", Some(Uuid::now_v7()), at)));
        assert!(!filter.matches(&peek("reconciliation.ready", None, at)));
        let later = at + time::Duration::seconds(1);
        assert!(!filter.matches(&peek("reconciliation.ready", Some(user), later)));
    }
}
