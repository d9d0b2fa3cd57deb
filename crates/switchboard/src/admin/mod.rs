//! The Socket.IO Admin UI (`@socket.io/admin-ui` 0.5) against Switchboard: the `/admin`
//! namespace as the UI expects it (socket.io-admin-ui `lib/index.ts`), and the UI's files
//! at `/admin-ui/` ([`ui`]).
//!
//! - **Sign-in**: `auth: { username, password }` checked against the bcrypt hash of the
//!   configuration, then a `session` id (12 h, at most [`MAX_SESSIONS`]) that the UI
//!   presents on reconnects; or an admin's JWT (`roles` holds `admin_role`) as
//!   `auth.token`, or pasted as the password with an empty user name.
//! - **What the UI sees**: `config { supportedFeatures }`, `all_sockets`, `server_stats`
//!   every 2 s, and the live socket/room/event notifications ([`live`], fed by the
//!   engine's [`sio::Observer`] hook).
//! - **Actions**: `emit` (through the adapter), `join`, `leave`, `_disconnect`.
//!   `admin_read_only` advertises none and refuses them (counted, logged).
//!
//! In a cluster the admin namespaces act as one, as socket.io's do through its adapter
//! ([`relay`]): each node is its own server (`serverId` = the node id) and sends its
//! `server_stats` and notifications to the admins of every node while one watches
//! anywhere; `all_sockets` lists every node's sockets; `join`, `leave` and `_disconnect`
//! reach every node's sockets.

mod live;
pub mod relay;
pub mod ui;

pub use relay::AdminMessage;
use relay::{Action, Op};

use parking_lot::Mutex;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::Config;
use crate::hub::Hub;
use crate::identity::Verifier;
use crate::telemetry::{inc, Telemetry};

/// Admin sessions kept at once; the oldest goes first.
const MAX_SESSIONS: usize = 10_000;
/// How long a session id signs an admin in again.
const SESSION_TTL: Duration = Duration::from_secs(12 * 3600);
/// How long a new admin waits for the other nodes' sockets (socket.io's
/// `fetchSockets` waits 5 s; the UI shows nothing until then, so it waits less here).
const LIST_WAIT: Duration = Duration::from_secs(1);
/// `server_stats` period (socket.io-admin-ui's).
const STATS_EVERY: Duration = Duration::from_secs(2);
/// Sockets listed in the first `all_sockets` (one reliable packet): past this the list is
/// cut (counted, logged) and the UI learns of later sockets from `socket_connected`.
const MAX_LISTED: usize = 2_000;
/// Sign-ins that may wait for the one bcrypt check at a time; past it they are refused
/// at once, so a flood of guesses cannot queue the real admin out.
const MAX_WAITING: usize = 8;
/// How long a sign-in waits for its bcrypt check.
const BCRYPT_WAIT: Duration = Duration::from_secs(5);

/// What `config.supportedFeatures` advertises: the seven actions (unless read-only), then
/// aggregated and per-socket events.
const ACTIONS: [&str; 7] = [
    "EMIT",
    "JOIN",
    "LEAVE",
    "DISCONNECT",
    "MJOIN",
    "MLEAVE",
    "MDISCONNECT",
];

/// The admin namespace's state: credentials, sessions, the watchers, the event buffer.
pub struct Admin {
    username: String,
    password_hash: String,
    read_only: bool,
    role: String,
    verifier: Arc<Verifier>,
    telemetry: Arc<Telemetry>,
    hub: Hub,
    node_id: String,
    started: Instant,
    sessions: Mutex<HashMap<String, Instant>>,
    /// One bcrypt check at a time: a flood of wrong passwords costs one core, not all.
    bcrypt_gate: tokio::sync::Semaphore,
    /// Sign-ins waiting for `bcrypt_gate`.
    bcrypt_waiting: std::sync::atomic::AtomicUsize,
    /// The watchers and the live notifications.
    live: Arc<live::Live>,
    /// New admins waiting for the other nodes' sockets, by request id.
    listing: Mutex<HashMap<String, tokio::sync::mpsc::UnboundedSender<Vec<Value>>>>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("username", &self.username)
            .field("read_only", &self.read_only)
            .finish_non_exhaustive()
    }
}

/// Why a sign-in was refused (the UI shows `invalid credentials` for all of them).
#[derive(Debug)]
enum Refused {
    Credentials,
    Token(String),
    NotAdmin,
    Busy,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Credentials => f.write_str("wrong user name or password"),
            Self::Token(e) => f.write_str(e),
            Self::NotAdmin => {
                f.write_str("the token does not carry the admin role (or names a tenant)")
            }
            Self::Busy => f.write_str("too many sign-ins waiting for a password check"),
        }
    }
}

impl Admin {
    /// The admin namespace, when `admin_username` and `admin_password_hash` are set.
    pub fn from_config(
        config: &Config,
        verifier: Arc<Verifier>,
        telemetry: Arc<Telemetry>,
        hub: Hub,
        node_id: String,
    ) -> Option<Arc<Self>> {
        let (Some(user), Some(hash)) = (&config.admin_username, &config.admin_password_hash) else {
            return None;
        };
        Some(Arc::new(Self {
            username: user.clone(),
            password_hash: hash.expose().to_owned(),
            read_only: config.admin_read_only,
            role: config.admin_role.clone(),
            verifier,
            node_id,
            started: Instant::now(),
            sessions: Mutex::new(HashMap::new()),
            bcrypt_gate: tokio::sync::Semaphore::new(1),
            bcrypt_waiting: std::sync::atomic::AtomicUsize::new(0),
            live: Arc::new(live::Live::new(hub.clone(), telemetry.clone())),
            listing: Mutex::new(HashMap::new()),
            telemetry,
            hub,
        }))
    }

    /// Register `/admin` and the engine observer on `b`.
    pub fn install(self: &Arc<Self>, b: sio::ServerBuilder) -> sio::ServerBuilder {
        let me = self.clone();
        b.observer(self.live.clone())
            .namespace("/admin", move |ns| {
                let a = me.clone();
                let ns = ns.on_connect(move |socket, auth| {
                    let a = a.clone();
                    async move { a.sign_in(&socket, auth).await }
                });
                let a = me.clone();
                let ns = ns.on_connection(move |socket| a.on_connection(socket));
                let a = me.clone();
                let ns = ns.on_disconnect(move |socket, _| {
                    // Only a socket whose `on_connection` ran is counted (a session may
                    // close between the two).
                    if socket.get::<Watching>().is_some() {
                        a.live.watch(false);
                    }
                });
                let a = me.clone();
                ns.on_any(move |socket, ev| a.on_action(socket, ev))
            })
    }

    /// Send `server_stats` every 2 s while admins watch.
    pub fn spawn_stats(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(STATS_EVERY);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            let mut last = Totals::default();
            loop {
                tick.tick().await;
                let Some(a) = weak.upgrade() else { return };
                let now = a.totals();
                let aggregated = a.aggregated(&last, &now);
                last = now;
                if a.live.watched_here() {
                    a.live.peers.tell(AdminMessage::Watching);
                }
                if a.live.watched() {
                    a.live
                        .to_admins("server_stats", &[a.server_stats(aggregated)]);
                }
            }
        });
    }

    async fn sign_in(&self, socket: &sio::Socket, auth: Value) -> Result<(), sio::ConnectError> {
        match self.check(&auth).await {
            Ok(new_session) => {
                if let Some(id) = new_session {
                    socket.insert(NewSession(id));
                }
                Ok(())
            }
            Err(why) => {
                inc(&self.telemetry.counters.admin_sign_in_failures);
                tracing::warn!(
                    socket = socket.id(),
                    reason = %why,
                    address = ?socket.handshake().remote,
                    "admin sign-in refused"
                );
                Err(sio::ConnectError::new("invalid credentials"))
            }
        }
    }

    /// `Ok(Some(id))`: signed in with a password, `id` the new session.
    async fn check(&self, auth: &Value) -> Result<Option<String>, Refused> {
        let field = |k: &str| auth.get(k).and_then(Value::as_str).unwrap_or("");
        let session = field("sessionId");
        if !session.is_empty() && self.session_valid(session) {
            return Ok(None);
        }
        let (user, password, token) = (field("username"), field("password"), field("token"));
        // A JWT: `auth.token`, or pasted into the UI's password field with no user name.
        let token = match (token, user) {
            ("", "") if password.split('.').count() == 3 => password,
            (t, _) => t,
        };
        if !token.is_empty() {
            let who = self
                .verifier
                .identify(Some(token))
                .map_err(|e| Refused::Token(e.to_string()))?;
            // A tenant's admin is not the server's: the admin sees every tenant's sockets.
            return if who.roles.contains(&self.role) && who.tenant.is_none() {
                Ok(None)
            } else {
                Err(Refused::NotAdmin)
            };
        }
        if password.is_empty() {
            return Err(Refused::Credentials);
        }
        // bcrypt runs whatever the user name, so the answer's timing does not tell a
        // wrong name from a wrong password.
        let ok = self.bcrypt(password).await? && user == self.username;
        if !ok {
            return Err(Refused::Credentials);
        }
        Ok(Some(self.new_session()))
    }

    /// Check `password` against the hash: one check at a time, at most [`MAX_WAITING`]
    /// waiting, each at most [`BCRYPT_WAIT`].
    async fn bcrypt(&self, password: &str) -> Result<bool, Refused> {
        if self.bcrypt_waiting.fetch_add(1, Relaxed) >= MAX_WAITING {
            self.bcrypt_waiting.fetch_sub(1, Relaxed);
            return Err(Refused::Busy);
        }
        let permit = tokio::time::timeout(BCRYPT_WAIT, self.bcrypt_gate.acquire()).await;
        self.bcrypt_waiting.fetch_sub(1, Relaxed);
        let Ok(Ok(_permit)) = permit else {
            return Err(Refused::Busy);
        };
        let (password, hash) = (password.to_owned(), self.password_hash.clone());
        Ok(
            tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash))
                .await
                .is_ok_and(|r| r.unwrap_or(false)),
        )
    }

    fn session_valid(&self, id: &str) -> bool {
        let mut s = self.sessions.lock();
        match s.get(id) {
            Some(at) if at.elapsed() < SESSION_TTL => true,
            Some(_) => {
                s.remove(id);
                false
            }
            None => false,
        }
    }

    fn new_session(&self) -> String {
        let id = format!("{:032x}", rand::random::<u128>());
        let mut s = self.sessions.lock();
        s.retain(|_, at| at.elapsed() < SESSION_TTL);
        if s.len() >= MAX_SESSIONS {
            if let Some(oldest) = s.iter().min_by_key(|(_, at)| **at).map(|(k, _)| k.clone()) {
                s.remove(&oldest);
            }
        }
        s.insert(id.clone(), Instant::now());
        id
    }

    fn features(&self) -> Vec<&'static str> {
        let mut f: Vec<&'static str> = if self.read_only {
            Vec::new()
        } else {
            ACTIONS.to_vec()
        };
        f.extend(["AGGREGATED_EVENTS", "ALL_EVENTS"]);
        f
    }

    /// The messages of the other nodes' admin namespaces (the cluster calls this).
    pub fn peers(&self) -> &relay::Peers {
        &self.live.peers
    }

    /// A message from another node's admin namespace.
    pub fn receive(&self, msg: AdminMessage) {
        match msg {
            AdminMessage::Watching => self.live.watched_elsewhere(),
            AdminMessage::Notify { event, args } => self.live.to_admins_here(&event, args),
            AdminMessage::Act(action) => match self.apply(&action) {
                Ok(n) => tracing::info!(?action, sockets = n, "admin action from another node"),
                Err(e) => {
                    tracing::warn!(?action, error = e, "admin action from another node refused")
                }
            },
            AdminMessage::List { request } => {
                self.live.watched_elsewhere();
                let (sockets, _) = self.local_sockets();
                self.live
                    .peers
                    .tell(AdminMessage::Sockets { request, sockets });
            }
            AdminMessage::Sockets { request, sockets } => {
                if let Some(tx) = self.listing.lock().get(&request) {
                    let _ = tx.send(sockets);
                }
            }
        }
    }

    fn on_connection(self: &Arc<Self>, socket: &sio::Socket) {
        socket.insert(Watching);
        self.live.watch(true);
        if let Some(NewSession(id)) = socket.get::<NewSession>() {
            let _ = socket.emit("session", &id);
        }
        let _ = socket.emit("config", &json!({ "supportedFeatures": self.features() }));
        let (all, total) = self.local_sockets();
        // The other nodes of the registry answer with theirs (a node that is down or
        // slower than LIST_WAIT is left out, logged).
        let others = self.telemetry.cluster.nodes().len().saturating_sub(1);
        if others == 0 || !self.live.peers.clustered() {
            self.list(socket, all, total);
            return;
        }
        let (me, socket) = (self.clone(), socket.clone());
        tokio::spawn(async move {
            let request = format!("{:032x}", rand::random::<u128>());
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
            me.listing.lock().insert(request.clone(), tx);
            let (mut all, mut total, mut answered) = (all, total, 0);
            if me.live.peers.tell(AdminMessage::List {
                request: request.clone(),
            }) {
                let deadline = tokio::time::sleep(LIST_WAIT);
                tokio::pin!(deadline);
                while answered < others {
                    tokio::select! {
                        Some(theirs) = rx.recv() => {
                            total += theirs.len();
                            all.extend(theirs);
                            answered += 1;
                        }
                        () = &mut deadline => break,
                    }
                }
            }
            me.listing.lock().remove(&request);
            if answered < others {
                tracing::warn!(
                    answered,
                    nodes = others,
                    "admin: not every node listed its sockets in time"
                );
            }
            me.list(&socket, all, total);
        });
    }

    /// This node's sockets as the UI lists them (at most [`MAX_LISTED`]), and how many
    /// there are.
    fn local_sockets(&self) -> (Vec<Value>, usize) {
        let namespaces = self.hub.io().namespaces();
        let total: usize = namespaces.iter().map(|ns| ns.socket_count()).sum();
        let all = namespaces
            .iter()
            .flat_map(|ns| ns.sockets())
            .take(MAX_LISTED)
            .map(|s| live::serialize(&s))
            .collect();
        (all, total)
    }

    /// The first `all_sockets` and `server_stats` of a new admin.
    fn list(&self, socket: &sio::Socket, mut all: Vec<Value>, total: usize) {
        if total > MAX_LISTED {
            all.truncate(MAX_LISTED);
            inc(&self.telemetry.counters.admin_refused);
            tracing::warn!(listed = MAX_LISTED, total, "admin: all_sockets cut");
        }
        let _ = socket.emit("all_sockets", &all);
        let _ = socket.emit("server_stats", &self.server_stats(Vec::new()));
    }

    /// `emit`, `join`, `leave`, `_disconnect` (anything else is refused and counted).
    fn on_action(&self, socket: &sio::Socket, ev: sio::Event) {
        let name = ev.name().to_owned();
        if self.read_only || !matches!(name.as_str(), "emit" | "join" | "leave" | "_disconnect") {
            inc(&self.telemetry.counters.admin_refused);
            tracing::warn!(socket = socket.id(), event = %name, read_only = self.read_only, "admin action refused");
            return;
        }
        match self.act(&name, &ev) {
            Ok(n) => {
                inc(&self.telemetry.counters.admin_actions);
                tracing::info!(socket = socket.id(), action = %name, sockets = n, "admin action");
            }
            Err(e) => {
                inc(&self.telemetry.counters.admin_refused);
                tracing::warn!(socket = socket.id(), action = %name, error = e, "admin action refused");
            }
        }
    }

    /// Carry out an action; the number of sockets it reached.
    fn act(&self, name: &str, ev: &sio::Event) -> Result<usize, &'static str> {
        let nsp: String = ev
            .arg(0)
            .map_err(|_| "the first argument is the namespace")?;
        // The room filter: `emit`'s second argument, the others' last.
        let filter_at = if name == "emit" { 1 } else { 2 };
        // Absent, null or "" means every socket; anything else but a room name is refused
        // (never read as "everyone").
        let filter = if filter_at < ev.arg_count() {
            ev.arg::<Option<String>>(filter_at)
                .map_err(|_| "the room filter must be a string")?
        } else {
            None
        };
        let filter = filter.filter(|f| !f.is_empty());
        if name == "emit" {
            let event: String = ev.arg(2).map_err(|_| "the third argument is the event")?;
            let args: Vec<&str> = (3..ev.arg_count())
                .filter_map(|i| ev.arg_raw(i).map(|r| r.get()))
                .collect();
            let ns = self.hub.io().of(&nsp).ok_or("no such namespace")?;
            let op = match &filter {
                Some(room) => ns.to(room),
                None => ns.broadcast(),
            };
            return Ok(op.emit_raw(&event, args.join(","), ev.bins().to_vec()));
        }
        let op = match name {
            "join" | "leave" => {
                let room: String = ev.arg(1).map_err(|_| "the second argument is the room")?;
                if name == "join" {
                    Op::Join(room)
                } else {
                    Op::Leave(room)
                }
            }
            _ => Op::Disconnect(ev.arg::<bool>(1).unwrap_or(false)),
        };
        let action = Action { op, nsp, filter };
        let n = self.apply(&action)?;
        // The other nodes' sockets too (socket.io's `socketsJoin`, `socketsLeave`,
        // `disconnectSockets` are cluster-wide).
        if self.live.peers.clustered() && !self.live.peers.tell(AdminMessage::Act(action)) {
            inc(&self.telemetry.counters.bus_local_only);
            tracing::warn!(
                action = name,
                "admin action not relayed: this node's sockets only"
            );
        }
        Ok(n)
    }

    /// Carry out an action on this node's sockets; how many it reached.
    fn apply(&self, action: &Action) -> Result<usize, &'static str> {
        let ns = self.hub.io().of(&action.nsp).ok_or("no such namespace")?;
        let targets: Vec<sio::Socket> = match &action.filter {
            Some(room) => ns
                .room_members(room)
                .iter()
                .filter_map(|id| ns.socket(id))
                .collect(),
            None => ns.sockets(),
        };
        for s in &targets {
            match &action.op {
                Op::Join(room) => {
                    s.join(room);
                }
                Op::Leave(room) => {
                    s.leave(room);
                }
                Op::Disconnect(true) => s.close_connection(),
                Op::Disconnect(false) => s.disconnect(),
            }
        }
        Ok(targets.len())
    }

    fn server_stats(&self, aggregated: Vec<Value>) -> Value {
        let io = self.hub.io();
        let (_, polling) = io.sessions_by_transport();
        let namespaces: Vec<Value> = io
            .namespaces()
            .iter()
            .map(|ns| json!({ "name": ns.name(), "socketsCount": ns.socket_count() }))
            .collect();
        json!({
            "serverId": self.node_id,
            "hostname": crate::support::process::hostname(),
            "pid": std::process::id(),
            "uptime": self.started.elapsed().as_secs_f64(),
            "clientsCount": io.stats().connections.load(Relaxed),
            "pollingClientsCount": polling,
            "aggregatedEvents": aggregated,
            "namespaces": namespaces,
        })
    }

    fn totals(&self) -> Totals {
        let s = self.hub.io().stats();
        Totals {
            connections: s.connections_total.load(Relaxed),
            packets_in: s.packets_in.load(Relaxed),
            packets_out: s.emits.load(Relaxed) + s.deliveries.load(Relaxed),
            bytes_in: s.bytes_in.load(Relaxed),
            bytes_out: s.bytes_out.load(Relaxed),
        }
    }

    /// socket.io-admin-ui's `aggregatedEvents` for the last period, stamped with this
    /// second: `rawConnection`, `rawDisconnection` (by reason), packets and bytes in/out.
    /// Counts come from the engine's counters, so the hot path pays nothing for them.
    fn aggregated(&self, last: &Totals, now: &Totals) -> Vec<Value> {
        let ts = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() * 1000);
        let mut out = Vec::new();
        let mut push = |kind: &str, sub: Option<&str>, count: u64| {
            if count > 0 {
                let mut e = json!({ "timestamp": ts, "type": kind, "count": count });
                if let Some(s) = sub {
                    e["subType"] = json!(s);
                }
                out.push(e);
            }
        };
        push("rawConnection", None, now.connections - last.connections);
        for (reason, n) in self.live.take_disconnections() {
            push("rawDisconnection", Some(reason), n);
        }
        push("packetsIn", None, now.packets_in - last.packets_in);
        push("packetsOut", None, now.packets_out - last.packets_out);
        push("bytesIn", None, now.bytes_in - last.bytes_in);
        push("bytesOut", None, now.bytes_out - last.bytes_out);
        out
    }
}

/// The engine counters `aggregatedEvents` are differences of.
#[derive(Default)]
struct Totals {
    connections: u64,
    packets_in: u64,
    packets_out: u64,
    bytes_in: u64,
    bytes_out: u64,
}

/// A session id minted by the sign-in, sent once the socket is connected.
#[derive(Clone)]
struct NewSession(String);

/// An admin socket counted among the watchers.
#[derive(Clone)]
struct Watching;
