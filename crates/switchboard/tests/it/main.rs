//! Integration tests: the whole server on port 0, driven by real Socket.IO clients
//! (`rust_socketio`) and real HTTP requests.
#![allow(missing_docs, unreachable_pub)]

mod api;
mod campaign;
mod feeds;
mod hardening;
mod harness;
mod limits;
mod operating;
mod otel;
mod permissions;
mod presence;
mod protocols;
mod stream;
