//! Cluster mode (README "Running a cluster"): several nodes act as one server, with
//! Redis as the bus and PostgreSQL as the shared store.
//!
//! - **The bus** ([`bus`]): broadcasts are appended to one Redis stream in the message
//!   format of Node's `@socket.io/redis-streams-adapter` ([`format`]); every node reads
//!   the stream from its last id and delivers each entry — its own included — to its
//!   local members with the entry id as the recovery offset, so offsets mean the same on
//!   every node and Node servers on the same stream interoperate.
//! - **Sessions** ([`sessions`]): each socket's session (id, rooms with the offset each
//!   was joined at, identity, data) is written to Redis as it changes, with the recovery
//!   window as expiry, so a client whose node was killed recovers on any other.
//! - **Nodes** ([`nodes`]): heartbeats into a registry; stats aggregate live nodes.
//! - **Presence** ([`presence`]): each node's per-room users summed in Redis; a dead
//!   node's users are taken back by a live one.
//! - **Caches**: a feature's cache change is published on a channel; other nodes
//!   re-read that cache from the shared store ([`relay`]).
//! - **Admin**: the admin namespaces' notifications, actions and socket lists go over
//!   another channel, so the Admin UI on any node sees and acts on all ([`relay`]).
//!
//! When Redis is unreachable each node keeps serving its own clients: broadcasts are
//! delivered locally only (counted), `/health` says `degraded`, and the tasks reconnect
//! with backoff and resume the stream from their last id.

pub mod bus;
pub mod format;
pub mod nodes;
pub mod presence;
mod relay;
pub mod sessions;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sio::Offset;

use crate::admin::Admin;
use crate::config::Config;
use crate::feeds::Feeds;
use crate::hub::Hub;
use crate::telemetry::{inc, ClusterState, Telemetry};

/// What the cluster tasks share.
pub struct Cluster {
    /// This node's name (registry, stats).
    pub node_id: String,
    /// This process's bus identity (the adapter's `uid`; new on every start).
    pub uid: String,
    /// The configured listen address, as the registry shows it.
    address: String,
    client: redis::Client,
    /// Commands (not the blocking reads): reconnects on its own.
    conn: redis::aio::ConnectionManager,
    keys: Keys,
    maxlen: u64,
    heartbeat: Duration,
    window: Duration,
    hub: Hub,
    feeds: Arc<Feeds>,
    telemetry: Arc<Telemetry>,
    /// The stream's epoch: a random value kept in Redis; sessions made under another
    /// epoch (Redis was flushed, the stream recreated) are not recovered.
    epoch: parking_lot::Mutex<String>,
    /// Set by the stream reader once it has the epoch and the stream's newest id (see
    /// [`Cluster::joined`]).
    reader_ready: tokio::sync::watch::Sender<bool>,
}

/// The Redis keys this cluster owns.
#[derive(Debug, Clone)]
pub struct Keys {
    /// The broadcast stream (shared with Node's adapter: not prefixed).
    pub stream: String,
    prefix: String,
}

impl Keys {
    fn new(prefix: &str, stream: &str) -> Self {
        Self {
            stream: stream.to_owned(),
            prefix: prefix.to_owned(),
        }
    }
    /// A session by its private id.
    pub fn session(&self, pid: &str) -> String {
        format!("{}:session:{pid}", self.prefix)
    }
    /// A node's heartbeat.
    pub fn node(&self, id: &str) -> String {
        format!("{}:node:{id}", self.prefix)
    }
    /// The pattern of every node's heartbeat.
    pub fn nodes(&self) -> String {
        format!("{}:node:*", self.prefix)
    }
    /// The stream's epoch.
    pub fn epoch(&self) -> String {
        format!("{}:epoch:{}", self.prefix, self.stream)
    }
    /// The channel of cache changes.
    pub fn caches(&self) -> String {
        format!("{}:caches", self.prefix)
    }
    /// The channel of the admin namespaces.
    pub fn admin(&self) -> String {
        format!("{}:admin", self.prefix)
    }
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("node_id", &self.node_id)
            .field("keys", &self.keys)
            .finish()
    }
}

impl Cluster {
    /// Connect (lazily: a Redis that is down at start-up makes a degraded node, not a
    /// failed start) and return the cluster; [`Cluster::start`] runs its tasks.
    pub async fn new(
        config: &Config,
        url: &str,
        hub: Hub,
        feeds: Arc<Feeds>,
        telemetry: Arc<Telemetry>,
    ) -> anyhow::Result<Arc<Self>> {
        let client = redis::Client::open(url)?;
        let cfg = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_secs(2)))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_secs(2));
        let conn = redis::aio::ConnectionManager::new_lazy_with_config(client.clone(), cfg)?;
        let node_id = config.node_id.clone().unwrap_or_else(|| {
            format!(
                "{}:{}",
                crate::support::process::hostname(),
                config.listen.port()
            )
        });
        Ok(Arc::new(Self {
            node_id,
            uid: sio_uid(),
            address: config.listen.to_string(),
            client,
            conn,
            keys: Keys::new(&config.redis_prefix, &config.redis_stream),
            maxlen: config.redis_stream_maxlen,
            heartbeat: Duration::from_millis(config.cluster_heartbeat_ms),
            window: Duration::from_secs(config.recovery_window_secs),
            hub,
            feeds,
            telemetry,
            epoch: parking_lot::Mutex::new(String::new()),
            reader_ready: tokio::sync::watch::channel(false).0,
        }))
    }

    /// The engine adapter that routes broadcasts through the bus and keeps sessions in
    /// Redis.
    pub fn adapter(self: &Arc<Self>) -> Arc<bus::BusAdapter> {
        Arc::new(bus::BusAdapter::new(self.clone()))
    }

    /// Start the tasks: the stream reader, the heartbeat, the relays of cache changes
    /// and of the admin namespace (when it is on), and the session refresher.
    pub fn start(self: &Arc<Self>, adapter: &Arc<bus::BusAdapter>, admin: Option<Arc<Admin>>) {
        self.telemetry.cluster.set_state(ClusterState::Degraded);
        adapter.spawn_tasks();
        nodes::spawn(self.clone());
        presence::start(self);
        relay::spawn(self, admin);
    }

    /// Wait (at most `within`) until the reader has read the stream's epoch and newest id.
    /// Sockets that connect before then are served, but their sessions cannot be
    /// recovered on another node (their records carry no epoch), so a node listens only
    /// after this, or after `within` with the bus still down (then it starts degraded).
    pub async fn joined(&self, within: Duration) -> bool {
        let mut ready = self.reader_ready.subscribe();
        tokio::time::timeout(within, ready.wait_for(|r| *r))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    /// The Redis connection for commands (cheap clone).
    fn conn(&self) -> redis::aio::ConnectionManager {
        self.conn.clone()
    }

    /// The bus answered: `ok` (a recovery from `degraded` is logged).
    fn up(&self) {
        if self.telemetry.cluster.set_state(ClusterState::Ok) == ClusterState::Degraded {
            tracing::info!(node = %self.node_id, "cluster bus reachable");
        }
    }

    /// The bus failed: `degraded` (the first failure of an outage is counted and logged).
    fn down(&self, what: &str, e: &redis::RedisError) {
        if self.telemetry.cluster.set_state(ClusterState::Degraded) == ClusterState::Ok {
            inc(&self.telemetry.counters.bus_outages);
            tracing::warn!(node = %self.node_id, error = %e, "cluster bus unreachable ({what}): delivering locally only");
        }
    }

    /// Make sure the epoch is known: `SET NX` a new one, then read what is there.
    async fn load_epoch(&self) -> redis::RedisResult<String> {
        let mut c = self.conn();
        let key = self.keys.epoch();
        let fresh = sio_uid();
        let _: Option<String> = redis::cmd("SET")
            .arg(&key)
            .arg(&fresh)
            .arg("NX")
            .query_async(&mut c)
            .await?;
        let epoch: String = redis::cmd("GET").arg(&key).query_async(&mut c).await?;
        *self.epoch.lock() = epoch.clone();
        Ok(epoch)
    }

    fn epoch(&self) -> String {
        self.epoch.lock().clone()
    }
}

/// Exponential backoff for reconnects: 100 ms doubling to 5 s.
#[derive(Debug)]
pub(crate) struct Backoff(Duration);

impl Default for Backoff {
    fn default() -> Self {
        Self(Duration::from_millis(100))
    }
}

impl Backoff {
    fn next(&mut self) -> Duration {
        let d = self.0;
        self.0 = (self.0 * 2).min(Duration::from_secs(5));
        d
    }
    fn reset(&mut self) {
        *self = Self::default();
    }
}

/// Whether the stream still holds everything after `from`: trimming removes entries from
/// the head, so it does when the entry `from` itself is still there — or, for `0-0` (the
/// stream was empty), when no entry was ever removed (`entries-added` equals `length`).
/// (`max-deleted-entry-id` is not enough: Redis 7.0 moves it on `XDEL` but not on the
/// trimming `XADD … MAXLEN` does.) A stream that does not exist holds everything.
pub(crate) async fn holds_after(
    stream: &str,
    from: Offset,
    conn: &mut impl redis::aio::ConnectionLike,
) -> redis::RedisResult<bool> {
    if from != Offset::default() {
        let r: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(stream)
            .arg(format!("{}-{}", from.ms, from.seq))
            .arg(format!("{}-{}", from.ms, from.seq))
            .query_async(conn)
            .await?;
        return Ok(!r.ids.is_empty());
    }
    let info: redis::RedisResult<HashMap<String, redis::Value>> = redis::cmd("XINFO")
        .arg("STREAM")
        .arg(stream)
        .query_async(conn)
        .await;
    match info {
        Ok(map) => {
            let num = |k: &str| {
                map.get(k)
                    .and_then(|v| redis::from_redis_value::<u64>(v.clone()).ok())
            };
            Ok(num("entries-added") == num("length"))
        }
        Err(e) if e.code() == Some("ERR") => Ok(true), // no such key
        Err(e) => Err(e),
    }
}

/// A random identity (hex), like the adapter's `uid`.
fn sio_uid() -> String {
    use rand::Rng as _;
    let n: u64 = rand::rng().random();
    format!("{n:016x}")
}
