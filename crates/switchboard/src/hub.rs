//! The engine as the features see it: the Socket.IO server and its main namespace.
//!
//! The features are built before the engine, because the engine's handlers call them;
//! `App::build` binds the engine here right after building it, before anything serves or
//! ticks. A `Hub` is a cheap clone.

use std::sync::{Arc, OnceLock};

/// A handle to the engine, bound once at start-up.
#[derive(Clone, Default)]
pub struct Hub(Arc<OnceLock<Bound>>);

struct Bound {
    io: sio::Server,
    root: Arc<sio::Namespace>,
}

impl std::fmt::Debug for Hub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.get().is_some() {
            "Hub(bound)"
        } else {
            "Hub(unbound)"
        })
    }
}

impl Hub {
    /// An unbound hub.
    pub fn new() -> Self {
        Self::default()
    }

    /// Bind the engine (once; a second call is ignored and logged).
    pub fn bind(&self, io: sio::Server) {
        let Some(root) = io.of("/") else {
            tracing::error!("the engine has no main namespace: nothing can be delivered");
            return;
        };
        if self.0.set(Bound { io, root }).is_err() {
            tracing::warn!("the engine was bound twice; keeping the first");
        }
    }

    fn bound(&self) -> &Bound {
        // App::build binds the engine before it returns: no handler, tick, route or
        // task runs before that, so an unbound hub here is a wiring bug.
        self.0
            .get()
            .expect("Hub::bind is called in App::build before anything runs")
    }

    /// The Socket.IO server.
    pub fn io(&self) -> &sio::Server {
        &self.bound().io
    }

    /// The main namespace `/`.
    pub fn root(&self) -> &Arc<sio::Namespace> {
        &self.bound().root
    }
}
