//! permessage-deflate as the connection does it: client bytes inflated with `max_payload`
//! applied to the inflated size (never more is produced, whatever the input), and our own
//! compression round-trips.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sio::fuzzing::{deflate_round_trip, inflate};

/// `max_payload` values: tiny, small, and the default (1 MB); picked by the first byte.
const MAX_PAYLOADS: [usize; 4] = [125, 1_000, 100_000, 1_000_000];

fuzz_target!(|data: &[u8]| {
    let Some((&sel, input)) = data.split_first() else {
        return;
    };
    let max = MAX_PAYLOADS[(sel & 3) as usize];
    if let Ok(out) = inflate(input, max) {
        assert!(out.len() <= max, "{} > {max}", out.len());
    }
    if sel & 4 != 0 {
        if let Some(back) = deflate_round_trip(input) {
            assert_eq!(back, input);
        }
    }
});
