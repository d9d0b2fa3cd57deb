//! The HTTP side of Engine.IO: handshake, long-polling GET/POST, the WebSocket upgrade
//! request, CORS. Every request for the engine's path comes through [`handle`].

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_util::rt::TokioIo;
use std::future::poll_fn;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;

use super::endpoint::Engine;
use super::session::{query_param, Handshake, Session, Transport};
use super::{conn, deflate, ws};
use crate::common::{DisconnectReason, RemoteAddr};

/// Engine.IO's error codes (the JSON body of a 400), as the reference server sends them.
#[derive(Debug, Clone, Copy)]
enum EioError {
    TransportUnknown = 0,
    SessionUnknown = 1,
    BadHandshakeMethod = 2,
    BadRequest = 3,
    Forbidden = 4,
    UnsupportedVersion = 5,
}

impl EioError {
    fn message(self) -> &'static str {
        match self {
            EioError::TransportUnknown => "Transport unknown",
            EioError::SessionUnknown => "Session ID unknown",
            EioError::BadHandshakeMethod => "Bad handshake method",
            EioError::BadRequest => "Bad request",
            EioError::Forbidden => "Forbidden",
            EioError::UnsupportedVersion => "Unsupported protocol version",
        }
    }
}

type Resp = Response<Full<Bytes>>;

fn with_cors<D>(srv: &Engine<D>, origin: Option<&HeaderValue>, mut r: Resp) -> Resp {
    if let Some(o) = origin.and_then(|o| o.to_str().ok()) {
        if srv.config.cors.allows(o) {
            let h = r.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_str(o).expect("was a header value"),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
    }
    r
}

fn error(code: EioError) -> Resp {
    refuse(StatusCode::BAD_REQUEST, code, code.message())
}

/// An Engine.IO error body with its own status and message (`message`: no quotes).
fn refuse(status: StatusCode, code: EioError, message: &str) -> Resp {
    let body = format!("{{\"code\":{},\"message\":\"{}\"}}", code as u8, message);
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from(body)))
        .expect("static response")
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Resp {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=UTF-8")
        .body(Full::new(body.into()))
        .expect("static response")
}

/// Handle one request for the engine path.
pub(crate) async fn handle<B, D>(srv: Arc<Engine<D>>, mut req: Request<B>) -> Resp
where
    D: Default + Send + Sync + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let origin = req.headers().get(header::ORIGIN).cloned();
    let resp = route(&srv, &mut req).await;
    let resp = match resp {
        Routed::Done(r) => r,
        Routed::Body(sess) => post(&srv, &sess, req.into_body()).await,
    };
    with_cors(&srv, origin.as_ref(), resp)
}

enum Routed<D> {
    Done(Resp),
    /// A polling POST whose body still has to be read.
    Body(Arc<Session<D>>),
}

async fn route<B, D: Default + Send + Sync + 'static>(
    srv: &Arc<Engine<D>>,
    req: &mut Request<B>,
) -> Routed<D> {
    use Routed::Done;
    if req.method() == Method::OPTIONS {
        let mut r = text(StatusCode::NO_CONTENT, Bytes::new());
        let h = r.headers_mut();
        h.insert(
            header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, OPTIONS"),
        );
        h.insert(
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("content-type, authorization"),
        );
        return Done(r);
    }
    let query = req.uri().query().unwrap_or("").to_owned();
    if query_param(&query, "EIO").as_deref() != Some("4") {
        return Done(error(EioError::UnsupportedVersion));
    }
    let transport = match query_param(&query, "transport").as_deref() {
        Some("polling") if srv.config.transports.polling => Transport::Polling,
        Some("websocket") if srv.config.transports.websocket => Transport::Websocket,
        _ => return Done(error(EioError::TransportUnknown)),
    };
    let is_upgrade = req
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    let sid = query_param(&query, "sid");
    let session = match &sid {
        Some(sid) => match srv.session(sid) {
            Some(s) => Some(s),
            None if transport == Transport::Polling
                && req.method() == Method::GET
                && srv.late_poll_after_close(sid) =>
            {
                return Done(text(StatusCode::OK, Bytes::from_static(b"6")));
            }
            None => return Done(error(EioError::SessionUnknown)),
        },
        None => None,
    };
    match (transport, session) {
        (Transport::Websocket, session) => {
            if req.method() != Method::GET || !is_upgrade {
                return Done(error(EioError::BadRequest));
            }
            if let Some(s) = &session {
                if s.transport() == Transport::Websocket || s.upgrading.swap(true, Ordering::AcqRel)
                {
                    // A second WebSocket for the session: accept and close it at once, as
                    // the reference does (clients handle a close better than a failed upgrade).
                    return Done(accept_and_close(req));
                }
            }
            Done(upgrade(srv, req, session, query))
        }
        (Transport::Polling, None) => {
            if req.method() != Method::GET {
                return Done(error(EioError::BadHandshakeMethod));
            }
            let sess =
                match handshake(srv, req, query).and_then(|hs| open(srv, Transport::Polling, hs)) {
                    Ok(s) => s,
                    Err(r) => return Done(r.response()),
                };
            Done(get(srv, &sess).await)
        }
        (Transport::Polling, Some(sess)) => {
            if sess.upgrading.load(Ordering::Acquire) {
                // An upgrade is in flight: give the WebSocket up to 100 ms to finish it, so a
                // request racing the client's `5` sees the final state (as the reference does).
                for _ in 0..20 {
                    if sess.transport() != Transport::Polling
                        || !sess.upgrading.load(Ordering::Acquire)
                    {
                        break;
                    }
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                }
            }
            if sess.transport() != Transport::Polling {
                // The session lives on over WebSocket; this request is simply refused.
                return Done(error(EioError::BadRequest));
            }
            match *req.method() {
                Method::GET => Done(get(srv, &sess).await),
                Method::POST => Routed::Body(sess),
                _ => Done(error(EioError::BadRequest)),
            }
        }
    }
}

/// A handshake refused before a session exists: status, Engine.IO code, message.
struct Refusal(StatusCode, EioError, &'static str);

impl Refusal {
    fn response(self) -> Resp {
        refuse(self.0, self.1, self.2)
    }
}

/// Open a session, or say why not.
fn open<D: Default + Send + Sync + 'static>(
    srv: &Arc<Engine<D>>,
    transport: Transport,
    hs: Handshake,
) -> Result<Arc<Session<D>>, Refusal> {
    srv.open_session(transport, hs)
        .map_err(|why| Refusal(StatusCode::FORBIDDEN, EioError::Forbidden, why.message()))
}

/// What the connect hook will see of the request. Refused (431) when its headers are over
/// `max_handshake_header_bytes`: every session keeps a copy until it closes.
fn handshake<B, D>(srv: &Engine<D>, req: &Request<B>, query: String) -> Result<Handshake, Refusal> {
    let size: usize = req
        .headers()
        .iter()
        .map(|(k, v)| k.as_str().len() + v.len())
        .sum::<usize>()
        + query.len();
    if size > srv.config.max_handshake_header_bytes {
        srv.stats.headers_too_large.fetch_add(1, Ordering::Relaxed);
        return Err(Refusal(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            EioError::BadRequest,
            "request headers too large",
        ));
    }
    // Copy the values: hyper's header values are slices of the connection's read buffer,
    // and keeping them would keep that whole buffer (8+ KiB) alive per session.
    let mut headers = http::HeaderMap::with_capacity(req.headers().len());
    for (k, v) in req.headers() {
        if let Ok(v) = HeaderValue::from_bytes(v.as_bytes()) {
            headers.append(k.clone(), v);
        }
    }
    Ok(Handshake {
        headers,
        query,
        remote: req.extensions().get::<RemoteAddr>().map(|r| r.0),
        issued_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as u64),
    })
}

/// The long-poll: answer with everything queued, waiting until something is.
async fn get<D: Default + Send + Sync + 'static>(
    srv: &Arc<Engine<D>>,
    sess: &Arc<Session<D>>,
) -> Resp {
    if sess.get_pending.swap(true, Ordering::AcqRel) {
        // Two concurrent GETs: a protocol violation, the reference server closes the session.
        srv.close_session(sess, DisconnectReason::TransportError);
        return error(EioError::BadRequest);
    }
    let body = poll_fn(|cx| {
        let mut o = sess.out.lock();
        if !o.closed
            && (sess.transport() == Transport::Websocket || sess.upgrading.load(Ordering::Acquire))
        {
            // Let the client pause polling; queued packets wait for the WebSocket.
            return Poll::Ready(Bytes::from_static(b"6"));
        }
        if !o.queue.is_empty() {
            let mut body = BytesMut::new();
            o.bytes = 0;
            for (i, f) in o.queue.drain(..).enumerate() {
                if i > 0 {
                    body.extend_from_slice(b"\x1e");
                }
                if f.binary {
                    body.extend_from_slice(b"b");
                    body.extend_from_slice(
                        base64::engine::general_purpose::STANDARD
                            .encode(f.payload())
                            .as_bytes(),
                    );
                } else {
                    body.extend_from_slice(f.payload());
                }
            }
            if o.queue.capacity() > 1024 {
                o.queue.shrink_to(64);
            }
            return Poll::Ready(body.freeze());
        }
        if o.closed {
            return Poll::Ready(Bytes::from_static(b"1"));
        }
        o.waker = Some(cx.waker().clone());
        Poll::Pending
    })
    .await;
    sess.get_pending.store(false, Ordering::Release);
    srv.stats
        .bytes_out
        .fetch_add(body.len() as u64, Ordering::Relaxed);
    text(StatusCode::OK, body)
}

/// A polling POST: one or more packets separated by `\x1e`.
async fn post<B, D>(srv: &Arc<Engine<D>>, sess: &Arc<Session<D>>, body: B) -> Resp
where
    D: Default + Send + Sync + 'static,
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if sess.post_pending.swap(true, Ordering::AcqRel) {
        srv.close_session(sess, DisconnectReason::TransportError);
        return error(EioError::BadRequest);
    }
    let data = Limited::new(body, srv.config.max_payload).collect().await;
    sess.post_pending.store(false, Ordering::Release);
    let data = match data {
        Ok(c) => c.to_bytes(),
        Err(_) => {
            // Over maxPayload (or a broken body): 413, the session stays (as the reference).
            srv.stats.malformed.fetch_add(1, Ordering::Relaxed);
            return text(StatusCode::PAYLOAD_TOO_LARGE, Bytes::new());
        }
    };
    srv.stats
        .bytes_in
        .fetch_add(data.len() as u64, Ordering::Relaxed);
    let mut parts = decode_payload(&data);
    // Checked before each part is decoded, so nothing is decoded after a close.
    while !sess.is_closed() {
        let Some(part) = parts.next() else { break };
        let handled = match part {
            Ok(PayloadPart::Binary(bin)) => srv.on_binary(sess, Bytes::from(bin)),
            Ok(PayloadPart::Text(s)) => srv.on_text(sess, s, Transport::Polling),
            Err(()) => Err(DisconnectReason::ParseError),
        };
        if let Err(reason) = handled {
            srv.stats.malformed.fetch_add(1, Ordering::Relaxed);
            srv.close_session(sess, reason);
            return error(EioError::BadRequest);
        }
    }
    text(StatusCode::OK, Bytes::from_static(b"ok"))
}

/// One packet of a polling POST body.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum PayloadPart<'a> {
    /// A text packet (UTF-8).
    Text(&'a str),
    /// A binary packet: `b` + base64, decoded.
    Binary(Vec<u8>),
}

/// Decode a polling POST body: packets separated by `\x1e`, binary ones as `b` + base64.
/// Lazy, one part per `next`; `Err` for a part that is not valid base64 or UTF-8.
pub(crate) fn decode_payload(
    data: &[u8],
) -> impl Iterator<Item = Result<PayloadPart<'_>, ()>> + '_ {
    data.split(|&b| b == 0x1e).map(|part| {
        if let Some(b64) = part.strip_prefix(b"b") {
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map(PayloadPart::Binary)
                .map_err(|_| ())
        } else {
            std::str::from_utf8(part)
                .map(PayloadPart::Text)
                .map_err(|_| ())
        }
    })
}

/// Answer a WebSocket upgrade request and start the connection once hyper hands it over.
fn upgrade<B, D: Default + Send + Sync + 'static>(
    srv: &Arc<Engine<D>>,
    req: &mut Request<B>,
    session: Option<Arc<Session<D>>>,
    query: String,
) -> Resp {
    let key = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec());
    let version_ok = req
        .headers()
        .get("sec-websocket-version")
        .is_some_and(|v| v == "13");
    let (Some(key), true) = (key, version_ok) else {
        if let Some(s) = &session {
            s.upgrading.store(false, Ordering::Release);
        }
        return error(EioError::BadRequest);
    };
    let (session, probing) = match session {
        Some(s) => (s, true),
        None => match handshake(srv, req, query).and_then(|hs| open(srv, Transport::Websocket, hs))
        {
            Ok(s) => (s, false),
            Err(r) => return r.response(),
        },
    };
    let deflate = srv.config.compression && deflate::negotiate(req.headers());
    let on_upgrade = hyper::upgrade::on(&mut *req);
    if probing {
        // Release a pending GET so the client can pause polling.
        session.wake();
    }
    let srv2 = srv.clone();
    tokio::spawn(async move {
        match on_upgrade.await {
            Ok(upgraded) => match upgraded.downcast::<TokioIo<tokio::net::TcpStream>>() {
                // The common case (hyper or axum over TCP): drive the TcpStream directly.
                Ok(parts) => {
                    conn::run(
                        srv2,
                        session,
                        parts.io.into_inner(),
                        parts.read_buf,
                        probing,
                        deflate,
                    )
                    .await
                }
                Err(upgraded) => {
                    conn::run(
                        srv2,
                        session,
                        TokioIo::new(upgraded),
                        Bytes::new(),
                        probing,
                        deflate,
                    )
                    .await
                }
            },
            Err(e) => {
                tracing::debug!(error = %e, "websocket upgrade failed");
                if probing {
                    session.upgrading.store(false, Ordering::Release);
                } else {
                    srv2.close_session(&session, DisconnectReason::TransportError);
                }
            }
        }
    });
    let mut r = switching(&key);
    if deflate {
        r.headers_mut().insert(
            "sec-websocket-extensions",
            HeaderValue::from_static(deflate::RESPONSE),
        );
    }
    r
}

/// Complete a WebSocket handshake, then send a close frame and drop the connection.
fn accept_and_close<B>(req: &mut Request<B>) -> Resp {
    let Some(key) = req
        .headers()
        .get("sec-websocket-key")
        .map(|k| k.as_bytes().to_vec())
    else {
        return error(EioError::BadRequest);
    };
    let on_upgrade = hyper::upgrade::on(&mut *req);
    tokio::spawn(async move {
        if let Ok(up) = on_upgrade.await {
            use tokio::io::AsyncWriteExt;
            let mut io = TokioIo::new(up);
            let _ = io
                .write_all(&ws::frame(ws::OP_CLOSE, &1008u16.to_be_bytes()))
                .await;
            let _ = io.shutdown().await;
        }
    });
    switching(&key)
}

fn switching(key: &[u8]) -> Resp {
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header(header::UPGRADE, "websocket")
        .header(header::CONNECTION, "Upgrade")
        .header("sec-websocket-accept", ws::accept_key(key))
        .body(Full::new(Bytes::new()))
        .expect("static response")
}
