//! Module KPIs: the feature that owns the in-memory copy of the store's KPIs (loaded at
//! start, updated on every write, so snapshots and the periodic re-broadcast need no
//! query per subscriber) and the module rooms `module:{key}`.

use parking_lot::RwLock;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::hub::Hub;
use crate::store::{Kpi, KpiRecord, Store, StoreError};
use crate::telemetry::Telemetry;

/// KPI statuses clients understand.
pub const STATUSES: &[&str] = &["success", "warning", "error", "info"];

/// What a KPI carries when the writer leaves `trend` out.
pub const DEFAULT_TREND: &str = "flat";
/// What a KPI carries when the writer leaves `status` out.
pub const DEFAULT_STATUS: &str = "info";

/// Module KPIs: the cache, the store behind it, the module rooms.
pub struct Kpis {
    store: Store,
    hub: Hub,
    telemetry: Arc<Telemetry>,
    peers: super::Peers,
    modules: RwLock<BTreeMap<String, Vec<KpiRecord>>>,
    /// Bumped under `modules`' write lock on every change: a paced tick stops when the
    /// lists it is re-sending are no longer the newest.
    generation: AtomicU64,
}

impl Kpis {
    /// Start from what the store holds.
    pub async fn open(
        store: Store,
        hub: Hub,
        telemetry: Arc<Telemetry>,
        peers: super::Peers,
    ) -> Result<Self, StoreError> {
        let all = store.all_kpis().await?;
        Ok(Self {
            store,
            hub,
            telemetry,
            peers,
            modules: RwLock::new(all),
            generation: AtomicU64::new(0),
        })
    }

    /// Re-read the cache from the store (another node wrote).
    pub async fn reload(&self) -> Result<(), StoreError> {
        let all = self
            .store
            .all_kpis()
            .await
            .inspect_err(|_| self.telemetry.db_error())?;
        let mut modules = self.modules.write();
        *modules = all;
        self.generation.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
    /// One module's KPIs (empty if unknown).
    pub fn module(&self, module: &str) -> Vec<KpiRecord> {
        self.modules.read().get(module).cloned().unwrap_or_default()
    }
    /// Every module with its KPIs.
    pub fn all(&self) -> BTreeMap<String, Vec<KpiRecord>> {
        self.modules.read().clone()
    }

    /// Store the KPIs, then emit the module's full list to its room (reliable).
    pub async fn put(&self, module: &str, kpis: &[Kpi]) -> Result<Vec<KpiRecord>, KpiError> {
        let now = crate::support::clock::now_ms();
        let list = self
            .store
            .upsert_kpis(module, kpis, now)
            .await
            .inspect_err(|_| self.telemetry.db_error())?;
        {
            let mut modules = self.modules.write();
            modules.insert(module.to_owned(), list.clone());
            self.generation.fetch_add(1, Ordering::Relaxed);
        }
        self.peers.tell(super::CacheChange::Kpis {
            module: module.to_owned(),
        });
        let _ = self.hub.root().to(room(module)).emit(&event(module), &list);
        Ok(list)
    }

    /// Send a module's snapshot to one socket (the `kpi_snapshot` join hook).
    pub fn snapshot(&self, socket: &sio::Socket, module: &str) {
        let _ = socket.emit(&event(module), &self.module(module));
    }

    /// Volatile re-broadcast of each module's KPIs to its room, skipping empty rooms.
    /// Local: in a cluster every node ticks for its own sockets (README "Running a
    /// cluster"), so each subscriber gets one per interval however many nodes run.
    /// Spread over `within` (see `pacing`), so a large room's tick does not hold up other
    /// clients. A KPI write during the tick ends it: the write's own reliable update
    /// already reached every member, and an older list must not follow it (each page is
    /// pushed under the cache's read lock, which the write waits for).
    pub async fn tick(&self, within: std::time::Duration) {
        let ns = self.hub.root();
        let (generation, mut pending) = {
            let modules = self.modules.read();
            let pending: Vec<sio::Paced> = modules
                .iter()
                .filter(|(module, _)| ns.room_size(&room(module)) > 0)
                .filter_map(|(module, list)| ns.to(room(module)).paced(&event(module), list).ok())
                .collect();
            (self.generation.load(Ordering::Relaxed), pending)
        };
        super::pacing::spread(&mut pending, within, |p, page| {
            let _fresh = self.modules.read();
            (self.generation.load(Ordering::Relaxed) == generation).then(|| p.push(page))
        })
        .await;
    }
}

/// The room of a module.
pub fn room(module: &str) -> String {
    format!("module:{module}")
}

/// The event carrying a module's KPIs.
pub fn event(module: &str) -> String {
    format!("kpi:update:{module}")
}

/// Why a KPI list was refused.
#[derive(Debug, thiserror::Error)]
pub enum KpiError {
    /// A field is missing or has the wrong type.
    #[error("kpis[{index}].{field}: {reason}")]
    Invalid {
        /// Position in the array.
        index: usize,
        /// Field name.
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Store failure.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Check a PUT body: an array of `{ id, label, value, trend?, status?, chart? }`.
pub fn validate(body: &Value) -> Result<Vec<Kpi>, KpiError> {
    let invalid = |index, field, reason: &str| KpiError::Invalid {
        index,
        field,
        reason: reason.to_owned(),
    };
    let Some(items) = body.as_array() else {
        return Err(invalid(0, "body", "must be an array of KPIs"));
    };
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let Some(obj) = item.as_object() else {
            return Err(invalid(i, "item", "must be an object"));
        };
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty() && s.len() <= 128);
        let Some(id) = id else {
            return Err(invalid(
                i,
                "id",
                "required, a non-empty string of at most 128 characters",
            ));
        };
        let Some(label) = obj.get("label").and_then(Value::as_str) else {
            return Err(invalid(i, "label", "required, a string"));
        };
        let value = match obj.get("value") {
            Some(v @ (Value::Number(_) | Value::String(_))) => v.clone(),
            _ => return Err(invalid(i, "value", "required, a number or a string")),
        };
        let status = match obj.get("status") {
            None | Some(Value::Null) => Some(DEFAULT_STATUS.to_owned()),
            Some(Value::String(s)) if STATUSES.contains(&s.as_str()) => Some(s.clone()),
            Some(_) => {
                return Err(invalid(
                    i,
                    "status",
                    "must be one of success, warning, error, info",
                ))
            }
        };
        out.push(Kpi {
            id: id.to_owned(),
            label: label.to_owned(),
            value,
            trend: Some(
                obj.get("trend")
                    .filter(|v| !v.is_null())
                    .cloned()
                    .unwrap_or_else(|| json!(DEFAULT_TREND)),
            ),
            status,
            chart: obj.get("chart").filter(|v| !v.is_null()).cloned(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn validation_names_the_field() {
        assert!(validate(&json!([{ "id": "a", "label": "A", "value": 1 }])).is_ok());
        let e =
            validate(&json!([{ "id": "a", "label": "A", "value": 1 }, { "id": "b", "value": 2 }]))
                .unwrap_err();
        assert_eq!(e.to_string(), "kpis[1].label: required, a string");
        let e = validate(&json!([{ "id": "a", "label": "A", "value": true }])).unwrap_err();
        assert!(e.to_string().starts_with("kpis[0].value"));
        let e = validate(&json!([{ "id": "a", "label": "A", "value": 1, "status": "great" }]))
            .unwrap_err();
        assert!(e.to_string().starts_with("kpis[0].status"));
        assert!(validate(&json!({ "id": "a" })).is_err());
    }

    #[test]
    fn omitted_trend_and_status_are_defaulted() {
        let k = validate(&json!([{ "id": "a", "label": "A", "value": 1 }])).unwrap();
        assert_eq!(k[0].trend, Some(json!("flat")));
        assert_eq!(k[0].status.as_deref(), Some("info"));
        let k = validate(
            &json!([{ "id": "a", "label": "A", "value": 1, "trend": "up", "status": "error" }]),
        )
        .unwrap();
        assert_eq!(k[0].trend, Some(json!("up")));
        assert_eq!(k[0].status.as_deref(), Some("error"));
    }
}
