//! Property tests of the WebSocket frame parser (issue 6, bad-input campaign): `parse`
//! never panics on arbitrary bytes, never claims more bytes than it was given, and
//! unmasks every well-formed client frame back to its payload.
//!
//! Bounded so the whole module runs in a few seconds in CI (`cases` below).

use super::*;
use proptest::prelude::*;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Length encodings a client may use (RFC 6455 §5.2); the parser accepts non-minimal ones.
#[derive(Debug, Clone, Copy)]
enum LenForm {
    Minimal,
    Extended16,
    Extended64,
}

/// A masked client frame as a client would write it.
fn client_frame(
    fin: bool,
    rsv: u8,
    opcode: u8,
    mask: [u8; 4],
    payload: &[u8],
    form: LenForm,
) -> Vec<u8> {
    let mut v = vec![(u8::from(fin) << 7) | (rsv << 4) | opcode];
    let len = payload.len();
    let form = match form {
        LenForm::Minimal if len < 126 => None,
        LenForm::Minimal if len <= 0xFFFF => Some(LenForm::Extended16),
        LenForm::Minimal => Some(LenForm::Extended64),
        LenForm::Extended16 if len > 0xFFFF => Some(LenForm::Extended64),
        f => Some(f),
    };
    match form {
        None => v.push(0x80 | len as u8),
        Some(LenForm::Extended16) => {
            v.push(0x80 | 126);
            v.extend_from_slice(&(len as u16).to_be_bytes());
        }
        Some(_) => {
            v.push(0x80 | 127);
            v.extend_from_slice(&(len as u64).to_be_bytes());
        }
    }
    v.extend_from_slice(&mask);
    v.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    v
}

/// What any `Ok(Some(..))` promises, whatever the input.
fn check_result(
    len: usize,
    max_payload: usize,
    r: &Result<Option<(RawFrame, usize)>, FrameError>,
) -> Result<(), TestCaseError> {
    if let Ok(Some((f, used))) = r {
        prop_assert!(*used <= len, "consumed {} of {} bytes", used, len);
        prop_assert!(f.start <= f.end && f.end == *used);
        prop_assert!(f.start >= 6, "a header and a mask precede the payload");
        prop_assert!(f.end - f.start <= max_payload);
        prop_assert!(f.opcode <= 0x0F);
    }
    Ok(())
}

fn payload_len() -> impl Strategy<Value = usize> {
    // Around each length-form boundary, and now and then one past 64 KiB.
    prop_oneof![
        6 => 0usize..200,
        2 => 120usize..140,
        2 => 65_530usize..65_540,
        1 => 65_536usize..70_000,
    ]
}

proptest! {
    #![proptest_config(config(4096))]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(
        mut bytes in proptest::collection::vec(any::<u8>(), 0..512),
        max_payload in prop_oneof![0usize..1024, Just(1_000_000usize), Just(u32::MAX as usize)],
    ) {
        let len = bytes.len();
        let r = parse(&mut bytes, max_payload);
        check_result(len, max_payload, &r)?;
    }

    #[test]
    fn parse_never_panics_on_crafted_headers(
        b0 in any::<u8>(),
        b1 in any::<u8>(),
        // Extended lengths from tiny to u64::MAX, then a mask and a few payload bytes.
        ext in prop_oneof![any::<u64>(), 0u64..70_000, Just(u64::MAX), Just(1u64 << 63)],
        tail in proptest::collection::vec(any::<u8>(), 0..64),
        max_payload in prop_oneof![0usize..100_000, Just(1_000_000usize), Just(u32::MAX as usize)],
    ) {
        let mut bytes = vec![b0, b1];
        bytes.extend_from_slice(&ext.to_be_bytes());
        bytes.extend_from_slice(&tail);
        for cut in [1, 2, 3, 4, 9, 10, 13, 14, bytes.len()] {
            let mut part = bytes[..cut.min(bytes.len())].to_vec();
            let len = part.len();
            let r = parse(&mut part, max_payload);
            check_result(len, max_payload, &r)?;
        }
    }
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn masked_frames_round_trip(
        fin in any::<bool>(),
        opcode in prop_oneof![
            Just(OP_CONT), Just(OP_TEXT), Just(OP_BINARY), Just(OP_CLOSE), Just(OP_PING),
            Just(OP_PONG), 0u8..16,
        ],
        mask in any::<[u8; 4]>(),
        (len, seed) in (payload_len(), any::<u8>()),
        form in prop_oneof![Just(LenForm::Minimal), Just(LenForm::Extended16), Just(LenForm::Extended64)],
        trailing in proptest::collection::vec(any::<u8>(), 0..16),
        cuts in proptest::collection::vec(any::<proptest::sample::Index>(), 3),
    ) {
        let payload: Vec<u8> = (0..len).map(|i| (i as u8).wrapping_mul(31) ^ seed).collect();
        let frame = client_frame(fin, 0, opcode, mask, &payload, form);

        // The whole frame plus whatever follows it: exactly the frame is consumed.
        let mut buf = frame.clone();
        buf.extend_from_slice(&trailing);
        let r = parse(&mut buf, len);
        check_result(buf.len(), len, &r)?;
        if opcode & 0x8 != 0 && (!fin || len > 125) {
            // RFC 6455 §5.5: a fragmented or oversized control frame is a protocol error.
            prop_assert!(matches!(r, Err(FrameError::Protocol(_))), "{:?}", r);
            return Ok(());
        }
        let Ok(Some((f, used))) = r else {
            return Err(TestCaseError::fail(format!("{r:?} for a complete frame")));
        };
        prop_assert_eq!(used, frame.len());
        prop_assert_eq!((f.fin, f.opcode), (fin, opcode));
        prop_assert_eq!(&buf[f.start..f.end], &payload[..]);
        prop_assert_eq!(&buf[used..], &trailing[..], "bytes after the frame are untouched");

        // Any strict prefix is incomplete: wait for more, consume nothing.
        for cut in &cuts {
            let n = cut.index(frame.len());
            let mut part = frame[..n].to_vec();
            let r = parse(&mut part, len);
            prop_assert!(matches!(r, Ok(None)), "prefix of {} bytes: {:?}", n, r);
        }

        // One byte over the limit is refused once the header is complete.
        if len > 0 {
            let mut whole = frame.clone();
            prop_assert_eq!(parse(&mut whole, len - 1).err(), Some(FrameError::TooLarge));
        }

        // Reserved bits without an extension, or no mask, are protocol violations.
        let mut rsv = client_frame(fin, 0b100, opcode, mask, &payload, form);
        prop_assert!(matches!(parse(&mut rsv, len), Err(FrameError::Protocol(_))));
        let mut unmasked = frame.clone();
        unmasked[1] &= 0x7F;
        prop_assert!(matches!(parse(&mut unmasked, len), Err(FrameError::Protocol(_))));
    }

    #[test]
    fn server_frames_are_never_taken_for_client_frames(
        opcode in 0u8..16,
        payload in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let f = frame(opcode, &payload);
        prop_assert_eq!(f.len(), header_len(payload.len()) + payload.len());
        let mut bytes = f.to_vec();
        prop_assert!(matches!(parse(&mut bytes, 1 << 20), Err(FrameError::Protocol(_))));
    }
}
