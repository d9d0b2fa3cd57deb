//! Per-socket limits: an event-rate token bucket and the room cap; per-IP connection
//! counts; JSON nesting depth. Every refusal is answered and counted.

use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;
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

/// Open sockets per client IP.
#[derive(Debug, Default)]
pub struct PerIp(Mutex<HashMap<IpAddr, usize>>);

impl PerIp {
    /// Count one more connection from `ip` unless it already has `max` (0: no limit).
    pub fn try_add(&self, ip: IpAddr, max: usize) -> bool {
        let mut m = self.0.lock().expect("per-ip lock");
        let n = m.entry(ip).or_default();
        if max != 0 && *n >= max {
            return false;
        }
        *n += 1;
        true
    }

    /// One connection from `ip` ended.
    pub fn remove(&self, ip: IpAddr) {
        let mut m = self.0.lock().expect("per-ip lock");
        if let Some(n) = m.get_mut(&ip) {
            *n -= 1;
            if *n == 0 {
                m.remove(&ip);
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
    fn per_ip_counts() {
        let p = PerIp::default();
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        assert!(p.try_add(ip, 2) && p.try_add(ip, 2));
        assert!(!p.try_add(ip, 2));
        p.remove(ip);
        assert!(p.try_add(ip, 2));
        assert!(p.try_add(ip, 0) && p.try_add(ip, 0), "0 = no limit");
    }

    #[test]
    fn depth_of_values() {
        assert_eq!(depth(&json!(1)), 1);
        assert_eq!(depth(&json!({ "a": [1, { "b": [] }] })), 4);
    }
}
