//! Wiring: config → engine + gateway + API router; run until shutdown.

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

use anyhow::Context;

use crate::config::Config;
use crate::rules::Rules;

/// Product-level counters (the engine keeps its own in `sio::Stats`).
#[derive(Debug, Default)]
pub struct Counters {
    /// Rule payloads that did not fit the rule (wrong type, missing field).
    pub rule_errors: AtomicU64,
    /// Joins refused by a permission.
    pub denied_joins: AtomicU64,
    /// Client events no rule or handler knows.
    pub unknown_events: AtomicU64,
    /// `clientError` reports from browsers.
    pub client_errors: AtomicU64,
    /// Events published through the HTTP API.
    pub published: AtomicU64,
    /// HTTP API requests refused (auth, validation).
    pub api_errors: AtomicU64,
    /// Connections refused for a missing or invalid token.
    pub auth_failures: AtomicU64,
    /// Client events refused by the per-socket rate limit.
    pub rate_limited: AtomicU64,
    /// Sockets disconnected for a sustained rate over the limit.
    pub rate_limit_disconnects: AtomicU64,
    /// `clientInfo` reports refused for their size.
    pub client_info_refused: AtomicU64,
    /// Joins refused by the rooms-per-socket cap.
    pub room_limited: AtomicU64,
    /// Payloads refused for nesting deeper than `max_json_depth`.
    pub too_deep: AtomicU64,
}

impl Counters {
    /// Add one to `c`.
    pub fn inc(c: &AtomicU64) {
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// What the gateway and the API share.
pub struct Shared {
    /// The validated configuration.
    pub config: Config,
    /// The rules table.
    pub rules: Rules,
    /// The Socket.IO engine.
    pub io: sio::Server,
    /// Product counters.
    pub counters: Counters,
    /// Per-node connection sequence (the `clientId` of SPEC §1b).
    pub client_seq: AtomicU64,
    /// Process start.
    pub started: Instant,
    /// The database.
    pub store: crate::store::Store,
    /// Current KPIs of every module (a copy of the store's).
    pub kpis: crate::feeds::kpi::KpiCache,
    /// The recent alerts.
    pub alerts: crate::feeds::alerts::AlertCache,
    /// Previous sample for the per-second rates of `loadBalancingMetrics`.
    pub sampler: crate::feeds::metrics::Sampler,
    /// This node's name in stats (`host:pid`).
    pub node_id: String,
    /// Checks the JWTs clients present.
    pub verifier: crate::identity::Verifier,
    /// Prometheus metrics.
    pub metrics: crate::metrics::Metrics,
    /// The backend API keys (replaced on SIGHUP when `api_keys_file` is set).
    pub api_keys: std::sync::RwLock<Vec<crate::config::ApiKey>>,
    /// Recent notable events (denied joins, refused tokens, slow consumers), newest last.
    pub recent: std::sync::Mutex<std::collections::VecDeque<serde_json::Value>>,
}

impl Shared {
    /// Most notable events kept for the monitor page.
    pub const RECENT: usize = 50;

    /// Remember a notable event (`kind`: `denied_join`, `auth_failure`, `slow_consumer`).
    pub fn note(&self, kind: &str, detail: serde_json::Value) {
        let mut r = self.recent.lock().expect("recent lock");
        if r.len() == Self::RECENT {
            r.pop_front();
        }
        r.push_back(serde_json::json!({ "kind": kind, "detail": detail, "time": crate::gateway::timestamp() }));
    }
    /// The main namespace.
    pub fn root(&self) -> Arc<sio::Namespace> {
        self.io
            .of("/")
            .expect("the main namespace is always registered")
    }
}

/// The built application.
pub struct App {
    shared: Arc<Shared>,
    router: axum::Router,
}

impl App {
    /// Build everything from a validated configuration. Binds nothing.
    pub async fn build(config: Config) -> anyhow::Result<App> {
        let rules = Rules::from_config(&config.rules)?;
        let store = crate::store::Store::connect(&config.database_url)
            .await
            .with_context(|| {
                format!("opening the database {}", redact_url(&config.database_url))
            })?;
        let kpis = crate::feeds::kpi::KpiCache::new(store.all_kpis().await?);
        let alerts = crate::feeds::alerts::AlertCache::new(
            store
                .recent_alerts(crate::feeds::alerts::RECENT as i64)
                .await?,
        );
        let node_id = format!("{}:{}", hostname(), std::process::id());
        let verifier = crate::identity::Verifier::from_config(&config)?;
        let api_keys = match &config.api_keys_file {
            Some(path) => crate::config::load_api_keys_file(path)?,
            None => config.api_keys.clone(),
        };
        let shared = Arc::new_cyclic(|weak: &std::sync::Weak<Shared>| {
            let io = crate::gateway::build(config.sio_config(), &rules, weak.clone());
            Shared {
                config,
                rules,
                io,
                counters: Counters::default(),
                client_seq: AtomicU64::new(0),
                started: Instant::now(),
                store,
                kpis,
                alerts,
                sampler: Default::default(),
                node_id,
                verifier,
                recent: Default::default(),
                metrics: crate::metrics::Metrics::new(weak.clone()),
                api_keys: std::sync::RwLock::new(api_keys),
            }
        });
        let weak = Arc::downgrade(&shared);
        crate::feeds::spawn_ticks(
            weak.clone(),
            Duration::from_millis(shared.config.kpi_interval_ms),
            Duration::from_millis(shared.config.dashboard_interval_ms),
        );
        if shared.config.demo {
            crate::feeds::demo::spawn(weak.clone());
        }
        if shared.config.api_keys_file.is_some() {
            spawn_key_reload(weak);
        }
        let router = crate::api::router(shared.clone());
        Ok(App { shared, router })
    }

    /// The shared state (for tests and the CLI).
    pub fn shared(&self) -> &Arc<Shared> {
        &self.shared
    }

    /// Serve on `listener` until `shutdown` resolves, then close every connection within
    /// the configured deadline.
    pub async fn run(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = listener.local_addr()?;
        let api_note = if self
            .shared
            .api_keys
            .read()
            .expect("api keys lock")
            .is_empty()
        {
            " (no API key configured: the HTTP API answers loopback clients only)"
        } else {
            ""
        };
        tracing::info!("switchboard listening on http://{addr}{api_note}");
        let deadline = Duration::from_secs(self.shared.config.shutdown_timeout_secs);
        let io = self.shared.io.clone();
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let serve = crate::net::serve(
            listener,
            self.router,
            Duration::from_secs(self.shared.config.header_read_timeout_secs),
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

/// Re-read `api_keys_file` on every SIGHUP; a bad file keeps the current keys.
fn spawn_key_reload(shared: std::sync::Weak<Shared>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP: API keys will not reload");
        return;
    };
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            let Some(sh) = shared.upgrade() else { return };
            let Some(path) = &sh.config.api_keys_file else {
                return;
            };
            match crate::config::load_api_keys_file(path) {
                Ok(keys) => {
                    let names: Vec<&str> = keys.iter().map(|k| k.name.as_str()).collect();
                    tracing::info!(keys = ?names, "API keys reloaded");
                    *sh.api_keys.write().expect("api keys lock") = keys;
                }
                Err(e) => {
                    tracing::error!(error = %e, "API key reload failed; keeping the current keys")
                }
            }
        }
    });
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_owned())
        .unwrap_or_else(|_| "node".into())
}

/// A database URL without its password, for messages.
fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            let user = creds.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..s + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// Install the tracing subscriber (text or JSON, `RUST_LOG` filter, default `info`).
pub fn init_tracing(config: &Config) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter);
    let _ = match config.log_format {
        crate::config::LogFormat::Json => builder.json().try_init(),
        crate::config::LogFormat::Text => builder.try_init(),
    };
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

/// `switchboard check-config`: validate and print the effective configuration.
pub fn check_config(
    args: &crate::cli::ServeArgs,
    env: &std::collections::HashMap<String, String>,
) -> anyhow::Result<()> {
    let (config, warnings) = Config::load(args, env)?;
    Rules::from_config(&config.rules)?;
    for w in warnings {
        eprintln!("warning: {w}");
    }
    print!("{}", config.redacted_toml());
    eprintln!("configuration OK");
    Ok(())
}

/// `switchboard token`: print a development JWT signed with the configured secret.
pub fn token_cli(
    args: &crate::cli::TokenArgs,
    env: &std::collections::HashMap<String, String>,
) -> anyhow::Result<()> {
    let (config, _) = Config::load(&args.config, env)?;
    let secret = config
        .jwt_secret
        .as_ref()
        .context("no JWT secret configured (--jwt-secret or SWITCHBOARD_JWT_SECRET)")?;
    let ttl = humantime::parse_duration(&args.ttl).context("--ttl must look like 1h, 30m or 7d")?;
    let token = crate::identity::mint(
        secret.expose(),
        &args.sub,
        &args.roles,
        args.tenant.as_deref(),
        ttl,
    )?;
    println!("{token}");
    Ok(())
}

/// `switchboard publish`: one event through a running server's HTTP API.
pub async fn publish_cli(args: crate::cli::PublishArgs) -> anyhow::Result<()> {
    use anyhow::Context;
    let data: serde_json::Value =
        serde_json::from_str(&args.data).context("--data must be JSON")?;
    let body = serde_json::json!({
        "event": args.event, "data": data, "rooms": args.rooms, "except": args.except, "volatile": args.volatile,
    });
    let mut req = reqwest::Client::new()
        .post(format!("{}/api/v1/publish", args.url.trim_end_matches('/')))
        .json(&body);
    if let Some(key) = &args.api_key {
        req = req.bearer_auth(key.expose());
    }
    let resp = req.send().await.context("could not reach the server")?;
    let status = resp.status();
    let text = resp.text().await?;
    println!("{text}");
    anyhow::ensure!(status.is_success(), "publish failed with HTTP {status}");
    Ok(())
}
