//! Per-socket limits: an event-rate token bucket, the room cap, the JSON nesting depth
//! and the `clientInfo` size. Every refusal is answered and counted by the gateway.
//! (Per-IP limits live in the engine.)

use parking_lot::Mutex;
use std::sync::Arc;
use std::time::Instant;

/// The gateway's per-socket limits, from the configuration.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Events per second a socket may send (0: no limit).
    pub rate_per_sec: u64,
    /// Bucket capacity.
    pub burst: u64,
    /// Refused events in a row before the socket is disconnected.
    pub disconnect_after: u64,
    /// Rooms a socket may be in (besides its own id room).
    pub max_rooms_per_socket: usize,
    /// Deepest JSON nesting a rule payload may have.
    pub max_json_depth: usize,
    /// Largest `clientInfo` report kept on a socket (it also lives on in the recovery
    /// store for the recovery window after a disconnect).
    pub max_client_info_bytes: usize,
}

impl Limits {
    /// A full bucket for a new socket.
    pub fn bucket(&self) -> Bucket {
        Bucket::new(self.burst)
    }

    /// Take one token from `bucket`.
    pub fn take(&self, bucket: &Bucket) -> Verdict {
        bucket.take(self.rate_per_sec, self.burst, self.disconnect_after)
    }

    /// May `socket` join `room`? The error says why not.
    pub fn check_room_cap(&self, socket: &sio::Socket, room: &str) -> Result<(), String> {
        // The socket's own id room does not count towards the cap.
        let rooms = socket.rooms();
        if !rooms.iter().any(|r| r == room) && rooms.len() > self.max_rooms_per_socket {
            return Err(format!(
                "room limit reached ({} rooms per connection)",
                self.max_rooms_per_socket
            ));
        }
        Ok(())
    }
}

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
        let mut s = self.0.lock();
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
