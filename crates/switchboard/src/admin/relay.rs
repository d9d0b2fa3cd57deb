//! The admin namespaces of a cluster as one (README "Running a cluster"): what one node's
//! admin tells the others' — its notifications, its actions, its socket list — as socket.io
//! does through its adapter, where the Admin UI connected to any node sees every node as
//! a server, every node's sockets, and acts on all of them.
//!
//! The cluster carries the messages (a Redis channel); this side only says what they are
//! and where they come from. A single node has no peers and the messages go nowhere.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;

/// What one node's admin namespace tells the others.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum AdminMessage {
    /// An admin watches on the sending node (sent with every stats tick): the others
    /// send their notifications for a while ([`REMOTE_WATCH`](super::live)).
    Watching,
    /// A notification for every admin socket: the event and its arguments (JSON values
    /// joined by commas).
    Notify {
        /// The event (`server_stats`, `socket_connected`, …).
        event: String,
        /// Its arguments.
        args: String,
    },
    /// A `join`, `leave` or `_disconnect` for every node's sockets.
    Act(Action),
    /// An admin connected: every node answers with its sockets.
    List {
        /// Matches the answers to the question.
        request: String,
    },
    /// One node's answer to [`AdminMessage::List`].
    Sockets {
        /// The question's `request`.
        request: String,
        /// The node's sockets as the UI lists them.
        sockets: Vec<Value>,
    },
}

/// An action on the sockets of a namespace (every socket, or a room's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Action {
    /// What to do.
    pub op: Op,
    /// The namespace.
    pub nsp: String,
    /// Only the sockets in this room (`None`: all of them).
    pub filter: Option<String>,
}

/// What an [`Action`] does to each socket.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Op {
    /// Join the room.
    Join(String),
    /// Leave the room.
    Leave(String),
    /// Disconnect (`true`: close the whole connection).
    Disconnect(bool),
}

/// Messages queued for the other nodes before the cluster sends them: past this they are
/// not relayed (counted as delivered locally only), so a flood of client events under a
/// watching admin cannot grow memory while Redis is slow.
const QUEUE: usize = 4_096;

/// Where the admin namespace tells the other nodes (cluster mode). Cheap to clone.
#[derive(Clone, Default)]
pub struct Peers(Arc<std::sync::OnceLock<tokio::sync::mpsc::Sender<AdminMessage>>>);

impl Peers {
    /// Whether there are other nodes to tell (the cluster took the stream).
    pub fn clustered(&self) -> bool {
        self.0.get().is_some()
    }

    /// Tell the other nodes; `false` when the message was not queued (no cluster, or the
    /// queue is full).
    pub fn tell(&self, msg: AdminMessage) -> bool {
        self.0.get().is_some_and(|tx| tx.try_send(msg).is_ok())
    }

    /// The stream of messages to send to the other nodes (taken once, by the cluster).
    pub fn subscribe(&self) -> Option<tokio::sync::mpsc::Receiver<AdminMessage>> {
        let (tx, rx) = tokio::sync::mpsc::channel(QUEUE);
        self.0.set(tx).ok().map(|()| rx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_keep_their_shape_on_the_wire() {
        let act = AdminMessage::Act(Action {
            op: Op::Join("r".into()),
            nsp: "/".into(),
            filter: None,
        });
        let text = serde_json::to_string(&act).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"act","op":{"join":"r"},"nsp":"/","filter":null}"#
        );
        let back: AdminMessage = serde_json::from_str(&text).unwrap();
        assert!(matches!(back, AdminMessage::Act(a) if a.op == Op::Join("r".into())));
        assert_eq!(
            serde_json::to_string(&AdminMessage::Watching).unwrap(),
            r#"{"kind":"watching"}"#
        );
    }

    #[tokio::test]
    async fn a_single_node_tells_nobody_and_a_full_queue_refuses() {
        let p = Peers::default();
        assert!(!p.clustered());
        assert!(!p.tell(AdminMessage::Watching));
        let mut rx = p.subscribe().unwrap();
        assert!(p.subscribe().is_none(), "taken once");
        for _ in 0..QUEUE {
            assert!(p.tell(AdminMessage::Watching));
        }
        assert!(!p.tell(AdminMessage::Watching), "past the queue");
        assert!(matches!(rx.recv().await, Some(AdminMessage::Watching)));
    }
}
