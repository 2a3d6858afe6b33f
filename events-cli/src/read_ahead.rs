//! Reading the history stream in a task of its own, ahead of whoever uses it.
//!
//! A replay alternates between waiting for the next record and waiting for the
//! broker to take a publish; with the reader in its own task both waits overlap,
//! and the reader keeps a small buffer full. It stops by itself after the last
//! offset wanted, so it never holds credit for records nobody will use.

use shared_events::{StreamReader, StreamRecord};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

/// Records read ahead: enough to cover a pause for a burst of confirms.
const BUFFER: usize = 1_024;

/// A stream being read ahead up to a last offset.
#[derive(Debug)]
pub struct ReadAhead {
    records: mpsc::Receiver<anyhow::Result<StreamRecord>>,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl ReadAhead {
    /// Reads `reader` until it has delivered the record at offset `stop` (or any
    /// later one), an error, or [`ReadAhead::close`].
    pub fn spawn(mut reader: StreamReader, stop: u64) -> Self {
        let (sender, records) = mpsc::channel(BUFFER);
        let cancel = CancellationToken::new();
        let token = cancel.clone();
        let task = tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    () = token.cancelled() => break,
                    next = reader.next() => next,
                };
                let record = match next {
                    Ok(Some(record)) => record,
                    // The receiver sees the channel close: the stream ended.
                    Ok(None) => break,
                    Err(error) => {
                        let _ = sender.send(Err(error.into())).await;
                        break;
                    }
                };
                let last = record.offset >= stop;
                if sender.send(Ok(record)).await.is_err() || last {
                    break;
                }
            }
            reader.close().await;
        });
        Self {
            records,
            cancel,
            task,
        }
    }

    /// The next record; `None` once the reader stopped without an error.
    pub async fn recv(&mut self) -> Option<anyhow::Result<StreamRecord>> {
        self.records.recv().await
    }

    /// Stops reading and closes the reader's connection.
    pub async fn close(self) {
        self.cancel.cancel();
        // A reader blocked on a full buffer sees it closed and stops.
        drop(self.records);
        let _ = self.task.await;
    }
}
