//! How a job run fails, and what the consumer runner does about it.
//!
//! Library code returns [`JobError`]; the edges (`main`, `startup`) wrap errors in
//! anyhow with context. Every variant but [`JobError::Malformed`] is transient: the
//! stores come back, leases expire, so the timer message is retried after the bus's
//! retry delay (and dead-lettered with the reason once the retry budget is spent).

use shared_events::HandlerError;

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error("a Redis command failed")]
    Redis(#[from] redis::RedisError),
    #[error("a MongoDB operation failed")]
    Mongo(#[from] mongodb::error::Error),
    /// Another run holds the job's lease (a replica running this or another window).
    #[error("another run holds the job's lease")]
    LeaseBusy,
    /// The lease expired or was taken over mid-run: this run stops before any
    /// destructive step, the holder of the lease carries on.
    #[error("the job's lease was lost during the run")]
    LeaseLost,
    /// Other workers kept changing the Redis marker during a restore; the next check
    /// tries again.
    #[error("the Redis sync marker kept changing during the restore")]
    MarkerContended,
    /// The run's `job.completed` was not confirmed; the retried timer message
    /// publishes it again (`crate::announce`).
    #[error("the job.completed event was not published")]
    Announce(#[from] shared_events::PublishError),
    /// Stored data that this build cannot read; retrying will not help.
    #[error("malformed stored data: {0}")]
    Malformed(String),
}

impl From<JobError> for HandlerError {
    fn from(error: JobError) -> Self {
        match error {
            JobError::Malformed(_) => HandlerError::permanent(error),
            _ => HandlerError::transient(error),
        }
    }
}
