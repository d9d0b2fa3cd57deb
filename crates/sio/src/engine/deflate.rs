//! `permessage-deflate` (RFC 7692) without per-connection state.
//!
//! The server answers every accepted offer with `server_no_context_takeover` and
//! `client_no_context_takeover` (§7.1.1: the server may add the latter even if the client
//! did not offer it), so each message is compressed and decompressed on its own. Then:
//! - no zlib context lives per connection (the reason socket.io turned compression off by
//!   default: ~300 KiB per socket with Node's zlib); the compressor and the decompressor
//!   are per thread, reset before each message;
//! - a broadcast is compressed **once** and the same bytes go to every member whose
//!   connection negotiated the extension (see `session::Frame::wire`), as it is encoded
//!   once today.
//!
//! What is sent: the raw DEFLATE stream of one message, sync-flushed, with its trailing
//! `00 00 ff ff` removed (§7.2.1), in a frame with RSV1 set. What is received: RSV1 on the
//! first frame of a message says the whole message is compressed; `00 00 ff ff` is
//! appended before inflating (§7.2.2), and the inflated size is held to `max_payload`
//! while it is produced, so a small frame cannot make the server allocate more.

use bytes::{BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};
use http::HeaderMap;
use std::cell::RefCell;

use super::ws;

/// The extension the server answers with when it accepts an offer.
pub(crate) const RESPONSE: &str =
    "permessage-deflate; server_no_context_takeover; client_no_context_takeover";

/// zlib's default level (what Node's `ws` uses). A broadcast is compressed once, so the
/// cost of a better ratio is paid once per broadcast, not per member.
const LEVEL: u32 = 6;

/// The sync-flush marker a message ends with (RFC 7692 §7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

thread_local! {
    static DEFLATE: RefCell<(Compress, Vec<u8>)> =
        RefCell::new((Compress::new(Compression::new(LEVEL), false), Vec::new()));
    static INFLATE: RefCell<Decompress> = RefCell::new(Decompress::new(false));
}

/// Whether the client's `Sec-WebSocket-Extensions` offers contain a `permessage-deflate`
/// offer we accept (the first acceptable one wins; see [`offer_acceptable`]).
pub(crate) fn negotiate(headers: &HeaderMap) -> bool {
    headers
        .get_all("sec-websocket-extensions")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(split_offers)
        .any(offer_acceptable)
}

/// Split a header value into offers at commas outside quoted strings.
fn split_offers(v: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (i, c) in v.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&v[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(&v[start..]);
    out
}

/// One offer, e.g. `permessage-deflate; client_max_window_bits`. Acceptable when it is
/// `permessage-deflate` with only the four parameters of RFC 7692, each at most once, with
/// valid values. `server_max_window_bits` below 15 is declined: the compressor always uses
/// a 32 KiB window. An offer we do not accept is declined (the connection goes on
/// uncompressed), never a failed handshake.
pub(crate) fn offer_acceptable(offer: &str) -> bool {
    let mut parts = offer.split(';').map(str::trim);
    if !parts
        .next()
        .is_some_and(|n| n.eq_ignore_ascii_case("permessage-deflate"))
    {
        return false;
    }
    let mut seen = [false; 4];
    for p in parts {
        if p.is_empty() {
            continue;
        }
        let (name, value) = match p.split_once('=') {
            Some((n, v)) => (n.trim(), Some(v.trim().trim_matches('"'))),
            None => (p, None),
        };
        let bits = |v: Option<&str>| v.and_then(|v| v.parse::<u8>().ok());
        let slot = match name.to_ascii_lowercase().as_str() {
            "server_no_context_takeover" if value.is_none() => 0,
            "client_no_context_takeover" if value.is_none() => 1,
            // We must use at most this window: only 15 (32 KiB) is what we use.
            "server_max_window_bits" if bits(value) == Some(15) => 2,
            // The client may be told a smaller window; we inflate any (8..=15).
            "client_max_window_bits"
                if value.is_none() || bits(value).is_some_and(|b| (8..=15).contains(&b)) =>
            {
                3
            }
            _ => return false,
        };
        if std::mem::replace(&mut seen[slot], true) {
            return false; // a parameter twice (§7.1)
        }
    }
    true
}

/// A complete server frame carrying `payload` compressed with RSV1 set, or `None` when
/// compressing would not make it smaller.
pub(crate) fn frame(opcode: u8, payload: &[u8]) -> Option<Bytes> {
    DEFLATE.with(|d| {
        let (c, out) = &mut *d.borrow_mut();
        c.reset();
        out.clear();
        out.reserve(payload.len() + payload.len() / 256 + 64);
        let mut input = payload;
        loop {
            let before = c.total_in();
            c.compress_vec(input, out, FlushCompress::Sync)
                .expect("deflate of an in-memory buffer");
            input = &input[(c.total_in() - before) as usize..];
            // Done when all input is in and the flush fit (room left in `out`).
            if input.is_empty() && out.len() < out.capacity() {
                break;
            }
            out.reserve(out.capacity().max(64));
        }
        debug_assert!(out.ends_with(&TAIL));
        let body = out.strip_suffix(&TAIL).unwrap_or(out);
        if body.len() >= payload.len() {
            return None;
        }
        let mut b = BytesMut::with_capacity(body.len() + 10);
        ws::put_header(&mut b, opcode, body.len());
        b[0] |= ws::RSV1;
        b.put_slice(body);
        Some(b.freeze())
    })
}

/// Why a compressed message was refused.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum InflateError {
    /// It inflates to more than `max` bytes.
    TooLarge,
    /// Not a valid DEFLATE stream.
    Corrupt,
}

/// Inflate one message (its frames' payloads concatenated, without the trailing
/// `00 00 ff ff`), producing at most `max` bytes: more is [`InflateError::TooLarge`]
/// and never allocated.
pub(crate) fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>, InflateError> {
    INFLATE.with(|d| {
        let d = &mut *d.borrow_mut();
        d.reset(false);
        let limit = max.saturating_add(1); // one byte over the limit proves it is over
        let mut out: Vec<u8> = Vec::with_capacity((data.len() * 4).max(64).min(limit));
        let mut input = data;
        let mut tail_fed = false;
        loop {
            if input.is_empty() && !tail_fed {
                input = &TAIL;
                tail_fed = true;
            }
            let (before, produced) = (d.total_in(), out.len());
            let status = d
                .decompress_vec(input, &mut out, FlushDecompress::Sync)
                .map_err(|_| InflateError::Corrupt)?;
            let used = (d.total_in() - before) as usize;
            input = &input[used..];
            if out.len() > max {
                return Err(InflateError::TooLarge);
            }
            let full = out.len() == out.capacity();
            match status {
                Status::StreamEnd => return Ok(out), // a final block: nothing follows
                _ if input.is_empty() && tail_fed && !full => return Ok(out),
                _ if !full && used == 0 && out.len() == produced && !input.is_empty() => {
                    return Err(InflateError::Corrupt); // no progress: truncated or invalid
                }
                Status::BufError if !full && input.is_empty() => return Err(InflateError::Corrupt),
                _ => {}
            }
            if full {
                let grow = out.capacity().max(4096).min(limit - out.len());
                out.reserve_exact(grow);
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn offers(values: &[&str]) -> bool {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(
                "sec-websocket-extensions",
                HeaderValue::from_str(v).unwrap(),
            );
        }
        negotiate(&h)
    }

    #[test]
    fn negotiation_accepts_what_clients_send() {
        assert!(offers(&["permessage-deflate"]));
        // Node's ws and browsers
        assert!(offers(&["permessage-deflate; client_max_window_bits"]));
        assert!(offers(&[
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
        ]));
        assert!(offers(&["permessage-deflate;client_max_window_bits=10"]));
        assert!(offers(&["permessage-deflate; server_max_window_bits=15"]));
        assert!(offers(&[
            "PerMessage-Deflate; client_max_window_bits=\"12\""
        ]));
        assert!(!offers(&[]));
        assert!(!offers(&["x-webkit-deflate-frame"]));
    }

    #[test]
    fn negotiation_declines_bad_offers_and_takes_the_next() {
        // unknown parameter, duplicate, bad values, a window we cannot honour
        assert!(!offers(&["permessage-deflate; foo"]));
        assert!(!offers(&["permessage-deflate; foo=1"]));
        assert!(!offers(&[
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover"
        ]));
        assert!(!offers(&["permessage-deflate; client_max_window_bits=7"]));
        assert!(!offers(&["permessage-deflate; client_max_window_bits=16"]));
        assert!(!offers(&["permessage-deflate; server_max_window_bits=10"]));
        assert!(!offers(&["permessage-deflate; server_max_window_bits"]));
        assert!(!offers(&[
            "permessage-deflate; server_no_context_takeover=1"
        ]));
        // several offers in one header, in several headers: the first acceptable one
        assert!(offers(&[
            "permessage-deflate; server_max_window_bits=10, permessage-deflate"
        ]));
        assert!(offers(&[
            "foo; bar=\"a,b\"",
            "permessage-deflate; foo",
            "permessage-deflate"
        ]));
        assert!(!offers(&["foo, bar; permessage-deflate"]));
    }

    fn unframe(f: &[u8]) -> (u8, &[u8]) {
        let h = match f[1] & 0x7F {
            126 => 4,
            127 => 10,
            _ => 2,
        };
        (f[0], &f[h..])
    }

    #[test]
    fn round_trip() {
        let json: String = (0..200)
            .map(|i| format!("{{\"id\":\"kpi{i}\",\"value\":{i},\"trend\":\"up\"}},"))
            .collect();
        let payload = format!("42[\"kpi:update\",[{}]]", json.trim_end_matches(','));
        let f = frame(ws::OP_TEXT, payload.as_bytes()).expect("compressible");
        let (b0, body) = unframe(&f);
        assert_eq!(b0, 0x80 | ws::RSV1 | ws::OP_TEXT);
        assert!(
            body.len() * 3 < payload.len(),
            "{} of {}",
            body.len(),
            payload.len()
        );
        assert!(!body.ends_with(&TAIL));
        assert_eq!(inflate(body, payload.len()).unwrap(), payload.as_bytes());
        // the limit is on the inflated size
        assert_eq!(
            inflate(body, payload.len() - 1),
            Err(InflateError::TooLarge)
        );
        // every message is independent: the same bytes again
        assert_eq!(frame(ws::OP_TEXT, payload.as_bytes()).unwrap(), f);
        // random bytes do not compress: no frame
        let mut x = 0x2545_f491_4f6c_dd1du64;
        let noise: Vec<u8> = (0..2000)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            })
            .collect();
        assert!(frame(ws::OP_BINARY, &noise).is_none());
    }

    #[test]
    fn inflates_what_other_compressors_send() {
        // A client compressing with a final block (BFINAL) and one with a sync flush.
        let payload = b"42[\"ping\",\"hello hello hello hello hello\"]".repeat(50);
        let mut c = Compress::new(Compression::fast(), false);
        let mut out = Vec::with_capacity(payload.len() + 64);
        c.compress_vec(&payload, &mut out, FlushCompress::Finish)
            .unwrap();
        assert_eq!(inflate(&out, 1 << 20).unwrap(), payload);
        // empty message: just the tail
        assert_eq!(inflate(&[0x00], 10).unwrap(), b"");
        assert_eq!(inflate(&[0xff, 0xff, 0xff], 10), Err(InflateError::Corrupt));
    }

    #[test]
    fn zip_bomb_is_refused_without_inflating_it() {
        // 10 MB of zeros compress to ~10 KB.
        let mut c = Compress::new(Compression::best(), false);
        let zeros = vec![0u8; 10_000_000];
        let mut out = Vec::with_capacity(100_000);
        c.compress_vec(&zeros, &mut out, FlushCompress::Sync)
            .unwrap();
        assert!(out.len() < 20_000);
        assert_eq!(inflate(&out, 1_000_000), Err(InflateError::TooLarge));
        assert_eq!(inflate(&out, 10_000_000).unwrap().len(), 10_000_000);
    }
}
