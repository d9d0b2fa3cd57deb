//! A test server on port 0 and a raw WebSocket client.

use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const T: Duration = Duration::from_secs(5);

pub struct TestServer {
    pub addr: SocketAddr,
    pub io: sio::Server,
    stop: Option<oneshot::Sender<()>>,
}

impl TestServer {
    pub async fn spawn(io: sio::Server) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let srv = io.clone();
        tokio::spawn(async move {
            srv.serve(listener, async {
                let _ = stopped.await;
            })
            .await
            .unwrap();
        });
        Self {
            addr,
            io,
            stop: Some(stop),
        }
    }

    pub fn url(&self, query: &str) -> String {
        format!("http://{}/socket.io/?EIO=4&{query}", self.addr)
    }

    /// Open a polling session; returns the URL of that session's requests.
    pub async fn open_polling(&self) -> String {
        let body = reqwest::get(self.url("transport=polling"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let open: serde_json::Value = serde_json::from_str(&body[1..]).unwrap();
        self.url(&format!(
            "transport=polling&sid={}",
            open["sid"].as_str().unwrap()
        ))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// A heartbeat short enough to exercise pings, long enough that a client the test is
/// not reading right now (a busy CI machine) is not timed out.
pub fn fast_config() -> sio::Config {
    sio::Config {
        ping_interval: Duration::from_millis(2000),
        ping_timeout: Duration::from_millis(2000),
        ..Default::default()
    }
}

/// The official suites' heartbeat (300 ms / 200 ms), for the ping-timeout test.
pub fn tight_heartbeat() -> sio::Config {
    sio::Config {
        ping_interval: Duration::from_millis(300),
        ping_timeout: Duration::from_millis(200),
        ..Default::default()
    }
}

pub struct Ws {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
    pub sid: String,
}

impl Ws {
    /// Open an Engine.IO session over WebSocket (no Socket.IO CONNECT yet).
    pub async fn open(addr: SocketAddr) -> Ws {
        Self::open_query(addr, "").await
    }

    pub async fn open_query(addr: SocketAddr, extra: &str) -> Ws {
        let url = format!("ws://{addr}/socket.io/?EIO=4&transport=websocket{extra}");
        let (ws, _) = tokio::time::timeout(T, tokio_tungstenite::connect_async(url))
            .await
            .expect("connect timeout")
            .expect("ws connect");
        let mut c = Ws {
            ws,
            sid: String::new(),
        };
        let open = c.recv_text().await;
        assert!(open.starts_with('0'), "open packet, got {open}");
        let v: serde_json::Value = serde_json::from_str(&open[1..]).unwrap();
        c.sid = v["sid"].as_str().unwrap().to_owned();
        c
    }

    /// Open and CONNECT to `/` with `auth`; returns the CONNECT ack payload.
    pub async fn connect(addr: SocketAddr, auth: &str) -> (Ws, serde_json::Value) {
        let mut c = Self::open(addr).await;
        c.send(&format!("40{auth}")).await;
        let ack = c.recv_text().await;
        assert!(ack.starts_with("40"), "connect ack, got {ack}");
        let v = serde_json::from_str(&ack[2..]).unwrap();
        (c, v)
    }

    pub async fn send(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("send");
    }

    pub async fn send_bin(&mut self, b: &[u8]) {
        self.ws
            .send(Message::binary(b.to_vec()))
            .await
            .expect("send");
    }

    /// Next message (pings answered and skipped). `None` when the server closed.
    pub async fn next(&mut self) -> Option<Message> {
        loop {
            let m = tokio::time::timeout(T, self.ws.next())
                .await
                .expect("timeout waiting for a message");
            match m {
                Some(Ok(Message::Text(t))) if t.as_str() == "2" => self.send("3").await,
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                Some(Ok(m @ (Message::Text(_) | Message::Binary(_)))) => return Some(m),
                Some(Ok(_)) => {}
            }
        }
    }

    pub async fn recv_text(&mut self) -> String {
        match self.next().await {
            Some(Message::Text(t)) => t.to_string(),
            other => panic!("expected a text message, got {other:?}"),
        }
    }

    /// Wait until the server closes the connection.
    pub async fn closed(&mut self) {
        while let Some(m) = tokio::time::timeout(T, self.ws.next())
            .await
            .expect("timeout waiting for close")
        {
            if matches!(m, Err(_) | Ok(Message::Close(_))) {
                return;
            }
        }
    }
}

/// Poll `f` until it holds (for state changes the test cannot observe as an event).
pub async fn eventually(mut f: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + T;
    while !f() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "condition not reached in time"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Disconnect reasons seen by the test app, in order.
pub type Reasons = std::sync::Arc<std::sync::Mutex<Vec<sio::DisconnectReason>>>;

/// The app most tests use:
/// - `echo` re-emits its args (binary included), `ack` acknowledges with its args;
/// - `join`/`leave` (room string) sync; `slow` (ms) an async handler that sleeps;
/// - `bcast` `{room, except?, volatile?, data}` emits `msg` with `data` to the room;
/// - `ask` emits `question` with an ack and emits `answer` with the reply (or `ack-error`).
///
/// Auth `{"deny": true}` is refused by the connect hook with `denied`.
pub fn app(config: sio::Config, reasons: Reasons) -> sio::Server {
    sio::Server::builder(config)
        .namespace("/", move |ns| {
            ns.on_connect(|_s, auth| async move {
                tokio::time::sleep(Duration::from_millis(2)).await;
                if auth.get("deny").is_some() {
                    return Err(sio::ConnectError::new("denied"));
                }
                Ok(())
            })
            .on("echo", |s, ev| {
                let _ = s.emit_raw("echo", ev.args_raw(), ev.bins());
            })
            .on("ack", |s, mut ev| {
                let args = ev.args_raw().to_owned();
                let bins = ev.bins().to_vec();
                let _ = ev.ack_raw(s, &args, bins);
            })
            .on("join", |s, ev| {
                s.join(ev.arg::<String>(0).unwrap());
            })
            .on("leave", |s, ev| {
                s.leave(ev.arg::<String>(0).unwrap());
            })
            .on_async("slow", |_s, ev| async move {
                let ms: u64 = ev.arg(0).unwrap_or(1);
                tokio::time::sleep(Duration::from_millis(ms)).await;
            })
            .on("bcast", |s, ev| {
                let v: serde_json::Value = ev.arg(0).unwrap();
                let mut op = s.ns().to(v["room"].as_str().unwrap());
                if let Some(e) = v["except"].as_str() {
                    op = op.except(e);
                }
                if v["volatile"].as_bool() == Some(true) {
                    op = op.volatile();
                }
                op.emit("msg", &v["data"]).unwrap();
            })
            .on_async("ask", |s, _ev| async move {
                match s
                    .emit_with_ack("question", &1, Some(Duration::from_millis(300)))
                    .await
                {
                    Ok(r) => s
                        .emit("answer", &r.first::<serde_json::Value>().unwrap())
                        .unwrap(),
                    Err(e) => s.emit("ack-error", &e.to_string()).unwrap(),
                }
            })
            .on_disconnect(move |_s, r| reasons.lock().unwrap().push(r))
        })
        .build()
}
