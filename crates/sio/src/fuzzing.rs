//! Thin public wrappers around crate-private parsers, for the `cargo fuzz` targets in
//! `fuzz/`. Compiled only with `--cfg fuzzing` (which `cargo fuzz` sets); not an API.

use crate::engine::{deflate, http, ws};
use crate::event::Event;
use crate::packet::{self, PacketError, PacketKind};

/// A parsed client packet (mirror of the crate-private `packet::Packet`).
#[derive(Debug, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Packet type.
    pub kind: PacketKind,
    /// Binary attachments announced.
    pub attachments: usize,
    /// Namespace.
    pub ns: &'a str,
    /// Ack id.
    pub id: Option<u64>,
    /// JSON payload, possibly empty.
    pub data: &'a str,
}

/// `packet::parse`: a Socket.IO packet as received (without the Engine.IO `4`).
pub fn parse_packet(s: &str) -> Result<Packet<'_>, PacketError> {
    packet::parse(s).map(|p| Packet {
        kind: p.kind,
        attachments: p.attachments,
        ns: p.ns,
        id: p.id,
        data: p.data,
    })
}

/// `packet::split_args`: the raw JSON elements of an array.
pub fn split_args(json: &str) -> Result<Vec<&str>, PacketError> {
    packet::split_args(json).map(|v| v.into_iter().map(|r| r.get()).collect())
}

/// `Event::parse`: the event a parsed EVENT packet's payload becomes.
pub fn parse_event(data: &str, ack: Option<u64>) -> Option<Event> {
    Event::parse(data.to_owned(), Vec::new(), ack)
}

/// A client packet of the msgpack parser, as the server converts it: kind, namespace, ack
/// id, the JSON text handlers see, and the binaries its placeholders refer to.
pub type MsgpackPacket = (PacketKind, String, Option<u64>, String, Vec<bytes::Bytes>);

/// `msgpack::decode`: a binary message of a `socket.io-msgpack-parser` client.
pub fn decode_msgpack(b: &[u8]) -> Result<MsgpackPacket, PacketError> {
    crate::msgpack::decode(b).map(|d| (d.kind, d.ns, d.id, d.data, d.bins))
}

/// `msgpack::event`: what the server sends for an EVENT with JSON `args` (comma-joined).
pub fn encode_msgpack_event(ns: &str, name: &str, args: &str, bins: &[bytes::Bytes]) -> Vec<u8> {
    crate::msgpack::event(ns, name, args, bins, None, None)
}

/// A parsed WebSocket frame (mirror of the crate-private `ws::RawFrame`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WsFrame {
    /// FIN bit.
    pub fin: bool,
    /// Opcode.
    pub opcode: u8,
    /// Payload start (unmasked in place).
    pub start: usize,
    /// Payload end.
    pub end: usize,
    /// Bytes of the buffer the frame used.
    pub consumed: usize,
}

/// `ws::parse`: `Ok(None)` when more bytes are needed, `Err` with the error's message.
pub fn parse_ws_frame(buf: &mut [u8], max_payload: usize) -> Result<Option<WsFrame>, String> {
    match ws::parse(buf, max_payload) {
        Ok(Some((f, consumed))) => Ok(Some(WsFrame {
            fin: f.fin,
            opcode: f.opcode,
            start: f.start,
            end: f.end,
            consumed,
        })),
        Ok(None) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// `deflate::inflate`: the inflated size of a compressed message, `Err` with why not.
/// Never more than `max` bytes.
pub fn inflate(data: &[u8], max: usize) -> Result<Vec<u8>, String> {
    deflate::inflate(data, max).map_err(|e| format!("{e:?}"))
}

/// `deflate::frame` then `inflate`: compression round trip (`None`: not worth compressing).
pub fn deflate_round_trip(payload: &[u8]) -> Option<Vec<u8>> {
    let f = deflate::frame(ws::OP_TEXT, payload)?;
    let h = match f[1] & 0x7F {
        126 => 4,
        127 => 10,
        _ => 2,
    };
    Some(deflate::inflate(&f[h..], payload.len()).expect("our own frames inflate"))
}

/// One decoded part of a polling POST body.
#[derive(Debug, PartialEq, Eq)]
pub enum PayloadPart<'a> {
    /// A text packet.
    Text(&'a str),
    /// A binary packet, base64-decoded.
    Binary(Vec<u8>),
}

/// `http::decode_payload`: every part of a polling POST body; `None` for a part that
/// does not decode.
pub fn decode_payload(data: &[u8]) -> Vec<Option<PayloadPart<'_>>> {
    http::decode_payload(data)
        .map(|p| {
            p.ok().map(|p| match p {
                http::PayloadPart::Text(s) => PayloadPart::Text(s),
                http::PayloadPart::Binary(b) => PayloadPart::Binary(b),
            })
        })
        .collect()
}

/// `session::query_param`: a percent-decoded query parameter.
pub fn query_param(query: &str, key: &str) -> Option<String> {
    crate::engine::session::query_param(query, key)
}
