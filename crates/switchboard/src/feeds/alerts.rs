//! System alerts: stored, then `alert:system` (the last 10, newest first) to everyone;
//! also sent to each new connection when any exist. The feature owns the in-memory list
//! of recent alerts.

use parking_lot::Mutex;
use std::sync::Arc;

use crate::hub::Hub;
use crate::store::{Alert, NewAlert, Store, StoreError};
use crate::telemetry::Telemetry;

/// Alerts sent in `alert:system`.
pub const RECENT: usize = 10;

/// System alerts: the store behind them and the recent ones, newest first.
pub struct Alerts {
    store: Store,
    hub: Hub,
    telemetry: Arc<Telemetry>,
    peers: super::Peers,
    recent: Mutex<Vec<Alert>>,
}

impl Alerts {
    /// Start from the store's recent alerts.
    pub async fn open(
        store: Store,
        hub: Hub,
        telemetry: Arc<Telemetry>,
        peers: super::Peers,
    ) -> Result<Self, StoreError> {
        let recent = store.recent_alerts(RECENT as i64).await?;
        Ok(Self {
            store,
            hub,
            telemetry,
            peers,
            recent: Mutex::new(recent),
        })
    }

    /// Re-read the recent alerts from the store (another node raised one).
    pub async fn reload(&self) -> Result<(), StoreError> {
        *self.recent.lock() = self.list(RECENT as i64).await?;
        Ok(())
    }

    /// A copy of the recent alerts.
    pub fn recent(&self) -> Vec<Alert> {
        self.recent.lock().clone()
    }

    /// The last `limit` alerts from the store, newest first.
    pub async fn list(&self, limit: i64) -> Result<Vec<Alert>, StoreError> {
        self.store
            .recent_alerts(limit)
            .await
            .inspect_err(|_| self.telemetry.db_error())
    }

    /// Store an alert and tell everyone.
    pub async fn raise(&self, new: &NewAlert) -> Result<Alert, StoreError> {
        let now = crate::support::clock::now_ms();
        let alert = self
            .store
            .create_alert(new, now)
            .await
            .inspect_err(|_| self.telemetry.db_error())?;
        let list = {
            let mut r = self.recent.lock();
            r.insert(0, alert.clone());
            r.truncate(RECENT);
            r.clone()
        };
        self.peers.tell(super::CacheChange::Alerts);
        let _ = self.hub.root().broadcast().emit("alert:system", &list);
        Ok(alert)
    }

    /// On connect: the recent alerts, if any.
    pub fn on_connection(&self, socket: &sio::Socket) {
        let list = self.recent();
        if !list.is_empty() {
            let _ = socket.emit("alert:system", &list);
        }
    }
}
