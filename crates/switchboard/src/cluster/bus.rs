//! The broadcast bus: [`BusAdapter`] is the engine's adapter in cluster mode. A
//! broadcast is appended to the stream by one writer task (batched into pipelines); one
//! reader task per node reads every entry and delivers it to the local members with the
//! entry id as its recovery offset.

use std::sync::Arc;
use std::time::Duration;

use redis::streams::{StreamId, StreamRangeReply, StreamReadReply};
use sio::{BroadcastMessage, Namespace, Offset};
use tokio::sync::mpsc;

use super::format::{self, Entry};
use super::sessions::Sessions;
use super::{Backoff, Cluster};
use crate::telemetry::{inc, ClusterState};

/// Broadcasts waiting for the writer. Past this the bus is not keeping up: broadcasts
/// are delivered locally only and counted, so memory stays bounded.
const OUTBOX: usize = 65_536;
/// Entries per `XREAD`.
const READ_COUNT: usize = 512;
/// How long one `XREAD` blocks.
const BLOCK_MS: u64 = 2000;

/// The engine's adapter in cluster mode.
pub struct BusAdapter {
    cluster: Arc<Cluster>,
    out: mpsc::Sender<(String, BroadcastMessage)>,
    outbox: parking_lot::Mutex<Option<mpsc::Receiver<(String, BroadcastMessage)>>>,
    sessions: Arc<Sessions>,
    /// Where the reader started (the stream's newest id then): sockets that connect
    /// before this node delivered anything resume from here.
    start: parking_lot::Mutex<Offset>,
}

impl BusAdapter {
    pub(super) fn new(cluster: Arc<Cluster>) -> Self {
        let (out, rx) = mpsc::channel(OUTBOX);
        Self {
            sessions: Arc::new(Sessions::new(cluster.clone())),
            cluster,
            out,
            outbox: parking_lot::Mutex::new(Some(rx)),
            start: parking_lot::Mutex::new(Offset::default()),
        }
    }

    pub(super) fn start_offset(&self) -> Offset {
        *self.start.lock()
    }

    pub(super) fn spawn_tasks(self: &Arc<Self>) {
        if let Some(rx) = self.outbox.lock().take() {
            tokio::spawn(writer(self.cluster.clone(), rx));
        }
        tokio::spawn(reader(Arc::downgrade(self)));
        self.sessions.spawn_tasks();
    }

    /// Deliver here only (the bus is down, or the broadcast carries binary).
    fn local_only(&self, ns: &Namespace, msg: &BroadcastMessage) -> usize {
        inc(&self.cluster.telemetry.counters.bus_local_only);
        ns.deliver_unrecorded(msg)
    }
}

impl sio::Adapter for BusAdapter {
    /// Hands the broadcast to the writer and returns how many of this node's sockets it
    /// targets (README: `recipients` in a cluster); the members here receive it when the
    /// entry is read back, like everyone else's.
    fn broadcast(&self, ns: &Namespace, msg: BroadcastMessage) -> usize {
        if !msg.bins.is_empty() {
            // The adapter's binary format is msgpack; this bus carries JSON only.
            return self.local_only(ns, &msg);
        }
        if self.cluster.telemetry.cluster.state() != ClusterState::Ok {
            return self.local_only(ns, &msg);
        }
        let expected = if msg.rooms.is_empty() {
            ns.socket_count()
        } else {
            msg.rooms.iter().map(|r| ns.room_size(r)).sum()
        };
        let data = format::encode(ns.name(), &msg);
        match self.out.try_send((data, msg)) {
            Ok(()) => expected,
            Err(mpsc::error::TrySendError::Full((_, msg)))
            | Err(mpsc::error::TrySendError::Closed((_, msg))) => self.local_only(ns, &msg),
        }
    }

    fn keeps_sessions(&self) -> bool {
        true
    }

    fn restore(
        &self,
        _ns: &Namespace,
        pid: &str,
        offset: Option<&str>,
    ) -> Option<sio::BoxFuture<Option<sio::RemoteSession>>> {
        Some(Box::pin(
            self.sessions
                .restore(pid.to_owned(), offset.map(str::to_owned)),
        ))
    }

    fn session_changed(&self, socket: &sio::Socket, change: sio::SessionChange<'_>) {
        self.sessions.changed(socket, change, self.start_offset());
    }
}

/// The one writer: batches what is waiting into one pipeline of `XADD`s. On failure
/// the batch is delivered locally only (counted) and the next batch tries again.
async fn writer(cl: Arc<Cluster>, mut rx: mpsc::Receiver<(String, BroadcastMessage)>) {
    let mut batch = Vec::with_capacity(256);
    while rx.recv_many(&mut batch, 256).await > 0 {
        let mut pipe = redis::pipe();
        for (data, _) in &batch {
            pipe.cmd("XADD")
                .arg(&cl.keys.stream)
                .arg("MAXLEN")
                .arg("~")
                .arg(cl.maxlen)
                .arg("*")
                .arg("uid")
                .arg(&cl.uid)
                .arg("nsp")
                .arg("/")
                .arg("type")
                .arg(format::BROADCAST)
                .arg("data")
                .arg(data);
        }
        let mut c = cl.conn();
        let r: redis::RedisResult<Vec<String>> = pipe.query_async(&mut c).await;
        match r {
            Ok(ids) => {
                cl.telemetry
                    .counters
                    .bus_published
                    .fetch_add(ids.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => {
                cl.down("appending to the stream", &e);
                let ns = cl.hub.root();
                for (_, msg) in &batch {
                    inc(&cl.telemetry.counters.bus_local_only);
                    ns.deliver_unrecorded(msg);
                }
            }
        }
        batch.clear();
    }
}

/// The one reader: every entry after the last one read, delivered with its id.
async fn reader(adapter: std::sync::Weak<BusAdapter>) {
    let mut backoff = Backoff::default();
    let mut last: Option<String> = None;
    loop {
        let Some(a) = adapter.upgrade() else { return };
        let cl = a.cluster.clone();
        drop(a);
        let cfg = redis::AsyncConnectionConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(1)))
            .set_response_timeout(Some(Duration::from_millis(BLOCK_MS + 3000)));
        let conn = cl
            .client
            .get_multiplexed_async_connection_with_config(&cfg)
            .await;
        let mut conn = match conn {
            Ok(c) => c,
            Err(e) => {
                cl.down("connecting the reader", &e);
                tokio::time::sleep(backoff.next()).await;
                continue;
            }
        };
        if let Err(e) = cl.load_epoch().await {
            cl.down("reading the epoch", &e);
            tokio::time::sleep(backoff.next()).await;
            continue;
        }
        let from = match &last {
            Some(id) => {
                check_gap(&cl, &mut conn, id).await;
                id.clone()
            }
            None => match newest_id(&cl, &mut conn).await {
                Ok(id) => {
                    if let (Some(a), Some(o)) = (adapter.upgrade(), Offset::parse(&id)) {
                        *a.start.lock() = o;
                    }
                    id
                }
                Err(e) => {
                    cl.down("reading the stream", &e);
                    tokio::time::sleep(backoff.next()).await;
                    continue;
                }
            },
        };
        last = Some(from);
        cl.up();
        cl.reader_ready.send_replace(true);
        backoff.reset();
        // Read until the connection fails.
        while let Some(id) = last.clone() {
            let r: redis::RedisResult<Option<StreamReadReply>> = redis::cmd("XREAD")
                .arg("COUNT")
                .arg(READ_COUNT)
                .arg("BLOCK")
                .arg(BLOCK_MS)
                .arg("STREAMS")
                .arg(&cl.keys.stream)
                .arg(&id)
                .query_async(&mut conn)
                .await;
            match r {
                Ok(reply) => {
                    cl.up();
                    for key in reply.map(|r| r.keys).unwrap_or_default() {
                        for entry in &key.ids {
                            deliver(&cl, entry);
                            last = Some(entry.id.clone());
                        }
                    }
                }
                Err(e) => {
                    cl.down("reading the stream", &e);
                    break;
                }
            }
        }
        tokio::time::sleep(backoff.next()).await;
    }
}

/// Deliver one entry to this node's members.
fn deliver(cl: &Cluster, entry: &StreamId) {
    let counters = &cl.telemetry.counters;
    let field = |k: &str| -> Option<String> { entry.get(k) };
    // A namespace this node does not serve (another application's on a shared stream)
    // is not ours to deliver.
    let Some(ns) = field("nsp").and_then(|n| cl.hub.io().of(&n)) else {
        inc(&counters.bus_skipped);
        return;
    };
    let (Some(kind), Some(data)) = (field("type"), field("data")) else {
        inc(&counters.bus_skipped);
        return;
    };
    match format::decode(&kind, &data) {
        Entry::Broadcast(msg) => {
            let offset = if msg.volatile {
                None
            } else {
                Offset::parse(&entry.id)
            };
            ns.deliver(&msg, offset);
            inc(&counters.bus_received);
            // Stream ids are Redis's clock in ms: the lag includes any skew between this
            // host's clock and Redis's (none when they share a host).
            if let Some(appended) = Offset::parse(&entry.id) {
                let lag_ms = crate::support::clock::now_ms().saturating_sub(appended.ms as i64);
                cl.telemetry
                    .bus_lag_seconds
                    .observe(lag_ms.max(0) as f64 / 1000.0);
            }
        }
        Entry::Skip(why) => {
            inc(&counters.bus_skipped);
            if kind == format::BROADCAST {
                tracing::debug!(id = %entry.id, why, "bus entry skipped");
            }
        }
    }
}

/// The stream's newest id (`0-0` when it is empty or does not exist).
async fn newest_id(
    cl: &Cluster,
    conn: &mut redis::aio::MultiplexedConnection,
) -> redis::RedisResult<String> {
    let r: StreamRangeReply = redis::cmd("XREVRANGE")
        .arg(&cl.keys.stream)
        .arg("+")
        .arg("-")
        .arg("COUNT")
        .arg(1)
        .query_async(conn)
        .await?;
    Ok(r.ids
        .first()
        .map(|e| e.id.clone())
        .unwrap_or_else(|| "0-0".into()))
}

/// After an outage: were entries after `last` trimmed before this node read them?
async fn check_gap(cl: &Cluster, conn: &mut redis::aio::MultiplexedConnection, last: &str) {
    let Some(l) = Offset::parse(last) else { return };
    if let Ok(false) = super::holds_after(&cl.keys.stream, l, conn).await {
        inc(&cl.telemetry.counters.bus_gaps);
        tracing::warn!(last, "stream entries were trimmed while this node could not read: some broadcasts were not delivered here");
    }
}
