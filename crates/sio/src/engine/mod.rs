//! Engine.IO v4: sessions, HTTP long-polling, WebSocket framing and connections.

pub(crate) mod conn;
pub(crate) mod deflate;
pub(crate) mod endpoint;
pub(crate) mod http;
pub(crate) mod session;
pub(crate) mod ws;
