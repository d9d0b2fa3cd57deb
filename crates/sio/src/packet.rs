//! Socket.IO v5 packets: parse what a client sends, encode what the server sends.
//!
//! Wire form (inside an Engine.IO message): `<type>[<n>-][/<nsp>,][<id>][<json>]`.
//! Encoded packets here include the Engine.IO `4` (message) prefix, so they can be framed
//! directly for WebSocket or joined for polling.

use serde_json::value::RawValue;

/// Socket.IO packet type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketKind {
    /// `0`: connect to a namespace (client) / connect acknowledgement (server).
    Connect,
    /// `1`: leave a namespace.
    Disconnect,
    /// `2`: an event.
    Event,
    /// `3`: an acknowledgement.
    Ack,
    /// `4`: refusal of a connect.
    ConnectError,
    /// `5`: an event with binary attachments.
    BinaryEvent,
    /// `6`: an acknowledgement with binary attachments.
    BinaryAck,
}

impl PacketKind {
    fn from_byte(b: u8) -> Option<Self> {
        Some(match b {
            b'0' => Self::Connect,
            b'1' => Self::Disconnect,
            b'2' => Self::Event,
            b'3' => Self::Ack,
            b'4' => Self::ConnectError,
            b'5' => Self::BinaryEvent,
            b'6' => Self::BinaryAck,
            _ => return None,
        })
    }
}

/// A client packet, borrowing from the received text.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Packet<'a> {
    pub(crate) kind: PacketKind,
    /// Binary attachments that follow (binary kinds only).
    pub(crate) attachments: usize,
    pub(crate) ns: &'a str,
    pub(crate) id: Option<u64>,
    /// The JSON payload, possibly empty.
    pub(crate) data: &'a str,
}

/// A parsed packet's header as offsets into its text: a binary packet kept until its
/// attachments arrive is not parsed a second time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Detached {
    kind: PacketKind,
    attachments: usize,
    /// Byte range of the namespace in the text (`None`: the default `/`).
    ns: Option<(usize, usize)>,
    id: Option<u64>,
    /// Where the payload starts (it runs to the end).
    data: usize,
}

impl Packet<'_> {
    /// The header of this packet, which was parsed from `text`, as offsets into it.
    pub(crate) fn detach(&self, text: &str) -> Detached {
        let base = text.as_ptr() as usize;
        let offset = |s: &str| {
            let p = s.as_ptr() as usize;
            (p >= base && p + s.len() <= base + text.len()).then(|| p - base)
        };
        Detached {
            kind: self.kind,
            attachments: self.attachments,
            ns: offset(self.ns).map(|o| (o, o + self.ns.len())),
            id: self.id,
            data: offset(self.data).unwrap_or(text.len()),
        }
    }
}

impl Detached {
    /// The packet again, borrowing from `text` (the text it was detached from).
    pub(crate) fn attach<'a>(&self, text: &'a str) -> Packet<'a> {
        Packet {
            kind: self.kind,
            attachments: self.attachments,
            ns: self.ns.map_or("/", |(a, b)| &text[a..b]),
            id: self.id,
            data: &text[self.data..],
        }
    }
}

/// Why a client packet was rejected.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PacketError {
    /// The packet type is not 0–6 (or is a server-only type).
    #[error("invalid packet type")]
    Type,
    /// Attachment count missing or malformed.
    #[error("invalid attachment count")]
    Attachments,
    /// Ack id too long.
    #[error("invalid ack id")]
    Id,
    /// The payload is not valid JSON of the shape the type requires.
    #[error("invalid payload")]
    Payload,
}

/// Most binary attachments accepted on one packet.
const MAX_ATTACHMENTS: usize = 64;

pub(crate) fn parse(s: &str) -> Result<Packet<'_>, PacketError> {
    let b = s.as_bytes();
    let kind = b
        .first()
        .and_then(|&c| PacketKind::from_byte(c))
        .ok_or(PacketError::Type)?;
    let mut i = 1;
    let mut attachments = 0;
    if matches!(kind, PacketKind::BinaryEvent | PacketKind::BinaryAck) {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start || i - start > 3 || b.get(i) != Some(&b'-') {
            return Err(PacketError::Attachments);
        }
        attachments = s[start..i].parse().map_err(|_| PacketError::Attachments)?;
        if attachments > MAX_ATTACHMENTS {
            return Err(PacketError::Attachments);
        }
        i += 1;
    }
    let mut ns = "/";
    if b.get(i) == Some(&b'/') {
        let end = s[i..].find(',').map(|e| i + e).unwrap_or(s.len());
        ns = &s[i..end];
        i = (end + 1).min(s.len());
    }
    let start = i;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    let id = if i > start {
        if i - start > 15 {
            return Err(PacketError::Id);
        }
        Some(s[start..i].parse().map_err(|_| PacketError::Id)?)
    } else {
        None
    };
    let data = &s[i..];
    let p = Packet {
        kind,
        attachments,
        ns,
        id,
        data,
    };
    validate(&p)?;
    Ok(p)
}

fn validate(p: &Packet<'_>) -> Result<(), PacketError> {
    match p.kind {
        PacketKind::Connect => {
            if !p.data.is_empty() && !p.data.trim_start().starts_with('{') {
                return Err(PacketError::Payload);
            }
        }
        PacketKind::Disconnect => {}
        PacketKind::Event | PacketKind::BinaryEvent => {
            let args = split_args(p.data)?;
            let first = args.first().ok_or(PacketError::Payload)?;
            if !first.get().starts_with('"') {
                return Err(PacketError::Payload);
            }
        }
        PacketKind::Ack | PacketKind::BinaryAck => {
            if p.id.is_none() {
                return Err(PacketError::Id);
            }
            split_args(p.data)?;
        }
        PacketKind::ConnectError => return Err(PacketError::Type),
    }
    Ok(())
}

/// Split a JSON array into its raw elements.
pub(crate) fn split_args(json: &str) -> Result<Vec<&RawValue>, PacketError> {
    serde_json::from_str::<Vec<&RawValue>>(json).map_err(|_| PacketError::Payload)
}

/// Encode a packet into `out`, starting with the Engine.IO `4`.
/// `args` are the JSON-encoded arguments already joined by commas (may be empty).
pub(crate) struct Encoder<'a> {
    pub(crate) kind: PacketKind,
    pub(crate) ns: &'a str,
    pub(crate) id: Option<u64>,
    pub(crate) attachments: usize,
}

impl Encoder<'_> {
    fn head(&self, out: &mut Vec<u8>) {
        out.push(b'4');
        out.push(match self.kind {
            PacketKind::Connect => b'0',
            PacketKind::Disconnect => b'1',
            PacketKind::Event => b'2',
            PacketKind::Ack => b'3',
            PacketKind::ConnectError => b'4',
            PacketKind::BinaryEvent => b'5',
            PacketKind::BinaryAck => b'6',
        });
        if matches!(self.kind, PacketKind::BinaryEvent | PacketKind::BinaryAck) {
            out.extend_from_slice(self.attachments.to_string().as_bytes());
            out.push(b'-');
        }
        if self.ns != "/" {
            out.extend_from_slice(self.ns.as_bytes());
            out.push(b',');
        }
        if let Some(id) = self.id {
            out.extend_from_slice(id.to_string().as_bytes());
        }
    }

    /// `…["name",args…(,"offset")]`.
    pub(crate) fn event(&self, name: &str, args: &str, offset: Option<&str>) -> Vec<u8> {
        let mut out = Vec::with_capacity(name.len() + args.len() + 32);
        self.head(&mut out);
        out.push(b'[');
        serde_json::to_writer(&mut out, name).expect("a string serializes");
        if !args.is_empty() {
            out.push(b',');
            out.extend_from_slice(args.as_bytes());
        }
        if let Some(o) = offset {
            out.push(b',');
            serde_json::to_writer(&mut out, o).expect("a string serializes");
        }
        out.push(b']');
        out
    }

    /// `…[args…]` for acks.
    pub(crate) fn ack(&self, args: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(args.len() + 16);
        self.head(&mut out);
        out.push(b'[');
        out.extend_from_slice(args.as_bytes());
        out.push(b']');
        out
    }

    /// Any packet with a raw JSON payload (CONNECT, CONNECT_ERROR, DISCONNECT).
    pub(crate) fn raw(&self, json: &str) -> Vec<u8> {
        let mut out = Vec::with_capacity(json.len() + 16);
        self.head(&mut out);
        out.extend_from_slice(json.as_bytes());
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_shape() {
        let p = parse("0").unwrap();
        assert_eq!((p.kind, p.ns, p.data), (PacketKind::Connect, "/", ""));
        let p = parse("0/admin,{\"token\":\"x\"}").unwrap();
        assert_eq!((p.ns, p.data), ("/admin", "{\"token\":\"x\"}"));
        let p = parse("2/admin,12[\"ev\",1]").unwrap();
        assert_eq!(
            (p.kind, p.ns, p.id, p.data),
            (PacketKind::Event, "/admin", Some(12), "[\"ev\",1]")
        );
        let p = parse("51-[\"up\",{\"_placeholder\":true,\"num\":0}]").unwrap();
        assert_eq!((p.kind, p.attachments), (PacketKind::BinaryEvent, 1));
        let p = parse("31[\"ok\"]").unwrap();
        assert_eq!((p.kind, p.id), (PacketKind::Ack, Some(1)));
        assert_eq!(parse("1/admin,").unwrap().ns, "/admin");
    }

    #[test]
    fn detached_packet_attaches_to_the_same_fields() {
        for text in [
            "51-[\"up\",{\"_placeholder\":true,\"num\":0}]",
            "62-/admin,7[{\"_placeholder\":true,\"num\":0}]",
            "0",
            "1/admin,",
        ] {
            let p = parse(text).unwrap();
            let owned = text.to_owned();
            assert_eq!(p.detach(text).attach(&owned), p, "{text}");
        }
    }

    #[test]
    fn rejects_malformed() {
        assert_eq!(parse(""), Err(PacketError::Type));
        assert_eq!(parse("9"), Err(PacketError::Type));
        assert_eq!(parse("4{}"), Err(PacketError::Type));
        assert_eq!(parse("2[1]"), Err(PacketError::Payload));
        assert_eq!(parse("2[]"), Err(PacketError::Payload));
        assert_eq!(parse("2{\"a\":1}"), Err(PacketError::Payload));
        assert_eq!(parse("2[\"a\""), Err(PacketError::Payload));
        assert_eq!(parse("5[\"a\"]"), Err(PacketError::Attachments));
        assert_eq!(parse("3[]"), Err(PacketError::Id));
        assert_eq!(parse("0\"str\""), Err(PacketError::Payload));
        assert_eq!(parse("21234567890123456[\"a\"]"), Err(PacketError::Id));
    }

    #[test]
    fn encodes() {
        let e = Encoder {
            kind: PacketKind::Event,
            ns: "/",
            id: None,
            attachments: 0,
        };
        assert_eq!(
            e.event("msg", "{\"a\":1}", Some("7")),
            b"42[\"msg\",{\"a\":1},\"7\"]"
        );
        let e = Encoder {
            kind: PacketKind::BinaryAck,
            ns: "/x",
            id: Some(3),
            attachments: 2,
        };
        assert_eq!(e.ack("1"), b"462-/x,3[1]");
    }
}

#[cfg(test)]
#[path = "packet_prop.rs"]
mod prop;
