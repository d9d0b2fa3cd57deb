//! sb-bench: end-to-end load generator for `switchboard` and its baselines.
//!
//! Speaks Engine.IO v4 / Socket.IO v5 as raw packets, over WebSocket (its own lean client,
//! `ws.rs`) or, in the `polling` mode, over HTTP long-polling:
//!   `GET /socket.io/?EIO=4&transport=websocket` -> server `0{..}` (OPEN)
//!   client `40` -> server `40{"sid":..}` (CONNECT ack); `2` ping -> `3` pong; `42[...]` events.
//! Publishes go through the product's HTTP API (`POST /api/v1/publish`) on a few
//! keep-alive connections with a minimal HTTP/1.1 client, or (`--proto peer`, for
//! `crates/sio`'s bench-peer) through a Socket.IO `bcast` event.
//!
//! Subcommands (one JSON line on stdout, a human summary on stderr):
//!   connect  N clients at R/s, each emits `module:subscribe` right after the CONNECT ack;
//!            connect-to-snapshot latency, server RSS per idle subscribed connection.
//!   fanout   N subscribers in K module rooms, publishes at rate steps; latency now-ts,
//!            loss after a drain wait; optional slow consumer that stops reading.
//!   publish  the publish API alone, closed loop, for lists of 1..n target rooms.
//!   polling  `fanout` with Engine.IO long-polling subscribers (transport=polling, no upgrade).
//!
//! `--parser msgpack`: the server speaks socket.io-msgpack-parser (binary messages).
//!
//! Single-threaded on purpose (tokio current_thread + LocalSet): `run.sh` pins it to one
//! core and every result carries the generator's own CPU use. Loopback targets only;
//! every loop is bounded in count and time.

mod ws;

use hdrhistogram::Histogram;
use serde_json::{json, Value};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::net::{Ipv4Addr, SocketAddr};
use std::rc::Rc;
use std::str::FromStr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::{watch, Notify};
use tokio::time::{sleep, sleep_until};
use ws::WsConn as Ws;

// ------------------------------------------------------------------ arguments

/// `--key value` pairs after the subcommand; every key must be consumed.
struct Opts {
    m: HashMap<String, String>,
    used: RefCell<HashSet<String>>,
}

impl Opts {
    fn parse(args: &[String]) -> Opts {
        let mut m = HashMap::new();
        let mut i = 0;
        while i < args.len() {
            let k = args[i]
                .strip_prefix("--")
                .unwrap_or_else(|| die(&format!("unexpected argument {}", args[i])));
            let v = args
                .get(i + 1)
                .unwrap_or_else(|| die(&format!("--{k} needs a value")));
            m.insert(k.to_string(), v.clone());
            i += 2;
        }
        Opts {
            m,
            used: RefCell::new(HashSet::new()),
        }
    }
    fn get<T: FromStr>(&self, k: &str, d: T) -> T {
        self.used.borrow_mut().insert(k.to_string());
        match self.m.get(k) {
            None => d,
            Some(v) => v
                .parse()
                .unwrap_or_else(|_| die(&format!("--{k}: cannot parse {v:?}"))),
        }
    }
    fn s(&self, k: &str, d: &str) -> String {
        self.get(k, d.to_string())
    }
    fn list(&self, k: &str, d: &str) -> Vec<f64> {
        self.s(k, d)
            .split(',')
            .filter(|x| !x.is_empty())
            .map(|x| {
                x.trim()
                    .parse()
                    .unwrap_or_else(|_| die(&format!("--{k}: bad number {x:?}")))
            })
            .collect()
    }
    fn finish(&self) {
        let used = self.used.borrow();
        for k in self.m.keys() {
            if !used.contains(k) {
                die(&format!("unknown option --{k}"));
            }
        }
    }
}

fn die(msg: &str) -> ! {
    eprintln!("sb-bench: {msg}");
    std::process::exit(2)
}

#[derive(Clone)]
struct Common {
    addr: SocketAddr,
    server_pid: Option<u32>,
    label: String,
    ws_read_buffer: usize,
    connect_timeout: f64,
    /// Offer permessage-deflate (`--deflate 1`).
    deflate: bool,
    /// `erp`: module:subscribe + snapshot, HTTP publish. `peer`: join + bcast (bench-peer).
    proto: Proto,
}

#[derive(Clone, Copy, PartialEq)]
enum Proto {
    Erp,
    Peer,
}

impl Common {
    fn from(o: &Opts) -> Common {
        let port: u16 = o.get("port", 3000);
        let pid: i64 = o.get("server-pid", -1);
        let proto = match o.s("proto", "erp").as_str() {
            "erp" => Proto::Erp,
            "peer" => Proto::Peer,
            p => die(&format!("--proto {p}: expected erp or peer")),
        };
        match o.s("parser", "json").as_str() {
            "json" => {}
            "msgpack" => MSGPACK.store(true, std::sync::atomic::Ordering::Relaxed),
            p => die(&format!("--parser {p}: expected json or msgpack")),
        }
        Common {
            // Loopback only, by construction: there is no --host.
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, port)),
            server_pid: (pid > 0).then_some(pid as u32),
            label: o.s("label", ""),
            ws_read_buffer: o.get("ws-read-buffer", 16384usize).max(4096),
            connect_timeout: o.get("connect-timeout", 10.0),
            deflate: {
                ws::set_inflate_every(o.get("inflate-every", 1u64));
                o.get("deflate", 0u8) == 1
            },
            proto,
        }
    }
}

// ------------------------------------------------------------------ /proc and time

/// USER_HZ: 100 on every Linux target this runs on.
const CLK_TCK: f64 = 100.0;

fn proc_cpu_s(pid: &str) -> Option<f64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let f: Vec<&str> = s[s.rfind(')')? + 1..].split_whitespace().collect();
    // fields after the command: [0]=state ... [11]=utime [12]=stime
    Some((f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?) / CLK_TCK)
}

fn proc_rss_kb(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Busy CPU seconds of the whole machine (all CPUs) from /proc/stat.
fn machine_busy_s() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let v: Vec<f64> = s
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .take(8)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    (v.len() == 8).then(|| (v.iter().sum::<f64>() - v[3] - v[4]) / CLK_TCK)
}

struct CpuMeter {
    pid: Option<String>,
    t0: Instant,
    srv0: Option<f64>,
    gen0: Option<f64>,
    all0: Option<f64>,
}

impl CpuMeter {
    fn start(pid: Option<u32>) -> CpuMeter {
        let pid = pid.map(|p| p.to_string());
        CpuMeter {
            srv0: pid.as_deref().and_then(proc_cpu_s),
            pid,
            gen0: proc_cpu_s("self"),
            all0: machine_busy_s(),
            t0: Instant::now(),
        }
    }
    /// (wall s, server util, generator util, others util); util = CPU s / wall s. Also the CPU used by everything else on the machine (other processes stealing the
    /// pinned cores make a measurement worthless; this makes it visible).
    fn read4(&self) -> (f64, Option<f64>, Option<f64>, Option<f64>) {
        let wall = self.t0.elapsed().as_secs_f64().max(1e-9);
        let srv_s = self
            .srv0
            .zip(self.pid.as_deref().and_then(proc_cpu_s))
            .map(|(a, b)| b - a);
        let gen_s = self.gen0.zip(proc_cpu_s("self")).map(|(a, b)| b - a);
        let all_s = self.all0.zip(machine_busy_s()).map(|(a, b)| b - a);
        let others =
            all_s.map(|a| r3(((a - srv_s.unwrap_or(0.0) - gen_s.unwrap_or(0.0)) / wall).max(0.0)));
        (
            r3(wall),
            srv_s.map(|x| r3(x / wall)),
            gen_s.map(|x| r3(x / wall)),
            others,
        )
    }
}

fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0)
}

fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

fn hist(max: u64) -> Histogram<u64> {
    Histogram::new_with_bounds(1, max, 3).expect("histogram bounds")
}

/// Percentiles of a histogram in ns (or µs with `per_ms` = 1000) as milliseconds.
fn lat_json(h: &Histogram<u64>, per_ms: f64) -> Value {
    let q = |x: f64| {
        if h.is_empty() {
            Value::Null
        } else {
            json!(r3(h.value_at_quantile(x) as f64 / per_ms))
        }
    };
    json!({
        "n": h.len(), "p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "p999": q(0.999),
        "max": if h.is_empty() { Value::Null } else { json!(r3(h.max() as f64 / per_ms)) },
    })
}

/// A client that could not connect: counted, and its reason tallied.
fn count_failure<T: Copy + std::ops::Add<Output = T> + From<u8>>(
    failed: &Cell<T>,
    m: &RefCell<BTreeMap<String, u64>>,
    e: String,
) {
    failed.set(failed.get() + T::from(1));
    count_err(m, e);
}

fn count_err(m: &RefCell<BTreeMap<String, u64>>, e: String) {
    *m.borrow_mut().entry(e).or_insert(0) += 1;
}

fn errs_json(m: &BTreeMap<String, u64>) -> Value {
    let mut v: Vec<_> = m.iter().collect();
    v.sort_by(|a, b| b.1.cmp(a.1));
    Value::Object(
        v.into_iter()
            .take(5)
            .map(|(k, n)| (k.clone(), json!(n)))
            .collect(),
    )
}

// ------------------------------------------------------------------ Socket.IO client

/// TCP connect, WebSocket upgrade, Engine.IO OPEN, Socket.IO CONNECT to "/".
async fn sio_connect(c: &Common) -> Result<Ws, String> {
    let mut ws = Ws::connect(
        c.addr,
        "/socket.io/?EIO=4&transport=websocket",
        c.ws_read_buffer,
        c.deflate,
    )
    .await?;
    let mut opened = false;
    loop {
        let s = ws
            .next()
            .await
            .map_err(|e| format!("handshake read: {e}"))?;
        if !opened {
            if !s.starts_with(b"0") {
                return Err(format!("expected OPEN, got {:.40}", lossy(s)));
            }
            opened = true;
            if msgpack() {
                ws.send_binary(&mp::packet(0, None))
                    .await
                    .map_err(|e| format!("send CONNECT: {e}"))?;
            } else {
                ws.send_text("40")
                    .await
                    .map_err(|e| format!("send CONNECT: {e}"))?;
            }
        } else if s.starts_with(b"40") || mp::kind(s) == Some(0) {
            return Ok(ws);
        } else if mp::kind(s) == Some(4) {
            return Err(format!("connect_error {:.60}", lossy(s)));
        } else if s == b"2" {
            ws.send_text("3").await.map_err(|e| format!("pong: {e}"))?;
        } else if s.starts_with(b"44") {
            return Err(format!("connect_error {:.60}", lossy(s)));
        }
    }
}

/// `--parser msgpack`: the server speaks socket.io-msgpack-parser (erp fan-out over
/// WebSocket only).
static MSGPACK: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn msgpack() -> bool {
    MSGPACK.load(std::sync::atomic::Ordering::Relaxed)
}

/// Send a `4…` Socket.IO packet given in its JSON form, converted when the server speaks
/// msgpack.
async fn send_sio(ws: &mut Ws, pkt: &str) -> Result<(), String> {
    if !msgpack() {
        return ws.send_text(pkt).await;
    }
    let json = pkt.strip_prefix("42").ok_or("only events are converted")?;
    let v: Value = serde_json::from_str(json).map_err(|e| e.to_string())?;
    ws.send_binary(&mp::packet(2, Some(&v))).await
}

/// The few msgpack shapes the generator writes and looks for.
mod mp {
    use serde_json::Value;

    fn str_(out: &mut Vec<u8>, s: &str) {
        let n = s.len();
        if n < 32 {
            out.push(0xa0 | n as u8);
        } else if n < 256 {
            out.extend([0xd9, n as u8]);
        } else {
            out.push(0xda);
            out.extend((n as u16).to_be_bytes());
        }
        out.extend_from_slice(s.as_bytes());
    }

    fn value(out: &mut Vec<u8>, v: &Value) {
        match v {
            Value::Null => out.push(0xc0),
            Value::Bool(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
            Value::Number(n) => {
                let u = n.as_u64().unwrap_or(0);
                out.push(0xcf);
                out.extend(u.to_be_bytes());
            }
            Value::String(s) => str_(out, s),
            Value::Array(a) => {
                out.push(0x90 | a.len().min(15) as u8);
                a.iter().take(15).for_each(|x| value(out, x));
            }
            Value::Object(m) => {
                out.push(0x80 | m.len().min(15) as u8);
                for (k, x) in m.iter().take(15) {
                    str_(out, k);
                    value(out, x);
                }
            }
        }
    }

    /// `{ type, data?, nsp: "/" }`.
    pub fn packet(kind: u8, data: Option<&Value>) -> Vec<u8> {
        let mut out = vec![if data.is_some() { 0x83 } else { 0x82 }];
        str_(&mut out, "type");
        out.push(kind);
        if let Some(d) = data {
            str_(&mut out, "data");
            value(&mut out, d);
        }
        str_(&mut out, "nsp");
        str_(&mut out, "/");
        out
    }

    /// The `type` of a server packet (socket.io writes it first).
    pub fn kind(s: &[u8]) -> Option<u8> {
        (s.len() > 6 && s[0] & 0xf0 == 0x80 && &s[1..6] == b"\xa4type").then(|| s[6])
    }

    /// An EVENT whose name is `name`: `{ type: 2, data: [name, …], … }`.
    pub fn is_event(s: &[u8], name: &[u8]) -> bool {
        kind(s) == Some(2)
            && s.get(7..12) == Some(&b"\xa4data"[..])
            && s.get(12).is_some_and(|&b| b & 0xf0 == 0x90 || b == 0xdc)
            && {
                let at = if s[12] == 0xdc { 15 } else { 13 };
                s.get(at) == Some(&(0xa0 | name.len() as u8))
                    && s.get(at + 1..at + 1 + name.len()) == Some(name)
            }
    }

    /// The integer after the key `ts`.
    pub fn parse_ts(s: &[u8]) -> Option<u64> {
        let i = s.windows(3).position(|w| w == b"\xa2ts")? + 3;
        let m = *s.get(i)?;
        let be = |n: usize| {
            s.get(i + 1..i + 1 + n)
                .map(|b| b.iter().fold(0u64, |a, &x| (a << 8) | u64::from(x)))
        };
        match m {
            0x00..=0x7f => Some(u64::from(m)),
            0xcc => be(1),
            0xcd => be(2),
            0xce => be(4),
            0xcf => be(8),
            _ => None,
        }
    }
}

fn lossy(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

fn module_key(i: usize) -> String {
    format!("m{i}")
}

/// The subscribe packet of the protocol and the prefix of the frame that proves it.
fn subscribe_packet(proto: Proto, room: usize) -> (String, String) {
    match proto {
        Proto::Erp => {
            let m = module_key(room);
            (
                format!("42[\"module:subscribe\",{{\"moduleKey\":\"{m}\"}}]"),
                format!("42[\"kpi:update:{m}\""),
            )
        }
        // bench-peer has no snapshot: membership is proven by a warm-up broadcast (ts 0).
        Proto::Peer => (format!("42[\"join\",\"room-{room}\"]"), "42[\"msg\"".into()),
    }
}

/// The prefix of measured data frames.
fn data_prefix(proto: Proto) -> &'static [u8] {
    match proto {
        Proto::Erp => b"42[\"bench\"",
        Proto::Peer => b"42[\"msg\"",
    }
}

/// A KPI list (what `kpi:update:*` carries) of about `bytes` bytes of JSON, deterministic
/// (the same as `e2e/switchboard/compression.test.js` makes).
fn kpi_payload(bytes: usize) -> String {
    let mut x: u32 = 1;
    let mut rnd = move || {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        x as f64 / 4294967296.0
    };
    let modules = [
        "finance",
        "hr",
        "crm",
        "security",
        "elearning",
        "rehab",
        "reports",
    ];
    let labels = [
        "Revenue",
        "Expenses",
        "Margin",
        "Headcount",
        "Attrition",
        "Open roles",
        "Pipeline",
        "Win rate",
        "Incidents",
        "Uptime",
    ];
    let mut items: Vec<String> = Vec::new();
    let mut len = 2;
    let mut i = 0;
    while len < bytes {
        let (m, l) = (modules[i % modules.len()], labels[i % labels.len()]);
        let base = (rnd() * 100000.0).round() / 10.0;
        let prev = (base * (0.9 + rnd() * 0.2) * 10.0).round() / 10.0;
        let trend = ["up", "down", "flat"][(rnd() * 3.0) as usize];
        let status = ["success", "warning", "info", "danger"][(rnd() * 4.0) as usize];
        let sec = (rnd() * 60.0) as u32;
        let chart: Vec<String> = (0..8)
            .map(|_| format!("{}", (base * (0.8 + rnd() * 0.4)).round()))
            .collect();
        let item = format!(
            "{{\"id\":\"{m}-{}-{i}\",\"label\":\"{l} ({m})\",\"value\":{base},\"previousValue\":{prev},\"trend\":\"{trend}\",\"status\":\"{status}\",\"updatedAt\":\"2026-12-06T03:00:{sec:02}.000Z\",\"chart\":[{}]}}",
            l.to_lowercase().replace(' ', "-"),
            chart.join(",")
        );
        len += item.len() + 1;
        items.push(item);
        i += 1;
    }
    format!("[{}]", items.join(","))
}

/// The integer after `"ts":` (scans quote to quote: this runs once per received frame).
fn parse_ts(b: &[u8]) -> Option<u64> {
    let mut i = 0;
    loop {
        i += b.get(i..)?.iter().position(|&c| c == b'"')?;
        if b[i..].starts_with(b"\"ts\":") {
            break;
        }
        i += 1;
    }
    let i = i + 5;
    let mut j = i;
    let mut v: u64 = 0;
    while j < b.len() && b[j].is_ascii_digit() {
        v = v.wrapping_mul(10).wrapping_add((b[j] - b'0') as u64);
        j += 1;
    }
    (j > i).then_some(v)
}

// ------------------------------------------------------------------ minimal HTTP/1.1 client

/// One keep-alive HTTP/1.1 connection, one request at a time (no pipelining). The body of
/// the last response stays in the connection's buffer (`body()`).
struct Http {
    addr: SocketAddr,
    s: Option<TcpStream>,
    buf: Vec<u8>,
    /// The last response's body: `buf[body.0..body.1]`, or `dechunked` for a chunked one.
    body: (usize, usize),
    chunked: bool,
    dechunked: Vec<u8>,
}

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// The trimmed value of header line `l` if its name is `name` (ASCII case-insensitive).
fn header_value<'a>(l: &'a [u8], name: &[u8]) -> Option<&'a [u8]> {
    if l.len() > name.len() && l[name.len()] == b':' && l[..name.len()].eq_ignore_ascii_case(name) {
        Some(l[name.len() + 1..].trim_ascii())
    } else {
        None
    }
}

impl Http {
    fn new(addr: SocketAddr) -> Http {
        Http {
            addr,
            s: None,
            buf: Vec::with_capacity(8192),
            body: (0, 0),
            chunked: false,
            dechunked: Vec::new(),
        }
    }

    fn request_bytes(addr: SocketAddr, method: &str, path: &str, body: &str) -> Vec<u8> {
        Http::request_bytes_ct(addr, method, path, body, "application/json")
    }

    fn request_bytes_ct(
        addr: SocketAddr,
        method: &str,
        path: &str,
        body: &str,
        content_type: &str,
    ) -> Vec<u8> {
        let mut r = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n");
        if !body.is_empty() || method == "POST" {
            r.push_str(&format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        r.push_str("\r\n");
        r.push_str(body);
        r.into_bytes()
    }

    /// The body of the last successful response.
    fn body(&self) -> &[u8] {
        if self.chunked {
            &self.dechunked
        } else {
            &self.buf[self.body.0..self.body.1]
        }
    }

    /// Sends `req`, returns (status, body). A keep-alive connection the server closed
    /// while idle (Node closes after 5 s) is reopened and the request sent once more.
    async fn call(&mut self, req: &[u8]) -> Result<(u16, Vec<u8>), String> {
        let st = self.call_raw(req).await?;
        Ok((st, self.body().to_vec()))
    }

    /// `call` without copying the body out (see `body()`).
    async fn call_raw(&mut self, req: &[u8]) -> Result<u16, String> {
        let fresh = self.s.is_none();
        match self.try_call(req).await {
            Ok(r) => Ok(r),
            Err((e, got_bytes)) => {
                self.s = None;
                if fresh || got_bytes {
                    return Err(e);
                }
                self.try_call(req).await.map_err(|(e, _)| {
                    self.s = None;
                    e
                })
            }
        }
    }

    async fn try_call(&mut self, req: &[u8]) -> Result<u16, (String, bool)> {
        if self.s.is_none() {
            let s = TcpStream::connect(self.addr)
                .await
                .map_err(|e| (format!("http connect: {}", e.kind()), false))?;
            let _ = s.set_nodelay(true);
            self.s = Some(s);
        }
        let s = self.s.as_mut().expect("connected");
        s.write_all(req)
            .await
            .map_err(|e| (format!("http write: {}", e.kind()), false))?;
        self.buf.clear();
        let mut scanned = 0;
        loop {
            if let Some(he) = find(&self.buf[scanned..], b"\r\n\r\n").map(|i| i + scanned) {
                let head = &self.buf[..he];
                let bad = || (format!("http: bad status line {:.40}", lossy(head)), true);
                let status: u16 = head
                    .split(|&b| b == b' ')
                    .nth(1)
                    .and_then(|x| std::str::from_utf8(x).ok()?.parse().ok())
                    .ok_or_else(bad)?;
                let mut cl: Option<usize> = None;
                let mut chunked = false;
                let mut close = false;
                for l in head.split(|&b| b == b'\n').skip(1) {
                    let l = l.strip_suffix(b"\r").unwrap_or(l);
                    if let Some(v) = header_value(l, b"content-length") {
                        cl = std::str::from_utf8(v).ok().and_then(|v| v.parse().ok());
                    } else if let Some(v) = header_value(l, b"transfer-encoding") {
                        chunked = v.eq_ignore_ascii_case(b"chunked");
                    } else if let Some(v) = header_value(l, b"connection") {
                        close = v.eq_ignore_ascii_case(b"close");
                    }
                }
                let body_start = he + 4;
                self.chunked = chunked;
                if chunked {
                    loop {
                        if let Some(end) = find(&self.buf[body_start..], b"0\r\n\r\n") {
                            self.dechunked = dechunk(&self.buf[body_start..body_start + end + 5]);
                            break;
                        }
                        self.read_more().await?;
                    }
                } else {
                    let n = cl.unwrap_or(0);
                    while self.buf.len() < body_start + n {
                        self.read_more().await?;
                    }
                    self.body = (body_start, body_start + n);
                }
                if close {
                    self.s = None;
                }
                return Ok(status);
            }
            scanned = self.buf.len().saturating_sub(3);
            self.read_more().await?;
        }
    }

    async fn read_more(&mut self) -> Result<(), (String, bool)> {
        let got = !self.buf.is_empty();
        let s = self
            .s
            .as_mut()
            .ok_or_else(|| ("http: not connected".to_string(), got))?;
        self.buf.reserve(4096);
        match s.read_buf(&mut self.buf).await {
            Ok(0) => Err(("http: closed by server".into(), got)),
            Ok(_) => Ok(()),
            Err(e) => Err((format!("http read: {}", e.kind()), got)),
        }
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(le) = find(b, b"\r\n") {
        let n = usize::from_str_radix(std::str::from_utf8(&b[..le]).unwrap_or("0").trim(), 16)
            .unwrap_or(0);
        if n == 0 || b.len() < le + 2 + n {
            break;
        }
        out.extend_from_slice(&b[le + 2..le + 2 + n]);
        b = &b[(le + 4 + n).min(b.len())..];
    }
    out
}

/// `counters` of switchboard's `GET /api/v1/stats` (None for servers without it).
async fn server_counters(addr: SocketAddr) -> Option<Value> {
    let mut h = Http::new(addr);
    let req = Http::request_bytes(addr, "GET", "/api/v1/stats", "");
    let (st, body) = tokio::time::timeout(Duration::from_secs(5), h.call(&req))
        .await
        .ok()?
        .ok()?;
    if st != 200 {
        return None;
    }
    let v: Value = serde_json::from_slice(&body).ok()?;
    Some(json!({
        "connections": v["data"]["connections"],
        "slow_consumers": v["data"]["counters"]["slow_consumers"],
        "deliveries": v["data"]["counters"]["deliveries"],
        "published": v["data"]["counters"]["published"],
        "volatile_dropped": v["data"]["counters"]["volatile_dropped"],
    }))
}

// ------------------------------------------------------------------ connect storm

async fn run_connect(o: &Opts) -> Value {
    let c = Common::from(o);
    let clients: usize = o.get("clients", 1000);
    let rate: f64 = o.get("rate", 1000.0f64).max(0.001);
    let hold: f64 = o.get("hold", 10.0);
    let modules: usize = o.get("modules", 1usize).max(1);
    o.finish();

    let pid = c.server_pid.map(|p| p.to_string());
    let rss_before = pid.as_deref().and_then(proc_rss_kb);
    let h_ack = Rc::new(RefCell::new(hist(60_000_000_000)));
    let h_snap = Rc::new(RefCell::new(hist(60_000_000_000)));
    // connect->snapshot per second of the storm (by the second the attempt started): the
    // periodic ticks must not show up as one bad second.
    let h_snap_sec: Rc<RefCell<Vec<Histogram<u64>>>> = Rc::new(RefCell::new(Vec::new()));
    // connect->CONNECT ack per second the same way: what a bare engine (`--proto peer`)
    // reports, the floor the snapshot seconds compare with.
    let h_ack_sec: Rc<RefCell<Vec<Histogram<u64>>>> = Rc::new(RefCell::new(Vec::new()));
    let (connected, subscribed, failed, dropped) = (
        Rc::new(Cell::new(0u64)),
        Rc::new(Cell::new(0u64)),
        Rc::new(Cell::new(0u64)),
        Rc::new(Cell::new(0u64)),
    );
    let errors = Rc::new(RefCell::new(BTreeMap::new()));
    let holding = Rc::new(Cell::new(true));

    let cpu = CpuMeter::start(c.server_pid);
    let start = tokio::time::Instant::now();
    for i in 0..clients {
        sleep_until(start + Duration::from_secs_f64(i as f64 / rate)).await;
        let (c, h_ack, h_snap) = (c.clone(), h_ack.clone(), h_snap.clone());
        let (h_snap_sec, h_ack_sec) = (h_snap_sec.clone(), h_ack_sec.clone());
        let second = (i as f64 / rate) as usize;
        let (connected, subscribed, failed, dropped) = (
            connected.clone(),
            subscribed.clone(),
            failed.clone(),
            dropped.clone(),
        );
        let (errors, holding) = (errors.clone(), holding.clone());
        tokio::task::spawn_local(async move {
            let t0 = Instant::now();
            let (pkt, proof) = subscribe_packet(c.proto, i % modules);
            let setup = async {
                let mut ws = sio_connect(&c).await?;
                let t_ack = t0.elapsed();
                send_sio(&mut ws, &pkt)
                    .await
                    .map_err(|e| format!("send subscribe: {e}"))?;
                if c.proto == Proto::Peer {
                    return Ok((ws, t_ack, None));
                }
                loop {
                    let s = ws
                        .next()
                        .await
                        .map_err(|e| format!("read before snapshot: {e}"))?;
                    if s.starts_with(proof.as_bytes()) {
                        return Ok((ws, t_ack, Some(t0.elapsed())));
                    } else if s == b"2" {
                        ws.send_text("3").await.map_err(|e| format!("pong: {e}"))?;
                    } else if s.starts_with(b"42[\"error\"") {
                        return Err(format!("subscribe refused: {:.80}", lossy(s)));
                    }
                }
            };
            match tokio::time::timeout(Duration::from_secs_f64(c.connect_timeout), setup).await {
                Ok(Ok((mut ws, t_ack, t_snap))) => {
                    h_ack
                        .borrow_mut()
                        .saturating_record(t_ack.as_micros().max(1) as u64);
                    record_by_second(&h_ack_sec, second, t_ack);
                    connected.set(connected.get() + 1);
                    if let Some(t) = t_snap {
                        h_snap
                            .borrow_mut()
                            .saturating_record(t.as_micros().max(1) as u64);
                        record_by_second(&h_snap_sec, second, t);
                        subscribed.set(subscribed.get() + 1);
                    }
                    // Hold: answer pings, ignore everything else.
                    while let Ok(s) = ws.next().await {
                        let closed = if s == b"2" {
                            ws.send_text("3").await.is_err()
                        } else {
                            s.starts_with(b"41") || s == b"1"
                        };
                        if closed {
                            break;
                        }
                    }
                    if holding.get() {
                        dropped.set(dropped.get() + 1);
                    }
                }
                Ok(Err(e)) => count_failure(&failed, &errors, e),
                Err(_) => count_failure(&failed, &errors, "timeout".into()),
            }
        });
    }
    let wait_end = tokio::time::Instant::now() + Duration::from_secs_f64(c.connect_timeout + 1.0);
    while ((connected.get() + failed.get()) as usize) < clients
        && tokio::time::Instant::now() < wait_end
    {
        sleep(Duration::from_millis(10)).await;
    }
    let (connect_wall, srv_util, gen_util, others_util) = cpu.read4();

    // Idle hold: sample the server's RSS once a second.
    let mut samples = Vec::new();
    let hold_end = tokio::time::Instant::now() + Duration::from_secs_f64(hold);
    while tokio::time::Instant::now() < hold_end {
        sleep(Duration::from_secs(1).min(hold_end - tokio::time::Instant::now())).await;
        if let Some(r) = pid.as_deref().and_then(proc_rss_kb) {
            samples.push(r);
        }
    }
    let stats = if c.proto == Proto::Erp {
        server_counters(c.addr).await
    } else {
        None
    };
    holding.set(false);
    let rss_after = samples.last().copied();
    let n = connected.get();
    let per_conn = rss_before
        .zip(rss_after)
        .map(|(a, b)| r3((b as f64 - a as f64) / n.max(1) as f64));
    let (ha, hs) = (h_ack.borrow().clone(), h_snap.borrow().clone());
    let by_second: Vec<Value> = h_snap_sec
        .borrow()
        .iter()
        .map(|h| lat_json(h, 1000.0))
        .collect();
    let worst = |secs: &[Value]| {
        secs.iter()
            .filter_map(|v| v["p99"].as_f64())
            .fold(0.0f64, f64::max)
    };
    let worst_second_p99 = worst(&by_second);
    let ack_by_second: Vec<Value> = h_ack_sec
        .borrow()
        .iter()
        .map(|h| lat_json(h, 1000.0))
        .collect();
    let ok =
        n as usize == clients && (c.proto == Proto::Peer || subscribed.get() as usize == clients);
    eprintln!(
        "[connect {}] {}/{} connected, {} subscribed, {} failed, {} dropped | connect->snapshot ms p50 {} p99 {} max {} | \
         worst second p99 {} | RSS {:?} -> {:?} KiB = {:?} KiB/conn | util server {:?} gen {:?}",
        c.label, n, clients, subscribed.get(), failed.get(), dropped.get(),
        lat_json(&hs, 1000.0)["p50"], lat_json(&hs, 1000.0)["p99"], lat_json(&hs, 1000.0)["max"],
        worst_second_p99,
        rss_before, rss_after, per_conn, srv_util, gen_util
    );
    json!({
        "scenario": "connect", "label": c.label, "ok": ok, "ts_unix": now_ns() / 1_000_000_000,
        "clients": clients, "rate": rate, "hold_s": hold, "modules": modules,
        "connected": n, "subscribed": subscribed.get(), "failed": failed.get(),
        "dropped_during_hold": dropped.get(), "errors": errs_json(&errors.borrow()),
        "connect_to_ack_ms": lat_json(&ha, 1000.0),
        "connect_to_snapshot_ms": lat_json(&hs, 1000.0),
        "connect_to_snapshot_ms_by_second": by_second,
        "worst_second_snapshot_p99_ms": worst_second_p99,
        "connect_to_ack_ms_by_second": ack_by_second,
        "worst_second_ack_p99_ms": worst(&ack_by_second),
        "rss_before_kb": rss_before, "rss_after_kb": rss_after, "rss_max_kb": samples.iter().max(),
        "rss_samples_kb": samples, "rss_per_conn_kb": per_conn,
        "connect_wall_s": connect_wall, "server_util": srv_util, "gen_util": gen_util, "others_util": others_util,
        "server_counters": stats,
    })
}

// ------------------------------------------------------------------ fan-out

struct Fan {
    proto: Proto,
    hist: RefCell<Histogram<u64>>,
    received: Cell<u64>,
    stale: Cell<u64>,
    step_start_ns: Cell<u64>,
    ready: Cell<usize>,
    disconnected: Cell<usize>,
    unparsed: Cell<u64>,
}

impl Fan {
    /// A data frame read at `now` (unix ns): records now − ts. True for a warm-up (ts 0).
    fn on_data(&self, s: &[u8], now: u64) -> bool {
        let ts = if msgpack() {
            mp::parse_ts(s)
        } else {
            parse_ts(s)
        };
        match ts {
            Some(0) => true,
            Some(ts) => {
                if ts < self.step_start_ns.get() {
                    self.stale.set(self.stale.get() + 1);
                } else {
                    self.hist
                        .borrow_mut()
                        .saturating_record(now.saturating_sub(ts).max(1));
                    self.received.set(self.received.get() + 1);
                }
                false
            }
            None => {
                self.unparsed.set(self.unparsed.get() + 1);
                false
            }
        }
    }
}

/// A subscriber: becomes ready on its snapshot (erp) or first warm-up message (peer),
/// then records the latency of every data frame.
async fn subscriber(mut ws: Ws, proof: String, st: Rc<Fan>) {
    let mut ready = false;
    while let Ok((s, now)) = ws.next_timed().await {
        match st.on_packet(s, now, &proof, &mut ready) {
            Seen::Ping => {
                if ws.send_text("3").await.is_err() {
                    break;
                }
            }
            Seen::Closed => break,
            Seen::Other => {}
        }
    }
    st.disconnected.set(st.disconnected.get() + 1);
}

/// What a subscriber saw in one Engine.IO packet.
enum Seen {
    Ping,
    Closed,
    Other,
}

impl Fan {
    /// Record a data frame or the membership proof; say whether to pong or stop.
    fn on_packet(&self, s: &[u8], now: u64, proof: &str, ready: &mut bool) -> Seen {
        if msgpack() && s != b"2" {
            // the JSON prefixes `42["name"` name the events to look for
            let name = |p: &[u8]| p[4..p.len() - 1].to_vec();
            if mp::is_event(s, &name(data_prefix(self.proto))) {
                if self.on_data(s, now) && !*ready {
                    *ready = true;
                    self.ready.set(self.ready.get() + 1);
                }
            } else if !*ready && mp::is_event(s, &name(proof.as_bytes())) {
                *ready = true;
                self.ready.set(self.ready.get() + 1);
            } else if mp::kind(s) == Some(1) || s == b"1" {
                return Seen::Closed;
            }
            return Seen::Other;
        }
        if s == ws::SKIPPED {
            // A compressed data message left deflated (--inflate-every): counted, no latency.
            if *ready {
                self.received.set(self.received.get() + 1);
            }
        } else if s.starts_with(data_prefix(self.proto)) {
            if self.on_data(s, now) && !*ready {
                *ready = true;
                self.ready.set(self.ready.get() + 1);
            }
        } else if s == b"2" {
            return Seen::Ping;
        } else if !*ready && s.starts_with(proof.as_bytes()) {
            *ready = true;
            self.ready.set(self.ready.get() + 1);
        } else if s.starts_with(b"41") || s == b"1" {
            return Seen::Closed;
        }
        Seen::Other
    }
}

// ------------------------------------------------------------------ long-polling client

/// An Engine.IO long-polling session: one keep-alive connection for the pending GET (it
/// may wait for up to a ping interval) and another one for POSTs.
struct Poller {
    get: Http,
    post: Http,
    get_req: Vec<u8>,
    path: String,
}

/// The string value of `"key":"..."` in a JSON text (no escapes expected: sids are base64url).
fn json_str_field<'a>(b: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let k = format!("\"{key}\":\"");
    let i = find(b, k.as_bytes())? + k.len();
    let n = b[i..].iter().position(|&c| c == b'"')?;
    Some(&b[i..i + n])
}

fn percent_encode(b: &[u8]) -> String {
    let mut o = String::with_capacity(b.len());
    for &c in b {
        if c.is_ascii_alphanumeric() || b"-_.~".contains(&c) {
            o.push(c as char);
        } else {
            o.push_str(&format!("%{c:02X}"));
        }
    }
    o
}

impl Poller {
    /// POSTs one or more packets (joined with `\x1e` by the caller).
    async fn post(&mut self, body: &str) -> Result<(), String> {
        let req = Http::request_bytes_ct(
            self.post.addr,
            "POST",
            &self.path,
            body,
            "text/plain;charset=UTF-8",
        );
        match self.post.call_raw(&req).await? {
            200 => Ok(()),
            st => Err(format!(
                "POST {body:.20}: HTTP {st} {:.60}",
                lossy(self.post.body())
            )),
        }
    }

    /// One long-poll: the response body (packets separated by `\x1e`), borrowed until the
    /// next call.
    async fn poll(&mut self) -> Result<&[u8], String> {
        match self.get.call_raw(&self.get_req).await? {
            200 => Ok(self.get.body()),
            st => Err(format!("GET: HTTP {st} {:.60}", lossy(self.get.body()))),
        }
    }
}

/// Polling handshake (GET -> OPEN with the sid), Socket.IO CONNECT (POST `40`, the ack
/// comes in a GET), then the subscribe packet is POSTed.
async fn poll_connect(c: &Common, sub_pkt: &str) -> Result<Poller, String> {
    let mut get = Http::new(c.addr);
    let hs = Http::request_bytes(c.addr, "GET", "/socket.io/?EIO=4&transport=polling", "");
    let st = get
        .call_raw(&hs)
        .await
        .map_err(|e| format!("polling handshake: {e}"))?;
    let b = get.body();
    if st != 200 || !b.starts_with(b"0") {
        return Err(format!("polling handshake: HTTP {st} {:.60}", lossy(b)));
    }
    let sid = json_str_field(b, "sid").ok_or_else(|| format!("no sid in {:.60}", lossy(b)))?;
    let path = format!(
        "/socket.io/?EIO=4&transport=polling&sid={}",
        percent_encode(sid)
    );
    let mut p = Poller {
        get_req: Http::request_bytes(c.addr, "GET", &path, ""),
        path,
        get,
        post: Http::new(c.addr),
    };
    p.post("40").await?;
    loop {
        let (mut acked, mut ping) = (false, false);
        for pkt in p.poll().await?.split(|&b| b == 0x1e) {
            if pkt.starts_with(b"40") {
                acked = true;
            } else if pkt == b"2" {
                ping = true;
            } else if pkt.starts_with(b"44") {
                return Err(format!("connect_error {:.60}", lossy(pkt)));
            } else if pkt == b"1" {
                return Err("closed during handshake".into());
            }
        }
        if ping {
            p.post("3").await?;
        }
        if acked {
            break;
        }
    }
    p.post(sub_pkt).await?;
    Ok(p)
}

/// `subscriber` over long-polling: GET in a loop, every response holds one or more packets.
/// A fan-out subscriber's connection, by transport.
enum Sub {
    Ws(Ws),
    Polling(Poller),
}

async fn poll_subscriber(mut p: Poller, proof: String, st: Rc<Fan>) {
    let mut ready = false;
    loop {
        let Ok(body) = p.poll().await else { break };
        let now = now_ns();
        let (mut ping, mut closed) = (false, false);
        for s in body.split(|&b| b == 0x1e) {
            match st.on_packet(s, now, &proof, &mut ready) {
                Seen::Ping => ping = true,
                Seen::Closed => closed = true,
                Seen::Other => {}
            }
        }
        if closed || (ping && p.post("3").await.is_err()) {
            break;
        }
    }
    st.disconnected.set(st.disconnected.get() + 1);
}

#[derive(Default)]
struct SlowReport {
    ready: bool,
    received_before_pause: u64,
    received_after_resume: u64,
    closed: Option<String>,
}

/// The slow consumer: reads normally while the phase is 0, stops reading entirely at
/// phase 1, and at phase 2 reads what is left for a few seconds to learn whether the
/// server had closed it.
async fn slow_subscriber(
    mut ws: Ws,
    proof: String,
    mut phase: watch::Receiver<u8>,
    rep: Rc<RefCell<SlowReport>>,
    st: Rc<Fan>,
) {
    let prefix = data_prefix(st.proto);
    loop {
        let p = *phase.borrow();
        if p == 1 {
            if phase.changed().await.is_err() {
                return;
            }
            continue;
        }
        // What the frame asks for, decided while it is borrowed from the socket.
        enum Act {
            Data(bool),
            Proof,
            Ping,
            Closed(String),
            Other,
        }
        let classify = |m: Result<&[u8], String>| match m {
            Ok(s) if s.starts_with(prefix) => Act::Data(parse_ts(s) == Some(0)),
            Ok(s) if s.starts_with(proof.as_bytes()) => Act::Proof,
            Ok(b"2") => Act::Ping,
            Ok(s) if s.starts_with(b"41") || s == b"1" => {
                Act::Closed(format!("server sent {:.10}", lossy(s)))
            }
            Ok(_) => Act::Other,
            Err(e) => Act::Closed(e),
        };
        let act = if p == 2 {
            match tokio::time::timeout(Duration::from_secs(3), ws.next()).await {
                Ok(m) => classify(m),
                Err(_) => return, // quiet for 3 s: still open
            }
        } else {
            tokio::select! {
                _ = phase.changed() => continue,
                m = ws.next() => classify(m),
            }
        };
        let mut r = rep.borrow_mut();
        match act {
            Act::Data(warm) => {
                if p == 2 {
                    r.received_after_resume += 1
                } else {
                    r.received_before_pause += 1
                }
                if !r.ready && st.proto == Proto::Peer && warm {
                    r.ready = true;
                }
            }
            Act::Proof => r.ready = true,
            Act::Ping => {
                drop(r);
                let _ = ws.send_text("3").await;
            }
            Act::Closed(why) => {
                r.closed = Some(why);
                return;
            }
            Act::Other => {}
        }
    }
}

struct StepResult {
    per_room: Vec<u64>,
    elapsed: f64,
    http_errors: u64,
    unsent: u64,
    first_error: Option<String>,
}

/// Publishes through the HTTP API: a scheduler queues due messages, `conns` workers
/// each own one keep-alive connection. `ts` is the *scheduled* send time, so time a
/// request waits for a free connection counts as latency (no coordinated omission).
async fn http_step(
    conns: &mut Vec<Http>,
    rate: f64,
    duration: f64,
    rooms: usize,
    pad: &str,
) -> StepResult {
    struct Q {
        jobs: VecDeque<(usize, u64, u64)>,
        done: bool,
        per_room: Vec<u64>,
        errors: u64,
        unsent: u64,
        first_error: Option<String>,
    }
    let q = Rc::new(RefCell::new(Q {
        jobs: VecDeque::new(),
        done: false,
        per_room: vec![0; rooms],
        errors: 0,
        unsent: 0,
        first_error: None,
    }));
    let wake = Rc::new(Notify::new());
    let start = tokio::time::Instant::now();
    let hard_end = start + Duration::from_secs_f64(duration + 2.0);
    let t0 = now_ns();
    let mut workers = Vec::new();
    for mut h in conns.drain(..) {
        let (q, wake, pad) = (q.clone(), wake.clone(), pad.to_string());
        workers.push(tokio::task::spawn_local(async move {
            loop {
                let job = q.borrow_mut().jobs.pop_front();
                let Some((room, ts, seq)) = job else {
                    let notified = wake.notified();
                    if q.borrow().done {
                        break;
                    }
                    notified.await;
                    continue;
                };
                if tokio::time::Instant::now() > hard_end {
                    let mut qq = q.borrow_mut();
                    qq.unsent += 1 + qq.jobs.len() as u64;
                    qq.jobs.clear();
                    continue;
                }
                let body = format!(
                    "{{\"event\":\"bench\",\"data\":{{\"ts\":{ts},\"seq\":{seq},\"pad\":{pad}}},\"rooms\":[\"module:{}\"]}}",
                    module_key(room)
                );
                let req = Http::request_bytes(h.addr, "POST", "/api/v1/publish", &body);
                let r = h.call(&req).await;
                let mut qq = q.borrow_mut();
                match r {
                    Ok((200, _)) => qq.per_room[room] += 1,
                    Ok((st, b)) => {
                        qq.errors += 1;
                        if qq.first_error.is_none() {
                            qq.first_error = Some(format!("HTTP {st}: {:.120}", String::from_utf8_lossy(&b)));
                        }
                    }
                    Err(e) => {
                        qq.errors += 1;
                        if qq.first_error.is_none() {
                            qq.first_error = Some(e);
                        }
                    }
                }
            }
            h
        }));
    }
    let total = (rate * duration).round() as u64;
    let mut n = 0u64;
    while n < total {
        sleep_until(start + Duration::from_secs_f64(n as f64 / rate)).await;
        let now = tokio::time::Instant::now();
        if now > hard_end {
            break;
        }
        let mut qq = q.borrow_mut();
        while n < total && start + Duration::from_secs_f64(n as f64 / rate) <= now {
            qq.jobs
                .push_back(((n as usize) % rooms, t0 + (n as f64 / rate * 1e9) as u64, n));
            n += 1;
        }
        drop(qq);
        wake.notify_waiters();
    }
    q.borrow_mut().done = true;
    wake.notify_waiters();
    for w in workers {
        if let Ok(h) = w.await {
            conns.push(h);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let mut qq = q.borrow_mut();
    qq.unsent += total - n;
    StepResult {
        per_room: qq.per_room.clone(),
        elapsed,
        http_errors: qq.errors,
        unsent: qq.unsent,
        first_error: qq.first_error.take(),
    }
}

/// Publishes through a Socket.IO `bcast` event (bench-peer has no HTTP API).
async fn socket_step(ws: &mut Ws, rate: f64, duration: f64, rooms: usize, pad: &str) -> StepResult {
    let mut per_room = vec![0u64; rooms];
    let start = tokio::time::Instant::now();
    let hard_end = start + Duration::from_secs_f64(duration + 2.0);
    let t0 = now_ns();
    let total = (rate * duration).round() as u64;
    let mut n = 0u64;
    let mut err = None;
    while n < total && err.is_none() {
        tokio::select! {
            biased;
            _ = sleep_until(start + Duration::from_secs_f64(n as f64 / rate)) => {
                let now = tokio::time::Instant::now();
                if now > hard_end { break; }
                while n < total && start + Duration::from_secs_f64(n as f64 / rate) <= now {
                    let room = (n as usize) % rooms;
                    let ts = t0 + (n as f64 / rate * 1e9) as u64;
                    let m = format!("42[\"bcast\",{{\"room\":\"room-{room}\",\"ts\":{ts},\"seq\":{n},\"pad\":{pad}}}]");
                    ws.feed_text(&m);
                    per_room[room] += 1;
                    n += 1;
                }
                if err.is_none() {
                    if let Err(e) = ws.flush().await { err = Some(format!("flush: {e}")); }
                }
            }
            m = ws.next() => match m.map(|s| s == b"2") {
                Ok(true) => { let _ = ws.send_text("3").await; }
                Ok(false) => {}
                Err(e) => err = Some(format!("publisher read: {e}")),
            }
        }
    }
    StepResult {
        per_room,
        elapsed: start.elapsed().as_secs_f64(),
        http_errors: 0,
        unsent: total - n,
        first_error: err,
    }
}

async fn socket_warmup(ws: &mut Ws, rooms: usize) {
    for j in 0..rooms {
        ws.feed_text(&format!("42[\"bcast\",{{\"room\":\"room-{j}\",\"ts\":0}}]"));
    }
    let _ = ws.flush().await;
    // answer a pending ping, if any, without blocking
    while let Ok(Ok(ping)) = tokio::time::timeout(Duration::from_millis(1), async {
        ws.next().await.map(|s| s == b"2")
    })
    .await
    {
        if ping {
            let _ = ws.send_text("3").await;
        }
    }
}

/// `polling`: the subscribers use Engine.IO long-polling instead of WebSocket.
async fn run_fanout(o: &Opts, polling: bool) -> Value {
    let c = Common::from(o);
    let scenario = if polling { "polling" } else { "fanout" };
    let clients: usize = o.get("clients", 1000);
    let rooms: usize = o.get("rooms", 1usize).max(1);
    let rates = o.list("rates", "100");
    let duration: f64 = o.get("duration", 10.0);
    let connect_rate: f64 = o.get("connect-rate", 1000.0f64).max(1.0);
    let drain: f64 = o.get("drain", 5.0);
    let max_p99: f64 = o.get("max-p99-ms", 100.0);
    let prewarm: f64 = o.get("prewarm", 0.0);
    let prewarm_rate: f64 = o.get("prewarm-rate", 50.0);
    // `pad`: a JSON value. `--kpi-payload N`: a KPI list of about N bytes (JSON that
    // compresses like real feed data) instead of N x's (which compress 100x).
    let pad = match o.get("kpi-payload", 0usize) {
        0 => format!("\"{}\"", "x".repeat(o.get("payload", 100usize))),
        n => kpi_payload(n),
    };
    let http_conns: usize = o.get("http-conns", 8usize).max(1);
    let slow: bool = o.get("slow", 0u32) > 0;
    let slow_pause_step: usize = o.get("slow-pause-step", 1usize);
    let stop_on_fail: bool = o.get("stop-on-fail", 1u32) > 0;
    let ready_timeout: f64 = o.get("ready-timeout", 15.0);
    // Cluster runs: subscribers spread round-robin over these ports (other nodes of the
    // cluster); the publisher stays on --port.
    let sub_ports: Vec<u16> = o
        .list("sub-ports", "")
        .into_iter()
        .map(|p| p as u16)
        .collect();
    o.finish();
    if slow && polling {
        die("--slow is for WebSocket subscribers only");
    }

    let st = Rc::new(Fan {
        proto: c.proto,
        hist: RefCell::new(hist(600_000_000_000)),
        received: Cell::new(0),
        stale: Cell::new(0),
        step_start_ns: Cell::new(u64::MAX),
        ready: Cell::new(0),
        disconnected: Cell::new(0),
        unparsed: Cell::new(0),
    });

    // ---- subscribers: connect, subscribe right after the CONNECT ack
    let members = Rc::new(RefCell::new(vec![0usize; rooms]));
    let (connected, failed) = (Rc::new(Cell::new(0usize)), Rc::new(Cell::new(0usize)));
    let errors = Rc::new(RefCell::new(BTreeMap::new()));
    let t_setup = Instant::now();
    let start = tokio::time::Instant::now();
    for i in 0..clients {
        sleep_until(start + Duration::from_secs_f64(i as f64 / connect_rate)).await;
        let mut c = c.clone();
        if !sub_ports.is_empty() {
            c.addr.set_port(sub_ports[i % sub_ports.len()]);
        }
        let (c, st, members, connected, failed, errors) = (
            c,
            st.clone(),
            members.clone(),
            connected.clone(),
            failed.clone(),
            errors.clone(),
        );
        tokio::task::spawn_local(async move {
            let room = i % rooms;
            let (pkt, proof) = subscribe_packet(c.proto, room);
            let r = tokio::time::timeout(Duration::from_secs_f64(c.connect_timeout), async {
                if polling {
                    return poll_connect(&c, &pkt).await.map(Sub::Polling);
                }
                let mut ws = sio_connect(&c).await?;
                send_sio(&mut ws, &pkt)
                    .await
                    .map_err(|e| format!("send subscribe: {e}"))?;
                Ok(Sub::Ws(ws))
            })
            .await;
            match r {
                Ok(Ok(sub)) => {
                    members.borrow_mut()[room] += 1;
                    connected.set(connected.get() + 1);
                    match sub {
                        Sub::Ws(ws) => subscriber(ws, proof, st).await,
                        Sub::Polling(p) => poll_subscriber(p, proof, st).await,
                    }
                }
                Ok(Err(e)) => count_failure(&failed, &errors, e),
                Err(_) => count_failure(&failed, &errors, "timeout".into()),
            }
        });
    }
    let wait_end = tokio::time::Instant::now() + Duration::from_secs_f64(c.connect_timeout + 1.0);
    while connected.get() + failed.get() < clients && tokio::time::Instant::now() < wait_end {
        sleep(Duration::from_millis(10)).await;
    }

    // ---- the slow consumer (not counted in `members`)
    let (phase_tx, phase_rx) = watch::channel(0u8);
    let slow_rep = Rc::new(RefCell::new(SlowReport::default()));
    if slow {
        let (pkt, proof) = subscribe_packet(c.proto, 0);
        match sio_connect(&c).await {
            Ok(mut ws) => {
                let _ = send_sio(&mut ws, &pkt).await;
                tokio::task::spawn_local(slow_subscriber(
                    ws,
                    proof,
                    phase_rx,
                    slow_rep.clone(),
                    st.clone(),
                ));
            }
            Err(e) => count_err(&errors, format!("slow consumer: {e}")),
        }
    }

    // ---- publisher
    let mut http: Vec<Http> = Vec::new();
    let mut pub_ws: Option<Ws> = None;
    match c.proto {
        Proto::Erp => http = (0..http_conns).map(|_| Http::new(c.addr)).collect(),
        Proto::Peer => match sio_connect(&c).await {
            Ok(ws) => pub_ws = Some(ws),
            Err(e) => {
                return json!({"scenario": scenario, "label": c.label, "ok": false, "error": format!("publisher: {e}")});
            }
        },
    }

    // ---- membership proof: every subscriber got its snapshot (erp) or a warm-up (peer)
    let n_conn = connected.get();
    let ready_end = tokio::time::Instant::now() + Duration::from_secs_f64(ready_timeout);
    while (st.ready.get() < n_conn || (slow && !slow_rep.borrow().ready))
        && tokio::time::Instant::now() < ready_end
    {
        if let Some(ws) = pub_ws.as_mut() {
            socket_warmup(ws, rooms).await;
            sleep(Duration::from_millis(250)).await;
        } else {
            sleep(Duration::from_millis(10)).await;
        }
    }
    let setup_s = t_setup.elapsed().as_secs_f64();
    sleep(Duration::from_millis(300)).await;
    let counters_before = if c.proto == Proto::Erp {
        server_counters(c.addr).await
    } else {
        None
    };
    eprintln!(
        "[{} {}] {}/{} subscribers connected, {} proved membership{} in {:.2}s",
        scenario,
        c.label,
        n_conn,
        clients,
        st.ready.get(),
        if slow {
            format!(", slow consumer ready={}", slow_rep.borrow().ready)
        } else {
            String::new()
        },
        setup_s
    );

    // ---- steps
    let mut plan: Vec<(Option<usize>, f64, f64)> = Vec::new();
    if prewarm > 0.0 {
        plan.push((None, prewarm_rate, prewarm));
    }
    plan.extend(
        rates
            .iter()
            .enumerate()
            .map(|(i, &r)| (Some(i), r, duration)),
    );
    let mut steps = Vec::new();
    let mut prewarm_json = Value::Null;
    let mut best: Option<f64> = None;
    let mut total_received = 0u64;
    for (idx, rate, dur) in plan {
        if slow && idx == Some(slow_pause_step) {
            let _ = phase_tx.send(1);
            sleep(Duration::from_millis(50)).await;
        }
        let members_now = members.borrow().clone();
        st.hist.borrow_mut().reset();
        st.received.set(0);
        st.stale.set(0);
        let disc0 = st.disconnected.get();
        st.step_start_ns.set(now_ns());
        let wire0 = ws::wire_in();
        let cpu = CpuMeter::start(c.server_pid);
        let pr = match pub_ws.as_mut() {
            Some(ws) => socket_step(ws, rate, dur, rooms, &pad).await,
            None => http_step(&mut http, rate, dur, rooms, &pad).await,
        };
        let (pub_wall, srv_util, gen_util, others_util) = cpu.read4();
        let published: u64 = pr.per_room.iter().sum();
        let expected: u64 = pr
            .per_room
            .iter()
            .zip(&members_now)
            .map(|(p, m)| p * *m as u64)
            .sum();
        let d0 = Instant::now();
        while st.received.get() < expected && d0.elapsed().as_secs_f64() < drain {
            sleep(Duration::from_millis(5)).await;
        }
        let drain_s = d0.elapsed().as_secs_f64();
        let received = st.received.get();
        total_received += received;
        let wire = {
            let w = ws::wire_in();
            (w.0 - wire0.0, w.1 - wire0.1)
        };
        let lost = expected.saturating_sub(received);
        let h = st.hist.borrow().clone();
        let p99_ms = if h.is_empty() {
            f64::INFINITY
        } else {
            h.value_at_quantile(0.99) as f64 / 1e6
        };
        let rate_ok = published as f64 >= 0.95 * rate * dur;
        let pass = received > 0
            && lost == 0
            && p99_ms <= max_p99
            && rate_ok
            && pr.http_errors == 0
            && pr.first_error.is_none();
        let deliv_per_s = received as f64 / pr.elapsed.max(1e-9);
        if pass && idx.is_some() {
            best = Some(best.map_or(deliv_per_s, |b: f64| b.max(deliv_per_s)));
        }
        let step = json!({
            "step": idx, "rate": rate, "duration_s": dur, "published": published, "publish_s": r3(pr.elapsed),
            "publish_rate_actual": r3(published as f64 / pr.elapsed.max(1e-9)), "http_errors": pr.http_errors,
            "unsent": pr.unsent, "publisher_error": pr.first_error,
            "expected": expected, "received": received, "lost": lost, "late_from_previous_step": st.stale.get(),
            "wire_bytes_in": wire.0, "wire_bytes_per_delivery": r3(wire.0 as f64 / received.max(1) as f64),
            "deflated_in": wire.1,
            "delivered_per_s": r3(deliv_per_s), "latency_ms": lat_json(&h, 1e6), "drain_s": r3(drain_s),
            "publish_wall_s": pub_wall, "server_util": srv_util, "gen_util": gen_util, "others_util": others_util,
            "subscribers_disconnected": st.disconnected.get() - disc0,
            "slow_consumer_paused": slow && idx.is_some_and(|i| i >= slow_pause_step),
            "pass": pass,
        });
        eprintln!(
            "[{} {} {}] {}/s x {}s: published {} (errors {}), deliveries {}/{} lost {} ({:.0}/s) | ms p50 {} p99 {} p999 {} max {} | util server {:?} gen {:?} others {:?} | {}",
            scenario, c.label, idx.map_or("prewarm".to_string(), |i| format!("step {i}")), rate, dur, published, pr.http_errors,
            received, expected, lost, deliv_per_s, step["latency_ms"]["p50"], step["latency_ms"]["p99"],
            step["latency_ms"]["p999"], step["latency_ms"]["max"], srv_util, gen_util, others_util, if pass { "PASS" } else { "FAIL" }
        );
        if idx.is_none() {
            prewarm_json = step;
            continue;
        }
        steps.push(step);
        if !pass && stop_on_fail {
            break;
        }
    }

    // ---- slow consumer verdict
    let mut slow_json = Value::Null;
    if slow {
        let _ = phase_tx.send(2);
        // let it read what is left; it returns after 3 s of quiet or at close
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(8) && slow_rep.borrow().closed.is_none() {
            sleep(Duration::from_millis(100)).await;
            if t.elapsed() > Duration::from_secs(4) && Rc::strong_count(&slow_rep) == 1 {
                break;
            }
        }
        let counters_after = if c.proto == Proto::Erp {
            server_counters(c.addr).await
        } else {
            None
        };
        let r = slow_rep.borrow();
        let sc = |v: &Option<Value>| v.as_ref().and_then(|v| v["slow_consumers"].as_u64());
        slow_json = json!({
            "ready": r.ready,
            "received_before_pause": r.received_before_pause,
            "received_after_resume": r.received_after_resume,
            "disconnected": r.closed.is_some(),
            "close": r.closed,
            "server_slow_consumers_delta": sc(&counters_after).zip(sc(&counters_before)).map(|(a, b)| a - b),
            "server_counters_before": counters_before,
            "server_counters_after": counters_after,
        });
        eprintln!("[fanout {}] slow consumer: {}", c.label, slow_json);
    }

    let ok = n_conn == clients && st.ready.get() == n_conn && total_received > 0;
    json!({
        "scenario": scenario, "label": c.label, "ok": ok, "ts_unix": now_ns() / 1_000_000_000,
        "proto": if c.proto == Proto::Erp { "erp" } else { "peer" },
        "transport": if polling { "polling" } else { "websocket" },
        "drain_max_s": drain,
        "clients": clients, "rooms": rooms, "payload_bytes": pad.len(), "http_conns": http_conns,
        "connected": n_conn, "connect_failed": failed.get(), "errors": errs_json(&errors.borrow()),
        "ready": st.ready.get(), "setup_s": r3(setup_s), "unparsed": st.unparsed.get(),
        "criterion": {"max_p99_ms": max_p99, "max_loss": 0, "min_publish_rate": "95% of target"},
        "best_sustained_delivered_per_s": best.map(r3),
        "prewarm": prewarm_json, "steps": steps, "slow_consumer": slow_json,
    })
}

// ------------------------------------------------------------------ publish API alone

async fn run_publish(o: &Opts) -> Value {
    let c = Common::from(o);
    let room_counts: Vec<usize> = o
        .list("room-counts", "1,10,100")
        .into_iter()
        .map(|x| x as usize)
        .collect();
    let duration: f64 = o.get("duration", 5.0);
    let warmup: f64 = o.get("warmup", 1.0);
    let conns: usize = o.get("conns", 16usize).max(1);
    // `--floor-path /health`: the same load as `GET` of a route that does no work, the
    // server's HTTP floor (hyper, the router, one small JSON answer), measured in the same
    // run; the room counts are ignored then.
    let floor_path = o.s("floor-path", "");
    o.finish();

    let mut runs = Vec::new();
    let mut ok = true;
    let room_counts = if floor_path.is_empty() {
        room_counts
    } else {
        vec![0]
    };
    for &k in &room_counts {
        let rooms: Vec<String> = (0..k).map(|j| format!("\"module:p{j}\"")).collect();
        let body = format!(
            "{{\"event\":\"bench\",\"data\":{{\"ts\":0,\"seq\":0}},\"rooms\":[{}]}}",
            rooms.join(",")
        );
        let req = Rc::new(if floor_path.is_empty() {
            Http::request_bytes(c.addr, "POST", "/api/v1/publish", &body)
        } else {
            Http::request_bytes(c.addr, "GET", &floor_path, "")
        });
        let mut phase_res = Vec::new();
        for (measured, secs) in [(false, warmup), (true, duration)] {
            if secs <= 0.0 {
                continue;
            }
            let h = Rc::new(RefCell::new(hist(60_000_000)));
            let (okc, errc) = (Rc::new(Cell::new(0u64)), Rc::new(Cell::new(0u64)));
            let first_err: Rc<RefCell<Option<String>>> = Rc::new(RefCell::new(None));
            let cpu = CpuMeter::start(c.server_pid);
            let end = Instant::now() + Duration::from_secs_f64(secs);
            let mut tasks = Vec::new();
            for _ in 0..conns {
                let (h, okc, errc, first_err, req) = (
                    h.clone(),
                    okc.clone(),
                    errc.clone(),
                    first_err.clone(),
                    req.clone(),
                );
                let addr = c.addr;
                tasks.push(tokio::task::spawn_local(async move {
                    let mut conn = Http::new(addr);
                    while Instant::now() < end {
                        let t = Instant::now();
                        match conn.call(&req).await {
                            Ok((200, _)) => {
                                h.borrow_mut()
                                    .saturating_record(t.elapsed().as_micros().max(1) as u64);
                                okc.set(okc.get() + 1);
                            }
                            other => {
                                errc.set(errc.get() + 1);
                                first_err.borrow_mut().get_or_insert_with(|| match other {
                                    Ok((s, b)) => {
                                        format!("HTTP {s}: {:.120}", String::from_utf8_lossy(&b))
                                    }
                                    Err(e) => e,
                                });
                                if errc.get() > 1000 {
                                    break;
                                }
                            }
                        }
                    }
                }));
            }
            for t in tasks {
                let _ = t.await;
            }
            let (wall, srv, gen, others) = cpu.read4();
            if measured {
                let h = h.borrow();
                let rps = okc.get() as f64 / wall;
                ok &= okc.get() > 0;
                eprintln!(
                    "[publish {}] {} rooms: {:.0} req/s ({} ok, {} errors) | ms p50 {} p99 {} | util server {:?} gen {:?}",
                    c.label, k, rps, okc.get(), errc.get(), lat_json(&h, 1000.0)["p50"], lat_json(&h, 1000.0)["p99"], srv, gen
                );
                phase_res.push(json!({
                    "rooms": k, "conns": conns, "duration_s": wall, "requests_ok": okc.get(), "errors": errc.get(),
                    "first_error": *first_err.borrow(), "req_per_s": r3(rps), "latency_ms": lat_json(&h, 1000.0),
                    "server_util": srv, "gen_util": gen, "others_util": others, "body_bytes": body.len(),
                }));
            }
        }
        runs.extend(phase_res);
    }
    json!({"scenario": "publish", "label": c.label, "ok": ok, "ts_unix": now_ns() / 1_000_000_000, "runs": runs})
}

/// Record `t` in the histogram of `second` (grown as the storm goes on).
fn record_by_second(secs: &RefCell<Vec<Histogram<u64>>>, second: usize, t: Duration) {
    let mut secs = secs.borrow_mut();
    while secs.len() <= second {
        secs.push(hist(60_000_000_000));
    }
    secs[second].saturating_record(t.as_micros().max(1) as u64);
}

// ------------------------------------------------------------------ main

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first().cloned() else {
        die("usage: sb-bench connect|fanout|polling|publish --port P [--server-pid PID] [--label L] [--proto erp|peer] ... (see bench/README.md)")
    };
    let o = Opts::parse(&args[1..]);
    // Free-form scenario name copied into the JSON (run.sh: connect, fanout, rooms10, ...).
    let tag = o.s("tag", &cmd);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    let out = local.block_on(&rt, async {
        match cmd.as_str() {
            "connect" => run_connect(&o).await,
            "fanout" => run_fanout(&o, false).await,
            "polling" => run_fanout(&o, true).await,
            "publish" => run_publish(&o).await,
            other => die(&format!("unknown subcommand {other}")),
        }
    });
    let mut out = out;
    if let Some(m) = out.as_object_mut() {
        m.insert("tag".into(), json!(tag));
    }
    println!("{out}");
    // Thousands of sockets: exit without tearing them down one by one.
    std::process::exit(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ts_is_parsed() {
        assert_eq!(parse_ts(br#"42["bench",{"ts":1234,"seq":1}]"#), Some(1234));
        assert_eq!(parse_ts(br#"42["msg",{"room":"room-0","ts":0}]"#), Some(0));
        assert_eq!(parse_ts(br#"42["connected",{"timestamp":"x"}]"#), None);
        assert_eq!(
            parse_ts(br#"42["msg",{"room":"room-0","ts":77}]"#),
            Some(77)
        );
        assert_eq!(parse_ts(br#"42["msg",{"ts":}]"#), None);
        assert_eq!(parse_ts(br#"""#), None);
    }

    #[test]
    fn chunked_body() {
        assert_eq!(
            dechunk(b"4\r\nWiki\r\n5\r\npedia\r\n0\r\n\r\n"),
            b"Wikipedia"
        );
    }

    #[test]
    fn proc_readable() {
        assert!(proc_cpu_s("self").is_some());
        assert!(proc_rss_kb("self").unwrap() > 0);
    }
}
