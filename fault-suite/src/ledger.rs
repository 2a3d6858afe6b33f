//! What the phones sent, what they were told, and what their sockets heard: the
//! suite's side of the promise, to hold against what the system stored.
//!
//! An *upload* is one game a phone wants stored: one `Idempotency-Key`, however many
//! requests it takes. It belongs to the phase in which its first request was sent.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Instant;

/// One game a phone uploads.
#[derive(Debug, Clone)]
pub struct Upload {
    pub phone: usize,
    pub user_id: String,
    pub key: String,
    pub phase: usize,
    pub sent_at: Instant,
    /// Requests sent for it.
    pub attempts: u32,
    /// Every `game_id` a `202` named for this key (one distinct id, or a duplicate).
    pub answers: Vec<String>,
    pub accepted_at: Option<Instant>,
    /// A `4xx` other than a retryable one: the system refused a valid upload.
    pub refused: Option<String>,
}

impl Upload {
    /// The game the phone was told about, if any.
    pub fn game_id(&self) -> Option<&str> {
        self.answers.first().map(String::as_str)
    }
}

/// One notification a phone's socket received.
#[derive(Debug, Clone)]
pub struct Notice {
    pub game_id: String,
    /// `game.processed` or `game.failed`.
    pub change: String,
}

#[derive(Debug, Default)]
struct Inner {
    uploads: Vec<Upload>,
    notices: HashMap<usize, Vec<Notice>>,
    /// Phones that hold a notification socket.
    sockets: Vec<usize>,
}

/// Shared by every phone task and the suite.
#[derive(Debug, Default)]
pub struct Ledger {
    inner: Mutex<Inner>,
}

impl Ledger {
    /// Records a new upload; returns its handle.
    pub fn begin(&self, phone: usize, user_id: &str, key: &str, phase: usize) -> usize {
        let mut inner = self.lock();
        inner.uploads.push(Upload {
            phone,
            user_id: user_id.to_owned(),
            key: key.to_owned(),
            phase,
            sent_at: Instant::now(),
            attempts: 0,
            answers: Vec::new(),
            accepted_at: None,
            refused: None,
        });
        inner.uploads.len() - 1
    }

    pub fn attempted(&self, upload: usize) {
        if let Some(u) = self.lock().uploads.get_mut(upload) {
            u.attempts += 1;
        }
    }

    pub fn accepted(&self, upload: usize, game_id: &str) {
        if let Some(u) = self.lock().uploads.get_mut(upload) {
            u.answers.push(game_id.to_owned());
            u.accepted_at.get_or_insert_with(Instant::now);
        }
    }

    pub fn refused(&self, upload: usize, why: String) {
        if let Some(u) = self.lock().uploads.get_mut(upload) {
            u.refused = Some(why);
        }
    }

    pub fn holds_socket(&self, phone: usize) {
        self.lock().sockets.push(phone);
    }

    pub fn notified(&self, phone: usize, game_id: &str, change: &str) {
        self.lock().notices.entry(phone).or_default().push(Notice {
            game_id: game_id.to_owned(),
            change: change.to_owned(),
        });
    }

    /// The uploads of `phase`.
    pub fn uploads_of(&self, phase: usize) -> Vec<Upload> {
        let inner = self.lock();
        inner
            .uploads
            .iter()
            .filter(|u| u.phase == phase)
            .cloned()
            .collect()
    }

    /// Every upload so far.
    pub fn all_uploads(&self) -> Vec<Upload> {
        self.lock().uploads.clone()
    }

    /// How many notifications each socket phone received per game.
    pub fn notice_counts(&self) -> NoticeCounts {
        let inner = self.lock();
        let mut counts = NoticeCounts::default();
        for phone in &inner.sockets {
            let mine = counts.by_phone.entry(*phone).or_default();
            for notice in inner.notices.get(phone).into_iter().flatten() {
                *mine
                    .entry((notice.game_id.clone(), notice.change.clone()))
                    .or_insert(0) += 1;
            }
        }
        counts
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Notifications received, by socket phone, then by `(game_id, change)`.
#[derive(Debug, Default, Clone)]
pub struct NoticeCounts {
    pub by_phone: HashMap<usize, HashMap<(String, String), u32>>,
}

impl NoticeCounts {
    /// `None` for a phone without a socket.
    pub fn processed(&self, phone: usize, game_id: &str) -> Option<u32> {
        self.by_phone.get(&phone).map(|games| {
            games
                .get(&(game_id.to_owned(), "game.processed".to_owned()))
                .copied()
                .unwrap_or(0)
        })
    }

    /// Notifications a phone received about a game that is not one of its own, or
    /// that say a game failed: neither may happen in the suite.
    pub fn strays(&self, own: &HashMap<usize, Vec<String>>) -> Vec<String> {
        let mut strays = Vec::new();
        for (phone, games) in &self.by_phone {
            for (game_id, change) in games.keys() {
                let mine = own.get(phone).is_some_and(|g| g.contains(game_id));
                if !mine || change != "game.processed" {
                    strays.push(format!(
                        "phone {phone} was told {change} about game {game_id}"
                    ));
                }
            }
        }
        strays
    }
}
