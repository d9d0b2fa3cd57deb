//! The `socket.io-msgpack-parser` wire format (npm 3.0.2): each Socket.IO packet is one
//! msgpack map `{ type, data, nsp, id? }` sent as a binary Engine.IO message. Binary data
//! sits inside `data` as msgpack `bin`; there are no attachments.
//!
//! The rest of the engine keeps one representation whatever the parser: arguments are JSON
//! text and binary data are `Bytes` referred to by `{"_placeholder":true,"num":N}`. So a
//! received packet is converted here once (msgpack → JSON text + binaries, streaming, no
//! tree), and an outgoing one is encoded here once from the JSON arguments (placeholders
//! → `bin`). Encodings match the npm parser's (notepack.io) byte for byte: integers in the
//! smallest form, non-integral numbers as float 64, keys in the order socket.io writes them.

use bytes::Bytes;
use rmp::encode as enc;
use rmp::Marker;
use serde_json::Value;

use crate::packet::{PacketError, PacketKind};

/// Most binary values accepted in one received packet (as the JSON parser's attachments).
const MAX_BINS: usize = 64;
/// Deepest nesting accepted in a received packet.
const MAX_DEPTH: usize = 64;

/// A received packet, converted: `data` is JSON text (empty when the packet had none).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub(crate) kind: PacketKind,
    pub(crate) ns: String,
    pub(crate) id: Option<u64>,
    pub(crate) data: String,
    pub(crate) bins: Vec<Bytes>,
}

/// Decode one client packet and check it as the npm parser's `checkPacket` does.
pub(crate) fn decode(mut input: &[u8]) -> Result<Decoded, PacketError> {
    let rd = &mut input;
    let n = map_len(rd)?.ok_or(PacketError::Type)?;
    let mut kind = None;
    let mut ns = None;
    let mut id = None;
    let mut data: Option<(String, Marker)> = None;
    let mut bins = Vec::new();
    for _ in 0..n {
        let key = read_str(rd)?.ok_or(PacketError::Payload)?;
        match key {
            "type" => kind = Some(read_uint(rd).ok_or(PacketError::Type)?),
            "nsp" => {
                let s = read_str(rd)?.ok_or(PacketError::Payload)?;
                ns = Some(s.to_owned());
            }
            // notepack writes an `undefined` property (socket.io-client's CONNECT without
            // auth has `data: undefined`): absent, as the npm decoder reads it
            "id" | "data" if is_undefined(rd) => *rd = &rd[UNDEFINED.len()..],
            "id" => id = Some(read_uint(rd).ok_or(PacketError::Id)?),
            "data" => {
                let first = peek(rd)?;
                let mut out = String::new();
                to_json(rd, &mut out, &mut bins, 0)?;
                data = Some((out, first));
            }
            _ => {
                // e.g. the client's `options` ({ compress }): read and dropped
                let mut scratch = String::new();
                let mut scratch_bins = Vec::new();
                to_json(rd, &mut scratch, &mut scratch_bins, 0)?;
            }
        }
    }
    if !rd.is_empty() {
        return Err(PacketError::Payload); // trailing bytes
    }
    let kind = match kind.ok_or(PacketError::Type)? {
        0 => PacketKind::Connect,
        1 => PacketKind::Disconnect,
        2 => PacketKind::Event,
        3 => PacketKind::Ack,
        _ => return Err(PacketError::Type), // CONNECT_ERROR is server-only; no BINARY_*
    };
    let ns = ns.ok_or(PacketError::Payload)?;
    if id.is_some_and(|i| i > 999_999_999_999_999) {
        return Err(PacketError::Id);
    }
    let is_map = |m: &Marker| matches!(m, Marker::FixMap(_) | Marker::Map16 | Marker::Map32);
    let is_array =
        |m: &Marker| matches!(m, Marker::FixArray(_) | Marker::Array16 | Marker::Array32);
    let data = match (kind, data) {
        (PacketKind::Connect, None) | (PacketKind::Disconnect, None) => String::new(),
        (PacketKind::Connect, Some((d, m))) if is_map(&m) => d,
        (PacketKind::Event, Some((d, m))) if is_array(&m) && d.starts_with("[\"") => d,
        (PacketKind::Ack, Some((d, m))) if is_array(&m) => {
            if id.is_none() {
                return Err(PacketError::Id);
            }
            d
        }
        _ => return Err(PacketError::Payload),
    };
    Ok(Decoded {
        kind,
        ns,
        id,
        data,
        bins,
    })
}

/// notepack.io's `undefined`: fixext 1, type 0, data 0.
const UNDEFINED: [u8; 3] = [0xd4, 0x00, 0x00];

fn is_undefined(rd: &[u8]) -> bool {
    rd.starts_with(&UNDEFINED)
}

fn peek(rd: &&[u8]) -> Result<Marker, PacketError> {
    rd.first()
        .map(|&b| Marker::from_u8(b))
        .ok_or(PacketError::Payload)
}

fn take<'a>(rd: &mut &'a [u8], n: usize) -> Result<&'a [u8], PacketError> {
    if rd.len() < n {
        return Err(PacketError::Payload);
    }
    let (a, b) = rd.split_at(n);
    *rd = b;
    Ok(a)
}

fn be(rd: &mut &[u8], n: usize) -> Result<u64, PacketError> {
    Ok(take(rd, n)?
        .iter()
        .fold(0u64, |acc, &b| (acc << 8) | u64::from(b)))
}

/// A map's length, or `None` when the next value is not a map.
fn map_len(rd: &mut &[u8]) -> Result<Option<usize>, PacketError> {
    Ok(match peek(rd)? {
        Marker::FixMap(n) => {
            take(rd, 1)?;
            Some(n as usize)
        }
        Marker::Map16 => {
            take(rd, 1)?;
            Some(be(rd, 2)? as usize)
        }
        Marker::Map32 => {
            take(rd, 1)?;
            Some(be(rd, 4)? as usize)
        }
        _ => None,
    })
}

/// A string, or `None` (nothing consumed) when the next value is not one.
fn read_str<'a>(rd: &mut &'a [u8]) -> Result<Option<&'a str>, PacketError> {
    let len = match peek(rd)? {
        Marker::FixStr(n) => {
            take(rd, 1)?;
            n as usize
        }
        Marker::Str8 => {
            take(rd, 1)?;
            be(rd, 1)? as usize
        }
        Marker::Str16 => {
            take(rd, 1)?;
            be(rd, 2)? as usize
        }
        Marker::Str32 => {
            take(rd, 1)?;
            be(rd, 4)? as usize
        }
        _ => return Ok(None),
    };
    std::str::from_utf8(take(rd, len)?)
        .map(Some)
        .map_err(|_| PacketError::Payload)
}

/// A non-negative integer (a float that is one counts, as `Number.isInteger` says).
fn read_uint(rd: &mut &[u8]) -> Option<u64> {
    let m = Marker::from_u8(*rd.first()?);
    take(rd, 1).ok()?;
    let v = match m {
        Marker::FixPos(n) => u64::from(n),
        Marker::U8 => be(rd, 1).ok()?,
        Marker::U16 => be(rd, 2).ok()?,
        Marker::U32 => be(rd, 4).ok()?,
        Marker::U64 => be(rd, 8).ok()?,
        Marker::I8 => (be(rd, 1).ok()? as u8 as i8).try_into().ok()?,
        Marker::I16 => (be(rd, 2).ok()? as u16 as i16).try_into().ok()?,
        Marker::I32 => (be(rd, 4).ok()? as u32 as i32).try_into().ok()?,
        Marker::I64 => (be(rd, 8).ok()? as i64).try_into().ok()?,
        Marker::F64 => {
            let f = f64::from_bits(be(rd, 8).ok()?);
            (f.fract() == 0.0 && (0.0..9.007_199_254_740_992e15).contains(&f))
                .then_some(f as u64)?
        }
        _ => return None,
    };
    Some(v)
}

/// Convert one msgpack value to JSON text, `bin` values to placeholders + `bins`.
fn to_json(
    rd: &mut &[u8],
    out: &mut String,
    bins: &mut Vec<Bytes>,
    depth: usize,
) -> Result<(), PacketError> {
    use std::fmt::Write;
    if depth > MAX_DEPTH {
        return Err(PacketError::Payload);
    }
    if let Some(s) = read_str(rd)? {
        write_json_str(out, s);
        return Ok(());
    }
    let m = Marker::from_u8(take(rd, 1)?[0]);
    let (container_len, is_map) = match m {
        Marker::Null => {
            out.push_str("null");
            return Ok(());
        }
        Marker::True => {
            out.push_str("true");
            return Ok(());
        }
        Marker::False => {
            out.push_str("false");
            return Ok(());
        }
        Marker::FixPos(n) => return write!(out, "{n}").map_err(|_| PacketError::Payload),
        Marker::FixNeg(n) => return write!(out, "{n}").map_err(|_| PacketError::Payload),
        Marker::U8 | Marker::U16 | Marker::U32 | Marker::U64 => {
            let n = match m {
                Marker::U8 => 1,
                Marker::U16 => 2,
                Marker::U32 => 4,
                _ => 8,
            };
            let v = be(rd, n)?;
            return write!(out, "{v}").map_err(|_| PacketError::Payload);
        }
        Marker::I8 | Marker::I16 | Marker::I32 | Marker::I64 => {
            let v = match m {
                Marker::I8 => i64::from(be(rd, 1)? as u8 as i8),
                Marker::I16 => i64::from(be(rd, 2)? as u16 as i16),
                Marker::I32 => i64::from(be(rd, 4)? as u32 as i32),
                _ => be(rd, 8)? as i64,
            };
            return write!(out, "{v}").map_err(|_| PacketError::Payload);
        }
        Marker::F32 | Marker::F64 => {
            let f = if m == Marker::F32 {
                f64::from(f32::from_bits(be(rd, 4)? as u32))
            } else {
                f64::from_bits(be(rd, 8)?)
            };
            // JSON has no NaN / Infinity: `JSON.stringify` writes null
            match serde_json::Number::from_f64(f) {
                Some(n) => write!(out, "{n}").map_err(|_| PacketError::Payload)?,
                None => out.push_str("null"),
            }
            return Ok(());
        }
        Marker::Bin8 | Marker::Bin16 | Marker::Bin32 => {
            let n = match m {
                Marker::Bin8 => 1,
                Marker::Bin16 => 2,
                _ => 4,
            };
            let len = be(rd, n)? as usize;
            let b = take(rd, len)?;
            if bins.len() >= MAX_BINS {
                return Err(PacketError::Attachments);
            }
            write!(out, "{{\"_placeholder\":true,\"num\":{}}}", bins.len())
                .map_err(|_| PacketError::Payload)?;
            bins.push(Bytes::copy_from_slice(b));
            return Ok(());
        }
        Marker::FixExt1
        | Marker::FixExt2
        | Marker::FixExt4
        | Marker::FixExt8
        | Marker::FixExt16
        | Marker::Ext8
        | Marker::Ext16
        | Marker::Ext32 => {
            // notepack's `undefined` (fixext 1, type 0) and dates: no JSON form; null as
            // `JSON.stringify` writes undefined in an array
            let len = match m {
                Marker::FixExt1 => 1,
                Marker::FixExt2 => 2,
                Marker::FixExt4 => 4,
                Marker::FixExt8 => 8,
                Marker::FixExt16 => 16,
                Marker::Ext8 => be(rd, 1)? as usize,
                Marker::Ext16 => be(rd, 2)? as usize,
                _ => be(rd, 4)? as usize,
            };
            take(rd, 1 + len)?;
            out.push_str("null");
            return Ok(());
        }
        Marker::FixArray(n) => (n as usize, false),
        Marker::Array16 => (be(rd, 2)? as usize, false),
        Marker::Array32 => (be(rd, 4)? as usize, false),
        Marker::FixMap(n) => (n as usize, true),
        Marker::Map16 => (be(rd, 2)? as usize, true),
        Marker::Map32 => (be(rd, 4)? as usize, true),
        _ => return Err(PacketError::Payload), // reserved 0xc1 (strings were read above)
    };
    // every element takes at least one byte: a length past the input is a lie
    if container_len > rd.len() {
        return Err(PacketError::Payload);
    }
    out.push(if is_map { '{' } else { '[' });
    let mut first = true;
    for _ in 0..container_len {
        let start = out.len();
        if !first {
            out.push(',');
        }
        if is_map {
            if let Some(k) = read_str(rd)? {
                write_json_str(out, k);
            } else {
                // JavaScript object keys are strings: integer keys become their digits
                let m = peek(rd)?;
                let int = matches!(
                    m,
                    Marker::FixPos(_)
                        | Marker::FixNeg(_)
                        | Marker::U8
                        | Marker::U16
                        | Marker::U32
                        | Marker::U64
                        | Marker::I8
                        | Marker::I16
                        | Marker::I32
                        | Marker::I64
                );
                if !int {
                    return Err(PacketError::Payload);
                }
                out.push('"');
                to_json(rd, out, bins, depth + 1)?;
                out.push('"');
            }
            if is_undefined(rd) {
                // `{ a: undefined }`: no property, as `JSON.stringify` writes it
                *rd = &rd[UNDEFINED.len()..];
                out.truncate(start);
                continue;
            }
            out.push(':');
        }
        to_json(rd, out, bins, depth + 1)?;
        first = false;
    }
    out.push(if is_map { '}' } else { ']' });
    Ok(())
}

fn write_json_str(out: &mut String, s: &str) {
    // serde_json's escaping; writing into a Vec<u8> of valid UTF-8 keeps it valid
    let mut buf = std::mem::take(out).into_bytes();
    serde_json::to_writer(&mut buf, s).expect("a string serializes");
    *out = String::from_utf8(buf).expect("JSON text is UTF-8");
}

// ---------------------------------------------------------------------------------------
// Encoding

fn key(out: &mut Vec<u8>, k: &str) {
    enc::write_str(out, k).expect("writes to a Vec do not fail");
}

fn kind_num(kind: PacketKind) -> u8 {
    match kind {
        PacketKind::Connect => 0,
        PacketKind::Disconnect => 1,
        PacketKind::Event | PacketKind::BinaryEvent => 2,
        PacketKind::Ack | PacketKind::BinaryAck => 3,
        PacketKind::ConnectError => 4,
    }
}

/// Parse comma-joined JSON arguments (`args` of the engine's API).
fn parse_args(args: &str) -> Vec<Value> {
    if args.is_empty() {
        return Vec::new();
    }
    let mut s = String::with_capacity(args.len() + 2);
    s.push('[');
    s.push_str(args);
    s.push(']');
    // The engine's callers hand it valid JSON (`serde_json` output or a checked payload);
    // were it not, the JSON parser would send it as is and the client reject it — here it
    // becomes a null argument rather than a panic.
    serde_json::from_str(&s).unwrap_or_else(|_| vec![Value::Null])
}

/// An EVENT as socket.io writes it: `{ type: 2, data: [name, …args, offset?], id?, nsp }`.
pub(crate) fn event(
    ns: &str,
    name: &str,
    args: &str,
    bins: &[Bytes],
    offset: Option<&str>,
    id: Option<u64>,
) -> Vec<u8> {
    let args = parse_args(args);
    let mut out = Vec::with_capacity(32 + name.len() + ns.len());
    enc::write_map_len(&mut out, 3 + u32::from(id.is_some())).expect("vec");
    key(&mut out, "type");
    enc::write_uint(&mut out, 2).expect("vec");
    key(&mut out, "data");
    let n = 1 + args.len() + usize::from(offset.is_some());
    enc::write_array_len(&mut out, n as u32).expect("vec");
    enc::write_str(&mut out, name).expect("vec");
    for a in &args {
        write_value(&mut out, a, bins);
    }
    if let Some(o) = offset {
        enc::write_str(&mut out, o).expect("vec");
    }
    if let Some(id) = id {
        key(&mut out, "id");
        enc::write_uint(&mut out, id).expect("vec");
    }
    key(&mut out, "nsp");
    enc::write_str(&mut out, ns).expect("vec");
    out
}

/// An ACK as socket.io writes it: `{ id, type: 3, data: [args…], nsp }`.
pub(crate) fn ack(ns: &str, id: u64, args: &str, bins: &[Bytes]) -> Vec<u8> {
    let args = parse_args(args);
    let mut out = Vec::with_capacity(32 + ns.len());
    enc::write_map_len(&mut out, 4).expect("vec");
    key(&mut out, "id");
    enc::write_uint(&mut out, id).expect("vec");
    key(&mut out, "type");
    enc::write_uint(&mut out, 3).expect("vec");
    key(&mut out, "data");
    enc::write_array_len(&mut out, args.len() as u32).expect("vec");
    for a in &args {
        write_value(&mut out, a, bins);
    }
    key(&mut out, "nsp");
    enc::write_str(&mut out, ns).expect("vec");
    out
}

/// CONNECT, CONNECT_ERROR, DISCONNECT: `{ type, data?, nsp }` with `json` (empty: no data).
pub(crate) fn raw(kind: PacketKind, ns: &str, json: &str) -> Vec<u8> {
    let data = (!json.is_empty()).then(|| serde_json::from_str::<Value>(json).unwrap_or_default());
    let mut out = Vec::with_capacity(32 + ns.len() + json.len());
    enc::write_map_len(&mut out, 2 + u32::from(data.is_some())).expect("vec");
    key(&mut out, "type");
    enc::write_uint(&mut out, u64::from(kind_num(kind))).expect("vec");
    if let Some(d) = &data {
        key(&mut out, "data");
        write_value(&mut out, d, &[]);
    }
    key(&mut out, "nsp");
    enc::write_str(&mut out, ns).expect("vec");
    out
}

/// `{"_placeholder":true,"num":N}` → N.
fn placeholder(m: &serde_json::Map<String, Value>) -> Option<usize> {
    if m.len() != 2 || m.get("_placeholder") != Some(&Value::Bool(true)) {
        return None;
    }
    m.get("num")?.as_u64().map(|n| n as usize)
}

/// A JSON value as notepack.io encodes the same JavaScript value.
fn write_value(out: &mut Vec<u8>, v: &Value, bins: &[Bytes]) {
    match v {
        Value::Null => enc::write_nil(out).expect("vec"),
        Value::Bool(b) => enc::write_bool(out, *b).expect("vec"),
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                enc::write_uint(out, u).expect("vec");
            } else if let Some(i) = n.as_i64() {
                enc::write_sint(out, i).expect("vec");
            } else {
                let f = n.as_f64().unwrap_or(0.0);
                // JavaScript has one number type: an integral value is written as an integer
                if f.fract() == 0.0 && f.abs() < 9.007_199_254_740_992e15 {
                    enc::write_sint(out, f as i64).expect("vec");
                } else {
                    enc::write_f64(out, f).expect("vec");
                }
            }
        }
        Value::String(s) => enc::write_str(out, s).expect("vec"),
        Value::Array(a) => {
            enc::write_array_len(out, a.len() as u32).expect("vec");
            for x in a {
                write_value(out, x, bins);
            }
        }
        Value::Object(m) => {
            if let Some(b) = placeholder(m).and_then(|n| bins.get(n)) {
                enc::write_bin(out, b).expect("vec");
                return;
            }
            enc::write_map_len(out, m.len() as u32).expect("vec");
            for (k, x) in m {
                enc::write_str(out, k).expect("vec");
                write_value(out, x, bins);
            }
        }
    }
}

#[cfg(test)]
#[path = "msgpack_tests.rs"]
mod tests;
