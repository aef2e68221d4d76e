//! The engine: decodes and encodes any message of any spec from its layout.

pub mod decode;
pub mod encode;
pub mod pattern;

pub use decode::{Context, Decoded, Decoder};
pub use encode::{derive, encode};
pub use pattern::EncodeError;
