//! The listening side: who a request comes from (behind trusted proxies) and the HTTP/1
//! server loop.
//!
//! Why our own accept loop instead of `axum::serve`: axum 0.8's `serve` builds hyper's
//! connection without a timer, so hyper's header read timeout never fires and a client
//! that sends its request head one byte a minute holds a connection (and its buffer)
//! forever. Here every connection gets `header_read_timeout` (hyper's own implementation);
//! the router, graceful shutdown and WebSocket upgrades are unchanged.

use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request};
use hyper_util::rt::{TokioIo, TokioTimer};
use ipnet::IpNet;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinSet;

/// The peers whose forwarding headers (`Forwarded`, `X-Forwarded-For`) are believed.
#[derive(Debug, Clone, Default)]
pub struct TrustedProxies(Vec<IpNet>);

/// Where a request comes from, as far as Switchboard believes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr {
    /// The client: the TCP peer, or the address a trusted proxy forwarded for.
    pub addr: SocketAddr,
    /// The request carried forwarding headers (believed or not). Such a request is never
    /// treated as a loopback caller.
    pub forwarded: bool,
}

/// Parse one `trusted_proxies` entry: a CIDR (`10.0.0.0/8`) or a single address.
pub fn parse_net(s: &str) -> Result<IpNet, String> {
    let s = s.trim();
    s.parse::<IpNet>()
        .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
        .map_err(|_| format!("`{s}` is not an IP address or CIDR (e.g. 10.0.0.0/8)"))
}

impl TrustedProxies {
    /// From validated config entries (invalid ones were refused by `Config::validate`).
    pub fn from_config(entries: &[String]) -> Self {
        Self(entries.iter().filter_map(|e| parse_net(e).ok()).collect())
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client of a request from `peer` with `headers`. Only when `peer` is trusted are
    /// the forwarding headers read, from the right (nearest hop) leftwards, skipping the
    /// trusted hops: the first untrusted address is the client (as nginx's
    /// `real_ip_recursive` and Express's `trust proxy` with a list do).
    pub fn client(&self, peer: SocketAddr, headers: &HeaderMap) -> ClientAddr {
        let hops = forwarded_for(headers);
        let forwarded = hops.is_some();
        let mut addr = peer;
        if let (true, Some(hops)) = (self.trusts(peer.ip()), hops) {
            for hop in hops.iter().rev() {
                addr = SocketAddr::new(*hop, 0);
                if !self.trusts(*hop) {
                    break;
                }
            }
        }
        ClientAddr { addr, forwarded }
    }
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`) compare as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The hops a request claims, leftmost (original client) first: RFC 7239 `Forwarded`
/// `for=` if present, else `X-Forwarded-For`. `None`: no forwarding header at all;
/// unparsable entries (`unknown`, obfuscated ids) end the list there.
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let fwd: Vec<&str> = headers
        .get_all("forwarded")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    let xff: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    if fwd.is_empty() && xff.is_empty() {
        return None;
    }
    let mut hops = Vec::new();
    if !fwd.is_empty() {
        for elem in fwd.iter().flat_map(|v| v.split(',')) {
            let Some(f) = elem
                .split(';')
                .filter_map(|p| p.trim().split_once('='))
                .find(|(k, _)| k.eq_ignore_ascii_case("for"))
                .map(|(_, v)| v.trim().trim_matches('"'))
            else {
                continue;
            };
            hops.push(parse_node(f));
        }
    } else {
        hops.extend(
            xff.iter()
                .flat_map(|v| v.split(','))
                .map(|h| parse_node(h.trim())),
        );
    }
    // Keep only the hops to the right of the last unparsable one: what is left of it
    // cannot be attributed.
    let start = hops.iter().rposition(Option::is_none).map_or(0, |i| i + 1);
    Some(hops[start..].iter().flatten().copied().collect())
}

/// `1.2.3.4`, `1.2.3.4:5678`, `[2001:db8::1]`, `[2001:db8::1]:443`, `2001:db8::1`.
fn parse_node(s: &str) -> Option<IpAddr> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(sa) = s.parse::<SocketAddr>() {
        return Some(sa.ip());
    }
    s.strip_prefix('[')
        .and_then(|r| r.split(']').next())
        .and_then(|ip| ip.parse().ok())
}

/// Serve `router` on `listener` until `shutdown` resolves; then stop accepting, let
/// requests in flight finish and return when every connection is gone. `on_shutdown` runs
/// right after `shutdown` resolves (to close long-lived Socket.IO sessions).
pub async fn serve(
    listener: TcpListener,
    router: axum::Router,
    header_read_timeout: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_shutdown: impl FnOnce() + Send + 'static,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    tokio::spawn(async move {
        shutdown.await;
        on_shutdown();
        let _ = stop_tx.send(true);
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let mut conns = JoinSet::new();
    let mut stop = stop_rx.clone();
    loop {
        while conns.try_join_next().is_some() {}
        let (tcp, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // e.g. EMFILE: back off instead of spinning (as axum::serve does)
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = stopped(&mut stop) => break,
        };
        // Frames are batched by the engine; Nagle would only delay them.
        let _ = tcp.set_nodelay(true);
        let router = router.clone();
        let svc = hyper::service::service_fn(move |mut req: Request<hyper::body::Incoming>| {
            req.extensions_mut().insert(ConnectInfo(peer));
            tower::ServiceExt::oneshot(router.clone(), req)
        });
        let conn = http
            .serve_connection(TokioIo::new(tcp), svc)
            .with_upgrades();
        let mut stop = stop_rx.clone();
        conns.spawn(async move {
            tokio::pin!(conn);
            tokio::select! {
                _ = conn.as_mut() => return,
                () = stopped(&mut stop) => {}
            }
            conn.as_mut().graceful_shutdown();
            let _ = conn.await;
        });
    }
    drop(listener);
    while conns.join_next().await.is_some() {}
}

/// Resolves once the shutdown flag is set (the watch's guard never lives across an await).
async fn stopped(rx: &mut watch::Receiver<bool>) {
    let _ = rx.wait_for(|s| *s).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        h
    }

    fn peer(ip: &str) -> SocketAddr {
        SocketAddr::new(ip.parse().unwrap(), 4000)
    }

    #[test]
    fn untrusted_peers_are_the_client_whatever_they_claim() {
        let t = TrustedProxies::from_config(&["10.0.0.0/8".into()]);
        let c = t.client(
            peer("203.0.113.9"),
            &headers(&[("x-forwarded-for", "127.0.0.1")]),
        );
        assert_eq!(c.addr, peer("203.0.113.9"));
        assert!(c.forwarded, "claims are noted, never believed");
        let none = TrustedProxies::default();
        let c = none.client(peer("127.0.0.1"), &headers(&[("forwarded", "for=1.2.3.4")]));
        assert_eq!((c.addr, c.forwarded), (peer("127.0.0.1"), true));
        assert!(!none.client(peer("127.0.0.1"), &HeaderMap::new()).forwarded);
    }

    #[test]
    fn trusted_hops_are_skipped_from_the_right() {
        let t = TrustedProxies::from_config(&["10.0.0.0/8".into(), "127.0.0.1".into()]);
        let h = headers(&[("x-forwarded-for", "198.51.100.7, 6.6.6.6, 10.1.1.1")]);
        // 10.1.1.1 is a trusted hop; 6.6.6.6 is who connected to it.
        assert_eq!(
            t.client(peer("127.0.0.1"), &h).addr.ip().to_string(),
            "6.6.6.6"
        );
        let h = headers(&[
            ("x-forwarded-for", "198.51.100.7"),
            ("x-forwarded-for", "10.2.2.2"),
        ]);
        assert_eq!(
            t.client(peer("127.0.0.1"), &h).addr.ip().to_string(),
            "198.51.100.7"
        );
        let h = headers(&[(
            "forwarded",
            "for=\"[2001:db8::1]:443\";proto=https, for=10.0.0.3",
        )]);
        assert_eq!(
            t.client(peer("::ffff:127.0.0.1"), &h).addr.ip().to_string(),
            "2001:db8::1"
        );
        let h = headers(&[("x-forwarded-for", "garbage, 192.0.2.1")]);
        assert_eq!(
            t.client(peer("127.0.0.1"), &h).addr.ip().to_string(),
            "192.0.2.1"
        );
    }

    #[test]
    fn entries_parse_as_cidrs_or_addresses() {
        assert!(parse_net("10.0.0.0/8").is_ok());
        assert!(parse_net("::1").is_ok());
        assert!(parse_net(" 192.168.1.1 ").is_ok());
        assert!(parse_net("10.0.0.0/33").is_err());
        assert!(parse_net("proxy.local").is_err());
    }
}
