//! Per-socket limits: an event-rate token bucket and the room cap; JSON nesting depth.
//! Every refusal is answered and counted. (Per-IP limits live in the engine.)

use serde_json::Value;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// A socket's token bucket (shared by its handlers through the socket's data).
#[derive(Debug, Clone)]
pub struct Bucket(Arc<Mutex<BucketState>>);

#[derive(Debug)]
struct BucketState {
    tokens: f64,
    last: Instant,
    /// Limited events in a row.
    strikes: u64,
}

/// What the bucket says about one event.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Go ahead.
    Allow,
    /// Refuse this event (answer it with an error).
    Limited,
    /// Too many refusals in a row: disconnect.
    Disconnect,
}

impl Bucket {
    /// A full bucket.
    pub fn new(burst: u64) -> Self {
        Self(Arc::new(Mutex::new(BucketState {
            tokens: burst as f64,
            last: Instant::now(),
            strikes: 0,
        })))
    }

    /// Take one token: `per_sec` refill rate, `burst` capacity, `disconnect_after` strikes.
    pub fn take(&self, per_sec: u64, burst: u64, disconnect_after: u64) -> Verdict {
        if per_sec == 0 {
            return Verdict::Allow;
        }
        let mut s = self.0.lock().expect("bucket lock");
        let now = Instant::now();
        let refill = now.duration_since(s.last).as_secs_f64() * per_sec as f64;
        s.tokens = (s.tokens + refill).min(burst as f64);
        s.last = now;
        if s.tokens >= 1.0 {
            s.tokens -= 1.0;
            s.strikes = 0;
            Verdict::Allow
        } else {
            s.strikes += 1;
            if s.strikes >= disconnect_after {
                Verdict::Disconnect
            } else {
                Verdict::Limited
            }
        }
    }
}

/// Nesting depth of a JSON value (a scalar is 1), without recursion.
pub fn depth(v: &Value) -> usize {
    let mut max = 0;
    let mut stack = vec![(v, 1usize)];
    while let Some((v, d)) = stack.pop() {
        max = max.max(d);
        match v {
            Value::Array(a) => stack.extend(a.iter().map(|x| (x, d + 1))),
            Value::Object(o) => stack.extend(o.values().map(|x| (x, d + 1))),
            _ => {}
        }
    }
    max
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bucket_allows_a_burst_then_limits_then_disconnects() {
        let b = Bucket::new(3);
        for _ in 0..3 {
            assert_eq!(b.take(1, 3, 2), Verdict::Allow);
        }
        assert_eq!(b.take(1, 3, 2), Verdict::Limited);
        assert_eq!(b.take(1, 3, 2), Verdict::Disconnect);
        assert_eq!(Bucket::new(1).take(0, 1, 1), Verdict::Allow, "0 = off");
    }

    #[test]
    fn depth_of_values() {
        assert_eq!(depth(&json!(1)), 1);
        assert_eq!(depth(&json!({ "a": [1, { "b": [] }] })), 4);
    }
}
