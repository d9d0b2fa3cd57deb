//! What the server keeps about each connection, on the socket (and so carried over by
//! connection state recovery): set by the gateway at connect, read by the features.

/// Per-connection record kept on the socket.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct ConnInfo {
    /// Per-node sequence number (`clientId`).
    pub client_id: u64,
    /// The `clientInfo` the browser reported, if any.
    pub client_info: Option<serde_json::Value>,
    /// The staff room the socket joined (queue system), told when the socket leaves.
    pub staff_room: Option<String>,
    /// The client's address (behind a trusted proxy: the forwarded client).
    pub ip: Option<std::net::IpAddr>,
}
