//! `TestServer` boots the App on port 0; `TestClient` is a rust_socketio client whose
//! events land in a channel.

use futures_util::FutureExt;
use rust_socketio::asynchronous::{Client, ClientBuilder};
use rust_socketio::{Event, Payload, TransportType};
use serde_json::Value;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;
use switchboard::cli::ServeArgs;
use switchboard::config::Config;
use tokio::sync::{mpsc, oneshot};

pub const T: Duration = Duration::from_secs(5);

/// The HS256 secret of `test_config()`.
pub const TEST_SECRET: &str = "integration-test-secret-0123456789abcdef";

/// A valid token for `sub` with `roles` and `tenant`.
pub fn token(sub: &str, roles: &[&str], tenant: Option<&str>) -> String {
    let roles: Vec<String> = roles.iter().map(|r| r.to_string()).collect();
    switchboard::identity::mint(TEST_SECRET, sub, &roles, tenant, Duration::from_secs(600)).unwrap()
}

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
}

pub fn test_config() -> Config {
    let (mut c, _) =
        Config::load(&ServeArgs::default(), &HashMap::new()).expect("default config loads");
    c.database_url = "sqlite::memory:".into();
    c.jwt_secret = Some(TEST_SECRET.into());
    c.ping_interval_ms = 3000;
    c.ping_timeout_ms = 3000;
    c
}

impl TestServer {
    pub async fn spawn() -> Self {
        Self::with(test_config()).await
    }

    pub async fn with(config: Config) -> Self {
        if std::env::var_os("TEST_LOG").is_some() {
            switchboard::app::init_tracing(&config);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let app = switchboard::App::build(config).await.expect("app builds");
        let task = tokio::spawn(app.run(listener, async {
            let _ = stopped.await;
        }));
        Self {
            addr,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = tokio::time::timeout(
            T,
            reqwest::Client::new()
                .post(self.url(path))
                .json(body)
                .send(),
        )
        .await
        .expect("timeout")
        .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn post_raw(&self, path: &str, body: &'static str) -> (u16, Value) {
        let r = reqwest::Client::new()
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn put(&self, path: &str, body: &Value) -> (u16, Value) {
        let r = tokio::time::timeout(
            T,
            reqwest::Client::new().put(self.url(path)).json(body).send(),
        )
        .await
        .expect("timeout")
        .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = tokio::time::timeout(T, reqwest::get(self.url(path)))
            .await
            .expect("timeout")
            .unwrap();
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Graceful shutdown, bounded.
    pub async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        let task = self.task.take().unwrap();
        tokio::time::timeout(T, task)
            .await
            .expect("shutdown in time")
            .unwrap()
            .unwrap();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

pub struct TestClient {
    pub client: Client,
    rx: mpsc::UnboundedReceiver<(String, Value)>,
}

fn first(p: Payload) -> Value {
    #[allow(deprecated)]
    match p {
        Payload::Text(mut v) if !v.is_empty() => v.remove(0),
        Payload::Text(_) => Value::Null,
        Payload::String(s) => serde_json::from_str(&s).unwrap_or(Value::String(s)),
        Payload::Binary(_) => Value::Null,
    }
}

impl TestClient {
    pub async fn connect(srv: &TestServer) -> Self {
        Self::connect_with(srv, TransportType::Websocket).await
    }

    pub async fn connect_auth(srv: &TestServer, auth: Value) -> Self {
        Self::connect_full(srv, TransportType::Websocket, Some(auth)).await
    }

    /// Connect as user `sub` (a valid token) with `roles`.
    pub async fn connect_as(srv: &TestServer, sub: &str, roles: &[&str]) -> Self {
        Self::connect_auth(srv, serde_json::json!({ "token": token(sub, roles, None) })).await
    }

    pub async fn connect_with(srv: &TestServer, transport: TransportType) -> Self {
        Self::connect_full(srv, transport, None).await
    }

    /// Connect to a server by URL (e.g. one running as a separate process).
    pub async fn connect_to(url: &str) -> Self {
        Self::connect_url(url, TransportType::Websocket, None).await
    }

    async fn connect_full(srv: &TestServer, transport: TransportType, auth: Option<Value>) -> Self {
        Self::connect_url(&srv.url("/"), transport, auth).await
    }

    async fn connect_url(url: &str, transport: TransportType, auth: Option<Value>) -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let (ctx, crx) = oneshot::channel::<()>();
        let ctx = std::sync::Mutex::new(Some(ctx));
        let mut builder = ClientBuilder::new(url).transport_type(transport);
        if let Some(a) = auth {
            builder = builder.auth(a);
        }
        let client = builder
            .on(Event::Connect, move |_, _| {
                if let Some(c) = ctx.lock().unwrap().take() {
                    let _ = c.send(());
                }
                async {}.boxed()
            })
            .on(Event::Error, {
                // rust_socketio routes a server `error` event to its Error callback.
                let tx = tx.clone();
                move |payload, _| {
                    let _ = tx.send(("error".to_owned(), first(payload)));
                    async {}.boxed()
                }
            })
            .on_any(move |ev, payload, _| {
                let _ = tx.send((ev.to_string(), first(payload)));
                async {}.boxed()
            })
            .connect()
            .await
            .expect("socket.io connect");
        tokio::time::timeout(T, crx)
            .await
            .expect("connect event")
            .unwrap();
        Self { client, rx }
    }

    pub async fn emit(&self, event: &str, data: Value) {
        self.client.emit(event, data).await.expect("emit");
    }

    /// Emit with an ack callback; returns the first ack argument.
    pub async fn ack(&self, event: &str, data: Value) -> Value {
        let (tx, rx) = oneshot::channel();
        let tx = std::sync::Mutex::new(Some(tx));
        self.client
            .emit_with_ack(event, data, T, move |p: Payload, _| {
                if let Some(t) = tx.lock().unwrap().take() {
                    // rust_socketio hands an ack's arguments over as one array.
                    let v = match first(p) {
                        serde_json::Value::Array(mut a) if !a.is_empty() => a.remove(0),
                        v => v,
                    };
                    let _ = t.send(v);
                }
                async {}.boxed()
            })
            .await
            .expect("emit with ack");
        tokio::time::timeout(T, rx)
            .await
            .expect("timeout waiting for ack")
            .unwrap()
    }

    /// The next event whose name satisfies `want`; others are skipped.
    pub async fn next_where(&mut self, want: impl Fn(&str) -> bool) -> (String, Value) {
        loop {
            let (name, v) = tokio::time::timeout(T, self.rx.recv())
                .await
                .expect("timeout waiting for an event")
                .expect("client alive");
            if want(&name) {
                return (name, v);
            }
        }
    }

    /// The payload of the next `event`.
    pub async fn expect(&mut self, event: &str) -> Value {
        self.next_where(|n| n == event).await.1
    }
}

/// A fresh PostgreSQL database for one test (`TEST_POSTGRES_URL`, default the local
/// server with trust auth), dropped at the end.
pub struct PgDatabase {
    pub url: String,
    admin: String,
    name: String,
}

impl PgDatabase {
    pub async fn create() -> Self {
        use sqlx::Connection;
        let admin = std::env::var("TEST_POSTGRES_URL")
            .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
        let name = format!("sb_it_{:x}", rand::random::<u64>());
        let mut c = sqlx::PgConnection::connect(&admin)
            .await
            .expect("PostgreSQL reachable (see .ci/run)");
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut c)
            .await
            .unwrap();
        let base = admin.rsplit_once('/').map(|(b, _)| b.to_owned()).unwrap();
        Self {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }

    pub async fn drop(self) {
        use sqlx::Connection;
        let mut c = sqlx::PgConnection::connect(&self.admin).await.unwrap();
        let _ = sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut c)
        .await;
    }
}
