//! [`AppState`]: what every handler can reach, built once at start.

use std::sync::Arc;

use anyhow::Context;
use redis::aio::ConnectionManager;
use shared_events::{Bus, Publisher};
use shared_store::{RedisKeys, connect_mongodb, connect_redis};

use crate::auth::jwt::JwtKeys;
use crate::auth::password::PasswordHasher;
use crate::auth::refresh::RefreshTokens;
use crate::config::{NotificationSettings, Settings, UploadSettings};
use crate::feed::{PatientProgress, ProgressCache};
use crate::metrics::GatewayOps;
use crate::notifications::Hub;
use crate::rate_limit::LoginLimiter;
use crate::store::{ChangeFeed, Games, Users};

/// Shared by all handlers; every field is cheap to clone (handles and `Arc`s).
#[derive(Clone)]
pub struct AppState {
    /// The bus (its topology is declared at start, like every process does).
    pub bus: Bus,
    /// Confirmed publishing on its own connection, shared by all requests (concurrent
    /// publishes are pipelined on its one channel).
    pub publisher: Publisher,
    pub upload: UploadSettings,
    /// Publishing stored games' events (the relay's and the sweep's shared part).
    pub outbox: crate::outbox::Outbox,
    /// Where the upload route hands new games for publishing.
    pub relay: crate::outbox::relay::Relay,
    pub users: Users,
    /// The games, with the analyses the reconciliation handler records on them.
    pub games: Games,
    pub refresh_tokens: RefreshTokens,
    /// Each patient's change feed (`GET /sync`, the sockets' catch-up).
    pub feed: ChangeFeed,
    /// Each patient's progress per exercise: the Redis cache over the feed's snapshots.
    pub progress: PatientProgress,
    /// This instance's open notification sockets.
    pub hub: Hub,
    /// Names this instance's notification queue; unique per process.
    pub instance_id: String,
    pub notifications: NotificationSettings,
    pub redis: ConnectionManager,
    pub keys: RedisKeys,
    pub hasher: Arc<PasswordHasher>,
    pub jwt: Arc<JwtKeys>,
    pub login_limiter: LoginLimiter,
    /// See [`Settings::trust_forwarded_for`].
    pub trust_forwarded_for: bool,
    /// Metrics, readiness and the queue poller.
    pub ops: GatewayOps,
    /// The operators' dashboard, off unless `M2M_ADMIN_TOKEN` is set.
    pub admin: crate::admin::Admin,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("keys", &self.keys)
            .field("jwt", &self.jwt)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Connects to the stores, makes sure the indexes exist and prepares the hasher.
    pub async fn build(settings: &Settings) -> anyhow::Result<Self> {
        let db = connect_mongodb(&settings.store, "m2m-gateway")
            .await
            .context("Failed to connect to MongoDB")?;
        let redis = connect_redis(&settings.store)
            .await
            .context("Failed to connect to Redis")?;
        let keys = RedisKeys::new(&settings.store.redis_prefix);
        // The bus reports what it publishes (and, later, consumes) to the metrics.
        let metrics = shared_ops::Metrics::new();
        let bus = Bus::new(settings.bus.clone()).observed_by(metrics.bus_observer());
        bus.declare_topology("gateway setup")
            .await
            .context("Failed to declare the bus topology")?;

        let users = Users::new(&db);
        let games = Games::new(&db);
        let refresh_tokens = RefreshTokens::new(&db, settings.auth.refresh_token_ttl);
        // Index creation is idempotent; doing it at start keeps the unique-username
        // guarantee from depending on a separate migration step.
        users.ensure_indexes().await?;
        games.ensure_indexes().await?;
        refresh_tokens.ensure_indexes().await?;
        let feed = ChangeFeed::new(&db);
        feed.ensure_indexes().await?;

        let hasher = PasswordHasher::new(
            settings.auth.hash_concurrency,
            settings.auth.hash_wait,
            settings.auth.hash_low_priority,
        )
        .await?;
        let publisher = Publisher::new(bus.clone(), "gateway publisher");
        let ops = GatewayOps::build(metrics, settings, &bus, &db, &redis);
        let admin = crate::admin::Admin::build(&settings.admin, &db, &bus).await?;
        let outbox = crate::outbox::Outbox {
            publisher: publisher.clone(),
            games: games.clone(),
            broker: crate::outbox::BrokerState::default(),
            metrics: ops.metrics.outbox.clone(),
            lease: crate::outbox::publish_lease(settings.bus.timeout),
        };
        Ok(Self {
            bus,
            publisher,
            upload: settings.upload.clone(),
            outbox,
            relay: crate::outbox::relay::Relay::default(),
            users,
            games,
            refresh_tokens,
            progress: PatientProgress::new(
                ProgressCache::new(redis.clone(), keys.clone()),
                feed.clone(),
            ),
            feed,
            hub: Hub::new(),
            instance_id: uuid::Uuid::new_v4().simple().to_string(),
            notifications: settings.notifications.clone(),
            login_limiter: LoginLimiter::new(
                redis.clone(),
                keys.clone(),
                settings.login_limit.clone(),
            ),
            redis,
            keys,
            hasher: Arc::new(hasher),
            jwt: Arc::new(JwtKeys::new(&settings.auth)),
            trust_forwarded_for: settings.trust_forwarded_for,
            ops,
            admin,
        })
    }
}
