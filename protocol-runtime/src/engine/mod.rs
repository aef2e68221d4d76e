//! The engine: decodes and encodes any message of any spec from its layout.

pub mod decode;
pub mod encode;
mod nested;
pub mod pattern;
mod write;

pub use decode::{Context, Decoded, Decoder};
pub use encode::{derive, derive_in, encode, encode_in};
pub use write::EncodeError;
