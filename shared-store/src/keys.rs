//! The Redis keys that cross a service boundary, named once for both sides.
//!
//! The gateway writes these keys on every request (seed 000's bookkeeping) and on
//! every new game (seeds 001 and 003's scores); the sync-worker's `sync` job
//! snapshots and restores the four [`Family`]s, and its `backup` job moves
//! [`JOURNAL`] into the store. Both sides build every name through this module (and
//! [`RedisKeys`], which adds `M2M_REDIS_PREFIX`), so a renamed key is renamed on
//! both sides at once, and neither side spells a key as a string of its own.
//!
//! | key | type | written by | moved by |
//! |---|---|---|---|
//! | [`USERS`] | SET of user ids | gateway, `SADD` per request tied to a user | sync |
//! | `users:updated_time` | STRING, Unix ms | gateway, with every `SADD users` | sync |
//! | `c:<command>` ([`counter`]) | STRING counter | gateway, `INCR` per request | sync |
//! | `c:updated_time` | STRING, Unix ms | gateway, with every counter increment (one for all counters, as in seed 000) | sync |
//! | `leaderboard:<exercise>` ([`leaderboard`]) | ZSET user id -> best score | gateway, `ZADD GT` on each new upload | sync |
//! | `leaderboard:updated_time` | STRING, Unix ms | gateway, with every leaderboard write | sync |
//! | `agg:<exercise>` ([`aggregate`]) | HASH `count`, `score_sum` | gateway, `HINCRBY` on each new upload | sync |
//! | `agg:updated_time` | STRING, Unix ms | gateway, with every aggregate write | sync |
//! | [`JOURNAL`] | LIST of JSON entries, `RPUSH`, oldest first | gateway, one per request | backup (to the store, then freed) |
//!
//! The gateway's journal entry is `{"id", "at" (RFC 3339), "command", "method",
//! "route", "status", "user_id"}`; the backup job archives any string safely, and
//! reads `at` and `user_id` for the archive's query index.
//!
//! Keys only the sync-worker touches (its leases, its staging list, its Redis-loss
//! marker) are the sync-worker's own (`sync_worker::contract`), and keys only the
//! gateway touches (rate limits, the progress cache, `online`) are the gateway's.
//!
//! A family's `updated_time` shares its family's namespace (`c:updated_time`
//! matches `c:*`), so scans skip it by name: the gateway refuses
//! [`UPDATED_TIME`] as an exercise name for that reason.

use crate::RedisKeys;

/// The set of every user id seen (seed 000's `users`).
pub const USERS: &str = "users";

/// The request journal, appended by the gateway and moved out by the backup job.
pub const JOURNAL: &str = "journal";

/// The member name each family reserves for its timestamp key.
pub const UPDATED_TIME: &str = "updated_time";

/// A family of keys the sync job snapshots and restores as one unit, with one
/// `updated_time` (seed 000's restore rule is decided per family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// [`USERS`], one key.
    Users,
    /// `c:<command>`, one counter per command.
    Counters,
    /// `leaderboard:<exercise>`, one ZSET per exercise.
    Leaderboards,
    /// `agg:<exercise>`, one HASH per exercise.
    Aggregates,
}

/// The Redis type of a family's keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyKind {
    Set,
    Counter,
    SortedSet,
    Hash,
}

impl Family {
    pub const ALL: [Family; 4] = [
        Family::Users,
        Family::Counters,
        Family::Leaderboards,
        Family::Aggregates,
    ];

    /// The family's name: its key (`users`) or the namespace of its keys (`c`).
    pub fn name(self) -> &'static str {
        match self {
            Family::Users => USERS,
            Family::Counters => "c",
            Family::Leaderboards => "leaderboard",
            Family::Aggregates => "agg",
        }
    }

    pub fn kind(self) -> KeyKind {
        match self {
            Family::Users => KeyKind::Set,
            Family::Counters => KeyKind::Counter,
            Family::Leaderboards => KeyKind::SortedSet,
            Family::Aggregates => KeyKind::Hash,
        }
    }

    pub fn parse(name: &str) -> Option<Family> {
        Self::ALL.into_iter().find(|family| family.name() == name)
    }

    /// The unprefixed name of the family's `updated_time` key, which every write to
    /// the family sets (Unix ms).
    pub fn updated_time_key(self) -> &'static str {
        match self {
            Family::Users => "users:updated_time",
            Family::Counters => "c:updated_time",
            Family::Leaderboards => "leaderboard:updated_time",
            Family::Aggregates => "agg:updated_time",
        }
    }

    /// Whether `key` (unprefixed) is one of the family's data keys.
    pub fn owns(self, key: &str) -> bool {
        match self {
            Family::Users => key == USERS,
            _ => self.member_of(key).is_some(),
        }
    }

    /// The member a data key of a namespaced family names (`c:login` -> `login`);
    /// `None` for any other key, the family's `updated_time` included, and for
    /// [`Family::Users`], which is one key with no members.
    pub fn member_of(self, key: &str) -> Option<&str> {
        if self == Family::Users {
            return None;
        }
        key.strip_prefix(self.name())
            .and_then(|rest| rest.strip_prefix(':'))
            .filter(|member| !member.is_empty() && *member != UPDATED_TIME)
    }

    /// The `SCAN MATCH` pattern for the family's data keys under `keys`' prefix, or
    /// `None` for a family of one fixed key.
    pub fn scan_pattern(self, keys: &RedisKeys) -> Option<String> {
        match self {
            Family::Users => None,
            _ => Some(keys.scan_pattern(&format!("{}:", self.name()))),
        }
    }

    /// The unprefixed data key of `member` in a namespaced family (`c:<member>`).
    fn member_key(self, member: &str) -> String {
        format!("{}:{member}", self.name())
    }
}

/// The unprefixed key counting requests of `command` (`c:<command>`).
pub fn counter(command: &str) -> String {
    Family::Counters.member_key(command)
}

/// The unprefixed key of `exercise`'s leaderboard (`leaderboard:<exercise>`).
pub fn leaderboard(exercise: &str) -> String {
    Family::Leaderboards.member_key(exercise)
}

/// The unprefixed key of `exercise`'s aggregate (`agg:<exercise>`).
pub fn aggregate(exercise: &str) -> String {
    Family::Aggregates.member_key(exercise)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_family_owns_its_keys_but_not_its_updated_time() {
        assert!(Family::Counters.owns("c:login"));
        assert!(!Family::Counters.owns("c:updated_time"));
        assert!(!Family::Counters.owns("c:"));
        assert!(!Family::Counters.owns("cx:login"));
        assert!(Family::Users.owns("users"));
        assert!(!Family::Users.owns("users:updated_time"));
        assert!(Family::Leaderboards.owns("leaderboard:piano"));
    }

    #[test]
    fn the_keys_a_writer_builds_are_the_keys_the_family_owns() {
        assert_eq!(counter("login"), "c:login");
        assert_eq!(leaderboard("piano"), "leaderboard:piano");
        assert_eq!(aggregate("piano"), "agg:piano");
        assert_eq!(Family::Counters.member_of(&counter("login")), Some("login"));
        assert!(Family::Leaderboards.owns(&leaderboard("piano")));
        assert!(Family::Aggregates.owns(&aggregate("piano")));
        assert_eq!(Family::Users.member_of(USERS), None);
    }

    #[test]
    fn each_updated_time_sits_in_its_family_namespace_and_is_not_a_data_key() {
        for family in Family::ALL {
            let key = family.updated_time_key();
            assert_eq!(key, format!("{}:{UPDATED_TIME}", family.name()));
            assert!(!family.owns(key), "{key}");
            assert_eq!(Family::parse(family.name()), Some(family));
        }
    }

    #[test]
    fn a_scan_pattern_matches_the_prefix_literally() {
        let keys = RedisKeys::new("t[1]*:");
        assert_eq!(
            Family::Aggregates.scan_pattern(&keys).as_deref(),
            Some("t\\[1\\]\\*:agg:*")
        );
        assert_eq!(Family::Users.scan_pattern(&keys), None);
    }
}
