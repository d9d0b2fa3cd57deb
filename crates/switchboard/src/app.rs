//! Composition: config → telemetry, features, gateway, engine, API router; run until
//! shutdown. Nothing below imports this module.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;

use anyhow::Context;

use crate::admin::Admin;
use crate::api::{ApiKeys, ApiState};
use crate::cluster::Cluster;
use crate::config::Config;
use crate::feeds::{Feeds, Presence};
use crate::gateway::{Gateway, Limits};
use crate::hub::Hub;
use crate::rules::Rules;
use crate::telemetry::Telemetry;

/// The built application: the features, the engine and the router, composed.
pub struct App {
    config: Config,
    keys: Arc<ApiKeys>,
    hub: Hub,
    router: axum::Router,
}

impl App {
    /// Build everything from a validated configuration. Binds nothing.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let rules = Rules::from_config(&config.rules)?;
        let pool = crate::store::Pool {
            max_connections: (config.db_max_connections > 0).then_some(config.db_max_connections),
            acquire_timeout: Duration::from_millis(config.db_acquire_timeout_ms),
        };
        let store = crate::store::Store::connect_with(&config.database_url, pool)
            .await
            .with_context(|| {
                format!(
                    "opening the database {}",
                    crate::support::redact::url(&config.database_url)
                )
            })?;
        let verifier = Arc::new(crate::identity::Verifier::from_config(&config)?);
        let keys = Arc::new(ApiKeys::new(match &config.api_keys_file {
            Some(path) => crate::config::load_api_keys_file(path)?,
            None => config.api_keys.clone(),
        }));
        // The features come first (the engine's handlers call them); they reach the
        // engine through the hub, bound as soon as the engine exists.
        let hub = Hub::new();
        let node_id = config.node_id.clone().unwrap_or_else(|| {
            // `hostname:port`; a node on an ephemeral port (tests) uses its pid instead.
            let host = crate::support::process::hostname();
            match config.listen.port() {
                0 => format!("{host}:{}", std::process::id()),
                port => format!("{host}:{port}"),
            }
        });
        let telemetry = Arc::new(Telemetry::new(hub.clone(), node_id.clone()));
        let presence = Presence::new(
            rules.clone(),
            config.presence_max_users,
            hub.clone(),
            telemetry.clone(),
        );
        let feeds = Arc::new(Feeds::open(store, hub.clone(), telemetry.clone(), presence).await?);
        let cluster = match &config.redis_url {
            Some(url) => {
                let mut c = config.clone();
                c.node_id = Some(node_id.clone());
                let cl = Cluster::new(&c, url, hub.clone(), feeds.clone(), telemetry.clone())
                    .await
                    .context("cluster mode: the Redis URL")?;
                let adapter = cl.adapter();
                Some((cl, adapter))
            }
            None => None,
        };
        let gateway = Arc::new(Gateway::new(
            rules,
            gateway_limits(&config),
            verifier.clone(),
            feeds.clone(),
            telemetry.clone(),
        ));
        let adapter = cluster
            .as_ref()
            .map(|(_, a)| a.clone() as Arc<dyn sio::Adapter>);
        let admin = Admin::from_config(
            &config,
            verifier.clone(),
            telemetry.clone(),
            hub.clone(),
            node_id.clone(),
        );
        let mut engine = gateway.builder(config.sio_config(), adapter);
        if let Some(admin) = &admin {
            engine = admin.install(engine);
        }
        hub.bind(engine.build());
        if let Some(admin) = &admin {
            admin.spawn_stats();
        }
        if let Some((cl, adapter)) = &cluster {
            tracing::info!(node = %cl.node_id, stream = %config.redis_stream, "cluster mode");
            cl.start(adapter, admin.clone());
            if !cl.joined(Duration::from_secs(5)).await {
                tracing::warn!(node = %cl.node_id, "cluster bus not reachable yet: starting degraded");
            }
        }

        feeds.spawn_ticks(
            &telemetry,
            Duration::from_millis(config.kpi_interval_ms),
            Duration::from_millis(config.dashboard_interval_ms),
        );
        if config.demo {
            crate::feeds::demo::spawn(&feeds);
        }
        if let Some(path) = &config.api_keys_file {
            spawn_key_reload(path.clone(), Arc::downgrade(&keys));
        }
        let state = Arc::new(ApiState {
            feeds,
            telemetry,
            hub: hub.clone(),
            max_json_depth: config.max_json_depth,
            http_body_limit: config.http_body_limit,
        });
        let admin_jwt = crate::api::AdminJwt {
            verifier,
            role: config.admin_role.clone(),
        };
        let router = crate::api::router(state, keys.clone(), Some(admin_jwt), &config);
        Ok(App {
            config,
            keys,
            hub,
            router,
        })
    }

    /// Serve on `listener` until `shutdown` resolves, then close every connection within
    /// the configured deadline.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = listener.local_addr()?;
        let api_note = if self.keys.is_empty() {
            " (no API key configured: the HTTP API answers loopback clients only)"
        } else {
            ""
        };
        tracing::info!("switchboard listening on http://{addr}{api_note}");
        let deadline = Duration::from_secs(self.config.shutdown_timeout_secs);
        let io = self.hub.io().clone();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let serve = crate::net::serve(
            listener,
            self.router,
            Duration::from_secs(self.config.header_read_timeout_secs),
            shutdown,
            move || {
                tracing::info!("shutting down: closing connections");
                // Socket.IO connections are long-lived: close them so the server can drain.
                io.close_all();
                let _ = stop_tx.send(true);
            },
        );
        let mut stop_rx2 = stop_rx.clone();
        tokio::select! {
            () = serve => {}
            _ = async move {
                let _ = stop_rx2.wait_for(|s| *s).await;
                tokio::time::sleep(deadline).await;
            } => tracing::warn!("shutdown deadline of {deadline:?} passed, exiting"),
        }
        drop(stop_rx);
        Ok(())
    }
}

/// The gateway's per-socket limits from the configuration.
fn gateway_limits(c: &Config) -> Limits {
    Limits {
        rate_per_sec: c.rate_limit_per_sec,
        burst: c.rate_limit_burst,
        disconnect_after: c.rate_limit_disconnect_after,
        max_rooms_per_socket: c.max_rooms_per_socket,
        max_json_depth: c.max_json_depth,
        max_client_info_bytes: c.max_client_info_bytes,
    }
}

/// Re-read `path` on every SIGHUP; a bad file keeps the current keys.
fn spawn_key_reload(path: std::path::PathBuf, keys: std::sync::Weak<ApiKeys>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: API keys will not reload");
        return;
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let Some(keys) = keys.upgrade() else { return };
            match crate::config::load_api_keys_file(&path) {
                Ok(list) => {
                    let names: Vec<&str> = list.iter().map(|k| k.name.as_str()).collect();
                    tracing::info!(keys = ?names, "API keys reloaded");
                    keys.replace(list);
                }
                Err(e) => {
                    tracing::error!(error = %e, "API key reload failed; keeping the current keys")
                }
            }
        }
    });
}

/// Install the tracing subscriber (text or JSON, `RUST_LOG` filter, default `info`).
pub fn init_tracing(config: &Config) -> Option<crate::otel::Otel> {
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    use tracing_subscriber::{EnvFilter, Layer as _};
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let fmt = match config.log_format {
        crate::config::LogFormat::Json => tracing_subscriber::fmt::layer().json().boxed(),
        crate::config::LogFormat::Text => tracing_subscriber::fmt::layer().boxed(),
    };
    let endpoint = config
        .otel_endpoint
        .clone()
        .or_else(|| std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok())
        .filter(|e| !e.is_empty());
    let otel = endpoint.and_then(|e| match crate::otel::Otel::start(&e, "switchboard") {
        Ok(o) => Some((o, e)),
        Err(err) => {
            eprintln!("traces: cannot export to {e}: {err:#}; tracing export is off");
            None
        }
    });
    // The exporter sees this crate's spans (debug level: free when nobody listens) and
    // its events at info and above; the log keeps its own filter.
    let otel_layer = otel.as_ref().map(|(o, _)| {
        o.layer()
            .with_filter(tracing_subscriber::filter::filter_fn(|m| {
                m.target().starts_with("switchboard")
                    && (m.is_span() || *m.level() <= tracing::Level::INFO)
            }))
    });
    let _ = tracing_subscriber::registry()
        .with(fmt.with_filter(filter))
        .with(otel_layer)
        .try_init();
    otel.map(|(o, e)| {
        tracing::info!(endpoint = %crate::support::redact::url(&e), "exporting traces over OTLP");
        o
    })
}

/// Resolves on SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("install SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
