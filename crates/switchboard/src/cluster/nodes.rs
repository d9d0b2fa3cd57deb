//! The node registry: every heartbeat interval each node writes its figures (what
//! `LoadMetrics` measures: connections, rooms, event rates, memory, CPU, plus its id,
//! address and start time) to `{prefix}:node:{id}` with an expiry of three intervals, then
//! reads every live node's record into the telemetry. A node that stops heartbeating
//! drops out when its record expires: within three intervals.

use std::sync::Arc;

use serde_json::{json, Value};

use super::Cluster;

pub(super) fn spawn(cl: Arc<Cluster>) {
    let me = Arc::downgrade(&cl);
    let every = cl.heartbeat;
    drop(cl);
    tokio::spawn(async move {
        let mut iv = tokio::time::interval(every);
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            iv.tick().await;
            let Some(cl) = me.upgrade() else { return };
            if let Err(e) = beat(&cl).await {
                cl.down("heartbeat", &e);
                // Without the registry this node still knows itself.
                cl.telemetry.cluster.set_nodes(vec![own(&cl)]);
            }
        }
    });
}

/// This node's record.
fn own(cl: &Cluster) -> Value {
    let mut m = cl.feeds.load.node_figures();
    m["node"] = json!(cl.node_id);
    m["address"] = json!(cl.address);
    m["startedAt"] = json!(crate::support::clock::now_ms()
        .saturating_sub(cl.telemetry.started.elapsed().as_millis() as i64));
    m
}

async fn beat(cl: &Cluster) -> redis::RedisResult<()> {
    let mut c = cl.conn();
    let ttl = (cl.heartbeat * 3).as_millis() as u64;
    let _: () = redis::cmd("SET")
        .arg(cl.keys.node(&cl.node_id))
        .arg(own(cl).to_string())
        .arg("PX")
        .arg(ttl)
        .query_async(&mut c)
        .await?;
    let mut keys: Vec<String> = Vec::new();
    let mut cursor: u64 = 0;
    loop {
        let (next, page): (u64, Vec<String>) = redis::cmd("SCAN")
            .arg(cursor)
            .arg("MATCH")
            .arg(cl.keys.nodes())
            .arg("COUNT")
            .arg(1000)
            .query_async(&mut c)
            .await?;
        keys.extend(page);
        cursor = next;
        if cursor == 0 {
            break;
        }
    }
    keys.sort();
    keys.dedup();
    let mut nodes = Vec::with_capacity(keys.len());
    if !keys.is_empty() {
        let values: Vec<Option<String>> = redis::cmd("MGET").arg(&keys).query_async(&mut c).await?;
        nodes.extend(
            values
                .into_iter()
                .flatten()
                .filter_map(|v| serde_json::from_str::<Value>(&v).ok()),
        );
    }
    nodes.sort_by(|a, b| a["node"].as_str().cmp(&b["node"].as_str()));
    cl.telemetry.cluster.set_nodes(nodes);
    cl.up();
    Ok(())
}
