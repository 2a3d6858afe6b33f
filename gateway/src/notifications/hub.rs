//! [`Hub`]: this instance's open WebSockets, by patient.
//!
//! The listener hands it every `feed.appended` heard on the instance's queue; the
//! hub passes it to the patient's sockets here, if any. Each socket has a small
//! bounded channel: a socket that falls that far behind is unsubscribed (its channel
//! closes), and the socket re-subscribes and catches up from the change feed, so a
//! slow phone costs its own reads, never the hub's memory.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use shared_events::events::FeedAppendedV1;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Signals a socket can lag behind before it is unsubscribed.
const SOCKET_BUFFER: usize = 64;

/// What the hub tells a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signal {
    /// A new entry in the patient's feed.
    Appended(FeedAppendedV1),
    /// Notifications may have been missed (the listener lost the broker): read the
    /// feed from the last position sent.
    CatchUp,
}

#[derive(Debug, Default)]
struct Sockets {
    by_user: HashMap<String, Vec<(u64, mpsc::Sender<Signal>)>>,
}

/// Cheap to clone; every clone is the same hub.
#[derive(Debug, Clone, Default)]
pub struct Hub {
    sockets: Arc<Mutex<Sockets>>,
    next_id: Arc<AtomicU64>,
    /// Cancelled when the gateway stops: sockets close with "going away".
    closing: CancellationToken,
}

/// A socket's registration; dropping it unsubscribes.
#[derive(Debug)]
pub struct Subscription {
    hub: Hub,
    user_id: String,
    id: u64,
    pub signals: mpsc::Receiver<Signal>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.remove(&self.user_id, self.id);
    }
}

impl Hub {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn subscribe(&self, user_id: &str) -> Subscription {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (sender, signals) = mpsc::channel(SOCKET_BUFFER);
        self.lock()
            .by_user
            .entry(user_id.to_owned())
            .or_default()
            .push((id, sender));
        Subscription {
            hub: self.clone(),
            user_id: user_id.to_owned(),
            id,
            signals,
        }
    }

    /// Passes `appended` to the patient's sockets on this instance.
    pub fn dispatch(&self, appended: &FeedAppendedV1) {
        let user_id = appended.user_id.to_string();
        let mut sockets = self.lock();
        let Some(subscribers) = sockets.by_user.get_mut(&user_id) else {
            return;
        };
        // A full or closed channel drops the sender: the socket sees its channel
        // end and catches up from the feed.
        subscribers
            .retain(|(_, sender)| sender.try_send(Signal::Appended(appended.clone())).is_ok());
        if subscribers.is_empty() {
            sockets.by_user.remove(&user_id);
        }
    }

    /// Tells every socket to catch up from the feed.
    pub fn catch_up_all(&self) {
        let mut sockets = self.lock();
        for subscribers in sockets.by_user.values_mut() {
            subscribers.retain(|(_, sender)| match sender.try_send(Signal::CatchUp) {
                // A full channel already has work queued; the socket reads the feed
                // after draining it anyway.
                Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => true,
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        }
        sockets
            .by_user
            .retain(|_, subscribers| !subscribers.is_empty());
    }

    /// Open sockets on this instance.
    pub fn socket_count(&self) -> usize {
        self.lock().by_user.values().map(Vec::len).sum()
    }

    /// Resolves when the gateway is stopping.
    pub async fn closing(&self) {
        self.closing.cancelled().await;
    }

    /// Asks every socket to close.
    pub fn close_all(&self) {
        self.closing.cancel();
    }

    fn remove(&self, user_id: &str, id: u64) {
        let mut sockets = self.lock();
        if let Some(subscribers) = sockets.by_user.get_mut(user_id) {
            subscribers.retain(|(other, _)| *other != id);
            if subscribers.is_empty() {
                sockets.by_user.remove(user_id);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Sockets> {
        // The map stays consistent even if a holder panicked: every change is one
        // call on it.
        self.sockets.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use uuid::Uuid;

    use super::*;

    fn appended(user_id: Uuid, seq: u64) -> FeedAppendedV1 {
        FeedAppendedV1 {
            user_id,
            seq,
            game_id: Uuid::now_v7(),
            exercise: "piano".into(),
            change: "game.processed".into(),
        }
    }

    #[test]
    fn a_notification_reaches_only_its_patients_sockets() {
        let hub = Hub::new();
        let (alice, bob) = (Uuid::new_v4(), Uuid::new_v4());
        let mut phone = hub.subscribe(&alice.to_string());
        let mut tablet = hub.subscribe(&alice.to_string());
        let mut other = hub.subscribe(&bob.to_string());
        hub.dispatch(&appended(alice, 1));
        for socket in [&mut phone, &mut tablet] {
            assert!(matches!(socket.signals.try_recv(), Ok(Signal::Appended(a)) if a.seq == 1));
        }
        assert!(other.signals.try_recv().is_err());
    }

    #[test]
    fn a_lagging_socket_is_unsubscribed_and_a_dropped_one_forgotten() {
        let hub = Hub::new();
        let alice = Uuid::new_v4();
        let mut slow = hub.subscribe(&alice.to_string());
        for seq in 0..=SOCKET_BUFFER as u64 {
            hub.dispatch(&appended(alice, seq));
        }
        assert_eq!(hub.socket_count(), 0, "the full socket was dropped");
        let mut received = 0;
        while let Ok(Signal::Appended(_)) = slow.signals.try_recv() {
            received += 1;
        }
        assert_eq!(received, SOCKET_BUFFER);
        assert!(matches!(
            slow.signals.try_recv(),
            Err(mpsc::error::TryRecvError::Disconnected)
        ));

        let gone = hub.subscribe(&alice.to_string());
        assert_eq!(hub.socket_count(), 1);
        drop(gone);
        assert_eq!(hub.socket_count(), 0);
    }

    #[test]
    fn catch_up_reaches_every_socket() {
        let hub = Hub::new();
        let mut a = hub.subscribe("a");
        let mut b = hub.subscribe("b");
        hub.catch_up_all();
        assert_eq!(a.signals.try_recv(), Ok(Signal::CatchUp));
        assert_eq!(b.signals.try_recv(), Ok(Signal::CatchUp));
    }
}
