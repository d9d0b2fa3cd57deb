//! The tokio runtime the server runs on, tuned for fan-out.
//!
//! Measured with `bench/run.sh` fan-out (1000 subscribers of one room, events through
//! `POST /api/v1/publish` on 64 keep-alive connections, server pinned to one core):
//!
//! | runtime | best sustained deliveries/s (p99 ≤ 100 ms, 0 lost) |
//! |---|---|
//! | multi-thread, tokio defaults | 0.8 M |
//! | multi-thread, `global_queue_interval(2)` | 2.0 M |
//! | current-thread, `global_queue_interval(2)` | 2.0–3.0 M |
//!
//! Why: one publish wakes a task per subscriber, all on the worker's local queue, while the
//! HTTP connections that carry the next publishes are woken by the I/O driver into the
//! shared queue — which tokio visits only once every 31 tasks by default. With 64 publishing
//! connections waiting there, each publish waited behind thousands of socket writes, and the
//! tail latency, not the CPU, ended the run. Visiting the shared queue every other task keeps
//! publishes flowing. (`global_queue_interval(1)` starves the local queue: sockets fell so
//! far behind that they were closed as slow consumers.)
//!
//! With one CPU available (a pinned process, a one-core container) a current-thread runtime
//! does the same work without the cross-thread bookkeeping; with more, one worker per CPU.

use tokio::runtime::{Builder, Runtime};

/// Visit the shared (I/O-woken) queue every this many tasks (tokio's default: 31).
const GLOBAL_QUEUE_INTERVAL: u32 = 2;

/// Which scheduler to build for `cpus` available CPUs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flavor {
    /// One thread runs everything.
    CurrentThread,
    /// Work-stealing workers, one per CPU.
    MultiThread(usize),
}

/// The scheduler for `cpus` CPUs.
pub fn flavor(cpus: usize) -> Flavor {
    if cpus <= 1 {
        Flavor::CurrentThread
    } else {
        Flavor::MultiThread(cpus)
    }
}

/// Build the runtime for the CPUs this process may run on (its affinity mask counts).
pub fn build() -> std::io::Result<Runtime> {
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    let mut b = match flavor(cpus) {
        Flavor::CurrentThread => Builder::new_current_thread(),
        Flavor::MultiThread(n) => {
            let mut b = Builder::new_multi_thread();
            b.worker_threads(n);
            b
        }
    };
    b.enable_all()
        .global_queue_interval(GLOBAL_QUEUE_INTERVAL)
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_cpu_gets_a_current_thread_runtime_more_get_a_worker_each() {
        assert_eq!(flavor(0), Flavor::CurrentThread);
        assert_eq!(flavor(1), Flavor::CurrentThread);
        assert_eq!(flavor(2), Flavor::MultiThread(2));
        assert_eq!(flavor(16), Flavor::MultiThread(16));
    }

    #[test]
    fn the_runtime_runs_tasks_and_timers() {
        let rt = build().expect("runtime");
        let v = rt.block_on(async {
            let h = tokio::spawn(async {
                tokio::time::sleep(std::time::Duration::from_millis(1)).await;
                41
            });
            h.await.expect("task") + 1
        });
        assert_eq!(v, 42);
    }
}
