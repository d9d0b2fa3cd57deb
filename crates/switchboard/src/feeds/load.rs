//! `loadBalancingMetrics` to the queue system's staff `dashboard` room: real figures of
//! this process (connections, rooms, events per second, RSS, CPU) sampled from the engine
//! counters and `/proc/self`.

use parking_lot::Mutex;
use serde_json::{json, Value};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Arc;
use std::time::Instant;

use crate::hub::Hub;
use crate::support::clock::timestamp;
use crate::support::process::{cpu_ticks, rss_bytes};
use crate::telemetry::Telemetry;

/// The queue system's staff dashboard room, where the figures go.
pub const ROOM: &str = "dashboard";

/// `loadBalancingMetrics`: this node's figures and the previous sample, for rates.
pub struct LoadMetrics {
    hub: Hub,
    telemetry: Arc<Telemetry>,
    last: Mutex<Option<Sample>>,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    events_in: u64,
    events_out: u64,
    cpu_ticks: u64,
}

impl LoadMetrics {
    /// Figures of the engine behind `hub`; node name and uptime from `telemetry`.
    pub fn new(hub: Hub, telemetry: Arc<Telemetry>) -> Self {
        Self {
            hub,
            telemetry,
            last: Mutex::new(None),
        }
    }

    /// This node's figures now, with rates since the previous call.
    pub fn node_figures(&self) -> Value {
        let e = self.hub.io().stats();
        let now = Sample {
            at: Instant::now(),
            events_in: e.events_in.load(Relaxed),
            events_out: e.deliveries.load(Relaxed) + e.emits.load(Relaxed),
            cpu_ticks: cpu_ticks(),
        };
        let prev = self.last.lock().replace(now);
        let (rin, rout, cpu) = match prev {
            Some(p) => {
                let dt = now.at.duration_since(p.at).as_secs_f64().max(0.001);
                (
                    (now.events_in - p.events_in) as f64 / dt,
                    (now.events_out - p.events_out) as f64 / dt,
                    (now.cpu_ticks - p.cpu_ticks) as f64 / 100.0 / dt * 100.0,
                )
            }
            None => (0.0, 0.0, 0.0),
        };
        let ns = self.hub.root();
        let rss = rss_bytes();
        json!({
            "node": self.telemetry.node_id,
            "connections": ns.socket_count(),
            "rooms": ns.room_count(),
            "eventsInPerSec": (rin * 10.0).round() / 10.0,
            "eventsOutPerSec": (rout * 10.0).round() / 10.0,
            "memory": { "rssBytes": rss, "rssMb": (rss as f64 / 1_048_576.0 * 10.0).round() / 10.0 },
            "cpu": { "percent": (cpu * 10.0).round() / 10.0 },
            "uptimeSeconds": self.telemetry.started.elapsed().as_secs(),
        })
    }

    /// The figures as sent: this node's at the top level, `nodes` with every live node
    /// (in a cluster, each node's latest heartbeat; alone, just this one) and `totals`.
    pub fn measure(&self) -> Value {
        let mut nodes = self.telemetry.cluster.nodes();
        let me = match nodes
            .iter()
            .find(|n| n["node"] == json!(self.telemetry.node_id))
        {
            Some(n) => n.clone(),
            None => {
                let n = self.node_figures();
                nodes.push(n.clone());
                n
            }
        };
        let sum = |k: &str| {
            nodes
                .iter()
                .map(|n| n[k].as_f64().unwrap_or(0.0))
                .sum::<f64>()
        };
        let mut out = me;
        out["totals"] = json!({
            "nodes": nodes.len(),
            "connections": sum("connections") as u64,
            "eventsInPerSec": (sum("eventsInPerSec") * 10.0).round() / 10.0,
            "eventsOutPerSec": (sum("eventsOutPerSec") * 10.0).round() / 10.0,
        });
        out["nodes"] = json!(nodes);
        out["timestamp"] = json!(timestamp());
        out
    }

    /// Send the figures to the staff dashboard (volatile), spread over `within` (see
    /// `pacing`).
    /// Measured every tick, watched or not, so the rates span one period.
    pub async fn tick(&self, within: std::time::Duration) {
        let m = self.measure();
        let ns = self.hub.root();
        if ns.room_size(ROOM) == 0 {
            return;
        }
        if let Ok(p) = ns.to(ROOM).paced("loadBalancingMetrics", &m) {
            super::pacing::spread(&mut [p], within, |p, page| Some(p.push(page))).await;
        }
    }
}
