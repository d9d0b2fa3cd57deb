//! Live feeds built on the store, one type per feature, each owning its cache, its room
//! naming and its handles to the store and the engine: [`Kpis`], [`Dashboard`],
//! [`Notifications`], [`Alerts`], [`LoadMetrics`], the queue system's [`Queue`] events,
//! and the `--demo` simulator. Every feed writes through the [`Store`] first and then
//! emits, so what clients see is what is stored. Periodic ticks are volatile; change
//! events are reliable.
//!
//! [`Feeds`] holds them all; the rules table's `on_join` names resolve to a feature here
//! ([`Feeds::hook`]), once, at start-up.

pub mod alerts;
pub mod dashboard;
pub mod demo;
pub mod kpi;
pub mod load;
pub mod notify;
mod pacing;
pub mod presence;
pub mod queue;

pub use alerts::Alerts;
pub use dashboard::Dashboard;
pub use kpi::Kpis;
pub use load::LoadMetrics;
pub use notify::{Notifications, Recipients};
pub use presence::Presence;
pub use queue::Queue;

use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::hub::Hub;
use crate::rules::{Identity, OnJoin};
use crate::store::{Store, StoreError};
use crate::telemetry::Telemetry;

/// A change to a feature's cache that other nodes of a cluster must apply: they re-read
/// it from the shared store. Sent by the feature that owns the cache, after its write.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CacheChange {
    /// A module's KPIs were written.
    Kpis {
        /// The module key.
        module: String,
    },
    /// An alert was raised.
    Alerts,
}

/// Where features tell their cache changes (cluster mode); a single node has no peers
/// and the changes go nowhere. Cheap to clone.
#[derive(Clone, Default)]
pub struct Peers(Arc<std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<CacheChange>>>);

impl Peers {
    /// Tell the other nodes (if any) about `change`.
    pub fn tell(&self, change: CacheChange) {
        if let Some(tx) = self.0.get() {
            let _ = tx.send(change);
        }
    }

    /// The stream of changes to forward to the other nodes (taken once, by the cluster).
    pub fn subscribe(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<CacheChange>> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        self.0.set(tx).ok().map(|()| rx)
    }
}

/// A successful join, as an `on_join` feature sees it.
#[derive(Debug)]
pub struct Joined<'a> {
    /// The client event.
    pub event: &'a str,
    /// The room joined.
    pub room: &'a str,
    /// The value that filled the room template (`None` for a static room).
    pub id: Option<&'a str>,
    /// The caller.
    pub who: &'a Identity,
}

/// What runs after a join: a feature resolved from an [`OnJoin`] name.
pub type JoinHook = Arc<dyn Fn(&sio::Socket, &Joined<'_>) + Send + Sync>;

/// Every feature, composed once by `app`.
pub struct Feeds {
    /// Module KPIs.
    pub kpis: Arc<Kpis>,
    /// The ERP dashboard summary.
    pub dashboard: Arc<Dashboard>,
    /// Notifications.
    pub notifications: Arc<Notifications>,
    /// System alerts.
    pub alerts: Arc<Alerts>,
    /// `loadBalancingMetrics`.
    pub load: Arc<LoadMetrics>,
    /// The queue system's presence events.
    pub queue: Arc<Queue>,
    /// Who is in the presence rooms.
    pub presence: Arc<Presence>,
    /// Where cache changes go for the other nodes.
    pub peers: Peers,
}

impl Feeds {
    /// Load the caches from `store`; deliveries go through `hub`.
    pub async fn open(
        store: Store,
        hub: Hub,
        telemetry: Arc<Telemetry>,
        presence: Presence,
    ) -> Result<Self, StoreError> {
        let peers = Peers::default();
        let kpis = Arc::new(
            Kpis::open(store.clone(), hub.clone(), telemetry.clone(), peers.clone()).await?,
        );
        let alerts = Arc::new(
            Alerts::open(store.clone(), hub.clone(), telemetry.clone(), peers.clone()).await?,
        );
        Ok(Self {
            dashboard: Arc::new(Dashboard::new(kpis.clone(), hub.clone(), telemetry.started)),
            notifications: Arc::new(Notifications::new(store, hub.clone(), telemetry.clone())),
            load: Arc::new(LoadMetrics::new(hub, telemetry)),
            queue: Arc::new(Queue),
            presence: Arc::new(presence),
            kpis,
            alerts,
            peers,
        })
    }

    /// Apply another node's cache change: re-read that cache from the shared store.
    pub async fn apply(&self, change: &CacheChange) -> Result<(), StoreError> {
        match change {
            CacheChange::Kpis { .. } => self.kpis.reload().await,
            CacheChange::Alerts => self.alerts.reload().await,
        }
    }

    /// Re-read every cache from the store (after the cluster bus was unreachable, when
    /// changes may have been missed).
    pub async fn reload(&self) -> Result<(), StoreError> {
        self.kpis.reload().await?;
        self.alerts.reload().await
    }

    /// The feature an `on_join` name stands for.
    pub fn hook(&self, on: OnJoin) -> JoinHook {
        match on {
            OnJoin::KpiSnapshot => {
                let kpis = self.kpis.clone();
                Arc::new(move |s, j| kpis.snapshot(s, j.id.unwrap_or_default()))
            }
            OnJoin::DashboardSnapshot => {
                let dashboard = self.dashboard.clone();
                Arc::new(move |s, _| dashboard.snapshot(s))
            }
            OnJoin::NotificationReplay => {
                let notifications = self.notifications.clone();
                Arc::new(move |s, j| notifications.replay_later(s, j.who, j.event))
            }
            OnJoin::StaffUpdate => {
                let queue = self.queue.clone();
                Arc::new(move |s, j| queue.staff_joined(s, j.room))
            }
            OnJoin::QueueUserJoined => {
                let queue = self.queue.clone();
                Arc::new(move |s, j| queue.user_joined(s, j.room, j.id.unwrap_or_default()))
            }
        }
    }

    /// A socket connected (after the connect hook): the recent alerts; a recovered
    /// socket is back in its presence rooms.
    pub fn on_connection(&self, socket: &sio::Socket) {
        if socket.recovered() {
            self.presence.restored(socket);
        }
        self.alerts.on_connection(socket);
    }

    /// A socket left.
    pub fn on_disconnect(&self, socket: &sio::Socket) {
        self.queue.on_disconnect(socket);
        self.presence.disconnected(socket);
    }

    /// Run the periodic ticks until the features are dropped.
    pub fn spawn_ticks(
        &self,
        telemetry: &Arc<Telemetry>,
        kpi_every: Duration,
        dashboard_every: Duration,
    ) {
        let t = Arc::downgrade(telemetry);
        tick(
            Arc::downgrade(&self.kpis),
            t.clone(),
            kpi_every,
            "kpi",
            move |k| async move { k.tick(kpi_every / 2).await },
        );
        tick(
            Arc::downgrade(&self.dashboard),
            t.clone(),
            dashboard_every,
            "dashboard",
            move |d| async move { d.tick(dashboard_every / 2).await },
        );
        tick(
            Arc::downgrade(&self.load),
            t,
            dashboard_every,
            "load_balancing_metrics",
            move |l| async move { l.tick(dashboard_every / 2).await },
        );
    }
}

/// Run `f` on `feature` every `every` (the first tick one period after start), timing
/// each run into `feed_tick_duration_seconds` (a paced tick's whole run, yields included).
fn tick<T, F, Fut>(
    feature: Weak<T>,
    telemetry: Weak<Telemetry>,
    every: Duration,
    name: &'static str,
    f: F,
) where
    T: Send + Sync + 'static,
    F: Fn(Arc<T>) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    tokio::spawn(async move {
        let mut iv = tokio::time::interval(every);
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        iv.tick().await; // the first tick is immediate
        loop {
            iv.tick().await;
            let Some(feature) = feature.upgrade() else {
                return;
            };
            let started = std::time::Instant::now();
            f(feature).await;
            if let Some(t) = telemetry.upgrade() {
                let label = vec![("feed".to_owned(), name.to_owned())];
                t.tick_seconds
                    .get_or_create(&label)
                    .observe(started.elapsed().as_secs_f64());
            }
        }
    });
}
