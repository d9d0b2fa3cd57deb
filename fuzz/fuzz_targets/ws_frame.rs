//! WebSocket frame parsing as the connection does it: parse frame after frame over the
//! whole buffer, stop at an incomplete frame or an error. Checks the ranges, the in-place
//! unmasking, and that every prefix of a complete frame asks for more bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sio::fuzzing::parse_ws_frame;

/// `max_payload` values: tiny, small, and the default (1 MB); picked by the first byte.
const MAX_PAYLOADS: [usize; 4] = [125, 1_000, 100_000, 1_000_000];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, input)) = data.split_first() else {
        return;
    };
    let max = MAX_PAYLOADS[(sel & 3) as usize];
    let orig = input.to_vec();
    let mut buf = input.to_vec();
    let mut pos = 0;
    loop {
        let rest = &mut buf[pos..];
        let len = rest.len();
        let f = match parse_ws_frame(rest, max) {
            Ok(Some(f)) => f,
            Ok(None) | Err(_) => break,
        };
        assert!(f.start <= f.end, "{f:?}");
        assert!(f.end <= f.consumed, "{f:?}");
        assert!(f.consumed <= len, "{f:?}");
        assert_eq!(f.end, f.consumed, "the payload ends the frame");
        assert!(f.start >= 6 && f.start <= 14, "header + mask: {f:?}");
        assert!(f.end - f.start <= max, "{f:?}");
        assert!(f.opcode <= 0xF);
        if f.opcode & 0x8 != 0 {
            assert!(f.fin && f.end - f.start <= 125, "control frame: {f:?}");
        }
        // Unmasked in place with the 4 bytes before the payload; nothing else touched.
        let o = &orig[pos..pos + f.consumed];
        let mask = &o[f.start - 4..f.start];
        for (i, b) in buf[pos + f.start..pos + f.end].iter().enumerate() {
            assert_eq!(*b, o[f.start + i] ^ mask[i & 3]);
        }
        assert_eq!(&buf[pos..pos + f.start], &o[..f.start]);
        // A strict prefix of the frame is "incomplete": every header length, and the
        // frame minus its last byte.
        for cut in (0..f.consumed.min(15)).chain([f.consumed - 1]) {
            let mut prefix = o[..cut].to_vec();
            assert_eq!(
                parse_ws_frame(&mut prefix, max),
                Ok(None),
                "prefix {cut} of {f:?}"
            );
        }
        pos += f.consumed;
        assert!(pos <= buf.len());
    }
});
