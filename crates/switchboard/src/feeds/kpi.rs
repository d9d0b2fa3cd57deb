//! Module KPIs: an in-memory copy of the store's KPIs (loaded at start, updated on every
//! write) so snapshots and the periodic re-broadcast need no query per subscriber.

use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::RwLock;

use crate::app::Shared;
use crate::store::{Kpi, KpiRecord, StoreError};

/// KPI statuses clients understand.
pub const STATUSES: &[&str] = &["success", "warning", "error", "info"];

/// The current KPIs of every module.
#[derive(Debug, Default)]
pub struct KpiCache {
    modules: RwLock<BTreeMap<String, Vec<KpiRecord>>>,
}

impl KpiCache {
    /// Start from what the store holds.
    pub fn new(all: BTreeMap<String, Vec<KpiRecord>>) -> Self {
        Self {
            modules: RwLock::new(all),
        }
    }
    /// One module's KPIs (empty if unknown).
    pub fn module(&self, module: &str) -> Vec<KpiRecord> {
        self.modules
            .read()
            .expect("kpi lock")
            .get(module)
            .cloned()
            .unwrap_or_default()
    }
    /// Every module with its KPIs.
    pub fn all(&self) -> BTreeMap<String, Vec<KpiRecord>> {
        self.modules.read().expect("kpi lock").clone()
    }
    fn set(&self, module: &str, list: Vec<KpiRecord>) {
        self.modules
            .write()
            .expect("kpi lock")
            .insert(module.to_owned(), list);
    }
    /// Module names.
    pub fn modules(&self) -> Vec<String> {
        self.modules
            .read()
            .expect("kpi lock")
            .keys()
            .cloned()
            .collect()
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
            None | Some(Value::Null) => None,
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
            trend: obj.get("trend").filter(|v| !v.is_null()).cloned(),
            status,
            chart: obj.get("chart").filter(|v| !v.is_null()).cloned(),
        });
    }
    Ok(out)
}

/// Store the KPIs, then emit the module's full list to its room (reliable).
pub async fn put(sh: &Shared, module: &str, kpis: &[Kpi]) -> Result<Vec<KpiRecord>, KpiError> {
    let list = sh.store.upsert_kpis(module, kpis, super::now_ms()).await?;
    sh.kpis.set(module, list.clone());
    let _ = sh.root().to(room(module)).emit(&event(module), &list);
    Ok(list)
}

/// Send a module's snapshot to one socket.
pub fn snapshot(sh: &Shared, socket: &sio::Socket, module: &str) {
    let _ = socket.emit(&event(module), &sh.kpis.module(module));
}

/// Volatile re-broadcast of each module's KPIs to its room, skipping empty rooms.
pub fn tick(sh: &Shared) {
    let ns = sh.root();
    for (module, list) in sh.kpis.all() {
        let r = room(&module);
        if ns.room_size(&r) > 0 {
            let _ = ns.to(&r).volatile().emit(&event(&module), &list);
        }
    }
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
}
