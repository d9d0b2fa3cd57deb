//! Live feeds built on the store: KPIs, the dashboard summary, notifications, alerts,
//! server metrics for the queue system, and the `--demo` simulator. Every feed writes
//! through the [`Store`](crate::store::Store) first and then emits, so what clients see
//! is what is stored. Periodic ticks are volatile; change events are reliable.

pub mod alerts;
pub mod dashboard;
pub mod demo;
pub mod kpi;
pub mod metrics;
pub mod notify;

use std::sync::Weak;
use std::time::Duration;

use crate::app::Shared;

/// Run the periodic ticks until the app is dropped.
pub fn spawn_ticks(shared: Weak<Shared>, kpi_every: Duration, dashboard_every: Duration) {
    tokio::spawn(tick_loop(shared.clone(), kpi_every, "kpi", kpi::tick));
    tokio::spawn(tick_loop(
        shared.clone(),
        dashboard_every,
        "dashboard",
        dashboard::tick,
    ));
    tokio::spawn(tick_loop(
        shared,
        dashboard_every,
        "load_balancing_metrics",
        metrics::tick,
    ));
}

async fn tick_loop(shared: Weak<Shared>, every: Duration, name: &'static str, f: fn(&Shared)) {
    let mut iv = tokio::time::interval(every);
    iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    iv.tick().await; // the first tick is immediate
    loop {
        iv.tick().await;
        let Some(sh) = shared.upgrade() else { return };
        let started = std::time::Instant::now();
        f(&sh);
        let label = vec![("feed".to_owned(), name.to_owned())];
        sh.metrics
            .tick_seconds
            .get_or_create(&label)
            .observe(started.elapsed().as_secs_f64());
    }
}

/// Unix time in milliseconds.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
