//! Run-time support for protospec.
//!
//! This crate holds what both back ends of the compiler run: the message
//! [`layout`] types the compiler lowers every `.proto` message to. The engine
//! that decodes and encodes layouts, the transports and the server loop build
//! on them.

pub mod layout;
