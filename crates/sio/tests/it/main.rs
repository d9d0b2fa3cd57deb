#![allow(unreachable_pub, missing_docs)]
//! Integration tests of the engine over real sockets: a raw Engine.IO/Socket.IO client
//! (tungstenite for WebSocket, reqwest for polling) against `Server::serve` on port 0.

mod compression;
mod delivery;
mod hardening;
mod harness;
mod msgpack;
mod protocol;
mod recovery;
