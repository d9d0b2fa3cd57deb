//! Small helpers with one home each: the clock, JSON nesting depth, URL redaction and
//! this process's own figures. Nothing here knows about sockets, HTTP or features.

pub mod clock;
pub mod json;
pub mod process;
pub mod redact;
