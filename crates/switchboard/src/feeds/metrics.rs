//! `loadBalancingMetrics` to the queue system's staff `dashboard` room: real figures of
//! this process (connections, rooms, events per second, RSS, CPU) sampled from the engine
//! counters and `/proc/self`.

use serde_json::{json, Value};
use std::sync::atomic::Ordering::Relaxed;
use std::sync::Mutex;
use std::time::Instant;

use crate::app::Shared;
use crate::gateway::timestamp;

/// The previous sample, for rates.
#[derive(Debug)]
pub struct Sampler {
    last: Mutex<Option<Sample>>,
}

#[derive(Debug, Clone, Copy)]
struct Sample {
    at: Instant,
    events_in: u64,
    events_out: u64,
    cpu_ticks: u64,
}

impl Default for Sampler {
    fn default() -> Self {
        Self {
            last: Mutex::new(None),
        }
    }
}

/// Resident set size in bytes (Linux; 0 elsewhere).
pub fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// utime + stime of this process, in clock ticks (1/100 s on Linux).
fn cpu_ticks() -> u64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return 0;
    };
    // Fields after the parenthesised command name; utime and stime are fields 14 and 15.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let get = |i: usize| f.get(i).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    get(11) + get(12)
}

/// Measure now: figures plus rates since the previous call.
pub fn measure(sh: &Shared) -> Value {
    let e = sh.io.stats();
    let now = Sample {
        at: Instant::now(),
        events_in: e.events_in.load(Relaxed),
        events_out: e.deliveries.load(Relaxed) + e.emits.load(Relaxed),
        cpu_ticks: cpu_ticks(),
    };
    let prev = sh.sampler.last.lock().expect("sampler lock").replace(now);
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
    let ns = sh.root();
    let rss = rss_bytes();
    let node = json!({
        "node": sh.node_id,
        "connections": ns.socket_count(),
        "rooms": ns.rooms().len(),
        "eventsInPerSec": (rin * 10.0).round() / 10.0,
        "eventsOutPerSec": (rout * 10.0).round() / 10.0,
        "memory": { "rssBytes": rss, "rssMb": (rss as f64 / 1_048_576.0 * 10.0).round() / 10.0 },
        "cpu": { "percent": (cpu * 10.0).round() / 10.0 },
        "uptimeSeconds": sh.started.elapsed().as_secs(),
    });
    let mut out = node.clone();
    out["nodes"] = json!([node]);
    out["timestamp"] = json!(timestamp());
    out
}

/// Send the figures to the staff dashboard (volatile).
pub fn tick(sh: &Shared) {
    let m = measure(sh);
    let ns = sh.root();
    if ns.room_size("dashboard") > 0 {
        let _ = ns
            .to("dashboard")
            .volatile()
            .emit("loadBalancingMetrics", &m);
    }
}
