//! Connection state recovery: the recent broadcasts of a namespace (stored once, not per
//! socket) and the sessions of sockets that disconnected and may come back.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::Offset;
use crate::engine::session::Frame;

/// One recorded broadcast.
pub(crate) struct Stored {
    pub(crate) offset: Offset,
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
    /// The newest offset when the socket connected: where a client that received no
    /// event (and so sends no offset) resumes from.
    pub(crate) since: Offset,
    at: Instant,
}

/// A session found again.
pub(crate) struct Restored {
    pub(crate) sid: Arc<str>,
    pub(crate) rooms: Vec<Arc<str>>,
    pub(crate) data: http::Extensions,
    pub(crate) missed: Vec<Arc<[Frame]>>,
}

/// How much a namespace's recovery store may hold.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) window: Duration,
    pub(crate) max_packets: usize,
    pub(crate) max_bytes: usize,
    pub(crate) max_sessions: usize,
}

pub(crate) struct Recovery {
    limits: Limits,
    packets: VecDeque<Stored>,
    /// Bytes of the frames in `packets`.
    bytes: usize,
    sessions: HashMap<Arc<str>, Persisted>,
    /// Persisted pids, oldest first, to evict the oldest session when over
    /// `max_sessions`. Restored pids stay here until they reach the front (checked there).
    order: VecDeque<(Arc<str>, Instant)>,
    next_offset: u64,
    /// The newest offset recorded (or issued), whether or not its packet is still held.
    newest: Offset,
}

fn size(frames: &[Frame]) -> usize {
    frames.iter().map(|f| f.bytes.len()).sum()
}

impl Recovery {
    pub(crate) fn new(limits: Limits) -> Self {
        Self {
            limits,
            packets: VecDeque::new(),
            bytes: 0,
            sessions: HashMap::new(),
            order: VecDeque::new(),
            next_offset: 1,
            newest: Offset::default(),
        }
    }

    /// The offset the next recorded broadcast will carry (this node's own numbering).
    pub(crate) fn next_offset(&mut self) -> Offset {
        let o = Offset {
            ms: 0,
            seq: self.next_offset,
        };
        self.next_offset += 1;
        o
    }

    /// The newest offset recorded.
    pub(crate) fn newest(&self) -> Offset {
        self.newest
    }

    /// Store a broadcast; returns how many older packets were trimmed for the count or
    /// byte budget (packets past the window are not counted: they expired).
    pub(crate) fn record(
        &mut self,
        offset: Offset,
        rooms: Vec<Arc<str>>,
        except: Vec<Arc<str>>,
        frames: Arc<[Frame]>,
    ) -> u64 {
        let now = Instant::now();
        self.expire(now);
        self.newest = self.newest.max(offset);
        self.bytes += size(&frames);
        self.packets.push_back(Stored {
            offset,
            rooms,
            except,
            frames,
            at: now,
        });
        let mut trimmed = 0;
        while self.packets.len() > self.limits.max_packets || self.bytes > self.limits.max_bytes {
            match self.packets.pop_front() {
                Some(p) => {
                    self.bytes -= size(&p.frames);
                    trimmed += 1;
                }
                None => break,
            }
        }
        trimmed
    }

    fn expire(&mut self, now: Instant) {
        while self
            .packets
            .front()
            .is_some_and(|p| now.duration_since(p.at) > self.limits.window)
        {
            if let Some(p) = self.packets.pop_front() {
                self.bytes -= size(&p.frames);
            }
        }
    }

    /// Drop expired sessions and packets (called by the heartbeat).
    pub(crate) fn sweep(&mut self) {
        let now = Instant::now();
        self.expire(now);
        let w = self.limits.window;
        self.sessions.retain(|_, s| now.duration_since(s.at) <= w);
        while self
            .order
            .front()
            .is_some_and(|(_, at)| now.duration_since(*at) > w)
        {
            self.order.pop_front();
        }
    }

    /// Keep a disconnected socket's session; returns how many older sessions were evicted
    /// to stay within `max_sessions`.
    pub(crate) fn persist(
        &mut self,
        pid: Arc<str>,
        sid: Arc<str>,
        rooms: Vec<Arc<str>>,
        data: http::Extensions,
        since: Offset,
    ) -> u64 {
        let at = Instant::now();
        self.order.push_back((pid.clone(), at));
        self.sessions.insert(
            pid,
            Persisted {
                sid,
                rooms,
                data,
                since,
                at,
            },
        );
        let mut evicted = 0;
        while self.sessions.len() > self.limits.max_sessions {
            let Some((pid, at)) = self.order.pop_front() else {
                break;
            };
            // Only if the entry is still the one this order record was made for.
            if self.sessions.get(&pid).is_some_and(|s| s.at == at) {
                self.sessions.remove(&pid);
                evicted += 1;
            }
        }
        if self.order.len() > self.limits.max_sessions.max(1024).saturating_mul(2) {
            // Restored sessions leave stale order records: compact now and then.
            let sessions = &self.sessions;
            self.order
                .retain(|(pid, at)| sessions.get(pid).is_some_and(|s| s.at == *at));
        }
        evicted
    }

    /// Take the session `pid` back with every broadcast after `offset` (or, when the
    /// client sent none because it received nothing, after the point it connected) that it
    /// would have received, in order. `None` when the session expired or the offset is no
    /// longer held.
    pub(crate) fn restore(&mut self, pid: &str, offset: Option<&str>) -> Option<Restored> {
        let now = Instant::now();
        self.expire(now);
        let s = self.sessions.remove(pid)?;
        if now.duration_since(s.at) > self.limits.window {
            return None;
        }
        let offset = match offset {
            Some(o) => Offset::parse(o)?,
            None => s.since,
        };
        let missed = self.missed(&s.rooms, offset, self.newest)?;
        Some(Restored {
            sid: s.sid,
            rooms: s.rooms,
            data: s.data,
            missed,
        })
    }

    /// The recorded broadcasts in (`after`, `upto`] a member of `rooms` would have
    /// received, oldest first; `None` when the log no longer reaches back to `after`
    /// (packets may have been trimmed, so an exact replay is impossible).
    pub(crate) fn missed(
        &self,
        rooms: &[Arc<str>],
        after: Offset,
        upto: Offset,
    ) -> Option<Vec<Arc<[Frame]>>> {
        if after > upto {
            return None; // an offset never issued here
        }
        if after == upto {
            return Some(Vec::new());
        }
        // The offset must still be in the buffer (or be the newest one), otherwise
        // packets may have been evicted. Trimming removes from the front, so a first
        // packet at or before `after` means everything after it is still here.
        let held = after == self.newest || self.packets.front().is_some_and(|p| p.offset <= after);
        if !held {
            return None;
        }
        let member = |r: &Arc<str>| rooms.iter().any(|x| x == r);
        Some(
            self.packets
                .iter()
                .filter(|p| p.offset > after && p.offset <= upto)
                .filter(|p| p.rooms.is_empty() || p.rooms.iter().any(member))
                .filter(|p| !p.except.iter().any(member))
                .map(|p| p.frames.clone())
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(window_ms: u64, max_packets: usize) -> Limits {
        Limits {
            window: Duration::from_millis(window_ms),
            max_packets,
            max_bytes: usize::MAX,
            max_sessions: usize::MAX,
        }
    }

    #[test]
    fn byte_and_session_budgets_trim_the_oldest() {
        let mut r = Recovery::new(Limits {
            max_bytes: 3 * Frame::text(&[b'x'; 100]).bytes.len(),
            max_sessions: 2,
            ..limits(60_000, 1000)
        });
        let big = || Arc::from(vec![Frame::text(&[b'x'; 100])]);
        let trimmed: u64 = (0..5)
            .map(|_| {
                let o = r.next_offset();
                r.record(o, vec![], vec![], big())
            })
            .sum();
        assert_eq!((trimmed, r.packets.len()), (2, 3));
        assert_eq!(r.packets.front().map(|p| p.offset.seq), Some(3));
        let ext = http::Extensions::new;
        assert_eq!(
            r.persist("a".into(), "s".into(), vec![], ext(), Offset::default()),
            0
        );
        assert_eq!(
            r.persist("b".into(), "s".into(), vec![], ext(), Offset::default()),
            0
        );
        assert_eq!(
            r.persist("c".into(), "s".into(), vec![], ext(), Offset::default()),
            1
        );
        assert!(!r.sessions.contains_key("a"), "the oldest went first");
        assert!(r.sessions.contains_key("b") && r.sessions.contains_key("c"));
    }

    fn frames(s: &str) -> Arc<[Frame]> {
        Arc::from(vec![Frame::text(s.as_bytes())])
    }

    #[test]
    fn replays_only_matching_packets_after_offset() {
        let mut r = Recovery::new(limits(60_000, 100));
        let room: Arc<str> = "a".into();
        let o1 = r.next_offset();
        r.record(o1, vec![room.clone()], vec![], frames("1"));
        r.persist(
            "pid".into(),
            "sid".into(),
            vec![room.clone()],
            http::Extensions::new(),
            o1,
        );
        let o2 = r.next_offset();
        r.record(o2, vec![room.clone()], vec![], frames("2"));
        let o3 = r.next_offset();
        r.record(o3, vec!["b".into()], vec![], frames("3"));
        let o4 = r.next_offset();
        r.record(o4, vec![], vec![], frames("4"));
        let o5 = r.next_offset();
        r.record(o5, vec![], vec![room.clone()], frames("5"));
        let got = r.restore("pid", Some(&o1.to_string())).expect("restored");
        let texts: Vec<&[u8]> = got.missed.iter().map(|f| f[0].payload()).collect();
        assert_eq!(texts, vec![b"2".as_slice(), b"4".as_slice()]);
        assert!(
            r.restore("pid", Some(&o1.to_string())).is_none(),
            "a session is restored once"
        );
    }

    #[test]
    fn a_client_without_an_offset_resumes_from_where_it_connected() {
        let mut r = Recovery::new(limits(60_000, 100));
        let room: Arc<str> = "a".into();
        let before = r.next_offset();
        r.record(before, vec![room.clone()], vec![], frames("before"));
        // connected here (newest = `before`), then received nothing before the drop
        let since = r.newest();
        let o = r.next_offset();
        r.record(o, vec![room.clone()], vec![], frames("missed"));
        r.persist(
            "pid".into(),
            "sid".into(),
            vec![room],
            http::Extensions::new(),
            since,
        );
        let got = r.restore("pid", None).expect("restored without an offset");
        let texts: Vec<&[u8]> = got.missed.iter().map(|f| f[0].payload()).collect();
        assert_eq!(texts, vec![b"missed".as_slice()]);
    }

    #[test]
    fn unknown_offset_or_expired_session_fails() {
        let mut r = Recovery::new(limits(0, 100));
        r.persist(
            "pid".into(),
            "sid".into(),
            vec![],
            http::Extensions::new(),
            Offset::default(),
        );
        std::thread::sleep(Duration::from_millis(2));
        assert!(r.restore("pid", Some("0")).is_none());
        let mut r = Recovery::new(limits(60_000, 1));
        r.persist(
            "pid".into(),
            "sid".into(),
            vec![],
            http::Extensions::new(),
            Offset::default(),
        );
        for _ in 0..3 {
            let o = r.next_offset();
            r.record(o, vec![], vec![], frames("x"));
        }
        assert!(
            r.restore("pid", Some("1")).is_none(),
            "offset 1 was evicted"
        );
    }

    #[test]
    fn hostile_offsets_fail_without_panicking() {
        let mut r = Recovery::new(limits(60_000, 10));
        for off in [
            u64::MAX.to_string(),
            "-1".into(),
            "1e9".into(),
            "x".repeat(100),
        ] {
            r.persist(
                "pid".into(),
                "sid".into(),
                vec![],
                http::Extensions::new(),
                Offset::default(),
            );
            assert!(r.restore("pid", Some(&off)).is_none(), "{off}");
        }
    }
}
