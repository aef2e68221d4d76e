//! Run-time support for protospec.
//!
//! What both back ends of the compiler run: the resolved [`spec`] (the IR)
//! with its message [`layout`]s, the [`engine`] that decodes and encodes any
//! message from its layout, the plain framing [`codec`]s, the sans-IO
//! [`session`] that tracks a connection's state, and the drivers that put it
//! on a transport.

#![forbid(unsafe_code)]

pub mod codec;
pub mod connection;
pub mod engine;
pub mod error;
pub mod layout;
pub mod server;
pub mod session;
pub mod spec;
pub mod transport;
pub mod value;

pub use error::{Error, ProtocolViolation, Result};
pub use value::{Message, Value};
