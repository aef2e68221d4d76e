//! The conformance runner: transcripts of conversations, checked against a
//! spec and replayed against live endpoints, with reports.
//!
//! [`transcript`] parses and checks the text format; [`runner`] plays one
//! role of each case against a live peer, splitting writes on purpose;
//! [`report`] renders the results; [`targets`] starts the built-in reference
//! servers when no target is given; [`graph`] draws a spec's state machine.

#![forbid(unsafe_code)]

pub mod graph;
pub mod recorder;
pub mod report;
pub mod runner;
pub mod targets;
pub mod transcript;
