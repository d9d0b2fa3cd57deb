//! System alerts: stored, then `alert:system` (the last 10, newest first) to everyone;
//! also sent to each new connection when any exist.

use std::sync::Mutex;

use crate::app::Shared;
use crate::store::{Alert, NewAlert, StoreError};

/// Alerts sent in `alert:system`.
pub const RECENT: usize = 10;

/// The recent alerts, newest first (kept in memory: sent on every connect).
#[derive(Debug, Default)]
pub struct AlertCache {
    recent: Mutex<Vec<Alert>>,
}

impl AlertCache {
    /// Start from the store's recent alerts (newest first).
    pub fn new(recent: Vec<Alert>) -> Self {
        Self {
            recent: Mutex::new(recent),
        }
    }
    /// A copy of the recent alerts.
    pub fn recent(&self) -> Vec<Alert> {
        self.recent.lock().expect("alerts lock").clone()
    }
}

/// Store an alert and tell everyone.
pub async fn raise(sh: &Shared, new: &NewAlert) -> Result<Alert, StoreError> {
    let alert = sh.store.create_alert(new, super::now_ms()).await?;
    let list = {
        let mut r = sh.alerts.recent.lock().expect("alerts lock");
        r.insert(0, alert.clone());
        r.truncate(RECENT);
        r.clone()
    };
    let _ = sh.root().broadcast().emit("alert:system", &list);
    Ok(alert)
}

/// On connect: the recent alerts, if any.
pub fn on_connect(sh: &Shared, socket: &sio::Socket) {
    let list = sh.alerts.recent();
    if !list.is_empty() {
        let _ = socket.emit("alert:system", &list);
    }
}
