//! A small pool of dedicated, lower-priority OS threads for password hashing.
//!
//! Why not tokio's shared blocking pool: argon2 keeps a core busy for tens of
//! milliseconds per hash, and on a small machine those threads then compete on equal
//! terms with the runtime's workers, the database and Redis, which stretches the tail
//! latency of every other request while logins saturate the pool. These threads lower
//! their own scheduling priority (nice ~10 on Linux), so request handling wins any
//! contended core and hashing uses what is left. Priority cannot be lowered and restored
//! on the shared pool's threads (raising it back needs privileges), hence threads of
//! our own. The pool has exactly as many threads as the hasher has permits, so the job
//! queue never holds more than those permits allow.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, Sender};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use thread_priority::{ThreadPriority, ThreadPriorityValue};

type Job = Box<dyn FnOnce() + Send>;

/// Crossplatform priority 25 of 0..=99 maps to nice 10 on Linux.
const LOW_PRIORITY: u8 = 25;

/// Runs closures on its threads. Dropping it lets the threads finish and exit.
#[derive(Debug)]
pub struct HashPool {
    jobs: Mutex<Sender<Job>>,
}

impl HashPool {
    /// Starts `threads` threads, at lowered priority when `low_priority`.
    pub fn start(threads: usize, low_priority: bool) -> anyhow::Result<Self> {
        let (sender, receiver) = std::sync::mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..threads {
            let receiver = Arc::clone(&receiver);
            std::thread::Builder::new()
                .name(format!("argon2-{index}"))
                .spawn(move || work(&receiver, low_priority))
                .context("Failed to start a password hashing thread")?;
        }
        Ok(Self {
            jobs: Mutex::new(sender),
        })
    }

    /// Runs `job` on a pool thread and waits for its result without blocking the
    /// runtime. A panicking job is reported as an error and does not kill its thread.
    pub async fn run<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> T + Send + 'static,
    ) -> anyhow::Result<T> {
        let (reply, result) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let outcome = std::panic::catch_unwind(AssertUnwindSafe(job));
            let _ = reply.send(outcome);
        });
        self.jobs
            .lock()
            .map_err(|_| anyhow::anyhow!("the hashing job queue is poisoned"))?
            .send(job)
            .map_err(|_| anyhow::anyhow!("the hashing threads have stopped"))?;
        match result.await.context("A hashing thread dropped its job")? {
            Ok(value) => Ok(value),
            Err(_panic) => anyhow::bail!("a password hashing job panicked"),
        }
    }
}

fn work(receiver: &Mutex<Receiver<Job>>, low_priority: bool) {
    if low_priority {
        let lowered = ThreadPriorityValue::try_from(LOW_PRIORITY)
            .map_err(|e| e.to_string())
            .and_then(|value| {
                thread_priority::set_current_thread_priority(ThreadPriority::Crossplatform(value))
                    .map_err(|e| e.to_string())
            });
        if let Err(error) = lowered {
            tracing::warn!(error, "Failed to lower a hashing thread's priority");
        }
    }
    loop {
        // The lock is held only while waiting for a job, never while running one.
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return, // The pool was dropped.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn jobs_run_and_a_panic_is_an_error_not_a_lost_thread() {
        let pool = HashPool::start(1, true).expect("pool");
        assert_eq!(pool.run(|| 2 + 2).await.expect("ran"), 4);
        assert!(pool.run(|| panic!("boom")).await.is_err());
        // The single thread survived the panic.
        assert_eq!(pool.run(|| "still here").await.expect("ran"), "still here");
    }
}
