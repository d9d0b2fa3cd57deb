//! Presence across nodes (README "Presence", "Running a cluster"). Each node counts its
//! own sockets (`feeds::Presence`) and hands over only the changes at its edge: a user's
//! first socket on this node entered a room, or their last one here left. Redis sums the
//! nodes; the node whose change takes a user's sum from 0 to 1 (or back) tells the room,
//! through the bus like any broadcast, so every member hears each arrival once.
//!
//! Keys (all under the cluster prefix):
//! - `presence:room:{room}` — hash: user → number of nodes where the user has sockets
//!   in the room (its length is the room's `count`);
//! - `presence:anon:{room}` — the room's anonymous sockets, over all nodes;
//! - `presence:node:{node}` — hash: what this node added (`["room","user"]` → 1,
//!   `["room"]` → anonymous sockets), so it can be taken back;
//! - `presence:nodes` — sorted set: node → its last presence heartbeat (Redis time).
//!
//! Every change, heartbeat and take-back is one Lua script, so a sum and the event it
//! causes cannot interleave with another node's. A node that stops heartbeating for two
//! intervals is taken back by the first live node that notices (one script: exactly one
//! node tells the rooms), so its users leave within three heartbeats. A node that Redis
//! forgot (an outage longer than that, a queue overflow, a restart under the same id)
//! rewrites its contributions from its own counts; the difference is told as joins and
//! leaves.
//!
//! Applied by one task per node, in order. While Redis is down the changes wait (at most
//! [`MAX_PENDING`]; beyond that the node rewrites everything once Redis is back).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use tokio::sync::mpsc;

use super::{Backoff, Cluster};
use crate::feeds::presence::{Change, Listing, Shared};
use crate::telemetry::inc;

/// Changes that may wait for Redis; past this the node resyncs instead.
pub const MAX_PENDING: usize = 100_000;

/// A heartbeat older than this many intervals makes a node dead.
const DEAD_AFTER_BEATS: u32 = 2;

enum Op {
    Change(Change),
    /// This node's counts, taken when the changes before it were already counted.
    Resync(Vec<(String, Option<String>, u32)>),
}

/// The Redis side of presence, handed to `feeds::Presence`.
pub struct RedisPresence {
    tx: mpsc::UnboundedSender<Op>,
    pending: Arc<AtomicUsize>,
    overflowed: Arc<AtomicBool>,
    cl: Weak<Cluster>,
}

impl Shared for RedisPresence {
    fn change(&self, change: Change) {
        if self.pending.fetch_add(1, Ordering::Relaxed) >= MAX_PENDING {
            self.pending.fetch_sub(1, Ordering::Relaxed);
            self.overflowed.store(true, Ordering::Relaxed);
            return;
        }
        let _ = self.tx.send(Op::Change(change));
    }

    fn resync(&self, counts: Vec<(String, Option<String>, u32)>) {
        self.pending.fetch_add(1, Ordering::Relaxed);
        let _ = self.tx.send(Op::Resync(counts));
    }

    fn list(&self, room: &str, cap: usize) -> sio::BoxFuture<Result<Listing, String>> {
        let cl = self.cl.clone();
        let room = room.to_owned();
        Box::pin(async move {
            let cl = cl.upgrade().ok_or("shutting down")?;
            list(&cl, &room, cap).await.map_err(|e| e.to_string())
        })
    }
}

/// Hand presence to Redis and start the task that applies the changes.
pub(super) fn start(cl: &Arc<Cluster>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let pending = Arc::new(AtomicUsize::new(0));
    let overflowed = Arc::new(AtomicBool::new(false));
    cl.feeds.presence.share(Arc::new(RedisPresence {
        tx,
        pending: pending.clone(),
        overflowed: overflowed.clone(),
        cl: Arc::downgrade(cl),
    }));
    let writer = Writer {
        cl: Arc::downgrade(cl),
        pending,
        overflowed,
        resyncing: false,
        every: cl.heartbeat,
    };
    tokio::spawn(writer.run(rx));
}

struct Writer {
    cl: Weak<Cluster>,
    pending: Arc<AtomicUsize>,
    overflowed: Arc<AtomicBool>,
    /// Waiting for the `Resync` op: changes before it are in its counts.
    resyncing: bool,
    every: Duration,
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Op>) {
        // Whatever a previous process under this node id left is replaced by what this
        // one counts (nothing yet).
        self.begin_resync();
        let mut tick = tokio::time::interval(self.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                op = rx.recv() => {
                    let Some(op) = op else { return };
                    self.pending.fetch_sub(1, Ordering::Relaxed);
                    let Some(cl) = self.cl.upgrade() else { return };
                    self.apply(&cl, op).await;
                }
                _ = tick.tick() => {
                    let Some(cl) = self.cl.upgrade() else { return };
                    if let Err(e) = self.beat(&cl).await {
                        inc(&cl.telemetry.counters.presence_errors);
                        tracing::debug!(error = %e, "presence heartbeat failed");
                    }
                }
            }
            if self.overflowed.swap(false, Ordering::Relaxed) {
                tracing::warn!(
                    "presence: more than {MAX_PENDING} changes waited for Redis; resyncing"
                );
                self.begin_resync();
            }
        }
    }

    /// Drop the changes already queued (the counts taken now include them) until the
    /// counts arrive.
    fn begin_resync(&mut self) {
        self.resyncing = true;
        if let Some(cl) = self.cl.upgrade() {
            cl.feeds.presence.resync();
        }
    }

    async fn apply(&mut self, cl: &Arc<Cluster>, op: Op) {
        match op {
            Op::Change(_) if self.resyncing => {}
            Op::Change(change) => {
                let told = self.retry(cl, || change_script(cl, &change)).await;
                match told {
                    Some(Some(events)) => announce(cl, events),
                    // Redis does not know this node (it was taken back): rewrite.
                    Some(None) => self.begin_resync(),
                    None => {}
                }
            }
            Op::Resync(counts) => {
                if let Some(events) = self.retry(cl, || resync_script(cl, &counts)).await {
                    announce(cl, events);
                }
                self.resyncing = false;
            }
        }
    }

    /// Run `f` until Redis answers (counting the first failure); `None` when the
    /// cluster is gone.
    async fn retry<T, F, Fut>(&self, cl: &Arc<Cluster>, f: F) -> Option<T>
    where
        F: Fn() -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let mut backoff = Backoff::default();
        let mut failed = false;
        loop {
            match f().await {
                Ok(v) => return Some(v),
                Err(e) => {
                    if !failed {
                        inc(&cl.telemetry.counters.presence_errors);
                        tracing::warn!(error = %e, "presence: Redis did not answer; retrying");
                        failed = true;
                    }
                    if Arc::strong_count(cl) <= 1 {
                        return None;
                    }
                    tokio::time::sleep(backoff.next()).await;
                }
            }
        }
    }

    /// Heartbeat, then take back the nodes that stopped.
    async fn beat(&mut self, cl: &Arc<Cluster>) -> redis::RedisResult<()> {
        let mut c = cl.conn();
        let (new, events): (i64, Vec<String>) = redis::Script::new(BEAT)
            .key(nodes_key(cl))
            .arg(prefix(cl))
            .arg(&cl.node_id)
            .arg((self.every * DEAD_AFTER_BEATS).as_millis() as u64)
            .invoke_async(&mut c)
            .await?;
        announce(cl, events);
        if new == 1 && !self.resyncing {
            // Redis forgot this node (taken back after an outage, or flushed).
            self.begin_resync();
        }
        Ok(())
    }
}

fn prefix(cl: &Cluster) -> String {
    format!("{}:presence", cl.keys.prefix)
}

fn nodes_key(cl: &Cluster) -> String {
    format!("{}:presence:nodes", cl.keys.prefix)
}

/// Tell the rooms: `events` is flat `[kind, room, user, count, ...]` from a script.
fn announce(cl: &Cluster, events: Vec<String>) {
    for e in events.chunks_exact(4) {
        let count = e[3].parse().unwrap_or(0);
        cl.feeds
            .presence
            .announce(&e[1], &e[2], e[0] == "join", count);
    }
}

/// How a node's contribution is named in its hash: `["room","user"]` or `["room"]`.
fn field(room: &str, user: Option<&str>) -> String {
    match user {
        Some(u) => serde_json::json!([room, u]).to_string(),
        None => serde_json::json!([room]).to_string(),
    }
}

/// One change; `None` when Redis does not know this node (resync needed).
async fn change_script(cl: &Cluster, change: &Change) -> redis::RedisResult<Option<Vec<String>>> {
    let mut c = cl.conn();
    let (ok, events): (i64, Vec<String>) = redis::Script::new(CHANGE)
        .key(nodes_key(cl))
        .arg(prefix(cl))
        .arg(&cl.node_id)
        .arg(if change.entered { 1 } else { -1 })
        .arg(field(&change.room, change.user.as_deref()))
        .invoke_async(&mut c)
        .await?;
    Ok((ok == 1).then_some(events))
}

/// Replace this node's contributions with `counts`.
async fn resync_script(
    cl: &Cluster,
    counts: &[(String, Option<String>, u32)],
) -> redis::RedisResult<Vec<String>> {
    let mut c = cl.conn();
    let entries: Vec<serde_json::Value> = counts
        .iter()
        .map(|(room, user, n)| {
            let sockets = if user.is_some() { 1 } else { *n };
            serde_json::json!([field(room, user.as_deref()), sockets])
        })
        .collect();
    redis::Script::new(RESYNC)
        .key(nodes_key(cl))
        .arg(prefix(cl))
        .arg(&cl.node_id)
        .arg(serde_json::Value::Array(entries).to_string())
        .invoke_async(&mut c)
        .await
}

/// The cluster-wide listing of `room`.
async fn list(cl: &Cluster, room: &str, cap: usize) -> redis::RedisResult<Listing> {
    let mut c = cl.conn();
    let users_key = format!("{}:room:{room}", prefix(cl));
    let (count, anonymous): (u64, Option<i64>) = redis::pipe()
        .cmd("HLEN")
        .arg(&users_key)
        .cmd("GET")
        .arg(format!("{}:anon:{room}", prefix(cl)))
        .query_async(&mut c)
        .await?;
    let mut users: Vec<String> = if count as usize <= cap {
        redis::cmd("HKEYS")
            .arg(&users_key)
            .query_async(&mut c)
            .await?
    } else {
        let mut got = Vec::new();
        let mut cursor: u64 = 0;
        loop {
            let (next, page): (u64, Vec<String>) = redis::cmd("HSCAN")
                .arg(&users_key)
                .arg(cursor)
                .arg("COUNT")
                .arg(cap.min(1000))
                .query_async(&mut c)
                .await?;
            // HSCAN answers field, value, field, value, ...
            got.extend(page.into_iter().step_by(2));
            cursor = next;
            if cursor == 0 || got.len() >= cap {
                break;
            }
        }
        got
    };
    users.sort();
    users.truncate(cap);
    Ok(Listing {
        room: room.to_owned(),
        users,
        count,
        anonymous: anonymous.unwrap_or(0).max(0) as u64,
        truncated: count as usize > cap,
    })
}

/// Shared Lua: Redis time in ms; applying one contribution (`field` = `["room","user"]`
/// or `["room"]`, by `delta`) to the room sums, appending `kind, room, user, count` to
/// `events` when a user's sum crosses zero; taking back everything a node added.
macro_rules! lua_lib {
    () => {
        r#"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function apply(prefix, field, delta, events)
  local f = cjson.decode(field)
  local room = f[1]
  if f[2] == nil then
    local k = prefix .. ':anon:' .. room
    local n = redis.call('INCRBY', k, delta)
    if n <= 0 then redis.call('DEL', k) end
    return
  end
  local user = f[2]
  local k = prefix .. ':room:' .. room
  local n = redis.call('HINCRBY', k, user, delta)
  if n <= 0 then redis.call('HDEL', k, user) end
  local count = redis.call('HLEN', k)
  local kind = nil
  if delta > 0 and n == delta then kind = 'join' elseif delta < 0 and n <= 0 then kind = 'leave' end
  if kind then
    table.insert(events, kind); table.insert(events, room)
    table.insert(events, user); table.insert(events, tostring(count))
  end
end
local function take_back(prefix, node, events)
  local nk = prefix .. ':node:' .. node
  local all = redis.call('HGETALL', nk)
  for i = 1, #all, 2 do
    apply(prefix, all[i], -tonumber(all[i + 1]), events)
  end
  redis.call('DEL', nk)
end
"#
    };
}

/// KEYS[1] nodes; ARGV prefix, node, delta, field → `{1, events}`, or `{0, {}}` when
/// Redis does not know this node (it was taken back: resync).
const CHANGE: &str = concat!(
    lua_lib!(),
    r#"
local prefix, node, delta, field = ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4]
if not redis.call('ZSCORE', KEYS[1], node) then return {0, {}} end
local nk = prefix .. ':node:' .. node
local n = redis.call('HINCRBY', nk, field, delta)
if n <= 0 then redis.call('HDEL', nk, field) end
if n < 0 then return {1, {}} end
local events = {}
apply(prefix, field, delta, events)
return {1, events}
"#
);

/// KEYS[1] nodes; ARGV prefix, node, dead-after ms → `{new, events}`: `new` is 1 when
/// Redis did not know this node; `events` those of the nodes taken back.
const BEAT: &str = concat!(
    lua_lib!(),
    r#"
local prefix, node, dead_after = ARGV[1], ARGV[2], tonumber(ARGV[3])
local now = now_ms()
local new = redis.call('ZADD', KEYS[1], now, node)
local events = {}
for _, d in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now - dead_after)) do
  if d ~= node then
    take_back(prefix, d, events)
    redis.call('ZREM', KEYS[1], d)
  end
end
return {new, events}
"#
);

/// KEYS[1] nodes; ARGV prefix, node, entries (JSON `[[field, n], ...]`, fields as the
/// change script gets them) → the events of the difference from what Redis had.
const RESYNC: &str = concat!(
    lua_lib!(),
    r#"
local prefix, node, entries = ARGV[1], ARGV[2], cjson.decode(ARGV[3])
local nk = prefix .. ':node:' .. node
local old = {}
local all = redis.call('HGETALL', nk)
for i = 1, #all, 2 do old[all[i]] = tonumber(all[i + 1]) end
local new = {}
for _, e in ipairs(entries) do new[e[1]] = tonumber(e[2]) end
local events = {}
for field, n in pairs(old) do
  local want = new[field] or 0
  if want ~= n then apply(prefix, field, want - n, events) end
end
for field, n in pairs(new) do
  if old[field] == nil then apply(prefix, field, n, events) end
end
redis.call('DEL', nk)
for field, n in pairs(new) do redis.call('HSET', nk, field, n) end
redis.call('ZADD', KEYS[1], now_ms(), node)
return events
"#
);
