//! The engine: decodes and encodes any message of any spec from its layout.

pub mod decode;
pub mod encode;
mod nested;
pub mod pattern;

pub use decode::{Context, Decoded, Decoder};
pub use encode::{derive, encode, encode_in};
pub use pattern::EncodeError;
