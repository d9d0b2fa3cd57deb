//! What a client sent and how answering it can fail: [`Event`] (a client event, parsed once,
//! its arguments read lazily), [`AckReply`] (a client's answer to an ack request) and the
//! error types of emits, acks and arguments. Below both [`crate::ns`] and [`crate::socket`].

use bytes::Bytes;
use serde::de::DeserializeOwned;
use serde_json::value::RawValue;

use crate::packet::split_args;

/// Why an emit to one socket failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SendError {
    /// The data could not be serialized.
    #[error("could not serialize the payload")]
    Serialize,
    /// The socket is disconnected.
    #[error("socket closed")]
    Closed,
    /// The socket's queue was full: a reliable packet disconnected it (slow consumer).
    #[error("slow consumer: queue full")]
    SlowConsumer,
    /// A volatile packet was dropped because the queue was full.
    #[error("dropped (volatile)")]
    Dropped,
}

/// Why an acknowledgement did not arrive.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AckError {
    /// No answer within the timeout.
    #[error("ack timeout")]
    Timeout,
    /// The socket disconnected first.
    #[error("socket closed before the ack")]
    Closed,
    /// The packet could not be sent.
    #[error(transparent)]
    Send(#[from] SendError),
}

/// Why an event argument could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ArgError {
    /// Fewer arguments than asked for.
    #[error("missing argument")]
    Missing,
    /// The argument has the wrong shape.
    #[error("invalid argument: {0}")]
    Invalid(#[from] serde_json::Error),
}

/// A client's answer to an `emit_with_ack`.
#[derive(Debug, Clone)]
pub struct AckReply {
    /// The JSON array of the client's ack arguments.
    pub args: String,
    /// Binary attachments.
    pub bins: Vec<Bytes>,
}

impl AckReply {
    /// The first ack argument, deserialized.
    pub fn first<T: DeserializeOwned>(&self) -> Result<T, ArgError> {
        let args = split_args(&self.args).map_err(|_| ArgError::Missing)?;
        let a = args.first().ok_or(ArgError::Missing)?;
        Ok(serde_json::from_str(a.get())?)
    }
}

/// A client event.
#[derive(Debug)]
pub struct Event {
    pub(crate) name: String,
    /// The whole JSON array `["name", args…]`.
    pub(crate) data: String,
    /// Byte range of the comma-joined arguments inside `data`.
    pub(crate) args: (usize, usize),
    pub(crate) bins: Vec<Bytes>,
    pub(crate) ack: Option<u64>,
}

impl Event {
    pub(crate) fn parse(data: String, bins: Vec<Bytes>, ack: Option<u64>) -> Option<Event> {
        let (name, args) = {
            let parts = split_args(&data).ok()?;
            let first = parts.first()?;
            let name: String = serde_json::from_str(first.get()).ok()?;
            let base = data.as_ptr() as usize;
            let args = match (parts.get(1), parts.last()) {
                (Some(a), Some(z)) => {
                    let s = a.get().as_ptr() as usize - base;
                    let e = z.get().as_ptr() as usize - base + z.get().len();
                    (s, e)
                }
                _ => (0, 0),
            };
            (name, args)
        };
        Some(Event {
            name,
            data,
            args,
            bins,
            ack,
        })
    }

    /// The event name.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// The arguments as JSON values joined by commas (empty when there are none).
    pub fn args_raw(&self) -> &str {
        &self.data[self.args.0..self.args.1]
    }
    /// Number of arguments.
    pub fn arg_count(&self) -> usize {
        split_args(&self.data)
            .map(|v| v.len().saturating_sub(1))
            .unwrap_or(0)
    }
    /// Argument `i` (0 = the first after the name) as raw JSON.
    pub fn arg_raw(&self, i: usize) -> Option<&RawValue> {
        split_args(&self.data).ok()?.get(i + 1).copied()
    }
    /// Argument `i`, deserialized.
    pub fn arg<T: DeserializeOwned>(&self, i: usize) -> Result<T, ArgError> {
        let raw = self.arg_raw(i).ok_or(ArgError::Missing)?;
        Ok(serde_json::from_str(raw.get())?)
    }
    /// Binary attachments.
    pub fn bins(&self) -> &[Bytes] {
        &self.bins
    }
    /// Whether the client asked for an acknowledgement.
    pub fn wants_ack(&self) -> bool {
        self.ack.is_some()
    }
}
