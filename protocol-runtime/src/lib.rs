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
pub mod domain;
pub mod engine;
pub mod error;
pub mod layout;
pub mod server;
pub mod session;
pub mod spec;
pub mod transport;
pub mod typed;
pub mod value;

pub use bytes;
pub use error::{Error, ProtocolViolation, Result};
pub use futures_util;
pub use value::{Message, Value};

/// Includes the code `protocol_dsl::compile` wrote to `OUT_DIR` for a
/// protocol: `protocol_runtime::include_protocol!("greeting");` defines
/// `mod greeting`.
#[macro_export]
macro_rules! include_protocol {
    ($name:literal) => {
        include!(concat!(env!("OUT_DIR"), "/", $name, ".rs"));
    };
}
