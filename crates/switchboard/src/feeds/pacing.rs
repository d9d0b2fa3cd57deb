//! Periodic re-broadcasts spread over time. A tick re-sends a snapshot to every member of
//! a room; handed to every member's writer at once (or a page per scheduler turn), those
//! writes run back to back and the handshakes and events of everyone else wait behind
//! them. Paced here, a tick sends one page of members per timer tick (1 ms), with pages
//! sized so the whole room is reached within a budget (half the tick's period), so a page
//! costs the core a fraction of each millisecond whatever the room's size.
//!
//! Measured with `bench/storm.sh` (10 000 clients connecting at 1 000/s, each in the KPI
//! room that a 4 KB list is re-sent to every 5 s): one emit per tick left 60–170 ms of
//! connect→snapshot p99 at the tick marks, pages of 16 per scheduler turn 8–17 ms; the
//! numbers for this pacing are in `bench/RESULTS.md`.

use std::time::Duration;

/// The smallest page: members pushed to in one go.
const PAGE: usize = 16;
/// The pause between pages: one tick of tokio's timer.
const PAUSE: Duration = Duration::from_millis(1);

/// Push each of `broadcasts` to all its members, a page at a time with a pause between
/// pages, within about `within`. `push(broadcast, page)` queues the next page and answers
/// `Some(true)` while members remain, `Some(false)` when done, `None` to stop the whole
/// tick (a newer value went out meanwhile).
pub(crate) async fn spread(
    broadcasts: &mut [sio::Paced],
    within: Duration,
    mut push: impl FnMut(&mut sio::Paced, usize) -> Option<bool>,
) {
    let members: usize = broadcasts.iter().map(sio::Paced::remaining).sum();
    let pages = (within.as_millis() / PAUSE.as_millis()).max(1) as usize;
    let page = members.div_ceil(pages).max(PAGE);
    for b in broadcasts {
        loop {
            match push(b, page) {
                None => return,
                Some(false) => break,
                Some(true) => tokio::time::sleep(PAUSE).await,
            }
        }
    }
}
