//! WebSocket framing (RFC 6455), server side: the handshake accept key, encoding of
//! complete unmasked server frames, and in-place parsing of masked client frames.
//!
//! Why not `tungstenite` or `fastwebsockets`: both own a per-socket `WebSocket` object
//! that formats every outgoing frame itself. tungstenite copies each message into a
//! per-socket write buffer; fastwebsockets writes a fresh header per frame per socket and
//! needs `&mut` access to the socket for every write. Neither can take one frame that was
//! encoded once and queue the *same bytes* for a thousand sockets, nor hand a socket's
//! whole queue to the kernel in one `writev`. Those two things are where the fan-out
//! ceiling comes from (the sio-bench raw peer: >= 3.2 M deliveries/s vs socketioxide's
//! 0.2–0.6 M on tungstenite, whose profile shows per-socket framing and copies), so the
//! ~150 lines of framing live here.

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use sha1::{Digest, Sha1};

/// Continuation frame.
pub(crate) const OP_CONT: u8 = 0x0;
/// Text frame.
pub(crate) const OP_TEXT: u8 = 0x1;
/// Binary frame.
pub(crate) const OP_BINARY: u8 = 0x2;
/// Close frame.
pub(crate) const OP_CLOSE: u8 = 0x8;
/// Ping frame.
pub(crate) const OP_PING: u8 = 0x9;
/// Pong frame.
pub(crate) const OP_PONG: u8 = 0xA;
/// RSV1 in the first header byte: the message is compressed (`permessage-deflate`).
pub(crate) const RSV1: u8 = 0x40;

/// `Sec-WebSocket-Accept` for a client's `Sec-WebSocket-Key`.
pub(crate) fn accept_key(key: &[u8]) -> String {
    let mut h = Sha1::new();
    h.update(key);
    h.update(b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11");
    base64::engine::general_purpose::STANDARD.encode(h.finalize())
}

/// Length of the header of a server frame carrying `len` payload bytes.
pub(crate) fn header_len(len: usize) -> usize {
    if len < 126 {
        2
    } else if len <= 0xFFFF {
        4
    } else {
        10
    }
}

/// Write a server frame header (FIN set, unmasked) for a payload of `len` bytes.
pub(crate) fn put_header(buf: &mut BytesMut, opcode: u8, len: usize) {
    buf.put_u8(0x80 | opcode);
    if len < 126 {
        buf.put_u8(len as u8);
    } else if len <= 0xFFFF {
        buf.put_u8(126);
        buf.put_u16(len as u16);
    } else {
        buf.put_u8(127);
        buf.put_u64(len as u64);
    }
}

/// One complete server frame.
pub(crate) fn frame(opcode: u8, payload: &[u8]) -> Bytes {
    let mut b = BytesMut::with_capacity(payload.len() + 10);
    put_header(&mut b, opcode, payload.len());
    b.extend_from_slice(payload);
    b.freeze()
}

/// A parsed client frame: its location inside the buffer passed to [`parse`].
#[derive(Debug)]
pub(crate) struct RawFrame {
    pub(crate) fin: bool,
    pub(crate) opcode: u8,
    /// RSV1: the first frame of a compressed message (only with `permessage-deflate`).
    pub(crate) rsv1: bool,
    /// Payload range (already unmasked in place).
    pub(crate) start: usize,
    pub(crate) end: usize,
}

/// Why a client's byte stream is not acceptable WebSocket.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub(crate) enum FrameError {
    /// RSV bits set without a negotiated extension, or an unmasked client frame.
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
    /// A frame larger than the configured maximum.
    #[error("frame exceeds maxPayload")]
    TooLarge,
}

/// Parse one client frame at the start of `buf`, unmasking its payload in place.
/// `Ok(None)`: the frame is incomplete, read more bytes first.
#[cfg(any(test, fuzzing))]
pub(crate) fn parse(
    buf: &mut [u8],
    max_payload: usize,
) -> Result<Option<(RawFrame, usize)>, FrameError> {
    parse_ext(buf, max_payload, false)
}

/// [`parse`] on a connection that negotiated `permessage-deflate` (`deflate`): RSV1 is
/// then allowed on the first frame of a data message (RFC 7692 §6), never on a
/// continuation or a control frame.
pub(crate) fn parse_ext(
    buf: &mut [u8],
    max_payload: usize,
    deflate: bool,
) -> Result<Option<(RawFrame, usize)>, FrameError> {
    if buf.len() < 2 {
        return Ok(None);
    }
    let fin = buf[0] & 0x80 != 0;
    let opcode = buf[0] & 0x0F;
    let rsv1 = buf[0] & RSV1 != 0;
    if buf[0] & 0x30 != 0 || rsv1 && !deflate {
        return Err(FrameError::Protocol("reserved bits set"));
    }
    if rsv1 && !matches!(opcode, OP_TEXT | OP_BINARY) {
        return Err(FrameError::Protocol(
            "RSV1 on a continuation or control frame",
        ));
    }
    if buf[1] & 0x80 == 0 {
        return Err(FrameError::Protocol("client frame not masked"));
    }
    let (len, mut h) = match buf[1] & 0x7F {
        126 if buf.len() < 4 => return Ok(None),
        126 => (u16::from_be_bytes([buf[2], buf[3]]) as u64, 4),
        127 if buf.len() < 10 => return Ok(None),
        127 => (
            u64::from_be_bytes(buf[2..10].try_into().expect("8 bytes")),
            10,
        ),
        n => (n as u64, 2),
    };
    // RFC 6455 §5.5: control frames carry at most 125 bytes and are never fragmented.
    // Enforced before anything is buffered, so a ping can cost at most 131 bytes.
    if opcode & 0x8 != 0 {
        if !fin {
            return Err(FrameError::Protocol("fragmented control frame"));
        }
        if len > 125 {
            return Err(FrameError::Protocol("control frame over 125 bytes"));
        }
    }
    if len > max_payload as u64 {
        return Err(FrameError::TooLarge);
    }
    let len = len as usize;
    if buf.len() < h + 4 + len {
        return Ok(None);
    }
    let mask = [buf[h], buf[h + 1], buf[h + 2], buf[h + 3]];
    h += 4;
    for (i, x) in buf[h..h + len].iter_mut().enumerate() {
        *x ^= mask[i & 3];
    }
    Ok(Some((
        RawFrame {
            fin,
            opcode,
            rsv1,
            start: h,
            end: h + len,
        },
        h + len,
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn masked(opcode: u8, payload: &[u8]) -> Vec<u8> {
        let mask = [1u8, 2, 3, 4];
        let mut v = vec![0x80 | opcode];
        if payload.len() < 126 {
            v.push(0x80 | payload.len() as u8);
        } else {
            v.push(0x80 | 126);
            v.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        }
        v.extend_from_slice(&mask);
        v.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        v
    }

    #[test]
    fn accept_key_matches_rfc_example() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }

    #[test]
    fn parses_masked_frames_and_waits_for_more() {
        let mut f = masked(OP_TEXT, b"42[\"a\"]");
        let (fr, used) = parse(&mut f, 100).unwrap().unwrap();
        assert_eq!(used, f.len());
        assert_eq!(&f[fr.start..fr.end], b"42[\"a\"]");
        let mut long = masked(OP_TEXT, &[b'x'; 300]);
        assert!(parse(&mut long[..100], 1000).unwrap().is_none());
        assert!(matches!(parse(&mut long, 100), Err(FrameError::TooLarge)));
    }

    #[test]
    fn rejects_unmasked() {
        let mut f = frame(OP_TEXT, b"hi").to_vec();
        assert!(matches!(parse(&mut f, 100), Err(FrameError::Protocol(_))));
    }

    #[test]
    fn control_frames_are_small_and_whole() {
        let mut ok = masked(OP_PING, &[7; 125]);
        assert!(parse(&mut ok, 1000).unwrap().is_some());
        let mut big = masked(OP_PING, &[7; 126]);
        assert_eq!(
            parse(&mut big, 1000).unwrap_err(),
            FrameError::Protocol("control frame over 125 bytes")
        );
        // The length check needs only the header: a 1 MB ping is refused before its body.
        assert!(parse(&mut big[..4], 1000).is_err());
        let mut frag = masked(OP_PING, b"x");
        frag[0] &= 0x7F; // FIN cleared
        assert_eq!(
            parse(&mut frag, 1000).unwrap_err(),
            FrameError::Protocol("fragmented control frame")
        );
    }

    #[test]
    fn header_lengths() {
        assert_eq!(frame(OP_TEXT, &[0; 125]).len(), 127);
        assert_eq!(frame(OP_TEXT, &[0; 126]).len(), 130);
        assert_eq!(frame(OP_TEXT, &[0; 70_000]).len(), 70_010);
        assert_eq!(header_len(70_000), 10);
    }
}

#[cfg(test)]
#[path = "ws_prop.rs"]
mod prop;
