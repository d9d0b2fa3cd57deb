//! Socket.IO packet parsing as the server does it for every client text message:
//! `packet::parse` (with `split_args` inside), then `Event::parse` and the `Event`
//! accessors for events, `serde_json` of the CONNECT auth payload.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sio::fuzzing::{parse_event, parse_packet, split_args};
use sio::PacketKind;

fn check(s: &str) {
    let Ok(p) = parse_packet(s) else { return };
    assert!(p.ns.starts_with('/'), "namespace {:?}", p.ns);
    assert!(s.ends_with(p.data), "data is the tail of the packet");
    assert!(p.attachments <= 64);
    if p.attachments > 0 {
        assert!(matches!(
            p.kind,
            PacketKind::BinaryEvent | PacketKind::BinaryAck
        ));
    }
    match p.kind {
        PacketKind::Connect if !p.data.is_empty() => {
            let _ = serde_json::from_str::<serde_json::Value>(p.data);
        }
        PacketKind::Event | PacketKind::BinaryEvent => {
            let args = split_args(p.data).expect("validated events split");
            assert!(args[0].starts_with('"'));
            // A name with an escape serde_json refuses (a lone surrogate) gives `None`:
            // the server then closes the connection as malformed.
            let Some(ev) = parse_event(p.data, p.id) else {
                return;
            };
            let n = ev.arg_count();
            assert_eq!(n, args.len() - 1);
            let _ = ev.name();
            let all = ev.args_raw();
            for i in 0..n {
                let a = ev.arg_raw(i).expect("argument below arg_count").get();
                assert_eq!(a, args[i + 1]);
                let _ = ev.arg::<serde_json::Value>(i);
            }
            assert!(ev.arg_raw(n).is_none());
            if n == 0 {
                assert_eq!(all, "");
            } else {
                assert!(
                    all.starts_with(args[1]) && all.ends_with(args[n]),
                    "{all:?}"
                );
            }
        }
        PacketKind::Ack | PacketKind::BinaryAck => {
            assert!(p.id.is_some());
            split_args(p.data).expect("validated acks split");
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    check(s);
    // An Engine.IO message `4…` carries the Socket.IO packet after the `4`.
    if let Some(rest) = s.strip_prefix('4') {
        check(rest);
    }
});
