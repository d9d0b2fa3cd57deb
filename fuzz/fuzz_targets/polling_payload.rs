//! Long-polling POST bodies: the split on 0x1e, `b` + base64 parts, UTF-8 text parts
//! (`http::decode_payload`, what `post()` iterates), then the Socket.IO packet parser on
//! the text messages as `on_text` would.
#![no_main]

use base64::Engine as _;
use libfuzzer_sys::fuzz_target;
use sio::fuzzing::{decode_payload, parse_event, parse_packet, PayloadPart};

fuzz_target!(|data: &[u8]| {
    let parts = decode_payload(data);
    assert_eq!(parts.len(), data.iter().filter(|&&b| b == 0x1e).count() + 1);
    // When every part decodes, encoding them again gives the body back (base64 decoding
    // is canonical, text parts hold no 0x1e and never start with `b`).
    if parts.iter().all(Option::is_some) {
        let mut again = Vec::with_capacity(data.len());
        for (i, p) in parts.iter().enumerate() {
            if i > 0 {
                again.push(0x1e);
            }
            match p.as_ref().expect("checked") {
                PayloadPart::Text(s) => {
                    assert!(!s.starts_with('b'));
                    again.extend_from_slice(s.as_bytes());
                }
                PayloadPart::Binary(b) => {
                    again.push(b'b');
                    again.extend_from_slice(
                        base64::engine::general_purpose::STANDARD
                            .encode(b)
                            .as_bytes(),
                    );
                }
            }
        }
        assert_eq!(again, data);
    }
    for p in parts.iter().flatten() {
        if let PayloadPart::Text(s) = p {
            if let Some(Ok(p)) = s.strip_prefix('4').map(parse_packet) {
                if !p.data.is_empty() && p.data.starts_with('[') {
                    let _ = parse_event(p.data, p.id);
                }
            }
        }
    }
});
