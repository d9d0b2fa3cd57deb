//! Process file-descriptor setup, done once in `main` before the runtime starts a thread.
//!
//! Why: Linux grows a process's fd table by doubling it, and while the process has more than
//! one thread every growth waits for an RCU grace period (`expand_fdtable` calls
//! `synchronize_rcu`). Measured on the 2-core bench machine: every connection in flight
//! stalled 10–14 ms when the server passed 256, 512, …, 8192 open sockets — the whole p99.9
//! of a 1000/s connect storm (`bench/RESULTS.md`). Growing the table to its final size
//! while the process is still single-threaded costs one copy and no wait, and the kernel never
//! shrinks it. No crate does this; `rustix` gives the two safe calls it needs.

use rustix::process::{getrlimit, setrlimit, Resource};

/// The most descriptors the table is grown to up front (8 bytes each in the kernel). Past it
/// the kernel doubles as usual, paying the wait once per doubling.
const PRESIZE_MAX: u64 = 1 << 16;

/// What [`prepare`] did, for the startup log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FdSetup {
    /// The soft `RLIMIT_NOFILE` after raising it.
    pub limit: u64,
    /// The fd table was grown to hold at least this many descriptors.
    pub presized: u64,
}

/// Raise the soft open-files limit to the hard one (as Go's runtime does: a server needs a
/// descriptor per connection and the usual soft default is 1024), then grow the fd table to
/// `min(limit, 65536)` entries by duplicating a descriptor just below that number and closing
/// it. Call before any thread is spawned. Errors leave the limits as they were.
pub fn prepare() -> std::io::Result<FdSetup> {
    let mut lim = getrlimit(Resource::Nofile);
    if let (Some(cur), Some(max)) = (lim.current, lim.maximum) {
        if cur < max {
            lim.current = Some(max);
            setrlimit(Resource::Nofile, lim)?;
        }
    }
    let limit = lim.current.unwrap_or(PRESIZE_MAX);
    let presized = limit.min(PRESIZE_MAX);
    if presized > 1 {
        let null = std::fs::File::open("/dev/null")?;
        let high = i32::try_from(presized - 1).unwrap_or(i32::MAX);
        // The duplicate is closed when dropped; the grown table stays.
        drop(rustix::io::fcntl_dupfd_cloexec(&null, high)?);
    }
    Ok(FdSetup { limit, presized })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `FDSize` of `/proc/self/status`: the slots of this process's fd table.
    fn fd_table_size() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").expect("status");
        let line = status
            .lines()
            .find(|l| l.starts_with("FDSize:"))
            .expect("FDSize");
        line["FDSize:".len()..].trim().parse().expect("number")
    }

    #[test]
    fn raises_the_soft_limit_and_grows_the_table() {
        let setup = prepare().expect("prepare");
        let lim = getrlimit(Resource::Nofile);
        if lim.maximum.is_some() {
            assert_eq!(
                lim.current, lim.maximum,
                "soft limit raised to the hard one"
            );
        }
        assert_eq!(Some(setup.limit), lim.current);
        assert_eq!(setup.presized, setup.limit.min(PRESIZE_MAX));
        assert!(
            fd_table_size() >= setup.presized,
            "table holds {} slots, wanted {}",
            fd_table_size(),
            setup.presized
        );
        // The high duplicate was closed again: a new descriptor gets a low number.
        use std::os::fd::AsRawFd;
        let f = std::fs::File::open("/dev/null").expect("open");
        assert!((f.as_raw_fd() as u64) < setup.presized - 1);
    }
}
