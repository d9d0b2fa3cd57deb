//! Sessions in Redis, for connection state recovery on any node.
//!
//! Each socket with a recovery pid has a record `{prefix}:session:{pid}`: its id, the
//! offset it connected at, its rooms each with the offset it joined at, its identity and
//! connection data, and the stream's epoch. The record is rewritten on every join and
//! leave and expires `recovery_window` (plus one refresh period) after the last write or
//! refresh; live sockets are refreshed every third of the window. So a node that dies
//! (even `kill -9`) leaves every session it held recoverable for the window — unlike
//! Node's adapter, which writes a session only at a clean close.
//!
//! A reconnecting client is restored from the record and the stream: the entries after
//! its offset (or, if it received nothing and so sends none, after the point it
//! connected) that it would have received — a room's entries only after it joined that
//! room. If the stream was trimmed past that point or the epoch changed, the client gets
//! a fresh session (`recovered === false`), counted by the engine.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sio::{Offset, RemoteSession, SessionChange};
use tokio::sync::mpsc;

use super::format::{self, Entry};
use super::Cluster;
use crate::conn::ConnInfo;
use crate::rules::Identity;

/// Entries per `XRANGE` page while collecting what a session missed.
const PAGE: usize = 1000;

/// What is kept in Redis per session.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Record {
    sid: String,
    /// Where the socket started receiving (stream id).
    at: String,
    /// Rooms with the stream id each was joined at.
    rooms: Vec<(String, String)>,
    identity: Option<Identity>,
    conn: Option<ConnInfo>,
    epoch: String,
}

enum Op {
    Put {
        pid: Arc<str>,
        body: String,
        ttl: Duration,
    },
    Del {
        pid: Arc<str>,
    },
}

/// The sessions of this node's sockets, mirrored to Redis.
pub struct Sessions {
    cluster: Arc<Cluster>,
    live: parking_lot::Mutex<HashMap<Arc<str>, Record>>,
    tx: mpsc::UnboundedSender<Op>,
    rx: parking_lot::Mutex<Option<mpsc::UnboundedReceiver<Op>>>,
}

fn stream_id(o: Offset) -> String {
    format!("{}-{}", o.ms, o.seq)
}

impl Sessions {
    pub(super) fn new(cluster: Arc<Cluster>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        Self {
            cluster,
            live: parking_lot::Mutex::new(HashMap::new()),
            tx,
            rx: parking_lot::Mutex::new(Some(rx)),
        }
    }

    /// The expiry of a live record: the window plus one refresh period, so that a record
    /// outlives its node by at least the window.
    fn live_ttl(&self) -> Duration {
        self.cluster.window + self.refresh_every()
    }

    fn refresh_every(&self) -> Duration {
        (self.cluster.window / 3).max(Duration::from_secs(1))
    }

    pub(super) fn spawn_tasks(self: &Arc<Self>) {
        if let Some(rx) = self.rx.lock().take() {
            tokio::spawn(writer(self.cluster.clone(), rx));
        }
        spawn_refresh(Arc::downgrade(self));
    }

    /// Every live pid (for the refresher).
    fn live_pids(&self) -> Vec<Arc<str>> {
        self.live.lock().keys().cloned().collect()
    }

    pub(super) fn changed(&self, socket: &sio::Socket, change: SessionChange<'_>, start: Offset) {
        let Some(pid) = socket.pid() else { return };
        let pid: Arc<str> = Arc::from(pid);
        let mut live = self.live.lock();
        let op = match change {
            SessionChange::Connected { at } => {
                // Nothing delivered here yet: the socket receives from where the reader
                // started.
                let at = stream_id(if at == Offset::default() { start } else { at });
                let rec = Record {
                    sid: socket.id().to_owned(),
                    rooms: socket
                        .rooms()
                        .into_iter()
                        .map(|r| (r, at.clone()))
                        .collect(),
                    at,
                    identity: socket.get::<Identity>(),
                    conn: socket.get::<ConnInfo>(),
                    epoch: self.cluster.epoch(),
                };
                let body = serde_json::to_string(&rec).unwrap_or_default();
                live.insert(pid.clone(), rec);
                Op::Put {
                    pid,
                    body,
                    ttl: self.live_ttl(),
                }
            }
            SessionChange::Joined { room, at } => {
                let Some(rec) = live.get_mut(&pid) else {
                    return;
                };
                let at = stream_id(if at == Offset::default() { start } else { at });
                rec.rooms.push((room.to_owned(), at));
                // The connection data may have changed since connect (clientInfo, staff room).
                rec.conn = socket.get::<ConnInfo>();
                let body = serde_json::to_string(&*rec).unwrap_or_default();
                Op::Put {
                    pid,
                    body,
                    ttl: self.live_ttl(),
                }
            }
            SessionChange::Left { room } => {
                let Some(rec) = live.get_mut(&pid) else {
                    return;
                };
                rec.rooms.retain(|(r, _)| r != room);
                let body = serde_json::to_string(&*rec).unwrap_or_default();
                Op::Put {
                    pid,
                    body,
                    ttl: self.live_ttl(),
                }
            }
            SessionChange::Closed { recoverable } => {
                let Some(mut rec) = live.remove(&pid) else {
                    return;
                };
                if recoverable {
                    rec.conn = socket.get::<ConnInfo>().or(rec.conn);
                    let body = serde_json::to_string(&rec).unwrap_or_default();
                    Op::Put {
                        pid,
                        body,
                        ttl: self.cluster.window,
                    }
                } else {
                    Op::Del { pid }
                }
            }
        };
        drop(live);
        let _ = self.tx.send(op);
    }

    /// Find a session again (see the module docs).
    pub(super) fn restore(
        &self,
        pid: String,
        offset: Option<String>,
    ) -> impl std::future::Future<Output = Option<RemoteSession>> + Send + 'static {
        let cl = self.cluster.clone();
        async move {
            match restore(&cl, &pid, offset.as_deref()).await {
                Ok(found) => found,
                Err(e) => {
                    cl.down("restoring a session", &e);
                    None
                }
            }
        }
    }
}

async fn restore(
    cl: &Cluster,
    pid: &str,
    offset: Option<&str>,
) -> redis::RedisResult<Option<RemoteSession>> {
    let mut c = cl.conn();
    let raw: Option<String> = redis::cmd("GETDEL")
        .arg(cl.keys.session(pid))
        .query_async(&mut c)
        .await?;
    let Some(rec) = raw.and_then(|r| serde_json::from_str::<Record>(&r).ok()) else {
        return Ok(None);
    };
    if rec.epoch != cl.epoch() {
        return Ok(None);
    }
    let Some(at) = Offset::parse(&rec.at) else {
        return Ok(None);
    };
    let from = match offset {
        // Only stream ids: a single node's counter means nothing here.
        Some(o) => match Offset::parse(o) {
            Some(o) if o.ms > 0 => o,
            _ => return Ok(None),
        },
        None => at,
    };
    if !super::holds_after(&cl.keys.stream, from, &mut c).await? {
        return Ok(None); // trimmed: an exact replay is impossible
    }
    let since: HashMap<&str, Offset> = rec
        .rooms
        .iter()
        .filter_map(|(r, s)| Some((r.as_str(), Offset::parse(s)?)))
        .collect();
    let mut missed = Vec::new();
    let mut after = from;
    loop {
        let page: redis::streams::StreamRangeReply = redis::cmd("XRANGE")
            .arg(&cl.keys.stream)
            .arg(format!("({}", stream_id(after)))
            .arg("+")
            .arg("COUNT")
            .arg(PAGE)
            .query_async(&mut c)
            .await?;
        let n = page.ids.len();
        for e in page.ids {
            let Some(id) = Offset::parse(&e.id) else {
                continue;
            };
            after = id;
            if e.get::<String>("nsp").as_deref() != Some("/") {
                continue;
            }
            let (Some(kind), Some(data)) = (e.get::<String>("type"), e.get::<String>("data"))
            else {
                continue;
            };
            let Entry::Broadcast(m) = format::decode(&kind, &data) else {
                continue;
            };
            if m.volatile {
                continue;
            }
            let wanted = if m.rooms.is_empty() {
                id > at
            } else {
                m.rooms
                    .iter()
                    .any(|r| since.get(&**r).is_some_and(|s| id > *s))
            };
            let excepted = m.except.iter().any(|r| since.contains_key(&**r));
            if wanted && !excepted {
                missed.push((id, m));
            }
        }
        if n < PAGE {
            break;
        }
    }
    let mut data = http::Extensions::new();
    if let Some(i) = rec.identity {
        data.insert(i);
    }
    if let Some(c) = rec.conn {
        data.insert(c);
    }
    Ok(Some(RemoteSession {
        sid: rec.sid,
        rooms: rec.rooms.into_iter().map(|(r, _)| r).collect(),
        data,
        missed,
        through: after,
    }))
}

/// Applies session writes in order; refreshes the live ones every third of the window.
async fn writer(cl: Arc<Cluster>, mut rx: mpsc::UnboundedReceiver<Op>) {
    let mut batch = Vec::with_capacity(256);
    while rx.recv_many(&mut batch, 256).await > 0 {
        let mut pipe = redis::pipe();
        for op in batch.drain(..) {
            match op {
                Op::Put { pid, body, ttl } => {
                    pipe.cmd("SET")
                        .arg(cl.keys.session(&pid))
                        .arg(body)
                        .arg("PX")
                        .arg(ttl.as_millis() as u64)
                        .ignore();
                }
                Op::Del { pid } => {
                    pipe.cmd("DEL").arg(cl.keys.session(&pid)).ignore();
                }
            }
        }
        let mut c = cl.conn();
        if let Err(e) = pipe.query_async::<()>(&mut c).await {
            // Those sessions will not recover elsewhere; the engine counts the failure
            // when their clients come back.
            cl.down("writing sessions", &e);
        }
    }
}

/// Keep the live sessions' records from expiring while their sockets are connected.
fn spawn_refresh(sessions: std::sync::Weak<Sessions>) {
    tokio::spawn(async move {
        loop {
            let Some(s) = sessions.upgrade() else { return };
            let every = s.refresh_every();
            let ttl = s.live_ttl();
            let pids = s.live_pids();
            let cl = s.cluster.clone();
            drop(s);
            for chunk in pids.chunks(1000) {
                let mut pipe = redis::pipe();
                for pid in chunk {
                    pipe.cmd("PEXPIRE")
                        .arg(cl.keys.session(pid))
                        .arg(ttl.as_millis() as u64)
                        .ignore();
                }
                let mut c = cl.conn();
                if let Err(e) = pipe.query_async::<()>(&mut c).await {
                    cl.down("refreshing sessions", &e);
                    break;
                }
            }
            tokio::time::sleep(every).await;
        }
    });
}
