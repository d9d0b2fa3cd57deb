//! The operators' files stay true to the server: every metric the Grafana dashboard
//! (`deploy/grafana/switchboard.json`) queries is served by `/metrics`.

use crate::harness::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const DASHBOARD: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../deploy/grafana/switchboard.json"
);

/// Every `switchboard_*` name in a PromQL expression.
fn metric_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(i) = rest.find("switchboard_") {
        let tail = &rest[i..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        out.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    out
}

/// The sample names of an OpenMetrics text.
fn sample_names(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn the_grafana_dashboard_queries_only_metrics_that_exist() {
    let dash: Value = serde_json::from_str(&std::fs::read_to_string(DASHBOARD).unwrap())
        .expect("the dashboard is valid JSON");
    assert_eq!(dash["uid"], "switchboard");
    let panels = dash["panels"].as_array().expect("panels");
    let mut wanted = BTreeSet::new();
    for p in panels.iter().filter(|p| p["type"] != "row") {
        let targets = p["targets"]
            .as_array()
            .unwrap_or_else(|| panic!("panel {} has targets", p["title"]));
        assert!(
            !targets.is_empty(),
            "panel {} queries something",
            p["title"]
        );
        for t in targets {
            let expr = t["expr"].as_str().expect("expr");
            let names = metric_names(expr);
            assert!(!names.is_empty(), "{expr} names a switchboard metric");
            wanted.extend(names);
        }
    }
    // The variable query too.
    wanted.extend(metric_names(
        dash["templating"]["list"][1]["definition"]
            .as_str()
            .unwrap(),
    ));
    assert!(wanted.len() >= 20, "{wanted:?}");

    // Traffic, so that the labelled families have samples: a client event, a publish, a
    // feed tick.
    let mut config = test_config();
    config.kpi_interval_ms = 50;
    config.dashboard_interval_ms = 50;
    let srv = TestServer::with(config).await;
    let c = TestClient::connect(&srv).await;
    assert_eq!(
        c.ack("module:subscribe", json!({ "moduleKey": "crm" }))
            .await["success"],
        true
    );
    assert_eq!(
        srv.post("/api/v1/publish", &json!({ "event": "x" }))
            .await
            .0,
        200
    );
    let mut missing: Vec<String> = Vec::new();
    for _ in 0..100 {
        let r = reqwest::get(srv.url("/metrics")).await.unwrap();
        let served = sample_names(&r.text().await.unwrap());
        missing = wanted
            .iter()
            .filter(|n| !served.contains(*n))
            .cloned()
            .collect();
        if missing.is_empty() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert!(
        missing.is_empty(),
        "queried by the dashboard but not served: {missing:?}"
    );
    srv.shutdown().await;
}
