//! The Redis key contract between the gateway (which writes) and the jobs (which move).
//!
//! Every name is prefixed with `M2M_REDIS_PREFIX` through [`shared_store::RedisKeys`].
//!
//! | key | type | written by | moved by |
//! |---|---|---|---|
//! | `users` | SET of user ids | gateway, `SADD` per request tied to a user | sync (snapshot, restore) |
//! | `users:updated_time` | STRING, Unix ms | gateway, with every `SADD users` | sync |
//! | `c:<command>` | STRING counter | gateway, `INCR` per request | sync |
//! | `c:updated_time` | STRING, Unix ms | gateway, with every counter increment (one for all counters, as in seed 000) | sync |
//! | `leaderboard:<exercise>` | ZSET user id -> best score | gateway, `ZADD GT` on each new upload | sync |
//! | `leaderboard:updated_time` | STRING, Unix ms | with every leaderboard write | sync |
//! | `agg:<exercise>` | HASH `count`, `score_sum` | gateway, `HINCRBY` on each new upload | sync |
//! | `agg:updated_time` | STRING, Unix ms | with every aggregate write | sync |
//! | `journal` | LIST of JSON entries, `RPUSH`, oldest first | gateway, one per request | backup (to the store, then freed) |
//! | `journal:staging` | LIST | backup only: the batch being archived | backup |
//! | `journal:staging:batch` | STRING | backup only: the id of the staged batch | backup |
//! | `lease:<job>` | STRING token, with expiry | sync-worker: the run holding the job | - |
//! | `sync:epoch` | STRING, a random id | sync-worker, when it restores (at start, or when the marker vanished) | - |
//!
//! The gateway's journal entry is `{"id", "at" (RFC 3339), "command", "method", "route",
//! "status", "user_id"}`; the backup job needs none of it to be safe (any string is
//! archived), and uses `at` and `user_id` for the archive's query index.
//!
//! A family's `updated_time` shares its family's namespace (`c:updated_time` matches
//! `c:*`), so scans skip it by name: a command or exercise called `updated_time` would
//! be mistaken for it.

use shared_store::RedisKeys;

/// A family of keys the sync job snapshots and restores as one unit, with one
/// `updated_time` (seed 000's restore rule is decided per family).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Users,
    Counters,
    Leaderboards,
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
            Family::Users => "users",
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

    /// The unprefixed name of the family's `updated_time` key.
    pub fn updated_time_key(self) -> String {
        format!("{}:updated_time", self.name())
    }

    /// Whether `key` (unprefixed) is one of the family's data keys.
    pub fn owns(self, key: &str) -> bool {
        match self {
            Family::Users => key == "users",
            _ => key
                .strip_prefix(self.name())
                .and_then(|rest| rest.strip_prefix(':'))
                .is_some_and(|rest| !rest.is_empty() && rest != "updated_time"),
        }
    }

    /// The `SCAN MATCH` pattern for the family's data keys under `keys`' prefix, or
    /// `None` for a family of one fixed key.
    pub fn scan_pattern(self, keys: &RedisKeys) -> Option<String> {
        match self {
            Family::Users => None,
            _ => Some(keys.scan_pattern(&format!("{}:", self.name()))),
        }
    }
}

/// The marker that Redis still holds the data the snapshots were read from: it
/// vanishes with the data (a restart without persistence, a flush), which is how a
/// loss is told from a Redis that is simply newer (see `jobs::sync::epoch`). Nothing
/// but the sync job may write or delete it.
pub const EPOCH: &str = "sync:epoch";

/// Unprefixed names of the backup job's keys.
pub const JOURNAL: &str = "journal";
pub const JOURNAL_STAGING: &str = "journal:staging";
pub const JOURNAL_STAGING_BATCH: &str = "journal:staging:batch";

/// The unprefixed name of a job's lease.
pub fn lease_key(job: shared_events::events::Job) -> String {
    format!("lease:{}", job.as_str())
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
    fn a_scan_pattern_matches_the_prefix_literally() {
        let keys = RedisKeys::new("t[1]*:");
        assert_eq!(
            Family::Aggregates.scan_pattern(&keys).as_deref(),
            Some("t\\[1\\]\\*:agg:*")
        );
        assert_eq!(Family::Users.scan_pattern(&keys), None);
    }
}
