//! `dashboard:update { summaryCards, topKPIs, timestamp }`, derived from the KPI cache and
//! the server's own figures — nothing here is hard-coded data.

use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Instant;

use super::Kpis;
use crate::hub::Hub;
use crate::store::KpiRecord;
use crate::support::clock::timestamp;

/// The ERP dashboard room (not the queue system's staff-only `dashboard`).
pub const ROOM: &str = "kpi-dashboard";
/// How many KPIs `topKPIs` lists.
pub const TOP_N: usize = 5;

fn rank(status: &str) -> u8 {
    match status {
        "error" => 3,
        "warning" => 2,
        "success" => 1,
        _ => 0,
    }
}

/// A module's display name.
pub fn title(module: &str) -> String {
    match module {
        "crm" | "hr" => module.to_uppercase(),
        "elearning" => "E-learning".to_owned(),
        _ => {
            let mut c = module.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect())
                .unwrap_or_default()
        }
    }
}

fn number(v: &Value) -> Option<f64> {
    v.as_f64()
        .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
}

/// Relative change of a KPI since its previous value, when both are numbers.
fn change(k: &KpiRecord) -> Option<(f64, f64)> {
    let now = number(&k.kpi.value)?;
    let before = number(k.previous.as_ref()?)?;
    let abs = now - before;
    let pct = if before != 0.0 {
        abs / before.abs() * 100.0
    } else if abs != 0.0 {
        100.0
    } else {
        0.0
    };
    Some((abs, pct))
}

/// The ERP dashboard summary: derived from the KPIs, sent to its room.
pub struct Dashboard {
    kpis: Arc<Kpis>,
    hub: Hub,
    started: Instant,
}

impl Dashboard {
    /// A dashboard over `kpis`; uptime counts from `started`.
    pub fn new(kpis: Arc<Kpis>, hub: Hub, started: Instant) -> Self {
        Self { kpis, hub, started }
    }

    /// Build the summary from the current state.
    pub fn summary(&self) -> Value {
        summary(
            &self.kpis.all(),
            self.hub.root().socket_count(),
            self.started.elapsed().as_secs(),
        )
    }

    /// The summary to one socket (the `dashboard_snapshot` join hook).
    pub fn snapshot(&self, socket: &sio::Socket) {
        let _ = socket.emit("dashboard:update", &self.summary());
    }

    /// Volatile periodic update to the dashboard room (skipped when nobody watches),
    /// spread over `within` (see `pacing`).
    pub async fn tick(&self, within: std::time::Duration) {
        let ns = self.hub.root();
        if ns.room_size(ROOM) == 0 {
            return;
        }
        if let Ok(p) = ns.to(ROOM).paced("dashboard:update", &self.summary()) {
            super::pacing::spread(&mut [p], within, |p, page| Some(p.push(page))).await;
        }
    }
}

/// The summary of `all` KPIs, `connections` and `uptime` seconds.
fn summary(
    all: &std::collections::BTreeMap<String, Vec<KpiRecord>>,
    connections: usize,
    uptime: u64,
) -> Value {
    let mut cards: Vec<Value> = all
        .iter()
        .map(|(module, list)| {
            let worst = list.iter().filter_map(|k| k.kpi.status.as_deref()).max_by_key(|s| rank(s)).unwrap_or("info");
            let count = |s: &str| list.iter().filter(|k| k.kpi.status.as_deref() == Some(s)).count();
            json!({
                "id": format!("module:{module}"),
                "module": module,
                "title": title(module),
                "status": worst,
                "kpiCount": list.len(),
                "counts": { "success": count("success"), "warning": count("warning"), "error": count("error"), "info": count("info") },
                "updatedAt": list.iter().map(|k| k.updated_at_ms).max(),
            })
        })
        .collect();
    cards.push(json!({ "id": "system:connections", "title": "Live connections", "value": connections, "status": "info" }));
    cards.push(json!({
        "id": "system:uptime", "title": "Server uptime", "value": format!("{}h {:02}m", uptime / 3600, uptime / 60 % 60),
        "seconds": uptime, "status": "info",
    }));
    let mut moved: Vec<(f64, Value)> = all
        .iter()
        .flat_map(|(module, list)| list.iter().map(move |k| (module, k)))
        .filter_map(|(module, k)| {
            let (abs, pct) = change(k)?;
            Some((
                pct.abs(),
                json!({
                    "module": module, "id": k.kpi.id, "label": k.kpi.label, "value": k.kpi.value,
                    "previous": k.previous, "change": abs, "changePercent": (pct * 10.0).round() / 10.0,
                    "status": k.kpi.status, "trend": k.kpi.trend,
                }),
            ))
        })
        .collect();
    moved.sort_by(|a, b| b.0.total_cmp(&a.0));
    let top: Vec<Value> = moved.into_iter().take(TOP_N).map(|(_, v)| v).collect();
    json!({ "summaryCards": cards, "topKPIs": top, "timestamp": timestamp() })
}
