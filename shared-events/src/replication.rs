//! Declaring queues on a cluster: replication arguments that only count at
//! creation, and classic queues whose node may be down.
//!
//! Two facts of RabbitMQ (checked on 3.10 with `scripts/cluster`) shape this:
//!
//! - `x-quorum-initial-group-size` (quorum queues) and `x-initial-cluster-size`
//!   (streams) take part in the equivalence check of `queue.declare`: redeclaring
//!   with another value, or with the argument where the queue has none (or the
//!   reverse), is a 406 that closes the channel. Yet they only matter when the queue
//!   is created; afterwards its members change with `rabbitmq-queues grow`/`shrink`.
//!   So a process that meets a queue created with another factor (set differently,
//!   a list of another length, a stack made before lists existed) declares it again
//!   with the broker's value, read from the 406's message, and keeps the check of
//!   every other argument.
//! - A durable classic queue lives on one node. While that node is down, declaring
//!   it (even passively) or binding it is a 404 ("home node ... is down or
//!   inaccessible"). Our classic queues are the retry queues and the dead-letter
//!   queue; their absence must not stop a process from consuming and publishing
//!   through the replicated queues on the surviving nodes, so it is logged and
//!   skipped (publishing to such a queue is then refused as unroutable, and the
//!   consumer runner hands the message back instead, `docs/OPERATIONS.md`).

use lapin::options::QueueDeclareOptions;
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, Connection};

/// The arguments that only count when a queue is created.
pub const REPLICATION_ARGUMENTS: [&str; 2] =
    ["x-quorum-initial-group-size", "x-initial-cluster-size"];

/// Declares a durable queue with `args` on `channel`.
pub(crate) async fn declare_durable(
    channel: &Channel,
    name: &str,
    args: FieldTable,
) -> lapin::Result<()> {
    let options = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel.queue_declare(name.into(), options, args).await?;
    Ok(())
}

/// Declares a replicated queue (quorum or stream); when it exists with another
/// replication argument, declares it again with the existing value. `channel` is
/// replaced by a fresh one after each refusal, since a 406 closes it.
pub(crate) async fn declare_replicated(
    connection: &Connection,
    channel: &mut Channel,
    name: &str,
    mut args: FieldTable,
) -> lapin::Result<()> {
    // Once per argument at most: a second refusal for the same argument would mean
    // the message was misread, and then the error stands.
    let mut adjusted = Vec::new();
    loop {
        let error = match declare_durable(channel, name, args.clone()).await {
            Ok(()) => return Ok(()),
            Err(error) => error,
        };
        let Some((key, existing)) = replication_mismatch(&error.to_string()) else {
            return Err(error);
        };
        if adjusted.contains(&key) {
            return Err(error);
        }
        adjusted.push(key);
        tracing::info!(queue = name, argument = key, existing = ?existing,
            "The queue exists with another replication factor; it keeps its own.");
        *channel = connection.create_channel().await?;
        args = with_value(&args, key, existing);
    }
}

/// Declares a classic durable queue; `Ok(false)` when its node is down (logged),
/// so that the caller skips its bindings and carries on.
pub(crate) async fn declare_classic(
    connection: &Connection,
    channel: &mut Channel,
    name: &str,
    args: FieldTable,
) -> lapin::Result<bool> {
    match declare_durable(channel, name, args).await {
        Ok(()) => Ok(true),
        Err(error) if is_home_node_down(&error.to_string()) => {
            tracing::warn!(queue = name, %error,
                "A classic queue's node is down; carrying on without it until it returns.");
            *channel = connection.create_channel().await?;
            Ok(false)
        }
        Err(error) => Err(error),
    }
}

/// The 404 RabbitMQ answers for a durable classic queue whose node is down.
pub fn is_home_node_down(message: &str) -> bool {
    message.contains("NOT_FOUND") && message.contains("home node")
}

/// Reads a 406 such as `PRECONDITION_FAILED - inequivalent arg
/// 'x-quorum-initial-group-size' for queue 'q' in vhost '/': received '3' but
/// current is '1'`: the replication argument in question and the queue's own value
/// (`None`: the queue has no such argument).
pub fn replication_mismatch(message: &str) -> Option<(&'static str, Option<i64>)> {
    if !message.contains("PRECONDITION_FAILED") {
        return None;
    }
    let key = REPLICATION_ARGUMENTS
        .into_iter()
        .find(|key| message.contains(&format!("inequivalent arg '{key}'")))?;
    let (_, current) = message.split_once("but current is ")?;
    if current.starts_with("none") {
        return Some((key, None));
    }
    // `'1'` or `the value '1' of type 'long'`: the first quoted token.
    let (_, quoted) = current.split_once('\'')?;
    let (value, _) = quoted.split_once('\'')?;
    Some((key, Some(value.parse().ok()?)))
}

/// `args` with `key` set to `value`, or removed when `value` is `None`.
fn with_value(args: &FieldTable, key: &str, value: Option<i64>) -> FieldTable {
    let mut entries = args.inner().clone();
    let key = ShortString::from(key);
    match value {
        Some(value) => {
            entries.insert(key, AMQPValue::LongLongInt(value));
        }
        None => {
            entries.remove(&key);
        }
    }
    FieldTable::from(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The messages below are RabbitMQ 3.10's, as seen on a `scripts/cluster` cluster.

    #[test]
    fn a_different_factor_reads_as_the_queues_own_value() {
        let message = "protocol error: PRECONDITION_FAILED - inequivalent arg \
            'x-quorum-initial-group-size' for queue 't.q1' in vhost '/': received '3' but \
            current is '1'";
        assert_eq!(
            replication_mismatch(message),
            Some(("x-quorum-initial-group-size", Some(1)))
        );
    }

    #[test]
    fn a_factor_where_the_queue_has_none_reads_as_none() {
        let message = "PRECONDITION_FAILED - inequivalent arg 'x-initial-cluster-size' for \
            queue 't.s0' in vhost '/': received the value '3' of type 'long' but current is none";
        assert_eq!(
            replication_mismatch(message),
            Some(("x-initial-cluster-size", None))
        );
    }

    #[test]
    fn no_factor_where_the_queue_has_one_reads_as_its_value() {
        let message = "PRECONDITION_FAILED - inequivalent arg 'x-initial-cluster-size' for \
            queue 't.s1' in vhost '/': received none but current is the value '1' of type 'long'";
        assert_eq!(
            replication_mismatch(message),
            Some(("x-initial-cluster-size", Some(1)))
        );
    }

    #[test]
    fn other_mismatches_are_not_replication_mismatches() {
        let message = "PRECONDITION_FAILED - inequivalent arg 'x-queue-type' for queue 'q' in \
            vhost '/': received 'quorum' but current is 'classic'";
        assert_eq!(replication_mismatch(message), None);
        assert_eq!(replication_mismatch("NOT_FOUND - no queue 'q'"), None);
    }

    #[test]
    fn a_classic_queue_on_a_down_node_is_recognised() {
        assert!(is_home_node_down(
            "protocol error: NOT_FOUND - home node 'm2m-c3@localhost' of durable queue \
             'x.retry' in vhost '/' is down or inaccessible"
        ));
        assert!(!is_home_node_down("NOT_FOUND - no queue 'x' in vhost '/'"));
    }

    #[test]
    fn setting_a_value_replaces_or_removes_the_argument() {
        let mut args = FieldTable::default();
        args.insert(
            "x-queue-type".into(),
            AMQPValue::LongString("quorum".into()),
        );
        args.insert(
            "x-quorum-initial-group-size".into(),
            AMQPValue::LongLongInt(3),
        );
        let one = with_value(&args, "x-quorum-initial-group-size", Some(1));
        assert_eq!(
            one.inner()
                .get(&ShortString::from("x-quorum-initial-group-size")),
            Some(&AMQPValue::LongLongInt(1))
        );
        let none = with_value(&args, "x-quorum-initial-group-size", None);
        assert!(!none.contains_key("x-quorum-initial-group-size"));
        assert!(none.contains_key("x-queue-type"));
    }
}
