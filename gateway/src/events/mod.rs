//! What the gateway does with events from the bus, one file per event handled.
//! The notification queue's listener is not a handler (it takes no work from a
//! shared queue); it lives with the sockets in [`crate::notifications`].

pub mod reconciliation;

pub use reconciliation::ApplyReconciliation;
