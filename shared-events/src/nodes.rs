//! The broker's nodes: `M2M_AMQP_URL` as a list, and the order to try them in.
//!
//! A RabbitMQ cluster is several nodes with one set of queues: a client may connect
//! to any of them, and when its node dies, reconnecting to another is the client's
//! job (the broker does not move connections). So every connection of ours tries
//! the nodes of the list in a fresh random order (the processes of a fleet spread
//! over the nodes instead of all piling onto the first), with the nodes that failed
//! lately moved to the end (a reconnect goes to a live node first instead of
//! waiting for a dead one to refuse or time out).
//!
//! The password of a URL never appears in an error or a log line: errors name the
//! URL by its position in the list, and URLs are printed only redacted.

use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::BuildHasher as _;
use std::str::FromStr as _;

use lapin::uri::AMQPUri;

/// One node of the list, parsed and checked.
#[derive(Clone)]
pub struct NodeUrl {
    uri: AMQPUri,
    /// The URL with its password replaced, built from the parsed parts (so nothing
    /// of a password can survive in it whatever the input looked like).
    redacted: String,
}

impl NodeUrl {
    pub fn uri(&self) -> &AMQPUri {
        &self.uri
    }

    /// For logs and errors: `amqp://user:***@host:port/vhost`.
    pub fn redacted(&self) -> &str {
        &self.redacted
    }
}

impl fmt::Debug for NodeUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted)
    }
}

/// A list that cannot be used, naming the faulty URL by its position.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("URL {position} of {count}: {reason}")]
pub struct UrlListError {
    /// 1-based, as an operator counts.
    pub position: usize,
    pub count: usize,
    /// Never contains any part of the URL itself.
    pub reason: String,
}

/// Parses a comma-separated list of node URLs (blanks around commas are ignored).
///
/// Every URL must be `amqp://` or `amqps://` with a host, and all must share one
/// vhost and one set of credentials: they are the same broker reached by different
/// doors, and a process must not end up on a different stack after a failover. A
/// comma inside a password must be written `%2C`.
pub fn parse_node_urls(list: &str) -> Result<Vec<NodeUrl>, UrlListError> {
    let parts: Vec<&str> = list.split(',').map(str::trim).collect();
    let count = parts.len();
    let error = |position: usize, reason: &str| UrlListError {
        position,
        count,
        reason: reason.to_owned(),
    };
    let mut nodes: Vec<NodeUrl> = Vec::with_capacity(count);
    for (index, part) in parts.iter().enumerate() {
        let position = index + 1;
        let node = parse_one(part).map_err(|reason| error(position, &reason))?;
        if let Some(first) = nodes.first() {
            let (a, b) = (&first.uri, &node.uri);
            if a.vhost != b.vhost {
                return Err(error(position, "its vhost differs from URL 1's"));
            }
            if a.authority.userinfo.username != b.authority.userinfo.username
                || a.authority.userinfo.password != b.authority.userinfo.password
            {
                return Err(error(position, "its credentials differ from URL 1's"));
            }
        }
        if let Some(earlier) = nodes.iter().position(|n| same_door(&n.uri, &node.uri)) {
            return Err(error(
                position,
                &format!("the same host and port as URL {}", earlier + 1),
            ));
        }
        nodes.push(node);
    }
    Ok(nodes)
}

fn same_door(a: &AMQPUri, b: &AMQPUri) -> bool {
    a.authority.host.eq_ignore_ascii_case(&b.authority.host) && a.authority.port == b.authority.port
}

/// One URL, or a reason that quotes none of it.
fn parse_one(url: &str) -> Result<NodeUrl, String> {
    if url.is_empty() {
        return Err("is empty (a stray comma?)".into());
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("must start with amqp:// or amqps://".into());
    };
    if scheme != "amqp" && scheme != "amqps" {
        return Err("must start with amqp:// or amqps://".into());
    }
    if rest.is_empty() {
        return Err("has no host".into());
    }
    let uri = AMQPUri::from_str(url).map_err(|reason| scrub(&reason, url))?;
    if uri.authority.host.is_empty() {
        return Err("has no host".into());
    }
    let redacted = format!(
        "{}://{}:***@{}:{}/{}",
        scheme,
        uri.authority.userinfo.username,
        uri.authority.host,
        uri.authority.port,
        vhost_for_display(&uri.vhost),
    );
    Ok(NodeUrl { uri, redacted })
}

/// The parser's reason, with the URL and anything that could be its password cut
/// out: some of its messages quote the input.
fn scrub(reason: &str, url: &str) -> String {
    if reason.contains(url)
        || url
            .split([':', '@', '/'])
            .any(|piece| !piece.is_empty() && piece.len() > 2 && reason.contains(piece))
    {
        "is not a valid AMQP URL".into()
    } else {
        format!("is not a valid AMQP URL ({reason})")
    }
}

/// `/` as `%2f`, the way the URLs are usually written.
fn vhost_for_display(vhost: &str) -> String {
    vhost.replace('%', "%25").replace('/', "%2f")
}

/// A list (or one URL) with every password replaced, for logs and errors. A URL
/// that does not parse is shown as `<malformed URL>`, since where its password
/// starts and ends is then unknown.
pub fn redact_list(list: &str) -> String {
    list.split(',')
        .map(|part| match parse_one(part.trim()) {
            Ok(node) => node.redacted,
            Err(_) => "<malformed URL>".into(),
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// The order in which to try `count` nodes: a shuffle drawn from `seed`, then
/// the nodes marked in `failed_lately` moved to the end (in their shuffled order,
/// so they are still tried when no other node answers).
pub fn connection_order(count: usize, seed: u64, failed_lately: &[bool]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..count).collect();
    // Fisher-Yates with xorshift64*: enough to spread connections, no dependency.
    let mut state = seed | 1;
    for i in (1..count).rev() {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let random = state.wrapping_mul(0x2545_F491_4F6C_DD1D);
        let j = (random % (i as u64 + 1)) as usize;
        order.swap(i, j);
    }
    // A stable sort keeps the shuffle within each group.
    order.sort_by_key(|&node| failed_lately.get(node).copied().unwrap_or(false));
    order
}

/// A seed that differs between processes and between calls: the standard
/// library's per-instance random hasher keys, hashing a counter.
pub fn fresh_seed() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static CALLS: AtomicU64 = AtomicU64::new(0);
    RandomState::new().hash_one(CALLS.fetch_add(1, Ordering::Relaxed))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "Zq8xWKp4";

    #[test]
    fn one_url_is_a_list_of_one() {
        let nodes = parse_node_urls("amqp://app:Zq8xWKp4@broker:5672/%2f").expect("valid");
        assert_eq!(nodes.len(), 1);
        assert_eq!(nodes[0].uri().authority.host, "broker");
        assert_eq!(nodes[0].uri().vhost, "/");
        assert_eq!(nodes[0].redacted(), "amqp://app:***@broker:5672/%2f");
    }

    #[test]
    fn a_list_is_split_on_commas_with_blanks_ignored() {
        let nodes = parse_node_urls(
            "amqp://app:pw@a:5672/staging, amqp://app:pw@b:5673/staging ,amqps://app:pw@c/staging",
        )
        .expect("valid");
        let doors: Vec<(String, u16)> = nodes
            .iter()
            .map(|n| (n.uri().authority.host.clone(), n.uri().authority.port))
            .collect();
        assert_eq!(
            doors,
            [("a".into(), 5672), ("b".into(), 5673), ("c".into(), 5671)]
        );
    }

    #[test]
    fn a_malformed_url_is_refused_with_its_position_and_reason() {
        let cases = [
            (
                "amqp://u:p@a/v,http://u:p@b/v",
                2,
                "must start with amqp://",
            ),
            ("amqp://u:p@a/v,,amqp://u:p@b/v", 2, "is empty"),
            ("amqp://u:p@a/v,", 2, "is empty"),
            ("amqp://u:p@a:99999/v", 1, "not a valid AMQP URL"),
            ("amqp://u:p@a/v,amqp://u:p@b/w", 2, "vhost differs"),
            ("amqp://u:p@a/v,amqp://x:p@b/v", 2, "credentials differ"),
            ("amqp://u:p@a/v,amqp://u:q@b/v", 2, "credentials differ"),
            (
                "amqp://u:p@a/v,amqp://u:p@b/v,amqp://u:p@A/v",
                3,
                "same host and port as URL 1",
            ),
            ("amqp://", 1, "has no host"),
            ("broker:5672", 1, "must start with amqp://"),
        ];
        for (list, position, reason) in cases {
            let error = parse_node_urls(list).expect_err(list);
            assert_eq!(error.position, position, "{list}: {error}");
            assert!(error.to_string().contains(reason), "{list}: {error}");
        }
    }

    #[test]
    fn no_error_or_redacted_list_shows_any_part_of_a_password() {
        // Each input breaks differently around the password, including a comma
        // inside it that splits it across two "URLs".
        let inputs = [
            format!("amqp://app:{PASSWORD}@"),
            format!("amqp://app:{PASSWORD}@a:99999/v"),
            "amqp://app:Zq8xW,Kp4@a/v".to_owned(),
            format!("app:{PASSWORD}@a/v"),
            format!("amqp://app:{PASSWORD}@a/v,amqp://app:other@b/v"),
            format!("amqp://app:{PASSWORD}@a/v,amqp://app:{PASSWORD}@b/w"),
            format!("amqp://app:{PASSWORD}@a/v?heartbeat=x"),
            format!("amqp://app:{PASSWORD}@a/v?auth_mechanism={PASSWORD}"),
            format!("amqp://app:{PASSWORD}@[::1/v"),
        ];
        for input in inputs {
            let printed = match parse_node_urls(&input) {
                Ok(nodes) => format!("{nodes:?}"),
                Err(error) => format!("{error} {error:?}"),
            };
            let redacted = redact_list(&input);
            for shown in [&printed, &redacted] {
                for piece in [PASSWORD, "Zq8xW", "Kp4"] {
                    assert!(!shown.contains(piece), "{input} printed as {shown}");
                }
            }
        }
    }

    #[test]
    fn a_redacted_list_keeps_every_url_but_its_password() {
        assert_eq!(
            redact_list("amqp://app:pw@a:1/%2f,amqp://app:pw@b:2/%2f"),
            "amqp://app:***@a:1/%2f,amqp://app:***@b:2/%2f"
        );
        assert_eq!(redact_list("nonsense"), "<malformed URL>");
    }

    #[test]
    fn every_order_tries_each_node_exactly_once() {
        for seed in 0..200 {
            let mut order = connection_order(5, seed, &[]);
            order.sort_unstable();
            assert_eq!(order, [0, 1, 2, 3, 4]);
        }
        assert_eq!(connection_order(1, 7, &[true]), [0]);
        assert!(connection_order(0, 7, &[]).is_empty());
    }

    #[test]
    fn fresh_seeds_spread_the_first_node_over_the_whole_list() {
        let mut first = [0usize; 3];
        for _ in 0..3_000 {
            first[connection_order(3, fresh_seed(), &[])[0]] += 1;
        }
        // Each node should come first about 1,000 times; 800 leaves room for chance
        // (a binomial's standard deviation here is ~26).
        assert!(first.iter().all(|&n| n > 800), "{first:?}");
    }

    #[test]
    fn nodes_that_failed_lately_are_tried_last() {
        for seed in 0..100 {
            let order = connection_order(3, seed, &[false, true, false]);
            assert_eq!(order[2], 1, "seed {seed}: {order:?}");
            let order = connection_order(3, seed, &[true, true, false]);
            assert_eq!(order[0], 2, "seed {seed}: {order:?}");
        }
    }
}
