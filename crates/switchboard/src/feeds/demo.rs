//! `--demo`: seed the seven modules of the ERP protocol (README "The three protocols") with KPIs a manager would recognise, then
//! move them every few seconds and now and then raise a notification or an alert — all
//! through the same feed functions (and so the same store) as the HTTP API.

use rand::Rng;
use serde_json::json;
use std::sync::{Arc, Weak};
use std::time::Duration;

use crate::store::{Kpi, NewAlert, NewNotification};

use super::{Alerts, Feeds, Kpis, Notifications, Recipients};

/// One simulated KPI: label, starting value, plausible range, decimals, whether higher
/// is better, and the warning / error thresholds.
struct Def {
    id: &'static str,
    label: &'static str,
    start: f64,
    min: f64,
    max: f64,
    decimals: i32,
    higher_is_better: bool,
    warn: f64,
    err: f64,
}

#[allow(clippy::too_many_arguments)] // a row of the table below, positional on purpose
const fn d(
    id: &'static str,
    label: &'static str,
    start: f64,
    min: f64,
    max: f64,
    decimals: i32,
    hib: bool,
    warn: f64,
    err: f64,
) -> Def {
    Def {
        id,
        label,
        start,
        min,
        max,
        decimals,
        higher_is_better: hib,
        warn,
        err,
    }
}

/// The demo data set.
const MODULES: &[(&str, &[Def])] = &[
    (
        "crm",
        &[
            d(
                "leads_month",
                "New leads this month",
                420.0,
                300.0,
                650.0,
                0,
                true,
                350.0,
                320.0,
            ),
            d(
                "conversion_rate",
                "Lead conversion rate (%)",
                18.5,
                9.0,
                28.0,
                1,
                true,
                14.0,
                11.0,
            ),
            d(
                "pipeline_value",
                "Open pipeline (EUR k)",
                1250.0,
                800.0,
                1800.0,
                0,
                true,
                950.0,
                850.0,
            ),
            d(
                "csat",
                "Customer satisfaction (of 5)",
                4.4,
                3.2,
                5.0,
                2,
                true,
                4.0,
                3.6,
            ),
        ],
    ),
    (
        "finance",
        &[
            d(
                "revenue_mtd",
                "Revenue month to date (EUR k)",
                842.0,
                600.0,
                1100.0,
                0,
                true,
                700.0,
                650.0,
            ),
            d(
                "operating_margin",
                "Operating margin (%)",
                21.4,
                8.0,
                30.0,
                1,
                true,
                15.0,
                11.0,
            ),
            d(
                "cash_on_hand",
                "Cash on hand (EUR k)",
                3100.0,
                2200.0,
                3800.0,
                0,
                true,
                2600.0,
                2400.0,
            ),
            d(
                "overdue_receivables",
                "Overdue receivables (EUR k)",
                96.0,
                40.0,
                220.0,
                0,
                false,
                140.0,
                180.0,
            ),
        ],
    ),
    (
        "hr",
        &[
            d(
                "headcount",
                "Headcount",
                312.0,
                295.0,
                330.0,
                0,
                true,
                300.0,
                297.0,
            ),
            d(
                "open_positions",
                "Open positions",
                14.0,
                4.0,
                30.0,
                0,
                false,
                20.0,
                26.0,
            ),
            d(
                "turnover_rate",
                "Staff turnover, 12 months (%)",
                8.2,
                4.0,
                16.0,
                1,
                false,
                11.0,
                14.0,
            ),
            d(
                "absence_rate",
                "Absence rate (%)",
                3.1,
                1.5,
                7.0,
                1,
                false,
                4.5,
                6.0,
            ),
        ],
    ),
    (
        "security",
        &[
            d(
                "open_incidents",
                "Open security incidents",
                3.0,
                0.0,
                12.0,
                0,
                false,
                5.0,
                8.0,
            ),
            d(
                "patch_compliance",
                "Patch compliance (%)",
                96.5,
                85.0,
                100.0,
                1,
                true,
                94.0,
                90.0,
            ),
            d(
                "failed_logins",
                "Failed logins, 24 h",
                42.0,
                5.0,
                300.0,
                0,
                false,
                120.0,
                220.0,
            ),
            d(
                "mttr_hours",
                "Mean time to resolve (h)",
                5.2,
                1.0,
                24.0,
                1,
                false,
                8.0,
                16.0,
            ),
        ],
    ),
    (
        "elearning",
        &[
            d(
                "active_learners",
                "Active learners",
                1280.0,
                900.0,
                1600.0,
                0,
                true,
                1000.0,
                950.0,
            ),
            d(
                "completion_rate",
                "Course completion (%)",
                71.0,
                45.0,
                90.0,
                1,
                true,
                60.0,
                52.0,
            ),
            d(
                "avg_quiz_score",
                "Average quiz score",
                82.0,
                60.0,
                95.0,
                1,
                true,
                72.0,
                66.0,
            ),
            d(
                "new_enrolments",
                "New enrolments this week",
                96.0,
                30.0,
                180.0,
                0,
                true,
                60.0,
                45.0,
            ),
        ],
    ),
    (
        "rehab",
        &[
            d(
                "active_patients",
                "Active patients",
                58.0,
                40.0,
                75.0,
                0,
                true,
                45.0,
                42.0,
            ),
            d(
                "bed_occupancy",
                "Bed occupancy (%)",
                87.0,
                60.0,
                100.0,
                1,
                false,
                92.0,
                97.0,
            ),
            d(
                "avg_stay_days",
                "Average length of stay (days)",
                12.4,
                8.0,
                20.0,
                1,
                false,
                15.0,
                18.0,
            ),
            d(
                "sessions_today",
                "Therapy sessions today",
                134.0,
                80.0,
                190.0,
                0,
                true,
                100.0,
                90.0,
            ),
        ],
    ),
    (
        "reports",
        &[
            d(
                "reports_today",
                "Reports generated today",
                64.0,
                20.0,
                140.0,
                0,
                true,
                35.0,
                25.0,
            ),
            d(
                "jobs_ok",
                "Scheduled jobs succeeded (%)",
                98.2,
                85.0,
                100.0,
                1,
                true,
                95.0,
                90.0,
            ),
            d(
                "avg_generation_s",
                "Average generation time (s)",
                3.4,
                1.0,
                15.0,
                1,
                false,
                6.0,
                10.0,
            ),
            d(
                "pending_exports",
                "Pending exports",
                5.0,
                0.0,
                40.0,
                0,
                false,
                15.0,
                25.0,
            ),
        ],
    ),
];

fn round(v: f64, decimals: i32) -> f64 {
    let f = 10f64.powi(decimals);
    (v * f).round() / f
}

fn status(def: &Def, v: f64) -> &'static str {
    let (bad, worse) = if def.higher_is_better {
        (v < def.warn, v < def.err)
    } else {
        (v > def.warn, v > def.err)
    };
    if worse {
        "error"
    } else if bad {
        "warning"
    } else {
        "success"
    }
}

fn kpi(def: &Def, v: f64, prev: f64, history: &[f64]) -> Kpi {
    let trend = if v > prev {
        "up"
    } else if v < prev {
        "down"
    } else {
        "flat"
    };
    Kpi {
        id: def.id.to_owned(),
        label: def.label.to_owned(),
        value: json!(round(v, def.decimals)),
        trend: Some(json!(trend)),
        status: Some(status(def, v).to_owned()),
        chart: Some(json!(history
            .iter()
            .map(|x| round(*x, def.decimals))
            .collect::<Vec<_>>())),
    }
}

/// Seed (modules that have no KPIs yet) and run the simulator until the app is dropped.
pub fn spawn(feeds: &Feeds) {
    let demo = Demo {
        kpis: Arc::downgrade(&feeds.kpis),
        notifications: Arc::downgrade(&feeds.notifications),
        alerts: Arc::downgrade(&feeds.alerts),
    };
    tokio::spawn(async move {
        if let Err(e) = run(demo).await {
            tracing::error!(error = %e, "demo simulator stopped");
        }
    });
}

/// The features the simulator writes through (weak: it stops when the app is dropped).
struct Demo {
    kpis: Weak<Kpis>,
    notifications: Weak<Notifications>,
    alerts: Weak<Alerts>,
}

async fn run(demo: Demo) -> anyhow::Result<()> {
    // Current value and the last few values of every KPI.
    let mut state: Vec<Vec<(f64, Vec<f64>)>> = Vec::new();
    {
        let Some(kpis) = demo.kpis.upgrade() else {
            return Ok(());
        };
        for (module, defs) in MODULES {
            let existing = kpis.module(module);
            let mut row = Vec::new();
            for def in defs.iter() {
                let v = existing
                    .iter()
                    .find(|k| k.kpi.id == def.id)
                    .and_then(|k| k.kpi.value.as_f64())
                    .unwrap_or(def.start);
                row.push((v, vec![v]));
            }
            if existing.is_empty() {
                let list: Vec<Kpi> = defs
                    .iter()
                    .zip(&row)
                    .map(|(def, (v, h))| kpi(def, *v, *v, h))
                    .collect();
                kpis.put(module, &list).await?;
            }
            state.push(row);
        }
        tracing::info!("demo: {} modules seeded, simulator running", MODULES.len());
    }
    let mut tick = 0u64;
    let mut iv = tokio::time::interval(Duration::from_secs(2));
    loop {
        iv.tick().await;
        tick += 1;
        let (Some(kpis), Some(notifications), Some(alerts)) = (
            demo.kpis.upgrade(),
            demo.notifications.upgrade(),
            demo.alerts.upgrade(),
        ) else {
            return Ok(());
        };
        // Move two or three modules a little each tick.
        let picks: Vec<usize> = {
            let mut rng = rand::rng();
            (0..rng.random_range(2..=3))
                .map(|_| rng.random_range(0..MODULES.len()))
                .collect()
        };
        for m in picks {
            let (module, defs) = MODULES[m];
            let list: Vec<Kpi> = {
                let mut rng = rand::rng();
                defs.iter()
                    .zip(state[m].iter_mut())
                    .map(|(def, (v, hist))| {
                        let prev = *v;
                        let step = (def.max - def.min) * 0.04 * rng.random_range(-1.0..1.0);
                        *v = round((*v + step).clamp(def.min, def.max), def.decimals);
                        hist.push(*v);
                        if hist.len() > 12 {
                            hist.remove(0);
                        }
                        kpi(def, *v, prev, hist)
                    })
                    .collect()
            };
            if let Err(e) = kpis.put(module, &list).await {
                tracing::warn!(error = %e, "demo: KPI update failed");
            }
        }
        if tick.is_multiple_of(10) {
            let n = NewNotification {
                title: "Approval needed".into(),
                message: format!(
                    "Purchase order PO-{} is waiting for your approval",
                    4000 + tick
                ),
                severity: "info".into(),
            };
            let _ = notifications
                .send(&Recipients::User("demo".into()), &n)
                .await;
        }
        if tick.is_multiple_of(23) {
            let a = NewAlert {
                title: "Backup window".into(),
                message: "Nightly backup took 20% longer than usual".into(),
                severity: "warning".into(),
            };
            let _ = alerts.raise(&a).await;
        }
    }
}
