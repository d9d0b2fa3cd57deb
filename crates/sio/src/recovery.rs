//! Connection state recovery: the recent broadcasts of a namespace (stored once, not per
//! socket) and the sessions of sockets that disconnected and may come back.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::engine::session::Frame;

/// One recorded broadcast.
pub(crate) struct Stored {
    pub(crate) offset: u64,
    pub(crate) rooms: Vec<Arc<str>>,
    pub(crate) except: Vec<Arc<str>>,
    pub(crate) frames: Arc<[Frame]>,
    at: Instant,
}

/// What a disconnected socket left behind.
pub(crate) struct Persisted {
    pub(crate) sid: Arc<str>,
    pub(crate) rooms: Vec<Arc<str>>,
    pub(crate) data: http::Extensions,
    at: Instant,
}

/// A session found again.
pub(crate) struct Restored {
    pub(crate) sid: Arc<str>,
    pub(crate) rooms: Vec<Arc<str>>,
    pub(crate) data: http::Extensions,
    pub(crate) missed: Vec<Arc<[Frame]>>,
}

pub(crate) struct Recovery {
    window: Duration,
    max_packets: usize,
    packets: VecDeque<Stored>,
    sessions: HashMap<Arc<str>, Persisted>,
    next_offset: u64,
}

impl Recovery {
    pub(crate) fn new(window: Duration, max_packets: usize) -> Self {
        Self {
            window,
            max_packets,
            packets: VecDeque::new(),
            sessions: HashMap::new(),
            next_offset: 1,
        }
    }

    /// The offset the next recorded broadcast will carry.
    pub(crate) fn next_offset(&mut self) -> u64 {
        let o = self.next_offset;
        self.next_offset += 1;
        o
    }

    pub(crate) fn record(
        &mut self,
        offset: u64,
        rooms: Vec<Arc<str>>,
        except: Vec<Arc<str>>,
        frames: Arc<[Frame]>,
    ) {
        let now = Instant::now();
        self.packets.push_back(Stored {
            offset,
            rooms,
            except,
            frames,
            at: now,
        });
        while self.packets.len() > self.max_packets {
            self.packets.pop_front();
        }
        self.expire(now);
    }

    fn expire(&mut self, now: Instant) {
        while self
            .packets
            .front()
            .is_some_and(|p| now.duration_since(p.at) > self.window)
        {
            self.packets.pop_front();
        }
    }

    /// Drop expired sessions and packets (called by the heartbeat).
    pub(crate) fn sweep(&mut self) {
        let now = Instant::now();
        self.expire(now);
        let w = self.window;
        self.sessions.retain(|_, s| now.duration_since(s.at) <= w);
    }

    pub(crate) fn persist(
        &mut self,
        pid: Arc<str>,
        sid: Arc<str>,
        rooms: Vec<Arc<str>>,
        data: http::Extensions,
    ) {
        self.sessions.insert(
            pid,
            Persisted {
                sid,
                rooms,
                data,
                at: Instant::now(),
            },
        );
    }

    /// Take the session `pid` back with every broadcast after `offset` that it would have
    /// received, in order. `None` when the session expired or the offset is no longer held.
    pub(crate) fn restore(&mut self, pid: &str, offset: &str) -> Option<Restored> {
        let now = Instant::now();
        self.expire(now);
        let s = self.sessions.remove(pid)?;
        if now.duration_since(s.at) > self.window {
            return None;
        }
        let offset: u64 = offset.parse().ok()?;
        // The client's offset must still be in the buffer (or be the newest one issued),
        // otherwise packets may have been evicted and an exact replay is impossible.
        let held =
            self.packets.iter().any(|p| p.offset == offset) || offset + 1 == self.next_offset;
        if !held {
            return None;
        }
        let member = |r: &Arc<str>| s.rooms.iter().any(|x| x == r);
        let missed = self
            .packets
            .iter()
            .filter(|p| p.offset > offset)
            .filter(|p| p.rooms.is_empty() || p.rooms.iter().any(member))
            .filter(|p| !p.except.iter().any(member))
            .map(|p| p.frames.clone())
            .collect();
        Some(Restored {
            sid: s.sid,
            rooms: s.rooms,
            data: s.data,
            missed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frames(s: &str) -> Arc<[Frame]> {
        Arc::from(vec![Frame::text(s.as_bytes())])
    }

    #[test]
    fn replays_only_matching_packets_after_offset() {
        let mut r = Recovery::new(Duration::from_secs(60), 100);
        let room: Arc<str> = "a".into();
        let o1 = r.next_offset();
        r.record(o1, vec![room.clone()], vec![], frames("1"));
        r.persist(
            "pid".into(),
            "sid".into(),
            vec![room.clone()],
            http::Extensions::new(),
        );
        let o2 = r.next_offset();
        r.record(o2, vec![room.clone()], vec![], frames("2"));
        let o3 = r.next_offset();
        r.record(o3, vec!["b".into()], vec![], frames("3"));
        let o4 = r.next_offset();
        r.record(o4, vec![], vec![], frames("4"));
        let o5 = r.next_offset();
        r.record(o5, vec![], vec![room.clone()], frames("5"));
        let got = r.restore("pid", &o1.to_string()).expect("restored");
        let texts: Vec<&[u8]> = got.missed.iter().map(|f| f[0].payload()).collect();
        assert_eq!(texts, vec![b"2".as_slice(), b"4".as_slice()]);
        assert!(
            r.restore("pid", &o1.to_string()).is_none(),
            "a session is restored once"
        );
    }

    #[test]
    fn unknown_offset_or_expired_session_fails() {
        let mut r = Recovery::new(Duration::from_millis(0), 100);
        r.persist("pid".into(), "sid".into(), vec![], http::Extensions::new());
        std::thread::sleep(Duration::from_millis(2));
        assert!(r.restore("pid", "0").is_none());
        let mut r = Recovery::new(Duration::from_secs(60), 1);
        r.persist("pid".into(), "sid".into(), vec![], http::Extensions::new());
        for _ in 0..3 {
            let o = r.next_offset();
            r.record(o, vec![], vec![], frames("x"));
        }
        assert!(r.restore("pid", "1").is_none(), "offset 1 was evicted");
    }
}
