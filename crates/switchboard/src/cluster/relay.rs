//! The relays over Redis pub/sub: cache changes (a feature's cache changed: the other
//! nodes re-read it from the shared store) and the admin namespace's messages
//! ([`crate::admin::relay`]). Each message carries the sending process's `uid`, so a node
//! skips its own.
//!
//! Pub/sub delivers only to who is subscribed at the time: a subscription that was lost
//! may have missed cache changes, so every cache is re-read when it comes back; missed
//! admin messages are notifications an admin sees again at the next stats tick.

use std::sync::Arc;

use futures_util::StreamExt as _;
use serde_json::{json, Value};

use super::{Backoff, Cluster};
use crate::admin::{Admin, AdminMessage};
use crate::feeds::CacheChange;

/// Admin messages sent in one pipeline at most.
const ADMIN_BATCH: usize = 256;

pub(super) fn spawn(cl: &Arc<Cluster>, admin: Option<Arc<Admin>>) {
    spawn_cache_publisher(cl);
    if let Some(admin) = &admin {
        spawn_admin_publisher(cl, admin);
    }
    spawn_subscriber(cl, admin);
}

/// Publish this node's cache changes.
fn spawn_cache_publisher(cl: &Arc<Cluster>) {
    let Some(mut changes) = cl.feeds.peers.subscribe() else {
        tracing::error!("cache changes already relayed: cluster started twice?");
        return;
    };
    let me = cl.clone();
    tokio::spawn(async move {
        while let Some(change) = changes.recv().await {
            let body = json!({ "uid": me.uid, "change": change }).to_string();
            let r: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(me.keys.caches())
                .arg(body)
                .query_async(&mut me.conn())
                .await;
            if let Err(e) = r {
                // The other nodes re-read their caches when they reconnect.
                me.down("publishing a cache change", &e);
            }
        }
    });
}

/// Publish this node's admin messages, what is waiting in one pipeline.
fn spawn_admin_publisher(cl: &Arc<Cluster>, admin: &Admin) {
    let Some(mut out) = admin.peers().subscribe() else {
        tracing::error!("admin messages already relayed: cluster started twice?");
        return;
    };
    let me = cl.clone();
    tokio::spawn(async move {
        let mut batch = Vec::with_capacity(ADMIN_BATCH);
        while out.recv_many(&mut batch, ADMIN_BATCH).await > 0 {
            let mut pipe = redis::pipe();
            for msg in batch.drain(..) {
                let body = json!({ "uid": me.uid, "msg": msg }).to_string();
                pipe.cmd("PUBLISH").arg(me.keys.admin()).arg(body).ignore();
            }
            if let Err(e) = pipe.query_async::<()>(&mut me.conn()).await {
                // Notifications are volatile, a lost action is logged here.
                me.down("publishing admin messages", &e);
            }
        }
    });
}

/// Apply the other nodes' cache changes and admin messages.
fn spawn_subscriber(cl: &Arc<Cluster>, admin: Option<Arc<Admin>>) {
    let me = Arc::downgrade(cl);
    tokio::spawn(async move {
        let mut backoff = Backoff::default();
        let mut first = true;
        loop {
            let Some(cl) = me.upgrade() else { return };
            let mut channels = vec![cl.keys.caches()];
            if admin.is_some() {
                channels.push(cl.keys.admin());
            }
            match cl.client.get_async_pubsub().await {
                Ok(mut ps) => {
                    if ps.subscribe(&channels).await.is_ok() {
                        backoff.reset();
                        if !first {
                            if let Err(e) = cl.feeds.reload().await {
                                tracing::warn!(error = %e, "re-reading the caches failed");
                            }
                        }
                        first = false;
                        let uid = cl.uid.clone();
                        let caches = cl.keys.caches();
                        let feeds = cl.feeds.clone();
                        drop(cl);
                        let mut stream = ps.into_on_message();
                        while let Some(msg) = stream.next().await {
                            let Ok(body) = msg.get_payload::<String>() else {
                                continue;
                            };
                            let Ok(mut v) = serde_json::from_str::<Value>(&body) else {
                                continue;
                            };
                            if v["uid"].as_str() == Some(uid.as_str()) {
                                continue;
                            }
                            if msg.get_channel_name() == caches {
                                apply_cache_change(&feeds, v["change"].take()).await;
                            } else if let Some(admin) = &admin {
                                match serde_json::from_value::<AdminMessage>(v["msg"].take()) {
                                    Ok(m) => admin.receive(m),
                                    Err(e) => tracing::warn!(error = %e, "unknown admin message"),
                                }
                            }
                        }
                        // The subscription ended: Redis went away.
                    }
                }
                Err(e) => cl.down("subscribing to the relays", &e),
            }
            tokio::time::sleep(backoff.next()).await;
        }
    });
}

async fn apply_cache_change(feeds: &crate::feeds::Feeds, change: Value) {
    match serde_json::from_value::<CacheChange>(change) {
        Ok(change) => {
            if let Err(e) = feeds.apply(&change).await {
                tracing::warn!(error = %e, ?change, "applying a cache change failed");
            }
        }
        Err(e) => tracing::warn!(error = %e, "unknown cache change"),
    }
}
