//! Failed-login limiting in Redis, per username and per client address.
//!
//! Each failed login increments two fixed-window counters,
//! `rl:login:user:<username>` and `rl:login:client:<address>` (IPv6 addresses by their
//! /64, which one client usually owns whole). Once either reaches its limit, logins for
//! that username or from that address get `429` with `Retry-After` until the window
//! ends, before any password hashing is spent. A successful login resets the username's
//! counter only: resetting the address counter would let an attacker who owns one
//! account clear their address's count between guesses at others.
//!
//! Concurrent attempts can each pass the check before any failure is counted, so a burst
//! may overshoot the limit by the hashing-pool size; the limit is a brake, not a ledger.
//! If Redis is unreachable the check fails open (logged): an outage of the cache should
//! not lock every patient out, and argon2's cost still slows guessing.

use std::net::IpAddr;
use std::time::Duration;

use redis::aio::ConnectionManager;
use shared_store::RedisKeys;

use crate::auth::credentials::Username;
use crate::config::LoginLimitSettings;
use crate::error::ApiError;

/// Increments each counter and starts its window if it has none. One script, so a key
/// can never be left without an expiry (which would lock a username out for good), on
/// any Redis version: `INCR` then `EXPIRE` as two commands could lose the `EXPIRE`, and
/// `SET NX EX` then `INCR` could recreate a key that expired in between.
const COUNT_FAILURE: &str = r"
for _, key in ipairs(KEYS) do
  redis.call('INCR', key)
  if redis.call('TTL', key) < 0 then
    redis.call('EXPIRE', key, ARGV[1])
  end
end
return redis.status_reply('OK')
";

#[derive(Debug, Clone)]
pub struct LoginLimiter {
    redis: ConnectionManager,
    keys: RedisKeys,
    settings: LoginLimitSettings,
}

impl LoginLimiter {
    pub fn new(redis: ConnectionManager, keys: RedisKeys, settings: LoginLimitSettings) -> Self {
        Self {
            redis,
            keys,
            settings,
        }
    }

    /// `Err(TooManyRequests)` when the username or the client is over its limit.
    pub async fn check(&self, username: &Username, client: IpAddr) -> Result<(), ApiError> {
        let (user_key, client_key) = self.keys_for(username, client);
        let mut redis = self.redis.clone();
        let result: redis::RedisResult<(Option<u64>, i64, Option<u64>, i64)> = redis::pipe()
            .get(&user_key)
            .pttl(&user_key)
            .get(&client_key)
            .pttl(&client_key)
            .query_async(&mut redis)
            .await;
        let (user_failures, user_ttl, client_failures, client_ttl) = match result {
            Ok(counts) => counts,
            Err(error) => {
                tracing::error!(error = %error, "Failed to read login rate limits; allowing the attempt");
                return Ok(());
            }
        };
        let over = |count: Option<u64>, max: u64, ttl_ms: i64| {
            (count.unwrap_or(0) >= max).then(|| Duration::from_millis(ttl_ms.max(1000) as u64))
        };
        let retry_after = [
            over(
                user_failures,
                self.settings.max_failures_per_username,
                user_ttl,
            ),
            over(
                client_failures,
                self.settings.max_failures_per_client,
                client_ttl,
            ),
        ]
        .into_iter()
        .flatten()
        .max();
        match retry_after {
            Some(retry_after) => Err(ApiError::TooManyRequests { retry_after }),
            None => Ok(()),
        }
    }

    /// Counts one failed login against the username and the client.
    pub async fn record_failure(&self, username: &Username, client: IpAddr) {
        let (user_key, client_key) = self.keys_for(username, client);
        let window = self.settings.window.as_secs().max(1);
        let mut redis = self.redis.clone();
        let counted: redis::RedisResult<()> = redis::Script::new(COUNT_FAILURE)
            .key(user_key)
            .key(client_key)
            .arg(window)
            .invoke_async(&mut redis)
            .await;
        if let Err(error) = counted {
            tracing::error!(error = %error, "Failed to count a failed login");
        }
    }

    /// Clears the username's failures after a successful login.
    pub async fn reset(&self, username: &Username) {
        let key = self
            .keys
            .key(&format!("rl:login:user:{}", username.as_str()));
        let mut redis = self.redis.clone();
        if let Err(error) = redis::cmd("DEL")
            .arg(key)
            .query_async::<()>(&mut redis)
            .await
        {
            tracing::error!(error = %error, "Failed to reset a login rate limit");
        }
    }

    fn keys_for(&self, username: &Username, client: IpAddr) -> (String, String) {
        (
            self.keys
                .key(&format!("rl:login:user:{}", username.as_str())),
            self.keys
                .key(&format!("rl:login:client:{}", client_bucket(client))),
        )
    }
}

/// The address a client is counted under: IPv4 as is, IPv6 by its /64 prefix.
fn client_bucket(client: IpAddr) -> String {
    match client {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => v4.to_string(),
            None => {
                let s = v6.segments();
                format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::client_bucket;

    #[test]
    fn ipv6_clients_are_counted_by_their_64_bit_prefix() {
        let a = client_bucket("2001:db8:1:2:aaaa::1".parse().expect("ip"));
        let b = client_bucket("2001:db8:1:2:bbbb::2".parse().expect("ip"));
        assert_eq!(a, b);
        assert_eq!(client_bucket("10.0.0.1".parse().expect("ip")), "10.0.0.1");
        assert_eq!(
            client_bucket("::ffff:10.0.0.1".parse().expect("ip")),
            "10.0.0.1"
        );
    }
}
